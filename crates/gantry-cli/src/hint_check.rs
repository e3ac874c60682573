//! Every `gantry …` that a message, a hint or a UI string names is a real command with real flags
//! (a hint that names a command that does not exist sends people nowhere). Comments are not
//! checked: they are for contributors and may name what is being built.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

/// The source files whose text people read: the crates' and the desktop shell's sources (not
/// their tests) and the UI's string catalogs.
fn sources(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "tests" && n != "target") {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs" || e == "ts") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    let crates = std::fs::read_dir(root.join("crates")).into_iter().flatten().flatten();
    for krate in crates {
        walk(&krate.path().join("src"), &mut out);
    }
    walk(&root.join("src-tauri/src"), &mut out);
    walk(&root.join("ui/src/lib/i18n"), &mut out);
    out
}

/// The `gantry …` commands named in `text` between backticks, as words.
fn named_commands(text: &str) -> Vec<Vec<String>> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|quoted| quoted.strip_prefix("gantry "))
        .map(|rest| rest.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// What is wrong with `gantry WORDS` as a command line, if anything.
fn problem(words: &[String]) -> Option<String> {
    let cli = crate::Cli::command();
    let mut command = &cli;
    let mut rest = words.iter().peekable();
    // Subcommands, as deep as the words go (`…`, `<…>` or `WORDS` stand for any command).
    while let Some(word) = rest.peek() {
        let placeholder = !word.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-')
            || word.chars().any(|c| c.is_ascii_uppercase());
        if placeholder {
            return None;
        }
        match command.find_subcommand(word.as_str()) {
            Some(sub) => {
                command = sub;
                rest.next();
            }
            None if command.has_subcommands() && !word.starts_with('-') && command.get_name() == "gantry" => {
                return Some(format!("no command `gantry {word}`"));
            }
            None => break,
        }
    }
    for word in rest {
        let Some(flag) = word.strip_prefix("--") else { continue };
        let flag = flag.split('=').next().unwrap_or(flag);
        let known = command.get_arguments().chain(cli.get_arguments()).any(|a| a.get_long() == Some(flag));
        if !known && flag != "help" && flag != "version" {
            return Some(format!("`gantry {}` has no --{flag}", command.get_name()));
        }
    }
    None
}

#[test]
fn every_named_gantry_command_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let files = sources(&root);
    assert!(files.len() > 50, "the sources were not found under {}", root.display());
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        // What people read: strings (hints, messages, UI text), not comments for contributors.
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim_start().starts_with("//")) {
            for words in named_commands(line) {
                checked += 1;
                if let Some(p) = problem(&words) {
                    problems.push(format!("{}:{}: {p}", file.strip_prefix(&root).unwrap_or(&file).display(), n + 1));
                }
            }
        }
    }
    assert!(checked > 30, "only {checked} commands named: is the scan broken?");
    assert!(problems.is_empty(), "hints name commands that do not exist:\n{}", problems.join("\n"));
}

#[test]
fn the_check_itself_catches_what_does_not_exist() {
    let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(problem(&words("start")), None);
    assert_eq!(problem(&words("events --explain")), None);
    assert_eq!(problem(&words("logs --console")), None);
    assert_eq!(problem(&words("…")), None);
    assert!(problem(&words("settings")).is_some());
    assert!(problem(&words("start --turbo")).is_some());
    assert_eq!(named_commands("run `gantry doctor` or `docker ps`"), vec![vec!["doctor".to_string()]]);
}

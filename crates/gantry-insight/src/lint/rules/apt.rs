//! apt-get: pinned versions (DL3008), cleaning the lists (DL3009), `-y` (DL3014),
//! `--no-install-recommends` (DL3015), `apt` in scripts (DL3027), and update + install in one
//! RUN (Gantry's AptUpdateInSeparateRun, from the Docker tutorials).

use super::{Analysis, Hit, merge_runs};
use crate::dockerfile::Instruction;
use crate::dockerfile::shell::Command;
use crate::lint::TextEdit;

/// apt-get options that take a value as the next word.
const OPTIONS_WITH_VALUE: [&str; 4] = ["-o", "-t", "--target-release", "--option"];
const YES: [&str; 6] = ["-y", "--yes", "--assume-yes", "-qq", "-q=2", "--quiet=2"];
const APT_LISTS: &str = "/var/lib/apt/lists";
const CLEANUP: &str = "rm -rf /var/lib/apt/lists/*";

fn is_apt_get(command: &Command, sub: &str) -> bool {
    command.name() == "apt-get" && command.subcommand() == Some(sub)
}

fn says_yes(command: &Command) -> bool {
    command.has_option(&YES)
        || command.program().iter().skip(1).any(|w| {
            // Combined short options such as -yq or -qy.
            w.starts_with('-')
                && !w.starts_with("--")
                && w.len() > 2
                && w[1..].chars().all(|c| c.is_ascii_alphabetic())
                && w.contains('y')
        })
}

fn skips_recommends(command: &Command) -> bool {
    command.has_option(&["--no-install-recommends"])
        || command.program().iter().any(|w| {
            let lower = w.to_ascii_lowercase();
            lower.starts_with("apt::install-recommends=") && (lower.ends_with("=false") || lower.ends_with("=0"))
        })
}

pub(super) fn check(a: &Analysis<'_>, hits: &mut Vec<Hit>) {
    let runs: Vec<(usize, usize, &Instruction)> = a.runs().collect();
    for (position, &(index, stage, run)) in runs.iter().enumerate() {
        let commands = a.commands(run);
        let installs: Vec<&Command> = commands.iter().filter(|c| is_apt_get(c, "install")).collect();
        let updates = commands.iter().any(|c| is_apt_get(c, "update"));
        for install in &installs {
            let unpinned: Vec<&str> = install
                .operands(&OPTIONS_WITH_VALUE)
                .into_iter()
                .filter(|p| !p.contains('=') && !p.ends_with(".deb") && !p.starts_with(['/', '.', '$']))
                .collect();
            if !unpinned.is_empty() {
                hits.push(Hit::new("DL3008", run).arg("packages", unpinned.join(", ")));
            }
            if !says_yes(install) {
                let fix = a.add_option(run, &["apt-get"], "install", "-y", &YES);
                hits.push(Hit::new("DL3014", run).fix(fix.map(|e| vec![e])));
            }
            if !skips_recommends(install) {
                let fix =
                    a.add_option(run, &["apt-get"], "install", "--no-install-recommends", &["--no-install-recommends"]);
                hits.push(Hit::new("DL3015", run).fix(fix.map(|e| vec![e])));
            }
        }
        let cleans = commands.iter().any(|c| c.name() == "rm" && c.program().iter().any(|w| w.starts_with(APT_LISTS)));
        let cached = a.cache_mount_targets(run).iter().any(|t| t.starts_with("/var/lib/apt"));
        if updates && !cleans && !cached && a.shipped[stage] {
            // Cleaning right after an update without an install would only break the install below.
            let fix = (!installs.is_empty()).then(|| append_cleanup(a, run)).flatten();
            hits.push(Hit::new("DL3009", run).fix(fix.map(|e| vec![e])));
        }
        for command in commands.iter().filter(|c| c.name() == "apt") {
            if matches!(
                command.subcommand(),
                Some(
                    "install"
                        | "update"
                        | "upgrade"
                        | "remove"
                        | "purge"
                        | "autoremove"
                        | "full-upgrade"
                        | "dist-upgrade"
                )
            ) {
                let fix = a.replace_word(run, "apt", "apt-get");
                hits.push(Hit::new("DL3027", run).fix(fix.map(|e| vec![e])));
                break;
            }
        }
        if updates && installs.is_empty() {
            let later_install = runs[position + 1..]
                .iter()
                .take_while(|(_, s, _)| *s == stage)
                .find(|(_, _, r)| a.commands(r).iter().any(|c| is_apt_get(c, "install")));
            if let Some(&(next_index, _, next)) = later_install {
                let adjacent = next_index == index + 1;
                let fix = adjacent.then(|| merge_runs(a, run, next)).flatten();
                hits.push(Hit::new("AptUpdateInSeparateRun", run).fix(fix.map(|e| vec![e])));
            }
        }
    }
}

/// Appends `&& rm -rf /var/lib/apt/lists/*` to the RUN's last text line.
fn append_cleanup(a: &Analysis<'_>, run: &Instruction) -> Option<TextEdit> {
    if !run.heredocs.is_empty() {
        return None;
    }
    let line = a.df.line(run.text_end_line).trim_end();
    let joined = match line.strip_suffix(';') {
        Some(without) => format!("{without}; {CLEANUP}"),
        None if line.ends_with("&&") || line.ends_with('|') => return None,
        None => format!("{line} && {CLEANUP}"),
    };
    Some(TextEdit::replace_line(run.text_end_line, joined))
}

//! Language and Alpine package managers: pinned versions (DL3013 pip, DL3016 npm, DL3018 apk),
//! caches left in the layer (DL3042 pip, DL3019 apk).

use super::{Analysis, Hit};
use crate::dockerfile::shell::Command;

const PIP_OPTIONS_WITH_VALUE: [&str; 22] = [
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-e",
    "--editable",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--trusted-host",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--src",
    "--upgrade-strategy",
];
const APK_OPTIONS_WITH_VALUE: [&str; 7] = ["-t", "--virtual", "-X", "--repository", "--root", "-p", "--arch"];
const NPM_OPTIONS_WITH_VALUE: [&str; 3] = ["--prefix", "--registry", "--tag"];

/// Is this `pip install …` (also `pip3`, `python -m pip`)? Returns the words from `install` on.
fn pip_install(command: &Command) -> Option<Command> {
    let program = command.program();
    let name = command.name();
    let after_pip = if name == "pip" || name.starts_with("pip3") || name == "pip2" {
        1
    } else if name.starts_with("python") {
        program.windows(2).position(|w| w[0] == "-m" && w[1] == "pip").map(|p| p + 2)?
    } else {
        return None;
    };
    let rest = &program[after_pip..];
    let sub = rest.iter().position(|w| !w.starts_with('-'))?;
    (rest[sub] == "install").then(|| Command { words: rest[sub..].to_vec(), piped: command.piped })
}

fn pip_pinned(spec: &str) -> bool {
    spec.contains(['=', '<', '>', '~', '@'])
        || spec.contains('/')
        || spec.starts_with('.')
        || spec.ends_with(".whl")
        || spec.ends_with(".tar.gz")
        || spec.ends_with(".zip")
        || spec.starts_with('$')
}

fn npm_pinned(spec: &str) -> bool {
    let unscoped = spec.strip_prefix('@').map_or(spec, |s| s.split_once('/').map_or(s, |(_, name)| name));
    unscoped.contains('@')
        || spec.starts_with(['.', '/', '$', '~'])
        || spec.contains("://")
        || spec.starts_with("git")
        || spec.ends_with(".tgz")
        || spec.ends_with(".tar.gz")
}

pub(super) fn check(a: &Analysis<'_>, hits: &mut Vec<Hit>) {
    for (index, stage, run) in a.runs() {
        let commands = a.commands(run);
        let mounts = a.cache_mount_targets(run);
        let pip_cache_off = pip_cache_disabled(a, stage, index) || mounts.iter().any(|t| t.contains("/.cache/pip"));
        for command in &commands {
            if let Some(install) = pip_install(command) {
                // The word after `install` is treated as the first operand by `operands`.
                let as_command =
                    Command { words: [vec!["pip".to_string()], install.words.clone()].concat(), piped: false };
                let unpinned: Vec<&str> =
                    as_command.operands(&PIP_OPTIONS_WITH_VALUE).into_iter().filter(|p| !pip_pinned(p)).collect();
                if !unpinned.is_empty() {
                    hits.push(Hit::new("DL3013", run).arg("packages", unpinned.join(", ")));
                }
                if !pip_cache_off && !as_command.has_option(&["--no-cache-dir"]) {
                    let fix = a.add_option(run, &["pip", "pip3"], "install", "--no-cache-dir", &["--no-cache-dir"]);
                    hits.push(Hit::new("DL3042", run).fix(fix.map(|e| vec![e])));
                }
            }
            if command.name() == "npm" && matches!(command.subcommand(), Some("install" | "i" | "add")) {
                let unpinned: Vec<&str> =
                    command.operands(&NPM_OPTIONS_WITH_VALUE).into_iter().filter(|p| !npm_pinned(p)).collect();
                if !unpinned.is_empty() {
                    hits.push(Hit::new("DL3016", run).arg("packages", unpinned.join(", ")));
                }
            }
            if command.name() == "apk" && command.subcommand() == Some("add") {
                let unpinned: Vec<&str> = command
                    .operands(&APK_OPTIONS_WITH_VALUE)
                    .into_iter()
                    .filter(|p| {
                        !p.contains(['=', '~', '<', '>']) && !p.ends_with(".apk") && !p.starts_with(['$', '/', '.'])
                    })
                    .collect();
                if !unpinned.is_empty() {
                    hits.push(Hit::new("DL3018", run).arg("packages", unpinned.join(", ")));
                }
                let cached = mounts.iter().any(|t| t.starts_with("/var/cache/apk") || t.starts_with("/etc/apk/cache"));
                if !command.has_option(&["--no-cache"]) && !cached {
                    let fix = a.add_option(run, &["apk"], "add", "--no-cache", &["--no-cache"]);
                    hits.push(Hit::new("DL3019", run).fix(fix.map(|e| vec![e])));
                }
            }
        }
    }
}

/// `ENV PIP_NO_CACHE_DIR=…` earlier in the stage switches pip's cache off.
fn pip_cache_disabled(a: &Analysis<'_>, stage: usize, before: usize) -> bool {
    a.scope(stage, before).contains_key("PIP_NO_CACHE_DIR")
}

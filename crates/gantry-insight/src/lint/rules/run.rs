//! RUN commands: `cd` (DL3003), `sudo` (DL3004), commands that make no sense in a build
//! (DL3001), wget and curl both (DL4001), pipes without pipefail (DL4006), consecutive RUNs
//! (DL3059).

use super::{Analysis, Hit, merge_runs};
use crate::dockerfile::{Args, Instruction, Keyword};
use crate::lint::TextEdit;
use crate::lint::analysis::find_word;

const POINTLESS_IN_A_BUILD: [&str; 10] =
    ["ssh", "vim", "nano", "shutdown", "service", "ps", "free", "top", "kill", "mount"];

pub(super) fn check(a: &Analysis<'_>, hits: &mut Vec<Hit>) {
    let mut downloaders: Vec<&str> = Vec::new();
    for (index, stage, run) in a.runs() {
        let commands = a.commands(run);
        if commands.iter().any(|c| c.name() == "cd") {
            hits.push(Hit::new("DL3003", run));
        }
        if commands.iter().any(|c| c.words.iter().find(|w| !w.contains('=')).is_some_and(|w| w == "sudo")) {
            hits.push(Hit::new("DL3004", run).fix(remove_sudo(a, run)));
        }
        if let Some(command) = commands.iter().find(|c| POINTLESS_IN_A_BUILD.contains(&c.name())) {
            hits.push(Hit::new("DL3001", run).arg("command", command.name()));
        }
        for tool in ["wget", "curl"] {
            if commands.iter().any(|c| c.name() == tool) && !downloaders.contains(&tool) {
                downloaders.push(tool);
                if downloaders.len() == 2 {
                    hits.push(Hit::new("DL4001", run));
                }
            }
        }
        if commands.iter().any(|c| c.piped) && !pipefail_set(a, stage, index, run) {
            let first_pipe_run = first_pipe_run_in_stage(a, stage, index).unwrap_or(run);
            let shell = if base_has_ash_only(a, stage) { "/bin/ash" } else { "/bin/bash" };
            let line = format!("SHELL [\"{shell}\", \"-o\", \"pipefail\", \"-c\"]");
            // Every finding of the stage carries the same edit; applying it once fixes them all.
            let fix = vec![TextEdit::insert_before(first_pipe_run.line, vec![line])];
            hits.push(Hit::new("DL4006", run).arg("shell", shell).fix(Some(fix)));
        }
        if index > 0 && a.stage_of[index - 1] == Some(stage) {
            let previous = &a.df.instructions[index - 1];
            if previous.keyword == Keyword::Run && previous.flags == run.flags {
                let both_shell = matches!(previous.args, Args::Shell(_)) && matches!(run.args, Args::Shell(_));
                if both_shell {
                    hits.push(Hit::new("DL3059", run).fix(merge_runs(a, previous, run).map(|e| vec![e])));
                }
            }
        }
    }
}

/// True when the command runs under `-o pipefail`: a SHELL with it earlier in the stage, or a
/// `set -o pipefail` in the same RUN before the first pipe; also true for non-POSIX shells.
fn pipefail_set(a: &Analysis<'_>, stage: usize, index: usize, run: &Instruction) -> bool {
    let shell = a
        .stage_body(stage)
        .take_while(|(i, _)| *i < index)
        .filter(|(_, i)| i.keyword == Keyword::Shell)
        .last()
        .and_then(|(_, i)| match &i.args {
            Args::Json(words) => Some(words.clone()),
            Args::Shell(_) => None,
        });
    if let Some(words) = shell {
        let program = words.first().map(|p| p.rsplit(['/', '\\']).next().unwrap_or(p).to_ascii_lowercase());
        let posix = program.as_deref().is_some_and(|p| ["sh", "bash", "ash", "dash", "zsh", "ksh"].contains(&p));
        if !posix || words.windows(2).any(|w| w[0].starts_with('-') && w[0].ends_with('o') && w[1] == "pipefail") {
            return true;
        }
    }
    let commands = a.commands(run);
    let first_pipe = commands.iter().position(|c| c.piped).unwrap_or(commands.len());
    commands[..first_pipe].iter().any(|c| c.sets_pipefail())
}

fn first_pipe_run_in_stage<'a>(a: &Analysis<'a>, stage: usize, up_to: usize) -> Option<&'a Instruction> {
    a.stage_body(stage)
        .take_while(|(i, _)| *i <= up_to)
        .filter(|(_, i)| i.keyword == Keyword::Run)
        .find(|(i, r)| a.commands(r).iter().any(|c| c.piped) && !pipefail_set(a, stage, *i, r))
        .map(|(_, r)| r)
}

/// Alpine and busybox images have ash, not bash.
fn base_has_ash_only(a: &Analysis<'_>, stage: usize) -> bool {
    let mut current = Some(stage);
    while let Some(index) = current {
        if a.parent[index].is_none() {
            let base = a.resolved_base(index).text.to_ascii_lowercase();
            return base.contains("alpine") || base.contains("busybox");
        }
        current = a.parent[index];
    }
    false
}

/// Removes `sudo ` before commands (only where no sudo option follows).
fn remove_sudo(a: &Analysis<'_>, run: &Instruction) -> Option<Vec<TextEdit>> {
    let mut edits = Vec::new();
    for n in run.line..=run.text_end_line {
        let mut line = a.df.line(n).to_string();
        let mut changed = false;
        while let Some(at) = find_word(&line, "sudo", 0) {
            let after = line[at + 4..].trim_start();
            if after.starts_with('-') || after.is_empty() {
                return None;
            }
            let skip = line[at + 4..].len() - after.len();
            line = format!("{}{}", &line[..at], &line[at + 4 + skip..]);
            changed = true;
        }
        if changed {
            edits.push(TextEdit::replace_line(n, line));
        }
    }
    (!edits.is_empty()).then_some(edits)
}

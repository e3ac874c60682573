//! What the rules share: stages, which stages end up in the image, variables in scope, the
//! shell commands of a RUN, and small text edits on the source lines.

use std::collections::BTreeMap;

use super::{LintContext, TextEdit};
use crate::dockerfile::shell::{Command, commands};
use crate::dockerfile::words::{self, Expanded, split_words};
use crate::dockerfile::{Args, Dockerfile, Instruction, Keyword, Stage};

/// Build arguments the builder defines on its own (usable after `ARG NAME` without a value).
pub const PLATFORM_ARGS: [&str; 8] = [
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

/// Shells whose heredoc input is a script (`RUN <<EOF`, `RUN bash <<EOF`).
const SHELLS: [&str; 6] = ["sh", "bash", "ash", "dash", "zsh", "ksh"];

/// The linted file, indexed for the rules.
pub struct Analysis<'a> {
    pub df: &'a Dockerfile,
    pub context: &'a LintContext,
    pub escape: char,
    pub stages: Vec<Stage>,
    /// The stage of each instruction (`None` before the first FROM).
    pub stage_of: Vec<Option<usize>>,
    /// Stages whose layers end up in the final image: the last stage and the stages it builds on.
    pub shipped: Vec<bool>,
    /// For each stage, the earlier stage it is built FROM, if any.
    pub parent: Vec<Option<usize>>,
    /// Global ARGs (before the first FROM) and their defaults.
    pub global_args: Vec<(String, Option<String>)>,
}

impl<'a> Analysis<'a> {
    pub fn new(df: &'a Dockerfile, context: &'a LintContext) -> Self {
        let escape = df.directives.escape;
        let stages = df.stages();
        let mut stage_of = vec![None; df.instructions.len()];
        for (index, stage) in stages.iter().enumerate() {
            for slot in &mut stage_of[stage.from..stage.end] {
                *slot = Some(index);
            }
        }
        let global_args = df.global_args();
        let mut analysis =
            Self { df, context, escape, stages, stage_of, shipped: Vec::new(), parent: Vec::new(), global_args };
        analysis.parent = (0..analysis.stages.len())
            .map(|i| {
                let base = analysis.resolved_base(i).text.to_ascii_lowercase();
                analysis.stages[..i]
                    .iter()
                    .position(|s| s.name.as_deref().map(str::to_ascii_lowercase) == Some(base.clone()))
            })
            .collect();
        let mut shipped = vec![false; analysis.stages.len()];
        let mut current = analysis.stages.len().checked_sub(1);
        while let Some(index) = current {
            if shipped[index] {
                break;
            }
            shipped[index] = true;
            current = analysis.parent[index];
        }
        analysis.shipped = shipped;
        analysis
    }

    /// The instructions of stage `index` after its FROM, with their indexes.
    pub fn stage_body(&self, index: usize) -> impl Iterator<Item = (usize, &'a Instruction)> + '_ {
        let stage = &self.stages[index];
        (stage.from + 1..stage.end).map(|i| (i, &self.df.instructions[i]))
    }

    /// The final stage's index.
    pub fn final_stage(&self) -> Option<usize> {
        self.stages.len().checked_sub(1)
    }

    /// Every RUN with its index and stage.
    pub fn runs(&self) -> impl Iterator<Item = (usize, usize, &'a Instruction)> + '_ {
        self.df
            .instructions
            .iter()
            .enumerate()
            .filter(|(_, i)| i.keyword == Keyword::Run)
            .filter_map(|(index, i)| self.stage_of[index].map(|stage| (index, stage, i)))
    }

    /// The stage's base image with global ARG defaults substituted (platform args left empty).
    pub fn resolved_base(&self, index: usize) -> Expanded {
        let lookup = |name: &str| self.global_args.iter().rev().find(|(n, _)| n == name).and_then(|(_, v)| v.clone());
        words::expand(&self.stages[index].base, self.escape, &lookup, true)
    }

    /// The shell commands a RUN executes (shell form; heredoc bodies fed to a shell included).
    pub fn commands(&self, run: &Instruction) -> Vec<Command> {
        let Args::Shell(text) = &run.args else { return Vec::new() };
        let mut script = text.clone();
        let program: Vec<String> = split_words(text, self.escape)
            .into_iter()
            .filter(|w| !w.trim_start_matches(|c: char| c.is_ascii_digit()).starts_with('<') && !w.starts_with('>'))
            .collect();
        let feeds_shell = program.first().is_none_or(|p| SHELLS.contains(&p.rsplit('/').next().unwrap_or(p)));
        if feeds_shell {
            for heredoc in &run.heredocs {
                script.push('\n');
                script.push_str(&heredoc.body);
            }
        }
        commands(&script)
    }

    /// The value of `--mount=type=cache,target=…` targets of a RUN.
    pub fn cache_mount_targets(&self, run: &Instruction) -> Vec<String> {
        run.flags
            .iter()
            .filter(|f| f.name == "mount")
            .filter_map(|f| f.value.as_deref())
            .filter(|v| v.split(',').any(|kv| kv == "type=cache"))
            .filter_map(|v| {
                v.split(',').find_map(|kv| {
                    kv.strip_prefix("target=")
                        .or_else(|| kv.strip_prefix("dst="))
                        .or_else(|| kv.strip_prefix("destination="))
                })
            })
            .map(|t| t.trim_end_matches('/').to_string())
            .collect()
    }

    /// Variables visible in stage `index` just before instruction `at`: ENV and ARG of the stage
    /// (and of the stage it builds on), global ARGs re-declared in the stage. Values that are not
    /// known statically are `None`.
    pub fn scope(&self, index: usize, at: usize) -> BTreeMap<String, Option<String>> {
        let mut vars = match self.parent[index] {
            Some(parent) => self.scope(parent, self.stages[parent].end),
            None => BTreeMap::new(),
        };
        for (i, instruction) in self.stage_body(index) {
            if i >= at {
                break;
            }
            let legacy = instruction.keyword == Keyword::Env;
            if !matches!(instruction.keyword, Keyword::Env | Keyword::Arg) {
                continue;
            }
            for (key, value) in words::key_values(&instruction.rest, self.escape, legacy) {
                let value = match value {
                    Some(v) => Some(v),
                    None => self.global_args.iter().rev().find(|(n, _)| *n == key).and_then(|(_, v)| v.clone()),
                };
                vars.insert(key, value);
            }
        }
        vars
    }

    /// Replaces the first whole-word occurrence of `word` on the instruction's text lines.
    pub fn replace_word(&self, instruction: &Instruction, word: &str, replacement: &str) -> Option<TextEdit> {
        (instruction.line..=instruction.text_end_line).find_map(|n| {
            let line = self.df.line(n);
            let at = find_word(line, word, 0)?;
            Some(TextEdit::replace_line(n, format!("{}{replacement}{}", &line[..at], &line[at + word.len()..])))
        })
    }

    /// Inserts ` option` after `subcommand` in the first `program … subcommand` on one line of the
    /// instruction whose command (up to `&&`, `;`, `|`) lacks every one of `already`.
    pub fn add_option(
        &self,
        instruction: &Instruction,
        programs: &[&str],
        subcommand: &str,
        option: &str,
        already: &[&str],
    ) -> Option<TextEdit> {
        for n in instruction.line..=instruction.text_end_line {
            let line = self.df.line(n);
            for program in programs {
                let mut from = 0;
                while let Some(at) = find_word(line, program, from) {
                    from = at + program.len();
                    let segment_end = line[from..].find(['&', ';', '|']).map_or(line.len(), |e| from + e);
                    let segment = &line[from..segment_end];
                    let Some(sub_at) = find_word(segment, subcommand, 0) else { continue };
                    if already
                        .iter()
                        .any(|o| segment.split_whitespace().any(|w| w == *o || w.starts_with(&format!("{o}="))))
                    {
                        continue;
                    }
                    let insert_at = from + sub_at + subcommand.len();
                    return Some(TextEdit::replace_line(
                        n,
                        format!("{} {option}{}", &line[..insert_at], &line[insert_at..]),
                    ));
                }
            }
        }
        None
    }
}

/// The byte offset of `word` in `line` at or after `from`, standing alone (bounded by the line's
/// ends, blanks, quotes or shell operators).
pub fn find_word(line: &str, word: &str, from: usize) -> Option<usize> {
    let boundary = |c: Option<char>| c.is_none_or(|c| c.is_whitespace() || "&|;()'\"`".contains(c));
    let mut start = from;
    while let Some(pos) = line.get(start..)?.find(word) {
        let at = start + pos;
        let before = line[..at].chars().next_back();
        let after = line[at + word.len()..].chars().next();
        if boundary(before) && boundary(after) {
            return Some(at);
        }
        start = at + word.len().max(1);
    }
    None
}

/// An image reference's tag (`None` without one) and whether it has a digest.
pub fn tag_of(reference: &str) -> (Option<&str>, bool) {
    let (name, digest) = match reference.split_once('@') {
        Some((n, _)) => (n, true),
        None => (reference, false),
    };
    let last = name.rfind('/').map_or(0, |i| i + 1);
    (name[last..].rsplit_once(':').map(|(_, tag)| tag), digest)
}

/// Edit distance between two short names (for "did you mean").
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push((previous[j] + cost).min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_tags() {
        assert_eq!(find_word("apt-get install -y", "install", 0), Some(8));
        assert_eq!(find_word("reinstall install", "install", 0), Some(10));
        assert_eq!(find_word("x&&apt-get", "apt-get", 0), Some(3));
        assert_eq!(find_word("apt-gets", "apt-get", 0), None);
        assert_eq!(tag_of("localhost:5000/app"), (None, false));
        assert_eq!(tag_of("debian:12-slim"), (Some("12-slim"), false));
        assert_eq!(tag_of("busybox@sha256:abc"), (None, true));
        assert_eq!(edit_distance("VERSOIN", "VERSION"), 2);
        assert_eq!(edit_distance("APP_HOME", "APP_HOME"), 0);
    }
}

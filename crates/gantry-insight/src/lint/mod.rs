//! Dockerfile advice with fixes.
//!
//! [`lint`] reads a Dockerfile and returns [`Finding`]s: each with its rule id (hadolint's
//! `DL…` ids, BuildKit's build-check names, or Gantry's own for the advice hadolint and
//! BuildKit lack), its line, what is wrong and why it matters in one sentence (English or
//! Russian), and where possible a [`Fix`]: line edits a user previews and applies
//! ([`apply_fixes`], [`unified_diff`]).
//!
//! Suppressing rules: `# hadolint ignore=DL3008,DL3009` on the line(s) just above an
//! instruction, `# hadolint global ignore=…` anywhere, BuildKit's `# check=skip=…` directive,
//! and [`LintContext::ignore`].

mod analysis;
mod catalog;
mod files;
mod fix;
mod rules;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::Lang;
use crate::dockerfile::{self, Dockerfile};
use analysis::Analysis;
pub use catalog::{RuleInfo, rule_info, rules};
pub use files::{DockerfileOnDisk, FileDiff, write_replacing};
pub use fix::{AppliedFixes, Fix, TextEdit, apply_fixes, fix_all, unified_diff};

/// Who defined a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RuleSource {
    /// hadolint's `DL…` rules (ids kept so results can be compared).
    Hadolint,
    /// BuildKit's build checks (`docker build --check`).
    Buildkit,
    /// Gantry's own advice (from the Docker tutorials' best practices) and parse errors.
    Gantry,
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The build fails or does something clearly wrong.
    Error,
    /// Works today, but hurts reproducibility, size, speed or security.
    Warning,
    /// Worth knowing; often a matter of taste.
    Info,
    /// Readability only.
    Style,
}

/// One piece of advice about a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Finding {
    /// The rule id: `DL3008`, `JSONArgsRecommended`, `AptUpdateInSeparateRun`, ...
    pub rule: String,
    /// The same check's ids in other tools (e.g. `DL3025` also reports as `JSONArgsRecommended`).
    pub also: Vec<String>,
    pub source: RuleSource,
    pub severity: Severity,
    /// 1-based first and last line of the instruction (or line) concerned.
    pub line: usize,
    pub end_line: usize,
    /// What is wrong, in the requested language.
    pub message: String,
    /// Why it matters, in one sentence.
    pub why: String,
    /// A change that resolves it, when one can be written without guessing.
    pub fix: Option<Fix>,
    /// The rule's documentation (hadolint wiki, Docker docs, or Gantry's docs).
    pub docs_url: String,
}

impl Finding {
    /// True when the finding is for rule `id` under any of its names.
    pub fn is(&self, id: &str) -> bool {
        self.rule == id || self.also.iter().any(|a| a == id)
    }
}

/// What the linter knows about the build besides the Dockerfile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct LintContext {
    /// The language of messages.
    pub lang: Lang,
    /// The build context's `.dockerignore`.
    pub dockerignore: Dockerignore,
    /// File and directory names at the top of the build context, when known (lets
    /// CopyDependenciesFirst name the right dependency files).
    pub context_files: Option<Vec<String>>,
    /// Rule ids not to report.
    pub ignore: Vec<String>,
}

impl LintContext {
    /// A context with messages in `lang` and nothing else known.
    pub fn new(lang: Lang) -> Self {
        Self { lang, ..Self::default() }
    }
}

/// Whether the build context has a `.dockerignore`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", content = "text", rename_all = "snake_case")]
pub enum Dockerignore {
    /// Not known (only the Dockerfile text was given): rules about it stay quiet.
    #[default]
    Unknown,
    /// The context has none.
    Missing,
    /// The context has one with this text.
    Present(String),
}

/// Lints Dockerfile text. Findings are sorted by line, then rule id; the list is empty for a
/// Dockerfile with nothing to say about.
pub fn lint(dockerfile_text: &str, context: &LintContext) -> Vec<Finding> {
    lint_parsed(&dockerfile::parse(dockerfile_text), context)
}

/// Lints an already parsed Dockerfile.
pub fn lint_parsed(df: &Dockerfile, context: &LintContext) -> Vec<Finding> {
    let analysis = Analysis::new(df, context);
    let mut hits = Vec::new();
    rules::run_all(&analysis, &mut hits);
    let ignored = Ignored::new(df, context);
    let mut findings: Vec<Finding> = hits
        .into_iter()
        .filter_map(|hit| {
            let info = rule_info(hit.rule)?;
            let also: Vec<String> = hit.also.unwrap_or(info.also).iter().map(|s| (*s).to_string()).collect();
            if ignored.covers(hit.line, &info, &also) {
                return None;
            }
            Some(Finding {
                rule: info.id.to_string(),
                also,
                source: info.source,
                severity: info.severity,
                line: hit.line,
                end_line: hit.end_line.max(hit.line),
                message: crate::lang::fill(info.title.pick(context.lang), &hit.args),
                why: crate::lang::fill(info.why.pick(context.lang), &hit.args),
                fix: hit.fix.and_then(|edits| {
                    let title = info.fix?;
                    Some(Fix { title: crate::lang::fill(title.pick(context.lang), &hit.args), edits })
                }),
                docs_url: info.docs_url(),
            })
        })
        .collect();
    findings.sort_by(|a, b| (a.line, &a.rule).cmp(&(b.line, &b.rule)));
    findings.dedup_by(|a, b| a.line == b.line && a.rule == b.rule && a.message == b.message);
    findings
}

/// What a rule found, before it is put into words.
#[derive(Debug)]
pub(crate) struct Hit {
    pub rule: &'static str,
    /// Overrides the rule's usual other-tool ids for this finding.
    pub also: Option<&'static [&'static str]>,
    pub line: usize,
    pub end_line: usize,
    pub args: Vec<(&'static str, String)>,
    pub fix: Option<Vec<TextEdit>>,
}

impl Hit {
    pub fn new(rule: &'static str, instruction: &dockerfile::Instruction) -> Self {
        Self { rule, also: None, line: instruction.line, end_line: instruction.end_line, args: Vec::new(), fix: None }
    }

    pub fn at_line(rule: &'static str, line: usize) -> Self {
        Self { rule, also: None, line, end_line: line, args: Vec::new(), fix: None }
    }

    pub fn arg(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.args.push((name, value.into()));
        self
    }

    pub fn fix(mut self, edits: Option<Vec<TextEdit>>) -> Self {
        self.fix = edits.filter(|e| !e.is_empty());
        self
    }

    pub fn also(mut self, ids: &'static [&'static str]) -> Self {
        self.also = Some(ids);
        self
    }
}

/// Rules switched off by the context, `# check=skip=` and hadolint pragmas.
struct Ignored {
    everywhere: BTreeSet<String>,
    all: bool,
    /// (instruction line, rule ids) from `# hadolint ignore=` comments just above it.
    by_line: Vec<(usize, Vec<String>)>,
}

impl Ignored {
    fn new(df: &Dockerfile, context: &LintContext) -> Self {
        let mut everywhere: BTreeSet<String> = context.ignore.iter().cloned().collect();
        let skipped = df.directives.skipped_checks();
        let all = skipped.iter().any(|s| s == "all");
        everywhere.extend(skipped);
        let mut by_line = Vec::new();
        for comment in &df.comments {
            let Some(pragma) = comment.text.strip_prefix("hadolint") else { continue };
            let pragma = pragma.trim();
            let (global, list) = match pragma.strip_prefix("global") {
                Some(rest) => (true, rest.trim()),
                None => (false, pragma),
            };
            let Some(ids) = list.strip_prefix("ignore=") else { continue };
            let ids: Vec<String> = ids.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
            if global {
                everywhere.extend(ids);
            } else if let Some(next) = df.instructions.iter().find(|i| i.line > comment.line) {
                // Only comments (and blank lines) may stand between the pragma and its instruction.
                by_line.push((next.line, ids));
            }
        }
        Self { everywhere, all, by_line }
    }

    fn covers(&self, line: usize, rule: &RuleInfo, also: &[String]) -> bool {
        let named = |ids: &dyn Fn(&str) -> bool| ids(rule.id) || also.iter().any(|a| ids(a));
        (self.all && rule.source == RuleSource::Buildkit)
            || named(&|id| self.everywhere.contains(id))
            || self.by_line.iter().any(|(l, ids)| *l == line && named(&|id| ids.iter().any(|i| i == id)))
    }
}

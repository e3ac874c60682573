//! The rules, grouped by what they look at. Each module's `check` adds [`Hit`]s.

mod advice;
mod apt;
mod base;
mod instructions;
mod packages;
mod run;
mod syntax;

use super::analysis::Analysis;
use super::{Hit, TextEdit};
use crate::dockerfile::{Args, Instruction, Keyword};

pub(crate) fn run_all(analysis: &Analysis<'_>, hits: &mut Vec<Hit>) {
    syntax::check(analysis, hits);
    base::check(analysis, hits);
    apt::check(analysis, hits);
    packages::check(analysis, hits);
    run::check(analysis, hits);
    instructions::check(analysis, hits);
    advice::check(analysis, hits);
}

/// One edit joining RUN `second` onto RUN `first` (`first && second`), when both are plain
/// shell-form RUNs with the same flags and only blank lines between them.
pub(crate) fn merge_runs(analysis: &Analysis<'_>, first: &Instruction, second: &Instruction) -> Option<TextEdit> {
    let joinable =
        |i: &Instruction| i.keyword == Keyword::Run && i.heredocs.is_empty() && matches!(i.args, Args::Shell(_));
    if !joinable(first) || !joinable(second) || first.flags != second.flags {
        return None;
    }
    let df = analysis.df;
    if (first.end_line + 1..second.line).any(|n| !df.line(n).trim().is_empty()) {
        return None;
    }
    let mut lines: Vec<String> = (first.line..=first.text_end_line).map(|n| df.line(n).to_string()).collect();
    let last = lines.last_mut()?;
    let trimmed = last.trim_end().trim_end_matches(';').trim_end();
    if trimmed.ends_with("&&") || trimmed.ends_with("||") || trimmed.ends_with('|') {
        return None;
    }
    *last = format!("{trimmed} && {}", analysis.escape);
    // The second RUN's text without its keyword and flags, indented as a continuation.
    let head = df.line(second.line).trim_start();
    let mut after = head.get(second.written.len()..)?.trim_start();
    for _ in &second.flags {
        after = after.get(after.find(char::is_whitespace).unwrap_or(after.len())..)?.trim_start();
    }
    let mut rest: Vec<String> = Vec::new();
    if !after.trim().is_empty() && after.trim() != analysis.escape.to_string() {
        rest.push(format!("    {after}"));
    }
    rest.extend((second.line + 1..=second.end_line).map(|n| {
        let line = df.line(n);
        if line.starts_with(char::is_whitespace) { line.to_string() } else { format!("    {line}") }
    }));
    if rest.is_empty() {
        return None;
    }
    lines.extend(rest);
    Some(TextEdit::replace_lines(first.line, second.end_line, lines))
}

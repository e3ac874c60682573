//! Fixes as line edits: easy to preview as a diff and to apply in any front end (the UI counts
//! lines, not bytes or UTF-16 units).

use serde::{Deserialize, Serialize};

use super::{Finding, LintContext};

/// Replace `delete` lines starting at 1-based `line` with `insert` (a pure insertion when
/// `delete` is 0: the new lines go before `line`; `line` may be one past the last line).
/// `file` names another file in the build context to write instead of the Dockerfile (e.g.
/// `.dockerignore`); such an edit creates the file when it does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TextEdit {
    pub line: usize,
    pub delete: usize,
    pub insert: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl TextEdit {
    /// Replaces line `line` with `text`.
    pub fn replace_line(line: usize, text: impl Into<String>) -> Self {
        Self { line, delete: 1, insert: vec![text.into()], file: None }
    }

    /// Replaces lines `first..=last` with `lines`.
    pub fn replace_lines(first: usize, last: usize, lines: Vec<String>) -> Self {
        Self { line: first, delete: last + 1 - first, insert: lines, file: None }
    }

    /// Inserts `lines` before line `line`.
    pub fn insert_before(line: usize, lines: Vec<String>) -> Self {
        Self { line, delete: 0, insert: lines, file: None }
    }

    /// Removes lines `first..=last`.
    pub fn delete_lines(first: usize, last: usize) -> Self {
        Self::replace_lines(first, last, Vec::new())
    }

    fn overlaps(&self, other: &TextEdit) -> bool {
        if self.file != other.file {
            return false;
        }
        let (a0, a1) = (self.line, self.line + self.delete);
        let (b0, b1) = (other.line, other.line + other.delete);
        // Two edits at the same place (even pure insertions) cannot both be applied in a known order.
        a0 == b0 || (a0 < b1 && b0 < a1)
    }
}

/// A change that resolves a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Fix {
    /// What the fix does, in the finding's language.
    pub title: String,
    /// Non-overlapping edits against the text that was linted.
    pub edits: Vec<TextEdit>,
}

/// The result of applying fixes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AppliedFixes {
    /// The new Dockerfile text.
    pub text: String,
    /// Other files to create or replace (path relative to the build context, full new text).
    pub other_files: Vec<(String, String)>,
    /// Rule ids whose fixes were applied, in order.
    pub applied: Vec<String>,
    /// Rule ids whose fixes were left out because they overlapped an applied one (run again).
    pub skipped: Vec<String>,
}

/// Applies the fixes of `findings` to `text`, in order, leaving out a fix that overlaps one
/// already taken (identical edits from two findings count once). `other_file` gives the current
/// text of another file an edit names (`None`: it does not exist yet).
pub fn apply_fixes(text: &str, findings: &[Finding], other_file: &dyn Fn(&str) -> Option<String>) -> AppliedFixes {
    let mut taken: Vec<TextEdit> = Vec::new();
    let mut result = AppliedFixes::default();
    for finding in findings {
        let Some(fix) = &finding.fix else { continue };
        let fresh: Vec<&TextEdit> = fix.edits.iter().filter(|e| !taken.contains(e)).collect();
        if fresh.iter().any(|e| taken.iter().any(|t| t.overlaps(e))) {
            result.skipped.push(finding.rule.clone());
            continue;
        }
        taken.extend(fresh.into_iter().cloned());
        result.applied.push(finding.rule.clone());
    }
    let mut files: Vec<Option<String>> = taken.iter().map(|e| e.file.clone()).collect();
    files.sort();
    files.dedup();
    for file in files {
        let edits: Vec<&TextEdit> = taken.iter().filter(|e| e.file == file).collect();
        match file {
            None => result.text = edit_text(text, &edits),
            Some(path) => {
                let current = other_file(&path).unwrap_or_default();
                result.other_files.push((path, edit_text(&current, &edits)));
            }
        }
    }
    if !taken.iter().any(|e| e.file.is_none()) {
        result.text = text.to_string();
    }
    result
}

/// Lints and fixes repeatedly (a fix left out for overlapping another is applied in the next
/// round) until nothing more can be fixed, at most `rounds` times.
pub fn fix_all(text: &str, context: &LintContext, rounds: usize) -> AppliedFixes {
    let mut total = AppliedFixes { text: text.to_string(), ..AppliedFixes::default() };
    let mut context = context.clone();
    for _ in 0..rounds {
        let findings = super::lint(&total.text, &context);
        let lookup = |path: &str| -> Option<String> {
            if let Some((_, known)) = total.other_files.iter().find(|(p, _)| p == path) {
                return Some(known.clone());
            }
            match &context.dockerignore {
                super::Dockerignore::Present(existing) if path == ".dockerignore" => Some(existing.clone()),
                _ => None,
            }
        };
        let round = apply_fixes(&total.text, &findings, &lookup);
        if round.applied.is_empty() {
            total.skipped = round.skipped;
            break;
        }
        for (path, content) in round.other_files {
            if path == ".dockerignore" {
                context.dockerignore = super::Dockerignore::Present(content.clone());
            }
            total.other_files.retain(|(p, _)| *p != path);
            total.other_files.push((path, content));
        }
        total.text = round.text;
        total.applied.extend(round.applied);
        total.skipped = round.skipped;
    }
    total
}

/// Applies non-overlapping edits to `text`, keeping its line endings.
fn edit_text(text: &str, edits: &[&TextEdit]) -> String {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let ends_with_newline = text.is_empty() || text.ends_with('\n');
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut sorted: Vec<&&TextEdit> = edits.iter().collect();
    // Bottom to top, so earlier line numbers stay valid.
    sorted.sort_by_key(|e| std::cmp::Reverse((e.line, e.delete)));
    for edit in sorted {
        let start = edit.line.saturating_sub(1).min(lines.len());
        let end = (start + edit.delete).min(lines.len());
        lines.splice(start..end, edit.insert.iter().cloned());
    }
    let mut out = lines.join(newline);
    if ends_with_newline && !out.is_empty() {
        out.push_str(newline);
    }
    out
}

/// A unified diff (`diff -u` style, 3 lines of context) from `old` to `new`; empty when equal.
pub fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let ops = diff_ops(&a, &b);
    if ops.iter().all(|op| matches!(op, Op::Same(..))) {
        return String::new();
    }
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    const CONTEXT: usize = 3;
    let changed: Vec<usize> =
        ops.iter().enumerate().filter(|(_, op)| !matches!(op, Op::Same(..))).map(|(i, _)| i).collect();
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    for &i in &changed {
        let start = i.saturating_sub(CONTEXT);
        let end = (i + CONTEXT + 1).min(ops.len());
        match hunks.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => hunks.push((start, end)),
        }
    }
    for (start, end) in hunks {
        let (mut a_line, mut b_line) = (1, 1);
        for op in &ops[..start] {
            match op {
                Op::Same(..) => {
                    a_line += 1;
                    b_line += 1;
                }
                Op::Delete(_) => a_line += 1,
                Op::Insert(_) => b_line += 1,
            }
        }
        let slice = &ops[start..end];
        let a_count = slice.iter().filter(|op| !matches!(op, Op::Insert(_))).count();
        let b_count = slice.iter().filter(|op| !matches!(op, Op::Delete(_))).count();
        let a_start = if a_count == 0 { a_line - 1 } else { a_line };
        let b_start = if b_count == 0 { b_line - 1 } else { b_line };
        out.push_str(&format!("@@ -{a_start},{a_count} +{b_start},{b_count} @@\n"));
        for op in slice {
            match op {
                Op::Same(i) => out.push_str(&format!(" {}\n", a[*i])),
                Op::Delete(i) => out.push_str(&format!("-{}\n", a[*i])),
                Op::Insert(j) => out.push_str(&format!("+{}\n", b[*j])),
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Same(usize),
    Delete(usize),
    Insert(usize),
}

/// Line operations turning `a` into `b` (longest common subsequence; Dockerfiles are small,
/// and beyond 4 million cells the middle is shown as replaced).
fn diff_ops(a: &[&str], b: &[&str]) -> Vec<Op> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (a_mid, b_mid) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut ops: Vec<Op> = (0..prefix).map(Op::Same).collect();
    let (n, m) = (a_mid.len(), b_mid.len());
    if n * m > 4_000_000 {
        ops.extend((0..n).map(|i| Op::Delete(prefix + i)));
        ops.extend((0..m).map(|j| Op::Insert(prefix + j)));
    } else {
        let mut lcs = vec![vec![0u32; m + 1]; n + 1];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i][j] = if a_mid[i] == b_mid[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && a_mid[i] == b_mid[j] {
                ops.push(Op::Same(prefix + i));
                i += 1;
                j += 1;
            } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
                ops.push(Op::Delete(prefix + i));
                i += 1;
            } else {
                ops.push(Op::Insert(prefix + j));
                j += 1;
            }
        }
    }
    let a_tail = a.len() - suffix;
    ops.extend((0..suffix).map(|k| Op::Same(a_tail + k)));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_apply_bottom_up_and_keep_line_endings() {
        let text = "a\r\nb\r\nc\r\n";
        let e1 = TextEdit::replace_line(1, "A");
        let e2 = TextEdit::insert_before(3, vec!["x".into(), "y".into()]);
        let e3 = TextEdit::delete_lines(2, 2);
        assert_eq!(edit_text(text, &[&e1, &e2, &e3]), "A\r\nx\r\ny\r\nc\r\n");
        assert_eq!(edit_text("a", &[&TextEdit::insert_before(2, vec!["b".into()])]), "a\nb");
        assert!(e1.overlaps(&TextEdit::replace_lines(1, 2, vec![])));
        assert!(!e1.overlaps(&e3));
    }

    #[test]
    fn diff_is_unified() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\nten\n";
        let diff = unified_diff(old, new, "a/Dockerfile", "b/Dockerfile");
        assert_eq!(
            diff,
            "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -2,8 +2,9 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n 9\n+ten\n"
        );
        assert_eq!(unified_diff("a\n", "a\n", "x", "y"), "");
        assert_eq!(unified_diff("", "new\n", "x", "y"), "--- x\n+++ y\n@@ -0,0 +1,1 @@\n+new\n");
    }
}

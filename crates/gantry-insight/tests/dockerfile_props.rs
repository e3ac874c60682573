//! Property tests of the Dockerfile parser and the linter: on any text they do not panic, line
//! numbers stay inside the file, what the parser can print parses back to the same
//! instructions, and fixes apply cleanly. Each target is recorded in the reliability log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use gantry_insight::dockerfile::{Dockerfile, parse};
use gantry_insight::lint::{Dockerignore, LintContext, apply_fixes, lint, lint_parsed};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Inputs that once broke the parser or the linter, kept as regression cases.
const CRASHERS: [&str; 1] = [
    // A heredoc body line ending in a carriage return cannot be printed with `\n` line ends.
    "RUN <<EOF\n\r\r\nEOF",
];

/// One Dockerfile-like line: instructions in any case with tricky arguments, comments,
/// directives, continuations, heredoc markers and terminators, blank lines, raw noise.
fn line() -> impl Strategy<Value = String> {
    let keyword = prop::sample::select(vec![
        "FROM",
        "from",
        "RUN",
        "run",
        "Run",
        "CMD",
        "ENTRYPOINT",
        "COPY",
        "ADD",
        "ENV",
        "ARG",
        "LABEL",
        "WORKDIR",
        "USER",
        "EXPOSE",
        "SHELL",
        "HEALTHCHECK",
        "ONBUILD",
        "MAINTAINER",
        "VOLUME",
        "STOPSIGNAL",
        "COPPY",
    ]);
    let piece = prop::sample::select(vec![
        "apt-get",
        "update",
        "install",
        "-y",
        "&&",
        "|",
        ";",
        "\\",
        "`",
        "<<EOF",
        "<<-'END'",
        "EOF",
        "END",
        "--from=build",
        "--mount=type=cache,target=/var/lib/apt",
        "[\"sh\", \"-c\"]",
        "[\"bad",
        "$VAR",
        "${X:-1}",
        "\"quoted word\"",
        "'single'",
        "AS",
        "as",
        "build",
        ".",
        "/app",
        "x=1",
        "#",
        "pip",
        "npm",
        "apk",
        "add",
        "busybox:1.36",
        "latest",
        "sudo",
        "cd",
        "é",
        "\t",
        "\r",
        "0:0",
        "8080/TCP",
        "1.2.3.4:80:80",
    ]);
    prop_oneof![
        4 => (keyword, prop::collection::vec(piece, 0..6)).prop_map(|(k, p)| format!("{k} {}", p.join(" "))),
        1 => Just(String::new()),
        1 => prop::sample::select(vec!["# comment", "# escape=`", "# syntax=docker/dockerfile:1", "# hadolint ignore=DL3008", "# check=skip=all", "EOF", "END", "  \\", "`"]).prop_map(str::to_string),
        1 => "[ -~]{0,30}",
        1 => ".{0,20}",
    ]
}

fn dockerfile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(line(), 0..25).prop_map(|lines| lines.join("\n")),
        1 => ".{0,200}",
    ]
}

fn check_structure(text: &str, df: &Dockerfile) -> Result<(), TestCaseError> {
    let expected_lines = text.split('\n').count() - usize::from(text.ends_with('\n') || text.is_empty());
    prop_assert_eq!(df.lines.len(), expected_lines);
    let mut previous_end = 0;
    for instruction in &df.instructions {
        prop_assert!(instruction.line > previous_end, "instructions overlap or go backwards");
        prop_assert!(
            instruction.line <= instruction.text_end_line && instruction.text_end_line <= instruction.end_line
        );
        prop_assert!(instruction.end_line <= df.lines.len().max(1));
        previous_end = instruction.end_line;
    }
    for problem in &df.problems {
        prop_assert!(problem.line() >= 1 && problem.line() <= df.lines.len().max(1));
    }
    Ok(())
}

fn check_round_trip(df: &Dockerfile) -> Result<(), TestCaseError> {
    let Some(printed) = df.to_canonical() else { return Ok(()) };
    let again = parse(&printed);
    prop_assert_eq!(again.directives.escape, df.directives.escape);
    prop_assert_eq!(again.instructions.len(), df.instructions.len(), "printed:\n{}", printed);
    for (a, b) in again.instructions.iter().zip(&df.instructions) {
        prop_assert!(a.same_meaning(b), "{:?}\n!=\n{:?}\nprinted:\n{}", a, b, printed);
    }
    Ok(())
}

fn check_lint(text: &str, df: &Dockerfile) -> Result<(), TestCaseError> {
    let context = LintContext { dockerignore: Dockerignore::Missing, ..LintContext::default() };
    let findings = lint_parsed(df, &context);
    let last_line = df.lines.len().max(1);
    for finding in &findings {
        prop_assert!(
            finding.line >= 1 && finding.line <= finding.end_line && finding.end_line <= last_line,
            "{:?}",
            finding
        );
        if let Some(fix) = &finding.fix {
            for edit in &fix.edits {
                prop_assert!(edit.file.is_some() || edit.line <= last_line + 1, "{:?}", edit);
            }
        }
    }
    let fixed = apply_fixes(text, &findings, &|_| None);
    let _ = lint(&fixed.text, &context);
    Ok(())
}

/// `GANTRY_PROPTEST_CASES` runs more cases (a long fuzzing session) than the test run's default.
fn cases(default: u32) -> u32 {
    std::env::var("GANTRY_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn run_target(
    name: &str,
    cases: u32,
    strategy: impl Strategy<Value = String>,
    test: impl Fn(&str) -> Result<(), TestCaseError>,
) {
    let tried = AtomicU64::new(0);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let result = runner.run(&strategy, |text| {
        tried.fetch_add(1, Ordering::Relaxed);
        test(&text)
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    for crasher in CRASHERS {
        test(crasher).unwrap_or_else(|e| panic!("{name}: regression case {crasher:?}: {e}"));
    }
    gantry_testkit::reliability::fuzz(
        name,
        tried.load(Ordering::Relaxed) + CRASHERS.len() as u64,
        CRASHERS.len() as u32,
    );
}

#[test]
fn parser_keeps_structure_and_round_trips() {
    run_target("dockerfile parser: structure and canonical round trip", cases(3000), dockerfile_text(), |text| {
        let df = parse(text);
        check_structure(text, &df)?;
        check_round_trip(&df)
    });
}

#[test]
fn linter_and_fixes_never_panic() {
    run_target("dockerfile linter and fixes", cases(1500), dockerfile_text(), |text| check_lint(text, &parse(text)));
}

//! The lint corpus: every folder under `tests/lint-corpus/` holds a `Dockerfile` and `expect`
//! (one `LINE RULE` per expected finding, `#` comments allowed); the findings must be exactly
//! those. Optional files: `dockerignore` (the context's .dockerignore) or `no-dockerignore`
//! (the context has none), `context-files` (names at the top of the context, one a line),
//! `fixed` (the Dockerfile after `fix_all`, which must also lint clean of every fixable rule),
//! `fixed.dockerignore` (the .dockerignore the fixes create).
//!
//! `GANTRY_CORPUS_BLESS=1` writes `expect` and `fixed` from the current output instead (review
//! the diff before committing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use gantry_insight::lint::{Dockerignore, LintContext, fix_all, lint};

fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint-corpus");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/lint-corpus exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("Dockerfile").is_file())
        .collect();
    cases.sort();
    cases
}

fn context_for(case: &Path) -> LintContext {
    let mut context = LintContext::default();
    if let Ok(text) = std::fs::read_to_string(case.join("dockerignore")) {
        context.dockerignore = Dockerignore::Present(text);
    } else if case.join("no-dockerignore").exists() {
        context.dockerignore = Dockerignore::Missing;
    }
    if let Ok(text) = std::fs::read_to_string(case.join("context-files")) {
        context.context_files = Some(text.lines().map(str::to_string).filter(|l| !l.is_empty()).collect());
    }
    context
}

fn expected(case: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(case.join("expect")).unwrap_or_default();
    let mut list: Vec<(usize, String)> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (line, rule) = l.split_once(' ').unwrap_or_else(|| panic!("{}: bad expect line {l:?}", case.display()));
            (
                line.parse().unwrap_or_else(|_| panic!("{}: bad line number in {l:?}", case.display())),
                rule.trim().to_string(),
            )
        })
        .collect();
    list.sort();
    list
}

#[test]
fn corpus_findings_and_fixes_are_as_expected() {
    let bless = std::env::var_os("GANTRY_CORPUS_BLESS").is_some();
    let cases = corpus();
    assert!(cases.len() >= 12, "the corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    let mut findings_total = 0;
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(case.join("Dockerfile")).unwrap();
        let context = context_for(case);
        let findings = lint(&text, &context);
        findings_total += findings.len();
        let mut got: Vec<(usize, String)> = findings.iter().map(|f| (f.line, f.rule.clone())).collect();
        got.sort();
        for finding in &findings {
            assert!(!finding.message.is_empty() && finding.why.ends_with('.'), "{name}: {finding:?}");
        }
        let fixed = fix_all(&text, &context, 6);
        if bless {
            let lines: Vec<String> = got.iter().map(|(l, r)| format!("{l} {r}")).collect();
            std::fs::write(case.join("expect"), lines.join("\n") + "\n").unwrap();
            if fixed.text != text {
                std::fs::write(case.join("fixed"), &fixed.text).unwrap();
            }
            for (path, content) in &fixed.other_files {
                std::fs::write(case.join(format!("fixed{path}")), content).unwrap();
            }
            continue;
        }
        if got != expected(case) {
            failures.push(format!("{name}: expected {:?}\n   got {:?}", expected(case), got));
        }
        match std::fs::read_to_string(case.join("fixed")) {
            Ok(want) if want != fixed.text => {
                failures.push(format!(
                    "{name}: fixed text differs:\n{}",
                    gantry_insight::lint::unified_diff(&want, &fixed.text, "want", "got")
                ));
            }
            Err(_) if fixed.text != text => {
                failures.push(format!("{name}: fixes changed the file but there is no `fixed`"))
            }
            _ => {}
        }
        for (path, content) in &fixed.other_files {
            let want = std::fs::read_to_string(case.join(format!("fixed{path}"))).unwrap_or_default();
            if &want != content {
                failures.push(format!("{name}: fixed {path} differs"));
            }
        }
        // After fixing, nothing fixable may be left, and the fixed file parses cleanly.
        let mut after_context = context.clone();
        if let Some((_, ignore)) = fixed.other_files.iter().find(|(p, _)| p == ".dockerignore") {
            after_context.dockerignore = Dockerignore::Present(ignore.clone());
        }
        let left: Vec<String> = lint(&fixed.text, &after_context)
            .into_iter()
            .filter(|f| f.fix.is_some())
            .map(|f| format!("{} {}", f.line, f.rule))
            .collect();
        if !left.is_empty() {
            failures.push(format!("{name}: fixable findings left after fix_all: {left:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!("lint corpus: {} Dockerfiles, {findings_total} findings as expected", cases.len());
}

#[test]
fn russian_messages_for_every_finding() {
    for case in corpus() {
        let text = std::fs::read_to_string(case.join("Dockerfile")).unwrap();
        let mut context = context_for(&case);
        let english = lint(&text, &context);
        context.lang = gantry_insight::Lang::Ru;
        let russian = lint(&text, &context);
        assert_eq!(english.len(), russian.len());
        for (en, ru) in english.iter().zip(&russian) {
            assert_eq!((en.line, &en.rule), (ru.line, &ru.rule));
            assert!(ru.message.chars().any(|c| c.is_alphabetic() && !c.is_ascii()), "{}: {}", en.rule, ru.message);
            assert_ne!(en.why, ru.why);
        }
    }
}

//! `gantry lint` as a user runs it: advice and exit status, `--fix --dry-run` shows a diff and
//! writes nothing, `--fix` rewrites the Dockerfile and creates the .dockerignore, `--json`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

const TUTORIAL: &str = "FROM python:3.12\nRUN apt-get update\nRUN apt-get install -y curl\nCOPY . /app\nWORKDIR /app\nRUN pip install -r requirements.txt\nCMD python app.py\n";

fn gantry(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(args)
        .current_dir(dir)
        .env("GANTRY_LANG", "en")
        .output()
        .expect("run gantry")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn lint_reports_previews_and_fixes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), TUTORIAL).unwrap();
    std::fs::write(dir.path().join("requirements.txt"), "flask==3.0.0\n").unwrap();

    let report = gantry(dir.path(), &["lint"]);
    assert_eq!(report.status.code(), Some(1), "{}", text(&report));
    let out = text(&report);
    for rule in ["AptUpdateInSeparateRun", "DL3008", "DL3059", "MissingDockerignore", "CopyDependenciesFirst", "DL3025"]
    {
        assert!(out.contains(rule), "{rule} missing from:\n{out}");
    }
    assert!(out.contains("Dockerfile:2"), "{out}");

    let preview = gantry(dir.path(), &["lint", "--fix", "--dry-run"]);
    assert!(preview.status.success(), "{}", text(&preview));
    let diff = String::from_utf8_lossy(&preview.stdout).to_string();
    assert!(diff.contains("+RUN apt-get update && \\"), "{diff}");
    assert!(diff.contains("--- /dev/null\n+++ b/.dockerignore"), "{diff}");
    assert_eq!(std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap(), TUTORIAL, "dry run wrote the file");
    assert!(!dir.path().join(".dockerignore").exists());

    let fixed = gantry(dir.path(), &["lint", "--fix"]);
    let after = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert!(after.contains("CMD [\"python\", \"app.py\"]"), "{after}");
    assert!(
        after.contains("COPY requirements.txt /app/\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . /app"),
        "{after}"
    );
    assert!(std::fs::read_to_string(dir.path().join(".dockerignore")).unwrap().contains(".git"));
    // DL3008 (unpinned curl) cannot be fixed without knowing a version: still a warning.
    assert_eq!(fixed.status.code(), Some(1), "{}", text(&fixed));
    assert!(text(&fixed).contains("DL3008"));

    let by_folder = gantry(dir.path().parent().unwrap(), &["lint", dir.path().to_str().unwrap()]);
    assert!(text(&by_folder).contains("DL3008"), "a folder means its Dockerfile: {}", text(&by_folder));

    let json = gantry(dir.path(), &["lint", "--json", "--ignore", "DL3008"]);
    let findings: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON findings");
    assert!(findings.as_array().unwrap().iter().all(|f| f["rule"] != "DL3008"), "{findings}");
    assert!(json.status.success(), "only info advice left: {}", text(&json));
}

#[test]
fn lint_refuses_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = gantry(dir.path(), &["lint", "nope/Dockerfile"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing).contains("cannot read nope/Dockerfile"), "{}", text(&missing));
    std::fs::write(dir.path().join("Dockerfile"), [0xff, 0xfe, 0x00]).unwrap();
    let binary = gantry(dir.path(), &["lint"]);
    assert!(text(&binary).contains("not UTF-8"), "{}", text(&binary));
    let lang = gantry(dir.path(), &["lint", "--lang", "fr"]);
    assert!(text(&lang).contains("--lang en or --lang ru"), "{}", text(&lang));
    gantry_testkit::reliability::bad_inputs("gantry lint", 3);
}

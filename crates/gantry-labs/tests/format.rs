//! The lab format: the starter labs load; every kind of mistake is a specific problem with its file
//! and line; a newer format is refused with its own error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use gantry_labs::{CheckSpec, FORMAT, LabError, Lang, Library, load_lab};

fn repo_labs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs")
}

/// A lab folder in a temporary directory with this manifest and English (and Russian) step files.
fn lab_dir(manifest: &str, steps: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.toml"), manifest).unwrap();
    std::fs::create_dir(dir.path().join("steps")).unwrap();
    for step in steps {
        std::fs::write(dir.path().join(format!("steps/{step}.en.md")), format!("# Step {step}\n\nDo it.\n")).unwrap();
        std::fs::write(dir.path().join(format!("steps/{step}.ru.md")), format!("# Шаг {step}\n\nСделайте.\n")).unwrap();
    }
    dir
}

const GOOD: &str = r#"format = 1
id = "tiny"
level = "beginner"
duration_minutes = 5
images = ["busybox:1.36"]

[ports]
web = 8080

[title]
en = "Tiny"
ru = "Крошка"

[summary]
en = "A tiny lab."
ru = "Крошечная лабораторная."

[[steps]]
id = "run"

  [[steps.checks]]
  kind = "container_running"
  container = "web"

  [[steps.solution]]
  run = ["docker", "run", "-d", "--name", "web", "-p", "{{lab.port.web}}:80", "busybox:1.36"]
"#;

fn problems(manifest: &str) -> Vec<String> {
    let dir = lab_dir(manifest, &["run"]);
    match load_lab(dir.path()) {
        Err(LabError::Invalid { problems, .. }) => {
            problems.iter().map(|p| format!("{}: {}", p.line, p.message)).collect()
        }
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn the_starter_labs_load() {
    let library = Library::load(&[repo_labs()]);
    let broken: Vec<String> = library.broken().iter().map(|(dir, e)| format!("{}: {e}", dir.display())).collect();
    assert!(broken.is_empty(), "{broken:#?}");
    let first = library.get("first-container").unwrap();
    assert_eq!(first.format, FORMAT);
    assert_eq!(first.steps.len(), 5);
    assert_eq!(first.steps[0].text(Lang::Ru).title, "Привет из контейнера");
    assert!(matches!(first.steps[1].checks[2].spec, CheckSpec::Http(_)));
    assert_eq!(first.ports.get("web"), Some(&8080));
}

#[test]
fn a_good_manifest_loads() {
    let dir = lab_dir(GOOD, &["run"]);
    let lab = load_lab(dir.path()).unwrap();
    assert_eq!(lab.id, "tiny");
    assert_eq!(lab.steps[0].checks[0].line, 21);
    assert!(lab.missing_translations().is_empty());
}

#[test]
fn an_unknown_check_kind_names_its_line() {
    let bad = GOOD.replace("kind = \"container_running\"", "kind = \"container_flying\"");
    assert_eq!(
        problems(&bad),
        vec!["22: unknown check kind \"container_flying\"; the kinds are listed in docs/labs.md"]
    );
}

#[test]
fn a_misspelt_field_names_its_line() {
    let bad = GOOD.replace("  container = \"web\"", "  contaner = \"web\"");
    let found = problems(&bad);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("23: container_running check: unknown field `contaner`"), "{found:?}");
}

#[test]
fn an_unknown_top_level_field_names_its_line() {
    let bad = GOOD.replace("duration_minutes = 5", "duration_minutes = 5\nauthor = \"me\"");
    let found = problems(&bad);
    assert!(found[0].starts_with("5: unknown field `author`"), "{found:?}");
}

#[test]
fn a_wrong_type_names_its_line() {
    let bad = GOOD.replace("duration_minutes = 5", "duration_minutes = \"five\"");
    let found = problems(&bad);
    assert!(found[0].starts_with("4: "), "{found:?}");
    assert!(found[0].contains("invalid type"), "{found:?}");
}

#[test]
fn placeholders_must_be_known_and_ports_declared() {
    let bad = GOOD.replace("{{lab.port.web}}:80", "{{lab.port.db}}:80");
    let found = problems(&bad);
    assert!(
        found.iter().any(|p| p.contains("`{{lab.port.db}}` names a port that [ports] does not declare")),
        "{found:?}"
    );
    let bad = GOOD.replace("{{lab.port.web}}:80", "{{lab.home}}:80");
    assert!(problems(&bad).iter().any(|p| p.contains("unknown placeholder `{{lab.home}}`")));
}

#[test]
fn solutions_run_the_docker_cli_only() {
    let bad = GOOD.replace("run = [\"docker\", \"run\"", "run = [\"sh\", \"-c\"");
    assert!(problems(&bad).iter().any(|p| p.contains("run = [\"docker\", ...]")));
}

#[test]
fn a_step_without_checks_or_english_text_is_refused() {
    let no_checks = GOOD.replace("  [[steps.checks]]\n  kind = \"container_running\"\n  container = \"web\"\n", "");
    assert!(problems(&no_checks).iter().any(|p| p.contains("has no [[steps.checks]]")));
    let dir = lab_dir(GOOD, &[]);
    let Err(LabError::Invalid { problems, .. }) = load_lab(dir.path()) else { panic!("expected problems") };
    assert!(problems[0].message.contains("has no English text"), "{problems:?}");
}

#[test]
fn a_step_file_must_start_with_its_title() {
    let dir = lab_dir(GOOD, &["run"]);
    std::fs::write(dir.path().join("steps/run.ru.md"), "\nНет заголовка\n").unwrap();
    let Err(LabError::Invalid { problems, .. }) = load_lab(dir.path()) else { panic!("expected problems") };
    assert_eq!(problems.len(), 1);
    assert!(problems[0].file.ends_with("steps/run.ru.md"));
    assert_eq!(problems[0].line, 2);
}

#[test]
fn a_newer_format_is_its_own_error() {
    let newer = GOOD.replace("format = 1", &format!("format = {}", FORMAT + 1));
    let dir = lab_dir(&newer, &["run"]);
    let err = load_lab(dir.path()).unwrap_err();
    assert!(
        matches!(err, LabError::NewerFormat { found, supported, .. } if found == FORMAT + 1 && supported == FORMAT)
    );
    assert!(err.hint().contains("Update Gantry"));
    let missing = GOOD.replace("format = 1\n", "");
    assert!(problems(&missing)[0].contains("must start with `format = 1`"));
}

#[test]
fn a_missing_translation_is_listed() {
    let dir = lab_dir(GOOD, &["run"]);
    std::fs::remove_file(dir.path().join("steps/run.ru.md")).unwrap();
    let lab = load_lab(dir.path()).unwrap();
    assert_eq!(lab.missing_translations(), vec![("steps/run.ru.md".to_string(), Lang::Ru)]);
    assert_eq!(lab.steps[0].text(Lang::Ru).title, "Step run");
}

#[test]
fn an_unknown_lint_rule_is_named() {
    let bad = GOOD.replace(
        "  kind = \"container_running\"\n  container = \"web\"",
        "  kind = \"dockerfile_lint\"\n  rules = [\"DL3008\", \"DL9999\"]",
    );
    let found = problems(&bad);
    assert_eq!(
        found,
        vec!["21: dockerfile_lint check: unknown lint rule \"DL9999\"; the rules are listed in docs/labs.md"]
    );
}

//! Property tests of the lab parsers: the manifest (lab.toml), step Markdown, placeholders and the
//! lint's shell-word splitter never panic on any input; well-formed labs load back to what was
//! written. Each target is recorded through `gantry_testkit::prop::check` (failing inputs are kept
//! in `fuzz.proptest-regressions`). More cases: `PROPTEST_CASES=20000 cargo test -p gantry-labs --test fuzz`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use gantry_labs::{LabError, Lang, load_lab};

/// Runs `test` on inputs from `strategy` and records the target (gantry-testkit's `prop::check`).
fn fuzz<S: Strategy>(target: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    gantry_testkit::prop::check(target, file!(), 0, strategy, test);
}

/// A manifest-like text: TOML fragments, lab keywords and noise, in any order.
fn manifest_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("format = 1\n".to_string()),
        Just("format = 99\n".to_string()),
        Just("id = \"x\"\n".to_string()),
        Just("level = \"beginner\"\n".to_string()),
        Just("duration_minutes = 5\n".to_string()),
        Just("[title]\nen = \"T\"\n".to_string()),
        Just("[summary]\nen = \"S\"\n".to_string()),
        Just("[ports]\nweb = 8080\n".to_string()),
        Just("[[steps]]\nid = \"s\"\n".to_string()),
        Just("[[steps.checks]]\nkind = \"container_running\"\ncontainer = \"web\"\n".to_string()),
        Just("[[steps.checks]]\nkind = \"http\"\nport = \"{{lab.port.web}}\"\n".to_string()),
        Just("[[steps.solution]]\nrun = [\"docker\", \"ps\"]\n".to_string()),
        Just("[[steps.hints]]\nen = \"{{lab.dir}}\"\n".to_string()),
        "[a-z_]{1,12} = [0-9\"a-z{}. ]{0,12}\n",
        "\\PC{0,40}",
    ];
    proptest::collection::vec(pieces, 0..14).prop_map(|v| v.concat())
}

#[test]
fn manifests_never_panic_and_errors_have_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("steps")).unwrap();
    std::fs::write(dir.path().join("steps/s.en.md"), "# S\n\nText.\n").unwrap();
    fuzz("gantry-labs: lab.toml manifest", manifest_text(), |text| {
        std::fs::write(dir.path().join("lab.toml"), &text).unwrap();
        match load_lab(dir.path()) {
            Ok(lab) => prop_assert!(!lab.steps.is_empty()),
            Err(LabError::Invalid { problems, .. }) => {
                prop_assert!(!problems.is_empty());
                let lines = text.lines().count().max(1);
                for p in problems {
                    prop_assert!(p.line <= lines + 1, "line {} of {} in {:?}", p.line, lines, p);
                }
            }
            Err(LabError::NewerFormat { found, .. }) => prop_assert!(found > gantry_labs::FORMAT),
            Err(e) => prop_assert!(false, "unexpected error kind: {e}"),
        }
        Ok(())
    });
}

fn word() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,10}"
}

/// A well-formed lab: any ids, titles (with quotes and Unicode), ports, checks and hints.
fn well_formed() -> impl Strategy<Value = (String, String, String, Vec<(String, String)>, u16)> {
    (
        word(),
        "[A-Za-zА-Яа-я][^\"\\\\\\p{Cc}]{0,29}",
        "[A-Za-zА-Яа-я][^\"\\\\\\p{Cc}]{0,29}",
        proptest::collection::btree_map(word(), "[^\\p{Cc}]{1,40}", 1..5).prop_map(|m| m.into_iter().collect()),
        1u16..,
    )
}

#[test]
fn well_formed_labs_load_back_as_written() {
    fuzz("gantry-labs: well-formed lab round trip", well_formed(), |(id, title_en, title_ru, steps, port)| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("steps")).unwrap();
        let mut manifest = format!(
            "format = 1\nid = \"{id}\"\nlevel = \"advanced\"\nduration_minutes = 30\n[ports]\nweb = {port}\n\
             [title]\nen = \"{title_en}\"\nru = \"{title_ru}\"\n[summary]\nen = \"s\"\n"
        );
        for (step, body) in &steps {
            manifest.push_str(&format!(
                "[[steps]]\nid = \"{step}\"\n[[steps.checks]]\nkind = \"http\"\nport = \"web\"\n\
                 [[steps.solution]]\nrun = [\"docker\", \"run\", \"-p\", \"{{{{lab.port.web}}}}:80\", \"x\"]\n"
            ));
            std::fs::write(dir.path().join(format!("steps/{step}.en.md")), format!("# {step}\n\n{body}\n")).unwrap();
        }
        std::fs::write(dir.path().join("lab.toml"), &manifest).unwrap();
        let lab = load_lab(dir.path()).map_err(|e| TestCaseError::fail(format!("{e}\n{manifest}")))?;
        prop_assert_eq!(&lab.id, &id);
        prop_assert_eq!(lab.title.get(Lang::En), title_en.as_str());
        prop_assert_eq!(lab.title.get(Lang::Ru), title_ru.as_str());
        prop_assert_eq!(lab.ports.get("web"), Some(&port));
        prop_assert_eq!(lab.steps.len(), steps.len());
        for (loaded, (step, body)) in lab.steps.iter().zip(&steps) {
            prop_assert_eq!(&loaded.id, step);
            prop_assert_eq!(loaded.text(Lang::En).body.as_str(), body.trim_start_matches(['\r', '\n']).trim_end());
        }
        Ok(())
    });
}

#[test]
fn step_markdown_never_panics_and_round_trips() {
    fuzz("gantry-labs: step Markdown", ("\\PC{0,200}", "[^\\p{Cc}#]{1,30}", "\\PC{0,100}"), |(any, title, body)| {
        let _ = gantry_labs::step::parse_step_markdown(&any);
        let _ = gantry_labs::step::code_lines(&any);
        let text = format!("# {title}\n\n{body}");
        if !title.trim().is_empty() {
            let (t, b, _) = gantry_labs::step::parse_step_markdown(&text).map_err(|e| TestCaseError::fail(e.1))?;
            prop_assert_eq!(t, title.trim());
            prop_assert_eq!(b, body.trim_start_matches(['\r', '\n']).trim_end());
        }
        Ok(())
    });
}

#[test]
fn placeholders_never_panic_and_leave_other_text_alone() {
    let values = gantry_labs::placeholders::Values { dir: "/w".into(), ports: [("web".to_string(), 1234)].into() };
    fuzz("gantry-labs: placeholders", "(\\PC|\\{\\{lab\\.|\\}\\}|port\\.web|dir){0,30}", |text| {
        let _ = gantry_labs::placeholders::scan(&text);
        let filled = gantry_labs::placeholders::substitute(&text, &values);
        if !text.contains("{{lab.") {
            prop_assert_eq!(filled, text);
        }
        Ok(())
    });
}

#[test]
fn shell_words_never_panic() {
    fuzz("gantry-labs: lint shell words", "\\PC{0,80}", |text| {
        let words = gantry_labs::lint::shell_words(&text);
        prop_assert!(words.len() <= text.len());
        Ok(())
    });
}

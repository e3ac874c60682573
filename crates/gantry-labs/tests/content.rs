//! The labs Gantry ships (`labs/`): each loads, has every text in every language, and passes
//! `gantry lab lint` without a finding. (`gantry lab test labs/` runs them against the engine in
//! ./scripts/test.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use gantry_labs::{Lang, Library};

fn repo_labs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs")
}

#[test]
fn every_shipped_lab_loads() {
    let library = Library::load(&[repo_labs()]);
    let broken: Vec<String> = library.broken().iter().map(|(dir, e)| format!("{}: {e}", dir.display())).collect();
    assert!(broken.is_empty(), "{broken:#?}");
    assert!(library.labs().len() >= 3, "the starter labs are in labs/");
    for lab in library.labs() {
        let folder = lab.dir.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(lab.id, folder, "a lab's id is its folder's name");
    }
}

#[test]
fn no_lab_misses_a_language() {
    let library = Library::load(&[repo_labs()]);
    let missing: Vec<String> = library
        .labs()
        .iter()
        .flat_map(|lab| {
            lab.missing_translations().into_iter().map(move |(place, lang)| format!("{}: {place} ({lang})", lab.id))
        })
        .collect();
    assert!(missing.is_empty(), "texts missing a language: {missing:#?}");
    // The Russian texts are Russian, not copies of the English ones.
    for lab in library.labs() {
        assert_ne!(lab.title.get(Lang::En), lab.title.get(Lang::Ru), "{}", lab.id);
        for step in &lab.steps {
            let (en, ru) = (step.text(Lang::En), step.text(Lang::Ru));
            assert_ne!(en.title, ru.title, "{} {}", lab.id, step.id);
            assert!(
                ru.body.chars().any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c))),
                "{} {}",
                lab.id,
                step.id
            );
            for hint in &step.hints {
                assert_ne!(hint.get(Lang::En), hint.get(Lang::Ru), "{} {}", lab.id, step.id);
            }
        }
    }
}

#[test]
fn every_shipped_lab_passes_lint_without_a_finding() {
    let library = Library::load(&[repo_labs()]);
    let findings: Vec<String> =
        library.labs().iter().flat_map(|lab| gantry_labs::lint::lint(&lab.dir)).map(|f| f.to_string()).collect();
    assert!(findings.is_empty(), "{findings:#?}");
}

/// Labs are tested side by side on one engine: the objects one lab makes (what its checks and
/// solutions name, except the images it declares) must not be another lab's.
#[test]
fn labs_name_different_objects() {
    let library = Library::load(&[repo_labs()]);
    let mut owner: std::collections::BTreeMap<String, String> = Default::default();
    let mut clashes = Vec::new();
    for lab in library.labs() {
        let values = gantry_labs::view::values(lab, None, Path::new("/work"));
        for name in gantry_labs::reset::lab_object_names(lab, &values) {
            if lab.images.contains(&name) {
                continue;
            }
            if let Some(other) = owner.insert(name.clone(), lab.id.clone()) {
                clashes.push(format!("{name:?} is made by {other} and {}", lab.id));
            }
        }
    }
    assert!(clashes.is_empty(), "{clashes:#?}");
}

#[test]
fn the_catalogue_follows_the_curriculum_and_names_every_lab_once() {
    let order = gantry_labs::library::catalogue_order(&repo_labs()).unwrap();
    let library = Library::load(&[repo_labs()]);
    let ids: Vec<&str> = library.labs().iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, order.iter().map(String::as_str).collect::<Vec<_>>(), "labs/catalogue.toml names every lab, once");
    assert_eq!(ids.first(), Some(&"first-container"));
}

#[test]
fn a_bad_catalogue_file_is_an_error_with_its_line_and_the_labs_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("first-container");
    copy_dir(&repo_labs().join("first-container"), &lab);
    std::fs::write(dir.path().join("catalogue.toml"), "# order\norder = [\"first-container\"]\nsort = 1\n").unwrap();
    let library = Library::load(&[dir.path().to_path_buf()]);
    assert_eq!(library.labs().len(), 1);
    let problems: Vec<String> = library.broken().iter().map(|(_, e)| e.to_string()).collect();
    assert!(problems.len() == 1 && problems[0].contains("catalogue.toml:3"), "{problems:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

//! Where `gantry lab` finds labs, as a participant meets it: a lab that only a workshop bundle
//! brings is listed and shown once the bundle is imported (`gantry workshop import`), from the
//! imported copy, with nothing else set (no `GANTRY_LABS_DIR`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

/// `gantry` with its data and imported workshops in `home`, and no extra lab folders.
fn gantry(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gantry"));
    cmd.env("GANTRY_LANG", "en")
        .env("GANTRY_HOME", home.join("gantry"))
        .env("GANTRY_WORKSHOPS_DIR", home.join("workshops"))
        .env_remove("GANTRY_LABS_DIR");
    cmd
}

fn ok(output: Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{text}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn listed(home: &Path) -> Vec<String> {
    let out = ok(gantry(home).args(["--json", "lab", "list"]).output().unwrap());
    let labs: serde_json::Value = serde_json::from_str(&out).unwrap();
    labs.as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap().to_string()).collect()
}

/// Copies a shipped lab under another id: a lab only the bundle has.
fn trainer_lab(dir: &Path) -> std::path::PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs/first-container");
    let lab = dir.join("trainer-lab");
    std::fs::create_dir_all(lab.join("steps")).unwrap();
    let manifest = std::fs::read_to_string(shipped.join("lab.toml")).unwrap();
    assert!(manifest.contains("id = \"first-container\""));
    std::fs::write(lab.join("lab.toml"), manifest.replace("id = \"first-container\"", "id = \"trainer-lab\"")).unwrap();
    for step in std::fs::read_dir(shipped.join("steps")).unwrap() {
        let step = step.unwrap();
        std::fs::copy(step.path(), lab.join("steps").join(step.file_name())).unwrap();
    }
    lab
}

#[test]
fn an_imported_workshops_labs_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let bundle = dir.path().join("t.gantry-workshop");
    ok(gantry(&home)
        .args(["workshop", "pack", "--title", "Trainer's labs", "--lab"])
        .arg(trainer_lab(dir.path()))
        .arg("-o")
        .arg(&bundle)
        .output()
        .unwrap());
    let before = listed(&home);
    assert!(before.contains(&"first-container".to_string()), "the shipped labs: {before:?}");
    assert!(!before.contains(&"trainer-lab".to_string()), "not imported yet: {before:?}");

    ok(gantry(&home).args(["workshop", "import"]).arg(&bundle).output().unwrap());
    let after = listed(&home);
    assert_eq!(after.first().map(String::as_str), Some("trainer-lab"), "imported labs come first: {after:?}");
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
    // Shown from the imported copy (the pack's source folder is gone).
    std::fs::remove_dir_all(dir.path().join("trainer-lab")).unwrap();
    let shown = ok(gantry(&home).args(["lab", "show", "trainer-lab"]).output().unwrap());
    assert!(shown.contains("Your first container"), "{shown}");
}

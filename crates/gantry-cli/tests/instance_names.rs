//! `--instance` cannot point outside Gantry's instance root, and `gantry delete` removes only a
//! directory that Gantry made (it carries the marker file). Tried in a throw-away home full of
//! files that must survive.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn gantry(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(args)
        .env("HOME", home)
        .env("GANTRY_HOME", home.join(".local/share/gantry"))
        .env_remove("XDG_DATA_HOME")
        .env_remove("DOCKER_HOST")
        .output()
        .expect("run gantry")
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

#[test]
fn bad_instance_names_are_refused_and_nothing_outside_is_deleted() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("home");
    for f in ["notes.txt", "projects/app/main.rs", ".ssh/id_ed25519", ".local/share/other/keep"] {
        let p = home.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "must survive").unwrap();
    }
    std::fs::create_dir_all(home.join(".local/share/gantry")).unwrap();
    let before = files(&home);
    let abs = home.display().to_string();
    let bad = ["..", "/", "", "a/b", "~", &abs, ".", "../..", "-rf", "x y"];
    for name in bad {
        for data in [false, true] {
            let flag = format!("--instance={name}");
            let mut args = vec!["delete", flag.as_str()];
            if data {
                args.push("--data");
            }
            let out = gantry(&home, &args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{name:?} was accepted");
            assert!(err.contains("not a valid instance name"), "{name:?}: {err}");
        }
    }
    assert_eq!(files(&home), before, "a file outside the instance root was touched");
    gantry_testkit::reliability::bad_inputs("gantry --instance NAME", bad.len() as u64 * 2);
}

#[test]
fn delete_removes_only_a_directory_with_gantrys_marker() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("home");
    let root = home.join(".local/share/gantry");
    // a folder under the root that Gantry did not make
    std::fs::create_dir_all(root.join("dev/mine")).unwrap();
    std::fs::write(root.join("dev/mine/data"), "must survive").unwrap();
    let out = gantry(&home, &["delete", "--data", "--instance", "dev"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("marker"), "{err}");
    assert_eq!(std::fs::read_to_string(root.join("dev/mine/data")).unwrap(), "must survive");
    // an instance Gantry made (marker present) is deleted
    std::fs::create_dir_all(root.join("made")).unwrap();
    std::fs::write(root.join("made/.gantry-instance"), "").unwrap();
    std::fs::write(root.join("made/disk.qcow2"), "disk").unwrap();
    let out = gantry(&home, &["delete", "--data", "--instance", "made"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!root.join("made").exists());
    assert!(root.join("dev/mine/data").exists());
}

//! A participant's Gantry carrying out the trainer's commands against the real engine at
//! `DOCKER_HOST`: the reset removes what the lab made (gantry-labs' lab-scoped reset) and nothing
//! else, a move to a step is saved in the lab's progress, and a lab that is not installed or not
//! started here is skipped with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use gantry_engine::Engine;
use gantry_labs::{Library, PortChoice, ProgressStore};
use gantry_testkit::images::{FIXTURE, docker};
use gantry_workshop::follow::{Applied, apply};
use gantry_workshop::room::state::RoomCommand;

const TEST: &str = "follow::the_trainers_reset_removes_only_what_the_lab_made_and_moves_to_a_step";

/// Removes the named containers when dropped (even when the test panics).
struct Containers(Vec<String>);

impl Drop for Containers {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = docker(&["rm", "-f", name]);
        }
    }
}

/// A lab whose two steps check that container `name` runs.
fn lab(root: &Path, id: &str, name: &str) {
    let dir = root.join(id);
    std::fs::create_dir_all(dir.join("steps")).unwrap();
    let mut toml = format!(
        r#"format = 1
id = "{id}"
level = "beginner"
duration_minutes = 5
images = ["{FIXTURE}"]
[title]
en = "Follow"
[summary]
en = "Follow the trainer"
"#
    );
    for step in ["run", "again"] {
        toml.push_str(&format!(
            r#"[[steps]]
id = "{step}"
  [[steps.checks]]
  kind = "container_running"
  container = "{name}"
  [[steps.solution]]
  run = ["docker", "run", "-d", "--name", "{name}", "{FIXTURE}", "sleep", "300"]
"#
        ));
        std::fs::write(dir.join(format!("steps/{step}.en.md")), format!("# Run {name}\n")).unwrap();
    }
    std::fs::write(dir.join("lab.toml"), toml).unwrap();
}

#[tokio::test]
async fn the_trainers_reset_removes_only_what_the_lab_made_and_moves_to_a_step() {
    if !gantry_testkit::engine::destructive_or_skip(TEST) {
        return;
    }
    let engine = Engine::from_env().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let labs = dir.path().join("labs");
    let id = "follow-lab";
    let made = format!("gw-follow-made-{}", std::process::id());
    let mine = format!("gw-follow-mine-{}", std::process::id());
    let _containers = Containers(vec![made.clone(), mine.clone()]);
    lab(&labs, id, &made);
    let library = Library::load(std::slice::from_ref(&labs));
    assert!(library.broken().is_empty(), "{:?}", library.broken());
    let store = ProgressStore::new(dir.path().join("progress"));
    let reset = RoomCommand::ResetLab { lab: id.into() };

    // Not started here: nothing is done, and the reason says how to start it.
    match apply(&engine, &library, &store, &reset).await.unwrap() {
        Applied::Skipped { reason, .. } => assert!(reason.contains("gantry lab start"), "{reason}"),
        other => panic!("expected a skip, got {other:?}"),
    }

    let lab = library.get(id).unwrap();
    gantry_labs::session::start(&engine, lab, Some(&store), &dir.path().join("work"), PortChoice::Usual).await.unwrap();
    docker(&["run", "-d", "--name", &made, FIXTURE, "sleep", "300"]).unwrap();
    docker(&["create", "--name", &mine, FIXTURE, "true"]).unwrap();

    let go = RoomCommand::GoToStep { lab: id.into(), step: "again".into() };
    assert_eq!(
        apply(&engine, &library, &store, &go).await.unwrap(),
        Applied::MovedTo { lab: id.into(), step: "again".into(), index: 1 }
    );
    assert_eq!(store.load(id).unwrap().unwrap().current_step, 1);
    let nowhere = RoomCommand::GoToStep { lab: id.into(), step: "fly".into() };
    assert!(matches!(apply(&engine, &library, &store, &nowhere).await.unwrap(), Applied::Skipped { .. }));
    assert_eq!(store.load(id).unwrap().unwrap().current_step, 1, "an unknown step changes nothing");

    match apply(&engine, &library, &store, &reset).await.unwrap() {
        Applied::Reset { removed, failed, .. } => {
            assert!(failed.is_empty(), "{failed:?}");
            assert!(removed.iter().any(|r| r.contains(&made)), "{removed:?}");
            assert!(!removed.iter().any(|r| r.contains(&mine)), "{removed:?}");
        }
        other => panic!("expected a reset, got {other:?}"),
    }
    assert!(docker(&["inspect", &made]).is_err(), "the lab's container is gone");
    assert!(docker(&["inspect", &mine]).is_ok(), "the learner's own container stays");
    assert_eq!(store.load(id).unwrap().unwrap().current_step, 0, "the lab starts again at step 1");

    let elsewhere = RoomCommand::ResetLab { lab: "not-here".into() };
    match apply(&engine, &library, &store, &elsewhere).await.unwrap() {
        Applied::Skipped { reason, .. } => assert!(reason.contains("not installed"), "{reason}"),
        other => panic!("expected a skip, got {other:?}"),
    }
}

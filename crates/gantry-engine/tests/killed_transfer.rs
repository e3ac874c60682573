//! kill -9 of a volume export and of a volume import in progress, against the real engine at
//! `DOCKER_HOST`. The transfer runs in a child process (this test binary, re-run with
//! `GANTRY_KILL_ROLE`), which is killed with SIGKILL in the middle. Afterwards: no file at the
//! export's path (only a hidden `.NAME.partial`, which the next export replaces), the engine
//! answers, the helper container left behind is removed by `remove_stale_volume_helpers`, and
//! the same transfer then succeeds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use gantry_engine::volume_files::{self, HELPER_LABEL};
use gantry_engine::{ContainerFilter, Engine, RemoveOptions, RunSpec};
use gantry_testkit::{reliability, wait};

const ROLE: &str = "GANTRY_KILL_ROLE";
/// The helper mark the child uses (the parent's, as one install's runs share it).
const MARK: &str = "GANTRY_KILL_HELPER_MARK";
const MIB: u64 = 1024 * 1024;

/// The child's side: runs one transfer (never returns normally when killed).
async fn child(role: &str) {
    // The parent's mark, as a later run of Gantry reads it from its folder.
    volume_files::set_helper_mark(&std::env::var(MARK).unwrap());
    let engine = Engine::from_env().await.unwrap();
    let volume = std::env::var("GANTRY_KILL_VOLUME").unwrap();
    let path = PathBuf::from(std::env::var("GANTRY_KILL_PATH").unwrap());
    match role {
        "export" => drop(engine.export_volume(&volume, &path, gantry_engine::Existing::Keep).await),
        "import" => drop(engine.import_volume(&volume, &path).await),
        other => panic!("unknown role {other}"),
    }
}

fn spawn_child(role: &str, volume: &str, path: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "killed_transfers", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(MARK, volume_files::helper_mark())
        .env("GANTRY_KILL_VOLUME", volume)
        .env("GANTRY_KILL_PATH", path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn helpers(engine: &Engine) -> usize {
    let all = engine.list_containers(&ContainerFilter { all: true, ..Default::default() }).await.unwrap();
    all.iter().filter(|c| volume_files::is_helper(&c.labels)).count()
}

fn kill9(child: &mut std::process::Child) {
    // SIGKILL: no destructor, no cleanup code runs in the child.
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_transfers() {
    if let Ok(role) = std::env::var(ROLE) {
        return child(&role).await;
    }
    if std::env::var_os("DOCKER_HOST").is_none() {
        gantry_testkit::skip::skipped("killed_transfers", "DOCKER_HOST is not set (run through ./scripts/test)");
        return;
    }
    // Removing stale helpers removes what earlier runs left: only on the private engine.
    if !gantry_testkit::engine::destructive_or_skip("killed_transfers") {
        return;
    }
    let engine = Engine::from_env().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let volume = format!("gantry-test-killed-{}", std::process::id());
    engine.create_volume(&volume, &[]).await.unwrap();
    // A volume with one 256 MiB file, filled through an import.
    let archive = dir.path().join("fill.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&archive).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(256 * MIB);
        b.append_data(&mut h, "big.bin", std::io::Read::take(std::io::repeat(b'k'), 256 * MIB)).unwrap();
        b.finish().unwrap();
    }
    engine.import_volume(&volume, &archive).await.unwrap();

    // --- export, killed half-way ---
    let out = dir.path().join("backup.tar");
    let partial = gantry_engine::partial_path(&out);
    let mut exporter = spawn_child("export", &volume, &out);
    wait::until("the export to be under way", Duration::from_secs(120), || {
        std::fs::metadata(&partial).is_ok_and(|m| m.len() > 4 * MIB)
    })
    .unwrap();
    kill9(&mut exporter);
    assert!(!out.exists(), "a killed export must not leave a file under the final name");
    let left = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    engine.ping().await.unwrap();
    assert!(helpers(&engine).await >= 1, "the killed process left its helper container");
    engine.remove_stale_volume_helpers().await;
    assert_eq!(helpers(&engine).await, 0);
    let size = engine.export_volume(&volume, &out, gantry_engine::Existing::Keep).await.unwrap();
    assert!(size > 256 * MIB && !partial.exists());
    reliability::fault(
        "kill -9 of a volume export in progress",
        "no file under the final name (only a hidden .NAME.partial); the helper container is cleaned up; the next export succeeds",
        &format!("killed with {} MiB written; no final file; next export {} MiB", left / MIB, size / MIB),
    );

    // --- import, killed while the engine receives it ---
    let target = format!("{volume}-target");
    engine.create_volume(&target, &[]).await.unwrap();
    let mut importer = spawn_child("import", &target, &out);
    wait::until("the import to be under way", Duration::from_secs(120), || {
        let engine = engine.clone();
        tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(helpers(&engine))) >= 1
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    kill9(&mut importer);
    engine.ping().await.unwrap();
    engine.remove_stale_volume_helpers().await;
    assert_eq!(helpers(&engine).await, 0);
    engine.import_volume(&target, &out).await.unwrap();
    let listing = engine.list_volume_files(&target).await.unwrap();
    assert_eq!(listing.entries.iter().map(|e| (e.path.as_str(), e.size)).collect::<Vec<_>>(), [("big.bin", 256 * MIB)]);
    reliability::fault(
        "kill -9 of a volume import in progress",
        "the engine answers; the helper container is cleaned up; importing again gives the complete volume",
        "helper removed; re-import complete (big.bin 256 MiB)",
    );
    engine.remove_volume(&target, true).await.unwrap();
    engine.remove_volume(&volume, true).await.unwrap();
}

/// A container anyone labels like Gantry's helpers (an image can carry the label) is not one: it
/// stays visible and alive when stale helpers are removed; a helper with this install's mark goes.
#[tokio::test]
async fn a_container_with_the_helper_label_but_not_the_mark_stays() {
    if std::env::var_os("DOCKER_HOST").is_none() {
        gantry_testkit::skip::skipped(
            "helper_label_without_mark",
            "DOCKER_HOST is not set (run through ./scripts/test)",
        );
        return;
    }
    if !gantry_testkit::engine::destructive_or_skip("helper_label_without_mark") {
        return;
    }
    let engine = Engine::from_env().await.unwrap();
    let name = |what: &str| format!("gantry-test-mark-{what}-{}", std::process::id());
    let mut ordinary = RunSpec::new("gantry-test/busybox:latest");
    ordinary.name = Some(name("ordinary"));
    ordinary.command = vec!["sleep".into(), "300".into()];
    ordinary.labels = vec![(HELPER_LABEL.into(), "volume-files".into())];
    let ordinary = engine.run_container(&ordinary).await.unwrap();
    let mut stale = RunSpec::new("gantry-test/busybox:latest");
    stale.name = Some(name("stale"));
    stale.command = vec!["true".into()];
    stale.labels = vec![(HELPER_LABEL.into(), volume_files::helper_mark())];
    let stale = engine.create_container(&stale).await.unwrap();

    engine.remove_stale_volume_helpers().await;
    let all = engine.list_containers(&ContainerFilter { all: true, ..Default::default() }).await.unwrap();
    let kept = all.iter().find(|c| c.id == ordinary).expect("the ordinary container is still there");
    assert_eq!(kept.state, gantry_engine::ContainerState::Running, "and still running: {kept:?}");
    assert!(!volume_files::is_helper(&kept.labels));
    assert!(all.iter().all(|c| c.id != stale), "the helper with this install's mark is removed");
    engine.remove_container(&ordinary, RemoveOptions { force: true, volumes: false }).await.unwrap();
}

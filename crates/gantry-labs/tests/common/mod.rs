//! Helpers for the labs tests that run against the REAL engine at `DOCKER_HOST` (./scripts/test
//! starts a private one) with the `gantry-test/busybox` fixture image: unique names, the docker
//! CLI for setting objects up the way learners do, a context for evaluating checks.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use gantry_engine::Engine;
use gantry_labs::Context;
use gantry_labs::placeholders::Values;

/// The fixture image (Debian's busybox-static), made by scripts/lib/fixtures.sh.
pub const IMAGE: &str = "gantry-test/busybox:latest";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name no other test (or earlier run) uses: `lt-<what>-<pid>-<n>`.
pub fn unique(what: &str) -> String {
    format!("lt-{what}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

pub async fn engine() -> Engine {
    assert!(
        std::env::var_os("DOCKER_HOST").is_some(),
        "DOCKER_HOST is not set: run the labs tests through ./scripts/test (it starts a private engine)"
    );
    let engine = Engine::from_env().await.expect("connect to the engine at DOCKER_HOST");
    engine.inspect_image(IMAGE).await.expect("the fixture image gantry-test/busybox (scripts/lib/fixtures.sh)");
    engine
}

/// Runs the docker CLI (the engine at DOCKER_HOST); panics with its output when it fails.
pub fn docker(args: &[&str]) -> String {
    docker_in(Path::new("."), args)
}

/// Runs the docker CLI in `dir`.
pub fn docker_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("docker").args(args).current_dir(dir).output().expect("run the docker CLI");
    assert!(
        out.status.success(),
        "docker {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes containers, volumes, networks and images by name, ignoring what is already gone.
pub fn remove(containers: &[&str], volumes: &[&str], networks: &[&str], images: &[&str]) {
    let run = |args: Vec<&str>| {
        let _ = Command::new("docker").args(args).output();
    };
    if !containers.is_empty() {
        run([&["rm", "-f", "-v"][..], containers].concat());
    }
    if !networks.is_empty() {
        run([&["network", "rm"][..], networks].concat());
    }
    if !volumes.is_empty() {
        run([&["volume", "rm", "-f"][..], volumes].concat());
    }
    if !images.is_empty() {
        run([&["rmi", "-f"][..], images].concat());
    }
}

/// A context with these ports and work folder; published ports answer on 127.0.0.1.
pub fn context(work_dir: &Path, ports: &[(&str, u16)]) -> Context {
    let ports: BTreeMap<String, u16> = ports.iter().map(|(n, p)| (n.to_string(), *p)).collect();
    Context {
        values: Values { dir: work_dir.display().to_string(), ports },
        work_dir: work_dir.to_path_buf(),
        http_host: "127.0.0.1".into(),
    }
}

/// A check spec from its TOML text.
pub fn spec(text: &str) -> gantry_labs::CheckSpec {
    use serde::Deserialize;
    let table: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    gantry_labs::CheckSpec::deserialize(toml::Value::Table(table)).unwrap_or_else(|e| panic!("{text}: {e}"))
}

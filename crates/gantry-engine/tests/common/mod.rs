//! Shared helpers for the engine integration tests: they run against the REAL Docker engine at
//! `DOCKER_HOST` (./scripts/test starts a private one), use the local fixture image
//! `gantry-test/busybox:latest` (imported here from /bin/busybox if missing), give every object a
//! unique name, and remove what a test created even when it panics.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use gantry_engine::{
    ContainerDetails, Engine, EngineStream, LogLine, LogOptions, NetworkSpec, RegistryAuth, RemoveOptions, RunSpec,
    VolumeSummary,
};
use tokio::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The fixture image every test runs (busybox-static in an otherwise empty root filesystem).
pub const IMAGE: &str = "gantry-test/busybox:latest";

static FIXTURE: Mutex<bool> = Mutex::const_new(false);
/// Prune tests remove every unused object of a kind: they take this lock exclusively, all other
/// tests share it, so a prune never races with another test's half-made objects.
static PRUNE: RwLock<()> = RwLock::const_new(());
static COUNTER: AtomicU32 = AtomicU32::new(0);

enum Guard {
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
}

/// One test's view: the engine, unique names, and what to remove at the end.
pub struct T {
    pub engine: Engine,
    pub test: String,
    containers: std::sync::Mutex<Vec<String>>,
    volumes: std::sync::Mutex<Vec<String>>,
    networks: std::sync::Mutex<Vec<String>>,
    images: std::sync::Mutex<Vec<String>>,
    _guard: Guard,
}

/// Connects and makes sure the fixture image exists. `test` names the test (used in object names).
pub async fn setup(test: &str) -> T {
    let guard = Guard::Shared(PRUNE.read().await);
    make(test, guard).await
}

/// Like [`setup`], for tests that prune: no other test runs meanwhile. `None` (after saying
/// `SKIPPED`) unless `DOCKER_HOST` is the private engine that ./scripts/test started: a prune
/// must never reach a developer's own objects.
pub async fn setup_exclusive(test: &str) -> Option<T> {
    if !gantry_testkit::engine::destructive_or_skip(test) {
        return None;
    }
    let guard = Guard::Exclusive(PRUNE.write().await);
    Some(make(test, guard).await)
}

async fn make(test: &str, guard: Guard) -> T {
    let engine = connect().await;
    ensure_fixture(&engine).await;
    T {
        engine,
        test: test.replace('_', "-"),
        containers: Default::default(),
        volumes: Default::default(),
        networks: Default::default(),
        images: Default::default(),
        _guard: guard,
    }
}

pub async fn connect() -> Engine {
    assert!(
        std::env::var_os("DOCKER_HOST").is_some(),
        "DOCKER_HOST is not set: run the engine tests through ./scripts/test (it starts a private engine)"
    );
    Engine::from_env().await.expect("connect to the engine at DOCKER_HOST")
}

/// Imports the fixture image from the host's static busybox if the engine does not have it.
pub async fn ensure_fixture(engine: &Engine) {
    let mut done = FIXTURE.lock().await;
    if *done {
        return;
    }
    if engine.inspect_image(IMAGE).await.is_err() {
        let dir = tempfile::tempdir().unwrap();
        let tar_path = dir.path().join("rootfs.tar");
        busybox_rootfs_tar(&tar_path);
        engine
            .import_rootfs(&tar_path, IMAGE, &["CMD [\"/bin/sh\"]".to_string(), "ENV PATH=/bin".to_string()])
            .await
            .expect("import the busybox fixture image");
    }
    *done = true;
}

/// Writes a root-filesystem tar: /bin/busybox (Debian busybox-static) and one symlink per applet.
pub fn busybox_rootfs_tar(path: &Path) {
    let busybox = std::fs::read("/bin/busybox").expect("/bin/busybox (Debian busybox-static) is needed");
    let list = std::process::Command::new("/bin/busybox").arg("--list").output().expect("busybox --list");
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    for dir in ["bin", "etc", "tmp", "root", "proc", "sys", "dev", "var", "var/www"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(if dir == "tmp" { 0o1777 } else { 0o755 });
        h.set_size(0);
        b.append_data(&mut h, dir, std::io::empty()).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(busybox.len() as u64);
    b.append_data(&mut h, "bin/busybox", busybox.as_slice()).unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines().filter(|a| !a.is_empty() && *a != "busybox") {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        b.append_link(&mut h, format!("bin/{applet}"), "/bin/busybox").unwrap();
    }
    let passwd = b"root:x:0:0:root:/root:/bin/sh\n";
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(passwd.len() as u64);
    b.append_data(&mut h, "etc/passwd", &passwd[..]).unwrap();
    b.finish().unwrap();
}

impl T {
    /// A name unique to this test run: `gt-<test>-<what>-<pid>-<n>`.
    pub fn name(&self, what: &str) -> String {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!("gt-{}-{what}-{}-{n}", self.test, std::process::id())
    }

    /// Removes this container at the end of the test.
    pub fn track_container(&self, id: &str) {
        self.containers.lock().unwrap().push(id.to_string());
    }
    pub fn track_volume(&self, name: &str) {
        self.volumes.lock().unwrap().push(name.to_string());
    }
    pub fn track_network(&self, name: &str) {
        self.networks.lock().unwrap().push(name.to_string());
    }
    pub fn track_image(&self, reference: &str) {
        self.images.lock().unwrap().push(reference.to_string());
    }

    /// A run spec for the fixture image running `sh -c script`, with a unique name.
    pub fn sh(&self, what: &str, script: &str) -> RunSpec {
        let mut spec = RunSpec::new(IMAGE);
        spec.name = Some(self.name(what));
        spec.command = vec!["sh".into(), "-c".into(), script.into()];
        spec
    }

    /// Runs (create + start) and tracks the container; returns its ID.
    pub async fn run(&self, spec: &RunSpec) -> String {
        let id = self.engine.run_container(spec).await.unwrap_or_else(|e| panic!("run {spec:?}: {e}"));
        self.track_container(&id);
        id
    }

    /// Creates (without starting) and tracks the container; returns its ID.
    pub async fn create(&self, spec: &RunSpec) -> String {
        let id = self.engine.create_container(spec).await.unwrap_or_else(|e| panic!("create {spec:?}: {e}"));
        self.track_container(&id);
        id
    }

    /// Runs `sh -c script` in a long-lived container; returns its ID.
    pub async fn run_sh(&self, what: &str, script: &str) -> String {
        self.run(&self.sh(what, script)).await
    }

    /// A container that just sleeps (for exec, top, pause, ...).
    pub async fn sleeper(&self, what: &str) -> String {
        self.run_sh(what, "trap 'exit 0' TERM; while true; do sleep 1; done").await
    }

    pub async fn inspect(&self, id: &str) -> ContainerDetails {
        self.engine.inspect_container(id).await.unwrap()
    }

    /// Creates and tracks a volume.
    pub async fn volume(&self, what: &str) -> VolumeSummary {
        let name = self.name(what);
        let v = self.engine.create_volume(&name, &[]).await.unwrap();
        self.track_volume(&name);
        v
    }

    /// Creates and tracks a network.
    pub async fn network(&self, mut spec: NetworkSpec) -> String {
        if spec.name.is_empty() {
            spec.name = self.name("net");
        }
        self.engine.create_network(&spec).await.unwrap_or_else(|e| panic!("create network {spec:?}: {e}"));
        self.track_network(&spec.name);
        spec.name
    }

    /// Every log line of a container (no follow).
    pub async fn logs(&self, id: &str, options: &LogOptions) -> Vec<LogLine> {
        self.engine.read_logs(id, options).await.unwrap()
    }

    /// All log text (stdout and stderr, in order).
    pub async fn log_text(&self, id: &str) -> String {
        self.logs(id, &LogOptions::default()).await.into_iter().map(|l| l.text + "\n").collect()
    }

    /// Waits until the container's logs contain `needle` (panics after `secs`).
    pub async fn wait_for_log(&self, id: &str, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let text = self.log_text(id).await;
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "{needle:?} not in logs of {id} after {secs} s; logs:\n{text}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the container to exit and returns its exit code.
    pub async fn wait_exit(&self, id: &str) -> i64 {
        within(30, self.engine.wait_container(id)).await.unwrap()
    }
}

impl Drop for T {
    fn drop(&mut self) {
        let containers = std::mem::take(&mut *self.containers.lock().unwrap_or_else(|p| p.into_inner()));
        let volumes = std::mem::take(&mut *self.volumes.lock().unwrap_or_else(|p| p.into_inner()));
        let networks = std::mem::take(&mut *self.networks.lock().unwrap_or_else(|p| p.into_inner()));
        let images = std::mem::take(&mut *self.images.lock().unwrap_or_else(|p| p.into_inner()));
        if containers.is_empty() && volumes.is_empty() && networks.is_empty() && images.is_empty() {
            return;
        }
        // Drop may run inside the test's runtime (or while unwinding from a panic): clean up on a
        // thread of its own with a fresh runtime and connection.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let Ok(engine) = Engine::from_env().await else { return };
                for c in containers {
                    let _ = engine.remove_container(&c, RemoveOptions { force: true, volumes: true }).await;
                }
                for n in networks {
                    let _ = engine.remove_network(&n).await;
                }
                for v in volumes {
                    let _ = engine.remove_volume(&v, true).await;
                }
                for i in images {
                    let _ = engine.remove_image(&i, true).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Fails the test if `fut` takes longer than `secs`.
pub async fn within<F: std::future::Future>(secs: u64, fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), fut).await.unwrap_or_else(|_| panic!("timed out after {secs} s"))
}

/// The next item of a stream, failing after `secs`.
pub async fn next_within<T>(secs: u64, stream: &mut EngineStream<T>) -> Option<gantry_engine::Result<T>> {
    within(secs, stream.next()).await
}

/// Runs the docker CLI against the same engine (used for cross-checks and baselines).
pub fn docker(args: &[&str]) -> std::process::Output {
    std::process::Command::new("docker").args(args).output().expect("run the docker CLI")
}

/// The login registry ./scripts/test starts (`GANTRY_TEST_AUTH_REGISTRY`, `_USER`, `_PASSWORD`)
/// and its right credentials; `None`, after saying why, when it is not there.
pub fn auth_registry() -> Option<RegistryAuth> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (var("GANTRY_TEST_AUTH_REGISTRY"), var("GANTRY_TEST_AUTH_USER"), var("GANTRY_TEST_AUTH_PASSWORD")) {
        (Some(server), Some(username), Some(password)) => Some(RegistryAuth { server, username, password }),
        _ => {
            gantry_testkit::skip::skipped(
                "registry login tests",
                "GANTRY_TEST_AUTH_REGISTRY/_USER/_PASSWORD are not set (no login registry)",
            );
            None
        }
    }
}

/// Pushes (or, with `pull`, pulls) `reference` to the end; the first error, if any.
pub async fn transfer(
    engine: &Engine,
    reference: &str,
    auth: Option<&RegistryAuth>,
    pull: bool,
) -> gantry_engine::Result<()> {
    let mut stream = if pull { engine.pull_image(reference, auth) } else { engine.push_image(reference, auth) };
    within(120, async {
        while let Some(item) = stream.next().await {
            item?;
        }
        Ok(())
    })
    .await
}

//! Fault tests: `kill -9` (of the whole process group, as when a session ends) while the TLS
//! material is generated and while the data disk is created. Afterwards the next start must
//! find a set that works or make one, never keep a half-written or mixed one.
//!
//! The victim is this test binary itself, run again as a child (`CHILD_VAR` says which step)
//! that repeats the step until it is killed at a random moment.
#![cfg(unix)] // kill -9 of a child process group
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use gantry_machine::instance::Instance;
use gantry_machine::{disk, tls};

/// Set in the child: `tls` or `disk`.
const CHILD_VAR: &str = "GANTRY_KILL_FAULT_CHILD";
/// The instance directory the child works in.
const DIR_VAR: &str = "GANTRY_KILL_FAULT_DIR";
/// Kills per scenario.
const ROUNDS: u32 = 24;

/// In the child: repeats the step until killed (never returns). In the test itself: nothing.
fn run_child_if_asked() {
    let (Some(step), Some(dir)) = (std::env::var_os(CHILD_VAR), std::env::var_os(DIR_VAR)) else { return };
    let inst = Instance::at(Path::new(&dir));
    loop {
        match step.to_str() {
            // damage the set, so that each round makes it again
            Some("tls") => {
                let _ = std::fs::write(inst.tls_ca(), "damaged");
                tls::ensure(&inst).unwrap();
            }
            Some("disk") => {
                let _ = std::fs::remove_file(inst.disk());
                disk::ensure(&inst.disk(), &inst.disk_partial(), 8).unwrap();
            }
            other => panic!("unknown child step {other:?}"),
        }
    }
}

/// Starts the child for `step` in its own process group.
fn spawn_child(test: &str, step: &str, dir: &Path) -> Child {
    use std::os::unix::process::CommandExt;
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, step)
        .env(DIR_VAR, dir)
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// `kill -9` of the child's whole process group (a `qemu-img` it runs dies with it).
fn kill_group(child: &mut Child) {
    let pgid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    child.wait().unwrap();
}

/// Pseudo-random delays (xorshift; the seed is printed so a failing run can be repeated).
struct Delays(u64);
impl Delays {
    fn new() -> Self {
        let seed = std::env::var("GANTRY_KILL_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            u64::from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()) | 1
        });
        eprintln!("delays seed {seed} (GANTRY_KILL_FAULT_SEED repeats it)");
        Self(seed)
    }
    fn next(&mut self, max_ms: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(self.0 % max_ms)
    }
}

/// Kills the child running `step` at random moments; after each kill, `check` must find the
/// instance in a state the next start recovers from.
fn kill_during(test: &str, step: &str, max_delay_ms: u64, check: impl Fn(&Instance)) {
    let t = tempfile::tempdir().unwrap();
    let inst = Instance::at(t.path().join("default"));
    inst.ensure().unwrap();
    let mut delays = Delays::new();
    let started = Instant::now();
    for round in 0..ROUNDS {
        let mut child = spawn_child(test, step, inst.dir());
        std::thread::sleep(Duration::from_millis(30) + delays.next(max_delay_ms));
        kill_group(&mut child);
        eprintln!("round {round}: killed");
        check(&inst);
    }
    eprintln!("{ROUNDS} kills in {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn kill_9_during_tls_generation() {
    run_child_if_asked();
    kill_during("kill_9_during_tls_generation", "tls", 120, |inst| {
        // what the next start does
        tls::ensure(inst).unwrap();
        tls::verify(inst).expect("after a kill, the next start has a TLS set that works");
        assert!(!inst.tls_partial_dir().exists(), "the half-written set is gone");
    });
    gantry_testkit::reliability::fault(
        "kill -9 during TLS generation (random moments, 24 times)",
        "the next start keeps a working set or makes a new one; never a half-written or mixed set",
        "every time a set that completes a mutual TLS handshake",
    );
}

#[test]
fn kill_9_during_disk_creation() {
    run_child_if_asked();
    if Command::new("qemu-img").arg("--version").output().is_err() {
        eprintln!("skipped: qemu-img not installed");
        return;
    }
    kill_during("kill_9_during_disk_creation", "disk", 80, |inst| {
        // what the next start does
        disk::ensure(&inst.disk(), &inst.disk_partial(), 8).expect("after a kill, the next start makes the disk");
        let out = Command::new("qemu-img").args(["check", "-q", "-f", "qcow2"]).arg(inst.disk()).output().unwrap();
        assert!(out.status.success(), "the disk is a whole qcow2 image: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(disk::virtual_size(&inst.disk()).unwrap(), 8 << 30);
        assert!(!inst.disk_partial().exists());
    });
    gantry_testkit::reliability::fault(
        "kill -9 of the process group during data disk creation (random moments, 24 times)",
        "the next start makes a whole qcow2 disk; never keeps a half-made one",
        "every time a disk that `qemu-img check` accepts, of the configured size",
    );
}

//! A Gantry VM instance that a test started (its own `GANTRY_HOME`): the logs that explain a
//! failure, and stopping it whatever state it is in, so that a failed or timed-out test never
//! leaves a VM running. [`TestVm`] is such an instance with the `gantry` and `docker` commands
//! pointed at it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::bounded;

// Bounds that only keep a broken run from hanging (not timing claims): a command that overruns
// its bound is killed and fails the test naming the step and the command, with the VM's logs.

/// How long `gantry stop` may take before what is left is killed.
pub const STOP_BOUND: Duration = Duration::from_secs(180);
/// `gantry start` (it gives up by itself after 600 s).
pub const START_BOUND: Duration = Duration::from_secs(720);
/// Any other `gantry` command.
pub const GANTRY_BOUND: Duration = Duration::from_secs(60);
/// A docker command against an engine in an emulated VM (an emulated build step included).
pub const DOCKER_BOUND: Duration = Duration::from_secs(600);

/// The last lines of the agent's, the guest console's and QEMU's logs in `instance_dir`.
pub fn diagnostics(instance_dir: &Path) -> String {
    let mut s = String::new();
    for log in ["agent.log", "console.log", "qemu.log"] {
        s.push_str(&format!("--- {log} (last 40 lines)\n{}\n", bounded::tail(&instance_dir.join(log), 40)));
    }
    s
}

/// Stops the VM of `home`'s default instance: `gantry stop` (the binary `gantry`) within
/// [`STOP_BOUND`], then SIGKILL to what is left of its agent and QEMU (only processes started with
/// this `GANTRY_HOME`). Says on stderr what it had to do.
pub fn stop(gantry: &Path, home: &Path, docker_config: &Path) {
    let dir = home.join("default");
    if dir.join("agent.pid").exists() || dir.join("qemu.pid").exists() {
        let mut c = Command::new(gantry);
        c.arg("stop").env("GANTRY_HOME", home).env("DOCKER_CONFIG", docker_config).env_remove("DOCKER_HOST");
        match bounded::output(&mut c, None, STOP_BOUND) {
            Ok(out) if !out.status.success() => {
                eprintln!(
                    "clean-up: gantry stop: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
            }
            Ok(_) => {}
            Err(e) => eprintln!("clean-up: {e}"),
        }
    }
    let marker = format!("GANTRY_HOME={}", home.display());
    let killed = bounded::kill_pid_files(&dir, &["agent.pid", "qemu.pid"], &marker);
    if !killed.is_empty() {
        eprintln!("clean-up: killed {}", killed.join(", "));
    }
}

/// Arms a [`bounded::Watchdog`] for a VM test: when it fires, it prints the instance's logs and
/// stops the VM before the process ends.
pub fn watchdog(test: &str, bound: Duration, gantry: &Path, home: &Path, docker_config: &Path) -> bounded::Watchdog {
    let (gantry, home, docker_config) = (gantry.to_owned(), home.to_owned(), docker_config.to_owned());
    bounded::Watchdog::arm(test, bound, move || {
        let logs = diagnostics(&home.join("default"));
        stop(&gantry, &home, &docker_config);
        logs
    })
}

/// One Gantry instance in a temporary directory (`GANTRY_HOME` and `DOCKER_CONFIG` of its own),
/// sharing only [`TestVm::share`] with the VM, and the docker CLI pointed at its socket. Dropping
/// it stops the VM (and prints its logs when the test is failing).
pub struct TestVm {
    tmp: TempDir,
    /// The instance's `GANTRY_HOME`.
    pub home: PathBuf,
    /// The `DOCKER_CONFIG` of every command (the user's own is never touched).
    pub docker_config: PathBuf,
    gantry: PathBuf,
    image: Option<PathBuf>,
}

impl TestVm {
    /// A new instance (not started) run by the `gantry` binary `gantry`, in a temporary directory
    /// named `prefix…` under /tmp; `image`: a guest image directory of its own (`GANTRY_IMAGE_DIR`,
    /// QEMU and the accelerator then chosen from it), else the test run's. 2 CPUs, 2 GiB, an 8 GiB disk, ports on 127.0.0.1.
    pub fn new(gantry: &Path, prefix: &str, image: Option<PathBuf>) -> std::io::Result<Self> {
        let tmp = tempfile::Builder::new().prefix(prefix).tempdir_in("/tmp")?;
        let home = tmp.path().join("h");
        let docker_config = tmp.path().join("docker-config");
        let share = tmp.path().join("share");
        for dir in [&home.join("default"), &docker_config, &share] {
            std::fs::create_dir_all(dir)?;
        }
        let settings = serde_json::json!({
            "engine": {"kind": "gantry_vm"},
            "vm": {"cpus": 2, "memory_mib": 2048, "disk_gib": 8,
                   "shared_folders": [share], "port_bind_address": "127.0.0.1"}
        });
        std::fs::write(home.join("default/settings.json"), settings.to_string())?;
        Ok(Self { tmp, home, docker_config, gantry: gantry.to_owned(), image })
    }

    /// The folder shared with the VM (compose files, build contexts and bind sources go here).
    pub fn share(&self) -> PathBuf {
        self.tmp.path().join("share")
    }

    /// The instance's directory (its logs, pid files and socket).
    pub fn instance_dir(&self) -> PathBuf {
        self.home.join("default")
    }

    /// The engine socket the agent serves.
    pub fn socket(&self) -> PathBuf {
        self.instance_dir().join("docker.sock")
    }

    /// A watchdog for the whole test: when `bound` passes it prints the logs and stops the VM.
    pub fn watchdog(&self, test: &str, bound: Duration) -> bounded::Watchdog {
        watchdog(test, bound, &self.gantry, &self.home, &self.docker_config)
    }

    /// `gantry ARGS` against this instance within its bound, its output logged on stderr.
    pub fn gantry(&self, args: &[&str]) -> Output {
        let mut c = Command::new(&self.gantry);
        c.args(args)
            .env("GANTRY_HOME", &self.home)
            .env("DOCKER_CONFIG", &self.docker_config)
            .env_remove("DOCKER_HOST")
            .env_remove("GANTRY_ENGINE");
        // an image of its own (another architecture) also picks its own emulator and accelerator
        if let Some(image) = &self.image {
            c.env("GANTRY_IMAGE_DIR", image).env_remove("GANTRY_QEMU").env_remove("GANTRY_ACCEL");
        }
        let bound = match args.first() {
            Some(&"start") => START_BOUND,
            Some(&"stop") => STOP_BOUND,
            _ => GANTRY_BOUND,
        };
        timed(&format!("gantry {}", args.join(" ")), &mut c, bound)
    }

    /// The user's docker CLI (with its plugins) against this instance's socket, in `dir`.
    pub fn docker_in(&self, dir: &Path, args: &[&str]) -> Output {
        let mut c = Command::new("docker");
        c.args(args)
            .current_dir(dir)
            .env("DOCKER_HOST", format!("unix://{}", self.socket().display()))
            .env("DOCKER_CONFIG", &self.docker_config);
        timed(&format!("docker {}", args.join(" ")), &mut c, DOCKER_BOUND)
    }

    /// [`TestVm::docker_in`] that must succeed: its trimmed standard output.
    pub fn docker_ok_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.docker_in(dir, args);
        assert!(out.status.success(), "docker {args:?} failed: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// [`TestVm::docker_ok_in`] in the shared folder.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        self.docker_ok_in(&self.share(), args)
    }
}

impl Drop for TestVm {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("failed at step: {}\n{}", bounded::current_step(), diagnostics(&self.instance_dir()));
        }
        // also when a scenario failed: never leave a VM running
        stop(&self.gantry, &self.home, &self.docker_config);
    }
}

/// Runs `cmd` within `bound` (one that overruns is killed and fails the test naming the step) and
/// logs `what`, its time, status and output.
fn timed(what: &str, cmd: &mut Command, bound: Duration) -> Output {
    let t = Instant::now();
    let out = bounded::output(cmd, None, bound).unwrap_or_else(|e| panic!("step «{}»: {e}", bounded::current_step()));
    eprintln!(
        "$ {what} ({:.1} s) → {}\n{}{}",
        t.elapsed().as_secs_f64(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A command's standard output and error, as text.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

//! A Gantry VM instance that a test started (its own `GANTRY_HOME`): the logs that explain a
//! failure, and stopping it whatever state it is in, so that a failed or timed-out test never
//! leaves a VM running.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::bounded;

/// How long `gantry stop` may take before what is left is killed.
pub const STOP_BOUND: Duration = Duration::from_secs(180);

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

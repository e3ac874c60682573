//! One more private Docker engine for a test (a participant's fresh engine, an engine with a
//! registry mirror): started by scripts/lib/dockerd.sh like the one `./scripts/test` starts (own
//! socket, data root, bridge), stopped and deleted when dropped. Needs root (rootful dockerd).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A private engine under `dir`; stopped (containers removed, folder deleted) when dropped.
#[derive(Debug)]
pub struct PrivateEngine {
    /// Its folder (socket, data root, `dockerd.log`).
    pub dir: PathBuf,
    /// Its address for `DOCKER_HOST` (`unix://…/docker.sock`).
    pub host: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/lib/dockerd.sh")
}

impl PrivateEngine {
    /// Starts dockerd under `dir` with the extra dockerd `args` (e.g. `--config-file FILE`) and
    /// waits until it answers; `Err` with the script's output when it does not start.
    pub fn start(dir: &Path, args: &[&str]) -> Result<Self, String> {
        let out = Command::new("bash")
            .arg("-c")
            .arg("source \"$1\" && shift && gantry_dockerd_start \"$@\" >&2 && echo \"$DOCKER_HOST\"")
            .arg("bash")
            .arg(script())
            .arg(dir)
            .args(args)
            .output()
            .map_err(|e| format!("bash {}: {e}", script().display()))?;
        let engine = Self { dir: dir.to_owned(), host: String::from_utf8_lossy(&out.stdout).trim().to_string() };
        if !out.status.success() || engine.host.is_empty() {
            return Err(format!("the private engine did not start: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(engine)
    }

    /// Runs the docker CLI against this engine; its output, or `Err` with what it said.
    pub fn docker(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", &self.host)
            .output()
            .map_err(|e| format!("docker {args:?}: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// The last `lines` lines of the engine's log, newest first (for a failure message).
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default();
        log.lines().rev().take(lines).collect::<Vec<_>>().join("\n")
    }
}

impl Drop for PrivateEngine {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg("-c")
            .arg("source \"$1\" && gantry_dockerd_stop \"$2\"")
            .arg("bash")
            .arg(script())
            .arg(&self.dir)
            .status();
    }
}

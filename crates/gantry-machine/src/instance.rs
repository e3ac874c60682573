//! The instance directory: every file Gantry keeps for one VM instance is named here, once.
//!
//! Layout of `<root>/<instance>/` (root = `$GANTRY_HOME`, else the platform data directory,
//! `$XDG_DATA_HOME/gantry` / `~/.local/share/gantry` on Linux,
//! `~/Library/Application Support/gantry` on macOS, `%LOCALAPPDATA%\gantry` on Windows):
//!
//! | file              | what                                                        |
//! |-------------------|-------------------------------------------------------------|
//! | `settings.json`   | user settings (`gantry_core::settings`)                     |
//! | `disk.qcow2`      | the persistent data disk (`/var/lib/docker` in the guest)   |
//! | `qmp.sock`        | QEMU's QMP monitor socket                                   |
//! | `control.sock`    | the host agent's control socket (newline-delimited JSON)   |
//! | `docker.sock`     | the engine socket served by the agent (mode 0600)           |
//! | `qemu.pid`        | QEMU's pid file (written by QEMU itself, `-pidfile`)        |
//! | `agent.pid`       | the host agent's pid                                        |
//! | `agent.lock`      | held (flock) by the running agent: one agent per instance   |
//! | `console.log`     | the guest's serial console                                  |
//! | `qemu.log`        | QEMU's own stderr                                           |
//! | `agent.log`       | the host agent's log                                        |
//! | `accel.json`      | the remembered accelerator choice (e.g. KVM stalled → TCG)  |
//! | `state.json`      | run-time facts of the running VM (engine port, accel, ...)  |
//! | `tls/`            | `ca.pem`, `ca-key.pem`, `server.pem`, `server-key.pem`,     |
//! |                   | `client.pem`, `client-key.pem` (all mode 0600)              |

use std::path::{Path, PathBuf};

/// Environment variable overriding the root of all instance directories.
pub const GANTRY_HOME_ENV: &str = "GANTRY_HOME";
/// Name of the instance used when none is given.
pub const DEFAULT_INSTANCE: &str = "default";

/// The root directory holding all instance directories.
pub fn root_dir() -> PathBuf {
    if let Some(p) = std::env::var_os(GANTRY_HOME_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    platform_data_dir().join("gantry")
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

fn platform_data_dir() -> PathBuf {
    if cfg!(target_os = "macos") {
        home().join("Library").join("Application Support")
    } else if cfg!(windows) {
        std::env::var_os("LOCALAPPDATA").map(PathBuf::from).unwrap_or_else(|| home().join("AppData").join("Local"))
    } else {
        std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| home().join(".local").join("share"))
    }
}

/// One instance directory. Cheap to clone; creating it does not touch the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    name: String,
    dir: PathBuf,
}

impl Default for Instance {
    fn default() -> Self {
        Self::named(DEFAULT_INSTANCE)
    }
}

impl Instance {
    /// The instance `name` under [`root_dir`].
    pub fn named(name: &str) -> Self {
        Self { name: name.to_owned(), dir: root_dir().join(name) }
    }

    /// An instance living in an explicit directory (tests, embedding).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        let name =
            dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| DEFAULT_INSTANCE.to_owned());
        Self { name, dir }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn settings(&self) -> PathBuf {
        self.dir.join("settings.json")
    }
    pub fn disk(&self) -> PathBuf {
        self.dir.join("disk.qcow2")
    }
    pub fn qmp_socket(&self) -> PathBuf {
        self.dir.join("qmp.sock")
    }
    pub fn control_socket(&self) -> PathBuf {
        self.dir.join("control.sock")
    }
    pub fn docker_socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }
    pub fn qemu_pid(&self) -> PathBuf {
        self.dir.join("qemu.pid")
    }
    pub fn agent_pid(&self) -> PathBuf {
        self.dir.join("agent.pid")
    }
    pub fn agent_lock(&self) -> PathBuf {
        self.dir.join("agent.lock")
    }
    pub fn console_log(&self) -> PathBuf {
        self.dir.join("console.log")
    }
    pub fn qemu_log(&self) -> PathBuf {
        self.dir.join("qemu.log")
    }
    pub fn agent_log(&self) -> PathBuf {
        self.dir.join("agent.log")
    }
    pub fn accel_choice(&self) -> PathBuf {
        self.dir.join("accel.json")
    }
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    pub fn tls_dir(&self) -> PathBuf {
        self.dir.join("tls")
    }
    pub fn tls_ca(&self) -> PathBuf {
        self.tls_dir().join("ca.pem")
    }
    pub fn tls_ca_key(&self) -> PathBuf {
        self.tls_dir().join("ca-key.pem")
    }
    pub fn tls_server_cert(&self) -> PathBuf {
        self.tls_dir().join("server.pem")
    }
    pub fn tls_server_key(&self) -> PathBuf {
        self.tls_dir().join("server-key.pem")
    }
    pub fn tls_client_cert(&self) -> PathBuf {
        self.tls_dir().join("client.pem")
    }
    pub fn tls_client_key(&self) -> PathBuf {
        self.tls_dir().join("client-key.pem")
    }

    /// Creates the directory (mode 0700 on Unix).
    pub fn ensure(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        std::fs::create_dir_all(self.tls_dir())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))?;
            std::fs::set_permissions(self.tls_dir(), std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn files_live_in_the_instance_dir() {
        let i = Instance::at("/x/gantry/dev");
        assert_eq!(i.name(), "dev");
        assert_eq!(i.docker_socket(), Path::new("/x/gantry/dev/docker.sock"));
        assert_eq!(i.tls_ca(), Path::new("/x/gantry/dev/tls/ca.pem"));
        assert_eq!(i.settings(), Path::new("/x/gantry/dev/settings.json"));
    }
}

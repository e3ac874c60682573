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
//! | `qmp.sock`        | QEMU's QMP monitor socket (commands)                        |
//! | `qmp-events.sock` | a second QMP monitor, held by the agent to hear events      |
//! | `control.sock`    | the host agent's control socket (newline-delimited JSON)   |
//! | `docker.sock`     | the engine socket served by the agent (mode 0600)           |
//! | `qemu.pid`        | QEMU's pid file (written by QEMU itself, `-pidfile`)        |
//! | `agent.pid`       | the host agent's pid                                        |
//! | `agent.lock`      | held (flock) by the running agent: one agent per instance   |
//! | `start.lock`      | held (flock) by a start while it launches the agent         |
//! | `console.log`     | the guest's serial console                                  |
//! | `qemu.log`        | QEMU's own stderr                                           |
//! | `agent.log`       | the host agent's log                                        |
//! | `accel.json`      | the remembered accelerator choice (e.g. KVM stalled → TCG)  |
//! | `state.json`      | run-time facts of the running VM (engine port, accel, ...)  |
//! | `tls/`            | `ca.pem`, `ca-key.pem`, `server.pem`, `server-key.pem`,     |
//! |                   | `client.pem`, `client-key.pem` (all mode 0600)              |
//! | `tls.partial/`, `disk.qcow2.partial` | being written; renamed into place when complete |
//! | `.gantry-instance`| the marker: `delete` removes only a directory that has it   |
//!
//! Instance names are short slugs ([`validate_name`]): a name never reaches outside the root.

use std::path::{Path, PathBuf};

use crate::error::MachineError;

/// Environment variable overriding the root of all instance directories.
pub const GANTRY_HOME_ENV: &str = "GANTRY_HOME";
/// Name of the instance used when none is given.
pub const DEFAULT_INSTANCE: &str = "default";

/// The file whose presence marks a directory as a Gantry instance directory.
pub const MARKER: &str = ".gantry-instance";
/// Longest instance name.
pub const MAX_NAME_LEN: usize = 32;

/// Longest unix socket path this system accepts (`sun_path` less its final NUL).
pub const MAX_SOCKET_PATH: usize = if cfg!(any(target_os = "macos", target_os = "freebsd")) { 103 } else { 107 };

/// A unix socket path that fits `sun_path`, or [`MachineError::SocketPathTooLong`].
pub fn check_socket_path(path: &Path) -> Result<(), MachineError> {
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(MachineError::SocketPathTooLong { path: path.to_owned(), len, max: MAX_SOCKET_PATH });
    }
    Ok(())
}

/// The root directory holding all instance directories.
pub fn root_dir() -> PathBuf {
    if let Some(p) = std::env::var_os(GANTRY_HOME_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    match home_dir() {
        Some(home) => platform_data_dir(&home).join("gantry"),
        None => no_home_root(),
    }
}

/// The user's home directory (defined once, in `gantry-files`).
pub use gantry_files::home_dir;

/// Without a home directory: a directory of this user's own under the system temp directory
/// (`/tmp/gantry-<uid>`), which [`Instance::ensure`] creates owner-only and refuses to use when
/// someone else owns it.
fn no_home_root() -> PathBuf {
    #[cfg(unix)]
    let owner = rustix::process::getuid().as_raw().to_string();
    #[cfg(not(unix))]
    let owner = std::env::var("USERNAME").unwrap_or_else(|_| "user".into());
    std::env::temp_dir().join(format!("gantry-{owner}"))
}

fn platform_data_dir(home: &Path) -> PathBuf {
    if cfg!(target_os = "macos") {
        home.join("Library").join("Application Support")
    } else if cfg!(windows) {
        std::env::var_os("LOCALAPPDATA").map(PathBuf::from).unwrap_or_else(|| home.join("AppData").join("Local"))
    } else {
        std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".local").join("share"))
    }
}

/// Why a name cannot be an instance name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a valid instance name: {reason}")]
pub struct InvalidName {
    pub name: String,
    pub reason: &'static str,
}

/// Instance names are slugs: 1 to [`MAX_NAME_LEN`] ASCII letters, digits, `-` and `_`, starting
/// with a letter or digit. So a name is one path component under the root, never `.`, `..`, an
/// absolute path, `~` or a path with separators.
pub fn validate_name(name: &str) -> Result<(), InvalidName> {
    let bad = |reason| Err(InvalidName { name: name.to_owned(), reason });
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("it is longer than 32 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return bad("use only letters, digits, '-' and '_'");
    }
    if !name.as_bytes()[0].is_ascii_alphanumeric() {
        return bad("it must start with a letter or a digit");
    }
    Ok(())
}

/// One instance directory. Cheap to clone; creating it does not touch the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    name: String,
    dir: PathBuf,
}

impl Default for Instance {
    fn default() -> Self {
        Self { name: DEFAULT_INSTANCE.to_owned(), dir: root_dir().join(DEFAULT_INSTANCE) }
    }
}

impl Instance {
    /// The instance `name` under [`root_dir`]; the name must pass [`validate_name`].
    pub fn named(name: &str) -> Result<Self, InvalidName> {
        validate_name(name)?;
        Ok(Self { name: name.to_owned(), dir: root_dir().join(name) })
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
    /// The data disk while `qemu-img` creates it (renamed to [`Self::disk`] when complete).
    pub fn disk_partial(&self) -> PathBuf {
        self.dir.join("disk.qcow2.partial")
    }
    pub fn qmp_socket(&self) -> PathBuf {
        self.dir.join("qmp.sock")
    }
    /// A second monitor: a QMP socket serves one client at a time, and the agent keeps this
    /// one open to hear QEMU's events (a VM paused by a full disk).
    pub fn qmp_events_socket(&self) -> PathBuf {
        self.dir.join("qmp-events.sock")
    }
    /// QEMU's guest agent (qemu-ga in the guest) on a virtio-serial port: the saved-state
    /// steps (shares unmounted before a save, the clock set after a restore).
    pub fn guest_agent_socket(&self) -> PathBuf {
        self.dir.join("guest-agent.sock")
    }
    /// Where QEMU's migration stream passes while the VM's state is saved or restored.
    pub fn migration_socket(&self) -> PathBuf {
        self.dir.join("migration.sock")
    }
    /// The VM's state saved by a stop (QEMU's migration stream), resumed by the next start.
    pub fn saved_state(&self) -> PathBuf {
        self.dir.join("vm-state.bin")
    }
    /// What [`Self::saved_state`] was saved from (QEMU's arguments, the files' identities); the
    /// state is used only while this file says it still matches.
    pub fn saved_state_manifest(&self) -> PathBuf {
        self.dir.join("vm-state.json")
    }
    /// What the running QEMU was launched with ([`crate::saved_state::Launch`]): a save
    /// completes it into the saved state's manifest.
    pub fn launch_record(&self) -> PathBuf {
        self.dir.join("qemu-launch.json")
    }
    /// The saved state while QEMU writes it (renamed to [`Self::saved_state`] when complete).
    pub fn saved_state_partial(&self) -> PathBuf {
        self.dir.join("vm-state.bin.partial")
    }
    /// The saved state while a start restores it: never restored twice.
    pub fn saved_state_restoring(&self) -> PathBuf {
        self.dir.join("vm-state.bin.restoring")
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
    /// Held (flock) by a `start` while it launches the agent: two starts never launch two.
    pub fn start_lock(&self) -> PathBuf {
        self.dir.join("start.lock")
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
    /// The VM driver this instance was created with (`qemu` or `wsl2`): its engine data lives
    /// there, so it is kept while the data is ([`crate::driver::record`]).
    pub fn driver_record(&self) -> PathBuf {
        self.dir.join("driver")
    }
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    pub fn tls_dir(&self) -> PathBuf {
        self.dir.join("tls")
    }
    /// A new TLS set being written (renamed to [`Self::tls_dir`] when complete).
    pub fn tls_partial_dir(&self) -> PathBuf {
        self.dir.join("tls.partial")
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

    /// The guest's config file, passed through fw_cfg.
    pub fn guest_config(&self) -> PathBuf {
        self.dir.join("guest-config")
    }

    /// The guest's `/etc/docker` when registry mirrors are set (shared read-only into the guest;
    /// [`crate::engine_config`]).
    pub fn guest_docker_dir(&self) -> PathBuf {
        self.dir.join("guest-docker")
    }

    /// The unix sockets of the instance (QMP twice, control, docker, guest agent, migration).
    pub fn sockets(&self) -> [PathBuf; 6] {
        [
            self.qmp_socket(),
            self.qmp_events_socket(),
            self.control_socket(),
            self.docker_socket(),
            self.guest_agent_socket(),
            self.migration_socket(),
        ]
    }

    /// Every socket path fits this system's limit ([`check_socket_path`]).
    pub fn check_socket_paths(&self) -> Result<(), MachineError> {
        self.sockets().iter().try_for_each(|p| check_socket_path(p))
    }

    /// What `delete` removes when the data is kept: run-time files, logs, TLS material, the
    /// remembered accelerator (never the data disk, settings or files Gantry did not make).
    pub fn run_files(&self) -> Vec<PathBuf> {
        let mut v = vec![
            self.qmp_socket(),
            self.qmp_events_socket(),
            self.control_socket(),
            self.docker_socket(),
            self.qemu_pid(),
            self.agent_pid(),
            self.agent_lock(),
            self.start_lock(),
            self.console_log(),
            self.qemu_log(),
            self.agent_log(),
            self.accel_choice(),
            self.state(),
            self.guest_config(),
            self.guest_docker_dir(),
            self.tls_dir(),
            self.tls_partial_dir(),
            self.disk_partial(),
            self.guest_agent_socket(),
            self.migration_socket(),
            self.saved_state(),
            self.saved_state_manifest(),
            self.saved_state_partial(),
            self.saved_state_restoring(),
            self.launch_record(),
        ];
        v.extend([self.console_log(), self.qemu_log()].map(|l| l.with_extension("log.1")));
        v
    }

    /// The marker file ([`MARKER`]).
    pub fn marker(&self) -> PathBuf {
        self.dir.join(MARKER)
    }

    /// Whether the directory carries Gantry's marker (what `delete` checks first).
    pub fn is_marked(&self) -> bool {
        self.marker().is_file()
    }

    /// Creates the directory (mode 0700 on Unix) with its marker. A directory that another user
    /// owns is refused (e.g. `/tmp/gantry-<uid>` made by someone else when `HOME` is unset).
    pub fn ensure(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        std::fs::create_dir_all(self.tls_dir())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // without HOME the root is a shared temp directory's child: it must be ours too
            let no_home = self.dir.parent().filter(|p| *p == no_home_root());
            for dir in std::iter::once(self.dir.as_path()).chain(no_home) {
                owned_by_me(dir)?;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            }
            std::fs::set_permissions(self.tls_dir(), std::fs::Permissions::from_mode(0o700))?;
        }
        if !self.is_marked() {
            std::fs::write(
                self.marker(),
                b"This directory is a Gantry VM instance (gantry delete checks this file).\n",
            )?;
        }
        Ok(())
    }
}

/// Refuses a directory that another user owns.
#[cfg(unix)]
fn owned_by_me(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::symlink_metadata(dir)?.uid();
    let me = rustix::process::getuid().as_raw();
    if owner == me {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} belongs to another user (uid {owner}): Gantry keeps its files only in a directory of yours",
                dir.display()
            ),
        ))
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

    #[test]
    fn names_are_slugs_that_stay_under_the_root() {
        for good in ["default", "dev", "a", "work-2", "my_vm", "A1"] {
            assert!(validate_name(good).is_ok(), "{good}");
            assert_eq!(Instance::named(good).unwrap().dir(), root_dir().join(good));
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        for bad in ["", ".", "..", "/", "a/b", "~", "/home/me", "../x", "a\\b", "-x", "_x", "a b", "é", &long, "a\0b"]
        {
            let e = Instance::named(bad).unwrap_err();
            assert_eq!(e.name, bad);
            assert!(e.to_string().contains("not a valid instance name"), "{e}");
        }
    }

    #[test]
    fn socket_paths_over_the_limit_are_a_specific_error() {
        assert!(Instance::at("/x/gantry/dev").check_socket_paths().is_ok());
        let deep = Instance::at(format!("/{}/dev", "d".repeat(100)));
        match deep.check_socket_paths() {
            Err(MachineError::SocketPathTooLong { path, len, max }) => {
                assert_eq!(path, deep.qmp_socket());
                assert!(len > max && max == MAX_SOCKET_PATH);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            MachineError::SocketPathTooLong { path: "/x".into(), len: 200, max: 107 }.hint().contains("GANTRY_HOME")
        );
    }

    #[test]
    fn ensure_marks_the_directory_owner_only() {
        let t = tempfile::tempdir().unwrap();
        let i = Instance::at(t.path().join("dev"));
        assert!(!i.is_marked());
        i.ensure().unwrap();
        assert!(i.is_marked());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(i.dir()).unwrap().permissions().mode() & 0o777, 0o700);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_of_another_user_is_refused() {
        if rustix::process::getuid().as_raw() != 0 {
            eprintln!("SKIPPED: a_directory_of_another_user_is_refused needs root to chown");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("dev");
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        let e = Instance::at(&dir).ensure().unwrap_err();
        assert!(e.to_string().contains("belongs to another user"), "{e}");
    }
}

//! One SSH connection per engine, shared by all of Gantry's requests to it: OpenSSH's connection
//! multiplexing (`ControlMaster`). The first `ssh` of a host becomes the master and stays in the
//! background; every later one (a followed log, an exec, an event stream, another Gantry process)
//! opens a channel over that authenticated connection instead of a new handshake, which costs
//! about as much as a request (docs/benchmarks.md). The master ends `CONTROL_PERSIST_SECS` after
//! its last channel closed, or when the connection drops (the next request makes a new one).
//!
//! Only when the user's ssh configuration does not decide it already (their own `ControlMaster`
//! or `ControlPath` for that host win), and only with a control socket folder nobody else can
//! enter: whoever can open the socket can run commands on the host as the user.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::ssh::{SSH_PROGRAM, SshTarget};

/// Seconds the shared connection stays open after its last use.
const CONTROL_PERSIST_SECS: u32 = 60;
/// The longest control socket path: a unix socket's path has room for 104 bytes on macOS (108 on
/// Linux), and `%C` expands to 40 characters.
const MAX_SOCKET_PATH: usize = 100;
/// The control socket's name: `ssh`'s hash of the local host, remote host, port and user.
const SOCKET_NAME: &str = "%C";

/// The `ssh` options that share one connection to `target`, or none (each connection then makes
/// its own, as the docker CLI does).
pub(crate) async fn options(target: &SshTarget) -> Vec<OsString> {
    let dir = match control_dir() {
        Ok(dir) => dir,
        Err(reason) => {
            tracing::debug!("SSH connections are not shared: {reason}");
            return Vec::new();
        }
    };
    match options_for_dir(&dir) {
        Some(options) if user_config_leaves_it_to_us(target).await => options,
        _ => Vec::new(),
    }
}

/// `-o` options with control sockets in `dir`; `None` when `ssh` could not read the path back
/// (whitespace, quotes or `%` in it) or it is too long for a socket.
fn options_for_dir(dir: &Path) -> Option<Vec<OsString>> {
    let dir = dir.to_str()?;
    if dir.len() + 1 + 40 > MAX_SOCKET_PATH
        || dir.chars().any(|c| c.is_whitespace() || c.is_control() || "%\"'\\".contains(c))
    {
        return None;
    }
    Some(
        [
            "ControlMaster=auto".to_string(),
            format!("ControlPath={dir}/{SOCKET_NAME}"),
            format!("ControlPersist={CONTROL_PERSIST_SECS}"),
        ]
        .into_iter()
        .flat_map(|o| [OsString::from("-o"), OsString::from(o)])
        .collect(),
    )
}

/// Whether the user's ssh configuration for this host leaves multiplexing off (`ssh -G` prints
/// the options `ssh` would use, without connecting).
async fn user_config_leaves_it_to_us(target: &SshTarget) -> bool {
    let mut command = tokio::process::Command::new(SSH_PROGRAM);
    command.arg("-G").args(target.destination_args()).stdin(std::process::Stdio::null()).kill_on_drop(true);
    match command.output().await {
        Ok(out) if out.status.success() => multiplexing_unset(&String::from_utf8_lossy(&out.stdout)),
        Ok(out) => {
            tracing::debug!(stderr = %String::from_utf8_lossy(&out.stderr).trim(), "ssh -G failed; SSH connections are not shared");
            false
        }
        Err(e) => {
            tracing::debug!("cannot run ssh -G ({e}); SSH connections are not shared");
            false
        }
    }
}

/// Reads `ssh -G`'s output: true when neither `controlmaster` nor `controlpath` is set.
fn multiplexing_unset(config: &str) -> bool {
    let value = |key: &str| {
        config
            .lines()
            .find_map(|l| l.split_once(' ').filter(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.trim()))
    };
    matches!(value("controlmaster"), None | Some("false" | "no")) && matches!(value("controlpath"), None | Some("none"))
}

/// A folder for the control sockets that only this user can enter: `$XDG_RUNTIME_DIR/gantry-ssh`,
/// else `gantry-ssh-UID` in the temporary folder. An existing one must be a real folder of this
/// user with mode 0700 (not a link, nothing others could have prepared).
#[cfg(unix)]
fn control_dir() -> Result<PathBuf, String> {
    let uid = rustix::process::geteuid().as_raw();
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(runtime) => PathBuf::from(runtime).join("gantry-ssh"),
        None => std::env::temp_dir().join(format!("gantry-ssh-{uid}")),
    };
    private_dir(&dir, uid).map(|()| dir)
}

#[cfg(not(unix))]
fn control_dir() -> Result<PathBuf, String> {
    Err("OpenSSH on this system has no connection sharing".into())
}

/// Makes `dir` (mode 0700) or checks the one there: a folder, not a link, owned by `uid`, closed
/// to everybody else.
#[cfg(unix)]
fn private_dir(dir: &Path, uid: u32) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot make {}: {e}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    if !meta.file_type().is_dir() {
        return Err(format!("{} is not a folder", dir.display()));
    }
    if meta.uid() != uid {
        return Err(format!("{} belongs to another user (uid {})", dir.display(), meta.uid()));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!("{} is open to other users (mode {:o})", dir.display(), meta.mode() & 0o777));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn texts(options: &[OsString]) -> Vec<String> {
        options.iter().map(|o| o.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn shares_the_connection_through_a_socket_in_the_folder() {
        let options = options_for_dir(Path::new("/run/user/1000/gantry-ssh")).unwrap();
        assert_eq!(
            texts(&options),
            ["-o", "ControlMaster=auto", "-o", "ControlPath=/run/user/1000/gantry-ssh/%C", "-o", "ControlPersist=60"]
        );
    }

    #[test]
    fn no_sharing_when_ssh_could_misread_the_path_or_it_is_too_long() {
        for dir in ["/tmp/a b", "/tmp/100%", "/tmp/\"q\"", "/tmp/new\nline"] {
            assert!(options_for_dir(Path::new(dir)).is_none(), "{dir:?}");
        }
        assert!(options_for_dir(&Path::new("/tmp").join("d".repeat(60))).is_none());
    }

    #[test]
    fn the_users_own_multiplexing_wins() {
        let defaults = "user me\nhostname box\ncontrolmaster false\ncontrolpath none\nport 22\n";
        assert!(multiplexing_unset(defaults));
        assert!(multiplexing_unset("user me\n"));
        assert!(!multiplexing_unset("controlmaster auto\ncontrolpath none\n"));
        assert!(!multiplexing_unset("controlmaster false\ncontrolpath ~/.ssh/cm-%C\n"));
        assert!(!multiplexing_unset("controlmaster autoask\n"));
    }

    #[cfg(unix)]
    #[test]
    fn the_socket_folder_is_private_or_refused() {
        use std::os::unix::fs::PermissionsExt;
        let uid = rustix::process::geteuid().as_raw();
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("gantry-ssh");
        private_dir(&dir, uid).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        private_dir(&dir, uid).unwrap();

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(private_dir(&dir, uid).unwrap_err().contains("open to other users"));
        assert!(private_dir(&dir, uid + 1).unwrap_err().contains("another user"));

        let link = t.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(private_dir(&link, uid).unwrap_err().contains("not a folder"));
    }
}

//! Pid files and a real liveness check: a pid file counts only when the process exists AND is
//! the program we started with that pid file (its command line names the pid file). Stale pid
//! files are removed.

use std::path::Path;
use std::time::Duration;

/// Reads a pid file.
pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok().filter(|p| *p > 1)
}

/// A process's resident memory (`VmRSS`, KiB); Linux only (None elsewhere or when unreadable).
pub fn resident_kib(pid: u32) -> Option<u64> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Sets this process's "THP disable" flag (Linux `PR_SET_THP_DISABLE`): with it, neither this
/// process nor a child it starts afterwards (the flag is inherited and kept across exec) gets
/// transparent huge pages, whatever it asks with `madvise`. Elsewhere a no-op.
pub fn set_huge_pages_disabled(disabled: bool) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    rustix::thread::disable_transparent_huge_pages(disabled)?;
    #[cfg(not(target_os = "linux"))]
    let _ = disabled;
    Ok(())
}

/// The command line of a process, its arguments joined with spaces.
pub fn cmdline(pid: u32) -> Option<String> {
    if cfg!(target_os = "linux") {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        if raw.is_empty() {
            return None; // zombie or kernel thread
        }
        Some(raw.split(|b| *b == 0).map(|s| String::from_utf8_lossy(s).into_owned()).collect::<Vec<_>>().join(" "))
    } else if cfg!(windows) {
        windows_cmdline(pid)
    } else {
        let out = std::process::Command::new("ps").args(["-p", &pid.to_string(), "-o", "command="]).output().ok()?;
        let s = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        (!s.is_empty()).then_some(s)
    }
}

/// Windows has no `ps`: the process table through sysinfo. A process whose command line cannot
/// be read (another user's) answers with its image name, so it counts as alive but not as ours.
#[cfg(windows)]
fn windows_cmdline(pid: u32) -> Option<String> {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, UpdateKind};
    let pid = Pid::from_u32(pid);
    let mut system = sysinfo::System::new().ok()?;
    let only_cmd = ProcessRefreshKind::nothing().with_cmd(UpdateKind::Always);
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), true, only_cmd);
    let process = system.process(pid).filter(|p| !matches!(p.status(), ProcessStatus::Zombie | ProcessStatus::Dead))?;
    let words: Vec<String> = process.cmd().iter().map(|w| w.to_string_lossy().into_owned()).collect();
    Some(if words.is_empty() { process.name().to_string_lossy().into_owned() } else { words.join(" ") })
}

#[cfg(not(windows))]
fn windows_cmdline(_pid: u32) -> Option<String> {
    None
}

/// Whether `pid` is alive (not a zombie).
pub fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // state is the field after the parenthesised command name
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|st| st != "Z" && st != "X"),
            Err(_) => false,
        }
    } else {
        cmdline(pid).is_some()
    }
}

/// The pid recorded in `pid_file` when that process is alive and its command line contains
/// `program` and the pid file's path. A stale file is removed.
pub fn live_pid(pid_file: &Path, program: &str) -> Option<u32> {
    let pid = read_pid(pid_file)?;
    let ours =
        alive(pid) && cmdline(pid).is_some_and(|c| c.contains(program) && c.contains(&*pid_file.to_string_lossy()));
    if ours {
        Some(pid)
    } else {
        tracing::info!(pid, file = %pid_file.display(), "removing stale pid file");
        let _ = std::fs::remove_file(pid_file);
        None
    }
}

/// Sends SIGTERM (`force` = SIGKILL).
pub fn signal(pid: u32, force: bool) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let p = rustix::process::Pid::from_raw(i32::try_from(pid).map_err(std::io::Error::other)?)
            .ok_or_else(|| std::io::Error::other("pid 0"))?;
        let sig = if force { rustix::process::Signal::KILL } else { rustix::process::Signal::TERM };
        rustix::process::kill_process(p, sig).map_err(std::io::Error::from)
    }
    #[cfg(not(unix))]
    {
        let _ = force;
        let status = std::process::Command::new("taskkill").args(["/F", "/PID", &pid.to_string()]).status()?;
        if status.success() { Ok(()) } else { Err(std::io::Error::other("taskkill failed")) }
    }
}

/// Waits until `pid` is gone, up to `timeout`.
pub async fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while alive(pid) {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

/// Removes a stale unix socket file (only if nothing answers on it).
#[cfg(unix)]
pub fn remove_stale_socket(path: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("{} is in use by a running process", path.display()),
        ));
    }
    std::fs::remove_file(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_resident_memory() {
        let kib = resident_kib(std::process::id()).unwrap();
        assert!(kib > 100, "this test process is resident: {kib} KiB");
        assert_eq!(resident_kib(u32::MAX), None);
    }

    /// The flag reaches a child through exec (the kernel shows it in the child's status).
    #[cfg(target_os = "linux")]
    #[test]
    fn huge_pages_off_is_inherited_by_a_child() {
        let thp_of_child = || {
            let out = std::process::Command::new("grep").args(["THP_enabled", "/proc/self/status"]).output().unwrap();
            String::from_utf8_lossy(&out.stdout).split_whitespace().last().unwrap_or("").to_owned()
        };
        set_huge_pages_disabled(true).unwrap();
        let off = thp_of_child();
        set_huge_pages_disabled(false).unwrap();
        let on = thp_of_child();
        assert_eq!((off.as_str(), on.as_str()), ("0", "1"));
    }

    #[test]
    fn stale_pid_files_are_removed() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("qemu.pid");
        std::fs::write(&f, "999999999\n").unwrap();
        assert_eq!(live_pid(&f, "qemu"), None);
        assert!(!f.exists());
        // our own pid is alive but is not qemu with this pid file
        std::fs::write(&f, std::process::id().to_string()).unwrap();
        assert_eq!(live_pid(&f, "qemu-system"), None);
        assert!(!f.exists());
        assert!(alive(std::process::id()));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_matching_process_is_live() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("sleep.pid");
        let mut child =
            std::process::Command::new("sh").args(["-c", "sleep 30; true", f.to_str().unwrap()]).spawn().unwrap();
        std::fs::write(&f, child.id().to_string()).unwrap();
        // between fork and exec the child's command line is still this test binary's
        for _ in 0..100 {
            if cmdline(child.id()).is_some_and(|c| c.contains("sleep 30")) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(live_pid(&f, "sleep 30; true"), Some(child.id()));
        signal(child.id(), true).unwrap();
        let _ = child.wait();
        assert_eq!(live_pid(&f, "sleep 30; true"), None);
    }
}

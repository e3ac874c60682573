//! Ending a host terminal's programs on Unix. The shell is started as the leader of a new
//! session (and process group) whose controlling terminal is the PTY, so its process id names
//! both; programs it runs as jobs get their own process groups but stay in its session.

use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process, kill_process_group};
use sysinfo::{ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System};

/// `pid` as rustix's type; never 1 (init: a signal to its "group" would go to every process).
fn pid_of(pid: u32) -> Option<Pid> {
    i32::try_from(pid).ok().filter(|p| *p > 1).and_then(Pid::from_raw)
}

/// Sends SIGHUP to the shell's process group, as closing a terminal window does.
pub fn hang_up_group(pid: u32) {
    if let Some(group) = pid_of(pid) {
        let _ = kill_process_group(group, Signal::HUP);
    }
}

/// Sends SIGKILL to the shell's process group.
pub fn kill_group(pid: u32) {
    if let Some(group) = pid_of(pid) {
        let _ = kill_process_group(group, Signal::KILL);
    }
}

/// The live (not zombie) processes of session `sid`.
pub fn session_members(sid: u32) -> Vec<u32> {
    let Ok(mut system) = System::new() else { return Vec::new() };
    system.refresh_processes_specifics(ProcessesToUpdate::All, true, ProcessRefreshKind::nothing());
    system
        .processes()
        .iter()
        .filter(|(_, p)| p.session_id().is_some_and(|s| s.as_u32() == sid))
        .filter(|(_, p)| !matches!(p.status(), ProcessStatus::Zombie | ProcessStatus::Dead))
        .map(|(pid, _)| pid.as_u32())
        .collect()
}

/// Ends what is left in session `sid` once its shell is gone: SIGHUP to each, then SIGKILL to
/// those still running after `grace`.
pub fn end_session(sid: u32, grace: Duration) {
    let signal_all = |members: &[u32], signal: Signal| {
        for pid in members.iter().copied().filter_map(pid_of) {
            let _ = kill_process(pid, signal);
        }
    };
    let members = session_members(sid);
    if members.is_empty() {
        return;
    }
    signal_all(&members, Signal::HUP);
    let deadline = Instant::now() + grace;
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let left = session_members(sid);
        if left.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            tracing::info!(sid, left = left.len(), "programs of the host terminal ignored the hang-up: killing them");
            signal_all(&left, Signal::KILL);
            return;
        }
    }
}

//! A VM that QEMU paused: when this computer's disk is full, a write to the data disk fails
//! with ENOSPC and QEMU stops the guest (its default `werror=enospc`, status `io-error`) instead
//! of corrupting it. The agent hears it from QEMU's events (`BLOCK_IO_ERROR`, `STOP`, `RESUME`,
//! on a monitor of its own), reports why as a Degraded reason, and resumes the VM (QMP `cont`,
//! which retries the failed writes) once enough space is free again. Free space is the one
//! thing QEMU cannot announce: it is checked every few seconds, and only while the VM is paused.

use std::path::Path;
use std::time::Duration;

use gantry_machine::qmp::{EVENT_BLOCK_IO_ERROR, EVENT_RESUME, EVENT_STOP, Event, Qmp};

use super::Shared;

/// How often the free space is checked while the VM is paused.
const SPACE_CHECK: Duration = Duration::from_secs(2);
/// Wait before connecting to the events monitor again.
const RECONNECT: Duration = Duration::from_secs(2);
/// Free space needed before resuming (below it the guest would stop again at once).
pub(super) const RESUME_FREE_BYTES: u64 = 64 << 20;

/// The last disk error QEMU reported (`BLOCK_IO_ERROR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IoError {
    /// The host's disk is full (QEMU's `nospace`).
    pub nospace: bool,
    /// The system's words, e.g. "No space left on device".
    pub reason: String,
}

impl IoError {
    pub(super) fn from_event(ev: &Event) -> Option<Self> {
        (ev.name == EVENT_BLOCK_IO_ERROR).then(|| IoError {
            nospace: ev.data.get("nospace").and_then(serde_json::Value::as_bool).unwrap_or(false),
            reason: ev.data.get("reason").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned(),
        })
    }
}

/// What to do about QEMU's run state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    /// Running (or a state that is not ours to act on): no problem to report.
    Clear,
    /// Paused by a write error: report `reason`; resume when `resume`.
    Paused { reason: String, resume: bool },
}

/// The decision, as a pure function of QEMU's status, the last disk error it reported, and the
/// free space on the filesystem holding the data disk `disk`.
pub(super) fn decide(status: &str, io: Option<&IoError>, free: Option<u64>, disk: &Path) -> Action {
    if status != "io-error" {
        return Action::Clear;
    }
    let mib = |b: u64| b >> 20;
    let tail = "free some space and it resumes by itself";
    let reason = match (io, free) {
        (Some(e), _) if !e.nospace && !e.reason.is_empty() => {
            format!("the VM is paused: writing its data disk {} failed ({}); {tail}", disk.display(), e.reason)
        }
        (_, Some(f)) => format!(
            "the VM is paused: this computer's disk holding {} is full ({} MiB free); {tail}",
            disk.display(),
            mib(f)
        ),
        (_, None) => format!("the VM is paused: writing its data disk {} failed (disk full?); {tail}", disk.display()),
    };
    Action::Paused { reason, resume: free.is_some_and(|f| f >= RESUME_FREE_BYTES) }
}

/// Follows QEMU's events until the task is cancelled (reconnecting if the monitor goes away).
pub(super) async fn watch(shared: &Shared) {
    let (mut connected, mut told) = (false, false);
    loop {
        match shared.driver.events_qmp().await {
            Ok(mut q) => {
                connected = true;
                if let Err(e) = follow(shared, &mut q).await {
                    tracing::debug!(error = %e, "events monitor");
                }
            }
            // said once, and only before the first session (afterwards QEMU is going away)
            Err(e) if !told && !connected => {
                told = true;
                if shared.instance.qmp_events_socket().exists() {
                    tracing::warn!(error = %e, "cannot follow QEMU's events");
                } else if let Ok(mut i) = shared.info.lock() {
                    // a VM booted by an older Gantry: it has no events monitor
                    i.warnings.push(
                        "this VM was started by an older Gantry: a full disk pausing it is not reported until it restarts"
                            .into(),
                    );
                }
            }
            Err(_) => {}
        }
        tokio::time::sleep(RECONNECT).await;
    }
}

/// One session on the events monitor: the state now (a pause may have happened before this
/// agent listened), then each event.
async fn follow(shared: &Shared, q: &mut Qmp) -> gantry_machine::Result<()> {
    let disk = shared.instance.disk();
    let mut io: Option<IoError> = None;
    let mut status = q.status().await?;
    loop {
        let paused = match decide(&status, io.as_ref(), free_bytes(shared.instance.dir()), &disk) {
            Action::Clear => {
                shared.set_paused(None);
                false
            }
            Action::Paused { reason, resume } => {
                if shared.paused.lock().is_ok_and(|p| p.is_none()) {
                    tracing::warn!(%reason, "VM paused");
                }
                shared.set_paused(Some(reason));
                if resume {
                    tracing::info!("space is free again: resuming the VM");
                    if let Err(e) = q.execute("cont", None).await {
                        tracing::warn!(error = %e, "cont failed");
                    }
                    status = q.status().await?;
                    continue;
                }
                true
            }
        };
        let event = if paused {
            tokio::select! {
                ev = q.next_event() => Some(ev?),
                () = tokio::time::sleep(SPACE_CHECK) => None,
            }
        } else {
            Some(q.next_event().await?)
        };
        let Some(ev) = event else { continue };
        if let Some(e) = IoError::from_event(&ev) {
            io = Some(e);
        }
        if [EVENT_STOP, EVENT_RESUME, EVENT_BLOCK_IO_ERROR].contains(&ev.name.as_str()) {
            status = q.status().await?;
            if status == "running" {
                io = None;
                tracing::info!("the VM runs again");
            }
        }
    }
}

#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}
#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paused_vm_is_reported_and_resumed_only_with_space() {
        let disk = Path::new("/h/disk.qcow2");
        assert_eq!(decide("running", None, Some(0), disk), Action::Clear);
        assert_eq!(decide("paused", None, Some(0), disk), Action::Clear, "paused by someone else: not ours");
        match decide("io-error", None, Some(1 << 20), disk) {
            Action::Paused { reason, resume } => {
                assert!(reason.contains("paused") && reason.contains("full (1 MiB free)"), "{reason}");
                assert!(reason.contains("/h/disk.qcow2"), "{reason}");
                assert!(!resume);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(decide("io-error", None, Some(RESUME_FREE_BYTES), disk), Action::Paused { resume: true, .. }));
        assert!(matches!(decide("io-error", None, None, disk), Action::Paused { resume: false, .. }));
    }

    #[test]
    fn the_reason_comes_from_qemus_event() {
        let disk = Path::new("/h/disk.qcow2");
        let event = |data: serde_json::Value| Event { name: EVENT_BLOCK_IO_ERROR.into(), data };
        // as QEMU sends it when the host's disk is full
        let full = IoError::from_event(&event(serde_json::json!({
            "device": "", "node-name": "#block391", "operation": "write", "action": "stop",
            "nospace": true, "reason": "No space left on device"
        })));
        assert_eq!(full, Some(IoError { nospace: true, reason: "No space left on device".into() }));
        let Action::Paused { reason, .. } = decide("io-error", full.as_ref(), Some(3 << 20), disk) else { panic!() };
        assert!(reason.contains("is full (3 MiB free)"), "{reason}");
        // another write error says what failed
        let other = IoError::from_event(&event(serde_json::json!({"action": "stop", "reason": "Input/output error"})));
        let Action::Paused { reason, .. } = decide("io-error", other.as_ref(), Some(1 << 30), disk) else { panic!() };
        assert!(reason.contains("failed (Input/output error)"), "{reason}");
        assert_eq!(IoError::from_event(&Event { name: EVENT_STOP.into(), data: serde_json::Value::Null }), None);
    }
}

//! The VM's run state and events, as the agent needs them to report a VM the hypervisor paused
//! (this computer's disk is full) and to resume it: [`VmEvents`], with QEMU's implementation over
//! its events monitor ([`QmpEvents`]) and [`NoEvents`] for drivers without such events.

use std::future::Future;

use crate::error::{MachineError, Result};
use crate::qmp::{EVENT_BLOCK_IO_ERROR, EVENT_RESUME, EVENT_STOP, Event, Qmp};

/// Whether the guest runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestRun {
    Running,
    /// Stopped by the hypervisor because a write to a disk failed (QEMU's `io-error`).
    PausedByDiskError,
    /// Any other state, in the hypervisor's words (`paused` by someone else, `shutdown`, ...):
    /// not the agent's to act on.
    Other(String),
}

impl GuestRun {
    /// From QEMU's `query-status` `status`.
    pub fn from_qemu(status: &str) -> Self {
        match status {
            "running" => Self::Running,
            "io-error" => Self::PausedByDiskError,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// The last disk error the hypervisor reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskError {
    /// This computer's disk is full (QEMU's `nospace`).
    pub nospace: bool,
    /// The system's words, e.g. "No space left on device".
    pub reason: String,
}

impl DiskError {
    /// From QEMU's `BLOCK_IO_ERROR` event; `None` for any other event.
    pub fn from_qmp(ev: &Event) -> Option<Self> {
        (ev.name == EVENT_BLOCK_IO_ERROR).then(|| DiskError {
            nospace: ev.data.get("nospace").and_then(serde_json::Value::as_bool).unwrap_or(false),
            reason: ev.data.get("reason").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned(),
        })
    }
}

/// One event about the VM's run state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmEvent {
    /// The guest stopped running (QEMU's `STOP`).
    Stopped,
    /// It runs again (`RESUME`).
    Resumed,
    /// A disk write failed (`BLOCK_IO_ERROR`).
    DiskError(DiskError),
    /// Anything else the hypervisor announced (ignored).
    Other,
}

impl VmEvent {
    /// From a QEMU event.
    pub fn from_qmp(ev: &Event) -> Self {
        if let Some(e) = DiskError::from_qmp(ev) {
            return Self::DiskError(e);
        }
        match ev.name.as_str() {
            EVENT_STOP => Self::Stopped,
            EVENT_RESUME => Self::Resumed,
            _ => Self::Other,
        }
    }
}

/// A session on the VM's events: its state now, each event, and a resume.
pub trait VmEvents: Send {
    /// The state now.
    fn run_state(&mut self) -> impl Future<Output = Result<GuestRun>> + Send;
    /// The next event (cancel-safe: a `select!` may drop it while waiting).
    fn next_event(&mut self) -> impl Future<Output = Result<VmEvent>> + Send;
    /// Resumes a paused guest (QEMU's `cont` retries the writes that failed).
    fn resume(&mut self) -> impl Future<Output = Result<()>> + Send;
}

/// QEMU's events monitor (`qmp-events.sock`, one client at a time).
pub struct QmpEvents(pub Qmp);

impl VmEvents for QmpEvents {
    async fn run_state(&mut self) -> Result<GuestRun> {
        Ok(GuestRun::from_qemu(&self.0.status().await?))
    }
    async fn next_event(&mut self) -> Result<VmEvent> {
        Ok(VmEvent::from_qmp(&self.0.next_event().await?))
    }
    async fn resume(&mut self) -> Result<()> {
        self.0.execute("cont", None).await.map(drop)
    }
}

/// The events of a driver that has none ([`super::Features::pause_events`] is false): it cannot
/// be made, so its methods never run.
#[derive(Debug)]
pub enum NoEvents {}

impl VmEvents for NoEvents {
    async fn run_state(&mut self) -> Result<GuestRun> {
        match *self {}
    }
    async fn next_event(&mut self) -> Result<VmEvent> {
        match *self {}
    }
    async fn resume(&mut self) -> Result<()> {
        match *self {}
    }
}

/// The error of [`super::Driver::events`] on a driver without events.
pub(crate) fn unsupported(driver: &str) -> MachineError {
    MachineError::Unsupported { what: format!("VM events with the {driver} driver") }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn qemu_words_become_run_states_and_events() {
        assert_eq!(GuestRun::from_qemu("running"), GuestRun::Running);
        assert_eq!(GuestRun::from_qemu("io-error"), GuestRun::PausedByDiskError);
        assert_eq!(GuestRun::from_qemu("paused"), GuestRun::Other("paused".into()));
        let event = |name: &str, data: serde_json::Value| Event { name: name.into(), data };
        // as QEMU sends it when the host's disk is full
        let full = event(
            EVENT_BLOCK_IO_ERROR,
            serde_json::json!({
                "device": "", "node-name": "#block391", "operation": "write", "action": "stop",
                "nospace": true, "reason": "No space left on device"
            }),
        );
        assert_eq!(
            VmEvent::from_qmp(&full),
            VmEvent::DiskError(DiskError { nospace: true, reason: "No space left on device".into() })
        );
        let other = event(EVENT_BLOCK_IO_ERROR, serde_json::json!({"action": "stop", "reason": "Input/output error"}));
        assert_eq!(
            DiskError::from_qmp(&other),
            Some(DiskError { nospace: false, reason: "Input/output error".into() })
        );
        assert_eq!(VmEvent::from_qmp(&event(EVENT_STOP, serde_json::Value::Null)), VmEvent::Stopped);
        assert_eq!(VmEvent::from_qmp(&event(EVENT_RESUME, serde_json::Value::Null)), VmEvent::Resumed);
        assert_eq!(VmEvent::from_qmp(&event("SHUTDOWN", serde_json::Value::Null)), VmEvent::Other);
        assert_eq!(DiskError::from_qmp(&event(EVENT_STOP, serde_json::Value::Null)), None);
    }
}

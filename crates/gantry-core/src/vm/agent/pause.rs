//! A VM that the hypervisor paused: when this computer's disk is full, a write to the data disk
//! fails with ENOSPC and QEMU stops the guest (its default `werror=enospc`, status `io-error`)
//! instead of corrupting it. The agent hears it from the driver's events
//! ([`Driver::events`]: QEMU's `BLOCK_IO_ERROR`, `STOP`, `RESUME` on a monitor of its own),
//! reports why as a Degraded reason, and resumes the VM (QMP `cont`, which retries the failed
//! writes) once enough space is free again. Free space is the one thing QEMU cannot announce:
//! it is checked every few seconds, and only while the VM is paused. Only for drivers with
//! [`gantry_machine::driver::Features::pause_events`].

use std::path::Path;
use std::time::Duration;

use gantry_machine::MachineError;
use gantry_machine::driver::{DiskError, Driver, GuestRun, VmEvent, VmEvents};

use super::Shared;

/// How often the free space is checked while the VM is paused.
const SPACE_CHECK: Duration = Duration::from_secs(2);
/// Wait before connecting to the events monitor again.
const RECONNECT: Duration = Duration::from_secs(2);
/// Free space needed before resuming (below it the guest would stop again at once).
pub(super) const RESUME_FREE_BYTES: u64 = 64 << 20;

/// What to do about the VM's run state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    /// Running (or a state that is not ours to act on): no problem to report.
    Clear,
    /// Paused by a write error: report `reason`; resume when `resume`.
    Paused { reason: String, resume: bool },
}

/// The decision, as a pure function of the VM's run state, the last disk error reported, and
/// the free space on the filesystem holding the data disk `disk`.
pub(super) fn decide(run: &GuestRun, io: Option<&DiskError>, free: Option<u64>, disk: &Path) -> Action {
    if *run != GuestRun::PausedByDiskError {
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

/// Follows the VM's events until the task is cancelled (reconnecting if the monitor goes away).
pub(super) async fn watch<D: Driver>(shared: &Shared<D>) {
    let (mut connected, mut told) = (false, false);
    loop {
        match shared.driver.events().await {
            Ok(mut events) => {
                connected = true;
                if let Err(e) = follow(shared, &mut events).await {
                    tracing::debug!(error = %e, "events monitor");
                }
            }
            // said once, and only before the first session (afterwards the VM is going away)
            Err(e) if !told && !connected => {
                told = true;
                match e {
                    // this VM has no events (one booted by an older Gantry): the user is told
                    MachineError::Unsupported { what } => {
                        if let Ok(mut i) = shared.info.lock() {
                            i.warnings.push(what);
                        }
                    }
                    e => tracing::warn!(error = %e, "cannot follow the VM's events"),
                }
            }
            Err(_) => {}
        }
        tokio::time::sleep(RECONNECT).await;
    }
}

/// One session on the events: the state now (a pause may have happened before this agent
/// listened), then each event.
async fn follow<D: Driver>(shared: &Shared<D>, q: &mut D::Events) -> gantry_machine::Result<()> {
    let disk = shared.instance.disk();
    let mut io: Option<DiskError> = None;
    let mut run = q.run_state().await?;
    loop {
        let paused = match decide(&run, io.as_ref(), free_bytes(shared.instance.dir()), &disk) {
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
                    if let Err(e) = q.resume().await {
                        tracing::warn!(error = %e, "resume failed");
                    }
                    run = q.run_state().await?;
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
        match ev {
            VmEvent::Other => continue,
            VmEvent::DiskError(e) => io = Some(e),
            VmEvent::Stopped | VmEvent::Resumed => {}
        }
        run = q.run_state().await?;
        if run == GuestRun::Running {
            io = None;
            tracing::info!("the VM runs again");
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
        let paused = GuestRun::PausedByDiskError;
        assert_eq!(decide(&GuestRun::Running, None, Some(0), disk), Action::Clear);
        assert_eq!(
            decide(&GuestRun::Other("paused".into()), None, Some(0), disk),
            Action::Clear,
            "paused by someone else: not ours"
        );
        match decide(&paused, None, Some(1 << 20), disk) {
            Action::Paused { reason, resume } => {
                assert!(reason.contains("paused") && reason.contains("full (1 MiB free)"), "{reason}");
                assert!(reason.contains("/h/disk.qcow2"), "{reason}");
                assert!(!resume);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(decide(&paused, None, Some(RESUME_FREE_BYTES), disk), Action::Paused { resume: true, .. }));
        assert!(matches!(decide(&paused, None, None, disk), Action::Paused { resume: false, .. }));
    }

    #[test]
    fn the_reason_comes_from_the_disk_error_event() {
        let disk = Path::new("/h/disk.qcow2");
        let paused = GuestRun::PausedByDiskError;
        // as QEMU reports it when the host's disk is full (parsed in gantry-machine's driver::events)
        let full = DiskError { nospace: true, reason: "No space left on device".into() };
        let Action::Paused { reason, .. } = decide(&paused, Some(&full), Some(3 << 20), disk) else { panic!() };
        assert!(reason.contains("is full (3 MiB free)"), "{reason}");
        // another write error says what failed
        let other = DiskError { nospace: false, reason: "Input/output error".into() };
        let Action::Paused { reason, .. } = decide(&paused, Some(&other), Some(1 << 30), disk) else { panic!() };
        assert!(reason.contains("failed (Input/output error)"), "{reason}");
    }

    use super::super::fake_driver::{FakeDriver, Script};
    use crate::vm::status::{RunningInfo, VmStatus};
    use gantry_machine::instance::Instance;

    const BOUND: Duration = Duration::from_secs(30);

    /// The watcher against the Driver trait alone (a scripted driver, no QEMU): a VM found paused
    /// by a disk error is reported, resumed once there is room, and reported running again.
    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn a_vm_paused_by_a_full_disk_is_reported_then_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let inst = Instance::at(dir.path().join("default"));
        std::fs::create_dir_all(inst.dir()).unwrap();
        let free = free_bytes(inst.dir());
        if free.is_none_or(|f| f < RESUME_FREE_BYTES) {
            gantry_testkit::skip::skipped("pause watcher", "less than 64 MiB free in the temporary directory");
            return;
        }
        let driver =
            FakeDriver::new(Script { runs: vec![GuestRun::PausedByDiskError, GuestRun::Running], ..Script::default() });
        let resumed = driver.resumed.clone();
        let shared = Shared::new(&inst, driver, VmStatus::Running(RunningInfo::default()), RunningInfo::default());
        let mut statuses = shared.tx.subscribe();
        let s = shared.clone();
        let task = tokio::spawn(async move { watch(&s).await });
        let first = tokio::time::timeout(BOUND, statuses.recv()).await.unwrap().unwrap();
        match first {
            VmStatus::Degraded { reasons, .. } => {
                assert!(reasons[0].contains("the VM is paused") && reasons[0].contains("is full"), "{reasons:?}");
            }
            other => panic!("{other:?}"),
        }
        let second = tokio::time::timeout(BOUND, statuses.recv()).await.unwrap().unwrap();
        assert!(matches!(second, VmStatus::Running(_)), "{second:?}");
        assert_eq!(resumed.load(std::sync::atomic::Ordering::SeqCst), 1);
        task.abort();
    }

    /// A VM without events (one booted by an older Gantry) says so once, as a warning.
    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn a_vm_without_events_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let inst = Instance::at(dir.path().join("default"));
        let driver = FakeDriver::new(Script { unsupported: Some("no events here".into()), ..Script::default() });
        let shared = Shared::new(&inst, driver, VmStatus::Running(RunningInfo::default()), RunningInfo::default());
        let s = shared.clone();
        let task = tokio::spawn(async move { watch(&s).await });
        let warned = tokio::time::timeout(BOUND, async {
            loop {
                if shared.info().warnings == ["no events here"] {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        task.abort();
        assert!(warned.is_ok(), "warnings: {:?}", shared.info().warnings);
    }
}

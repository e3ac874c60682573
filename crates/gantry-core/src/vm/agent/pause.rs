//! A VM that QEMU paused: when this computer's disk is full, a write to the data disk fails
//! with ENOSPC and QEMU stops the guest (its default `werror=enospc`, status `io-error`) instead
//! of corrupting it. The status then says why (Degraded, not Running), and the VM is resumed
//! (QMP `cont`, which retries the failed writes) once enough space is free again.

use std::time::Duration;

use super::Shared;

/// How often QEMU's run state is asked.
const POLL: Duration = Duration::from_secs(2);
/// Free space needed before resuming (below it the guest would stop again at once).
pub(super) const RESUME_FREE_BYTES: u64 = 64 << 20;

/// What to do about QEMU's run state `status` with `free` bytes free on the disk's filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    /// Running (or a state that is not ours to act on): no problem to report.
    Clear,
    /// Paused by a write error: report it; resume when `resume`.
    Paused { reason: String, resume: bool },
}

/// The decision, as a pure function of QEMU's status and the free space.
pub(super) fn decide(status: &str, free: Option<u64>, disk: &std::path::Path) -> Action {
    if status != "io-error" {
        return Action::Clear;
    }
    let mib = |b: u64| b >> 20;
    let reason = match free {
        Some(f) => format!(
            "the VM is paused: this computer's disk holding {} is full ({} MiB free); free some space and it resumes by itself",
            disk.display(),
            mib(f)
        ),
        None => format!(
            "the VM is paused: writing its data disk {} failed (disk full?); free some space and it resumes by itself",
            disk.display()
        ),
    };
    Action::Paused { reason, resume: free.is_some_and(|f| f >= RESUME_FREE_BYTES) }
}

/// Watches QEMU's run state until the task is cancelled.
pub(super) async fn watch(shared: &Shared) {
    let disk = shared.instance.disk();
    let mut paused = false;
    loop {
        tokio::time::sleep(POLL).await;
        let status = match shared.driver.qmp().await {
            Ok(mut q) => q.status().await,
            Err(e) => Err(e),
        };
        let Ok(status) = status else { continue };
        match decide(&status, free_bytes(shared.instance.dir()), &disk) {
            Action::Clear => {
                if paused {
                    tracing::info!("the VM runs again");
                    paused = false;
                    shared.set_vm_problems(Vec::new());
                }
            }
            Action::Paused { reason, resume } => {
                if !paused {
                    tracing::warn!(%reason, "VM paused");
                    paused = true;
                }
                shared.set_vm_problems(vec![reason]);
                if resume {
                    tracing::info!("space is free again: resuming the VM");
                    if let Ok(mut q) = shared.driver.qmp().await
                        && let Err(e) = q.execute("cont", None).await
                    {
                        tracing::warn!(error = %e, "cont failed");
                    }
                }
            }
        }
    }
}

#[cfg(unix)]
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}
#[cfg(not(unix))]
fn free_bytes(_dir: &std::path::Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paused_vm_is_reported_and_resumed_only_with_space() {
        let disk = std::path::Path::new("/h/disk.qcow2");
        assert_eq!(decide("running", Some(0), disk), Action::Clear);
        assert_eq!(decide("paused", Some(0), disk), Action::Clear);
        match decide("io-error", Some(1 << 20), disk) {
            Action::Paused { reason, resume } => {
                assert!(
                    reason.contains("paused") && reason.contains("full") && reason.contains("/h/disk.qcow2"),
                    "{reason}"
                );
                assert!(!resume);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(decide("io-error", Some(RESUME_FREE_BYTES), disk), Action::Paused { resume: true, .. }));
        assert!(matches!(decide("io-error", None, disk), Action::Paused { resume: false, .. }));
    }
}

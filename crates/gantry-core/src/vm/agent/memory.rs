//! The start-up caches given back to the host once the engine answers
//! ([`gantry_machine::memory`]): the balloon inflated once, then deflated; QEMU's resident memory
//! before and after is published in the running status (`gantry vm-status --json`).

use std::sync::Arc;
use std::time::Duration;

use gantry_engine::CancellationToken;
use gantry_machine::driver::Driver;
use gantry_machine::process;

use super::Shared;
use crate::vm::status::CachesGivenBack;

/// Bound on each half of the squeeze (inflating, deflating); under TCG it takes seconds.
const BOUND: Duration = Duration::from_secs(60);

/// Squeezes the guest's caches out once; the outcome goes to the running status (a failure only
/// to the log: the VM runs as before, with its caches). A stop (`cancel`) ends it where it is:
/// the monitor is free for the stop at once, and a stop that saves the VM gives the guest its
/// memory back first.
pub(super) async fn give_back_boot_caches<D: Driver>(
    shared: Arc<Shared<D>>,
    guest_mib: u64,
    qemu_pid: u32,
    cancel: CancellationToken,
) {
    let before = process::resident_kib(qemu_pid);
    let squeezed = tokio::select! {
        r = shared.driver.give_back_memory(guest_mib, BOUND) => r,
        () = cancel.cancelled() => {
            tracing::info!("the start-up squeeze ends here: the VM stops");
            return;
        }
    };
    match squeezed {
        Ok(squeezed) => {
            let after = process::resident_kib(qemu_pid);
            tracing::info!(?before, ?after, ?squeezed, "start-up caches given back (QEMU RSS in KiB)");
            let given = CachesGivenBack {
                qemu_rss_before_mib: before.map(|k| k / 1024),
                qemu_rss_after_mib: after.map(|k| k / 1024),
                guest_lowest_mib: squeezed.lowest_mib,
                took_ms: u64::try_from(squeezed.took.as_millis()).unwrap_or(u64::MAX),
            };
            if let Ok(mut i) = shared.info.lock() {
                i.caches_given_back = Some(given);
            }
            if shared.current.borrow().is_up() {
                shared.publish_running();
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not give the start-up caches back (the VM keeps them)"),
    }
}

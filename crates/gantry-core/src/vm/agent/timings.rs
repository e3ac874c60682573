//! The host's marks of one start, taken as the chain reaches them, turned into phases with the
//! guest's own stamps from the console ([`gantry_machine::boot_timings`]).

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gantry_machine::boot_timings::{self, BootPhase, HostMarks};

/// A start's clock: its beginning and each mark reached since.
pub(super) struct StartClock {
    t0: Instant,
    marks: Mutex<HostMarks>,
}

impl StartClock {
    pub(super) fn new() -> Self {
        Self { t0: Instant::now(), marks: Mutex::new(HostMarks::default()) }
    }

    /// Records now as the mark `which` picks.
    pub(super) fn mark(&self, which: impl FnOnce(&mut HostMarks) -> &mut Option<Duration>) {
        let now = self.t0.elapsed();
        if let Ok(mut m) = self.marks.lock() {
            *which(&mut m) = Some(now);
        }
    }

    /// QEMU launched (again, after a fall-back): the guest's marks of an earlier launch no
    /// longer count.
    pub(super) fn launched(&self) {
        self.mark(|m| {
            m.console_alive = None;
            m.engine_ready = None;
            m.state_loaded = None;
            m.restored = None;
            &mut m.launched
        });
    }

    /// The phases so far, with the guest's stamps read from its console log.
    pub(super) fn phases(&self, console_log: &Path) -> Vec<BootPhase> {
        let console = std::fs::read_to_string(console_log).unwrap_or_default();
        let host = self.marks.lock().map(|m| *m).unwrap_or_default();
        boot_timings::phases(&host, &boot_timings::guest_marks(&console))
    }
}

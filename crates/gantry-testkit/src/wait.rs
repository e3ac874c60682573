//! Waiting for a condition in tests.

use std::time::{Duration, Instant};

/// Polls `check` every 100 ms until it returns true; `Err` naming `what` after `bound`. The
/// bound only keeps a broken test from hanging: it is not a performance claim.
pub fn until(what: &str, bound: Duration, mut check: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + bound;
    loop {
        if check() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("gave up waiting for {what} after {} s", bound.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

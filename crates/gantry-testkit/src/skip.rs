//! Tests that do not run here say so: `SKIPPED: <test>: <why>` on stderr (visible with
//! `--nocapture`) and a record in the reliability log, which the test summary counts and lists,
//! so a switched-off test never passes silently.

/// Says that `test` was skipped and why; call it right before returning early.
pub fn skipped(test: &str, why: &str) {
    eprintln!("SKIPPED: {test}: {why}");
    crate::reliability::skipped(test, why);
}

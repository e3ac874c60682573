//! Tests that do not run here say so: `SKIPPED: <test>: <why>` on stderr (visible with
//! `--nocapture`) and a record in the reliability log, which the test summary counts and lists,
//! so a switched-off test never passes silently.

/// Says that `test` was skipped and why; call it right before returning early.
pub fn skipped(test: &str, why: &str) {
    eprintln!("SKIPPED: {test}: {why}");
    crate::reliability::skipped(test, why);
}

/// Whether this run is CI's (`CI=true`, as `.ci/run` sets it).
pub fn in_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true" | "1"))
}

/// [`skipped`] for a prerequisite the test command installs and verifies (e.g. Debian's
/// docker-registry): a local run without it skips; under CI its absence is a failure.
pub fn skipped_unless_ci(test: &str, why: &str) {
    assert!(!in_ci(), "{test}: {why}; ./scripts/test installs it, so under CI this is a broken setup, not a skip");
    skipped(test, why);
}

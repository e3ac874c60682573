//! Property tests and fuzzing on stable Rust, through `proptest`, with the count recorded.
//!
//! [`check`] runs a property over generated inputs (`PROPTEST_CASES`, default 256, sets how
//! many), fails the test with the smallest failing input proptest finds, keeps that input in
//! `NAME.proptest-regressions` beside the test file (commit it: it is replayed first on every run),
//! and records the target with [`crate::reliability::fuzz`].

pub use proptest;
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};

/// Runs `property` on inputs from `strategy`. `source_file` is the test's `file!()` (where the
/// regression file goes); `crashers_fixed` is how many failing inputs this target has found and
/// had fixed so far (the regression cases kept for it).
pub fn check<S: Strategy>(
    target: &str,
    source_file: &'static str,
    crashers_fixed: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let config = Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..Config::with_source_file(source_file)
    };
    let cases = config.cases;
    let mut runner = TestRunner::new(config);
    if let Err(failure) = runner.run(&strategy, property) {
        panic!("{target}: {failure}");
    }
    crate::reliability::fuzz(target, u64::from(cases), crashers_fixed);
}

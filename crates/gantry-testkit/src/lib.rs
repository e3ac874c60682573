//! Test support shared by Gantry's test suites. Use it as a `[dev-dependencies]` entry only.
//!
//! - [`bounded`]: child processes killed at a bound and a watchdog for whole tests (never hang; unix);
//! - [`net`]: a free loopback port and a minimal HTTP GET;
//! - [`wait`]: polling until a condition holds (with a bound that fails the test, not a timing claim);
//! - [`images`]: test images made with the docker CLI (built from the fixture, or for another CPU);
//! - [`engine`]: which Docker engine a test may change or prune (only the private one that
//!   `./scripts/test` starts); [`dockerd`]: one more private engine for a test (unix);
//! - [`reliability`]: the fault-scenario and fuzz-target records behind docs/reliability.md;
//! - [`prop`]: property tests (proptest) that record how many inputs they tried;
//! - [`skip`]: a test that cannot run here says so and is counted in the summary;
//! - [`bench`]: percentiles and milliseconds for the benchmarks' tables;
//! - [`wine`]: whether a Windows test runs under Wine (what Wine lacks is checked on Windows only);
//! - [`report`]: docs/reliability.md's tables from a run's records (`reliability-report`);
//! - [`tmpfs`]: a small tmpfs for disk-full fault tests;
//! - [`vm`]: a test's Gantry VM: its logs on failure, stopped whatever happened (unix).

pub mod bench;
#[cfg(unix)]
pub mod bounded;
#[cfg(unix)]
pub mod dockerd;
pub mod engine;
pub mod images;
pub mod labs;
pub mod net;
pub mod prop;
pub mod reliability;
pub mod report;
pub mod skip;
pub mod tmpfs;
#[cfg(unix)]
pub mod vm;
pub mod wait;
pub mod wine;

//! See inside images and builds: what a Dockerfile could do better (with fixes a user previews
//! and applies), what each layer adds and wastes, what an engine event means for the user, and
//! what software an image holds and its known vulnerabilities, and the live picture of containers,
//! ports, networks and volumes.
//!
//! Every result is plain typed data (serde; TypeScript types with the `ts` feature), so the
//! desktop views and the `gantry` CLI are thin renders of the same values.

pub mod dockerfile;
mod error;
pub mod explain;
pub mod image;
pub mod lang;
pub mod lint;
pub mod sbom;
pub mod topology;
pub mod vuln;

pub use error::InsightError;
pub use lang::Lang;
pub use lint::{Finding, LintContext, lint};

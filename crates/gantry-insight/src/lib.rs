//! See inside images and builds: what each layer adds and wastes, what a Dockerfile could do
//! better (with fixes a user previews and applies), what an engine event means for the user, and
//! what software an image holds.
//!
//! Every result is plain typed data (serde; TypeScript types with the `ts` feature), so the
//! desktop views and the `gantry` CLI are thin renders of the same values.

pub mod dockerfile;
pub mod lang;
pub mod lint;

pub use lang::Lang;
pub use lint::{Finding, LintContext, lint};

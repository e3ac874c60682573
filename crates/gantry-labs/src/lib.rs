//! Gantry's labs: learning by doing against the learner's own Docker engine.
//!
//! - the lab format ([`load_lab`], [`Lab`], [`CheckSpec`]): a folder with `lab.toml` and one
//!   Markdown file per step and language, versioned by `format` ([`FORMAT`]);
//! - the catalogue ([`Library`]).
//!
//! docs/labs.md describes the format for authors.

pub mod check;
pub mod checker;
mod error;
pub mod eval;
pub mod lab;
pub mod library;
pub mod lint;
mod load;
pub mod placeholders;
pub mod progress;
pub mod reset;
pub mod runner;
pub mod session;
pub mod size;
pub mod step;
pub mod text;
pub mod view;

pub use check::{Check, CheckSpec};
pub use checker::{LabEvent, evaluate_step, watch};
pub use error::{LabError, Problem, Result};
pub use eval::{CheckResult, CheckStatus, Context};
pub use lab::{FORMAT, Lab, Level, SolutionCommand, Step};
pub use library::{LabSummary, Library};
pub use load::load_lab;
pub use progress::{Progress, ProgressStore, Snapshot};
pub use reset::{ResetPlan, ResetReport, apply_reset, plan_reset, reset_lab};
pub use runner::{TestOptions, TestReport, test_lab};
pub use session::PortChoice;
pub use text::{Lang, Text};

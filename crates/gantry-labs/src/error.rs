//! Errors of the labs library.

use std::fmt;
use std::path::{Path, PathBuf};

use gantry_engine::EngineError;

/// One problem in a lab's files, with the file and line it is on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based line; 0 when the problem is about the file as a whole.
    pub line: usize,
    pub message: String,
}

impl Problem {
    /// A problem at `line` of `file`.
    pub fn new(file: &Path, line: usize, message: impl Into<String>) -> Self {
        Self { file: file.to_path_buf(), line, message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file.display(), self.message)
        }
    }
}

/// Everything that can go wrong with labs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// The lab's files do not follow the lab format; every problem found is listed.
    #[error("the lab in {} has {} problem(s):\n{}", dir.display(), problems.len(), list(problems))]
    Invalid { dir: PathBuf, problems: Vec<Problem> },
    /// The lab is written in a newer format than this Gantry reads.
    #[error("{}: the lab uses format {found}; this Gantry reads formats up to {supported}", file.display())]
    NewerFormat { file: PathBuf, found: u32, supported: u32 },
    /// A file or folder could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// No lab with this id in the catalogue.
    #[error("there is no lab {id:?}")]
    UnknownLab { id: String, known: Vec<String> },
    /// The lab has not been started (no progress recorded).
    #[error("lab {id:?} has not been started")]
    NotStarted { id: String },
    /// A step number or id that the lab does not have.
    #[error("lab {lab:?} has no step {step:?}")]
    UnknownStep { lab: String, step: String },
    /// A solution command could not run or failed.
    #[error("`{command}` failed: {message}")]
    Command { command: String, message: String },
    /// `gantry lab test` found a step that passes before its solution or fails after it.
    #[error("{message}")]
    TestFailed { message: String },
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

impl LabError {
    /// What the user can do about it, in one sentence.
    pub fn hint(&self) -> String {
        match self {
            Self::Invalid { .. } => {
                "Fix the lines named above (docs/labs.md describes the format); `gantry lab lint DIR` checks a lab."
                    .into()
            }
            Self::NewerFormat { .. } => {
                "Update Gantry to open this lab, or ask its author for a version in the older format.".into()
            }
            Self::Io { .. } => "Check that the path exists and that you may read and write it.".into(),
            Self::UnknownLab { known, .. } => format!("Known labs: {} (`gantry lab list`).", known.join(", ")),
            Self::NotStarted { id } => format!("Start it first: `gantry lab start {id}`."),
            Self::UnknownStep { lab, .. } => format!("`gantry lab show {lab}` lists its steps."),
            Self::Command { .. } => {
                "Read the command's output above; the engine must be running and the docker CLI installed.".into()
            }
            Self::TestFailed { .. } => {
                "Fix the step's checks or its solution so that it fails before the solution and passes after.".into()
            }
            Self::Engine(e) => e.hint(),
        }
    }

    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io { action, path: path.to_path_buf(), source }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = LabError> = std::result::Result<T, E>;

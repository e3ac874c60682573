//! Errors of the VM facade and the agent.

use std::path::PathBuf;

use gantry_engine::EngineError;
use gantry_machine::MachineError;

use crate::settings::{SettingsError, SettingsFileError};
use crate::vm::status::Step;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VmError {
    /// A start-up step failed.
    #[error("{step} failed: {source}")]
    Step { step: Step, source: Box<VmError> },
    #[error(transparent)]
    Machine(#[from] MachineError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{}", .errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Settings { errors: Vec<SettingsError> },
    #[error(transparent)]
    SettingsFile(#[from] SettingsFileError),
    #[error("the settings use an existing engine ({endpoint}), not Gantry's VM")]
    NotUsingVm { endpoint: String },
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("the agent: {message}")]
    Agent { message: String, hint: String },
    #[error("{message}")]
    Reported { message: String, hint: String },
}

impl VmError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            Self::Step { source, .. } => source.hint(),
            Self::Machine(e) => e.hint(),
            Self::Engine(e) => e.hint(),
            Self::Settings { errors } => errors.iter().map(|e| e.hint.clone()).collect::<Vec<_>>().join("; "),
            Self::SettingsFile(e) => e.hint(),
            Self::NotUsingVm { .. } => {
                "switch the engine to Gantry's VM in the settings, or use the existing engine directly".into()
            }
            Self::Io { what: "start agent", path, source } if source.kind() == std::io::ErrorKind::NotFound => {
                format!(
                    "{} was not found: install the `gantry` command next to this app or on PATH, or set {} to it",
                    path.display(),
                    crate::vm::GANTRY_BIN_ENV
                )
            }
            Self::Io { .. } => "check permissions and free space in the instance directory".into(),
            Self::Agent { hint, .. } | Self::Reported { hint, .. } => hint.clone(),
        }
    }

    pub(crate) fn at(step: Step) -> impl FnOnce(VmError) -> VmError {
        move |e| VmError::Step { step, source: Box::new(e) }
    }

    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> VmError {
        let path = path.into();
        move |source| VmError::Io { what, path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_agent_program_says_how_to_point_at_it() {
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = VmError::io("start agent", "gantry")(missing);
        assert!(e.hint().contains("GANTRY_BIN"), "{}", e.hint());
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(VmError::io("open", "/x")(denied).hint().contains("permissions"));
    }
}

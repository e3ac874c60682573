//! The one error shape the UI sees: `{ code, message, hint, fields }`, with `code` one of a closed
//! set ([`ErrorCode`]: the engine's codes and Gantry's own).

use gantry_engine::{EngineError, EngineErrorCode};
use gantry_machine::MachineError;
use serde::{Deserialize, Serialize};

use crate::settings::{SettingsError, SettingsFileError};
use crate::vm::VmError;

/// The codes of failures that are Gantry's own (the engine's are [`EngineErrorCode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GantryErrorCode {
    /// One or more fields of a form are wrong (see `fields`).
    Invalid,
    /// The engine is not Gantry's VM, so Gantry does not start, stop or watch it.
    NotManaged,
    /// The settings file cannot be read or written.
    SettingsFile,
    /// The docker credential store (config.json or a credential helper) failed.
    Credentials,
    /// A local file or folder cannot be read or written.
    Io,
    /// A link that is not a local published port.
    InvalidUrl,
    /// A file name that cannot be used.
    InvalidName,
    /// The terminal session has ended.
    TerminalClosed,
    /// The terminal in the app (a shell on this computer) is turned off in Settings.
    HostTerminalOff,
    /// The terminal in the app could not start the shell.
    HostTerminalFailed,
    /// The guest image of the VM is missing.
    VmImageMissing,
    /// A program the VM needs (QEMU, qemu-img) is not installed.
    ProgramMissing,
    /// QEMU exited while the VM booted.
    VmExited,
    /// The VM made no progress while booting.
    VmBootStalled,
    /// The VM did not get ready in time.
    VmTimeout,
    /// The guest system reported a failure.
    VmGuest,
    /// QEMU's monitor (QMP) failed.
    VmMonitor,
    /// The VM's TLS material is broken.
    VmTls,
    /// The VM is already running.
    VmAlreadyRunning,
    /// The VM is not running.
    VmNotRunning,
    /// A setting of the VM is not valid.
    VmConfig,
    /// A helper program failed.
    CommandFailed,
    /// The VM's agent cannot be reached.
    AgentUnreachable,
    /// The VM failed in another way (the message says how).
    Vm,
    /// Something Gantry does not read (yet), e.g. an image layer format.
    Unsupported,
    /// A vulnerability database file that is not in OSV format.
    InvalidDatabase,
    /// A file changed on disk since it was read, so it was not overwritten.
    FileChanged,
    /// The docker CLI or its compose (v2) plugin is not installed.
    ComposeMissing,
    /// No compose file where the user pointed, or the project's files are not on this computer.
    ComposeFileMissing,
    /// `docker compose config` rejected the project's files.
    ComposeInvalid,
    /// A `docker compose` command failed (its output says why).
    ComposeFailed,
    /// No container of this compose project exists on the engine.
    ComposeProjectMissing,
    /// The UI could not reach the app's core at all (made by the UI itself).
    Ui,
    /// No lab (or no step of a lab) by that name.
    LabUnknown,
    /// The lab has not been started yet.
    LabNotStarted,
    /// A lab's files do not follow the lab format, or its test failed.
    LabInvalid,
    /// The file is not a workshop bundle, or its table of contents is damaged.
    WorkshopNotABundle,
    /// The workshop bundle ends before all of its parts (an interrupted copy).
    WorkshopTruncated,
    /// A part of the workshop bundle does not match its digest.
    WorkshopCorrupt,
    /// The workshop bundle was made by a newer Gantry.
    WorkshopNewerFormat,
    /// The workshop bundle's signature does not verify or is not the trusted key's.
    WorkshopSignature,
    /// A workshop key file is unreadable or not a Gantry workshop key.
    WorkshopKey,
    /// What was asked of a workshop cannot be done (the message and hint say why).
    WorkshopInvalid,
    /// A lab in a workshop bundle is unusable.
    WorkshopLab,
    /// The engine's saved image archive is not understood.
    WorkshopSavedArchive,
}

/// A stable machine-readable code: one of the engine's or one of Gantry's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(untagged)]
pub enum ErrorCode {
    Engine(EngineErrorCode),
    Gantry(GantryErrorCode),
}

impl From<EngineErrorCode> for ErrorCode {
    fn from(c: EngineErrorCode) -> Self {
        Self::Engine(c)
    }
}

impl From<GantryErrorCode> for ErrorCode {
    fn from(c: GantryErrorCode) -> Self {
        Self::Gantry(c)
    }
}

impl PartialEq<EngineErrorCode> for ErrorCode {
    fn eq(&self, other: &EngineErrorCode) -> bool {
        *self == Self::Engine(*other)
    }
}

impl PartialEq<GantryErrorCode> for ErrorCode {
    fn eq(&self, other: &GantryErrorCode) -> bool {
        *self == Self::Gantry(*other)
    }
}

/// One field of a form that broke a rule (settings, the Run dialog).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldError {
    /// Dotted path of the field, e.g. `vm.memory_mib` or `ports[0]`.
    pub field: String,
    pub message: String,
    pub hint: String,
}

/// A failure as shown to a person: a stable code, what went wrong, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub hint: String,
    /// Per-field problems, for forms; empty otherwise.
    pub fields: Vec<FieldError>,
}

impl ApiError {
    /// An error with no field details (the hint is made a [`sentence`]).
    pub fn new(code: impl Into<ErrorCode>, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), hint: sentence(hint.into()), fields: Vec::new() }
    }

    /// Several field errors as one "invalid" error (each hint made a [`sentence`]).
    pub fn invalid(fields: Vec<FieldError>) -> Self {
        let fields: Vec<FieldError> = fields.into_iter().map(|f| FieldError { hint: sentence(f.hint), ..f }).collect();
        let message = match fields.as_slice() {
            [one] => one.message.clone(),
            many => format!("{} values need fixing", many.len()),
        };
        let hint = fields.first().map(|f| f.hint.clone()).unwrap_or_default();
        Self { code: GantryErrorCode::Invalid.into(), message, hint, fields }
    }

    /// A local file that cannot be read or written: `message` says which, the hint what to check.
    pub fn io(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(GantryErrorCode::Io, message, hint)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        Self::new(e.code(), e.to_string(), e.hint())
    }
}

impl From<SettingsError> for FieldError {
    fn from(e: SettingsError) -> Self {
        Self { field: e.field, message: e.message, hint: e.hint }
    }
}

/// A hint as the UI and the CLI show every hint: one or more full sentences, starting with a
/// capital letter and ending with a full stop (the lower layers' hints are sometimes written as
/// fragments, e.g. "use `gantry stop` first").
pub fn sentence(hint: String) -> String {
    let trimmed = hint.trim();
    if trimmed.is_empty() {
        return String::new();
    }
    let mut chars = trimmed.chars();
    let mut out: String = match chars.next() {
        Some(first) if first.is_lowercase() => first.to_uppercase().chain(chars).collect(),
        _ => trimmed.to_string(),
    };
    if !out.ends_with(['.', '!', '?', '…']) {
        out.push('.');
    }
    out
}

impl From<SettingsFileError> for ApiError {
    fn from(e: SettingsFileError) -> Self {
        let hint = e.hint();
        match e {
            SettingsFileError::Invalid { errors } => Self::invalid(errors.into_iter().map(FieldError::from).collect()),
            other => Self::new(GantryErrorCode::SettingsFile, other.to_string(), hint),
        }
    }
}

impl From<VmError> for ApiError {
    fn from(e: VmError) -> Self {
        let hint = e.hint();
        let message = e.to_string();
        match e {
            VmError::Settings { errors } => {
                let mut error = Self::invalid(errors.into_iter().map(FieldError::from).collect());
                error.message = message;
                error
            }
            other => Self::new(vm_code(&other), message, hint),
        }
    }
}

/// The code of a VM failure: the kind of the step's cause, the engine's or the machine's own.
fn vm_code(e: &VmError) -> ErrorCode {
    use GantryErrorCode as G;
    match e {
        VmError::Step { source, .. } => vm_code(source),
        VmError::Machine(m) => machine_code(m),
        VmError::Engine(e) => e.code().into(),
        VmError::Settings { .. } => G::Invalid.into(),
        VmError::SettingsFile(_) => G::SettingsFile.into(),
        VmError::NotUsingVm { .. } => G::NotManaged.into(),
        VmError::Io { .. } => G::Io.into(),
        VmError::Agent { .. } => G::AgentUnreachable.into(),
        _ => G::Vm.into(),
    }
}

fn machine_code(e: &MachineError) -> ErrorCode {
    use GantryErrorCode as G;
    match e {
        MachineError::Io { .. } => G::Io.into(),
        MachineError::ImageMissing { .. } => G::VmImageMissing.into(),
        MachineError::ProgramMissing { .. } => G::ProgramMissing.into(),
        MachineError::CommandFailed { .. } => G::CommandFailed.into(),
        MachineError::QemuExited { .. } => G::VmExited.into(),
        MachineError::Guest { .. } => G::VmGuest.into(),
        MachineError::BootStalled { .. } => G::VmBootStalled.into(),
        MachineError::Timeout { .. } => G::VmTimeout.into(),
        MachineError::Qmp { .. } => G::VmMonitor.into(),
        MachineError::PortTaken { .. } => EngineErrorCode::PortInUse.into(),
        MachineError::Tls { .. } => G::VmTls.into(),
        MachineError::AlreadyRunning { .. } => G::VmAlreadyRunning.into(),
        MachineError::NotRunning => G::VmNotRunning.into(),
        MachineError::InvalidConfig { .. } => G::VmConfig.into(),
        MachineError::Cancelled => EngineErrorCode::Cancelled.into(),
        _ => G::Vm.into(),
    }
}

/// Results at the UI boundary.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_plain_strings() -> Result<(), serde_json::Error> {
        let engine = ApiError::from(EngineError::Unreachable { endpoint: "unix:///x".into(), reason: "gone".into() });
        assert_eq!(serde_json::to_value(engine.code)?, "engine_unreachable");
        assert_eq!(serde_json::to_value(ErrorCode::from(GantryErrorCode::NotManaged))?, "not_managed");
        let back: ErrorCode = serde_json::from_str("\"terminal_closed\"")?;
        assert_eq!(back, GantryErrorCode::TerminalClosed);
        Ok(())
    }

    #[test]
    fn hints_are_full_sentences() {
        assert_eq!(sentence("use `gantry stop` first".into()), "Use `gantry stop` first.");
        assert_eq!(sentence("Check the name.".into()), "Check the name.");
        assert_eq!(sentence("  ".into()), "");
        assert_eq!(sentence("`gantry start` starts it".into()), "`gantry start` starts it.");
        assert_eq!(sentence("выберите другое имя".into()), "Выберите другое имя.");
        let running = VmError::Machine(MachineError::AlreadyRunning { pid: 1 });
        assert_eq!(ApiError::from(running).hint, "Use `gantry stop` first.");
    }

    #[test]
    fn vm_failures_keep_their_kind() {
        let missing = VmError::Machine(MachineError::ProgramMissing { program: "qemu-img".into() });
        let step = VmError::Step { step: crate::vm::Step::DataDisk, source: Box::new(missing) };
        assert_eq!(ApiError::from(step).code, GantryErrorCode::ProgramMissing);
        let agent = VmError::Agent { message: "gone".into(), hint: "start it".into() };
        assert_eq!(ApiError::from(agent).code, GantryErrorCode::AgentUnreachable);
    }
}

//! The one error shape the UI sees: `{ code, message, hint, fields }`.

use gantry_engine::EngineError;
use serde::{Deserialize, Serialize};

use crate::settings::{SettingsError, SettingsFileError};
use crate::vm::VmError;

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
    pub code: String,
    pub message: String,
    pub hint: String,
    /// Per-field problems, for forms; empty otherwise.
    pub fields: Vec<FieldError>,
}

impl ApiError {
    /// An error with no field details.
    pub fn new(code: impl Into<String>, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), hint: hint.into(), fields: Vec::new() }
    }

    /// Several field errors as one "invalid" error.
    pub fn invalid(fields: Vec<FieldError>) -> Self {
        let message = match fields.as_slice() {
            [one] => one.message.clone(),
            many => format!("{} values need fixing", many.len()),
        };
        let hint = fields.first().map(|f| f.hint.clone()).unwrap_or_default();
        Self { code: "invalid".into(), message, hint, fields }
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

impl From<SettingsFileError> for ApiError {
    fn from(e: SettingsFileError) -> Self {
        let hint = e.hint();
        match e {
            SettingsFileError::Invalid { errors } => Self::invalid(errors.into_iter().map(FieldError::from).collect()),
            other => Self::new("settings_file", other.to_string(), hint),
        }
    }
}

impl From<VmError> for ApiError {
    fn from(e: VmError) -> Self {
        let hint = e.hint();
        Self::new("vm", e.to_string(), hint)
    }
}

/// Results at the UI boundary.
pub type ApiResult<T> = Result<T, ApiError>;

//! Everything that can go wrong with a workshop: each failure names what is wrong and what to do.

use std::path::PathBuf;

/// A workshop failure. `code()` is stable for front ends, `hint()` tells the user what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkshopError {
    /// The bundle file is not a workshop bundle, or its table of contents is damaged.
    #[error("{path} is not a usable workshop bundle: {reason}")]
    NotABundle { path: PathBuf, reason: String },
    /// The bundle ends before all of its parts: an interrupted copy or download.
    #[error("{path} is truncated: {reason}")]
    Truncated { path: PathBuf, reason: String },
    /// A part's bytes do not match the digest the manifest gives for it.
    #[error("{path}: part {part} is corrupt: its digest is {actual}, the manifest says {expected}")]
    Corrupt { path: PathBuf, part: String, expected: String, actual: String },
    /// The bundle was made by a newer Gantry (a newer bundle format).
    #[error("{path} uses workshop bundle format {found}; this Gantry reads format {supported} and older")]
    NewerFormat { path: PathBuf, found: u32, supported: u32 },
    /// The signature does not verify, is missing where a key was required, or is from another key.
    #[error("signature check failed for {path}: {reason}")]
    Signature { path: PathBuf, reason: String },
    /// A key file could not be read or is not a Gantry workshop key.
    #[error("{path}: {reason}")]
    Key { path: PathBuf, reason: String },
    /// What was asked for cannot be packed or imported (unknown platform, missing image variant, …).
    #[error("{message}")]
    Invalid { message: String, hint: String },
    /// A lab folder or a lab inside a bundle is unusable.
    #[error("lab {lab}: {reason}")]
    Lab { lab: String, reason: String },
    /// An image archive from the engine (`docker save`) could not be understood.
    #[error("the engine's archive of {image} is not understood: {reason}")]
    SavedArchive { image: String, reason: String },
    /// Reading or writing a local file failed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The Docker engine failed.
    #[error(transparent)]
    Engine(#[from] gantry_engine::EngineError),
    /// The operation was cancelled by its caller; finished parts are kept for the next run.
    #[error("cancelled; finished parts are kept and the next run continues from there")]
    Cancelled,
}

/// Shorthand for workshop results.
pub type Result<T, E = WorkshopError> = std::result::Result<T, E>;

impl WorkshopError {
    /// An I/O error with the action and path it happened on.
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { action, path, source }
    }

    /// An invalid request with a hint.
    pub fn invalid(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::Invalid { message: message.into(), hint: hint.into() }
    }

    /// A stable machine-readable code for the UI boundary (`{code, message, hint}`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotABundle { .. } => "workshop_not_a_bundle",
            Self::Truncated { .. } => "workshop_truncated",
            Self::Corrupt { .. } => "workshop_corrupt",
            Self::NewerFormat { .. } => "workshop_newer_format",
            Self::Signature { .. } => "workshop_signature",
            Self::Key { .. } => "workshop_key",
            Self::Invalid { .. } => "workshop_invalid",
            Self::Lab { .. } => "workshop_lab",
            Self::SavedArchive { .. } => "workshop_saved_archive",
            Self::Io { .. } => "io",
            Self::Engine(e) => e.code().as_str(),
            Self::Cancelled => "cancelled",
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            Self::NotABundle { .. } => {
                "Choose the .gantry-workshop file the trainer made with `gantry workshop pack`.".into()
            }
            Self::Truncated { .. } | Self::Corrupt { .. } => "The file was damaged or cut short while copying: copy it again from the trainer (compare its digest with `gantry workshop inspect FILE`), then import again; parts already imported are kept.".into(),
            Self::NewerFormat { .. } => "Update Gantry to the trainer's version (or newer) and import again.".into(),
            Self::Signature { .. } => "Ask the trainer for the bundle and the key fingerprint again; do not import a bundle whose signature does not match the trainer's key.".into(),
            Self::Key { .. } => "Make a key pair with `gantry workshop key`, and pass the .pub file (or its text) with --trusted-key.".into(),
            Self::Invalid { hint, .. } => hint.clone(),
            Self::Lab { .. } => "Check the lab folder with `gantry lab lint DIR`.".into(),
            Self::SavedArchive { .. } => "Save the image with `docker save IMAGE -o image.tar` to see whether the engine can export it; report the engine version if it cannot.".into(),
            Self::Io { .. } => "Check that the path exists, that you may write there and that the disk is not full.".into(),
            Self::Engine(e) => e.hint(),
            Self::Cancelled => "Run the same command again to continue.".into(),
        }
    }
}

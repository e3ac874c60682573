//! The errors of the analyses, each with a stable code and a hint for the user.

use gantry_engine::EngineError;

/// Everything that can go wrong while looking inside an image or an engine event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InsightError {
    /// The engine refused or failed (image not found, engine unreachable, …).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The image archive could not be read.
    #[error("cannot read the image archive: {message}")]
    Archive { message: String },
    /// Something the analysis does not read (yet).
    #[error("not supported: {what}")]
    Unsupported { what: String },
    /// A file given by the user could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A file changed on disk since it was read: writing it would lose that change.
    #[error("{path} changed since it was read")]
    Changed { path: String },
    /// A vulnerability database file that is not in OSV format.
    #[error("{path} is not an OSV vulnerability database: {message}")]
    BadDatabase { path: String, message: String },
}

impl InsightError {
    /// A stable machine-readable code (`{code, message, hint}` at the UI boundary).
    pub fn code(&self) -> String {
        match self {
            // The engine's codes are an enum serialized in snake_case: its string is its JSON.
            Self::Engine(e) => serde_json::to_value(e.code())
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "engine_error".into()),
            Self::Archive { .. } => "bad_archive".into(),
            Self::Unsupported { .. } => "unsupported".into(),
            Self::Io { .. } => "io".into(),
            Self::BadDatabase { .. } => "bad_database".into(),
            Self::Changed { .. } => "file_changed".into(),
        }
    }

    /// What the user can do about it, in one sentence.
    pub fn hint(&self) -> String {
        match self {
            Self::Engine(e) => e.hint(),
            Self::Archive { .. } => {
                "The engine's export was cut short or is not a `docker save` archive; try again, and check the engine's logs if it persists.".into()
            }
            Self::Unsupported { .. } => "See docs/insight.md for what can be read.".into(),
            Self::Io { .. } => "Check that the path exists and that you may read or write it.".into(),
            Self::Changed { .. } => {
                "Nothing was written: read the file again and review the fix against its new text.".into()
            }
            Self::BadDatabase { .. } => {
                "Import OSV JSON: one advisory, a JSON array of advisories, or a .zip of them (as osv.dev's exports are).".into()
            }
        }
    }
}

//! What an import has finished, kept beside the imported workshop so that a second run (after a
//! kill, a cancel or a crash) continues where the first stopped: parts already verified are not
//! read again (as long as the bundle file is the same file, same size and time), images already
//! in the engine are not loaded again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Result, WorkshopError};

/// The journal's file name in a workshop's folder.
pub const JOURNAL_FILE: &str = "import.json";

/// The bundle file as it was when parts were verified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    pub len: u64,
    /// Modification time, nanoseconds since the epoch.
    pub modified_ns: u128,
}

impl FileIdentity {
    pub fn of(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(WorkshopError::io("read", path))?;
        let modified_ns =
            meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        Ok(Self { len: meta.len(), modified_ns })
    }
}

/// An import's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub bundle: Option<Digest>,
    pub file: FileIdentity,
    /// Paths of the parts whose digest was checked.
    pub verified: BTreeSet<String>,
    /// Images loaded: name → the engine's image ID.
    pub loaded: BTreeMap<String, String>,
    pub completed: bool,
}

impl Journal {
    /// The journal in `dir` for `bundle` read from a file with `file`'s identity. A missing or
    /// unreadable journal, one for another bundle, or verifications of a file that changed since
    /// are dropped (the work is done again, never skipped wrongly).
    pub fn load(dir: &Path, bundle: &Digest, file: &FileIdentity) -> Self {
        let path = dir.join(JOURNAL_FILE);
        let mut journal = match std::fs::read(&path).map(|b| serde_json::from_slice::<Self>(&b)) {
            Ok(Ok(j)) if j.bundle.as_ref() == Some(bundle) => j,
            Ok(Err(e)) => {
                tracing::warn!(path = %path.display(), error = %e, "import journal unreadable; starting over");
                Self::default()
            }
            _ => Self::default(),
        };
        if journal.file != *file {
            journal.verified.clear();
        }
        journal.bundle = Some(bundle.clone());
        journal.file = file.clone();
        journal
    }

    /// Writes the journal (temporary file, then rename: a kill leaves the old or the new one).
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(WorkshopError::io("create", dir))?;
        let path = dir.join(JOURNAL_FILE);
        let temp: PathBuf = dir.join(format!(".{JOURNAL_FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| WorkshopError::invalid(e.to_string(), ""))?;
        std::fs::write(&temp, bytes).map_err(WorkshopError::io("write", &temp))?;
        std::fs::rename(&temp, &path).map_err(WorkshopError::io("write", &path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_a_restart_and_forgets_verifications_of_a_changed_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let id = Digest::of(b"bundle");
        let file = FileIdentity { len: 10, modified_ns: 5 };
        let mut j = Journal::load(dir.path(), &id, &file);
        j.verified.insert("index.json".into());
        j.loaded.insert("busybox:1.36".into(), "sha256:x".into());
        j.save(dir.path()).expect("save");
        assert_eq!(Journal::load(dir.path(), &id, &file), j);
        let changed = Journal::load(dir.path(), &id, &FileIdentity { len: 10, modified_ns: 6 });
        assert!(changed.verified.is_empty());
        assert_eq!(changed.loaded, j.loaded, "the engine is asked again anyway");
        assert!(Journal::load(dir.path(), &Digest::of(b"other"), &file).loaded.is_empty());
        std::fs::write(dir.path().join(JOURNAL_FILE), b"{not json").expect("write");
        assert!(Journal::load(dir.path(), &id, &file).verified.is_empty());
    }
}

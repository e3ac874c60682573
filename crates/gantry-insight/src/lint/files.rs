//! A Dockerfile on disk: read with its build context's `.dockerignore` and top-level names, its
//! fixes previewed as diffs, and written back only when nothing changed since it was read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{AppliedFixes, Dockerignore, LintContext, unified_diff};
use crate::{InsightError, Lang};

/// A Dockerfile as read from disk, with what the linter knows about its build context.
#[derive(Debug, Clone)]
pub struct DockerfileOnDisk {
    /// The Dockerfile (a folder given by the user is resolved to its `Dockerfile`).
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// Its build context (the Dockerfile's folder) as the linter sees it.
    pub context: LintContext,
}

/// The change a fix makes to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FileDiff {
    /// The file's path as written.
    pub path: String,
    /// True when the fix creates it.
    pub created: bool,
    /// `diff -u` of the change.
    pub diff: String,
}

fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> InsightError {
    InsightError::Io { action, path: path.display().to_string(), source }
}

impl DockerfileOnDisk {
    /// Reads the Dockerfile at `path` (or `path/Dockerfile` when `path` is a folder), its
    /// context's `.dockerignore` (BuildKit's `<Dockerfile>.dockerignore` beside it wins) and the
    /// context's top-level names; advice in `lang`, without the rules in `ignore`.
    pub fn open(path: &Path, lang: Lang, ignore: Vec<String>) -> Result<Self, InsightError> {
        let path = if path.is_dir() { path.join("Dockerfile") } else { path.to_path_buf() };
        let bytes = std::fs::read(&path).map_err(|e| io_error("read", &path, e))?;
        let text = String::from_utf8(bytes).map_err(|_| InsightError::Unsupported {
            what: format!("{} is not UTF-8 text (is it really a Dockerfile?)", path.display()),
        })?;
        let mut context = LintContext { lang, ignore, dockerignore: Dockerignore::Missing, context_files: None };
        let dir = context_dir(&path);
        let own = path.file_name().map(|n| dir.join(format!("{}.dockerignore", n.to_string_lossy())));
        for candidate in own.into_iter().chain(std::iter::once(dir.join(".dockerignore"))) {
            match std::fs::read_to_string(&candidate) {
                Ok(text) => {
                    context.dockerignore = Dockerignore::Present(text);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("read", &candidate, e)),
            }
        }
        if let Ok(entries) = std::fs::read_dir(&dir) {
            context.context_files =
                Some(entries.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect());
        }
        Ok(Self { path, text, context })
    }

    /// The build context's folder.
    pub fn dir(&self) -> PathBuf {
        context_dir(&self.path)
    }

    /// A fingerprint of what was read (the Dockerfile and the `.dockerignore`): a fix is written
    /// only when the files on disk still have the same one.
    pub fn revision(&self) -> String {
        let ignore = match &self.context.dockerignore {
            Dockerignore::Present(text) => text.as_str(),
            Dockerignore::Missing => "\u{0}missing",
            Dockerignore::Unknown => "\u{0}unknown",
        };
        format!("{:016x}", fnv1a(&[self.text.as_bytes(), b"\0", ignore.as_bytes()]))
    }

    /// The current text of another file of the build context (`None`: it does not exist).
    pub fn other_file(&self, relative: &str) -> Option<String> {
        std::fs::read_to_string(self.dir().join(relative)).ok()
    }

    /// The diffs of `fixed` against the files as they are, Dockerfile first.
    pub fn diffs(&self, fixed: &AppliedFixes) -> Vec<FileDiff> {
        let name = self.path.file_name().map_or_else(|| "Dockerfile".into(), |n| n.to_string_lossy().into_owned());
        let mut out = Vec::new();
        if fixed.text != self.text {
            let diff = unified_diff(&self.text, &fixed.text, &format!("a/{name}"), &format!("b/{name}"));
            out.push(FileDiff { path: self.path.display().to_string(), created: false, diff });
        }
        for (other, content) in &fixed.other_files {
            let current = self.other_file(other);
            let old_name = if current.is_some() { format!("a/{other}") } else { "/dev/null".to_string() };
            let diff = unified_diff(current.as_deref().unwrap_or_default(), content, &old_name, &format!("b/{other}"));
            if !diff.is_empty() {
                out.push(FileDiff {
                    path: self.dir().join(other).display().to_string(),
                    created: current.is_none(),
                    diff,
                });
            }
        }
        out
    }

    /// Writes `fixed` (each file replaced whole, never half-written), after checking that the
    /// files still are what was read: a Dockerfile edited meanwhile is refused, not overwritten.
    pub fn write(&self, fixed: &AppliedFixes) -> Result<(), InsightError> {
        let now = Self::open(&self.path, self.context.lang, self.context.ignore.clone())?;
        if now.revision() != self.revision() {
            return Err(InsightError::Changed { path: self.path.display().to_string() });
        }
        if fixed.text != self.text {
            write_replacing(&self.path, &fixed.text)?;
        }
        for (other, content) in &fixed.other_files {
            write_replacing(&self.dir().join(other), content)?;
        }
        Ok(())
    }

    /// The context after `fixed` is written (a created `.dockerignore` counts).
    pub fn context_after(&self, fixed: &AppliedFixes) -> LintContext {
        let mut after = self.context.clone();
        if let Some((_, text)) = fixed.other_files.iter().find(|(p, _)| p == ".dockerignore") {
            after.dockerignore = Dockerignore::Present(text.clone());
        }
        after
    }
}

fn context_dir(dockerfile: &Path) -> PathBuf {
    dockerfile.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf()
}

/// 64-bit FNV-1a over the parts in order (change detection, not security).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|p| p.iter()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Writes `text` to a temporary file beside `path`, then renames it over `path`: an interrupted
/// write never leaves a half-written file. The file keeps its permissions.
pub fn write_replacing(path: &Path, text: &str) -> Result<(), InsightError> {
    let file_name = path.file_name().map_or_else(|| "Dockerfile".into(), |n| n.to_string_lossy().into_owned());
    let temp = path.with_file_name(format!(".{file_name}.gantry-fix"));
    std::fs::write(&temp, text).map_err(|e| io_error("write", &temp, e))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&temp, meta.permissions());
    }
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        io_error("write", path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::{apply_fixes, lint};

    fn folder(dockerfile: &str) -> Result<tempfile::TempDir, std::io::Error> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("Dockerfile"), dockerfile)?;
        std::fs::write(dir.path().join("app.py"), "print(1)\n")?;
        Ok(dir)
    }

    #[test]
    fn a_folder_means_its_dockerfile_and_its_context() -> Result<(), Box<dyn std::error::Error>> {
        let dir = folder("FROM debian:12\n")?;
        let file = DockerfileOnDisk::open(dir.path(), Lang::En, Vec::new())?;
        assert_eq!(file.path, dir.path().join("Dockerfile"));
        assert_eq!(file.context.dockerignore, Dockerignore::Missing);
        let mut names = file.context.context_files.clone().unwrap_or_default();
        names.sort();
        assert_eq!(names, ["Dockerfile", "app.py"]);
        std::fs::write(dir.path().join(".dockerignore"), ".git\n")?;
        let again = DockerfileOnDisk::open(dir.path(), Lang::En, Vec::new())?;
        assert_eq!(again.context.dockerignore, Dockerignore::Present(".git\n".into()));
        assert_ne!(again.revision(), file.revision(), "a new .dockerignore is a new revision");
        Ok(())
    }

    #[test]
    fn fixes_are_diffs_first_and_refused_when_the_file_changed() -> Result<(), Box<dyn std::error::Error>> {
        let dir = folder("FROM debian:latest\nCOPY . /app\n")?;
        let file = DockerfileOnDisk::open(dir.path(), Lang::En, Vec::new())?;
        let findings = lint(&file.text, &file.context);
        let fixed = apply_fixes(&file.text, &findings, &|p| file.other_file(p));
        let diffs = file.diffs(&fixed);
        assert!(diffs.iter().any(|d| d.created && d.path.ends_with(".dockerignore")), "{diffs:?}");
        assert_eq!(std::fs::read_to_string(&file.path)?, file.text, "previewing writes nothing");

        std::fs::write(&file.path, "FROM debian:latest\nCOPY . /app\n# edited\n")?;
        let refused = file.write(&fixed);
        assert!(matches!(refused, Err(InsightError::Changed { .. })), "{refused:?}");
        assert!(!dir.path().join(".dockerignore").exists(), "nothing written after a refusal");

        let fresh = DockerfileOnDisk::open(dir.path(), Lang::En, Vec::new())?;
        let fixed = apply_fixes(&fresh.text, &lint(&fresh.text, &fresh.context), &|p| fresh.other_file(p));
        fresh.write(&fixed)?;
        assert_eq!(std::fs::read_to_string(&fresh.path)?, fixed.text);
        assert!(dir.path().join(".dockerignore").exists());
        Ok(())
    }

    #[test]
    fn a_missing_file_says_which() {
        let result = DockerfileOnDisk::open(Path::new("/nonexistent/Dockerfile"), Lang::En, Vec::new());
        assert!(
            matches!(&result, Err(InsightError::Io { path, .. }) if path == "/nonexistent/Dockerfile"),
            "{result:?}"
        );
    }
}

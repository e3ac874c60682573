//! The secret that marks Gantry's own helper containers (the value of
//! [`HELPER_LABEL`](gantry_engine::volume_files::HELPER_LABEL)): made once per install, kept
//! owner-only beside the settings, so that helpers an earlier run left behind are recognised and
//! removed, while a container anyone else labels the same way stays visible and alive.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The file name of the mark, beside `settings.json`.
pub const FILE_NAME: &str = "helper-mark";

/// Reads the mark at `path`, creating it (mode 0600) on first use. Two processes starting at once
/// agree on one mark: the file appears whole or not at all (a hard link of a complete temporary
/// file, which fails when the file exists).
pub fn load_or_create(path: &Path) -> std::io::Result<String> {
    if let Some(mark) = read(path)? {
        return Ok(mark);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mark = gantry_engine::volume_files::random_mark();
    // A name of its own per attempt (several threads or processes may be here at once).
    static ATTEMPT: AtomicU64 = AtomicU64::new(0);
    let attempt = ATTEMPT.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{FILE_NAME}.tmp-{}-{attempt}", std::process::id()));
    let created = write_new(&tmp, &mark).and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match created {
        Ok(()) => Ok(mark),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read(path)?.ok_or_else(|| std::io::Error::other(format!("{} exists but holds no mark", path.display())))
        }
        Err(e) => Err(e),
    }
}

/// The mark in `path`; `None` when the file does not exist (no helper was ever made). A file too
/// short to be a secret is an error (it is never replaced silently).
pub fn load(path: &Path) -> std::io::Result<Option<String>> {
    read(path)
}

fn read(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().len() >= 16 => Ok(Some(text.trim().to_string())),
        Ok(_) => Err(std::io::Error::other(format!(
            "{} does not hold a helper mark (delete it and Gantry makes a new one)",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn write_new(path: &Path, mark: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(path)?;
    file.write_all(mark.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_read_back_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(FILE_NAME);
        let first = load_or_create(&path).unwrap();
        assert_eq!(first.len(), 32, "{first}");
        assert_eq!(load_or_create(&path).unwrap(), first, "the same mark on the next run");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn concurrent_first_runs_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let marks: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| load_or_create(&path).unwrap())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(marks.iter().all(|m| *m == marks[0]), "{marks:?}");
    }

    #[test]
    fn a_damaged_file_is_an_error_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "x\n").unwrap();
        assert!(load_or_create(&path).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x\n");
    }
}

//! Files only their owner may read (settings, registry credentials, docker contexts, the VM's
//! run state, the remembered accelerator, the window's place), written so that a crash never leaves half a file:
//! a temporary file beside the target, synced, then renamed over it. Read-modify-write changes go
//! through [`update`], one writer at a time in this process, so two changes never lose each other.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The user's home directory: `HOME`, else `USERPROFILE` (Windows), when set and not empty. The
/// one place Gantry reads it (instance directory, shares, docker config, downloads, labs).
pub fn home_dir() -> Option<PathBuf> {
    home_from(std::env::var_os("HOME"), std::env::var_os("USERPROFILE"))
}

/// [`home_dir`]'s rule on given values: the first of `home`, `profile` that is set and not empty.
pub fn home_from(home: Option<OsString>, profile: Option<OsString>) -> Option<PathBuf> {
    [home, profile].into_iter().flatten().find(|h| !h.is_empty()).map(PathBuf::from)
}

/// Serialises [`update`]s in this process (settings, credentials: small files, rare writes).
static ONE_WRITER: Mutex<()> = Mutex::new(());

/// Holds this process's one writer until dropped: for read-modify-write changes that cannot
/// use [`update`] (e.g. they run a program in between). Never call [`update`] while holding it.
pub fn writer() -> std::sync::MutexGuard<'static, ()> {
    ONE_WRITER.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads `path` (`None` when missing), lets `change` compute the new contents from the old, and
/// writes them with [`write_atomic`], while no other [`update`] of this process runs. `change`
/// returning `Ok(None)` writes nothing.
pub fn update<E: From<std::io::Error>>(
    path: &Path,
    change: impl FnOnce(Option<Vec<u8>>) -> Result<Option<Vec<u8>>, E>,
) -> Result<(), E> {
    let _one = writer();
    let old = match std::fs::read(path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    match change(old)? {
        Some(new) => Ok(write_atomic(path, &new)?),
        None => Ok(()),
    }
}

/// Writes `contents` plus a final newline to `path` atomically, mode 0600, creating the parent
/// directory. On failure the temporary file is removed and the old file is left as it was.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // unique per process and call: two threads writing the same file never share a temporary
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}-{seq}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(contents)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn home_is_the_first_set_and_non_empty_of_home_and_userprofile() {
        let os = |s: &str| Some(OsString::from(s));
        assert_eq!(home_from(os("/home/a"), os(r"C:\Users\a")), Some(PathBuf::from("/home/a")));
        assert_eq!(home_from(None, os(r"C:\Users\a")), Some(PathBuf::from(r"C:\Users\a")));
        assert_eq!(home_from(os(""), os(r"C:\Users\a")), Some(PathBuf::from(r"C:\Users\a")));
        assert_eq!(home_from(os(""), os("")), None);
        assert_eq!(home_from(None, None), None);
    }

    #[test]
    fn replaces_the_file_whole_with_owner_only_mode() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("sub").join("a.json");
        write_atomic(&f, b"{\"v\":1}").unwrap();
        write_atomic(&f, b"{\"v\":2}").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "{\"v\":2}\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(std::fs::read_dir(f.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("list");
        let threads: Vec<_> = (0..16)
            .map(|n| {
                let f = f.clone();
                std::thread::spawn(move || {
                    update::<std::io::Error>(&f, |old| {
                        let mut text = old.map(|b| String::from_utf8_lossy(&b).trim().to_owned()).unwrap_or_default();
                        std::thread::yield_now();
                        text.push_str(&format!("{n},"));
                        Ok(Some(text.into_bytes()))
                    })
                    .unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let mut got: Vec<u32> = text.trim().split(',').filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, (0..16).collect::<Vec<_>>());
    }
}

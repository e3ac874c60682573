//! Files only their owner may read (settings, registry credentials, docker contexts), written so that a crash
//! never leaves half a file: a temporary file beside the target, synced, then renamed over it.

use std::io::Write;
use std::path::Path;

/// Writes `contents` plus a final newline to `path` atomically, mode 0600, creating the parent
/// directory. On failure the temporary file is removed and the old file is left as it was.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
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
}

//! The VM saved at stop and resumed at the next start: what must still match, in plain
//! functions tested without QEMU. The steps themselves (the guest's shares unmounted, QEMU's
//! migration stream into a file, the restore) are the QEMU driver's (`driver/resume.rs`).
//!
//! A saved state is the guest's memory and devices at one instant; it is only valid with the
//! very same QEMU command line, QEMU binary, guest image and data disk. The [`Manifest`] written
//! beside it records them; a start compares it with what it would launch now ([`mismatch`]) and
//! boots cold, saying why, when anything differs. The state is used once: a start renames it
//! before restoring, so a crash during a restore never restores it again.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::accel::Accel;

/// The manifest's format; a manifest of another format is never used.
pub const FORMAT: u32 = 1;

/// A file the saved state depends on, by size and modification time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    /// What the file is, for the user: `QEMU`, `guest kernel`, `data disk`...
    pub role: String,
    pub path: PathBuf,
    pub len: u64,
    /// Nanoseconds since the Unix epoch (0 when the system does not say, or when the file is
    /// known by its content).
    pub modified_ns: u128,
    /// A small file rewritten at each start with the same bytes (the guest's settings, its TLS
    /// files): known by its content's FNV-1a hash instead of its time.
    #[serde(default)]
    pub content: Option<u64>,
}

impl FileId {
    /// The identity of `path` now.
    pub fn of(role: &str, path: &Path) -> std::io::Result<Self> {
        let m = std::fs::metadata(path)?;
        let modified_ns = m.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        Ok(Self { role: role.to_owned(), path: path.to_owned(), len: m.len(), modified_ns, content: None })
    }

    /// The identity of a small file by its content (its time is ignored).
    pub fn by_content(role: &str, path: &Path) -> std::io::Result<Self> {
        let bytes = std::fs::read(path)?;
        let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        Ok(Self { role: role.to_owned(), path: path.to_owned(), len, modified_ns: 0, content: Some(fnv1a(&bytes)) })
    }
}

/// FNV-1a (64 bits): a stable hash of a few KiB, to notice a change (not a security check: the
/// files and the manifest are the user's own, in an owner-only directory).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// What a VM was launched with: written at launch, completed into a [`Manifest`] by a save.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launch {
    pub accel: Accel,
    /// The host port forwarded to the engine (part of the arguments).
    pub engine_port: u16,
    /// QEMU's arguments (lossy UTF-8: compared, never used to launch).
    pub args: Vec<String>,
    /// The files the guest's state depends on besides the data disk (QEMU, the guest image,
    /// the fw_cfg files), as they were at launch.
    pub files: Vec<FileId>,
    /// The warning the boot gave (software emulation after a failed accelerator), kept by a
    /// restore.
    #[serde(default)]
    pub warning: Option<String>,
}

/// Beside a saved state: what it was saved from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub launch: Launch,
    /// The data disk after QEMU ended.
    pub disk: FileId,
    /// The saved state's length in bytes.
    pub state_len: u64,
    /// When it was saved (seconds since the Unix epoch).
    pub saved_at: u64,
}

/// Why a saved state cannot be used with what a start would launch `now` (its length on disk
/// `state_len`), or `None` when it can. Pure.
pub fn mismatch(saved: &Manifest, now: &Launch, disk_now: &FileId, state_len: u64) -> Option<String> {
    if saved.format != FORMAT {
        return Some(format!("it was saved by another version of Gantry (format {})", saved.format));
    }
    if saved.state_len != state_len {
        return Some(format!("the file is damaged ({state_len} of {} bytes)", saved.state_len));
    }
    if saved.launch.accel != now.accel {
        return Some(format!("it was saved under {}, this start uses {}", saved.launch.accel, now.accel));
    }
    for want in &saved.launch.files {
        match now.files.iter().find(|f| f.role == want.role) {
            None => return Some(format!("the {} is no longer used ({})", want.role, want.path.display())),
            Some(f) if f != want => return Some(format!("the {} changed ({})", f.role, f.path.display())),
            Some(_) => {}
        }
    }
    if let Some(f) = now.files.iter().find(|f| !saved.launch.files.iter().any(|w| w.role == f.role)) {
        return Some(format!("the {} is new ({})", f.role, f.path.display()));
    }
    if &saved.disk != disk_now {
        return Some("the data disk changed since it was saved".into());
    }
    if saved.launch.args != now.args {
        let first = saved.launch.args.iter().zip(&now.args).find(|(a, b)| a != b).map(|(a, b)| format!("{a} → {b}"));
        return Some(match first {
            Some(d) => format!("the VM's settings changed ({d})"),
            None => "the VM's settings changed".into(),
        });
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn file(role: &str, len: u64) -> FileId {
        FileId { role: role.into(), path: PathBuf::from(format!("/x/{role}")), len, modified_ns: 7, content: None }
    }

    fn launch() -> Launch {
        Launch {
            accel: Accel::Tcg,
            engine_port: 40000,
            args: vec!["-m".into(), "2048M".into()],
            files: vec![file("QEMU", 1), file("guest kernel", 2)],
            warning: None,
        }
    }

    fn manifest() -> Manifest {
        Manifest { format: FORMAT, launch: launch(), disk: file("data disk", 3), state_len: 100, saved_at: 1 }
    }

    #[test]
    fn the_same_launch_matches() {
        assert_eq!(mismatch(&manifest(), &launch(), &file("data disk", 3), 100), None);
    }

    #[test]
    fn every_difference_is_named() {
        let m = manifest();
        let disk = file("data disk", 3);
        let says = |now: &Launch, disk: &FileId, len: u64| mismatch(&m, now, disk, len).unwrap();
        assert!(says(&launch(), &disk, 40).contains("damaged (40 of 100 bytes)"));
        assert!(says(&launch(), &file("data disk", 4), 100).contains("data disk changed"));
        let mut kvm = launch();
        kvm.accel = Accel::Kvm;
        assert!(says(&kvm, &disk, 100).contains("saved under tcg"), "{}", says(&kvm, &disk, 100));
        let mut new_kernel = launch();
        new_kernel.files[1].len = 9;
        assert!(says(&new_kernel, &disk, 100).contains("guest kernel changed"));
        let mut more_memory = launch();
        more_memory.args[1] = "4096M".into();
        assert!(says(&more_memory, &disk, 100).contains("2048M → 4096M"));
        let mut gone = launch();
        gone.files.pop();
        assert!(says(&gone, &disk, 100).contains("no longer used"));
        let mut extra = launch();
        extra.files.push(file("guest root", 5));
        assert!(says(&extra, &disk, 100).contains("guest root is new"));
        let old = Manifest { format: 0, ..manifest() };
        assert!(mismatch(&old, &launch(), &disk, 100).unwrap().contains("another version"));
    }

    #[test]
    fn a_file_known_by_content_ignores_its_time() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("guest-config");
        std::fs::write(&p, "engine_port=2376\n").unwrap();
        let before = FileId::by_content("guest settings", &p).unwrap();
        std::fs::write(&p, "engine_port=2376\n").unwrap(); // rewritten, same bytes
        assert_eq!(FileId::by_content("guest settings", &p).unwrap(), before);
        std::fs::write(&p, "engine_port=2377\n").unwrap();
        assert_ne!(FileId::by_content("guest settings", &p).unwrap(), before);
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    proptest::proptest! {
        /// A manifest file of any content is read or refused, never a panic (serde_json).
        #[test]
        fn any_manifest_text_is_read_or_refused(text in ".{0,200}") {
            let _ = serde_json::from_str::<Manifest>(&text);
        }
    }
}

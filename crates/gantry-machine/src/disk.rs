//! The data disk: a qcow2 image created with `qemu-img`, grown (never shrunk) to the configured
//! size.

use std::path::Path;
use std::process::Command;

use crate::error::{MachineError, Result};

const QEMU_IMG: &str = "qemu-img";

fn run(args: &[&str]) -> Result<String> {
    let out = Command::new(QEMU_IMG).args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            MachineError::ProgramMissing { program: QEMU_IMG.into() }
        } else {
            MachineError::CommandFailed {
                program: QEMU_IMG.into(),
                status: "not started".into(),
                stderr: e.to_string(),
            }
        }
    })?;
    if !out.status.success() {
        return Err(MachineError::CommandFailed {
            program: format!("{QEMU_IMG} {}", args.first().copied().unwrap_or_default()),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The disk's virtual size in bytes.
pub fn virtual_size(path: &Path) -> Result<u64> {
    let p = path.to_string_lossy();
    let out = run(&["info", "--output=json", "-U", &p])?;
    let v: serde_json::Value = serde_json::from_str(&out).map_err(|e| MachineError::CommandFailed {
        program: QEMU_IMG.into(),
        status: "bad output".into(),
        stderr: e.to_string(),
    })?;
    Ok(v.get("virtual-size").and_then(serde_json::Value::as_u64).unwrap_or(0))
}

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskAction {
    Created,
    Grown {
        from_gib: u64,
    },
    Unchanged,
    /// The configured size is smaller than the disk: qcow2 disks are never shrunk.
    KeptLarger {
        actual_gib: u64,
    },
}

/// Creates the disk, or grows it to `size_gib`. A new disk is made as `partial` and renamed to
/// `path` when `qemu-img` finished, so a start killed meanwhile (with `qemu-img`) never leaves
/// a half-made disk in place: the next start makes it again.
pub fn ensure(path: &Path, partial: &Path, size_gib: u64) -> Result<DiskAction> {
    let p = path.to_string_lossy();
    let size = format!("{size_gib}G");
    if !path.exists() {
        match std::fs::remove_file(partial) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(MachineError::io("remove", partial.to_owned())(e));
            }
            _ => {}
        }
        run(&["create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", &partial.to_string_lossy(), &size])?;
        std::fs::rename(partial, path).map_err(MachineError::io("rename", partial.to_owned()))?;
        return Ok(DiskAction::Created);
    }
    let actual = virtual_size(path)?;
    let want = size_gib * 1024 * 1024 * 1024;
    if actual < want {
        run(&["resize", "-q", &p, &size])?;
        Ok(DiskAction::Grown { from_gib: actual / (1024 * 1024 * 1024) })
    } else if actual > want {
        Ok(DiskAction::KeptLarger { actual_gib: actual / (1024 * 1024 * 1024) })
    } else {
        Ok(DiskAction::Unchanged)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn creates_and_grows() {
        if Command::new(QEMU_IMG).arg("--version").output().is_err() {
            eprintln!("skipped: qemu-img not installed");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("disk.qcow2");
        let partial = t.path().join("disk.qcow2.partial");
        std::fs::write(&partial, "left by a killed start").unwrap();
        assert_eq!(ensure(&d, &partial, 8).unwrap(), DiskAction::Created);
        assert!(!partial.exists());
        assert_eq!(virtual_size(&d).unwrap(), 8 << 30);
        assert_eq!(ensure(&d, &partial, 8).unwrap(), DiskAction::Unchanged);
        assert_eq!(ensure(&d, &partial, 10).unwrap(), DiskAction::Grown { from_gib: 8 });
        assert_eq!(ensure(&d, &partial, 9).unwrap(), DiskAction::KeptLarger { actual_gib: 10 });
        // sparse: far below its virtual size on the host
        assert!(std::fs::metadata(&d).unwrap().len() < 10 << 20);
    }
}

//! A small tmpfs for disk-full (ENOSPC) fault tests. Mounting needs root (CAP_SYS_ADMIN, as
//! `./scripts/test` runs); elsewhere [`SmallTmpfs::mount`] says why it cannot and the test says
//! it skipped the scenario.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted on a directory; unmounted (lazily) when dropped.
#[derive(Debug)]
pub struct SmallTmpfs {
    dir: PathBuf,
}

fn run(program: &str, args: &[&str], dir: &Path) -> Result<(), String> {
    let out = Command::new(program).args(args).arg(dir).output().map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{program} {} {}: {}", args.join(" "), dir.display(), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl SmallTmpfs {
    /// Mounts a tmpfs of `size` bytes (owner-only) on `dir`, creating it.
    pub fn mount(dir: &Path, size: u64) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        run("mount", &["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "gantry-fault"], dir)?;
        Ok(Self { dir: dir.to_owned() })
    }

    /// The mount point.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Changes the size limit (not below what is in use): shrinking fills it up, growing frees
    /// space, without touching the files.
    pub fn resize(&self, size: u64) -> Result<(), String> {
        run("mount", &["-o", &format!("remount,size={size}")], &self.dir)
    }

    /// Bytes in use and bytes free.
    pub fn usage(&self) -> Result<(u64, u64), String> {
        let out = Command::new("df")
            .args(["-B1", "--output=used,avail"])
            .arg(&self.dir)
            .output()
            .map_err(|e| format!("df: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut n = text.lines().nth(1).unwrap_or_default().split_whitespace().map(str::parse::<u64>);
        match (n.next(), n.next()) {
            (Some(Ok(used)), Some(Ok(free))) => Ok((used, free)),
            _ => Err(format!("cannot read df's answer {text:?}")),
        }
    }

    /// Writes a file until the tmpfs is full; returns it (remove it to free the space).
    pub fn fill(&self) -> Result<PathBuf, String> {
        let path = self.dir.join("filler");
        let mut f = std::fs::File::create(&path).map_err(|e| format!("create {}: {e}", path.display()))?;
        let chunk = vec![0x5a_u8; 4096];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => return Err(format!("write {}: {e}", path.display())),
            }
        }
        Ok(path)
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        if let Err(e) = run("umount", &["-l"], &self.dir) {
            eprintln!("{e}");
        }
    }
}

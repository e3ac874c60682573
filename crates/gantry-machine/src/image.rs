//! The guest image produced by `vm-images/` and the contract with its init.
//!
//! Location, first match wins ([`lookup`]):
//! 1. `$GANTRY_IMAGE_DIR` when set (the only place then: an explicit choice is never second-guessed);
//! 2. `<dir of the running executable>/../share/gantry/image` when it holds an image — the image
//!    an installed package ships (`/usr/bin/gantry` → `/usr/share/gantry/image`);
//! 3. the build cache `${GANTRY_IMAGE_CACHE:-$HOME/.cache/gantry/images}/current/` (the contract
//!    in vm-images/README.md).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::arch::GuestArch;
use crate::error::{MachineError, Result};

/// Environment variable overriding the image directory.
pub const IMAGE_DIR_ENV: &str = "GANTRY_IMAGE_DIR";
/// Environment variable naming the image cache (its `current/` is used), as vm-images/build.sh.
pub const IMAGE_CACHE_ENV: &str = "GANTRY_IMAGE_CACHE";

/// File names inside the image directory.
pub const KERNEL: &str = "vmlinuz";
pub const INITRD: &str = "initrd.img";
pub const ROOTFS: &str = "rootfs.squashfs";
pub const CMDLINE: &str = "cmdline";
/// `key=value` lines about the build; its `arch=` names the guest's architecture.
pub const VERSION: &str = "VERSION";

/// Prefix of every console line of the guest's init; its progress lines end with the guest's
/// uptime, `[38.25s]` ([`crate::boot_timings`] reads them).
pub const LINE_PREFIX: &str = "gantry-init: ";
/// Console line the guest's init prints when dockerd answers.
pub const ENGINE_READY_LINE: &str = "gantry-init: engine ready";
/// Prefix of the init's error lines (fatal ones are followed by power-off).
pub const ERROR_LINE_PREFIX: &str = "gantry-init: error:";
/// TCP port dockerd listens on (with `--tlsverify`) inside the guest.
pub const GUEST_ENGINE_PORT: u16 = 2376;
/// Kernel command line used when the image does not ship a `cmdline` file.
pub const DEFAULT_CMDLINE: &str = "console=ttyS0 panic=-1 quiet";

/// fw_cfg names (`opt/gantry/...`) the guest reads its TLS material and config from.
pub const FW_CA: &str = "opt/gantry/ca.pem";
pub const FW_SERVER_CERT: &str = "opt/gantry/server-cert.pem";
pub const FW_SERVER_KEY: &str = "opt/gantry/server-key.pem";
pub const FW_CONFIG: &str = "opt/gantry/config";

/// Where an installed image lives relative to the installation prefix (`/usr` → `/usr/share/gantry/image`).
pub const INSTALLED_SUBDIR: &str = "share/gantry/image";

/// The outcome of the image search: the directory to use and every place looked at, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub dir: PathBuf,
    pub searched: Vec<PathBuf>,
}

/// Searches the places in the module's order, from this process's environment and executable.
pub fn lookup() -> Lookup {
    let env = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    let exe = std::env::current_exe().ok();
    lookup_from(env(IMAGE_DIR_ENV), exe.as_deref(), env(IMAGE_CACHE_ENV), env("HOME"))
}

/// [`lookup`] over explicit inputs: `$GANTRY_IMAGE_DIR`, the running executable,
/// `$GANTRY_IMAGE_CACHE` and `$HOME` (each `None` when unset or empty).
pub fn lookup_from(
    image_dir: Option<OsString>,
    exe: Option<&Path>,
    cache: Option<OsString>,
    home: Option<OsString>,
) -> Lookup {
    if let Some(d) = image_dir {
        let dir = PathBuf::from(d);
        return Lookup { searched: vec![dir.clone()], dir };
    }
    let mut searched = Vec::new();
    if let Some(installed) = exe.and_then(installed_dir) {
        if holds_image(&installed) {
            return Lookup { searched: vec![installed.clone()], dir: installed };
        }
        searched.push(installed);
    }
    let cache = match cache {
        Some(c) => PathBuf::from(c),
        None => home.map(PathBuf::from).unwrap_or_else(std::env::temp_dir).join(".cache").join("gantry").join("images"),
    };
    let dir = cache.join("current");
    searched.push(dir.clone());
    Lookup { dir, searched }
}

/// `<prefix>/share/gantry/image` for an executable in `<prefix>/bin/`.
pub fn installed_dir(exe: &Path) -> Option<PathBuf> {
    Some(exe.parent()?.parent()?.join(INSTALLED_SUBDIR))
}

/// Whether `dir` has the files an image cannot boot without (kernel and initramfs).
pub fn holds_image(dir: &Path) -> bool {
    dir.join(KERNEL).is_file() && dir.join(INITRD).is_file()
}

/// The image directory to use: [`lookup`]'s choice.
pub fn default_dir() -> PathBuf {
    lookup().dir
}

/// A located, complete guest image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestImage {
    pub dir: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub rootfs: Option<PathBuf>,
    pub cmdline: String,
    /// From VERSION's `arch=` line (amd64 without one).
    pub arch: GuestArch,
}

impl GuestImage {
    /// Finds the image files in `dir`; a missing kernel or initramfs is [`MachineError::ImageMissing`].
    pub fn locate(dir: &Path) -> Result<Self> {
        let kernel = dir.join(KERNEL);
        let initrd = dir.join(INITRD);
        for f in [&kernel, &initrd] {
            if !f.is_file() {
                // the default directory was the end of a search: name every place looked at
                let searched =
                    Some(lookup()).filter(|l| l.dir == dir).map(|l| l.searched).unwrap_or_else(|| vec![dir.to_owned()]);
                return Err(MachineError::ImageMissing { path: f.clone(), searched });
            }
        }
        let rootfs = Some(dir.join(ROOTFS)).filter(|p| p.is_file());
        let cmdline = std::fs::read_to_string(dir.join(CMDLINE))
            .map(|s| s.trim().to_owned())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_CMDLINE.to_owned());
        let version = std::fs::read_to_string(dir.join(VERSION)).unwrap_or_default();
        let arch = GuestArch::from_version(&version).map_err(|name| MachineError::Unsupported {
            what: format!(
                "the guest image in {} is built for '{name}' (its {VERSION}); Gantry runs amd64 and arm64 images: \
                 rebuild it with vm-images/build.sh",
                dir.display()
            ),
        })?;
        Ok(Self { dir: dir.to_owned(), kernel, initrd, rootfs, cmdline, arch })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A fake installation: `<root>/usr/bin/gantry`, optionally with `<root>/usr/share/gantry/image`.
    fn install(root: &Path, with_image: bool) -> PathBuf {
        let bin = root.join("usr/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("gantry"), b"").unwrap();
        if with_image {
            fake_image(&root.join("usr").join(INSTALLED_SUBDIR));
        }
        bin.join("gantry")
    }

    fn fake_image(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(KERNEL), b"k").unwrap();
        std::fs::write(dir.join(INITRD), b"i").unwrap();
    }

    #[test]
    fn env_dir_wins_even_without_an_image_there() {
        let t = tempfile::tempdir().unwrap();
        let exe = install(t.path(), true);
        let explicit = t.path().join("explicit");
        let l = lookup_from(Some(explicit.clone().into()), Some(&exe), Some(t.path().join("c").into()), None);
        assert_eq!(l, Lookup { dir: explicit.clone(), searched: vec![explicit] });
    }

    #[test]
    fn installed_image_next_to_the_executable_comes_before_the_build_cache() {
        let t = tempfile::tempdir().unwrap();
        let exe = install(t.path(), true);
        let cache = t.path().join("cache");
        fake_image(&cache.join("current"));
        let l = lookup_from(None, Some(&exe), Some(cache.into()), None);
        assert_eq!(l.dir, t.path().join("usr/share/gantry/image"));
        assert_eq!(l.searched, vec![l.dir.clone()]);
        assert!(GuestImage::locate(&l.dir).is_ok());
    }

    #[test]
    fn without_an_installed_image_the_build_cache_is_used_and_both_are_named() {
        let t = tempfile::tempdir().unwrap();
        let exe = install(t.path(), false);
        // a directory without a kernel is not an image
        std::fs::create_dir_all(t.path().join("usr").join(INSTALLED_SUBDIR)).unwrap();
        let cache = t.path().join("cache");
        let l = lookup_from(None, Some(&exe), Some(cache.clone().into()), None);
        assert_eq!(l.dir, cache.join("current"));
        assert_eq!(l.searched, vec![t.path().join("usr/share/gantry/image"), cache.join("current")]);
    }

    #[test]
    fn the_image_names_its_architecture() {
        let t = tempfile::tempdir().unwrap();
        fake_image(t.path());
        assert_eq!(GuestImage::locate(t.path()).unwrap().arch, GuestArch::X86_64);
        std::fs::write(t.path().join(VERSION), "suite=trixie\narch=arm64\n").unwrap();
        assert_eq!(GuestImage::locate(t.path()).unwrap().arch, GuestArch::Aarch64);
        std::fs::write(t.path().join(VERSION), "arch=mips\n").unwrap();
        let e = GuestImage::locate(t.path()).unwrap_err().to_string();
        assert!(e.contains("'mips'") && e.contains("vm-images/build.sh"), "{e}");
    }

    #[test]
    fn the_build_cache_defaults_under_home() {
        let l = lookup_from(None, None, None, Some("/home/me".into()));
        assert_eq!(l.dir, Path::new("/home/me/.cache/gantry/images/current"));
        assert_eq!(l.searched, vec![l.dir.clone()]);
    }

    #[test]
    fn a_missing_image_names_the_places_looked_at() {
        let t = tempfile::tempdir().unwrap();
        match GuestImage::locate(&t.path().join("none")) {
            Err(e @ MachineError::ImageMissing { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("looked in") && msg.contains("none"), "{msg}");
                assert!(e.hint().contains("vm-images/build.sh") && e.hint().contains(IMAGE_DIR_ENV), "{}", e.hint());
            }
            other => panic!("{other:?}"),
        }
    }
}

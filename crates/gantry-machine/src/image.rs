//! The guest image produced by `vm-images/` and the contract with its init.
//!
//! Location: `$GANTRY_IMAGE_DIR`, else `${GANTRY_IMAGE_CACHE:-$HOME/.cache/gantry/images}/current/`
//! (the contract in vm-images/README.md).

use std::path::{Path, PathBuf};

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

/// The default image directory.
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os(IMAGE_DIR_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os(IMAGE_CACHE_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(d).join("current");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("gantry").join("images").join("current")
}

/// A located, complete guest image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestImage {
    pub dir: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub rootfs: Option<PathBuf>,
    pub cmdline: String,
}

impl GuestImage {
    /// Finds the image files in `dir`; a missing kernel or initramfs is [`MachineError::ImageMissing`].
    pub fn locate(dir: &Path) -> Result<Self> {
        let kernel = dir.join(KERNEL);
        let initrd = dir.join(INITRD);
        for f in [&kernel, &initrd] {
            if !f.is_file() {
                return Err(MachineError::ImageMissing { path: f.clone() });
            }
        }
        let rootfs = Some(dir.join(ROOTFS)).filter(|p| p.is_file());
        let cmdline = std::fs::read_to_string(dir.join(CMDLINE))
            .map(|s| s.trim().to_owned())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_CMDLINE.to_owned());
        Ok(Self { dir: dir.to_owned(), kernel, initrd, rootfs, cmdline })
    }
}

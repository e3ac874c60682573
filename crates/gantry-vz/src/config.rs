//! What gantry-vz boots, as plain data: written by Gantry's agent as JSON, checked here before
//! anything touches Virtualization.framework (and tested on Linux).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The guest console's kernel argument under Apple Virtualization (a virtio console: `hvc0`),
/// in place of QEMU's `ttyS0`.
pub const VZ_CONSOLE: &str = "console=hvc0";
/// Virtualization.framework's limit on a virtiofs tag, in bytes.
pub const MAX_TAG_BYTES: usize = 36;
/// A unix socket path must fit `sockaddr_un.sun_path` on macOS (104 bytes with its NUL).
pub const MAX_SOCKET_PATH: usize = 103;
/// The smallest memory Gantry boots the guest with (the engine needs room).
pub const MIN_MEMORY_MIB: u64 = 512;

/// One gantry-vz virtual machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VzConfig {
    pub cpus: u32,
    pub memory_mib: u64,
    /// An uncompressed arm64 `Image` (VZLinuxBootLoader does not take a compressed kernel).
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// The guest image's command line (`cmdline`); its console is moved to `hvc0`.
    pub cmdline: String,
    /// The guest's root filesystem (squashfs), attached read-only.
    pub root_image: PathBuf,
    /// The engine's data disk: a raw (sparse) image; Virtualization.framework reads no qcow2.
    pub data_disk: PathBuf,
    /// Folders shared with the guest over virtiofs.
    #[serde(default)]
    pub shares: Vec<Share>,
    /// The guest's engine listens (TLS) on this virtio-socket port ...
    pub engine_vsock_port: u32,
    /// ... which gantry-vz relays to this unix socket on the host (owner-only).
    pub engine_socket: PathBuf,
    /// Where the guest console (`gantry-init:` lines) is written.
    pub console_log: PathBuf,
    /// The guest's TLS material and settings (the start payload of gantry-machine's
    /// `wsl2::payload`, an owner-only file in the instance directory), read by the guest on its
    /// second virtio console port (`hvc1`) since there is no fw_cfg here.
    pub guest_settings: PathBuf,
}

/// A host folder the guest sees at the same path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Share {
    /// The virtiofs tag the guest mounts (`mount -t virtiofs TAG PATH`).
    pub tag: String,
    pub host_path: PathBuf,
    #[serde(default)]
    pub read_only: bool,
}

/// A configuration gantry-vz refuses, with what to fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("cpus must be at least 1 (got {0})")]
    Cpus(u32),
    #[error("memory must be at least {MIN_MEMORY_MIB} MiB (got {0} MiB)")]
    Memory(u64),
    #[error("{what} must be an absolute path: {}", path.display())]
    Relative { what: &'static str, path: PathBuf },
    #[error("virtiofs tag {0:?} must be 1 to {MAX_TAG_BYTES} bytes of letters, digits, '-' and '_'")]
    Tag(String),
    #[error("two shares use the tag {0:?}")]
    DuplicateTag(String),
    #[error(
        "the engine socket path is {0} bytes, more than macOS allows ({MAX_SOCKET_PATH}): use a shorter GANTRY_HOME"
    )]
    SocketPath(usize),
    #[error("virtio-socket port {0} is reserved: use 1024 or above")]
    Port(u32),
    #[error("the command line already names a console other than hvc0: {0:?}")]
    Console(String),
    #[error("cannot read the configuration: {0}")]
    Json(String),
}

impl VzConfig {
    /// Reads and checks a configuration.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let cfg: Self = serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Everything Virtualization.framework would refuse later, and what Gantry needs.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.cpus == 0 {
            return Err(ConfigError::Cpus(self.cpus));
        }
        if self.memory_mib < MIN_MEMORY_MIB {
            return Err(ConfigError::Memory(self.memory_mib));
        }
        let paths = [
            ("kernel", &self.kernel),
            ("initrd", &self.initrd),
            ("root_image", &self.root_image),
            ("data_disk", &self.data_disk),
            ("engine_socket", &self.engine_socket),
            ("console_log", &self.console_log),
            ("guest_settings", &self.guest_settings),
        ];
        for (what, path) in paths.into_iter().chain(self.shares.iter().map(|s| ("share", &s.host_path))) {
            if !path.is_absolute() {
                return Err(ConfigError::Relative { what, path: path.clone() });
            }
        }
        let mut tags = std::collections::HashSet::new();
        for share in &self.shares {
            let ok = !share.tag.is_empty()
                && share.tag.len() <= MAX_TAG_BYTES
                && share.tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(ConfigError::Tag(share.tag.clone()));
            }
            if !tags.insert(share.tag.as_str()) {
                return Err(ConfigError::DuplicateTag(share.tag.clone()));
            }
        }
        let socket_len = self.engine_socket.as_os_str().len();
        if socket_len > MAX_SOCKET_PATH {
            return Err(ConfigError::SocketPath(socket_len));
        }
        if self.engine_vsock_port < 1024 {
            return Err(ConfigError::Port(self.engine_vsock_port));
        }
        vz_cmdline(&self.cmdline).map(drop)
    }

    /// The kernel command line under Apple Virtualization: `console=ttyS0` becomes `hvc0`.
    pub fn kernel_cmdline(&self) -> Result<String, ConfigError> {
        vz_cmdline(&self.cmdline)
    }
}

/// `cmdline` with its serial console replaced by the virtio console; another explicit console
/// is refused (its output would go nowhere).
pub fn vz_cmdline(cmdline: &str) -> Result<String, ConfigError> {
    let mut words = Vec::new();
    for word in cmdline.split_whitespace() {
        match word.strip_prefix("console=") {
            Some(dev) if dev.starts_with("ttyS") || dev.starts_with("ttyAMA") || dev == "hvc0" => {}
            Some(_) => return Err(ConfigError::Console(word.to_owned())),
            None => words.push(word),
        }
    }
    words.insert(0, VZ_CONSOLE);
    Ok(words.join(" "))
}

/// Whether `head` (the first 64 bytes of a kernel file) is an uncompressed arm64 Linux `Image`
/// (magic `ARM\x64` at offset 56), the only kind VZLinuxBootLoader boots on Apple silicon.
pub fn is_arm64_image(head: &[u8]) -> bool {
    head.get(56..60) == Some(b"ARM\x64")
}

/// Reads the kernel's first bytes and says what is wrong with it, if anything.
pub fn check_kernel(path: &Path) -> Result<(), String> {
    use std::io::Read;
    let mut head = [0u8; 64];
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot open the kernel {}: {e}", path.display()))?;
    file.read_exact(&mut head).map_err(|e| format!("cannot read the kernel {}: {e}", path.display()))?;
    if is_arm64_image(&head) {
        Ok(())
    } else if head.starts_with(&[0x1f, 0x8b]) {
        Err(format!(
            "{} is gzip-compressed: Apple Virtualization boots an uncompressed arm64 Image (vm-images/build.sh writes one for ARCH=arm64)",
            path.display()
        ))
    } else {
        Err(format!("{} is not an arm64 Linux Image", path.display()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> VzConfig {
        VzConfig {
            cpus: 4,
            memory_mib: 4096,
            kernel: "/Applications/Gantry.app/Contents/Resources/guest/Image".into(),
            initrd: "/Applications/Gantry.app/Contents/Resources/guest/initrd.img".into(),
            cmdline: "console=ttyS0 panic=-1 quiet".into(),
            root_image: "/Applications/Gantry.app/Contents/Resources/guest/rootfs.squashfs".into(),
            data_disk: "/Users/ann/Library/Application Support/gantry/default/disk.raw".into(),
            shares: vec![Share { tag: "share0".into(), host_path: "/Users/ann".into(), read_only: false }],
            engine_vsock_port: 2376,
            engine_socket: "/Users/ann/Library/Application Support/gantry/default/vz-engine.sock".into(),
            console_log: "/Users/ann/Library/Application Support/gantry/default/console.log".into(),
            guest_settings: "/Users/ann/Library/Application Support/gantry/default/vz-settings".into(),
        }
    }

    #[test]
    fn a_good_configuration_round_trips_as_json() {
        let cfg = sample();
        cfg.validate().unwrap();
        let json = serde_json::to_string(&cfg).unwrap();
        assert_eq!(VzConfig::from_json(&json).unwrap(), cfg);
        assert_eq!(cfg.kernel_cmdline().unwrap(), "console=hvc0 panic=-1 quiet");
        assert!(matches!(VzConfig::from_json(&json.replace("\"cpus\"", "\"cpu_count\"")), Err(ConfigError::Json(_))));
    }

    #[test]
    fn each_refusal_is_specific() {
        let with = |f: &dyn Fn(&mut VzConfig)| {
            let mut c = sample();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert_eq!(with(&|c| c.cpus = 0), ConfigError::Cpus(0));
        assert_eq!(with(&|c| c.memory_mib = 256), ConfigError::Memory(256));
        assert!(matches!(with(&|c| c.kernel = "Image".into()), ConfigError::Relative { what: "kernel", .. }));
        assert!(matches!(
            with(&|c| c.shares[0].host_path = "home".into()),
            ConfigError::Relative { what: "share", .. }
        ));
        assert_eq!(with(&|c| c.shares[0].tag = "x".repeat(37)), ConfigError::Tag("x".repeat(37)));
        assert_eq!(with(&|c| c.shares[0].tag = "a b".into()), ConfigError::Tag("a b".into()));
        assert_eq!(
            with(&|c| c.shares.push(Share { tag: "share0".into(), host_path: "/tmp".into(), read_only: true })),
            ConfigError::DuplicateTag("share0".into())
        );
        assert!(matches!(
            with(&|c| c.engine_socket = format!("/{}", "s".repeat(110)).into()),
            ConfigError::SocketPath(111)
        ));
        assert_eq!(with(&|c| c.engine_vsock_port = 22), ConfigError::Port(22));
        assert_eq!(with(&|c| c.cmdline = "console=tty0 quiet".into()), ConfigError::Console("console=tty0".into()));
    }

    #[test]
    fn kernels_are_checked_by_their_magic() {
        let dir = tempfile::tempdir().unwrap();
        let mut image = vec![0u8; 64];
        image[56..60].copy_from_slice(b"ARM\x64");
        let good = dir.path().join("Image");
        std::fs::write(&good, &image).unwrap();
        assert!(check_kernel(&good).is_ok());
        let gz = dir.path().join("vmlinuz");
        std::fs::write(&gz, [&[0x1f, 0x8b][..], &[0u8; 62]].concat()).unwrap();
        assert!(check_kernel(&gz).unwrap_err().contains("gzip-compressed"));
        let short = dir.path().join("short");
        std::fs::write(&short, b"MZ").unwrap();
        assert!(check_kernel(&short).is_err());
    }
}

//! The guest's CPU architecture: which QEMU runs it, and whether this computer can accelerate it.
//!
//! A guest image names its architecture in VERSION's `arch=` line (Debian's name, as
//! vm-images/build.sh writes it); an image without that line is amd64 (built before the line).
//! A guest of another architecture than this computer's runs under TCG only (an arm64 guest on a
//! PC, as the arm64 boot test does): no accelerator runs foreign instructions.

use crate::accel::{Accel, AccelChoice};

/// A CPU architecture Gantry builds guest images for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuestArch {
    /// x86-64 (Debian `amd64`): QEMU's `q35` machine.
    X86_64,
    /// 64-bit Arm (Debian `arm64`; Apple silicon): QEMU's `virt` machine.
    Aarch64,
}

/// VERSION's key naming the image's architecture.
pub const VERSION_KEY: &str = "arch";

impl GuestArch {
    /// This computer's architecture (`None` on one Gantry has no guest for).
    pub fn host() -> Option<Self> {
        Self::from_rust(std::env::consts::ARCH)
    }

    /// From Rust's name (`std::env::consts::ARCH`).
    pub fn from_rust(name: &str) -> Option<Self> {
        match name {
            "x86_64" => Some(Self::X86_64),
            "aarch64" => Some(Self::Aarch64),
            _ => None,
        }
    }

    /// From Debian's name (`amd64`, `arm64`).
    pub fn from_debian(name: &str) -> Option<Self> {
        match name {
            "amd64" => Some(Self::X86_64),
            "arm64" => Some(Self::Aarch64),
            _ => None,
        }
    }

    /// Debian's name, as in the image's VERSION and vm-images/build.sh's `GANTRY_GUEST_ARCH`.
    pub fn debian(self) -> &'static str {
        match self {
            Self::X86_64 => "amd64",
            Self::Aarch64 => "arm64",
        }
    }

    /// QEMU's name (`qemu-system-<name>`).
    pub fn qemu(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Aarch64 => "aarch64",
        }
    }

    /// The architecture an image's VERSION text names: its `arch=` line, amd64 without one.
    /// An unknown name is returned as the error.
    pub fn from_version(text: &str) -> Result<Self, String> {
        let value = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == VERSION_KEY)
            .map(|(_, v)| v.trim());
        match value {
            None => Ok(Self::X86_64),
            Some(v) => Self::from_debian(v).ok_or_else(|| v.to_owned()),
        }
    }
}

impl std::fmt::Display for GuestArch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.debian())
    }
}

/// The accelerator for a guest of `guest` on a computer of `host`: the detected `choice` when
/// they match, else TCG with a warning saying why (no accelerator runs foreign instructions).
pub fn accel_for_guest(choice: AccelChoice, guest: GuestArch, host: Option<GuestArch>) -> AccelChoice {
    if host == Some(guest) {
        return choice;
    }
    let host = host.map_or_else(|| std::env::consts::ARCH.to_owned(), |h| h.debian().to_owned());
    AccelChoice {
        accel: Accel::Tcg,
        warning: Some(format!(
            "the guest image is {guest} and this computer {host}: the VM runs in software emulation (TCG), slowly; \
             use the {host} image for speed"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_the_architecture_and_old_images_are_amd64() {
        assert_eq!(GuestArch::from_version("input_hash=1\nsuite=trixie\n"), Ok(GuestArch::X86_64));
        assert_eq!(GuestArch::from_version("suite=trixie\narch=arm64\n"), Ok(GuestArch::Aarch64));
        assert_eq!(GuestArch::from_version("arch = amd64"), Ok(GuestArch::X86_64));
        assert_eq!(GuestArch::from_version("arch=riscv64\n"), Err("riscv64".to_owned()));
        // a key that only ends in "arch" is not it
        assert_eq!(GuestArch::from_version("march=arm64\n"), Ok(GuestArch::X86_64));
        for a in [GuestArch::X86_64, GuestArch::Aarch64] {
            assert_eq!(GuestArch::from_debian(a.debian()), Some(a));
            assert_eq!(GuestArch::from_rust(a.qemu()), Some(a));
        }
    }

    #[test]
    fn a_foreign_guest_runs_under_tcg_with_a_warning() {
        let kvm = AccelChoice { accel: Accel::Kvm, warning: None };
        let same = accel_for_guest(kvm.clone(), GuestArch::X86_64, Some(GuestArch::X86_64));
        assert_eq!(same, kvm);
        let foreign = accel_for_guest(kvm, GuestArch::Aarch64, Some(GuestArch::X86_64));
        assert_eq!(foreign.accel, Accel::Tcg);
        let w = foreign.warning.unwrap_or_default();
        assert!(w.contains("arm64") && w.contains("amd64") && w.contains("TCG"), "{w}");
        let hvf = AccelChoice { accel: Accel::Hvf, warning: None };
        assert_eq!(accel_for_guest(hvf.clone(), GuestArch::Aarch64, Some(GuestArch::Aarch64)), hvf);
    }
}

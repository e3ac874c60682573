//! Accelerator detection: KVM on Linux, HVF on macOS, WHPX on Windows, TCG (software) otherwise.
//!
//! A `/dev/kvm` that opens is not proof that KVM works (nested PVM hosts accept the device and
//! then stall the guest), so the driver first runs a test guest with a deadline
//! ([`crate::accel_probe`]) and watches the boot's progress as a backstop, falling back to TCG;
//! the choice is remembered in the instance directory ([`Remembered`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A QEMU accelerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accel {
    Kvm,
    Hvf,
    Whpx,
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Self::Kvm => "kvm",
            Self::Hvf => "hvf",
            Self::Whpx => "whpx",
            Self::Tcg => "tcg",
        }
    }
    /// Whether this is hardware-assisted.
    pub fn is_hardware(self) -> bool {
        self != Self::Tcg
    }
}

impl std::fmt::Display for Accel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The operating system QEMU runs on (a parameter so the pure functions are testable for all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostOs {
    Linux,
    MacOs,
    Windows,
}

impl HostOs {
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Self::MacOs
        } else if cfg!(windows) {
            Self::Windows
        } else {
            Self::Linux
        }
    }

    /// How messages name it ("Linux", "macOS", "Windows").
    pub fn name(self) -> &'static str {
        match self {
            Self::Linux => "Linux",
            Self::MacOs => "macOS",
            Self::Windows => "Windows",
        }
    }
}

/// The result of detection: the accelerator and, when it is not the preferred one, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccelChoice {
    pub accel: Accel,
    /// A user-visible warning (e.g. "KVM is not usable: ...; using slow software emulation").
    pub warning: Option<String>,
}

/// Inputs of detection (kept explicit for tests: the KVM device path is configurable).
#[derive(Debug, Clone)]
pub struct Probe {
    pub os: HostOs,
    /// Normally `/dev/kvm`; overridable with `GANTRY_KVM_DEVICE` to simulate its absence.
    pub kvm_device: PathBuf,
}

/// Environment variable naming the KVM device (tests point it at a missing path).
pub const KVM_DEVICE_ENV: &str = "GANTRY_KVM_DEVICE";
/// Environment variable forcing an accelerator (`kvm`, `tcg`, ...).
pub const FORCE_ACCEL_ENV: &str = "GANTRY_ACCEL";

impl Default for Probe {
    fn default() -> Self {
        Self {
            os: HostOs::current(),
            kvm_device: std::env::var_os(KVM_DEVICE_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/dev/kvm")),
        }
    }
}

const TCG_WARNING: &str = "using software emulation (TCG): the VM is slow to boot and run";

/// The accelerator forced by [`FORCE_ACCEL_ENV`], if any.
pub fn forced() -> Option<Accel> {
    std::env::var(FORCE_ACCEL_ENV).ok().and_then(|v| parse(&v))
}

/// Detects the best accelerator.
pub fn detect(probe: &Probe) -> AccelChoice {
    if let Some(forced) = forced() {
        let warning = (!forced.is_hardware()).then(|| format!("{FORCE_ACCEL_ENV} set: {TCG_WARNING}"));
        return AccelChoice { accel: forced, warning };
    }
    match probe.os {
        HostOs::Linux => match kvm_usable(&probe.kvm_device) {
            Ok(()) => AccelChoice { accel: Accel::Kvm, warning: None },
            Err(why) => {
                AccelChoice { accel: Accel::Tcg, warning: Some(format!("KVM is not usable ({why}); {TCG_WARNING}")) }
            }
        },
        HostOs::MacOs => {
            // Hypervisor.framework is present on every supported macOS; QEMU reports failure at
            // start if it is not, and the probe or the stall detection falls back.
            AccelChoice { accel: Accel::Hvf, warning: None }
        }
        HostOs::Windows => AccelChoice { accel: Accel::Whpx, warning: None },
    }
}

/// Parses an accelerator name.
pub fn parse(s: &str) -> Option<Accel> {
    match s.trim().to_ascii_lowercase().as_str() {
        "kvm" => Some(Accel::Kvm),
        "hvf" => Some(Accel::Hvf),
        "whpx" => Some(Accel::Whpx),
        "tcg" => Some(Accel::Tcg),
        _ => None,
    }
}

/// `/dev/kvm` exists and opens read-write.
pub fn kvm_usable(dev: &Path) -> Result<(), String> {
    match std::fs::OpenOptions::new().read(true).write(true).open(dev) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!("{} does not exist", dev.display())),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(format!("no permission to open {} (add yourself to the kvm group)", dev.display()))
        }
        Err(e) => Err(format!("{}: {e}", dev.display())),
    }
}

/// The accelerator choice remembered in the instance directory after a stalled boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    pub accel: Accel,
    pub reason: String,
}

impl Remembered {
    pub fn load(path: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        crate::private_file::write_atomic(path, json.as_bytes())
    }
}

/// Combines detection with a remembered choice: a remembered fallback wins over a hardware
/// accelerator that was seen to stall.
pub fn choose(probe: &Probe, remembered: Option<&Remembered>) -> AccelChoice {
    let detected = detect(probe);
    match remembered {
        Some(r) if detected.accel.is_hardware() && std::env::var_os(FORCE_ACCEL_ENV).is_none() => AccelChoice {
            accel: r.accel,
            warning: Some(format!("{} (remembered: {}); {TCG_WARNING}", detected.accel, r.reason)),
        },
        _ => detected,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn missing_kvm_device_falls_back_to_tcg_with_warning() {
        let probe = Probe { os: HostOs::Linux, kvm_device: "/nonexistent/kvm".into() };
        if std::env::var_os(FORCE_ACCEL_ENV).is_some() {
            return;
        }
        let c = detect(&probe);
        assert_eq!(c.accel, Accel::Tcg);
        let w = c.warning.unwrap();
        assert!(w.contains("/nonexistent/kvm does not exist"), "{w}");
        assert!(w.contains("software emulation"), "{w}");
    }

    #[test]
    fn per_os_defaults() {
        if std::env::var_os(FORCE_ACCEL_ENV).is_some() {
            return;
        }
        let mac = detect(&Probe { os: HostOs::MacOs, kvm_device: "/x".into() });
        assert_eq!(mac.accel, Accel::Hvf);
        let win = detect(&Probe { os: HostOs::Windows, kvm_device: "/x".into() });
        assert_eq!(win.accel, Accel::Whpx);
    }

    #[test]
    fn a_usable_device_means_kvm_unless_remembered() {
        if std::env::var_os(FORCE_ACCEL_ENV).is_some() {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let dev = t.path().join("kvm");
        std::fs::write(&dev, "").unwrap();
        let probe = Probe { os: HostOs::Linux, kvm_device: dev };
        assert_eq!(choose(&probe, None).accel, Accel::Kvm);
        let r = Remembered { accel: Accel::Tcg, reason: "kvm stalled".into() };
        let p = t.path().join("accel.json");
        r.save(&p).unwrap();
        let c = choose(&probe, Remembered::load(&p).as_ref());
        assert_eq!(c.accel, Accel::Tcg);
        assert!(c.warning.unwrap().contains("kvm stalled"));
    }
}

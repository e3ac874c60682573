//! Which driver runs the VM: [`choose_driver`] decides from the host system, the driver asked
//! for in `GANTRY_DRIVER` ([`DRIVER_ENV`]) and what the WSL 2 probe saw. The decision is pure
//! and tested for every input; only the probe that runs `wsl.exe` ([`probe_wsl`]) is
//! Windows-only.
//!
//! - Linux and macOS: QEMU (no Apple Virtualization driver exists yet).
//! - Windows: WSL 2 when it is usable, else QEMU with WHPX.
//! - `GANTRY_DRIVER=qemu|wsl2` wins over both; `wsl2` anywhere but on Windows is an error.

use crate::accel::HostOs;
use crate::error::{MachineError, Result};

/// The environment variable that asks for a driver (`qemu` or `wsl2`; unset or empty: chosen).
pub const DRIVER_ENV: &str = "GANTRY_DRIVER";

/// How long the probe waits for `wsl.exe --status` before counting WSL 2 as not usable.
pub const WSL_PROBE_BOUND: std::time::Duration = std::time::Duration::from_secs(20);

/// A VM driver Gantry has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DriverKind {
    /// [`super::QemuDriver`].
    Qemu,
    /// [`super::Wsl2Driver`] (Windows).
    Wsl2,
}

impl DriverKind {
    /// Every driver, in the order messages list them.
    pub const ALL: [Self; 2] = [Self::Qemu, Self::Wsl2];

    /// Its name, as `GANTRY_DRIVER` and [`super::Driver::name`] spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Qemu => "qemu",
            Self::Wsl2 => "wsl2",
        }
    }

    /// The driver a `GANTRY_DRIVER` value asks for: `None` when it is empty (Gantry chooses);
    /// case and surrounding spaces do not matter; any other word is
    /// [`MachineError::UnknownDriver`].
    pub fn parse_request(value: &str) -> Result<Option<Self>> {
        let word = value.trim();
        if word.is_empty() {
            return Ok(None);
        }
        Self::ALL
            .into_iter()
            .find(|kind| kind.name().eq_ignore_ascii_case(word))
            .map(Some)
            .ok_or_else(|| MachineError::UnknownDriver { value: value.to_owned() })
    }
}

/// The driver `GANTRY_DRIVER` asks for in this process's environment ([`DriverKind::parse_request`]).
pub fn requested_driver() -> Result<Option<DriverKind>> {
    match std::env::var_os(DRIVER_ENV) {
        None => Ok(None),
        Some(value) => match value.to_str() {
            Some(text) => DriverKind::parse_request(text),
            None => Err(MachineError::UnknownDriver { value: value.to_string_lossy().into_owned() }),
        },
    }
}

/// What the choice knows about WSL 2 on this computer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WslAvailability {
    /// Not looked at: not Windows, or a driver was asked for.
    NotProbed,
    /// `wsl.exe` answered and the guest's WSL root filesystems are there.
    Usable,
    /// WSL 2 cannot run Gantry's engine here, and why (the message shown in the log).
    Unusable { reason: String },
}

impl WslAvailability {
    /// From the probe's `wsl.exe --status` run ([`crate::wsl2::error::outcome`]): not usable
    /// when wsl.exe is missing, cannot be run, or names a known reason (not installed,
    /// virtualization off, WSL 1 only); any other answer, a failure without a known code
    /// included, counts as usable: the driver's start then says what fails.
    pub fn from_status(ran: std::result::Result<String, crate::wsl2::WslError>) -> Self {
        use crate::wsl2::WslError;
        match ran {
            Ok(_) | Err(WslError::Failed { .. }) => Self::Usable,
            Err(e) => Self::Unusable { reason: e.to_string() },
        }
    }
}

/// The driver to run, and why (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverChoice {
    pub kind: DriverKind,
    pub reason: String,
}

/// The driver for a host running `os`, with `requested` from `GANTRY_DRIVER` and `wsl` from
/// the probe (see the module's documentation for the rules). The one error is `wsl2` asked for
/// off Windows: [`MachineError::WindowsOnlyDriver`].
pub fn choose_driver(os: HostOs, requested: Option<DriverKind>, wsl: &WslAvailability) -> Result<DriverChoice> {
    let choice = |kind, reason: String| Ok(DriverChoice { kind, reason });
    match (requested, os) {
        (Some(DriverKind::Wsl2), HostOs::Linux | HostOs::MacOs) => {
            Err(MachineError::WindowsOnlyDriver { driver: DriverKind::Wsl2.name(), os })
        }
        (Some(kind), _) => choice(kind, format!("{DRIVER_ENV}={}", kind.name())),
        (None, HostOs::Linux | HostOs::MacOs) => choice(DriverKind::Qemu, format!("QEMU on {}", os.name())),
        (None, HostOs::Windows) => match wsl {
            WslAvailability::Usable => choice(DriverKind::Wsl2, "WSL 2 is usable".into()),
            WslAvailability::Unusable { reason } => {
                choice(DriverKind::Qemu, format!("WSL 2 is not usable ({reason}): QEMU with WHPX instead"))
            }
            WslAvailability::NotProbed => {
                choice(DriverKind::Qemu, "WSL 2 was not probed: QEMU with WHPX instead".into())
            }
        },
    }
}

/// The driver for this computer: [`requested_driver`], [`probe_wsl`] on Windows when nothing
/// was requested, then [`choose_driver`].
pub async fn choose_for_this_host() -> Result<DriverChoice> {
    let os = HostOs::current();
    let requested = requested_driver()?;
    let wsl = match (os, requested) {
        (HostOs::Windows, None) => probe_wsl().await,
        _ => WslAvailability::NotProbed,
    };
    choose_driver(os, requested, &wsl)
}

/// Whether WSL 2 can run Gantry's engine here: the guest's WSL root filesystems are found
/// ([`crate::wsl2::Rootfs::locate`]) and `wsl.exe --status` answers within [`WSL_PROBE_BOUND`]
/// ([`WslAvailability::from_status`]).
#[cfg(windows)]
pub async fn probe_wsl() -> WslAvailability {
    use crate::wsl2::exe::{SystemWsl, WslExe};
    use crate::wsl2::{Rootfs, args, error};

    if let Err(e) = Rootfs::locate() {
        return WslAvailability::Unusable { reason: e.to_string() };
    }
    let command = args::status();
    match tokio::time::timeout(WSL_PROBE_BOUND, SystemWsl::default().run(command.clone())).await {
        Ok(ran) => WslAvailability::from_status(error::outcome(&command, ran)),
        Err(_) => WslAvailability::Unusable {
            reason: format!("`wsl.exe --status` did not answer within {} s", WSL_PROBE_BOUND.as_secs()),
        },
    }
}

/// Off Windows there is no WSL to probe.
#[cfg(not(windows))]
pub async fn probe_wsl() -> WslAvailability {
    WslAvailability::NotProbed
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use gantry_testkit::prop::{self, proptest::prelude::*};

    use super::*;
    use crate::wsl2::WslError;
    use crate::wsl2::error::outcome;
    use crate::wsl2::exe::RawOutput;
    use crate::wsl2::output::encode_utf16le;

    const OSES: [HostOs; 3] = [HostOs::Linux, HostOs::MacOs, HostOs::Windows];

    fn availabilities() -> [WslAvailability; 3] {
        [
            WslAvailability::NotProbed,
            WslAvailability::Usable,
            WslAvailability::Unusable { reason: "WSL is not installed on this Windows".into() },
        ]
    }

    /// Every host, request and probe result: the driver the rules name, or the one error.
    #[test]
    fn every_input_has_its_driver_or_its_error() {
        for os in OSES {
            for requested in [None, Some(DriverKind::Qemu), Some(DriverKind::Wsl2)] {
                for wsl in availabilities() {
                    let got = choose_driver(os, requested, &wsl);
                    let want = match (requested, os, &wsl) {
                        (Some(DriverKind::Wsl2), HostOs::Linux | HostOs::MacOs, _) => None,
                        (Some(kind), _, _) => Some(kind),
                        (None, HostOs::Windows, WslAvailability::Usable) => Some(DriverKind::Wsl2),
                        (None, _, _) => Some(DriverKind::Qemu),
                    };
                    match (want, got) {
                        (Some(kind), Ok(choice)) => assert_eq!(choice.kind, kind, "{os:?} {requested:?} {wsl:?}"),
                        (None, Err(e @ MachineError::WindowsOnlyDriver { driver: "wsl2", .. })) => {
                            assert_eq!(
                                e.to_string(),
                                format!("the wsl2 VM driver runs on Windows only, not on {}", os.name())
                            );
                            assert!(e.hint().contains("GANTRY_DRIVER to qemu"), "{}", e.hint());
                        }
                        (want, got) => panic!("{os:?} {requested:?} {wsl:?}: want {want:?}, got {got:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn the_reason_says_why() {
        let unusable = WslAvailability::Unusable { reason: "WSL is not installed on this Windows".into() };
        let fallback = choose_driver(HostOs::Windows, None, &unusable).unwrap();
        assert_eq!(
            fallback.reason,
            "WSL 2 is not usable (WSL is not installed on this Windows): QEMU with WHPX instead"
        );
        let forced = choose_driver(HostOs::Windows, Some(DriverKind::Qemu), &WslAvailability::Usable).unwrap();
        assert_eq!(forced.reason, "GANTRY_DRIVER=qemu");
        assert_eq!(choose_driver(HostOs::MacOs, None, &WslAvailability::NotProbed).unwrap().reason, "QEMU on macOS");
    }

    #[test]
    fn the_probe_counts_only_known_reasons_as_unusable() {
        let status = crate::wsl2::args::status();
        let ran = |exit: i32, text: &str| {
            outcome(&status, Ok(RawOutput { exit: Some(exit), stdout: encode_utf16le(text), stderr: Vec::new() }))
        };
        assert_eq!(WslAvailability::from_status(ran(0, "Default Version: 2\n")), WslAvailability::Usable);
        // an unknown failure (an older wsl.exe without --status): the start will say what fails
        assert_eq!(WslAvailability::from_status(ran(-1, "Invalid command line option\n")), WslAvailability::Usable);
        let missing = outcome(&status, Err(std::io::ErrorKind::NotFound.into()));
        let not_installed = ran(1, "Error code: Wsl/WSL_E_WSL_OPTIONAL_COMPONENT_REQUIRED\n");
        let no_hypervisor = ran(1, "Error code: Wsl/Service/CreateInstance/CreateVm/HCS/HCS_E_HYPERV_NOT_INSTALLED\n");
        let no_kernel = ran(1, "Error code: 0x800701bc\n");
        let denied = outcome(&status, Err(std::io::ErrorKind::PermissionDenied.into()));
        for ran in [missing, not_installed, no_hypervisor, no_kernel, denied] {
            let reason = match &ran {
                Err(
                    e @ (WslError::NotInstalled
                    | WslError::VirtualizationDisabled { .. }
                    | WslError::Wsl1Only { .. }
                    | WslError::Spawn { .. }),
                ) => e.to_string(),
                other => panic!("{other:?}"),
            };
            assert_eq!(WslAvailability::from_status(ran), WslAvailability::Unusable { reason });
        }
    }

    #[test]
    fn the_env_value_names_a_driver_or_nothing() {
        assert_eq!(DriverKind::parse_request("").unwrap(), None);
        assert_eq!(DriverKind::parse_request("  ").unwrap(), None);
        assert_eq!(DriverKind::parse_request("qemu").unwrap(), Some(DriverKind::Qemu));
        assert_eq!(DriverKind::parse_request(" WSL2\n").unwrap(), Some(DriverKind::Wsl2));
        let e = DriverKind::parse_request("hyperv").unwrap_err();
        assert_eq!(e.to_string(), "GANTRY_DRIVER=\"hyperv\" names no VM driver (known: qemu, wsl2)");
        assert!(e.hint().contains("unset it"), "{}", e.hint());
        for near in ["wsl", "qemu2", "q emu", "wsl 2"] {
            assert!(matches!(DriverKind::parse_request(near), Err(MachineError::UnknownDriver { .. })), "{near}");
        }
    }

    #[test]
    fn any_env_value_parses_to_its_driver_or_the_error_naming_it() {
        prop::check(
            "driver choice: GANTRY_DRIVER parser",
            file!(),
            0,
            prop_oneof!["\\s{0,2}(?i:qemu|wsl2)?\\s{0,2}", "\\PC{0,12}"],
            |value| {
                let word = value.trim().to_ascii_lowercase();
                match DriverKind::parse_request(&value) {
                    Ok(None) => prop_assert!(word.is_empty()),
                    Ok(Some(kind)) => prop_assert_eq!(kind.name(), word),
                    Err(MachineError::UnknownDriver { value: named }) => {
                        prop_assert_eq!(&named, &value);
                        prop_assert!(!word.is_empty() && DriverKind::ALL.iter().all(|k| k.name() != word));
                    }
                    Err(other) => prop_assert!(false, "{other}"),
                }
                Ok(())
            },
        );
    }
}

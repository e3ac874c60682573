//! WSL's failures as specific errors with what to do. They are recognised by the codes
//! `wsl.exe` prints in every language (`0x8007019e`, `HCS_E_HYPERV_NOT_INSTALLED`, ...), never by
//! its localized sentences; anything else keeps wsl.exe's own message.

use super::exe::RawOutput;
use super::output::decode;

/// A failure of the WSL2 driver.
#[derive(Debug, thiserror::Error)]
pub enum WslError {
    #[error("WSL is not installed on this Windows")]
    NotInstalled,

    #[error(
        "WSL 2 cannot start a virtual machine: virtualization is disabled in the firmware or Windows' Virtual Machine Platform is off ({code})"
    )]
    VirtualizationDisabled { code: String },

    #[error("this Windows runs WSL 1 only ({detail})")]
    Wsl1Only { detail: String },

    #[error("`wsl.exe {command}` failed{}: {message}", exit.map(|c| format!(" (exit code {c})")).unwrap_or_default())]
    Failed { command: String, exit: Option<i32>, message: String },

    #[error("cannot run wsl.exe: {source}")]
    Spawn {
        #[source]
        source: std::io::Error,
    },

    #[error("{name:?} is not a WSL distribution name (letters, digits, '.', '-' and '_', at most 64)")]
    BadName { name: String },

    #[error("the WSL distribution {name} was not made by Gantry ({why}): not touched")]
    NotOurs { name: String, why: String },

    #[error("the guest's root filesystem for WSL is missing: {path}")]
    MissingRootfs { path: std::path::PathBuf },

    #[error("the engine in {name} stopped before it was ready: {last_line}")]
    EngineExited { name: String, last_line: String },

    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl WslError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            Self::NotInstalled => {
                "run `wsl --install --no-distribution` in a terminal opened as administrator, restart \
                Windows, then start Gantry again (or set GANTRY_DRIVER=qemu to use QEMU)"
                    .into()
            }
            Self::VirtualizationDisabled { .. } => {
                "turn on virtualization (Intel VT-x or AMD-V/SVM) in the computer's \
                firmware (UEFI/BIOS) settings, and the Windows feature \"Virtual Machine Platform\" (`wsl --install \
                --no-distribution` as administrator), then restart Windows"
                    .into()
            }
            Self::Wsl1Only { .. } => {
                "run `wsl --update` to get WSL 2 (Windows 10 2004, build 19041, or newer is needed), \
                then start Gantry again; or set GANTRY_DRIVER=qemu"
                    .into()
            }
            Self::Failed { .. } | Self::Spawn { .. } => {
                "run the same `wsl.exe` command in a terminal to see the whole message; `wsl --update` fixes many"
                    .into()
            }
            Self::BadName { .. } => "use an instance name of letters, digits and '-'".into(),
            Self::NotOurs { .. } => {
                "rename or remove that distribution yourself (`wsl --unregister NAME` deletes its files)".into()
            }
            Self::MissingRootfs { .. } => {
                "build the guest with vm-images/build.sh, then vm-images/wsl-rootfs.sh; or reinstall Gantry".into()
            }
            Self::EngineExited { .. } => "see the agent log; `gantry start` again tries once more".into(),
            Self::Io { .. } => "check the permissions of Gantry's data directory".into(),
        }
    }
}

/// The specific error for a failed `wsl.exe` run, from the codes in its output; `None` when
/// the output names none of them.
pub fn classify(text: &str) -> Option<WslError> {
    let lower = text.to_ascii_lowercase();
    let has = |needle: &str| lower.contains(&needle.to_ascii_lowercase());
    // ERROR_LINUX_SUBSYSTEM_NOT_PRESENT; the Store WSL's name for the missing optional component
    if has("0x8007019e") || has("WSL_E_WSL_OPTIONAL_COMPONENT_REQUIRED") || has("ERROR_LINUX_SUBSYSTEM_NOT_PRESENT") {
        return Some(WslError::NotInstalled);
    }
    // HCS_E_HYPERV_NOT_INSTALLED: no hypervisor (firmware setting or the feature);
    // 0x80370114: "a required feature is not installed" (Virtual Machine Platform)
    for code in ["HCS_E_HYPERV_NOT_INSTALLED", "0x80370102", "0x80370114", "WSL_E_VIRTUAL_MACHINE_PLATFORM_REQUIRED"] {
        if has(code) {
            return Some(WslError::VirtualizationDisabled { code: code.to_owned() });
        }
    }
    // the WSL 2 kernel component is missing: only WSL 1 works until `wsl --update`
    if has("0x800701bc") || has("WSL_E_WSL2_NEEDS_KERNEL_UPDATE") {
        return Some(WslError::Wsl1Only { detail: "WSL 2 needs its kernel component".into() });
    }
    None
}

/// The error for a `wsl.exe` run that exited with `exit`: a specific one when its output
/// names a known code, otherwise wsl.exe's own message.
pub fn failure(args: &[std::ffi::OsString], exit: Option<i32>, output: &str) -> WslError {
    classify(output).unwrap_or_else(|| WslError::Failed {
        command: args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" "),
        exit,
        message: last_lines(output, 3),
    })
}

/// What a `wsl.exe ARGS` run printed (its output and error text, decoded), or the error it is:
/// [`WslError::NotInstalled`] when there is no wsl.exe, [`failure`] for a non-zero exit.
pub fn outcome(args: &[std::ffi::OsString], ran: std::io::Result<RawOutput>) -> Result<String, WslError> {
    let out = ran.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => WslError::NotInstalled,
        _ => WslError::Spawn { source: e },
    })?;
    let text = format!("{}{}", decode(&out.stdout), decode(&out.stderr));
    if out.exit == Some(0) { Ok(text) } else { Err(failure(args, out.exit, &text)) }
}

/// The last `n` non-empty lines of `text`, joined by " / ".
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" / ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_in_any_language_become_specific_errors() {
        let not_installed = "Das Windows-Subsystem für Linux ist nicht installiert.\nFehlercode: Wsl/WSL_E_WSL_OPTIONAL_COMPONENT_REQUIRED\n";
        assert!(matches!(classify(not_installed), Some(WslError::NotInstalled)));
        assert!(matches!(
            classify("WslRegisterDistribution failed with error: 0x8007019e"),
            Some(WslError::NotInstalled)
        ));
        let firmware = "Пожалуйста, включите компонент \"Платформа виртуальной машины\"...\nКод ошибки: Wsl/Service/CreateInstance/CreateVm/HCS/HCS_E_HYPERV_NOT_INSTALLED\n";
        assert!(
            matches!(classify(firmware), Some(WslError::VirtualizationDisabled { code }) if code == "HCS_E_HYPERV_NOT_INSTALLED")
        );
        assert!(matches!(classify("Error: 0x80370102"), Some(WslError::VirtualizationDisabled { .. })));
        assert!(matches!(classify("Error code: 0x800701BC"), Some(WslError::Wsl1Only { .. })));
        assert!(classify("The distribution name is invalid.").is_none());
    }

    #[test]
    fn other_failures_keep_wsl_messages_and_every_error_has_a_hint() {
        let e = failure(
            &["--import".into(), "gantry".into()],
            Some(-1),
            "\nA distribution with the supplied name already exists.\nError code: Wsl/Service/RegisterDistro/ERROR_ALREADY_EXISTS\n",
        );
        assert_eq!(
            e.to_string(),
            "`wsl.exe --import gantry` failed (exit code -1): A distribution with the supplied name already exists. / Error code: Wsl/Service/RegisterDistro/ERROR_ALREADY_EXISTS"
        );
        for e in [
            WslError::NotInstalled,
            WslError::VirtualizationDisabled { code: "x".into() },
            WslError::Wsl1Only { detail: "x".into() },
            e,
        ] {
            assert!(e.hint().len() > 20, "{e}: {}", e.hint());
        }
    }
}

//! `gantry doctor`'s accelerator line: the same test guest a start runs
//! ([`gantry_machine::accel_probe`]), so "kvm will be used" is said only of a KVM that ran it.

use std::path::Path;

use gantry_machine::accel::{self, AccelChoice, Probe, Remembered};
use gantry_machine::accel_probe::{self, Verdict};
use gantry_machine::driver::QemuDriver;
use gantry_machine::instance::Instance;

use crate::doctor::{Check, Level};

const NAME: &str = "accelerator";

/// Detects the accelerator, runs the test guest under it when it is a hardware one, and says
/// what a start of `inst` would do.
pub async fn check(inst: &Instance) -> Check {
    let detected = accel::detect(&Probe::default());
    let remembered = Remembered::load(&inst.accel_choice());
    let verdict = if detected.accel.is_hardware() {
        let d = QemuDriver::new(inst.clone());
        let outcome = accel_probe::run(&d.qemu, detected.accel, d.os, accel_probe::DEFAULT_DEADLINE).await;
        Some(accel_probe::classify(detected.accel, &outcome))
    } else {
        None
    };
    describe(&detected, remembered.as_ref(), verdict.as_ref(), &inst.accel_choice())
}

/// The line for what detection, the instance's remembered choice and the test guest say (pure).
pub fn describe(
    detected: &AccelChoice,
    remembered: Option<&Remembered>,
    verdict: Option<&Verdict>,
    remembered_file: &Path,
) -> Check {
    let a = detected.accel;
    let boots_fast = "hardware virtualisation makes the VM boot and run several times faster";
    let warn = |detail: String, hint: String| Check { name: NAME, level: Level::Warn, detail, hint: Some(hint) };
    match (verdict, remembered) {
        (None, _) => match &detected.warning {
            None => Check { name: NAME, level: Level::Ok, detail: format!("{a} will be used"), hint: None },
            Some(w) => warn(format!("{a}: {w}"), boots_fast.to_owned()),
        },
        (Some(Verdict::Works { after }), None) => Check {
            name: NAME,
            level: Level::Ok,
            detail: format!("{a} ran a test guest in {:.1} s: the VM will use it", after.as_secs_f64()),
            hint: None,
        },
        (Some(Verdict::Works { after }), Some(r)) => warn(
            format!(
                "{a} ran a test guest in {:.1} s now, but this instance remembers \"{}\" and uses {}",
                after.as_secs_f64(),
                r.reason,
                r.accel
            ),
            format!("delete {} to use {a} again", remembered_file.display()),
        ),
        (Some(Verdict::Broken { reason }), _) => warn(
            format!("{reason}: the VM uses software emulation (TCG), slowly"),
            format!(
                "{a} is there but cannot run a guest (e.g. nested virtualisation this host does not support, or \
                 another hypervisor holding it); {boots_fast}"
            ),
        ),
        (Some(Verdict::Unknown { reason }), _) => warn(
            format!("{reason}; a start tries {a} and falls back to TCG if the boot stalls"),
            "check QEMU's installation (the qemu line above), then run `gantry doctor` again".to_owned(),
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use gantry_machine::accel::Accel;

    use super::*;

    fn kvm() -> AccelChoice {
        AccelChoice { accel: Accel::Kvm, warning: None }
    }
    const FILE: &str = "/inst/accel.json";

    #[test]
    fn kvm_is_promised_only_after_it_ran_the_test_guest() {
        let works = Verdict::Works { after: Duration::from_millis(240) };
        let c = describe(&kvm(), None, Some(&works), Path::new(FILE));
        assert_eq!(c.level, Level::Ok);
        assert_eq!(c.detail, "kvm ran a test guest in 0.2 s: the VM will use it");

        let broken = Verdict::Broken { reason: "kvm did not run a 61-byte test guest within 2.5 s".into() };
        let c = describe(&kvm(), None, Some(&broken), Path::new(FILE));
        assert_eq!(c.level, Level::Warn);
        assert!(c.detail.starts_with("kvm did not run") && c.detail.contains("TCG"), "{}", c.detail);
        assert!(!c.detail.contains("will use"), "{}", c.detail);
    }

    #[test]
    fn a_remembered_fallback_is_named_with_the_file_to_delete_once_kvm_works() {
        let r = Remembered { accel: Accel::Tcg, reason: "kvm failed: no console progress".into() };
        let works = Verdict::Works { after: Duration::from_millis(300) };
        let c = describe(&kvm(), Some(&r), Some(&works), Path::new(FILE));
        assert_eq!(c.level, Level::Warn);
        assert!(c.detail.contains("remembers \"kvm failed: no console progress\" and uses tcg"), "{}", c.detail);
        assert_eq!(c.hint.unwrap(), format!("delete {FILE} to use kvm again"));
    }

    #[test]
    fn an_inconclusive_test_says_the_boot_decides() {
        let u = Verdict::Unknown { reason: "the kvm test guest did not run (QEMU exited with status 1)".into() };
        let c = describe(&kvm(), None, Some(&u), Path::new(FILE));
        assert_eq!(c.level, Level::Warn);
        assert!(c.detail.contains("falls back to TCG if the boot stalls"), "{}", c.detail);
    }

    #[test]
    fn without_a_hardware_accelerator_the_detection_warning_is_shown() {
        let tcg =
            AccelChoice { accel: Accel::Tcg, warning: Some("KVM is not usable (/dev/kvm does not exist)".into()) };
        let c = describe(&tcg, None, None, Path::new(FILE));
        assert_eq!(c.level, Level::Warn);
        assert!(c.detail.starts_with("tcg: KVM is not usable"), "{}", c.detail);
        let hvf = AccelChoice { accel: Accel::Hvf, warning: None };
        assert_eq!(describe(&hvf, None, None, Path::new(FILE)).level, Level::Ok);
    }
}

//! The QEMU driver against a fake `qemu-system` script: a hardware accelerator that cannot run
//! the test guest is found before the boot, one that passes the test but stalls the boot is
//! caught by the stall check, both fall back to TCG, say so and remember it; a probe that fails
//! for another reason is never held against the accelerator.
#![cfg(unix)] // the fake QEMU is a shell script: built on unix only
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use gantry_machine::accel::{Accel, HostOs, Probe, Remembered};
use gantry_machine::accel_probe::GUEST_EXIT_STATUS;
use gantry_machine::driver::{BootEvent, Driver, MachineConfig, MachineStatus, QemuDriver, StopMode, StopOutcome};
use gantry_machine::instance::Instance;

/// Logs each run (`<accel> probe|boot`) to `@LOG@`; under KVM the test guest (`-device
/// isa-debug-exit`) does `@KVM_PROBE@` and a boot does `@KVM_BOOT@`; under TCG a boot writes its
/// pid file and the "engine ready" line.
const FAKE_QEMU: &str = r#"#!/bin/sh
console=""; pidfile=""; accel=""; mode=boot
while [ $# -gt 0 ]; do
  case "$1" in
    -version) exit 1 ;;  # like a QEMU built without seccomp: -sandbox is refused
    -chardev) case "$2" in file,id=console,*) console="${2##*path=}" ;; esac; shift ;;
    -pidfile) pidfile="$2"; shift ;;
    -accel) accel="$2"; shift ;;
    -device) case "$2" in isa-debug-exit*) mode=probe ;; esac; shift ;;
  esac
  shift
done
echo "${accel%%,*} $mode" >> '@LOG@'
stall() { sleep 5; exit 0; }
works() { exit @EXIT@; }
bios() { echo "qemu-system-x86_64: could not load PC BIOS 'bios-256k.bin'" >&2; exit 1; }
case "$accel $mode" in
  kvm*probe) @KVM_PROBE@ ;;
  tcg*probe) works ;;
esac
echo $$ > "$pidfile"
case "$accel" in
  kvm*) @KVM_BOOT@ ;;
esac
echo "Linux version 6.1 (fake)" > "$console"
echo "gantry-init: engine ready" >> "$console"
sleep 600 &
trap 'kill $!; exit 0' TERM
wait $!
"#;

/// What the fake KVM does with the test guest and with a boot.
struct Fake {
    kvm_probe: &'static str,
    kvm_boot: &'static str,
}

struct Setup {
    _t: tempfile::TempDir,
    inst: Instance,
    driver: QemuDriver,
    cfg: MachineConfig,
    log: PathBuf,
}

fn setup(fake: Fake) -> Setup {
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("runs.log");
    let script = FAKE_QEMU
        .replace("@LOG@", &log.display().to_string())
        .replace("@EXIT@", &GUEST_EXIT_STATUS.to_string())
        .replace("@KVM_PROBE@", fake.kvm_probe)
        .replace("@KVM_BOOT@", fake.kvm_boot);
    // a fake qemu whose command line contains "qemu" (the liveness check looks for it)
    let qemu = t.path().join("fake-qemu-system");
    std::fs::write(&qemu, script).unwrap();
    std::fs::set_permissions(&qemu, std::fs::Permissions::from_mode(0o755)).unwrap();
    let img = t.path().join("img");
    std::fs::create_dir_all(&img).unwrap();
    for f in ["vmlinuz", "initrd.img"] {
        std::fs::write(img.join(f), "").unwrap();
    }
    let kvm = t.path().join("kvm");
    std::fs::write(&kvm, "").unwrap(); // opens read-write: "usable"
    let inst = Instance::at(t.path().join("default"));
    inst.ensure().unwrap();
    let mut driver = QemuDriver::new(inst.clone());
    driver.qemu = qemu;
    driver.os = HostOs::Linux;
    let cfg = MachineConfig {
        image_dir: img,
        probe: Probe { os: HostOs::Linux, kvm_device: kvm },
        accel_probe_deadline: Duration::from_secs(1),
        boot_stall_timeout: Duration::from_secs(2),
        shared_folders: vec![],
        ..Default::default()
    };
    Setup { _t: t, inst, driver, cfg, log }
}

fn runs(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log).unwrap_or_default().lines().map(str::to_owned).collect()
}

fn skip_when_forced(name: &str) -> bool {
    let forced = std::env::var_os("GANTRY_ACCEL").is_some();
    if forced {
        gantry_testkit::skip::skipped(name, "GANTRY_ACCEL is set");
    }
    forced
}

#[tokio::test]
async fn kvm_that_cannot_run_the_test_guest_is_found_before_the_boot() {
    if skip_when_forced("kvm_that_cannot_run_the_test_guest_is_found_before_the_boot") {
        return;
    }
    let Setup { inst, driver: d, cfg, log, _t } = setup(Fake { kvm_probe: "stall", kvm_boot: "stall" });
    let events = Mutex::new(Vec::new());
    let state = d.start(&cfg, &|e| events.lock().unwrap().push(e)).await.unwrap();
    assert_eq!(state.accel, Accel::Tcg);
    assert!(state.warning.as_deref().unwrap_or("").contains("software emulation"), "{state:?}");
    assert_eq!(runs(&log), ["kvm probe", "tcg boot"], "the guest itself never booted under KVM");
    let ev = events.lock().unwrap().clone();
    assert!(ev.iter().any(|e| matches!(e, BootEvent::FellBack { from: Accel::Kvm, .. })), "{ev:?}");
    let r = Remembered::load(&inst.accel_choice()).unwrap();
    assert_eq!(r.accel, Accel::Tcg);
    assert!(r.reason.contains("did not run a 61-byte test guest within 1.0 s"), "{r:?}");
    // remembered: the next start neither probes nor boots KVM
    d.stop(Duration::from_secs(1), StopMode::SaveIfAsked).await.unwrap();
    d.start(&cfg, &|_| {}).await.unwrap();
    assert_eq!(runs(&log), ["kvm probe", "tcg boot", "tcg boot"]);
    d.stop(Duration::from_secs(1), StopMode::SaveIfAsked).await.unwrap();
}

#[tokio::test]
async fn a_probe_that_fails_for_another_reason_is_not_held_against_kvm() {
    if skip_when_forced("a_probe_that_fails_for_another_reason_is_not_held_against_kvm") {
        return;
    }
    let Setup { inst, driver: d, cfg, log, _t } = setup(Fake { kvm_probe: "bios", kvm_boot: ":" });
    let state = d.start(&cfg, &|_| {}).await.unwrap();
    assert_eq!(state.accel, Accel::Kvm, "{state:?}");
    assert_eq!(runs(&log), ["kvm probe", "kvm boot"]);
    assert!(Remembered::load(&inst.accel_choice()).is_none(), "nothing remembered against KVM");
    d.stop(Duration::from_secs(1), StopMode::SaveIfAsked).await.unwrap();
}

#[tokio::test]
async fn kvm_that_passes_the_probe_but_stalls_the_boot_falls_back_to_tcg_and_is_remembered() {
    if skip_when_forced("kvm_that_passes_the_probe_but_stalls_the_boot_falls_back_to_tcg_and_is_remembered") {
        return;
    }
    let Setup { inst, driver: d, cfg, log, _t } = setup(Fake { kvm_probe: "works", kvm_boot: "stall" });
    let events = Mutex::new(Vec::new());
    let state = d.start(&cfg, &|e| events.lock().unwrap().push(e)).await.unwrap();
    assert_eq!(state.accel, Accel::Tcg);
    assert!(state.warning.as_deref().unwrap_or("").contains("software emulation"), "{state:?}");
    let ev = events.lock().unwrap().clone();
    assert!(ev.iter().any(|e| matches!(e, BootEvent::FellBack { from: Accel::Kvm, .. })), "{ev:?}");
    assert!(ev.iter().any(|e| matches!(e, BootEvent::EngineReady { .. })));
    let r = Remembered::load(&inst.accel_choice()).unwrap();
    assert_eq!(r.accel, Accel::Tcg);
    assert!(r.reason.contains("no console progress"), "{r:?}");
    assert_eq!(runs(&log), ["kvm probe", "kvm boot", "tcg boot"]);
    assert!(ev.iter().any(|e| matches!(e, BootEvent::AccelWorks { accel: Accel::Kvm, .. })), "{ev:?}");
    assert!(matches!(d.status(), MachineStatus::Running(s) if s.accel == Accel::Tcg));
    // a second start reattaches to the running VM
    let again = d.start(&cfg, &|_| {}).await.unwrap();
    assert_eq!(again.pid, state.pid);
    // no QMP in the fake: stop falls back to terminating the process
    let outcome = d.stop(Duration::from_secs(1), StopMode::SaveIfAsked).await.unwrap();
    assert_eq!(outcome, StopOutcome::Killed);
    assert_eq!(d.status(), MachineStatus::Stopped);
    assert!(!inst.qemu_pid().exists());
}

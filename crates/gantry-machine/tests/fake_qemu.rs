//! The QEMU driver against a fake `qemu-system` script: a hardware accelerator that stalls
//! (no console output) is detected, the boot falls back to TCG, says so, and remembers it.
#![cfg(unix)] // the fake QEMU is a shell script: built on unix only
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::sync::Mutex;
use std::time::Duration;

use gantry_machine::accel::{Accel, HostOs, Probe, Remembered};
use gantry_machine::driver::{BootEvent, Driver, MachineConfig, MachineStatus, QemuDriver, StopOutcome};
use gantry_machine::instance::Instance;

/// Stalls silently under KVM; under TCG writes its pid file and the "engine ready" line.
const FAKE_QEMU: &str = r#"#!/bin/sh
console=""; pidfile=""; accel=""
while [ $# -gt 0 ]; do
  case "$1" in
    -version) exit 1 ;;  # like a QEMU built without seccomp: -sandbox is refused
    -chardev) console="${2##*path=}"; shift ;;
    -pidfile) pidfile="$2"; shift ;;
    -accel) accel="$2"; shift ;;
  esac
  shift
done
echo $$ > "$pidfile"
case "$accel" in
  kvm*) sleep 5; exit 0 ;;
esac
echo "Linux version 6.1 (fake)" > "$console"
echo "gantry-init: engine ready" >> "$console"
sleep 600 &
trap 'kill $!; exit 0' TERM
wait $!
"#;

#[tokio::test]
async fn stalled_kvm_boot_falls_back_to_tcg_and_is_remembered() {
    if std::env::var_os("GANTRY_ACCEL").is_some() {
        gantry_testkit::skip::skipped("stalled_kvm_boot_falls_back_to_tcg_and_is_remembered", "GANTRY_ACCEL is set");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    // a fake qemu whose command line contains "qemu" (the liveness check looks for it)
    let qemu = t.path().join("fake-qemu-system");
    std::fs::write(&qemu, FAKE_QEMU).unwrap();
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
    let mut d = QemuDriver::new(inst.clone());
    d.qemu = qemu;
    d.os = HostOs::Linux;
    let cfg = MachineConfig {
        image_dir: img,
        probe: Probe { os: HostOs::Linux, kvm_device: kvm },
        boot_stall_timeout: Duration::from_secs(2),
        shared_folders: vec![],
        ..Default::default()
    };
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
    assert!(matches!(d.status(), MachineStatus::Running(s) if s.accel == Accel::Tcg));
    // a second start reattaches to the running VM
    let again = d.start(&cfg, &|_| {}).await.unwrap();
    assert_eq!(again.pid, state.pid);
    // no QMP in the fake: stop falls back to terminating the process
    let outcome = d.stop(Duration::from_secs(1)).await.unwrap();
    assert_eq!(outcome, StopOutcome::Killed);
    assert_eq!(d.status(), MachineStatus::Stopped);
    assert!(!inst.qemu_pid().exists());
}

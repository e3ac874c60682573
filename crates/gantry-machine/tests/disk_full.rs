//! Fault test: this computer's disk is full (a small tmpfs) when the VM's run-time files are
//! written (`state.json`, `accel.json`: both through `private_file`), when TLS material is made
//! and when the data disk is created. Each fails with the system's words and the file, the old
//! file stays whole, nothing half-made is kept; once space is free, the same step works.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gantry_machine::accel::{Accel, Remembered};
use gantry_machine::instance::Instance;
use gantry_machine::{MachineError, disk, private_file, tls};
use gantry_testkit::tmpfs::SmallTmpfs;

#[test]
fn run_time_files_tls_and_disk_on_a_full_disk() {
    let t = tempfile::tempdir().unwrap();
    let fs = match SmallTmpfs::mount(&t.path().join("small"), 2 << 20) {
        Ok(fs) => fs,
        Err(why) => {
            gantry_testkit::skip::skipped(
                "run_time_files_tls_and_disk_on_a_full_disk",
                &format!("cannot mount a small tmpfs ({why})"),
            );
            return;
        }
    };
    let inst = Instance::at(fs.dir().join("default"));
    inst.ensure().unwrap();
    private_file::write_atomic(&inst.state(), br#"{"pid": 1}"#).unwrap();
    let remembered = Remembered { accel: Accel::Tcg, reason: "kvm stalled".into() };
    remembered.save(&inst.accel_choice()).unwrap();
    let files_before: Vec<_> = std::fs::read_dir(inst.dir()).unwrap().flatten().map(|e| e.file_name()).collect();

    let filler = fs.fill().unwrap();
    let e = private_file::write_atomic(&inst.state(), br#"{"pid": 2}"#).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::StorageFull, "{e}");
    let e = Remembered { accel: Accel::Kvm, reason: String::new() }.save(&inst.accel_choice()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::StorageFull, "{e}");
    assert_eq!(std::fs::read_to_string(inst.state()).unwrap(), "{\"pid\": 1}\n", "state.json kept whole");
    assert_eq!(Remembered::load(&inst.accel_choice()), Some(remembered), "accel.json kept whole");
    match tls::ensure(&inst) {
        Err(e @ MachineError::Io { .. }) => assert!(e.to_string().contains("No space left on device"), "{e}"),
        other => panic!("TLS on a full disk: {other:?}"),
    }
    assert!(!inst.tls_ca().exists() && tls::verify(&inst).is_err(), "no half-made TLS set in place");
    let no_qemu_img = std::process::Command::new("qemu-img").arg("--version").output().is_err();
    if no_qemu_img {
        eprintln!("qemu-img not installed: the data disk part is skipped");
    } else {
        match disk::ensure(&inst.disk(), &inst.disk_partial(), 8) {
            Err(e @ MachineError::CommandFailed { .. }) => {
                assert!(e.to_string().contains("No space left on device"), "{e}");
            }
            other => panic!("disk creation on a full disk: {other:?}"),
        }
        assert!(!inst.disk().exists(), "no half-made disk in place");
    }
    let mut files_after: Vec<_> = std::fs::read_dir(inst.dir()).unwrap().flatten().map(|e| e.file_name()).collect();
    // what a killed or failed step may leave: removed by the next one
    files_after.retain(|f| {
        *f != *inst.tls_partial_dir().file_name().unwrap() && *f != *inst.disk_partial().file_name().unwrap()
    });
    assert_eq!(files_after.len(), files_before.len(), "no temporary files left: {files_after:?}");

    std::fs::remove_file(filler).unwrap();
    private_file::write_atomic(&inst.state(), br#"{"pid": 2}"#).unwrap();
    assert!(tls::ensure(&inst).unwrap());
    tls::verify(&inst).unwrap();
    if !no_qemu_img {
        fs.resize(64 << 20).unwrap();
        disk::ensure(&inst.disk(), &inst.disk_partial(), 8).unwrap();
        assert!(!inst.disk_partial().exists());
    }
    gantry_testkit::reliability::fault(
        "disk full (small tmpfs) while writing state.json / accel.json, making TLS material and the data disk",
        "each fails naming the cause; old files stay whole; nothing half-made kept; works once space is free",
        "No space left on device each time, files unchanged, all made after freeing space",
    );
}

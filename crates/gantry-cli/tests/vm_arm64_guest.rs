//! The arm64 guest image on this PC: `vm-images/build.sh --arch arm64` (Debian's arm64 packages),
//! booted by Gantry's own driver — which reads the image's architecture from its VERSION and runs
//! `qemu-system-aarch64 -machine virt` under TCG (no accelerator runs foreign instructions) — and
//! reached through Gantry's socket with the docker CLI: the engine is arm64, an arm64 busybox
//! image runs natively (`uname -m` prints aarch64), a shared folder is readable, and `gantry
//! stop` powers the guest off cleanly through virt's GPIO power button.
//!
//! Runs only with `GANTRY_ARM64_TESTS=1`: ./scripts/test's stage "arm64 guest: build + boot under
//! TCG" (with the VM tests) builds the image and runs this test alone with it; the workspace test
//! run skips it. The image: `GANTRY_ARM64_IMAGE_DIR`, default
//! `${GANTRY_IMAGE_CACHE:-$HOME/.cache/gantry/images}/current-arm64`. Also needs
//! `qemu-system-aarch64` (Debian's qemu-system-arm), the docker CLI, `/bin/busybox` and Debian's
//! arm64 busybox (`GANTRY_TEST_ARM64_BUSYBOX`, scripts/lib/fixtures.sh). Slow: every guest
//! instruction is emulated.
#![cfg(unix)] // the VM tests drive QEMU and the agent on Linux
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gantry_machine::arch::GuestArch;
use gantry_machine::image::GuestImage;
use gantry_testkit::bounded::step;
use gantry_testkit::images::busybox_rootfs_tar;
use gantry_testkit::vm::{TestVm, text};

/// The whole test (a watchdog ends the process after it, printing the step and the logs).
const TEST_BOUND: Duration = Duration::from_secs(40 * 60);

const TEST: &str = "arm64_guest_boots_under_tcg_and_runs_arm64_containers";

/// The arm64 image's directory: `GANTRY_ARM64_IMAGE_DIR`, else the build cache's `current-arm64`.
fn arm64_image_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("GANTRY_ARM64_IMAGE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let cache = std::env::var_os("GANTRY_IMAGE_CACHE").filter(|d| !d.is_empty()).map_or_else(
        || PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/gantry/images"),
        PathBuf::from,
    );
    cache.join("current-arm64")
}

/// The command line of the QEMU process the instance runs (its pid file), arguments joined by spaces.
fn qemu_command_line(instance_dir: &Path) -> String {
    let pid = std::fs::read_to_string(instance_dir.join("qemu.pid")).expect("qemu.pid");
    let raw = std::fs::read(format!("/proc/{}/cmdline", pid.trim())).expect("QEMU's /proc/PID/cmdline");
    raw.split(|b| *b == 0).map(String::from_utf8_lossy).collect::<Vec<_>>().join(" ")
}

#[test]
fn arm64_guest_boots_under_tcg_and_runs_arm64_containers() {
    if std::env::var("GANTRY_ARM64_TESTS").ok().as_deref() != Some("1") {
        gantry_testkit::skip::skipped(
            TEST,
            "runs in ./scripts/test's stage \"arm64 guest: build + boot under TCG\", which builds the arm64 \
             image first (GANTRY_ARM64_TESTS=1 runs it here; needs vm-images/build.sh --arch arm64 and \
             qemu-system-aarch64)",
        );
        return;
    }
    let image_dir = arm64_image_dir();
    step("the image is arm64");
    let image = GuestImage::locate(&image_dir).unwrap_or_else(|e| panic!("{}: {e}", image_dir.display()));
    assert_eq!(image.arch, GuestArch::Aarch64, "{} is not the arm64 image", image_dir.display());
    assert!(image.cmdline.contains("console=ttyAMA0"), "virt's serial port: {}", image.cmdline);
    let busybox = std::env::var_os(gantry_testkit::images::ARM64_BUSYBOX_VAR).map(PathBuf::from).expect(
        "GANTRY_TEST_ARM64_BUSYBOX is not set: ./scripts/test fetches Debian's arm64 busybox-static \
         (scripts/lib/fixtures.sh, gantry_fixture_arm64_busybox)",
    );

    let vm = TestVm::new(Path::new(env!("CARGO_BIN_EXE_gantry")), "gvma", Some(image_dir)).unwrap();
    let _watchdog = vm.watchdog(TEST, TEST_BOUND);
    let started = Instant::now();

    step("boot");
    let out = vm.gantry(&["start", "--timings"]);
    assert!(out.status.success(), "gantry start failed: {}", text(&out));
    let boot_secs = started.elapsed().as_secs_f64();
    // the driver chose the emulator, the machine and TCG from the image's architecture
    let qemu = qemu_command_line(&vm.instance_dir());
    assert!(qemu.contains("qemu-system-aarch64 "), "{qemu}");
    assert!(qemu.contains("-machine virt,gic-version=max ") && qemu.contains("-accel tcg"), "{qemu}");
    let said = text(&out);
    assert!(said.contains("warning: ") && said.contains("software emulation"), "the TCG warning is shown:\n{said}");

    step("docker version and info: an arm64 engine");
    assert_eq!(vm.docker_ok(&["version", "--format", "{{.Server.Os}}/{{.Server.Arch}}"]), "linux/arm64");
    assert_eq!(vm.docker_ok(&["info", "--format", "{{.Architecture}}"]), "aarch64");

    step("docker run of an arm64 busybox image");
    let tar = busybox_rootfs_tar(&vm.share(), "busybox-arm64", &busybox).unwrap();
    vm.docker_ok(&["import", tar.to_str().unwrap(), "gantry-test/busybox:arm64"]);
    let t = Instant::now();
    assert_eq!(vm.docker_ok(&["run", "--rm", "gantry-test/busybox:arm64", "uname", "-m"]), "aarch64");
    let run_secs = t.elapsed().as_secs_f64();
    assert_eq!(
        vm.docker_ok(&["image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", "gantry-test/busybox:arm64"]),
        "linux/arm64"
    );

    step("a shared folder (9p on virt)");
    let share = vm.share();
    std::fs::write(share.join("hello.txt"), "from the host\n").unwrap();
    let mount = format!("{}:/data", share.display());
    assert_eq!(
        vm.docker_ok(&["run", "--rm", "-v", &mount, "gantry-test/busybox:arm64", "cat", "/data/hello.txt"]),
        "from the host"
    );

    step("stop saves the VM (virt), start resumes it; the resumed VM's next stop powers off");
    let out = vm.gantry(&["stop"]);
    assert!(out.status.success(), "gantry stop failed: {}", text(&out));
    assert!(vm.instance_dir().join("vm-state.bin").is_file(), "the stop saved the VM: {}", text(&out));
    let settings_file = vm.instance_dir().join("settings.json");
    let mut settings: serde_json::Value = serde_json::from_slice(&std::fs::read(&settings_file).unwrap()).unwrap();
    settings["vm"]["save_on_stop"] = false.into();
    std::fs::write(&settings_file, settings.to_string()).unwrap();
    let t = Instant::now();
    let out = vm.gantry(&["start", "--timings"]);
    assert!(out.status.success(), "gantry start after the save failed: {}", text(&out));
    assert!(text(&out).contains("saved state restored"), "the start resumed the saved VM: {}", text(&out));
    let resume_secs = t.elapsed().as_secs_f64();
    assert_eq!(vm.docker_ok(&["run", "--rm", "gantry-test/busybox:arm64", "uname", "-m"]), "aarch64");

    step("clean power-off (virt's GPIO power button)");
    let t = Instant::now();
    let out = vm.gantry(&["stop"]);
    assert!(out.status.success(), "gantry stop failed: {}", text(&out));
    let stop_secs = t.elapsed().as_secs_f64();
    let console = std::fs::read_to_string(vm.instance_dir().join("console.log")).unwrap_or_default();
    assert!(console.contains("gantry-init: power button"), "the guest saw the power button:\n{console}");
    assert!(console.contains("gantry-init: shutdown complete"), "a clean shutdown:\n{console}");
    assert!(!console.contains("gantry-init: error"), "the init reported errors:\n{console}");

    step("");
    eprintln!(
        "arm64 guest under TCG: gantry start → engine ready {boot_secs:.0} s, docker run uname -m {run_secs:.1} s, \
         resumed {resume_secs:.1} s, gantry stop {stop_secs:.0} s, whole test {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

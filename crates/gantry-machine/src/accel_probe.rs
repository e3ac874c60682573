//! Does the hardware accelerator really run a guest? A probe with a deadline, not a boot.
//!
//! `/dev/kvm` opening proves little: on nested PVM hosts KVM accepts the device and then runs a
//! stock guest so slowly that a boot never gets past the kernel's decompressor. Waiting for the
//! real guest's console to stay silent costs 20 s on every first start; instead QEMU runs a
//! 61-byte test guest ([`PROBE_GUEST`]) with the same machine and accelerator arguments as a real
//! boot. It spins a loop, writes 4 MiB of memory, then asks QEMU to exit with [`GUEST_EXIT_STATUS`]:
//! with a working accelerator that takes well under a second (0.7 s under TCG on a loaded
//! 2-core machine, QEMU's own start-up included); a broken one never gets there.
//!
//! The decision is a plain function of what happened ([`classify`]), so every case is tested
//! with canned outcomes; only a verdict that blames the accelerator ([`Verdict::Broken`]) may be
//! remembered as "use TCG from now on". QEMU failing for any other reason (firmware missing, an
//! option this build lacks) is [`Verdict::Unknown`]: the boot goes ahead with the accelerator and
//! its own stall detection.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::accel::{Accel, HostOs};
use crate::arch::GuestArch;
use crate::{qemu, qemu_tuning};

/// How long the test guest may take before the accelerator is called broken (the issue's bound
/// is 3 s for the whole detection; QEMU's start-up is inside this).
pub const DEFAULT_DEADLINE: Duration = Duration::from_millis(2500);

/// The test guest's last act: `out 0xf4, 0x31` to QEMU's `isa-debug-exit` device, which ends
/// QEMU with status `(0x31 << 1) | 1`. No other QEMU exit produces it by accident.
pub const GUEST_EXIT_STATUS: i32 = (0x31 << 1) | 1;

/// The test guest for x86 hosts: a flat multiboot (v1) image that QEMU's `-kernel` loads at
/// 1 MiB and enters in 32-bit protected mode, after the same firmware a real boot runs.
///
/// ```text
/// 00  multiboot header: magic 0x1BADB002, flags 0x00010000 (addresses below), checksum,
///     header_addr 0x100000, load_addr 0x100000, load_end 0 (whole file), bss_end 0,
///     entry 0x100020
/// 20  mov ecx, 20000000       ; b9 00 2d 31 01
/// 25  dec ecx / jnz 25        ; 49 75 fd
/// 28  mov edi, 0x200000       ; bf 00 00 20 00
/// 2d  mov ecx, 0x100000       ; b9 00 00 10 00   (dwords: 4 MiB)
/// 32  xor eax, eax / rep stosd; 31 c0 f3 ab
/// 36  mov al, 0x31 / out 0xf4 ; b0 31 e6 f4
/// 3a  hlt / jmp 3a            ; f4 eb fd
/// ```
pub const PROBE_GUEST: [u8; 61] = [
    0x02, 0xb0, 0xad, 0x1b, 0x00, 0x00, 0x01, 0x00, 0xfe, 0x4f, 0x51, 0xe4, 0x00, 0x00, 0x10, 0x00, //
    0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x10, 0x00, //
    0xb9, 0x00, 0x2d, 0x31, 0x01, 0x49, 0x75, 0xfd, 0xbf, 0x00, 0x00, 0x20, 0x00, 0xb9, 0x00, 0x00, //
    0x10, 0x00, 0x31, 0xc0, 0xf3, 0xab, 0xb0, 0x31, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd,
];

/// QEMU's arguments for the probe: the real boot's machine and accelerator arguments, the test
/// guest, the exit device, nothing else. `None` where no test guest exists for the host's
/// architecture yet (arm64 hosts: the boot's own stall detection decides there).
pub fn probe_args(accel: Accel, os: HostOs, guest: &Path) -> Option<Vec<OsString>> {
    // the test guest is x86 code: it probes an x86 host's accelerator
    if GuestArch::host() != Some(GuestArch::X86_64) {
        return None;
    }
    let mut a: Vec<OsString> = ["-machine", qemu::machine_type(GuestArch::X86_64), "-nodefaults", "-no-user-config"]
        .into_iter()
        .chain(["-display", "none", "-vga", "none", "-m", "64M"])
        .map(OsString::from)
        .collect();
    a.extend(
        qemu::accel_args(accel, os, GuestArch::X86_64, qemu_tuning::TCG_TB_SIZE_MIB).into_iter().map(OsString::from),
    );
    a.extend(["-kernel".into(), guest.as_os_str().to_owned()]);
    a.extend(["-device".into(), "isa-debug-exit,iobase=0xf4,iosize=0x04".into()]);
    Some(a)
}

/// What happened when QEMU ran the test guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// QEMU ended by itself: its exit status (none when killed by a signal) and stderr.
    Exited { status: Option<i32>, stderr: String, after: Duration },
    /// The deadline passed with the guest still running; QEMU was killed.
    TimedOut { deadline: Duration },
    /// QEMU (or the test guest's file) could not be set up at all.
    NotRun { why: String },
}

/// What the probe says about the accelerator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The test guest ran to its end.
    Works { after: Duration },
    /// The accelerator itself failed: remembered, and the VM uses TCG.
    Broken { reason: String },
    /// The probe could not tell (not the accelerator's fault): never remembered.
    Unknown { reason: String },
}

/// Whether QEMU's own words blame the accelerator (KVM/HVF/WHPX errors, CPU model or MSR
/// refusals), as opposed to a missing file, a taken port or a bad option.
pub fn blames_accelerator(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["kvm", "hvf", "whpx", "hypervisor", "vmx", "svm", "msr", "accelerator", "cpuid", "vcpu"]
        .iter()
        .any(|k| t.contains(k))
}

/// The verdict for an outcome (pure: tested with canned outcomes).
pub fn classify(accel: Accel, outcome: &Outcome) -> Verdict {
    match outcome {
        Outcome::Exited { status: Some(GUEST_EXIT_STATUS), after, .. } => Verdict::Works { after: *after },
        Outcome::Exited { status, stderr, .. } => {
            let line = first_error_line(stderr);
            let how = match status {
                Some(code) => format!("QEMU exited with status {code}"),
                None => "QEMU was killed by a signal".to_owned(),
            };
            let said = if line.is_empty() { String::new() } else { format!(": {line}") };
            if blames_accelerator(stderr) {
                Verdict::Broken { reason: format!("{accel} failed its test guest ({how}{said})") }
            } else {
                Verdict::Unknown { reason: format!("the {accel} test guest did not run ({how}{said})") }
            }
        }
        Outcome::TimedOut { deadline } => Verdict::Broken {
            reason: format!(
                "{accel} did not run a 61-byte test guest within {:.1} s (it takes well under 1 s even without \
                 an accelerator)",
                deadline.as_secs_f64()
            ),
        },
        Outcome::NotRun { why } => Verdict::Unknown { reason: format!("the {accel} test could not run: {why}") },
    }
}

/// The most telling line of QEMU's stderr (the first naming an error, else the last), without
/// the program-name prefix.
fn first_error_line(stderr: &str) -> &str {
    let lines = || stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    let line = lines().find(|l| l.to_ascii_lowercase().contains("error")).or_else(|| lines().next_back()).unwrap_or("");
    match line.split_once(": ") {
        Some((prog, rest)) if prog.starts_with("qemu-system") => rest,
        _ => line,
    }
}

/// Runs the test guest under `accel` with `qemu`, killed at `deadline`. The guest's file is
/// written owner-only into the temp directory and removed afterwards.
pub async fn run(qemu: &Path, accel: Accel, os: HostOs, deadline: Duration) -> Outcome {
    let guest = guest_file_path();
    let Some(args) = probe_args(accel, os, &guest) else {
        return Outcome::NotRun { why: format!("no test guest for {} hosts", std::env::consts::ARCH) };
    };
    if let Err(e) = write_new(&guest, &PROBE_GUEST) {
        return Outcome::NotRun { why: format!("cannot write {}: {e}", guest.display()) };
    }
    let outcome = run_args(qemu, &args, deadline).await;
    let _ = std::fs::remove_file(&guest);
    tracing::info!(%accel, ?outcome, "accelerator probe");
    outcome
}

async fn run_args(qemu: &Path, args: &[OsString], deadline: Duration) -> Outcome {
    let mut cmd = tokio::process::Command::new(qemu);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::NotRun { why: format!("cannot launch {}: {e}", qemu.display()) },
    };
    match tokio::time::timeout(deadline, child.wait_with_output()).await {
        Ok(Ok(out)) => Outcome::Exited {
            status: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            after: started.elapsed(),
        },
        Ok(Err(e)) => Outcome::NotRun { why: format!("waiting for {}: {e}", qemu.display()) },
        // dropping the future kills QEMU (kill_on_drop)
        Err(_) => Outcome::TimedOut { deadline },
    }
}

/// A fresh, unpredictable-enough name in the temp directory (created with `create_new`, so an
/// existing file or symlink there is never followed).
fn guest_file_path() -> PathBuf {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    std::env::temp_dir().join(format!("gantry-accel-probe-{}-{nanos}.bin", std::process::id()))
}

fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)?.write_all(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn exited(status: Option<i32>, stderr: &str) -> Outcome {
        Outcome::Exited { status, stderr: stderr.into(), after: Duration::from_millis(300) }
    }

    #[test]
    fn the_guest_reaching_its_end_means_the_accelerator_works() {
        let v = classify(Accel::Kvm, &exited(Some(GUEST_EXIT_STATUS), ""));
        assert_eq!(v, Verdict::Works { after: Duration::from_millis(300) });
    }

    #[test]
    fn a_stalled_guest_blames_the_accelerator() {
        let v = classify(Accel::Kvm, &Outcome::TimedOut { deadline: DEFAULT_DEADLINE });
        match v {
            Verdict::Broken { reason } => {
                assert!(reason.contains("kvm did not run") && reason.contains("2.5 s"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn accelerator_errors_from_qemu_blame_the_accelerator() {
        for stderr in [
            "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0\nqemu-system-x86_64: ../target/i386/kvm/kvm.c:3001: kvm_buf_set_msrs: Assertion failed",
            "Could not access KVM kernel module: Permission denied\nqemu-system-x86_64: failed to initialize kvm: Permission denied",
            "qemu-system-x86_64: -accel whpx: WHPX: No accelerator found, hr=00000000",
            "qemu-system-x86_64: -accel hvf: Error: HV_UNSUPPORTED",
        ] {
            match classify(Accel::Kvm, &exited(Some(1), stderr)) {
                Verdict::Broken { reason } => assert!(reason.contains("status 1"), "{reason}"),
                other => panic!("{stderr}: {other:?}"),
            }
        }
        // the most telling line is quoted without QEMU's program name
        let v = classify(Accel::Kvm, &exited(Some(1), "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0\n"));
        assert_eq!(
            v,
            Verdict::Broken {
                reason: "kvm failed its test guest (QEMU exited with status 1: error: failed to set MSR 0x10a to 0x0)"
                    .into()
            }
        );
    }

    #[test]
    fn other_failures_are_never_held_against_the_accelerator() {
        for (status, stderr) in [
            (Some(1), "qemu-system-x86_64: could not load PC BIOS 'bios-256k.bin'"),
            (
                Some(1),
                "qemu-system-x86_64: -device isa-debug-exit,iobase=0xf4: 'isa-debug-exit' is not a valid device model name",
            ),
            (Some(0), ""),
            (None, ""),
        ] {
            match classify(Accel::Kvm, &exited(status, stderr)) {
                Verdict::Unknown { reason } => assert!(reason.contains("did not run"), "{reason}"),
                other => panic!("{stderr}: {other:?}"),
            }
        }
        let v = classify(Accel::Hvf, &Outcome::NotRun { why: "cannot launch qemu: not found".into() });
        assert!(matches!(v, Verdict::Unknown { reason } if reason.contains("hvf test could not run")));
    }

    #[test]
    fn the_probe_uses_the_boots_accelerator_arguments() {
        let Some(a) = probe_args(Accel::Kvm, HostOs::Linux, Path::new("/tmp/g.bin")) else {
            return; // an arm64 host: no test guest
        };
        let s: Vec<String> = a.iter().map(|x| x.to_string_lossy().into_owned()).collect();
        let s = s.join(" ");
        assert!(
            s.contains(
                &qemu::accel_args(Accel::Kvm, HostOs::Linux, GuestArch::X86_64, qemu_tuning::TCG_TB_SIZE_MIB).join(" ")
            ),
            "{s}"
        );
        assert!(s.contains("-kernel /tmp/g.bin"), "{s}");
        assert!(s.contains("isa-debug-exit,iobase=0xf4"), "{s}");
        assert!(!s.contains("-netdev") && !s.contains("-drive"), "nothing but the test guest: {s}");
    }

    #[test]
    fn the_guest_is_a_valid_multiboot_image() {
        let word = |i: usize| u32::from_le_bytes(PROBE_GUEST[i..i + 4].try_into().unwrap());
        assert_eq!(word(0), 0x1BAD_B002);
        assert_eq!(word(0).wrapping_add(word(4)).wrapping_add(word(8)), 0, "checksum");
        assert_eq!(word(28), 0x10_0000 + 0x20, "entry right after the header");
        assert_eq!(&PROBE_GUEST[0x36..0x3a], &[0xb0, 0x31, 0xe6, 0xf4], "out 0xf4 with 0x31");
    }

    /// The real probe under TCG (always available where QEMU is): the guest runs to its end.
    #[tokio::test]
    async fn the_test_guest_runs_under_tcg() {
        let qemu = PathBuf::from(qemu::qemu_binary(HostOs::current(), GuestArch::X86_64));
        let found =
            std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(&qemu).is_file()));
        if !found || probe_args(Accel::Tcg, HostOs::current(), Path::new("x")).is_none() {
            gantry_testkit::skip::skipped("the_test_guest_runs_under_tcg", "no x86 QEMU here");
            return;
        }
        // generous: this is not a timing assertion, only "the guest reached its end"
        let outcome = run(&qemu, Accel::Tcg, HostOs::current(), Duration::from_secs(60)).await;
        assert!(matches!(classify(Accel::Tcg, &outcome), Verdict::Works { .. }), "{outcome:?}");
    }
}

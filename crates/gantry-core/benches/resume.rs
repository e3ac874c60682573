//! Resume instead of boot (issue 13, item 2): `gantry start` of a VM whose state the previous
//! stop saved, against a boot of the same instance (the state removed), in one run.
//!
//! One instance (2 CPUs, 2048 MiB, a shared folder, a running container) under TCG; each round:
//! stop (saves), start (resumes: `docker version` answers), check the container still runs,
//! stop (saves), remove the saved state, start (boots); at the end one stop that powers off
//! (`vm.save_on_stop` off). Prints the medians of
//! `GANTRY_BENCH_RESUME_ROUNDS` rounds (default 3): start to `docker version` answered through
//! Gantry's socket, the stop that saves vs the stop that powers off, the saved state's size.
//!
//! With `GANTRY_BENCH_RESUME_BEFORE=<an older gantry binary>` the same instance then resumes
//! alternately with that binary and this one (before/after in one run): start to `docker
//! version`, and the stop that saves (done by the agent of the binary that started the VM).
//!
//! Run: `./scripts/bench resume` (builds the gantry binary; needs QEMU and the guest image).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use common::gantry_bin;

mod common;

struct Instance {
    home: PathBuf,
    image_dir: PathBuf,
}

impl Instance {
    fn gantry(&self, args: &[&str]) -> Output {
        self.gantry_with(&gantry_bin(), args)
    }

    /// `bin` with `args` (the agent it starts is `bin` too).
    fn gantry_with(&self, bin: &Path, args: &[&str]) -> Output {
        Command::new(bin)
            .args(args)
            .env("GANTRY_BIN", bin)
            .env("GANTRY_HOME", &self.home)
            .env("DOCKER_CONFIG", self.home.join("docker-config"))
            .env("GANTRY_ACCEL", "tcg")
            .env("GANTRY_IMAGE_DIR", &self.image_dir)
            .env_remove("DOCKER_HOST")
            .output()
            .unwrap()
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.home.join("default/docker.sock").display()))
            .env("DOCKER_CONFIG", self.home.join("docker-config"))
            .output()
            .unwrap()
    }

    fn dir(&self) -> PathBuf {
        self.home.join("default")
    }

    /// `gantry start`, then `docker version` through the socket: seconds until it answered.
    fn start(&self, want_restore: bool) -> f64 {
        self.start_with(&gantry_bin(), want_restore)
    }

    fn start_with(&self, bin: &Path, want_restore: bool) -> f64 {
        let t = Instant::now();
        let out = self.gantry_with(bin, &["start", "--timings"]);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "gantry start: {text}");
        let v = self.docker(&["version", "--format", "{{.Server.Version}}"]);
        let secs = t.elapsed().as_secs_f64();
        assert!(v.status.success(), "docker version: {}", String::from_utf8_lossy(&v.stderr));
        let restored = text.contains("saved state restored");
        assert_eq!(restored, want_restore, "resumed ({want_restore} expected):\n{text}");
        secs
    }

    /// `gantry stop`: seconds, and whether it saved the VM.
    fn stop(&self) -> (f64, bool) {
        let t = Instant::now();
        let out = self.gantry(&["stop"]);
        let secs = t.elapsed().as_secs_f64();
        assert!(out.status.success(), "gantry stop: {}", String::from_utf8_lossy(&out.stderr));
        (secs, self.dir().join("vm-state.bin").is_file())
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

/// A busybox root filesystem as a tar for `docker import` (Debian's busybox-static).
fn busybox_tar(dir: &Path) -> PathBuf {
    let root = dir.join("bb");
    common::busybox_root(&root, &["sh", "sleep"]);
    let tar = dir.join("bb.tar");
    let ok = Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".").status().unwrap();
    assert!(ok.success());
    tar
}

fn main() {
    let rounds: usize = std::env::var("GANTRY_BENCH_RESUME_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let image = gantry_machine::image::GuestImage::locate(&gantry_machine::image::default_dir()).unwrap();
    let tmp = tempfile::Builder::new().prefix("gresume").tempdir_in("/tmp").unwrap();
    let share = tmp.path().join("share");
    std::fs::create_dir_all(&share).unwrap();
    let vm = Instance { home: tmp.path().join("h"), image_dir: image.dir.clone() };
    std::fs::create_dir_all(vm.dir()).unwrap();
    let settings = serde_json::json!({"vm": {"cpus": 2, "memory_mib": 2048, "disk_gib": 8,
        "shared_folders": [share.display().to_string()], "save_on_stop": true}});
    std::fs::write(vm.dir().join("settings.json"), settings.to_string()).unwrap();

    println!("resume benchmark: accelerator tcg, image {}, {rounds} round(s)", image.dir.display());
    let first_boot = vm.start(false);
    println!("  first boot (new disk): {first_boot:.2} s");
    let tar = busybox_tar(tmp.path());
    assert!(vm.docker(&["import", tar.to_str().unwrap(), "bench/busybox:1"]).status.success());
    let mount = format!("{}:/data", share.display());
    let run = vm.docker(&["run", "-d", "--name", "kept", "bench/busybox:1", "sleep", "100000"]);
    assert!(run.status.success(), "docker run: {}", String::from_utf8_lossy(&run.stderr));
    let (mut resumes, mut boots, mut saves, mut sizes) = (vec![], vec![], vec![], vec![]);
    let forget_saved = || {
        for f in ["vm-state.bin", "vm-state.json"] {
            std::fs::remove_file(vm.dir().join(f)).unwrap();
        }
    };
    for round in 1..=rounds {
        // a container used the share meanwhile (and exited): the guest lets go of it at the save
        let used = vm.docker(&["run", "--rm", "-v", &mount, "bench/busybox:1", "sh", "-c", "echo x > /data/f"]);
        assert!(used.status.success());
        let (save, saved) = vm.stop();
        assert!(saved, "the stop did not save the VM (see {}/agent.log)", vm.dir().display());
        sizes.push(std::fs::metadata(vm.dir().join("vm-state.bin")).unwrap().len() as f64 / f64::from(1 << 20));
        let resume = vm.start(true);
        let running = vm.docker(&["inspect", "-f", "{{.State.Running}}", "kept"]);
        assert_eq!(String::from_utf8_lossy(&running.stdout).trim(), "true", "the container runs after the resume");
        // the baseline: the same instance booted (its saved state removed)
        assert!(vm.stop().1);
        forget_saved();
        let boot = vm.start(false);
        assert!(vm.docker(&["start", "kept"]).status.success());
        println!(
            "  round {round}: resume {resume:.2} s, boot {boot:.2} s; the stop that saved {save:.2} s, state {:.0} MiB",
            sizes.last().unwrap_or(&0.0)
        );
        resumes.push(resume);
        boots.push(boot);
        saves.push(save);
    }
    if let Some(before) = std::env::var_os("GANTRY_BENCH_RESUME_BEFORE").map(PathBuf::from) {
        before_after(&vm, &before, rounds);
    }
    // the stop that powers off (setting off; read by the VM at its start: one more boot)
    let mut off = settings.clone();
    off["vm"]["save_on_stop"] = false.into();
    std::fs::write(vm.dir().join("settings.json"), off.to_string()).unwrap();
    assert!(vm.stop().1);
    forget_saved();
    vm.start(false);
    let (p, saved) = vm.stop();
    assert!(!saved, "save_on_stop off: the stop powers off");
    let (r, b, s) = (median(resumes), median(boots), median(saves));
    println!();
    println!("| measure (median of {rounds}) | resume (saved state) | boot (baseline) | ratio |");
    println!("|---|---:|---:|---:|");
    println!("| `gantry start` → `docker version` answered | {r:.2} s | {b:.2} s | {:.2}× |", r / b);
    println!("| `gantry stop` | {s:.2} s (saves) | {p:.2} s (powers off, once) | {:.2}× |", s / p);
    println!("| saved state on disk | {:.0} MiB | — | — |", median(sizes));
}

/// Resumes alternately with `before` and this build, `rounds` times each; prints a before/after
/// table. A stop is done by the agent of the binary that started the VM, so it counts for that
/// binary.
fn before_after(vm: &Instance, before: &Path, rounds: usize) {
    let after = gantry_bin();
    println!("  before/after: {} vs {}", before.display(), after.display());
    let (mut start_b, mut start_a, mut stop_b, mut stop_a) = (vec![], vec![], vec![], vec![]);
    let mut last_started_by_before = false;
    for round in 1..=rounds {
        for use_before in [true, false] {
            let (stop, saved) = vm.stop();
            assert!(saved, "the stop did not save the VM (see {}/agent.log)", vm.dir().display());
            // the first stop follows a boot (its start-up squeeze may still run): not counted
            if round > 1 || !use_before {
                if last_started_by_before { &mut stop_b } else { &mut stop_a }.push(stop);
            }
            let bin = if use_before { before } else { after.as_path() };
            let start = vm.start_with(bin, true);
            println!(
                "  round {round}: {} resumed in {start:.2} s (the stop before it {stop:.2} s)",
                if use_before { "before" } else { "after" }
            );
            if use_before { &mut start_b } else { &mut start_a }.push(start);
            last_started_by_before = use_before;
        }
    }
    let (rb, ra, sb, sa) = (median(start_b), median(start_a), median(stop_b), median(stop_a));
    println!();
    println!("| measure (median of {rounds}) | before | after | after / before |");
    println!("|---|---:|---:|---:|");
    println!("| `gantry start` (resume) → `docker version` answered | {rb:.2} s | {ra:.2} s | {:.2}× |", ra / rb);
    println!("| `gantry stop` (saves; the agent that started the VM) | {sb:.2} s | {sa:.2} s | {:.2}× |", sa / sb);
    println!();
}

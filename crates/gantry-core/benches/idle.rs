//! Idle cost and disk space given back (issue 13, items 4 and 7), printed and written to
//! docs/benchmarks.md (section "Idle VM: memory and disk given back"). One boot:
//!
//! - QEMU's resident memory just before and just after the agent gives the start-up caches back
//!   (the balloon inflated once, then deflated: gantry_machine::memory), as the agent measured it
//!   and published it in `gantry vm-status --json`; then QEMU's RSS and CPU use over 60 s of
//!   idling (nothing running in the guest);
//! - the data disk's qcow2 file, space allocated on the host: before, after a container wrote
//!   1 GiB of non-zero data to its filesystem, and every 5 s for 60 s after the container was
//!   removed (the guest's ext4 discards what it frees, QEMU punches it out of the qcow2 file).
//!
//! Run: `./scripts/bench idle` (needs the guest image, QEMU, the docker CLI, /bin/busybox;
//! `GANTRY_BIN` names the gantry binary, default target/{release,debug}/gantry). Linux: it reads
//! /proc for RSS and CPU time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::gantry_bin;

mod common;

const MIB: u64 = 1024 * 1024;
const IDLE: Duration = Duration::from_secs(60);

struct Ctx {
    bin: PathBuf,
    home: PathBuf,
    docker_config: PathBuf,
}

impl Ctx {
    fn gantry(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.bin)
            .args(args)
            .env("GANTRY_HOME", &self.home)
            .env("DOCKER_CONFIG", &self.docker_config)
            .env_remove("DOCKER_HOST")
            .output()
            .unwrap()
    }
    fn status(&self) -> serde_json::Value {
        serde_json::from_slice(&self.gantry(&["vm-status", "--json"]).stdout).unwrap_or_default()
    }
    fn docker(&self, args: &[&str]) -> String {
        let host = format!("unix://{}", self.home.join("default/docker.sock").display());
        let out = Command::new("docker").args(args).env("DOCKER_HOST", host).output().unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

/// `VmRSS` of a process, MiB.
fn rss_mib(pid: u32) -> u64 {
    gantry_machine::process::resident_kib(pid).unwrap_or(0) / 1024
}

/// utime + stime of a process, in clock ticks (/proc/<pid>/stat fields 14 and 15).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // the command name (field 2) may hold spaces: count from after its closing parenthesis
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
    f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)
}

fn clock_ticks_per_second() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().ok();
    out.and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()).unwrap_or(100.0)
}

/// Space the file takes on the host's disk (not its apparent length: a qcow2 file with holes).
#[cfg(unix)]
fn allocated_mib(p: &Path) -> f64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).map(|m| m.blocks() as f64 * 512.0 / MIB as f64).unwrap_or(0.0)
}
#[cfg(not(unix))]
fn allocated_mib(p: &Path) -> f64 {
    std::fs::metadata(p).map(|m| m.len() as f64 / MIB as f64).unwrap_or(0.0)
}

fn busybox_tar(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    #[cfg(unix)]
    for applet in ["sh", "cat", "dd", "sync", "seq", "rm", "sleep"] {
        let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
    }
    let tar = dir.join("bb.tar");
    assert!(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".").status().unwrap().success());
    tar
}

fn main() {
    let bin = gantry_bin();
    let tmp = tempfile::Builder::new().prefix("gidle").tempdir_in("/tmp").unwrap();
    let ctx = Ctx { bin, home: tmp.path().join("h"), docker_config: tmp.path().join("dc") };
    std::fs::create_dir_all(ctx.home.join("default")).unwrap();
    std::fs::write(
        ctx.home.join("default/settings.json"),
        r#"{"vm":{"cpus":2,"memory_mib":2048,"disk_gib":8,"shared_folders":[]}}"#,
    )
    .unwrap();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at the start: {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));

    let out = ctx.gantry(&["start"]);
    assert!(out.status.success(), "gantry start: {}", String::from_utf8_lossy(&out.stderr));
    let status = ctx.status();
    let accel = status["accel"].as_str().unwrap_or("?").to_owned();
    let qemu = status["qemu_pid"].as_u64().unwrap_or(0) as u32;
    let disk = ctx.home.join("default/disk.qcow2");
    println!("started ({accel}); QEMU pid {qemu}, RSS {} MiB", rss_mib(qemu));

    // 1. the agent gives the start-up caches back once the engine answers
    let deadline = Instant::now() + Duration::from_secs(300);
    let given = loop {
        let s = ctx.status();
        if !s["caches_given_back"].is_null() {
            break s["caches_given_back"].clone();
        }
        assert!(Instant::now() < deadline, "the agent did not give the start-up caches back within 300 s");
        std::thread::sleep(Duration::from_secs(1));
    };
    let before = given["qemu_rss_before_mib"].as_u64().unwrap_or(0);
    let after = given["qemu_rss_after_mib"].as_u64().unwrap_or(0);
    let lowest = given["guest_lowest_mib"].as_u64().unwrap_or(0);
    let took = given["took_ms"].as_u64().unwrap_or(0) as f64 / 1000.0;
    println!("start-up caches given back in {took:.1} s: QEMU RSS {before} → {after} MiB (guest down to {lowest} MiB)");

    // 2. idling: nothing runs in the guest
    let (ticks0, t0) = (cpu_ticks(qemu), Instant::now());
    let mut peak = 0;
    while t0.elapsed() < IDLE {
        std::thread::sleep(Duration::from_secs(5));
        peak = peak.max(rss_mib(qemu));
    }
    let idle_rss = rss_mib(qemu);
    let cpu = (cpu_ticks(qemu) - ticks0) as f64 / clock_ticks_per_second() / t0.elapsed().as_secs_f64() * 100.0;
    println!("60 s idle: QEMU RSS {idle_rss} MiB at the end (peak {peak} MiB), CPU {cpu:.1} % of one core");

    // 3. disk space: 1 GiB written in a container's filesystem, then the container removed
    ctx.docker(&["import", busybox_tar(tmp.path()).to_str().unwrap(), "bench/bb:1"]);
    std::thread::sleep(Duration::from_secs(10)); // the import's own writes settle
    let disk_before = allocated_mib(&disk);
    // 1 MiB of random bytes repeated: not zeros (detect-zeroes would store nothing), and cheap
    // to write under an emulated CPU
    ctx.docker(&[
        "run",
        "--name",
        "filler",
        "bench/bb:1",
        "sh",
        "-c",
        "dd if=/dev/urandom of=/r bs=1M count=1 2>/dev/null && for i in $(seq 1024); do cat /r; done > /big && sync",
    ]);
    std::thread::sleep(Duration::from_secs(10)); // writeback of the last dirty pages
    let disk_full = allocated_mib(&disk);
    println!("qcow2 allocated: {disk_before:.0} MiB before, {disk_full:.0} MiB after writing 1 GiB");
    let removed = Instant::now();
    ctx.docker(&["rm", "filler"]);
    let mut samples = Vec::new();
    let mut back_at = None;
    while removed.elapsed() < IDLE {
        std::thread::sleep(Duration::from_secs(5));
        let now = allocated_mib(&disk);
        samples.push((removed.elapsed().as_secs(), now));
        if back_at.is_none() && disk_full - now >= 0.9 * (disk_full - disk_before) {
            back_at = Some(removed.elapsed());
        }
    }
    let disk_after = samples.last().map_or(disk_full, |s| s.1);
    let trail: Vec<String> = samples.iter().map(|(s, m)| format!("{s} s: {m:.0}")).collect();
    println!("after removing it (MiB allocated): {}", trail.join(", "));

    let out = ctx.gantry(&["stop"]);
    assert!(out.status.success(), "gantry stop: {}", String::from_utf8_lossy(&out.stderr));

    let written = disk_full - disk_before;
    let returned = disk_full - disk_after;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let mut s = String::from("<!-- gantry-idle-bench:start -->\n## Idle VM: memory and disk given back\n\n");
    s.push_str(&format!(
        "Measured by `./scripts/bench idle` ([source](../crates/gantry-core/benches/idle.rs)), one \
         boot (accelerator: {accel}; 2 CPUs, 2048 MiB guest, 8 GiB disk; load average at the end \
         {}).\n\n",
        load.join(" ")
    ));
    s.push_str("| measure | before | after | after / before |\n|---|---:|---:|---:|\n");
    s.push_str(&format!(
        "| QEMU RSS, start-up caches given back (took {took:.1} s) | {before} MiB | {after} MiB | {:.2}× |\n",
        after as f64 / before.max(1) as f64
    ));
    s.push_str(&format!(
        "| QEMU RSS, then 60 s idle (peak {peak} MiB; CPU {cpu:.1} % of a core) | {before} MiB | {idle_rss} MiB | {:.2}× |\n",
        idle_rss as f64 / before.max(1) as f64
    ));
    s.push_str(&format!(
        "| qcow2 allocated: 1 GiB written in a container, then the container removed (60 s later) | {disk_full:.0} MiB | {disk_after:.0} MiB | {:.2}× |\n",
        disk_after / disk_full.max(1.0)
    ));
    s.push_str(&format!(
        "\nThe disk grew by {written:.0} MiB while the container wrote 1 GiB and gave back \
         {returned:.0} MiB of it ({:.0} %), {}; allocated before writing: {disk_before:.0} MiB. \
         Every 5 s after the removal (MiB): {}.\n",
        returned / written.max(1.0) * 100.0,
        back_at.map_or("not within 60 s".to_owned(), |d| format!("90 % of it within {} s", d.as_secs())),
        trail.join(", ")
    ));
    s.push_str("<!-- gantry-idle-bench:end -->\n");
    println!("\n{s}");
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/benchmarks.md");
    let old = std::fs::read_to_string(&docs).unwrap_or_else(|_| "# Benchmarks\n\n".into());
    let (start, end) = ("<!-- gantry-idle-bench:start -->", "<!-- gantry-idle-bench:end -->\n");
    let new = match (old.find(start), old.find(end)) {
        (Some(a), Some(b)) => format!("{}{}{}", &old[..a], s, &old[b + end.len()..]),
        _ => format!("{}\n\n{}", old.trim_end(), s),
    };
    if let Err(e) = std::fs::write(&docs, new) {
        eprintln!("cannot update {}: {e}", docs.display());
    }
}

//! Idle cost and disk space given back (issue 13, items 4 and 7), printed and written to
//! docs/benchmarks.md (section "Idle VM: memory and disk given back"). One boot per variant of
//! QEMU's tuning (gantry_machine::qemu_tuning: TCG's translation cache size, glibc's malloc in
//! QEMU, the guest's free page reporting order; set through its GANTRY_BENCH_* variables), each
//! in a fresh instance, one after the other in the same run:
//!
//! - the boot's time from QEMU's launch to the engine's answer (`boot_ms`), which a smaller
//!   translation cache may lengthen;
//! - QEMU's resident memory just before and just after the agent gives the start-up caches back
//!   (the balloon inflated once, then deflated: gantry_machine::memory), as the agent measured it
//!   and published it in `gantry vm-status --json`; then QEMU's RSS and CPU use over 60 s of
//!   idling (nothing running in the guest), and where that RSS lies (its /proc/<pid>/smaps:
//!   gantry_machine::qemu_memory);
//! - in the last variant's VM: the data disk's qcow2 file, space allocated on the host: before,
//!   after a container wrote 1 GiB of non-zero data to its filesystem, and every 5 s for 60 s
//!   after the container was removed (the guest's ext4 discards what it frees, QEMU punches it
//!   out of the qcow2 file).
//!
//! GANTRY_BENCH_QUICK=1: two variants only (the previous configuration and the defaults).
//!
//! Run: `./scripts/bench idle` (needs the guest image, QEMU, the docker CLI, /bin/busybox;
//! `GANTRY_BIN` names the gantry binary, default target/{release,debug}/gantry). Linux: it reads
//! /proc for RSS and CPU time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::gantry_bin;
use gantry_machine::qemu_memory::{self, QemuMemory};
use gantry_machine::qemu_tuning::{self, Malloc, QemuTuning};

mod common;

const MIB: u64 = 1024 * 1024;
const IDLE: Duration = Duration::from_secs(60);

const GUEST_MIB: u64 = 2048;

struct Ctx {
    bin: PathBuf,
    home: PathBuf,
    docker_config: PathBuf,
    tuning: QemuTuning,
}

impl Ctx {
    /// The gantry CLI on this variant's instance; the agent `gantry start` launches inherits the
    /// tuning's variables and the driver reads them when it launches QEMU.
    fn gantry(&self, args: &[&str]) -> std::process::Output {
        let t = &self.tuning;
        let malloc = match t.malloc {
            Malloc::Glibc => "glibc",
            Malloc::Tuned => "tuned",
        };
        let order = t.page_reporting_order.map_or("kernel".to_owned(), |o| o.to_string());
        Command::new(&self.bin)
            .args(args)
            .env("GANTRY_HOME", &self.home)
            .env("DOCKER_CONFIG", &self.docker_config)
            .env(qemu_tuning::ENV_TB_SIZE, t.tcg_tb_size_mib.to_string())
            .env(qemu_tuning::ENV_MALLOC, malloc)
            .env(qemu_tuning::ENV_REPORTING_ORDER, order)
            .env(qemu_tuning::ENV_HUGE_PAGES, if t.host_huge_pages { "on" } else { "off" })
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

/// One variant's numbers.
struct Measured {
    tuning: QemuTuning,
    load: String,
    boot_s: f64,
    before: u64,
    after: u64,
    took: f64,
    idle_rss: u64,
    peak: u64,
    cpu: f64,
    at_end: QemuMemory,
    reporting_order: String,
    /// Times TCG's translation cache was full and flushed, from the launch to the idle minute's end.
    tb_flushes: String,
}

fn loadavg() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The variants compared: the configuration before this measurement first (tb-size=64, glibc's
/// malloc, host THP on, the kernel's reporting order), then the default (host THP off), then
/// malloc tuned with the same and smaller caches, then a finer page reporting order.
fn variants() -> Vec<QemuTuning> {
    let before =
        QemuTuning { tcg_tb_size_mib: 64, malloc: Malloc::Glibc, page_reporting_order: None, host_huge_pages: true };
    if std::env::var_os("GANTRY_BENCH_QUICK").is_some() {
        return vec![before, QemuTuning::default()];
    }
    let tuned = |tb, order| QemuTuning {
        tcg_tb_size_mib: tb,
        malloc: Malloc::Tuned,
        page_reporting_order: order,
        host_huge_pages: false,
    };
    vec![before, QemuTuning::default(), tuned(64, None), tuned(32, None), tuned(16, None), tuned(32, Some(5))]
}

fn main() {
    let bin = gantry_bin();
    let tmp = tempfile::Builder::new().prefix("gidle").tempdir_in("/tmp").unwrap();
    let variants = variants();
    let mut measured = Vec::new();
    let mut disk_report = String::new();
    let mut accel = String::from("?");
    for (n, tuning) in variants.iter().enumerate() {
        let ctx = Ctx {
            bin: bin.clone(),
            home: tmp.path().join(format!("h{n}")),
            docker_config: tmp.path().join(format!("dc{n}")),
            tuning: *tuning,
        };
        let last = n + 1 == variants.len();
        let (m, a) = measure(&ctx, tmp.path());
        accel = a;
        if last {
            disk_report = disk_space(&ctx);
        }
        let out = ctx.gantry(&["stop"]);
        assert!(out.status.success(), "gantry stop: {}", String::from_utf8_lossy(&out.stderr));
        measured.push(m);
    }
    write_docs(&report(&measured, &accel, &disk_report));
}

/// Boots one variant, waits for the squeeze, idles 60 s; leaves the VM running.
fn measure(ctx: &Ctx, tmp: &Path) -> (Measured, String) {
    std::fs::create_dir_all(ctx.home.join("default")).unwrap();
    std::fs::write(
        ctx.home.join("default/settings.json"),
        format!(r#"{{"vm":{{"cpus":2,"memory_mib":{GUEST_MIB},"disk_gib":8,"shared_folders":[]}}}}"#),
    )
    .unwrap();
    let load = loadavg();
    println!("\n== {} (load average {load})", ctx.tuning.describe());

    let out = ctx.gantry(&["start"]);
    assert!(out.status.success(), "gantry start: {}", String::from_utf8_lossy(&out.stderr));
    let status = ctx.status();
    let accel = status["accel"].as_str().unwrap_or("?").to_owned();
    let qemu = status["qemu_pid"].as_u64().unwrap_or(0) as u32;
    let boot_s = status["boot_ms"].as_u64().unwrap_or(0) as f64 / 1000.0;
    let cmdline = gantry_machine::process::cmdline(qemu).unwrap_or_default();
    assert!(
        cmdline.contains(&format!("tb-size={}", ctx.tuning.tcg_tb_size_mib)) || accel != "tcg",
        "QEMU does not run the variant's translation cache: {cmdline}"
    );
    println!("started ({accel}) in {boot_s:.1} s from QEMU's launch; QEMU pid {qemu}, RSS {} MiB", rss_mib(qemu));

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
    let smaps = std::fs::read_to_string(format!("/proc/{qemu}/smaps")).unwrap_or_default();
    let at_end = qemu_memory::breakdown(&smaps, GUEST_MIB);
    let tb_flushes = tb_flush_count(&ctx.home.join("default/qmp.sock"));
    println!(
        "60 s idle: QEMU RSS {idle_rss} MiB at the end (peak {peak} MiB), CPU {cpu:.1} % of one core; {}; \
         translation cache flushed {tb_flushes} times since the launch",
        describe(&at_end)
    );

    // 3. what the guest kernel runs with (after the idle minute: a container would disturb it)
    ctx.docker(&["import", busybox_tar(tmp).to_str().unwrap(), "bench/bb:1"]);
    let reporting_order = ctx.docker(&[
        "run",
        "--rm",
        "bench/bb:1",
        "sh",
        "-c",
        "cat /sys/module/page_reporting/parameters/page_reporting_order || echo ?",
    ]);
    println!("guest's page reporting order: {reporting_order}");
    let m = Measured {
        tuning: ctx.tuning,
        load,
        boot_s,
        before,
        after,
        took,
        idle_rss,
        peak,
        cpu,
        at_end,
        reporting_order,
        tb_flushes,
    };
    (m, accel)
}

/// HMP `info jit`'s "TB flush count" (TCG only; "?" when QEMU does not tell, e.g. the agent
/// holds the monitor socket meanwhile).
fn tb_flush_count(qmp_socket: &Path) -> String {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let text = rt.block_on(async {
        let ask = async { gantry_machine::qmp::Qmp::connect(qmp_socket).await?.hmp("info jit").await };
        tokio::time::timeout(Duration::from_secs(30), ask).await.ok().and_then(Result::ok).unwrap_or_default()
    });
    text.lines()
        .find_map(|l| l.trim().strip_prefix("TB flush count"))
        .map_or_else(|| "?".to_owned(), |n| n.trim().to_owned())
}

fn describe(m: &QemuMemory) -> String {
    format!(
        "guest RAM {} MiB, translation cache {} MiB, heap {} MiB, files {} MiB",
        m.guest_ram_kib / 1024,
        m.translation_cache_kib / 1024,
        m.heap_kib / 1024,
        m.files_kib / 1024
    )
}

/// 1 GiB written in a container's filesystem, then the container removed: the qcow2 file's
/// allocated space. Returns the paragraph for the docs.
fn disk_space(ctx: &Ctx) -> String {
    let disk = ctx.home.join("default/disk.qcow2");
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
    let written = disk_full - disk_before;
    let returned = disk_full - disk_after;
    format!(
        "| qcow2 allocated: 1 GiB written in a container, then the container removed (60 s later; \
         last variant) | {disk_full:.0} MiB | {disk_after:.0} MiB | {:.2}× |\n\nThe disk grew by \
         {written:.0} MiB while the container wrote 1 GiB and gave back {returned:.0} MiB of it \
         ({:.0} %), {}; allocated before writing: {disk_before:.0} MiB. Every 5 s after the removal \
         (MiB): {}.\n",
        disk_after / disk_full.max(1.0),
        returned / written.max(1.0) * 100.0,
        back_at.map_or("not within 60 s".to_owned(), |d| format!("90 % of it within {} s", d.as_secs())),
        trail.join(", ")
    )
}

fn report(measured: &[Measured], accel: &str, disk: &str) -> String {
    let mut s = String::from("<!-- gantry-idle-bench:start -->\n## Idle VM: memory and disk given back\n\n");
    s.push_str(&format!(
        "Measured by `./scripts/bench idle` ([source](../crates/gantry-core/benches/idle.rs)), one \
         boot per variant in a fresh instance, one after the other in the same run (accelerator: \
         {accel}; 2 CPUs, {GUEST_MIB} MiB guest, 8 GiB disk; load average at the end {}).\n\n",
        loadavg()
    ));
    s.push_str(
        "| variant | load at its start | boot: QEMU launch → engine answers (cache flushes by the end) | QEMU RSS \
         before the squeeze | after it (squeeze took) | after 60 s idle (peak) | idle CPU (% of a core) | at the \
         end: guest RAM / translation cache / heap / files (MiB) |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in measured {
        let default = if m.tuning == QemuTuning::default() { " **(default)**" } else { "" };
        let order = if m.reporting_order.is_empty() { "?" } else { &m.reporting_order };
        s.push_str(&format!(
            "| {} (guest reports order {order}){default} | {} | {:.1} s ({}) | {} MiB | {} MiB ({:.1} s) | {} MiB ({} MiB) | {:.1} | {} / {} / {} / {} |\n",
            m.tuning.describe(),
            m.load,
            m.boot_s,
            m.tb_flushes,
            m.before,
            m.after,
            m.took,
            m.idle_rss,
            m.peak,
            m.cpu,
            m.at_end.guest_ram_kib / 1024,
            m.at_end.translation_cache_kib / 1024,
            m.at_end.heap_kib / 1024,
            m.at_end.files_kib / 1024,
        ));
    }
    let first = &measured[0];
    let chosen = measured.iter().find(|m| m.tuning == QemuTuning::default()).unwrap_or(&measured[measured.len() - 1]);
    s.push_str(&format!(
        "\n| measure | before ({}) | after ({}) | after / before |\n|---|---:|---:|---:|\n",
        first.tuning.describe(),
        chosen.tuning.describe()
    ));
    s.push_str(&format!(
        "| QEMU RSS, start-up caches given back | {} MiB | {} MiB | {:.2}× |\n",
        first.after,
        chosen.after,
        chosen.after as f64 / first.after.max(1) as f64
    ));
    s.push_str(&format!(
        "| QEMU RSS, then 60 s idle | {} MiB | {} MiB | {:.2}× |\n",
        first.idle_rss,
        chosen.idle_rss,
        chosen.idle_rss as f64 / first.idle_rss.max(1) as f64
    ));
    s.push_str(&format!(
        "| boot, QEMU launch → engine answers | {:.1} s | {:.1} s | {:.2}× |\n",
        first.boot_s,
        chosen.boot_s,
        chosen.boot_s / first.boot_s.max(0.001)
    ));
    s.push_str(disk);
    s.push_str("<!-- gantry-idle-bench:end -->\n");
    s
}

fn write_docs(s: &str) {
    println!("\n{s}");
    common::write_docs_section("idle", s);
}

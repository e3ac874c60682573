//! Bind-mount benchmark (issue 13, item 6): a file-heavy workload in a container, on a folder
//! shared from the host (virtio-9p, how Gantry shares folders) against the same workload on a
//! volume on the VM's own disk, in one run; printed and written to docs/benchmarks.md (section
//! "Bind mounts: shared folder vs the VM's disk").
//!
//! Phases, each timed from the host around one `docker exec` less the same exec running `true`:
//! create 10,000 small files (a shell loop, then `sync`), stat them all (`ls -l`), read them all
//! (`cat`), write one 256 MiB file (`dd`, then `sync`) and read it back (`dd`). The guest's page
//! cache is dropped before each read phase, so reads come from the share or the disk (cold).
//!
//! Run: `./scripts/bench files` (needs the guest image, QEMU, the docker CLI, /bin/busybox;
//! `GANTRY_BIN` names the gantry binary, default target/{release,debug}/gantry).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::gantry_bin;

mod common;

const FILES: u32 = 10_000;
const BIG_MIB: u32 = 256;

fn docker(host: &str, args: &[&str]) -> String {
    let out = Command::new("docker").args(args).env("DOCKER_HOST", host).output().unwrap();
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// How long `docker exec fs sh -c SCRIPT` takes, seen from the host.
fn exec_time(host: &str, script: &str) -> Duration {
    let t = Instant::now();
    docker(host, &["exec", "fs", "sh", "-c", script]);
    t.elapsed()
}

/// The guest forgets its cached pages, dentries and inodes (the container is privileged).
fn drop_caches(host: &str) {
    docker(host, &["exec", "fs", "sh", "-c", "sync && echo 3 > /proc/sys/vm/drop_caches"]);
}

/// The time of each phase in folder `dir` of the container, less `empty` (an exec of `true`).
struct Phases {
    create: Duration,
    stat: Duration,
    read: Duration,
    write_mib_s: f64,
    read_mib_s: f64,
}

impl Phases {
    fn small_files(&self) -> Duration {
        self.create + self.stat + self.read
    }
}

/// One phase's time, or one transfer's rate, out of [`Phases`].
type TimeOf = fn(&Phases) -> Duration;
type RateOf = fn(&Phases) -> f64;

fn workload(host: &str, dir: &str, empty: Duration) -> Phases {
    let d = format!("{dir}/many");
    let timed = |script: &str| exec_time(host, script).saturating_sub(empty).max(Duration::from_millis(1));
    docker(host, &["exec", "fs", "sh", "-c", &format!("rm -rf {d} {dir}/big && mkdir {d}")]);
    let create = timed(&format!(
        "cd {d} && i=0 && while [ $i -lt {FILES} ]; do echo x > f$i || exit 1; i=$((i+1)); done && sync"
    ));
    drop_caches(host);
    let stat = timed(&format!("ls -l {d} > /dev/null"));
    drop_caches(host);
    let read = timed(&format!("cd {d} && cat * > /dev/null"));
    let write = timed(&format!("dd if=/dev/zero of={dir}/big bs=1M count={BIG_MIB} 2>/dev/null && sync"));
    drop_caches(host);
    let read_big = timed(&format!("dd if={dir}/big of=/dev/null bs=1M 2>/dev/null"));
    docker(host, &["exec", "fs", "sh", "-c", &format!("rm -rf {d} {dir}/big")]);
    let mib_s = |t: Duration| f64::from(BIG_MIB) / t.as_secs_f64();
    Phases { create, stat, read, write_mib_s: mib_s(write), read_mib_s: mib_s(read_big) }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    let bin = gantry_bin();
    let tmp = tempfile::Builder::new().prefix("gbench").tempdir_in("/tmp").unwrap();
    let (home, docker_config, share) = (tmp.path().join("h"), tmp.path().join("dc"), tmp.path().join("share"));
    std::fs::create_dir_all(home.join("default")).unwrap();
    std::fs::create_dir_all(&share).unwrap();
    let settings = serde_json::json!({ "vm": {
        "cpus": 2, "memory_mib": 2048, "disk_gib": 8, "save_on_stop": false,
        "shared_folders": [{ "path": share, "read_only": false }],
    }});
    std::fs::write(home.join("default/settings.json"), settings.to_string()).unwrap();
    let gantry = |args: &[&str]| {
        Command::new(&bin)
            .args(args)
            .env("GANTRY_HOME", &home)
            .env("DOCKER_CONFIG", &docker_config)
            .env_remove("DOCKER_HOST")
            .output()
            .unwrap()
    };
    let out = gantry(&["start"]);
    assert!(out.status.success(), "gantry start: {}", String::from_utf8_lossy(&out.stderr));
    let status: serde_json::Value =
        serde_json::from_slice(&gantry(&["vm-status", "--json"]).stdout).unwrap_or_default();
    let accel = status["accel"].as_str().unwrap_or("?").to_owned();
    let host = format!("unix://{}", home.join("default/docker.sock").display());

    let root = tmp.path().join("rootfs");
    common::busybox_root(&root, &["sh", "sleep", "mkdir", "cat", "ls", "dd", "sync", "rm", "true"]);
    let tar = tmp.path().join("bb.tar");
    assert!(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".").status().unwrap().success());
    docker(&host, &["import", tar.to_str().unwrap(), "bench/bb:1"]);
    let share_mount = format!("{}:/share", share.display());
    docker(
        &host,
        &[
            "run",
            "-d",
            "--privileged",
            "--name",
            "fs",
            "-v",
            &share_mount,
            "-v",
            "bench-disk:/disk",
            "bench/bb:1",
            "sleep",
            "3600",
        ],
    );
    let empty = (0..3).map(|_| exec_time(&host, "true")).min().unwrap_or_default();
    println!("docker exec of true: {:.0} ms (subtracted from each phase)", empty.as_secs_f64() * 1e3);
    // alternately, twice each; the better of the two per phase
    let mut runs: Vec<(Phases, Phases)> = Vec::new();
    for round in 1..=2 {
        let disk = workload(&host, "/disk", empty);
        let shared = workload(&host, "/share", empty);
        println!(
            "round {round}: small files: VM disk {} (create {}, stat {}, read {}), 9p share {} (create {}, stat {}, read {}); \
             256 MiB write/read: disk {:.1}/{:.1} MiB/s, share {:.1}/{:.1} MiB/s",
            secs(disk.small_files()),
            secs(disk.create),
            secs(disk.stat),
            secs(disk.read),
            secs(shared.small_files()),
            secs(shared.create),
            secs(shared.stat),
            secs(shared.read),
            disk.write_mib_s,
            disk.read_mib_s,
            shared.write_mib_s,
            shared.read_mib_s
        );
        runs.push((disk, shared));
    }
    let best = |f: TimeOf, side: usize| runs.iter().map(|(d, s)| f(if side == 0 { d } else { s })).min().unwrap();
    let best_rate =
        |f: RateOf, side: usize| runs.iter().map(|(d, s)| f(if side == 0 { d } else { s })).fold(0.0, f64::max);
    let mut rows: Vec<[String; 4]> = Vec::new();
    let phases: [(&str, TimeOf); 4] = [
        ("create 10,000 small files (then sync)", |p| p.create),
        ("stat them all (`ls -l`, cold)", |p| p.stat),
        ("read them all (`cat`, cold)", |p| p.read),
        ("**small-file workload: the three together**", Phases::small_files),
    ];
    for (name, f) in phases {
        let (disk, shared) = (best(f, 0), best(f, 1));
        rows.push([
            name.into(),
            secs(shared),
            secs(disk),
            format!("{:.2}×", disk.as_secs_f64() / shared.as_secs_f64()),
        ]);
    }
    let rates: [(&str, RateOf); 2] = [
        ("write 256 MiB (`dd bs=1M`, then sync)", |p| p.write_mib_s),
        ("read it back (`dd bs=1M`, cold)", |p| p.read_mib_s),
    ];
    for (name, f) in rates {
        let (disk, shared) = (best_rate(f, 0), best_rate(f, 1));
        rows.push([
            name.into(),
            format!("{shared:.1} MiB/s"),
            format!("{disk:.1} MiB/s"),
            format!("{:.2}×", shared / disk),
        ]);
    }
    docker(&host, &["rm", "-f", "fs"]);
    let out = gantry(&["stop"]);
    assert!(out.status.success(), "gantry stop: {}", String::from_utf8_lossy(&out.stderr));

    let mut section = String::from("<!-- gantry-files-bench:start -->\n");
    section.push_str(&format!(
        "Measured by `./scripts/bench files` ([source](../crates/gantry-core/benches/files.rs); accelerator: {accel}; \
         2 CPUs, 2048 MiB guest; the better of two rounds per phase). Ratio: how fast the shared folder is \
         against the VM's disk (time on the disk / time on the share; for MiB/s share / disk).\n\n"
    ));
    section.push_str(
        "| phase | shared folder (virtio-9p) | VM's own disk (volume) | share / disk |\n|---|---:|---:|---:|\n",
    );
    for [m, s, d, r] in &rows {
        section.push_str(&format!("| {m} | {s} | {d} | {r} |\n"));
    }
    section.push_str("<!-- gantry-files-bench:end -->\n");
    println!("\n{section}");
    write_section(&section);
}

fn write_section(section: &str) {
    let docs: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/benchmarks.md");
    let (start, end) = ("<!-- gantry-files-bench:start -->", "<!-- gantry-files-bench:end -->\n");
    let old = std::fs::read_to_string(&docs).unwrap_or_else(|_| "# Benchmarks\n\n".into());
    let new = match (old.find(start), old.find(end)) {
        (Some(a), Some(b)) => format!("{}{}{}", &old[..a], section, &old[b + end.len()..]),
        _ => format!("{}\n\n{}", old.trim_end(), section),
    };
    if let Err(e) = std::fs::write(&docs, new) {
        eprintln!("cannot update {}: {e}", docs.display());
    }
}

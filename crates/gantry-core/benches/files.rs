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

use common::{docker, gantry_bin};

mod common;

const FILES: u32 = 10_000;
const BIG_MIB: u32 = 256;

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

fn print_round(round: u32, share_kind: &str, shared: &Phases, disk: &Phases) {
    println!(
        "round {round}: small files: {share_kind} share {} (create {}, stat {}, read {}), VM disk {} (create {}, stat {}, read {}); \
         256 MiB write/read: share {:.1}/{:.1} MiB/s, disk {:.1}/{:.1} MiB/s",
        secs(shared.small_files()),
        secs(shared.create),
        secs(shared.stat),
        secs(shared.read),
        secs(disk.small_files()),
        secs(disk.create),
        secs(disk.stat),
        secs(disk.read),
        shared.write_mib_s,
        shared.read_mib_s,
        disk.write_mib_s,
        disk.read_mib_s
    );
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
    let virtiofsd = std::env::var_os("GANTRY_BENCH_VIRTIOFSD").map(PathBuf::from);
    let wrapper = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/lib/qemu-virtiofs.sh");
    let gantry = |args: &[&str]| {
        let mut cmd = Command::new(&bin);
        cmd.args(args).env("GANTRY_HOME", &home).env("DOCKER_CONFIG", &docker_config).env_remove("DOCKER_HOST");
        if let Some(v) = &virtiofsd {
            cmd.env("GANTRY_QEMU", &wrapper)
                .env("VFS_VIRTIOFSD", v)
                .env("VFS_DIR", &share)
                .env("VFS_SOCK", tmp.path().join("vfs.sock"));
        }
        cmd.output().unwrap()
    };
    let out = gantry(&["start"]);
    assert!(out.status.success(), "gantry start: {}", String::from_utf8_lossy(&out.stderr));
    let status: serde_json::Value =
        serde_json::from_slice(&gantry(&["vm-status", "--json"]).stdout).unwrap_or_default();
    let accel = status["accel"].as_str().unwrap_or("?").to_owned();
    let host = format!("unix://{}", home.join("default/docker.sock").display());

    let root = tmp.path().join("rootfs");
    common::busybox_root(&root, &["sh", "sleep", "mkdir", "cat", "ls", "dd", "sync", "rm", "true", "nsenter", "grep"]);
    let tar = tmp.path().join("bb.tar");
    assert!(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".").status().unwrap().success());
    docker(&host, &["import", tar.to_str().unwrap(), "bench/bb:1"]);
    let share_mount = format!("{}:/share", share.display());
    let run_fs = || {
        let args = ["run", "-d", "--privileged", "--name", "fs", "-v", &share_mount, "-v", "bench-disk:/disk"];
        docker(&host, &[&args[..], &["bench/bb:1", "sleep", "3600"]].concat());
    };
    run_fs();
    let empty = (0..3).map(|_| exec_time(&host, "true")).min().unwrap_or_default();
    println!("docker exec of true: {:.0} ms (subtracted from each phase)", empty.as_secs_f64() * 1e3);
    // alternately, twice each: (disk, share) per round
    let mut p9_runs: Vec<(Phases, Phases)> = Vec::new();
    for round in 1..=2 {
        let disk = workload(&host, "/disk", empty);
        let shared = workload(&host, "/share", empty);
        print_round(round, "9p", &shared, &disk);
        p9_runs.push((disk, shared));
    }
    // virtio-fs over the same path (the container is made again so its bind mount sees it)
    let mut vfs_runs: Vec<(Phases, Phases)> = Vec::new();
    if virtiofsd.is_some() {
        docker(&host, &["rm", "-f", "fs"]);
        let mount = format!("modprobe virtiofs && mount -t virtiofs vfs {}", share.display());
        let nsenter = ["nsenter", "-t", "1", "-m", "--", "sh", "-c", &mount];
        docker(&host, &[&["run", "--rm", "--privileged", "--pid=host", "bench/bb:1"][..], &nsenter].concat());
        run_fs();
        let mounts = docker(&host, &["exec", "fs", "grep", " /share ", "/proc/mounts"]);
        assert!(mounts.contains("virtiofs"), "the share is not virtio-fs in the container: {mounts}");
        for round in 1..=2 {
            let shared = workload(&host, "/share", empty);
            let disk = workload(&host, "/disk", empty);
            print_round(round, "virtio-fs", &shared, &disk);
            vfs_runs.push((disk, shared));
        }
    }
    // the best round per phase; the disk's of all its rounds
    let all: Vec<&(Phases, Phases)> = p9_runs.iter().chain(&vfs_runs).collect();
    let best_disk = |f: TimeOf| all.iter().map(|(d, _)| f(d)).min().unwrap_or_default();
    let best_share = |f: TimeOf, r: &[(Phases, Phases)]| r.iter().map(|(_, s)| f(s)).min();
    let disk_rate = |f: RateOf| all.iter().map(|(d, _)| f(d)).fold(0.0, f64::max);
    let share_rate = |f: RateOf, r: &[(Phases, Phases)]| r.iter().map(|(_, s)| f(s)).reduce(f64::max);
    let time_ratio = |disk: Duration, share: Option<Duration>| {
        share.map_or("—".into(), |s| format!("{:.2}×", disk.as_secs_f64() / s.as_secs_f64()))
    };
    let rate_ratio = |disk: f64, share: Option<f64>| share.map_or("—".into(), |s| format!("{:.2}×", s / disk));
    let mib_s = |r: Option<f64>| r.map_or("—".into(), |r| format!("{r:.1} MiB/s"));
    let mut rows: Vec<[String; 6]> = Vec::new();
    let phases: [(&str, TimeOf); 4] = [
        ("create 10,000 small files (then sync)", |p| p.create),
        ("stat them all (`ls -l`, cold)", |p| p.stat),
        ("read them all (`cat`, cold)", |p| p.read),
        ("**small-file workload: the three together**", Phases::small_files),
    ];
    for (name, f) in phases {
        let (disk, p9, vfs) = (best_disk(f), best_share(f, &p9_runs), best_share(f, &vfs_runs));
        rows.push([
            name.into(),
            p9.map_or("—".into(), secs),
            vfs.map_or("—".into(), secs),
            secs(disk),
            time_ratio(disk, p9),
            time_ratio(disk, vfs),
        ]);
    }
    let rates: [(&str, RateOf); 2] = [
        ("write 256 MiB (`dd bs=1M`, then sync)", |p| p.write_mib_s),
        ("read it back (`dd bs=1M`, cold)", |p| p.read_mib_s),
    ];
    for (name, f) in rates {
        let (disk, p9, vfs) = (disk_rate(f), share_rate(f, &p9_runs), share_rate(f, &vfs_runs));
        rows.push([name.into(), mib_s(p9), mib_s(vfs), mib_s(Some(disk)), rate_ratio(disk, p9), rate_ratio(disk, vfs)]);
    }
    docker(&host, &["rm", "-f", "fs"]);
    let out = gantry(&["stop"]);
    assert!(out.status.success(), "gantry stop: {}", String::from_utf8_lossy(&out.stderr));

    let mut section = String::from("<!-- gantry-files-bench:start -->\n");
    let how = if virtiofsd.is_some() {
        "; virtio-fs through scripts/lib/qemu-virtiofs.sh, mounted over the share's path after the 9p rounds, \
         the disk's best of all four rounds"
    } else {
        "; virtio-fs not measured (GANTRY_BENCH_VIRTIOFSD unset)"
    };
    section.push_str(&format!(
        "Measured by `./scripts/bench files` ([source](../crates/gantry-core/benches/files.rs); accelerator: {accel}; \
         2 CPUs, 2048 MiB guest; the better of two rounds per phase{how}). Ratios: how fast the shared folder is \
         against the VM's disk (time on the disk / time on the share; for MiB/s share / disk).\n\n"
    ));
    section.push_str(
        "| phase | shared folder: virtio-9p (Gantry's) | shared folder: virtio-fs | VM's own disk (volume) | 9p / disk | virtio-fs / disk |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for [m, p, v, d, rp, rv] in &rows {
        section.push_str(&format!("| {m} | {p} | {v} | {d} | {rp} | {rv} |\n"));
    }
    section.push_str("<!-- gantry-files-bench:end -->\n");
    println!("\n{section}");
    common::write_docs_section("files", &section);
}

//! Boot phases before/after a change of the guest, in one run (issue 13, item 1).
//!
//! Boots guest images under TCG (named in the output) from fresh instances, alternating before
//! and after, and prints each phase of `gantry start --timings` (median of the rounds) with its
//! ratio. Before/after is either
//! - another image against the current one: `GANTRY_BENCH_BOOT_BEFORE=<image directory>` (an
//!   image an older checkout built, e.g. `~/.cache/gantry/images/<hash>`), or
//! - the current image as it is against the same files with `GANTRY_BENCH_BOOT_APPEND` added to
//!   its kernel command line (default `mitigations=off`).
//!
//! Run: `cargo build -p gantry-cli && cargo bench -p gantry-core --bench boot`
//! (`./scripts/bench boot`); `GANTRY_BENCH_BOOT_ROUNDS` pairs (default 3). Needs QEMU and the
//! guest image.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::gantry_bin;

mod common;

/// `(phase, seconds)` rows of the table `gantry start --timings` prints, total last.
fn parse_timings(stdout: &str) -> Vec<(String, f64)> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("Start-up timings"))
        .skip(1)
        .map_while(|l| {
            let (name, secs) = l.trim().strip_suffix(" s")?.rsplit_once(' ')?;
            Some((name.trim().to_owned(), secs.parse().ok()?))
        })
        .collect()
}

/// One start and stop of a fresh instance under `home` with the image in `image_dir`.
fn boot(home: &Path, image_dir: &Path) -> Vec<(String, f64)> {
    std::fs::create_dir_all(home.join("default")).unwrap();
    std::fs::write(
        home.join("default/settings.json"),
        r#"{"vm":{"cpus":2,"memory_mib":2048,"disk_gib":8,"shared_folders":[]}}"#,
    )
    .unwrap();
    let gantry = |args: &[&str]| {
        Command::new(gantry_bin())
            .args(args)
            .env("GANTRY_HOME", home)
            .env("DOCKER_CONFIG", home.join("docker-config"))
            .env("GANTRY_ACCEL", "tcg")
            .env("GANTRY_IMAGE_DIR", image_dir)
            .env_remove("DOCKER_HOST")
            .output()
            .unwrap()
    };
    let t = Instant::now();
    let out = gantry(&["start", "--timings"]);
    let wall = t.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stopped = gantry(&["stop"]);
    assert!(out.status.success(), "gantry start: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stopped.status.success(), "gantry stop: {}", String::from_utf8_lossy(&stopped.stderr));
    let rows = parse_timings(&stdout);
    assert!(rows.iter().any(|(n, _)| n == "total"), "no timings printed:\n{stdout}");
    println!("  {:>6.2} s (wall {:.2} s)", rows.last().map_or(0.0, |r| r.1), wall.as_secs_f64());
    rows
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

fn main() {
    let rounds: usize = std::env::var("GANTRY_BENCH_BOOT_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let image = gantry_machine::image::GuestImage::locate(&gantry_machine::image::default_dir()).unwrap();
    let tmp = tempfile::Builder::new().prefix("gboot").tempdir_in("/tmp").unwrap();
    let (before_dir, after_dir, after_label) = match std::env::var_os("GANTRY_BENCH_BOOT_BEFORE") {
        Some(before) => {
            let before = std::path::PathBuf::from(before);
            let old = gantry_machine::image::GuestImage::locate(&before).unwrap();
            println!(
                "accelerator: tcg; {rounds} round(s), order alternating; before: image {}, after: image {}",
                label(&old.dir),
                label(&image.dir)
            );
            (before, image.dir.clone(), format!("after: image {}", label(&image.dir)))
        }
        None => {
            let (variant, append) = cmdline_variant(&image, tmp.path());
            (image.dir.clone(), variant, format!("after: + `{append}`"))
        }
    };
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        for first in [r % 2 == 0, r % 2 != 0] {
            let home = tmp.path().join(format!("{}-{r}", if first { "before" } else { "after" }));
            print!("round {r}, {}:", if first { "before" } else { "after" });
            if first { before.push(boot(&home, &before_dir)) } else { after.push(boot(&home, &after_dir)) }
        }
    }
    let phases: Vec<String> = before[0].iter().map(|(n, _)| n.clone()).collect();
    let of = |runs: &[Vec<(String, f64)>], phase: &str| {
        median(runs.iter().filter_map(|r| r.iter().find(|(n, _)| n == phase).map(|(_, s)| *s)).collect())
    };
    println!("\n| phase (median of {rounds}) | before | {after_label} | after / before |");
    println!("|---|---:|---:|---:|");
    for p in &phases {
        let (b, a) = (of(&before, p), of(&after, p));
        let ratio = if b > 0.05 { format!("{:.2}×", a / b) } else { "—".into() };
        println!("| {p} | {b:.2} s | {a:.2} s | {ratio} |");
    }
    let totals = |runs: &[Vec<(String, f64)>]| -> Vec<String> {
        runs.iter().map(|r| format!("{:.2}", r.iter().find(|(n, _)| n == "total").map_or(0.0, |x| x.1))).collect()
    };
    println!("\ntotals per round (s): before {}; after {}", totals(&before).join(", "), totals(&after).join(", "));
}

/// The image directory's last component (its hash, in the image cache).
fn label(dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// The same image files with `GANTRY_BENCH_BOOT_APPEND` at the end of the kernel command line
/// (the last word wins), in a directory under `tmp`; returns it and what was appended.
fn cmdline_variant(image: &gantry_machine::image::GuestImage, tmp: &Path) -> (std::path::PathBuf, String) {
    let append = std::env::var("GANTRY_BENCH_BOOT_APPEND").unwrap_or_else(|_| "mitigations=off".into());
    // after: the same files, the command line with `append` at its end (the last word wins)
    let variant = tmp.join("variant-image");
    std::fs::create_dir_all(&variant).unwrap();
    for f in [&image.kernel, &image.initrd].into_iter().chain(image.rootfs.as_ref()) {
        let to = variant.join(f.file_name().unwrap());
        #[cfg(unix)] // the benchmark runs on Linux; elsewhere it copies (type-checked for Windows)
        std::os::unix::fs::symlink(f, to).unwrap();
        #[cfg(not(unix))]
        std::fs::copy(f, to).unwrap();
    }
    let cmdline = format!("{} {append}", image.cmdline);
    std::fs::write(variant.join(gantry_machine::image::CMDLINE), format!("{cmdline}\n")).unwrap();
    println!("accelerator: tcg; before: `{}`, after: `{cmdline}`", image.cmdline);
    (variant, append)
}

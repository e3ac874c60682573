//! Import throughput: `gantry workshop import` of a bundle (every digest checked, the image
//! streamed to the engine) against `docker load` of the same image saved by `docker save`,
//! measured in the same run on the same engine (`DOCKER_HOST`; `./scripts/bench workshop` starts
//! a private one).
//!
//! An image with a 128 MiB layer of random bytes on the busybox fixture is packed once and
//! saved once; then, alternating, it is removed and imported from the bundle (a fresh import:
//! nothing verified or loaded before), and removed and loaded by `docker load -i`. Each side's
//! MiB/s is its file's size over the time; medians of 5 runs are printed with the ratio.
//! `GANTRY_BENCH_QUICK=1`: a 16 MiB layer, 2 runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use gantry_engine::{CancellationToken, Engine};
use gantry_testkit::images;
use gantry_workshop::{ImageRequest, ImportOptions, PackSpec};

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn mib_per_s(bytes: u64, time: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / time.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let quick = std::env::var("GANTRY_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (mib, runs) = if quick { (16, 2) } else { (128, 5) };
    assert!(std::env::var_os("DOCKER_HOST").is_some(), "DOCKER_HOST is not set: run through ./scripts/bench workshop");
    let engine = Engine::from_env().await.expect("engine at DOCKER_HOST");
    let dir = tempfile::tempdir().unwrap();
    let tag = images::unique_tag("bench-import");
    images::build(
        &tag,
        &format!("FROM {}\nRUN dd if=/dev/urandom of=/blob bs=1048576 count={mib} 2>/dev/null\n", images::FIXTURE),
    )
    .unwrap();
    let spec = PackSpec {
        title: "bench".into(),
        images: vec![ImageRequest::parse(&tag).unwrap()],
        output: dir.path().join("bench.gantry-workshop"),
        ..Default::default()
    };
    let bundle = gantry_workshop::pack(&engine, &spec, None, &|_| {}, &CancellationToken::new()).await.unwrap();
    let tar = dir.path().join("saved.tar");
    images::docker(&["save", "-o", &tar.display().to_string(), &tag]).unwrap();
    let tar_len = std::fs::metadata(&tar).unwrap().len();
    println!(
        "import benchmark{}: one image with a {mib} MiB layer; bundle {:.1} MiB, docker save tar {:.1} MiB; {runs} runs",
        if quick { " (quick)" } else { "" },
        bundle.size as f64 / 1048576.0,
        tar_len as f64 / 1048576.0
    );
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for run in 0..runs {
        images::remove(&[&tag]);
        let options = ImportOptions {
            bundle: bundle.path.clone(),
            workshops_dir: dir.path().join(format!("workshops-{run}")),
            trusted_key: None,
        };
        let start = Instant::now();
        gantry_workshop::import(&engine, &options, &|_| {}, &CancellationToken::new()).await.unwrap();
        ours.push(mib_per_s(bundle.size, start.elapsed()));

        images::remove(&[&tag]);
        let start = Instant::now();
        images::docker(&["load", "-q", "-i", &tar.display().to_string()]).unwrap();
        theirs.push(mib_per_s(tar_len, start.elapsed()));
    }
    images::remove(&[&tag]);
    let (ours, theirs) = (median(&mut ours), median(&mut theirs));
    println!("| measure | median (MiB/s) |");
    println!("| --- | ---: |");
    println!("| `docker load -i` of the `docker save` tar (baseline) | {theirs:.1} |");
    println!("| `gantry workshop import` of the bundle (digests checked, then loaded) | {ours:.1} |");
    println!("ratio import / docker load: {:.2}", ours / theirs);
}

//! Engine benchmark: Gantry against the docker CLI, measured in the same run on the same engine
//! (`DOCKER_HOST`; `./scripts/bench engine` starts a private one).
//!
//! 1. Listing 200 containers (created, not started): `Engine::list_containers(all)` vs
//!    `docker ps -a --no-trunc --format json`.
//! 2. Reading a 1,000-line log: `Engine::read_logs` vs `docker logs`.
//!
//! Each is run several times after a warm-up; the median is reported, and the ratio
//! Gantry / docker CLI (below 1 means Gantry is faster). Gantry keeps one connected client, as
//! the app and the agent do; the CLI pays its process start-up on every call, as a user (or a
//! GUI shelling out to it) does. `GANTRY_BENCH_QUICK=1` runs a small version (20 containers,
//! 3 iterations) as a smoke test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use gantry_engine::{ContainerFilter, LogOptions, RemoveOptions, RunSpec};

struct Row {
    what: String,
    gantry: Duration,
    cli: Duration,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn docker_cli(args: &[&str]) -> Vec<u8> {
    let out = Command::new("docker").args(args).output().expect("run the docker CLI");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[tokio::main]
async fn main() {
    let quick = std::env::var("GANTRY_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (containers, iterations, log_lines) = if quick { (20, 3, 1000) } else { (200, 15, 1000) };
    let t = common::setup("bench").await;
    let version = t.engine.version().await.unwrap();
    let cli_version =
        String::from_utf8_lossy(&docker_cli(&["version", "--format", "{{.Client.Version}}"])).trim().to_string();
    println!(
        "engine benchmark{}: engine {} (API {}), docker CLI {cli_version}, {} cores",
        if quick { " (quick)" } else { "" },
        version.version,
        version.negotiated_api_version,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // --- 200 created containers ---------------------------------------------------------------
    let before = t.engine.list_containers(&ContainerFilter { all: true, ..Default::default() }).await.unwrap().len();
    let started = Instant::now();
    let mut ids = Vec::new();
    for chunk in (0..containers).collect::<Vec<_>>().chunks(8) {
        let specs: Vec<RunSpec> = chunk
            .iter()
            .map(|i| {
                let mut s = RunSpec::new(common::IMAGE);
                s.name = Some(t.name(&format!("c{i}")));
                s.command = vec!["sleep".into(), "1".into()];
                s.labels = vec![("org.gantry.bench".into(), "1".into())];
                s
            })
            .collect();
        for id in join_all(specs.iter().map(|s| t.engine.create_container(s))).await {
            let id = id.unwrap();
            t.track_container(&id);
            ids.push(id);
        }
    }
    println!("created {containers} containers in {:.1} s", started.elapsed().as_secs_f64());
    let total = before + containers;

    let all = ContainerFilter { all: true, ..Default::default() };
    let mut gantry = Vec::new();
    let mut cli = Vec::new();
    // Warm-up (connection, page cache), then alternate so drift hits both sides alike.
    assert_eq!(t.engine.list_containers(&all).await.unwrap().len(), total);
    docker_cli(&["ps", "-a", "--no-trunc", "--format", "json"]);
    for _ in 0..iterations {
        let s = Instant::now();
        let list = t.engine.list_containers(&all).await.unwrap();
        gantry.push(s.elapsed());
        assert_eq!(list.len(), total);
        let s = Instant::now();
        let out = docker_cli(&["ps", "-a", "--no-trunc", "--format", "json"]);
        cli.push(s.elapsed());
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), total);
    }
    let mut rows = vec![Row { what: format!("list {total} containers"), gantry: median(gantry), cli: median(cli) }];

    // --- 1,000-line log --------------------------------------------------------------------------
    let mut spec = RunSpec::new(common::IMAGE);
    spec.name = Some(t.name("log"));
    spec.command = vec![
        "sh".into(),
        "-c".into(),
        format!("i=1; while [ $i -le {log_lines} ]; do echo \"log line $i of the benchmark\"; i=$((i+1)); done"),
    ];
    let log_id = t.run(&spec).await;
    t.wait_exit(&log_id).await;
    let (mut gantry, mut cli) = (Vec::new(), Vec::new());
    assert_eq!(t.engine.read_logs(&log_id, &LogOptions::default()).await.unwrap().len(), log_lines);
    docker_cli(&["logs", &log_id]);
    for _ in 0..iterations {
        let s = Instant::now();
        let lines = t.engine.read_logs(&log_id, &LogOptions::default()).await.unwrap();
        gantry.push(s.elapsed());
        assert_eq!(lines.len(), log_lines);
        let s = Instant::now();
        let out = docker_cli(&["logs", &log_id]);
        cli.push(s.elapsed());
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), log_lines);
    }
    rows.push(Row { what: format!("read a {log_lines}-line log"), gantry: median(gantry), cli: median(cli) });

    // --- report ----------------------------------------------------------------------------------
    println!();
    println!("median of {iterations} runs each:");
    println!("| operation | Gantry (ms) | docker CLI (ms) | ratio Gantry/CLI |");
    println!("| --- | ---: | ---: | ---: |");
    for r in &rows {
        println!(
            "| {} | {:.2} | {:.2} | {:.2} |",
            r.what,
            r.gantry.as_secs_f64() * 1e3,
            r.cli.as_secs_f64() * 1e3,
            r.gantry.as_secs_f64() / r.cli.as_secs_f64()
        );
    }

    // What part of the CLI's time is its own process start-up (no engine call at all).
    let mut startup = Vec::new();
    for _ in 0..iterations {
        let s = Instant::now();
        docker_cli(&["--version"]);
        startup.push(s.elapsed());
    }
    println!(
        "\nfor reference: `docker --version` (CLI start-up, no engine call) takes {:.2} ms (median)",
        median(startup).as_secs_f64() * 1e3
    );

    // --- clean up (the helper's guard also removes them if anything above panicked) --------------
    let started = Instant::now();
    for chunk in ids.chunks(8) {
        for r in
            join_all(chunk.iter().map(|id| t.engine.remove_container(id, RemoveOptions { force: true, volumes: true })))
                .await
        {
            r.unwrap();
        }
    }
    t.engine.remove_container(&log_id, RemoveOptions { force: true, volumes: true }).await.unwrap();
    println!("\nremoved the benchmark's containers in {:.1} s", started.elapsed().as_secs_f64());
}

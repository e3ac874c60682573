//! Remote-engine benchmark: Gantry against the docker CLI through the same SSH context, in the
//! same run (`./scripts/bench remote` starts the engine behind an OpenSSH server on loopback,
//! scripts/lib/remote.sh).
//!
//! 1. Listing containers: `Engine::list_containers(all)` vs `docker --context C ps -a`.
//! 2. Reading a 1,000-line log: `Engine::read_logs` vs `docker --context C logs`.
//! 3. Following a log: the time until the first line arrives, `Engine::logs(follow)` vs
//!    `docker --context C logs -f`.
//!
//! Medians of several runs after a warm-up, alternating; ratio Gantry / CLI. Gantry keeps its
//! connections open for the next requests and shares one SSH connection among them (a new
//! followed log opens a channel on it), as the app does; the CLI starts `ssh` on every call: the
//! SSH handshake alone (`ssh HOST true`) and Gantry's first call (a new connection, when no
//! shared one is open yet) are printed for reference. `GANTRY_BENCH_QUICK=1`: 10 containers, 3
//! runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use gantry_engine::{ContainerFilter, ContextStore, Endpoint, Engine, LogOptions, NewContext, RemoveOptions, RunSpec};

const IMAGE: &str = "gantry-test/busybox:latest";
const LABEL: &str = "org.gantry.bench-remote";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Cli {
    config: std::path::PathBuf,
    context: String,
}

impl Cli {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_CONFIG", &self.config).env_remove("DOCKER_HOST").arg("--context").arg(&self.context).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Vec<u8> {
        let out = self.command(args).output().expect("run the docker CLI");
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// `docker logs -f`: time until its first line.
    fn first_followed_line(&self, id: &str) -> Duration {
        let started = Instant::now();
        let mut child = self
            .command(&["logs", "-f", id])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker logs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let took = started.elapsed();
        assert!(line.starts_with("line "), "{line:?}");
        let _ = child.kill();
        let _ = child.wait();
        took
    }
}

async fn first_followed_line(engine: &Engine, id: &str) -> Duration {
    let started = Instant::now();
    let mut stream = engine.logs(id, &LogOptions { follow: true, ..Default::default() });
    let line = stream.next().await.unwrap().unwrap();
    let took = started.elapsed();
    assert!(line.text.starts_with("line "), "{line:?}");
    took
}

#[tokio::main]
async fn main() {
    let Ok(ssh_host) = std::env::var("GANTRY_TEST_SSH_HOST") else {
        println!("remote benchmark: no SSH engine (./scripts/bench remote starts one); skipped");
        return;
    };
    let quick = std::env::var("GANTRY_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (containers, iterations) = if quick { (10, 3) } else { (50, 15) };
    let host = format!("ssh://{ssh_host}");

    // the same context for both sides, in a docker config of its own
    let config = tempfile::tempdir().unwrap();
    let context = "bench-ssh".to_string();
    ContextStore::new(config.path())
        .create(&NewContext {
            name: context.clone(),
            description: "remote benchmark".into(),
            host: host.clone(),
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
        })
        .unwrap();
    let cli = Cli { config: config.path().to_path_buf(), context };

    let started = Instant::now();
    let engine = Engine::connect(&Endpoint::parse(&host).unwrap()).await.unwrap();
    let all = ContainerFilter { all: true, ..Default::default() };
    engine.list_containers(&all).await.unwrap();
    let first_call = started.elapsed();
    let version = engine.version().await.unwrap();
    println!(
        "remote benchmark{}: engine {} over {host}, {} cores",
        if quick { " (quick)" } else { "" },
        version.version,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let mut ids = Vec::new();
    for i in 0..containers {
        let mut spec = RunSpec::new(IMAGE);
        spec.name = Some(format!("bench-remote-{}-{i}", std::process::id()));
        spec.command = vec!["sleep".into(), "1".into()];
        spec.labels = vec![(LABEL.into(), "1".into())];
        ids.push(engine.create_container(&spec).await.unwrap());
    }
    let total = engine.list_containers(&all).await.unwrap().len();

    let mut rows: Vec<(String, Duration, Duration)> = Vec::new();
    let (mut g, mut c) = (Vec::new(), Vec::new());
    cli.run(&["ps", "-a", "--format", "{{.ID}}"]);
    for _ in 0..iterations {
        let s = Instant::now();
        assert_eq!(engine.list_containers(&all).await.unwrap().len(), total);
        g.push(s.elapsed());
        let s = Instant::now();
        let out = cli.run(&["ps", "-a", "--no-trunc", "--format", "json"]);
        c.push(s.elapsed());
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), total);
    }
    rows.push((format!("list {total} containers"), median(g), median(c)));

    let mut spec = RunSpec::new(IMAGE);
    spec.name = Some(format!("bench-remote-{}-log", std::process::id()));
    spec.command = vec![
        "sh".into(),
        "-c".into(),
        "i=1; while [ $i -le 1000 ]; do echo \"line $i of the benchmark\"; i=$((i+1)); done; sleep 600".into(),
    ];
    spec.labels = vec![(LABEL.into(), "1".into())];
    let log_id = engine.run_container(&spec).await.unwrap();
    ids.push(log_id.clone());
    // wait until the 1,000 lines are written
    for _ in 0..100 {
        if engine.read_logs(&log_id, &LogOptions::default()).await.unwrap().len() == 1000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (mut g, mut c) = (Vec::new(), Vec::new());
    cli.run(&["logs", &log_id]);
    for _ in 0..iterations {
        let s = Instant::now();
        assert_eq!(engine.read_logs(&log_id, &LogOptions::default()).await.unwrap().len(), 1000);
        g.push(s.elapsed());
        let s = Instant::now();
        let out = cli.run(&["logs", &log_id]);
        c.push(s.elapsed());
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1000);
    }
    rows.push(("read a 1000-line log".into(), median(g), median(c)));

    let (mut g, mut c) = (Vec::new(), Vec::new());
    first_followed_line(&engine, &log_id).await;
    for _ in 0..iterations {
        g.push(first_followed_line(&engine, &log_id).await);
        c.push(cli.first_followed_line(&log_id));
    }
    rows.push(("follow a log: first line".into(), median(g), median(c)));

    let mut handshake = Vec::new();
    for _ in 0..iterations {
        let s = Instant::now();
        let ok = Command::new("ssh").arg(&ssh_host).arg("true").status().unwrap().success();
        assert!(ok);
        handshake.push(s.elapsed());
    }

    println!();
    println!("median of {iterations} runs each, through the same SSH context:");
    println!("| operation | Gantry (ms) | docker CLI (ms) | ratio Gantry/CLI |");
    println!("| --- | ---: | ---: | ---: |");
    for (what, g, c) in &rows {
        println!("| {what} | {:.2} | {:.2} | {:.2} |", ms(*g), ms(*c), g.as_secs_f64() / c.as_secs_f64());
    }
    println!(
        "\nfor reference: an SSH handshake (`ssh HOST true`) takes {:.2} ms (median); Gantry's first call, \
         with a new SSH connection, took {:.2} ms",
        ms(median(handshake)),
        ms(first_call)
    );

    for id in ids {
        let _ = engine.remove_container(&id, RemoveOptions { force: true, volumes: true }).await;
    }
}

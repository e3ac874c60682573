//! Checker benchmark: how soon a step turns green after the engine event that satisfies it.
//!
//! A lab of N steps, step i checking "container i is running"; the N containers are created (not
//! started) first. For each step: start its container through the engine API and time, in the
//! same process,
//! - the baseline: the raw `start` event arriving on a plain event subscription, and
//! - the tick: the checker reporting the check passed.
//!
//! Printed: median and p95 of raw event after the API call, tick after the raw event, tick after
//! the API call, and the ratio tick / raw event (both from the API call). `GANTRY_BENCH_QUICK=1`
//! runs 5 steps instead of 40.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use gantry_engine::{Engine, EngineEvent, EventFilter, RemoveOptions, RunSpec};
use gantry_labs::session::{self, PortChoice};
use gantry_labs::{CheckStatus, LabEvent, load_lab, watch};

const IMAGE: &str = "gantry-test/busybox:latest";

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let quick = std::env::var("GANTRY_BENCH_QUICK").is_ok_and(|v| v == "1");
    let steps = if quick { 5 } else { 40 };
    let engine = Engine::from_env().await.expect("an engine at DOCKER_HOST (./scripts/bench labs starts one)");
    engine.inspect_image(IMAGE).await.expect("the fixture image (scripts/lib/fixtures.sh)");
    let version = engine.version().await.unwrap();
    println!(
        "checker benchmark{}: {steps} steps, engine {} (API {}), {} cores",
        if quick { " (quick)" } else { "" },
        version.version,
        version.negotiated_api_version,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..steps).map(|i| format!("bench-tick-{}-{i}", std::process::id())).collect();
    let mut manifest = format!(
        "format = 1\nid = \"bench\"\nlevel = \"beginner\"\nduration_minutes = 1\nimages = [\"{IMAGE}\"]\n\
         [title]\nen = \"Bench\"\n[summary]\nen = \"Bench\"\n"
    );
    std::fs::create_dir(dir.path().join("steps")).unwrap();
    for (i, name) in names.iter().enumerate() {
        manifest.push_str(&format!(
            "[[steps]]\nid = \"s{i}\"\n[[steps.checks]]\nkind = \"container_running\"\ncontainer = \"{name}\"\n\
             [[steps.solution]]\nrun = [\"docker\", \"start\", \"{name}\"]\n"
        ));
        std::fs::write(dir.path().join(format!("steps/s{i}.en.md")), "# Step\n\nStart it.\n").unwrap();
    }
    std::fs::write(dir.path().join("lab.toml"), manifest).unwrap();
    let lab = Arc::new(load_lab(dir.path()).unwrap());

    let mut ids = Vec::new();
    for name in &names {
        let mut spec = RunSpec::new(IMAGE);
        spec.name = Some(name.clone());
        spec.command = vec!["sleep".into(), "600".into()];
        ids.push(engine.create_container(&spec).await.unwrap());
    }

    // The baseline: when each container's `start` event arrives on a plain subscription.
    let arrivals: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let raw_arrivals = arrivals.clone();
    let mut raw = engine.events(&EventFilter { resources: vec!["container".into()], ..Default::default() });
    let raw_task = tokio::spawn(async move {
        while let Some(Ok(item)) = raw.next().await {
            if let EngineEvent::Event { event, .. } = item
                && event.action == "start"
                && let Some(name) = event.name
            {
                raw_arrivals.lock().unwrap().insert(name, Instant::now());
            }
        }
    });

    let progress = session::start(&engine, &lab, None, &dir.path().join("work"), PortChoice::AnyFree).await.unwrap();
    let ctx = session::context(&progress, engine.endpoint());
    let mut stream = watch(engine.clone(), lab.clone(), progress, ctx, None);
    let (mut event_after_call, mut tick_after_event, mut tick_after_call) = (Vec::new(), Vec::new(), Vec::new());
    for (i, name) in names.iter().enumerate() {
        while let Some(event) = stream.next().await {
            if matches!(event.unwrap(), LabEvent::StepEvaluated { step } if step == i) {
                break;
            }
        }
        let called = Instant::now();
        engine.start_container(name).await.unwrap();
        let ticked = loop {
            match stream.next().await.expect("checker events").unwrap() {
                LabEvent::Check { step, result, .. } if step == i && result.status == CheckStatus::Pass => {
                    break Instant::now();
                }
                _ => {}
            }
        };
        let arrived = loop {
            if let Some(t) = arrivals.lock().unwrap().get(name).copied() {
                break t;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        event_after_call.push(arrived - called);
        tick_after_event.push(ticked.saturating_duration_since(arrived));
        tick_after_call.push(ticked - called);
    }
    raw_task.abort();
    for id in &ids {
        let _ = engine.remove_container(id, RemoveOptions { force: true, volumes: true }).await;
    }

    println!();
    println!("| delay | median (ms) | p95 (ms) |");
    println!("| --- | ---: | ---: |");
    for (what, values) in [
        ("raw `start` event after the API call (baseline)", &event_after_call),
        ("checker tick after the raw event", &tick_after_event),
        ("checker tick after the API call", &tick_after_call),
    ] {
        println!("| {what} | {} | {} |", ms(percentile(values.clone(), 0.5)), ms(percentile(values.clone(), 0.95)));
    }
    let ratio = percentile(tick_after_call.clone(), 0.5).as_secs_f64()
        / percentile(event_after_call.clone(), 0.5).as_secs_f64().max(1e-9);
    println!("\nratio tick / raw event (medians, from the API call): {ratio:.3}");
}

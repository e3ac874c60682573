//! Topology update delay: how long after a container starts the live picture shows it, against
//! the baseline of the engine's own event for the same start, measured in the same run on the
//! same engine (`DOCKER_HOST`; `./scripts/bench topology` starts a private one).
//!
//! With 50 containers already running (the size the view must stay readable at), each
//! iteration starts one more container and measures, from the start request: when the raw event
//! stream delivers its `start` event (baseline), and when `watch_topology` delivers a picture in
//! which it runs. The medians and 95th percentiles are printed, with the ratio picture / event
//! and the delay the picture adds after the event. `GANTRY_BENCH_QUICK=1`: 10 containers,
//! 5 iterations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use gantry_engine::{Engine, EngineEvent, EventFilter, RemoveOptions, RunSpec};
use gantry_insight::topology::{NodeKind, watch_topology};

const IMAGE: &str = "gantry-test/busybox:latest";
const LABEL: &str = "gantry.bench";

fn percentile(values: &[Duration], p: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn spec(name: &str) -> RunSpec {
    let mut spec = RunSpec::new(IMAGE);
    spec.name = Some(name.to_string());
    spec.command = vec!["sleep".into(), "600".into()];
    spec.labels = vec![(LABEL.into(), "topology".into())];
    spec
}

#[tokio::main]
async fn main() {
    let quick = std::env::var("GANTRY_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (background, iterations) = if quick { (10, 5) } else { (50, 30) };
    assert!(std::env::var_os("DOCKER_HOST").is_some(), "DOCKER_HOST is not set: run through ./scripts/bench topology");
    let engine = Engine::from_env().await.expect("engine at DOCKER_HOST");
    engine.inspect_image(IMAGE).await.expect("the fixture image");
    let prefix = format!("bench-topology-{}", std::process::id());
    let mut created = Vec::new();
    for i in 0..background {
        created.push(engine.run_container(&spec(&format!("{prefix}-bg{i}"))).await.unwrap());
    }

    let filter = EventFilter { resources: vec!["container".into()], ..EventFilter::default() };
    let mut raw = engine.events(&filter);
    let mut picture = watch_topology(&engine);
    let first = picture.next().await.unwrap().unwrap();
    let shown = first.topology.nodes.iter().filter(|n| n.kind == NodeKind::Container).count();
    println!(
        "topology benchmark{}: {background} running containers ({shown} in the first picture), {iterations} starts, {} cores",
        if quick { " (quick)" } else { "" },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let (mut event_delays, mut picture_delays, mut added) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..iterations {
        let name = format!("{prefix}-{i}");
        let started = Instant::now();
        let id = engine.run_container(&spec(&name)).await.unwrap();
        created.push(id.clone());
        let event_at = loop {
            match raw.next().await.unwrap().unwrap() {
                EngineEvent::Event { event, .. } if event.id == id && event.action == "start" => {
                    break started.elapsed();
                }
                _ => {}
            }
        };
        let node = format!("container:{id}");
        let picture_at = loop {
            let update = picture.next().await.unwrap().unwrap();
            let running = update
                .topology
                .nodes
                .iter()
                .any(|n| n.id == node && n.state == Some(gantry_engine::ContainerState::Running));
            if running {
                break started.elapsed();
            }
        };
        event_delays.push(event_at);
        picture_delays.push(picture_at);
        added.push(picture_at.saturating_sub(event_at));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    println!("| measure (from the start request) | median (ms) | p95 (ms) |");
    println!("|---|---|---|");
    println!(
        "| engine `start` event (baseline) | {:.1} | {:.1} |",
        ms(percentile(&event_delays, 0.5)),
        ms(percentile(&event_delays, 0.95))
    );
    println!(
        "| picture shows it running | {:.1} | {:.1} |",
        ms(percentile(&picture_delays, 0.5)),
        ms(percentile(&picture_delays, 0.95))
    );
    println!(
        "| added by the picture after the event | {:.1} | {:.1} |",
        ms(percentile(&added, 0.5)),
        ms(percentile(&added, 0.95))
    );
    println!(
        "ratio picture / event (medians): {:.2}",
        percentile(&picture_delays, 0.5).as_secs_f64() / percentile(&event_delays, 0.5).as_secs_f64()
    );
    drop(picture);
    for id in created {
        engine.remove_container(&id, RemoveOptions { force: true, volumes: true }).await.unwrap();
    }
}

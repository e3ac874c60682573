//! Room-view delay: how long after a participant's step passes the trainer's grid has it, with 40
//! simulated participants on loopback, against the baseline of a plain round trip on the same
//! kind of connection, measured in the same run.
//!
//! The room server runs in this process over real TLS. 40 participants join (each with its own
//! kept TLS connection, as a participant's Gantry does); the trainer follows the grid's event
//! stream. Each round, every participant reports a step at once (the burst a room makes when
//! the trainer says "go"): the delay is from just before the report is sent to the trainer's
//! stream delivering that participant's update. The baseline: every participant sends a plain
//! request (`/api/ping`) in the same kind of burst and waits for the answer. Medians and 95th
//! percentiles are printed with the ratio. `GANTRY_BENCH_QUICK=1`: 3 rounds instead of 20.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use gantry_testkit::bench::{ms, percentile};
use gantry_workshop::labs::LabOutline;
use gantry_workshop::room::code::JoinCode;
use gantry_workshop::room::participant::RoomClient;
use gantry_workshop::room::server::{RoomServer, ServerState};
use gantry_workshop::room::state::{Progress, Room, StepStatus};
use gantry_workshop::room::tls::RoomCert;

const PARTICIPANTS: usize = 40;

#[tokio::main]
async fn main() {
    let quick = std::env::var("GANTRY_BENCH_QUICK").is_ok_and(|v| v == "1");
    let rounds = if quick { 3 } else { 20 };
    let dir = tempfile::tempdir().unwrap();
    let cert = RoomCert::load_or_create(dir.path(), &["127.0.0.1".parse().unwrap()]).unwrap();
    let steps: Vec<String> = (0..rounds).map(|i| format!("s{i}")).collect();
    let lab = LabOutline { id: "lab".into(), title: "Lab".into(), steps: steps.clone(), ..Default::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let code = JoinCode::new(listener.local_addr().unwrap(), &cert.digest(), [3; 8]);
    let state = Arc::new(ServerState {
        room: Arc::new(Room::new("bench", vec![lab])),
        secret: code.secret_text(),
        trainer_token: "bench-trainer".into(),
        registry: None,
    });
    let server = RoomServer::start(listener, cert.server_config().unwrap(), state).unwrap();

    let mut clients = Vec::new();
    for i in 0..PARTICIPANTS {
        let mut client = RoomClient::new(&code).unwrap();
        let id = client.join(&format!("participant {i}")).await.unwrap().id;
        client.ping().await.unwrap();
        clients.push((id, Arc::new(client)));
    }
    let arrivals: Arc<Mutex<HashMap<(u64, String), Instant>>> = Arc::default();
    let trainer = RoomClient::new(&code).unwrap();
    let mut grid = Box::pin(trainer.events("/api/room/events", "bench-trainer").await.unwrap());
    let seen = arrivals.clone();
    let notify = Arc::new(tokio::sync::Notify::new());
    let wake = notify.clone();
    tokio::spawn(async move {
        while let Some((event, data)) = grid.next().await {
            if event != "update" {
                continue;
            }
            let at = Instant::now();
            let update: serde_json::Value = serde_json::from_str(&data).unwrap();
            if update["kind"] == "progress" {
                let key = (update["participant"].as_u64().unwrap(), update["step"].as_str().unwrap().to_string());
                seen.lock().unwrap().insert(key, at);
                wake.notify_one();
            }
        }
    });
    println!(
        "room benchmark{}: {PARTICIPANTS} participants over TLS on loopback, {rounds} rounds, {} cores",
        if quick { " (quick)" } else { "" },
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let mut baseline = Vec::new();
    let mut delays = Vec::new();
    for step in &steps {
        // Baseline burst: every participant's plain round trip.
        let tasks: Vec<_> = clients
            .iter()
            .map(|(_, client)| {
                let client = client.clone();
                tokio::spawn(async move {
                    let start = Instant::now();
                    client.ping().await.unwrap();
                    start.elapsed()
                })
            })
            .collect();
        for task in tasks {
            baseline.push(task.await.unwrap());
        }
        // Report burst: every participant passes the step at once.
        let tasks: Vec<_> = clients
            .iter()
            .map(|(id, client)| {
                let (client, id, step) = (client.clone(), *id, step.clone());
                tokio::spawn(async move {
                    let start = Instant::now();
                    let progress = Progress { lab: "lab".into(), step: step.clone(), status: StepStatus::Passed };
                    client.report(&progress).await.unwrap();
                    (id, step, start)
                })
            })
            .collect();
        let mut sent = Vec::new();
        for task in tasks {
            sent.push(task.await.unwrap());
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let all = {
                let seen = arrivals.lock().unwrap();
                sent.iter().all(|(id, step, _)| seen.contains_key(&(*id, step.clone())))
            };
            if all {
                break;
            }
            assert!(Instant::now() < deadline, "the trainer's stream missed updates");
            let _ = tokio::time::timeout(Duration::from_millis(100), notify.notified()).await;
        }
        let seen = arrivals.lock().unwrap();
        for (id, step, start) in sent {
            delays.push(seen[&(id, step)].duration_since(start));
        }
    }
    server.stop().await;

    let (b50, b95, d50, d95) =
        (percentile(&baseline, 0.5), percentile(&baseline, 0.95), percentile(&delays, 0.5), percentile(&delays, 0.95));
    println!("| measure (burst of {PARTICIPANTS}) | median (ms) | p95 (ms) |");
    println!("| --- | ---: | ---: |");
    println!("| plain round trip `/api/ping` (baseline) | {:.2} | {:.2} |", ms(b50), ms(b95));
    println!("| step passed → trainer's stream has it | {:.2} | {:.2} |", ms(d50), ms(d95));
    println!(
        "ratio delay / round trip (medians): {:.2} ({} reports, {} round trips)",
        ms(d50) / ms(b50),
        delays.len(),
        baseline.len()
    );
}

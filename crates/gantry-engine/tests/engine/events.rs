//! Events: start and die are reported; the stream survives the engine going away.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use gantry_engine::{Endpoint, Engine, EngineEvent, EngineStream, EventFilter};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

use crate::common::{next_within, setup, within};

/// Waits for the next container event with `action`, skipping others.
async fn wait_action(stream: &mut EngineStream<EngineEvent>, action: &str) -> gantry_engine::Event {
    loop {
        match next_within(30, stream).await.expect("stream open").unwrap() {
            EngineEvent::Event { event, .. } if event.action == action => return event,
            _ => {}
        }
    }
}

#[tokio::test]
async fn start_and_die_are_reported() {
    let t = setup("events").await;
    let spec = t.sh("ev", "exit 3");
    let name = spec.name.clone().unwrap();
    let filter = EventFilter { resources: vec!["container".into()], container: None, since: None };
    let mut stream = t.engine.events(&filter);
    // The subscription is live once the engine has answered; give it a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = t.run(&spec).await;
    let start = within(30, async {
        loop {
            let e = wait_action(&mut stream, "start").await;
            if e.id == id {
                return e;
            }
        }
    })
    .await;
    assert_eq!(start.name.as_deref(), Some(name.as_str()));
    assert_eq!(start.resource, "container");
    let die = within(30, async {
        loop {
            let e = wait_action(&mut stream, "die").await;
            if e.id == id {
                return e;
            }
        }
    })
    .await;
    assert_eq!(die.attributes.get("exitCode").map(String::as_str), Some("3"));
}

/// A unix-socket proxy to the real engine socket that can be stopped and started again, to make
/// the engine "go away" for a client without touching the engine.
struct Proxy {
    path: PathBuf,
    upstream: PathBuf,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    fn new(dir: &Path) -> Self {
        let upstream = match Endpoint::from_env().unwrap() {
            Endpoint::Unix(p) => p,
            other => panic!("the reconnect test needs a unix-socket engine, not {other}"),
        };
        Self { path: dir.join("proxy.sock"), upstream, tasks: Default::default() }
    }

    fn start(&self) {
        let _ = std::fs::remove_file(&self.path);
        let listener = UnixListener::bind(&self.path).unwrap();
        let upstream = self.upstream.clone();
        let tasks = self.tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(mut server) = UnixStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(conn);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Closes the listener and every proxied connection, and removes the socket.
    fn stop(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reconnect_after_the_engine_goes_away_and_comes_back() {
    let t = setup("events-reconnect").await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::new(dir.path());
    proxy.start();
    let via_proxy = Engine::connect(&Endpoint::Unix(dir.path().join("proxy.sock"))).await.unwrap();
    let mut stream = via_proxy.events(&EventFilter { resources: vec!["container".into()], ..Default::default() });
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Before: events arrive through the proxy.
    let first = t.run(&t.sh("before", "true")).await;
    within(30, async { while wait_action(&mut stream, "start").await.id != first {} }).await;

    // The engine goes away: the stream says so (and keeps retrying).
    proxy.stop();
    let disconnected = within(30, async {
        loop {
            if let EngineEvent::Disconnected { reason, attempt, .. } =
                next_within(30, &mut stream).await.unwrap().unwrap()
            {
                return (reason, attempt);
            }
        }
    })
    .await;
    assert_eq!(disconnected.1, 1, "{disconnected:?}");

    // Meanwhile a container starts: the engine is fine, only our link is down.
    let missed = t.run(&t.sh("missed", "true")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // The engine comes back: the stream reconnects and replays what it missed.
    proxy.start();
    let mut reconnected = false;
    let mut saw_missed = false;
    within(60, async {
        while !(reconnected && saw_missed) {
            match next_within(60, &mut stream).await.unwrap().unwrap() {
                EngineEvent::Reconnected { .. } => reconnected = true,
                EngineEvent::Event { event, .. } if event.id == missed && event.action == "start" => {
                    assert!(reconnected, "events after the gap come after Reconnected");
                    saw_missed = true;
                }
                _ => {}
            }
        }
    })
    .await;

    // And new events keep coming.
    let after = t.run(&t.sh("after", "true")).await;
    within(30, async { while wait_action(&mut stream, "start").await.id != after {} }).await;
    drop(stream);
    proxy.stop();
}

/// Many clients at once: the engine stamps each event before it queues it, so events can arrive
/// slightly out of time order; every one of them still comes through (a lab's `event_seen` check
/// waited in vain for an `image push` logged while other labs were at work).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_logged_at_once_all_arrive() {
    const CONTAINERS: usize = 40;
    let t = setup("events-at-once").await;
    let mut stream = t.engine.events(&EventFilter { resources: vec!["container".into()], ..Default::default() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let creates = (0..CONTAINERS).map(|i| {
        let engine = t.engine.clone();
        let spec = t.sh(&format!("c{i}"), "true");
        tokio::spawn(async move { engine.create_container(&spec).await })
    });
    let mut missing = std::collections::BTreeSet::new();
    for created in futures_util::future::join_all(creates).await {
        let id = created.expect("task").expect("container create");
        t.track_container(&id);
        missing.insert(id);
    }
    let mut out_of_order = 0;
    let mut newest = 0i64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !missing.is_empty() {
        let item = tokio::time::timeout_at(deadline, stream.next()).await;
        let Ok(Some(item)) = item else {
            panic!("{} of {CONTAINERS} `container create` events never came: {missing:?}", missing.len());
        };
        if let EngineEvent::Event { event, .. } = item.unwrap()
            && event.action == "create"
            && missing.remove(&event.id)
        {
            out_of_order += usize::from(event.time_nano < newest);
            newest = newest.max(event.time_nano);
        }
    }
    eprintln!("{CONTAINERS} container create events arrived, {out_of_order} of them out of time order");
}

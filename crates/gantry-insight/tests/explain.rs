//! "What just happened" with real events from the engine at DOCKER_HOST (./scripts/test starts a
//! private one): a command that does not exist (127), one that cannot run (126), an out-of-memory
//! kill under a small memory limit, a failing health check, a container that ignores SIGTERM
//! (137 after docker stop), a host port already taken.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::StreamExt;
use gantry_engine::{BuildEvent, BuildSpec, Engine, EngineStream, EventFilter, PortSpec, RemoveOptions, RunSpec};
use gantry_insight::Lang;
use gantry_insight::explain::{ExplainedEvent, Explanation, Situation, explained_events};

const BASE: &str = "gantry-test/busybox:latest";
/// Only keeps a broken test from hanging; not a performance claim.
const BOUND: Duration = Duration::from_secs(60);

async fn engine() -> Engine {
    assert!(std::env::var_os("DOCKER_HOST").is_some(), "DOCKER_HOST is not set: run through ./scripts/test");
    let engine = Engine::from_env().await.expect("engine at DOCKER_HOST");
    engine.inspect_image(BASE).await.expect("the fixture image (./scripts/test imports it)");
    engine
}

fn name(what: &str) -> String {
    format!("insight-explain-{what}-{}", std::process::id())
}

/// The explained events about one container. Container and network events are watched (a
/// failed start shows only as a network disconnect), so tests sharing the engine each keep the
/// explanations that name their container.
struct Watch {
    stream: EngineStream<ExplainedEvent>,
    container: String,
}

fn watch(engine: &Engine, container: &str, lang: Lang) -> Watch {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 - 1;
    let filter =
        EventFilter { resources: vec!["container".into(), "network".into()], container: None, since: Some(since) };
    Watch { stream: explained_events(engine, &filter, lang), container: container.to_string() }
}

/// Waits for an explanation of `situation`; returns it and everything seen before.
async fn wait_for(watch: &mut Watch, situation: Situation) -> (Explanation, Vec<Explanation>) {
    let mut seen = Vec::new();
    let (stream, container) = (&mut watch.stream, watch.container.clone());
    let found = tokio::time::timeout(BOUND, async {
        while let Some(item) = stream.next().await {
            if let ExplainedEvent::Event { explanation, .. } = item.unwrap() {
                if !explanation.headline.contains(&container) {
                    continue;
                }
                if explanation.situation == situation {
                    return Some(explanation);
                }
                seen.push(explanation);
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    let situations: Vec<Situation> = seen.iter().map(|e| e.situation).collect();
    (found.unwrap_or_else(|| panic!("no {situation:?} explanation; saw {situations:?}")), seen)
}

async fn remove(engine: &Engine, container: &str) {
    let _ = engine.remove_container(container, RemoveOptions { force: true, volumes: true }).await;
}

fn spec(container: &str, command: &[&str]) -> RunSpec {
    let mut spec = RunSpec::new(BASE);
    spec.name = Some(container.into());
    spec.command = command.iter().map(|s| s.to_string()).collect();
    spec
}

#[tokio::test]
async fn command_not_found_and_not_runnable() {
    let engine = engine().await;
    for (what, command, situation, code) in [
        ("127", vec!["sh", "-c", "no-such-command-here"], Situation::CommandNotFound, 127),
        ("126", vec!["sh", "-c", "/etc/passwd"], Situation::CommandNotExecutable, 126),
    ] {
        let container = name(what);
        let mut events = watch(&engine, &container, Lang::En);
        engine.run_container(&spec(&container, &command)).await.unwrap();
        let (explanation, _) = wait_for(&mut events, situation).await;
        assert_eq!(explanation.exit_code, Some(code));
        assert!(explanation.headline.contains(&container), "{explanation:?}");
        assert!(explanation.lab.is_some());
        remove(&engine, &container).await;
    }
    // The exec form of a missing program fails at start: the engine's error comes along.
    let container = name("127-exec");
    let mut events = watch(&engine, &container, Lang::Ru);
    let id = engine.create_container(&spec(&container, &["/no/such/program"])).await.unwrap();
    assert!(engine.start_container(&id).await.is_err(), "the start fails");
    let (explanation, _) = wait_for(&mut events, Situation::CommandNotFound).await;
    assert!(explanation.detail.as_deref().is_some_and(|d| d.contains("/no/such/program")), "{explanation:?}");
    assert!(explanation.headline.contains("команда не найдена"), "{}", explanation.headline);
    remove(&engine, &container).await;
}

#[tokio::test]
async fn out_of_memory_is_said() {
    let engine = engine().await;
    let container = name("oom");
    let mut events = watch(&engine, &container, Lang::En);
    let mut run = spec(&container, &["sh", "-c", "a=0123456789; while true; do a=\"$a$a\"; done"]);
    run.memory_bytes = Some(8 << 20);
    engine.run_container(&run).await.unwrap();
    let (explanation, _) = wait_for(&mut events, Situation::OutOfMemory).await;
    assert!(explanation.meaning.contains("8 MiB"), "{explanation:?}");
    // The `die` that follows the `oom` report says it too.
    let (died, _) = wait_for(&mut events, Situation::OutOfMemory).await;
    assert_eq!(died.exit_code, Some(137), "{died:?}");
    remove(&engine, &container).await;
}

#[tokio::test]
async fn failing_health_check_turns_unhealthy() {
    let engine = engine().await;
    let tag = format!("gantry-test/insight-unhealthy:{}", std::process::id());
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM gantry-test/busybox:latest\nHEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD echo \"probe: nobody answers on 8080\" && false\n",
    )
    .unwrap();
    let build = BuildSpec { context: context.path().into(), tag: Some(tag.clone()), ..BuildSpec::default() };
    let mut output = engine.build_image(&build);
    while let Some(event) = output.next().await {
        let _: BuildEvent = event.unwrap();
    }
    let container = name("unhealthy");
    let mut events = watch(&engine, &container, Lang::En);
    let mut run = spec(&container, &["sleep", "60"]);
    run.image = tag.clone();
    engine.run_container(&run).await.unwrap();
    let (explanation, _) = wait_for(&mut events, Situation::Unhealthy).await;
    assert!(explanation.detail.as_deref().is_some_and(|d| d.contains("nobody answers")), "{explanation:?}");
    assert!(explanation.meaning.contains("2 times"), "{}", explanation.meaning);
    remove(&engine, &container).await;
    engine.remove_image(&tag, true).await.unwrap();
}

#[tokio::test]
async fn ignoring_sigterm_means_killed_after_the_stop_timeout() {
    let engine = engine().await;
    let container = name("stop");
    let mut events = watch(&engine, &container, Lang::En);
    engine.run_container(&spec(&container, &["sh", "-c", "trap '' TERM; while true; do sleep 1; done"])).await.unwrap();
    let _ = wait_for(&mut events, Situation::ContainerStarted).await;
    engine.stop_container(&container, Some(1)).await.unwrap();
    let (explanation, seen) = wait_for(&mut events, Situation::StopTimeoutKilled).await;
    assert_eq!(explanation.exit_code, Some(137));
    assert!(seen.iter().any(|e| e.situation == Situation::SignalSent && e.headline.contains("SIGTERM")), "{seen:?}");
    remove(&engine, &container).await;
}

#[tokio::test]
async fn a_taken_host_port_is_said() {
    let engine = engine().await;
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let container = name("port");
    let mut events = watch(&engine, &container, Lang::En);
    let mut run = spec(&container, &["sleep", "60"]);
    run.ports = vec![PortSpec { host_ip: None, host_port: Some(port), container_port: 80, protocol: "tcp".into() }];
    let id = engine.create_container(&run).await.unwrap();
    assert!(engine.start_container(&id).await.is_err(), "the port is taken");
    let (explanation, _) = wait_for(&mut events, Situation::PortNotPublished).await;
    assert!(explanation.headline.contains(&port.to_string()), "{explanation:?}");
    assert_eq!(explanation.lab.as_deref(), Some("publishing-ports"));
    drop(listener);
    remove(&engine, &container).await;
}

//! Swarm through Gantry's engine API, on real parts (scripts/lib/swarm.sh starts them): two
//! dockerd in their own network namespaces, a manager and a worker, joined by a veth pair. A
//! stack is deployed from a compose file, its service spreads over both nodes, is scaled, rolled
//! to a second image (followed as a stream), read as logs across its tasks, and removed.
//! Skipped (and counted) when the swarm is not running.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use gantry_engine::rollout::RolloutProgress;
use gantry_engine::stacks::plan_stack;
use gantry_engine::{Endpoint, Engine, EngineError, LogOptions, SwarmInit, SwarmRole};

const IMAGE: &str = "gantry-test/busybox:latest";
/// Bounds that only keep a broken test from hanging.
const BOUND: Duration = Duration::from_secs(120);

struct Swarm {
    manager: Engine,
    worker: Engine,
    image_v2: String,
}

async fn swarm(test: &str) -> Option<Swarm> {
    let vars = (
        std::env::var("GANTRY_TEST_SWARM_MANAGER"),
        std::env::var("GANTRY_TEST_SWARM_WORKER"),
        std::env::var("GANTRY_TEST_SWARM_IMAGE_V2"),
    );
    let (Ok(manager), Ok(worker), Ok(image_v2)) = vars else {
        gantry_testkit::skip::skipped(test, "no swarm (scripts/test starts one: scripts/lib/swarm.sh)");
        return None;
    };
    let connect = |e: String| async move { Engine::connect(&Endpoint::parse(&e).unwrap()).await.unwrap() };
    Some(Swarm { manager: connect(manager).await, worker: connect(worker).await, image_v2 })
}

/// Follows a rollout to its end; every reading.
async fn follow(engine: &Engine, service: &str) -> Vec<RolloutProgress> {
    let mut stream = engine.watch_rollout(service);
    let mut readings = Vec::new();
    let ended = tokio::time::timeout(BOUND, async {
        while let Some(reading) = stream.next().await {
            let reading = reading.expect("rollout reading");
            let done = reading.done;
            readings.push(reading);
            if done {
                return;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "{service}: not converged within {BOUND:?}; last: {:?}", readings.last());
    readings
}

#[tokio::test]
async fn swarm_state_nodes_and_refusals() {
    let Some(s) = swarm("swarm_state_nodes_and_refusals").await else { return };
    let manager = s.manager.swarm_status().await.unwrap();
    assert!(manager.active() && manager.manager, "{manager:?}");
    assert_eq!(manager.nodes, 2);
    let worker = s.worker.swarm_status().await.unwrap();
    assert!(worker.active() && !worker.manager, "{worker:?}");

    let nodes = s.manager.list_nodes().await.unwrap();
    let seen: Vec<_> =
        nodes.iter().map(|n| (n.hostname.as_str(), n.role.as_str(), n.state.as_str(), n.is_self)).collect();
    assert_eq!(
        seen,
        [("gantry-swarm-manager", "manager", "ready", true), ("gantry-swarm-worker", "worker", "ready", false)]
    );
    assert_eq!(nodes[0].manager_status.as_deref(), Some("leader"));

    // a worker cannot manage, and an engine already in a swarm is not made a new one
    let e = s.worker.list_services().await.unwrap_err();
    assert_eq!(e.code(), gantry_engine::EngineErrorCode::NotSwarmManager, "{e}");
    let e = s.manager.swarm_init(&SwarmInit::default()).await.unwrap_err();
    assert!(matches!(e, EngineError::Conflict { .. }), "{e}");
    assert!(s.manager.swarm_join_token(SwarmRole::Worker).await.unwrap().starts_with("SWMTKN-"));
    let e = s.worker.swarm_join("10.0.0.1:2377", "not-a-token", None, None).await.unwrap_err();
    assert!(matches!(e, EngineError::InvalidRequest { .. }), "{e}");
}

#[tokio::test]
async fn a_stack_spreads_scales_rolls_to_a_new_image_logs_and_goes() {
    let Some(s) = swarm("a_stack_spreads_scales_rolls_to_a_new_image_logs_and_goes").await else { return };
    let stack = format!("gt{}", std::process::id());
    let compose = format!(
        r#"
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; echo started on $$(hostname); sleep 1000 & wait"]
    stop_grace_period: 1s
    deploy:
      replicas: 2
      update_config: {{parallelism: 2, delay: 0s, monitor: 500ms, order: stop-first}}
      placement:
        preferences: [{{spread: node.id}}]
"#
    );
    let plan = plan_stack(&stack, &compose, Path::new("/"), &|_| None).unwrap();
    let report = s.manager.deploy_stack(&plan, false).await.unwrap();
    let service = format!("{stack}_web");
    assert_eq!(report.created, std::slice::from_ref(&service));
    assert_eq!(report.networks_created, [format!("{stack}_default")]);

    let readings = follow(&s.manager, &service).await;
    let last = readings.last().unwrap();
    assert_eq!((last.running, last.desired, last.failed.as_deref()), (2, 2, None), "{last:?}");
    let nodes: std::collections::BTreeSet<String> =
        s.manager.service_tasks(&service).await.unwrap().into_iter().filter(|t| t.wanted()).map(|t| t.node).collect();
    assert_eq!(nodes.len(), 2, "the replicas run on both nodes: {nodes:?}");
    let listed = s.manager.list_services().await.unwrap();
    let summary = listed.iter().find(|x| x.name == service).unwrap();
    assert_eq!((summary.running, summary.desired, summary.stack.as_deref()), (2, 2, Some(stack.as_str())));
    assert!(s.manager.list_stacks().await.unwrap().iter().any(|st| st.name == stack && st.services == 1));

    // logs across the tasks: each task's first line, marked with its task and node
    let mut logs = s.manager.service_logs(&service, &LogOptions::default());
    let mut lines = Vec::new();
    let read = tokio::time::timeout(BOUND, async {
        while let Some(line) = logs.next().await {
            lines.push(line.unwrap());
        }
    })
    .await;
    assert!(read.is_ok(), "service logs did not end");
    let started: Vec<_> = lines.iter().filter(|l| l.line.text.starts_with("started on ")).collect();
    assert_eq!(started.len(), 2, "{lines:?}");
    assert!(started.iter().all(|l| l.task.starts_with(&format!("{service}.")) && l.node.starts_with("gantry-swarm-")));

    // scale up, then roll to the second image: the readings show the tasks moving over
    s.manager.scale_service(&service, 4).await.unwrap();
    let last = follow(&s.manager, &service).await.pop().unwrap();
    assert_eq!((last.running, last.desired), (4, 4), "{last:?}");

    s.manager.update_service_image(&service, &s.image_v2).await.unwrap();
    let readings = follow(&s.manager, &service).await;
    let last = readings.last().unwrap();
    assert_eq!((last.updated, last.desired, last.failed.as_deref()), (4, 4, None), "{last:?}");
    assert!(readings.iter().any(|r| r.updated < 4), "the roll was followed as it happened: {readings:?}");
    let tasks = s.manager.service_tasks(&service).await.unwrap();
    assert!(tasks.iter().filter(|t| t.wanted()).all(|t| t.image == s.image_v2), "{tasks:?}");
    assert_eq!(s.manager.service(&service).await.unwrap().image, s.image_v2);

    let e = s.manager.scale_service("no-such-service", 2).await.unwrap_err();
    assert!(matches!(e, EngineError::NotFound { .. }), "{e}");

    let removal = s.manager.remove_stack(&stack).await.unwrap();
    assert_eq!(removal.services, std::slice::from_ref(&service));
    assert_eq!(removal.networks, [format!("{stack}_default")]);
    assert!(s.manager.list_services().await.unwrap().iter().all(|x| x.name != service));
    let e = s.manager.remove_stack(&stack).await.unwrap_err();
    assert!(matches!(e, EngineError::NotFound { .. }), "{e}");
}

/// A stack's secret (from a file) and config (inline) reach its task as files; the same file
/// deploys again, changed contents are refused (they cannot change), removing the stack removes
/// them; an external secret made beforehand through the API is used and left alone.
#[tokio::test]
async fn stack_secrets_and_configs_reach_the_tasks_and_go_with_the_stack() {
    use gantry_engine::SwarmObjectKind::{Config, Secret};
    let Some(s) = swarm("stack_secrets_and_configs_reach_the_tasks_and_go_with_the_stack").await else { return };
    let stack = format!("gtsec{}", std::process::id());
    let external = format!("{stack}-shared");
    let labels = std::collections::BTreeMap::new();
    s.manager.create_swarm_object(Secret, &external, b"shared-value", &labels).await.unwrap();
    let e = s.manager.create_swarm_object(Secret, &external, b"again", &labels).await.unwrap_err();
    assert!(matches!(e, EngineError::Conflict { .. } | EngineError::NameInUse { .. }), "a name in use: {e}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("password.txt"), "pw-1").unwrap();
    let compose = format!(
        r#"
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "cat /run/secrets/password /run/secrets/shared /etc/app.conf; echo; sleep 1000"]
    stop_grace_period: 1s
    secrets: [password, {{source: shared, target: shared, mode: 0400}}]
    configs: [{{source: conf, target: /etc/app.conf}}]
secrets:
  password: {{file: ./password.txt}}
  shared: {{external: true, name: {external}}}
configs:
  conf: {{content: "+conf-1"}}
"#
    );
    let plan = plan_stack(&stack, &compose, dir.path(), &|_| None).unwrap();
    let report = s.manager.deploy_stack(&plan, false).await.unwrap();
    assert_eq!(report.secrets_created, [format!("{stack}_password")]);
    assert_eq!(report.configs_created, [format!("{stack}_conf")]);
    let service = format!("{stack}_app");
    let last = follow(&s.manager, &service).await.pop().unwrap();
    assert_eq!((last.running, last.failed.as_deref()), (1, None), "{last:?}");
    let text = tokio::time::timeout(BOUND, async {
        loop {
            let mut logs = s.manager.service_logs(&service, &LogOptions::default());
            let mut text = String::new();
            while let Some(line) = logs.next().await {
                text.push_str(&line.unwrap().line.text);
            }
            if !text.is_empty() {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the task printed its files");
    assert_eq!(text.trim(), "pw-1shared-value+conf-1");

    let listed = s.manager.list_swarm_objects(Secret).await.unwrap();
    let own = listed.iter().find(|o| o.name == format!("{stack}_password")).unwrap();
    assert_eq!(own.stack.as_deref(), Some(stack.as_str()));

    // the same file again is fine; other contents for the same name are refused
    s.manager.deploy_stack(&plan, false).await.unwrap();
    std::fs::write(dir.path().join("password.txt"), "pw-2").unwrap();
    let changed = plan_stack(&stack, &compose, dir.path(), &|_| None).unwrap();
    let e = s.manager.deploy_stack(&changed, false).await.unwrap_err();
    assert!(e.to_string().contains("cannot change"), "{e}");

    let removal = s.manager.remove_stack(&stack).await.unwrap();
    assert_eq!(removal.secrets, [format!("{stack}_password")]);
    assert_eq!(removal.configs, [format!("{stack}_conf")]);
    assert!(s.manager.find_swarm_object(Config, &format!("{stack}_conf")).await.unwrap().is_none());
    assert!(s.manager.find_swarm_object(Secret, &external).await.unwrap().is_some(), "the external one stays");
    s.manager.remove_swarm_object(Secret, &external).await.unwrap();
    let e = s.manager.remove_swarm_object(Secret, &external).await.unwrap_err();
    assert!(matches!(e, EngineError::NotFound { .. }), "{e}");
}

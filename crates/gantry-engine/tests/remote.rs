//! Engines on "other machines", on real parts (scripts/lib/remote.sh starts them): a private
//! dockerd behind an OpenSSH server on loopback (reached through the system's `ssh`, a Host alias
//! of an ssh_config, a key held only by an ssh-agent, and known_hosts), and the same dockerd with
//! `--tlsverify` on 127.0.0.1. Skipped (and counted) when those are not running.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use gantry_engine::{
    ContainerFilter, ContextStore, Endpoint, Engine, EngineError, EngineEvent, EventFilter, Health, LogOptions,
    NewContext, RemoveOptions, RunSpec, Transport,
};

const IMAGE: &str = "gantry-test/busybox:latest";
/// Bounds that only keep a broken test from hanging.
const BOUND: Duration = Duration::from_secs(60);

/// The test that drops connections and restarts the engine takes this exclusively; the others
/// share it.
static DISRUPTION: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

struct Remote {
    dir: PathBuf,
    ssh_host: String,
    tls_address: String,
}

/// The remote engines, or `None` after saying why the test is skipped.
fn remote(test: &str) -> Option<Remote> {
    let vars = (
        std::env::var("GANTRY_TEST_REMOTE_DIR"),
        std::env::var("GANTRY_TEST_SSH_HOST"),
        std::env::var("GANTRY_TEST_TLS_ADDRESS"),
    );
    match vars {
        (Ok(dir), Ok(ssh_host), Ok(tls_address)) => Some(Remote { dir: dir.into(), ssh_host, tls_address }),
        _ => {
            gantry_testkit::skip::skipped(test, "no remote engines (scripts/test starts them: scripts/lib/remote.sh)");
            None
        }
    }
}

impl Remote {
    fn ssh_endpoint(&self) -> Endpoint {
        Endpoint::parse(&format!("ssh://{}", self.ssh_host)).unwrap()
    }

    fn tls_files(&self) -> PathBuf {
        self.dir.join("tls")
    }

    /// Runs a function of scripts/lib (dockerd.sh, remote.sh) on this remote's engine directory.
    fn script(&self, function: &str) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let status = std::process::Command::new("bash")
            .arg("-c")
            .arg("source scripts/lib/dockerd.sh && \"$1\" \"$2\"")
            .arg("gantry-test")
            .arg(function)
            .arg(self.dir.join("engine"))
            .current_dir(root)
            .status()
            .unwrap();
        assert!(status.success(), "{function} failed");
    }

    /// The test server's SSH connections (the listener's children), by pid.
    fn ssh_sessions(&self) -> Vec<String> {
        let listener = std::fs::read_to_string(self.dir.join("sshd.pid")).unwrap().trim().to_string();
        let mut sessions = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            // pid (comm) state ppid ...
            let ppid = stat.rsplit_once(") ").and_then(|(_, rest)| rest.split_whitespace().nth(1));
            if ppid == Some(listener.as_str()) {
                sessions.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        sessions
    }

    /// Ends every SSH session the test server holds (the client side sees its connections drop).
    fn kill_ssh_sessions(&self) -> usize {
        let kill = |pid: &String| std::process::Command::new("kill").arg("-KILL").arg(pid).status();
        self.ssh_sessions().iter().filter(|pid| kill(pid).is_ok_and(|s| s.success())).count()
    }
}

async fn next<T>(stream: &mut gantry_engine::EngineStream<T>, what: &str) -> T {
    match tokio::time::timeout(BOUND, stream.next()).await {
        Ok(Some(Ok(item))) => item,
        Ok(Some(Err(e))) => panic!("{what}: {e}"),
        Ok(None) => panic!("{what}: the stream ended"),
        Err(_) => panic!("{what}: nothing within {BOUND:?}"),
    }
}

#[tokio::test]
async fn ssh_engine_runs_lists_and_streams_logs_through_the_system_ssh() {
    let Some(r) = remote("ssh_engine_runs_lists_and_streams_logs_through_the_system_ssh") else { return };
    let _shared = DISRUPTION.read().await;
    let engine = Engine::connect(&r.ssh_endpoint()).await.expect("connect over ssh");
    assert_eq!(engine.endpoint().to_string(), format!("ssh://{}", r.ssh_host));
    let version = engine.version().await.unwrap();
    assert!(!version.version.is_empty());

    let mut spec = RunSpec::new(IMAGE);
    spec.name = Some(format!("gt-ssh-logs-{}", std::process::id()));
    spec.command = vec!["sh".into(), "-c".into(), "for i in 1 2 3; do echo line-$i; done; sleep 300".into()];
    let id = engine.run_container(&spec).await.expect("run over ssh");
    let listed = engine.list_containers(&ContainerFilter::default()).await.unwrap();
    assert!(listed.iter().any(|c| c.id == id), "the new container is listed");

    // a followed log stream: three lines, then it stays open until dropped
    let options = LogOptions { follow: true, ..LogOptions::default() };
    let mut logs = engine.logs(&id, &options);
    let mut lines = Vec::new();
    while lines.len() < 3 {
        lines.push(next(&mut logs, "log line").await.text);
    }
    assert_eq!(lines, ["line-1", "line-2", "line-3"]);
    drop(logs);

    // exec, which upgrades the connection, works through ssh too
    let out = engine.exec_output(&id, &["sh", "-c", "echo hi-from-exec"]).await.unwrap();
    assert_eq!(out.stdout.trim(), "hi-from-exec");
    engine.remove_container(&id, RemoveOptions { force: true, volumes: true }).await.unwrap();
}

#[tokio::test]
async fn ssh_failures_say_what_ssh_said_and_what_to_do() {
    let Some(r) = remote("ssh_failures_say_what_ssh_said_and_what_to_do") else { return };
    let _shared = DISRUPTION.read().await;
    // a user the server does not accept: ssh's own "Permission denied", with advice
    let refused = Endpoint::parse(&format!("ssh://nobody@{}", r.ssh_host)).unwrap();
    let err = Engine::connect(&refused).await.expect_err("refused");
    let EngineError::Unreachable { reason, .. } = &err else { panic!("unreachable expected: {err:?}") };
    assert!(reason.contains("Permission denied") && reason.contains("ssh-add"), "{reason}");
    // an unknown host key: refused by known_hosts, never accepted silently
    let stranger = Endpoint::parse(&format!("ssh://localhost:{}", ssh_port(&r))).unwrap();
    let err = Engine::connect(&stranger).await.expect_err("unknown host key");
    assert!(err.to_string().contains("known_hosts") || err.to_string().contains("Host key"), "{err}");
    // host strings that ssh would read as options never reach it
    assert!(matches!(Endpoint::parse("ssh://-oProxyCommand=touch%20x"), Err(EngineError::InvalidEndpoint { .. })));
}

fn ssh_port(r: &Remote) -> String {
    let config = std::fs::read_to_string(r.dir.join("ssh_config")).unwrap();
    config.lines().find_map(|l| l.trim().strip_prefix("Port ")).unwrap().trim().to_string()
}

#[tokio::test]
async fn tls_context_verifies_the_engine_and_refuses_another_ca() {
    let Some(r) = remote("tls_context_verifies_the_engine_and_refuses_another_ca") else { return };
    let _shared = DISRUPTION.read().await;
    let config = tempfile::tempdir().unwrap();
    let store = ContextStore::new(config.path());
    let tls = r.tls_files();
    let new = |name: &str, ca: &str| NewContext {
        name: name.into(),
        description: "test".into(),
        host: format!("tcp://{}", r.tls_address),
        tls_ca: Some(tls.join(ca)),
        tls_cert: Some(tls.join("cert.pem")),
        tls_key: Some(tls.join("key.pem")),
    };
    let good = store.create(&new("tls-good", "ca.pem")).unwrap();
    assert_eq!((good.transport, good.problem), (Transport::Tls, None));
    let engine = Engine::connect(&store.endpoint("tls-good").unwrap()).await.expect("TLS with the right CA");
    engine.ping().await.unwrap();

    // the same engine, checked against a CA that did not sign its certificate: refused
    store.create(&new("tls-other-ca", "other-ca.pem")).unwrap();
    let err = Engine::connect(&store.endpoint("tls-other-ca").unwrap()).await.expect_err("unknown issuer");
    assert!(err.to_string().to_lowercase().contains("certificate"), "{err}");

    // and plaintext to the TLS port gets no answer an engine would give
    let plain = Endpoint::Tcp { address: r.tls_address.clone(), tls: None };
    assert!(Engine::connect(&plain).await.is_err());

    // the docker CLI sees and uses the same context
    let out = std::process::Command::new("docker")
        .env("DOCKER_CONFIG", config.path())
        .env_remove("DOCKER_HOST")
        .args(["--context", "tls-good", "version", "--format", "{{.Server.APIVersion}}"])
        .output()
        .unwrap();
    assert!(out.status.success(), "docker --context: {}", String::from_utf8_lossy(&out.stderr));
}

/// Requests, several followed logs and an exec at once travel over one SSH connection (OpenSSH's
/// connection sharing): the server holds one session however many streams are open.
#[tokio::test]
async fn streams_share_one_ssh_connection() {
    let Some(r) = remote("streams_share_one_ssh_connection") else { return };
    let _alone = DISRUPTION.write().await;
    let engine = Engine::connect(&r.ssh_endpoint()).await.unwrap();
    engine.ping().await.unwrap();
    let mut spec = RunSpec::new(IMAGE);
    spec.name = Some(format!("gt-ssh-shared-{}", std::process::id()));
    spec.command = vec!["sh".into(), "-c".into(), "echo ready; sleep 300".into()];
    let id = engine.run_container(&spec).await.unwrap();
    let options = LogOptions { follow: true, ..LogOptions::default() };
    let mut follows: Vec<_> = (0..3).map(|_| engine.logs(&id, &options)).collect();
    for follow in &mut follows {
        assert_eq!(next(follow, "followed log").await.text, "ready");
    }
    let out = engine.exec_output(&id, &["echo", "exec-too"]).await.unwrap();
    assert_eq!(out.stdout.trim(), "exec-too");
    let sessions = r.ssh_sessions();
    assert_eq!(sessions.len(), 1, "one SSH connection for the requests, 3 followed logs and the exec: {sessions:?}");
    drop(follows);
    engine.remove_container(&id, RemoveOptions { force: true, volumes: true }).await.unwrap();
}

#[tokio::test]
async fn a_lost_ssh_connection_and_a_restarted_engine_are_reported_and_recovered() {
    let Some(r) = remote("a_lost_ssh_connection_and_a_restarted_engine_are_reported_and_recovered") else { return };
    let _alone = DISRUPTION.write().await;
    let engine = Engine::connect(&r.ssh_endpoint()).await.unwrap();

    // 1. the SSH connections drop: the event stream says so and carries on over a new one
    // from this second on, so the volume's events arrive however fast the stream opens
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let mut events = engine.events(&EventFilter { since: Some(now), ..EventFilter::default() });
    let probe = engine.create_volume(&format!("gt-ssh-probe-{}", std::process::id()), &[]).await.unwrap();
    loop {
        if let EngineEvent::Event { .. } = next(&mut events, "first event").await {
            break;
        }
    }
    assert!(r.kill_ssh_sessions() > 0, "the test sshd had sessions to end");
    let mut saw_disconnect = false;
    loop {
        match next(&mut events, "disconnect and reconnect").await {
            EngineEvent::Disconnected { reason, .. } => {
                saw_disconnect = true;
                assert!(!reason.is_empty());
            }
            EngineEvent::Reconnected { .. } => break,
            EngineEvent::Event { .. } => {}
        }
    }
    assert!(saw_disconnect, "the loss was reported before the reconnect");
    engine.remove_volume(&probe.name, true).await.unwrap();
    let removed = loop {
        if let EngineEvent::Event { event, .. } = next(&mut events, "event after the reconnect").await
            && event.resource == "volume"
            && event.action == "destroy"
        {
            break event.id;
        }
    };
    assert_eq!(removed, probe.name, "events flow again over the new connection");
    drop(events);

    // 2. the remote engine stops and comes back: the health watch reports both
    let mut health = engine.watch_health(Duration::from_millis(300));
    assert!(matches!(next(&mut health, "first ping").await, Health::Up { recovered: false, .. }));
    r.script("gantry_dockerd_kill");
    let reason = loop {
        if let Health::Lost { reason, .. } = next(&mut health, "loss").await {
            break reason;
        }
    };
    assert!(reason.contains("ssh"), "the reason names the ssh connection's end: {reason}");
    r.script("gantry_dockerd_relaunch");
    loop {
        if let Health::Up { recovered, latency_ms } = next(&mut health, "recovery").await {
            assert!(recovered && latency_ms > 0.0);
            break;
        }
    }
    engine.ping().await.expect("the same handle works again");
}

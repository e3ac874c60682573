//! `gantry node/service/stack` end to end: the real `gantry` binary against the Swarm that
//! scripts/lib/swarm.sh starts (a manager and a worker in their own network namespaces), and
//! against the plain private engine, which is no Swarm manager. Skipped (and counted) without them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output, Stdio};

fn gantry(engine: &str, args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gantry"))
        .arg("--engine")
        .arg(engine)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("COLUMNS", "200")
        .stdin(Stdio::null())
        .output()
        .expect("run gantry")
}

fn ok(engine: &str, args: &[&str], dir: &std::path::Path) -> String {
    let out = gantry(engine, args, dir);
    assert!(out.status.success(), "gantry {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn stack_deploy_scale_logs_and_rm_from_the_command_line() {
    let (Ok(manager), Ok(plain)) = (std::env::var("GANTRY_TEST_SWARM_MANAGER"), std::env::var("DOCKER_HOST")) else {
        gantry_testkit::skip::skipped(
            "stack_deploy_scale_logs_and_rm_from_the_command_line",
            "no swarm (scripts/test starts one: scripts/lib/swarm.sh)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stack = format!("cli{}", std::process::id());
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  echo:\n    image: gantry-test/busybox:latest\n    build: .\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; echo hello from $$(hostname); sleep 1000 & wait\"]\n",
    )
    .unwrap();

    let nodes: serde_json::Value = serde_json::from_str(&ok(&manager, &["--json", "node", "ls"], dir.path())).unwrap();
    assert_eq!(nodes.as_array().unwrap().len(), 2, "{nodes}");

    let deploy = gantry(&manager, &["stack", "deploy", &stack], dir.path());
    assert!(deploy.status.success(), "{}", String::from_utf8_lossy(&deploy.stderr));
    assert!(String::from_utf8_lossy(&deploy.stdout).contains(&format!("Created service {stack}_echo")));
    assert!(
        String::from_utf8_lossy(&deploy.stderr).contains("ignoring keys Swarm has no use for"),
        "build: is warned about"
    );

    let service = format!("{stack}_echo");
    let scaled = ok(&manager, &["service", "scale", &format!("{service}=2")], dir.path());
    assert!(scaled.lines().last().unwrap_or_default().contains("2/2 running"), "{scaled}");
    let listed = ok(&manager, &["service", "ls"], dir.path());
    assert!(listed.lines().any(|l| l.starts_with(&service) && l.contains("2/2")), "{listed}");
    let logs = ok(&manager, &["service", "logs", &service], dir.path());
    assert_eq!(logs.lines().filter(|l| l.contains("| hello from ")).count(), 2, "{logs}");
    assert!(logs.lines().all(|l| l.starts_with(&format!("{service}.")) && l.contains("@gantry-swarm-")), "{logs}");

    let bad = gantry(&manager, &["service", "scale", "nonsense"], dir.path());
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("SERVICE=REPLICAS"));

    let missing = gantry(&manager, &["stack", "deploy", &stack, "-c", "nowhere.yaml"], dir.path());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success() && stderr.contains("nowhere.yaml"), "a missing compose file is named: {stderr}");
    let status: serde_json::Value =
        serde_json::from_str(&ok(&manager, &["--json", "swarm", "status"], dir.path())).unwrap();
    assert_eq!(status["manager"], serde_json::Value::Bool(true), "{status}");

    let removed = ok(&manager, &["stack", "rm", &stack], dir.path());
    assert!(removed.contains(&format!("Removed service {service}")), "{removed}");

    // secrets and configs: made from a file, listed (never shown), a name in use refused, removed
    let secret = format!("{stack}-key");
    std::fs::write(dir.path().join("key.txt"), "v1").unwrap();
    let made = ok(&manager, &["secret", "create", &secret, "key.txt", "-l", "team=web"], dir.path());
    assert!(made.contains(&format!("Created secret {secret}")), "{made}");
    let listed = ok(&manager, &["secret", "ls"], dir.path());
    assert!(listed.lines().any(|l| l.starts_with(&secret)) && !listed.contains("v1"), "{listed}");
    let again = gantry(&manager, &["secret", "create", &secret, "key.txt"], dir.path());
    assert!(!again.status.success(), "a name in use is refused");
    ok(&manager, &["config", "create", &secret, "key.txt"], dir.path());
    ok(&manager, &["secret", "rm", &secret], dir.path());
    ok(&manager, &["config", "rm", &secret], dir.path());
    let configs: serde_json::Value =
        serde_json::from_str(&ok(&manager, &["--json", "config", "ls"], dir.path())).unwrap();
    assert!(!configs.to_string().contains(&secret), "{configs}");

    // the plain engine says what it is not, and what to do
    let refused = gantry(&plain, &["service", "ls"], dir.path());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("gantry swarm init"), "{stderr}");
}

//! `gantry context ls/add/use/rm` end to end: the real `gantry` binary with an empty home and
//! docker config, against the engines scripts/lib/remote.sh starts (a dockerd behind an OpenSSH
//! server on loopback, and the same dockerd with `--tlsverify`). The contexts it writes are used
//! by `gantry ps` and by the docker CLI alike. Skipped (and counted) when those are not running.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("temporary home") }
    }

    fn docker_config(&self) -> PathBuf {
        self.dir.path().join("docker-config")
    }

    /// `program args...` with this home, its docker config, and no engine chosen by the
    /// environment (so that the settings' engine source decides).
    fn command(&self, program: &str, args: &[&str]) -> Output {
        Command::new(program)
            .args(args)
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("DOCKER_CONFIG", self.docker_config())
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("GANTRY_ENGINE")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"))
    }

    fn gantry(&self, args: &[&str]) -> Output {
        self.command(env!("CARGO_BIN_EXE_gantry"), args)
    }

    /// `gantry args...`, which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.gantry(args);
        assert!(out.status.success(), "gantry {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// `gantry args...`, which must fail; its stderr.
    fn refused(&self, args: &[&str]) -> String {
        let out = self.gantry(args);
        assert!(!out.status.success(), "gantry {args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8(out.stderr).unwrap()
    }

    /// The switcher's list: (name, selected, docker_current, transport) per entry.
    fn list(&self) -> Vec<(String, bool, bool, String)> {
        let list: serde_json::Value = serde_json::from_str(&self.ok(&["--json", "context", "ls"])).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    c["selected"].as_bool().unwrap(),
                    c["docker_current"].as_bool().unwrap(),
                    c["transport"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn selected(&self) -> String {
        self.list().into_iter().find(|c| c.1).map(|c| c.0).expect("one engine is selected")
    }
}

fn remote_engines(test: &str) -> Option<(PathBuf, String, String)> {
    match (
        std::env::var("GANTRY_TEST_REMOTE_DIR"),
        std::env::var("GANTRY_TEST_SSH_HOST"),
        std::env::var("GANTRY_TEST_TLS_ADDRESS"),
    ) {
        (Ok(dir), Ok(ssh), Ok(tls)) => Some((dir.into(), ssh, tls)),
        _ => {
            gantry_testkit::skip::skipped(test, "no remote engines (scripts/test starts them: scripts/lib/remote.sh)");
            None
        }
    }
}

fn path_arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn contexts_are_added_used_by_gantry_and_docker_and_removed_with_care() {
    let Some((dir, ssh_host, tls_address)) =
        remote_engines("contexts_are_added_used_by_gantry_and_docker_and_removed_with_care")
    else {
        return;
    };
    let home = Home::new();

    // a fresh user: Gantry's VM (selected) and the docker CLI's default
    let fresh = home.list();
    assert_eq!(fresh[0].0, "gantry", "{fresh:?}");
    assert!(fresh[0].1, "Gantry's VM is the default engine: {fresh:?}");
    assert!(fresh.iter().any(|c| c.0 == "default" && c.2), "{fresh:?}");

    // an SSH context, used by `gantry ps` through the system's ssh
    home.ok(&["context", "add", "over-ssh", "--ssh", &ssh_host, "--description", "test engine"]);
    let again = home.refused(&["context", "add", "over-ssh", "--ssh", "someone@elsewhere"]);
    assert!(again.contains("over-ssh"), "{again}");
    let option = home.refused(&["context", "add", "sneaky", "--ssh", "-oProxyCommand=touch /tmp/x"]);
    assert!(option.to_lowercase().contains("option"), "{option}");
    assert!(!home.list().iter().any(|c| c.0 == "sneaky"));

    let status: serde_json::Value = serde_json::from_str(&home.ok(&["--json", "context", "use", "over-ssh"])).unwrap();
    assert_eq!(status["origin"], "context", "{status}");
    assert_eq!(status["connected"], true, "{status}");
    assert!(status["endpoint"].as_str().unwrap().starts_with("ssh://"), "{status}");
    assert_eq!(home.selected(), "over-ssh");
    let ps: serde_json::Value = serde_json::from_str(&home.ok(&["--json", "ps", "--all"])).unwrap();
    assert!(ps.is_array(), "{ps}");

    // in use: removed only with --force, and Gantry goes back to its VM
    let busy = home.refused(&["context", "rm", "over-ssh"]);
    assert!(busy.contains("context use gantry"), "{busy}");
    home.ok(&["context", "rm", "--force", "over-ssh"]);
    assert_eq!(home.selected(), "gantry");

    // a TLS context, made current for the docker CLI too, which then uses it
    let tls = dir.join("tls");
    home.ok(&[
        "context",
        "add",
        "over-tls",
        "--tcp",
        &tls_address,
        "--tls-ca",
        path_arg(&tls.join("ca.pem")),
        "--tls-cert",
        path_arg(&tls.join("cert.pem")),
        "--tls-key",
        path_arg(&tls.join("key.pem")),
    ]);
    home.ok(&["context", "use", "over-tls", "--docker"]);
    let list = home.list();
    assert!(list.iter().any(|c| c.0 == "over-tls" && c.1 && c.2 && c.3 == "tls"), "{list:?}");
    let docker = home.command("docker", &["ps", "--all", "--format", "{{.ID}}"]);
    assert!(docker.status.success(), "docker through the context: {}", String::from_utf8_lossy(&docker.stderr));
    home.ok(&["context", "use", "gantry"]);
    home.ok(&["context", "rm", "--force", "over-tls"]);
    let list = home.list();
    assert!(!list.iter().any(|c| c.0 == "over-tls"), "{list:?}");
    assert!(list.iter().any(|c| c.0 == "default" && c.2), "the docker CLI is back on default: {list:?}");
    assert!(!home.docker_config().join("contexts/tls").read_dir().is_ok_and(|mut d| d.next().is_some()));
}

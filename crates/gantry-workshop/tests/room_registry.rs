//! The room's registry for real: a bundle packed from the engine at `DOCKER_HOST` is served by
//! `serve` (Debian's docker-registry filled from the bundle, then run as a pull-through cache of
//! an upstream that cannot be reached), and a second private engine, started with the
//! daemon.json Gantry's VM would get for the room as its mirror (gantry-machine's
//! engine_config, through `--config-file`), lists the mirror in `docker info` and pulls and runs
//! the bundle's image through it on loopback.
// Needs Debian's docker-registry and a second private engine: Linux only (rustix::process too).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use gantry_engine::{CancellationToken, Engine};
use gantry_machine::engine_config::{self, RegistryMirror};
use gantry_testkit::dockerd::PrivateEngine;
use gantry_testkit::images;
use gantry_workshop::room::registry::REGISTRY_PROGRAM;
use gantry_workshop::room::{ServeOptions, serve};
use gantry_workshop::{ImageRequest, PackSpec};

const TEST: &str = "room_registry::a_second_engine_pulls_through_the_room_with_no_upstream";

// Several threads: the docker CLI calls below block the test thread while the room answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_engine_pulls_through_the_room_with_no_upstream() {
    if Command::new(REGISTRY_PROGRAM).arg("--version").output().is_err() {
        gantry_testkit::skip::skipped_unless_ci(
            TEST,
            "docker-registry is not installed (Debian: apt install docker-registry; ./scripts/test installs it)",
        );
        return;
    }
    if rustix::process::geteuid().as_raw() != 0 {
        gantry_testkit::skip::skipped(TEST, "a second private engine needs root");
        return;
    }
    let engine = Engine::from_env().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = images::unique_tag("ws-room");
    images::build(&app, "FROM gantry-test/busybox:latest\nCMD [\"echo\", \"pulled through the room\"]\n").unwrap();
    let spec = PackSpec {
        title: "Room registry".into(),
        images: vec![ImageRequest::parse(&app).unwrap()],
        output: dir.path().join("room.gantry-workshop"),
        ..Default::default()
    };
    let packed = gantry_workshop::pack(&engine, &spec, None, &|_| {}, &CancellationToken::new()).await;
    images::remove(&[&app]);
    let packed = packed.unwrap();

    let options = ServeOptions {
        bundle: packed.path.clone(),
        dir: dir.path().join("room"),
        listen: "127.0.0.1:0".parse().unwrap(),
        advertise: None,
        // Nothing listens on port 1: the upstream is unreachable, as without internet.
        upstream: Some("https://127.0.0.1:1".into()),
        no_registry: false,
    };
    let events = std::sync::Mutex::new(Vec::new());
    let room = serve(&options, &|e| events.lock().unwrap().push(e)).await.unwrap();
    let mirror = format!("https://{}", room.code.addr);
    let first_code = room.code.clone();
    {
        use gantry_workshop::room::ServeEvent;
        let events = events.lock().unwrap();
        assert!(events.iter().any(|e| matches!(e, ServeEvent::Filling { done, total } if done == total)), "{events:?}");
        assert!(events.iter().any(|e| matches!(e, ServeEvent::UpstreamUnreachable { .. })), "{events:?}");
    }

    // The guest's /etc/docker as Gantry writes it for a participant who joined: the image's
    // daemon.json with the room as a mirror, and the room's certificate in certs.d. (127.0.0.0/8
    // is an insecure registry range by default, so on loopback the engine would accept the room's
    // certificate anyway; the VM test reaches the room at 10.0.2.2, where the pinned one counts.)
    let room_cert = std::fs::read_to_string(options.dir.join(gantry_workshop::room::tls::CERT_FILE)).unwrap();
    let etc_docker = dir.path().join("etc-docker");
    let pinned = RegistryMirror { url: mirror.clone(), ca_pem: Some(room_cert.clone()) };
    engine_config::write_guest_docker_dir(&etc_docker, &[pinned]).unwrap();
    let ca = etc_docker.join("certs.d").join(room.code.addr.to_string()).join("ca.crt");
    assert_eq!(std::fs::read_to_string(ca).unwrap(), room_cert);
    let config = etc_docker.join("daemon.json");
    let second = PrivateEngine::start(&dir.path().join("second"), &["--config-file", config.to_str().unwrap()]);
    let second = match second {
        Ok(s) => s,
        Err(e) => {
            room.stop().await;
            panic!("{e}");
        }
    };
    let info = second.docker(&["info", "--format", "{{json .RegistryConfig.Mirrors}}"]);
    let pulled = second
        .docker(&["pull", &app])
        .map_err(|e| format!("{e}\nsecond engine's log (newest first):\n{}", second.log_tail(15)));
    let ran = second.docker(&["run", "--rm", &app]);
    // The registry refuses pushes through the room.
    let tag = format!("{}/library/pushed:1", room.code.addr);
    let _ = second.docker(&["tag", &app, &tag]);
    let pushed = second.docker(&["push", &tag]);
    drop(second);
    room.stop().await;
    // Opened again on the same port: the same code (certificate and secret kept), the registry
    // not filled twice.
    let again = ServeOptions { listen: first_code.addr, ..options.clone() };
    let events = std::sync::Mutex::new(Vec::new());
    let reopened = serve(&again, &|e| events.lock().unwrap().push(e)).await.unwrap();
    assert_eq!(reopened.code, first_code);
    assert!(!events.lock().unwrap().iter().any(|e| matches!(e, gantry_workshop::room::ServeEvent::Filling { .. })));
    reopened.stop().await;
    let mirrors: Vec<String> = serde_json::from_str(info.unwrap().trim()).unwrap();
    assert_eq!(mirrors, [format!("{mirror}/")], "docker info lists the room as the engine's mirror");
    pulled.unwrap();
    assert_eq!(ran.unwrap().trim(), "pulled through the room");
    assert!(pushed.is_err(), "a push through the room must fail");
}

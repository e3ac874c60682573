//! The room server over real TLS on loopback: participants join with the code (pinned
//! certificate, room secret), report steps, the trainer's event stream shows them, the trainer's
//! commands reach participants, the CSV and the page are what they should be; wrong codes,
//! tokens and inputs are refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use gantry_workshop::Digest;
use gantry_workshop::labs::LabOutline;
use gantry_workshop::room::code::JoinCode;
use gantry_workshop::room::participant::RoomClient;
use gantry_workshop::room::server::{PAGE_CSP, RoomServer, ServerState};
use gantry_workshop::room::state::{Progress, Room, RoomCommand, StepStatus};
use gantry_workshop::room::tls::RoomCert;

struct Open {
    server: RoomServer,
    code: JoinCode,
    trainer: String,
    _dir: tempfile::TempDir,
}

async fn open_room() -> Open {
    let dir = tempfile::tempdir().unwrap();
    let cert = RoomCert::load_or_create(dir.path(), &["127.0.0.1".parse().unwrap()]).unwrap();
    let labs = vec![
        LabOutline {
            id: "first".into(),
            title: "First".into(),
            steps: vec!["run".into(), "stop".into()],
            ..Default::default()
        },
        LabOutline { id: "second".into(), title: "Second".into(), steps: vec!["build".into()], ..Default::default() },
    ];
    let room = Arc::new(Room::new("Docker 101", labs));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let code = JoinCode::new(listener.local_addr().unwrap(), &cert.digest(), [9; 8]);
    let state = Arc::new(ServerState {
        room,
        secret: code.secret_text(),
        trainer_token: "trainer-token-1234".into(),
        registry: None,
    });
    let server = RoomServer::start(listener, cert.server_config().unwrap(), state).unwrap();
    Open { server, code, trainer: "trainer-token-1234".into(), _dir: dir }
}

async fn next_event(
    events: &mut (impl futures_util::Stream<Item = (String, String)> + Unpin),
) -> (String, serde_json::Value) {
    let (event, data) = tokio::time::timeout(Duration::from_secs(10), events.next()).await.unwrap().unwrap();
    (event, serde_json::from_str(&data).unwrap())
}

#[tokio::test]
async fn participants_progress_reaches_the_trainers_grid_live() {
    let open = open_room().await;
    let trainer = RoomClient::new(&open.code).unwrap();
    let mut grid = Box::pin(trainer.events("/api/room/events", &open.trainer).await.unwrap());
    let (event, snapshot) = next_event(&mut grid).await;
    assert_eq!(event, "snapshot");
    assert_eq!(snapshot["title"], "Docker 101");
    assert_eq!(snapshot["participants"].as_array().unwrap().len(), 0);

    let mut ada = RoomClient::new(&open.code).unwrap();
    let membership = ada.join("Ada <script>alert(1)</script>").await.unwrap();
    assert_eq!(membership.labs.len(), 2);
    assert!(membership.certificate.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(membership.mirror, None, "a room without a registry offers no mirror to add");
    let (event, joined) = next_event(&mut grid).await;
    assert_eq!((event.as_str(), joined["kind"].as_str()), ("update", Some("joined")));
    assert_eq!(
        joined["participant"]["name"], "Ada <script>alert(1)</script>",
        "kept as text; the page renders it as text"
    );

    let mut commands = Box::pin(ada.commands().await.unwrap());
    ada.report(&Progress { lab: "first".into(), step: "run".into(), status: StepStatus::Passed }).await.unwrap();
    let (_, update) = next_event(&mut grid).await;
    assert_eq!(update["kind"], "progress");
    assert_eq!(
        (update["lab"].as_str(), update["step"].as_str(), update["status"].as_str()),
        (Some("first"), Some("run"), Some("passed"))
    );

    // Refused: an unknown step, another room's secret, a name too long.
    let e = ada
        .report(&Progress { lab: "first".into(), step: "fly".into(), status: StepStatus::Passed })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a step of this workshop"), "{e}");
    let wrong_secret = JoinCode { secret: [1; 8], ..open.code.clone() };
    let e = RoomClient::new(&wrong_secret).unwrap().join("Eve").await.unwrap_err();
    assert!(e.to_string().contains("another room"), "{e}");
    let e = RoomClient::new(&open.code).unwrap().join(&"x".repeat(80)).await.unwrap_err();
    assert!(e.to_string().contains("display name"), "{e}");

    // Commands reach the participant.
    let sent =
        trainer_post(&open, "/api/room/command", &serde_json::json!({"kind": "reset_lab", "lab": "first"})).await;
    assert_eq!(sent, 200);
    let command = tokio::time::timeout(Duration::from_secs(10), commands.next()).await.unwrap().unwrap();
    assert_eq!(command, RoomCommand::ResetLab { lab: "first".into() });
    let bad = trainer_post(
        &open,
        "/api/room/command",
        &serde_json::json!({"kind": "go_to_step", "lab": "first", "step": "nope"}),
    )
    .await;
    assert_eq!(bad, 400);

    // The CSV needs the trainer token and has the grid.
    let csv = raw_get(&open.code, &format!("/api/room.csv?t={}", open.trainer)).await;
    assert!(csv.contains("participant,first/run,first/stop,second/build"), "{csv}");
    assert!(csv.contains("Ada <script>alert(1)</script>,passed,,"), "{csv}");
    assert!(raw_get(&open.code, "/api/room.csv?t=wrong").await.starts_with("HTTP/1.1 401"));
    assert!(raw_get(&open.code, "/api/room.csv").await.starts_with("HTTP/1.1 401"));
    assert!(raw_get(&open.code, "/v2/").await.contains("this room has no registry"));
    open.server.stop().await;
}

#[tokio::test]
async fn a_server_with_another_certificate_is_refused() {
    let open = open_room().await;
    let elsewhere = JoinCode::new(open.code.addr, &Digest::of(b"another certificate"), open.code.secret);
    let e = RoomClient::new(&elsewhere).unwrap().join("Ada").await.unwrap_err();
    assert!(e.to_string().contains("not the one the code names"), "{e}");
    open.server.stop().await;
}

#[tokio::test]
async fn the_page_has_a_strict_policy_and_no_external_asset() {
    let open = open_room().await;
    let page = raw_get(&open.code, "/room").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.to_lowercase().contains(&format!("content-security-policy: {}", PAGE_CSP.to_lowercase())));
    assert!(page.contains("x-content-type-options: nosniff"));
    let script = raw_get(&open.code, "/room.js").await;
    for text in [&page, &script] {
        assert!(!text.contains("http://") && !text.contains("https://"), "no external asset");
        assert!(!text.contains("innerHTML") && !text.contains("insertAdjacentHTML") && !text.contains("eval("));
    }
    open.server.stop().await;
}

/// A GET over TLS (pinned), the whole answer as text (status line, headers, body).
async fn raw_get(code: &JoinCode, path: &str) -> String {
    raw(code, &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).await
}

async fn trainer_post(open: &Open, path: &str, body: &serde_json::Value) -> u16 {
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        open.trainer,
        body.len()
    );
    let answer = raw(&open.code, &request).await;
    answer.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn raw(code: &JoinCode, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pinned = code.clone();
    let config = gantry_workshop::room::tls::pinned_client(move |d| pinned.pins(d)).unwrap();
    let tcp = tokio::net::TcpStream::connect(code.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::IpAddress(code.addr.ip().into());
    let mut tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.unwrap();
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

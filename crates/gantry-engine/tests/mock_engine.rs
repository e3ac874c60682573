//! Fault scenarios against a misbehaving engine (a mock on a local socket, see `mock/mod.rs`):
//! truncated JSON, bad chunk sizes, endless headers, an oversized body, an event stream cut in
//! the middle of a line. After each: no panic, a specific error, and the next call still works.
#![cfg(unix)] // the mock engine listens on a unix socket: built on unix only
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mock;

use std::time::Duration;

use futures_util::StreamExt;
use gantry_engine::{ContainerFilter, Engine, EngineError, EngineEvent, EventFilter};
use gantry_testkit::reliability;
use mock::Reply;

/// Bounds each scenario so a regression fails instead of hanging (not a timing claim).
async fn bounded<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(120), fut).await.expect("the scenario did not finish")
}

async fn connect(mock: &mock::MockEngine) -> Engine {
    Engine::connect(&mock.endpoint()).await.expect("the mock answers /version")
}

#[tokio::test]
async fn truncated_json_is_a_protocol_error() {
    let mock = mock::start(|_, path| match path {
        p if p.starts_with("/containers/json") => Reply::json(r#"[{"Id":"abc","Names":["/web"],"Ima"#),
        _ => Reply::json(r#"{"message":"unexpected"}"#),
    });
    let engine = connect(&mock).await;
    let err = bounded(engine.list_containers(&ContainerFilter::default())).await.unwrap_err();
    assert!(matches!(err, EngineError::Protocol { .. }), "{err:?}");
    engine.ping().await.expect("the connection is still usable");
    reliability::fault(
        "the engine answers a container list with truncated JSON",
        "no panic; a specific error; the next call works",
        &format!("{:?} error: {err}", err.code()),
    );
}

#[tokio::test]
async fn bad_chunk_sizes_are_protocol_errors() {
    let bodies = [
        "ffffffffffffffff\r\nxx",
        "fffffffffffffffffffff\r\n",
        "zz\r\n{}\r\n0\r\n\r\n",
        "40\r\n{\"short\":1}\r\n0\r\n\r\n",
        "-5\r\n",
    ];
    for body in bodies {
        let owned = body.to_string();
        let mock = mock::start(move |_, _| {
            Reply::Close(format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{owned}").into_bytes())
        });
        let engine = connect(&mock).await;
        let err = bounded(engine.disk_usage()).await.unwrap_err();
        assert!(matches!(err, EngineError::Protocol { .. }), "{body:?}: {err:?}");
        assert!(err.to_string().contains("chunked"), "{err}");
    }
    reliability::bad_inputs("raw engine client: chunked bodies with bad sizes", bodies.len() as u64);
    reliability::fault(
        "the engine sends chunk sizes that overflow, are not hex, or are longer than the body",
        "no panic (it was an arithmetic overflow / slice panic before); a `protocol` error",
        "Protocol \"malformed chunked body: ...\" for each of 5 bodies",
    );
}

#[tokio::test]
async fn endless_headers_stop_at_a_bound() {
    let mock = mock::start(|_, _| Reply::EndlessHeaders);
    let engine = connect(&mock).await;
    let err = bounded(engine.disk_usage()).await.unwrap_err();
    assert!(matches!(err, EngineError::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("KiB of headers"), "{err}");
    reliability::fault(
        "the engine sends header lines forever",
        "the client stops after 64 KiB of headers with a specific error (memory bounded)",
        &err.to_string(),
    );
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_it_is_read() {
    let mock = mock::start(|_, _| Reply::Stream {
        head: format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}", 1u64 << 30),
        total: 1 << 30,
        pattern: b"[".to_vec(),
    });
    let engine = connect(&mock).await;
    let err = bounded(engine.disk_usage()).await.unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
    reliability::fault(
        "the engine announces and streams a 1 GiB answer to a small request",
        "refused from its Content-Length without reading it; a specific error",
        &err.to_string(),
    );
}

#[tokio::test]
async fn an_event_stream_cut_mid_line_reports_and_reconnects() {
    let event = r#"{"Type":"container","Action":"start","Actor":{"ID":"0123456789ab","Attributes":{"name":"web"}},"time":1700000000,"timeNano":1700000000000000000}"#;
    let first = std::sync::atomic::AtomicBool::new(true);
    let mock = mock::start(move |_, path| {
        if !path.starts_with("/events") {
            return Reply::json("{}");
        }
        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            let body = format!("{event}\n{}", &event[..40]);
            Reply::Close(
                format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n", body.len())
                    .into_bytes(),
            )
        } else {
            Reply::Stream {
                head: "HTTP/1.1 200 OK\r\nContent-Type: application/json".into(),
                total: 0,
                pattern: vec![b' '],
            }
        }
    });
    let engine = connect(&mock).await;
    let mut events = engine.events(&EventFilter::default());
    let got = bounded(async {
        let mut got = Vec::new();
        while let Some(item) = events.next().await {
            let done = matches!(item, Ok(EngineEvent::Reconnected { .. }));
            got.push(item.expect("no error item: the stream reports and retries"));
            if done {
                break;
            }
        }
        got
    })
    .await;
    assert!(matches!(&got[0], EngineEvent::Event { event, .. } if event.action == "start"), "{got:?}");
    assert!(matches!(&got[1], EngineEvent::Disconnected { .. }), "{got:?}");
    assert!(matches!(got.last(), Some(EngineEvent::Reconnected { .. })), "{got:?}");
    reliability::fault(
        "the event stream is cut in the middle of a JSON line",
        "the whole events before the cut arrive; the cut is reported (Disconnected) and the stream reconnects",
        &format!("{} items: event, disconnected, ..., reconnected", got.len()),
    );
}

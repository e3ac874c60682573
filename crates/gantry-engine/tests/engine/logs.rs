//! Logs: stdout and stderr apart, TTY framing, tail, since, timestamps, follow, cancellation.

use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use gantry_engine::{CancellationToken, LogOptions, OutputStream, cancellable};

use crate::common::{next_within, setup};

#[tokio::test]
async fn stdout_and_stderr_are_kept_apart() {
    let t = setup("logs-streams").await;
    let id = t.run(&t.sh("s", "echo to-out; echo to-err >&2; echo out-again")).await;
    t.wait_exit(&id).await;
    let lines = t.logs(&id, &LogOptions::default()).await;
    let of = |s: OutputStream| lines.iter().filter(|l| l.stream == s).map(|l| l.text.as_str()).collect::<Vec<_>>();
    assert_eq!(of(OutputStream::Stdout), ["to-out", "out-again"]);
    assert_eq!(of(OutputStream::Stderr), ["to-err"]);
    let only_err = LogOptions { stdout: false, ..Default::default() };
    let lines = t.logs(&id, &only_err).await;
    assert_eq!(lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["to-err"]);
}

#[tokio::test]
async fn tty_output_is_one_stream_without_carriage_returns() {
    let t = setup("logs-tty").await;
    let mut spec = t.sh("tty", "echo line-one; echo line-two >&2; test -t 1 && echo is-a-tty");
    spec.tty = true;
    let id = t.run(&spec).await;
    t.wait_exit(&id).await;
    let lines = t.logs(&id, &LogOptions::default()).await;
    let texts: Vec<_> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["line-one", "line-two", "is-a-tty"]);
    assert!(lines.iter().all(|l| l.stream == OutputStream::Console), "{lines:?}");
}

#[tokio::test]
async fn tail_returns_the_last_lines() {
    let t = setup("logs-tail").await;
    let id = t.run(&t.sh("tail", "seq 1 50")).await;
    t.wait_exit(&id).await;
    let lines = t.logs(&id, &LogOptions { tail: Some(3), ..Default::default() }).await;
    assert_eq!(lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["48", "49", "50"]);
    assert_eq!(t.logs(&id, &LogOptions::default()).await.len(), 50);
}

#[tokio::test]
async fn timestamps_are_split_from_the_text() {
    let t = setup("logs-ts").await;
    let id = t.run(&t.sh("ts", "echo stamped")).await;
    t.wait_exit(&id).await;
    let lines = t.logs(&id, &LogOptions { timestamps: true, ..Default::default() }).await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].text, "stamped");
    let stamp = lines[0].timestamp.as_deref().expect("a timestamp");
    let year = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() / 31_556_952 + 1970;
    assert!(stamp.starts_with(&year.to_string()) && stamp.contains('T'), "{stamp}");
    let plain = t.logs(&id, &LogOptions::default()).await;
    assert_eq!(plain[0].timestamp, None);
}

#[tokio::test]
async fn since_skips_older_lines() {
    let t = setup("logs-since").await;
    let id = t.run_sh("since", "echo early; sleep 3; echo late; sleep 60").await;
    t.wait_for_log(&id, "early", 10).await;
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64 + 1;
    t.wait_for_log(&id, "late", 10).await;
    let lines = t.logs(&id, &LogOptions { since: Some(since), ..Default::default() }).await;
    assert_eq!(lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["late"]);
}

#[tokio::test]
async fn follow_streams_lines_as_they_are_written_and_ends_with_the_container() {
    let t = setup("logs-follow").await;
    let id = t.run_sh("follow", "echo first; sleep 3; echo second; echo third >&2").await;
    let mut stream = t.engine.logs(&id, &LogOptions { follow: true, ..Default::default() });
    let first = next_within(10, &mut stream).await.unwrap().unwrap();
    assert_eq!(first.text, "first");
    let running = t.engine.inspect_container(&id).await.unwrap().running;
    assert!(running, "the first line arrives while the container is still running");
    // stdout and stderr come from separate pipes: their relative order is not guaranteed.
    let mut rest = Vec::new();
    for _ in 0..2 {
        let line = next_within(10, &mut stream).await.unwrap().unwrap();
        rest.push((line.text, line.stream));
    }
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(rest, [("second".to_string(), OutputStream::Stdout), ("third".to_string(), OutputStream::Stderr)]);
    assert!(next_within(10, &mut stream).await.is_none(), "the stream ends when the container exits");
}

#[tokio::test]
async fn a_cancelled_follow_ends() {
    let t = setup("logs-cancel").await;
    let id = t.run_sh("cancel", "while true; do echo tick; sleep 0.1; done").await;
    let token = CancellationToken::new();
    let mut stream = cancellable(t.engine.logs(&id, &LogOptions { follow: true, ..Default::default() }), token.clone());
    for _ in 0..3 {
        assert_eq!(next_within(10, &mut stream).await.unwrap().unwrap().text, "tick");
    }
    token.cancel();
    let rest = crate::common::within(5, async {
        let mut n = 0;
        while let Some(item) = stream.next().await {
            if item.is_err() {
                break;
            }
            n += 1;
        }
        n
    })
    .await;
    assert!(rest < 50, "stream stopped soon after cancel ({rest} more lines)");
}

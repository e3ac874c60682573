//! Exec: captured output and exit code, TTY with resize, interactive stdin.

use futures_util::StreamExt;
use gantry_engine::{ExecSpec, OutputStream};
use tokio::io::AsyncWriteExt;

use crate::common::{setup, within};

#[tokio::test]
async fn exec_output_keeps_streams_and_exit_code() {
    let t = setup("exec-out").await;
    let id = t.sleeper("x").await;
    let out = t.engine.exec_output(&id, &["sh", "-c", "echo out; echo err >&2; exit 3"]).await.unwrap();
    assert_eq!((out.exit_code, out.stdout.as_str(), out.stderr.as_str()), (3, "out\n", "err\n"));
    let out = t.engine.exec_output(&id, &["cat", "/etc/passwd"]).await.unwrap();
    assert_eq!(out.exit_code, 0);
    assert!(out.stdout.starts_with("root:"));
}

#[tokio::test]
async fn exec_with_tty_and_resize() {
    let t = setup("exec-tty").await;
    let id = t.sleeper("x").await;
    let spec = ExecSpec {
        cmd: vec!["sh".into(), "-c".into(), "sleep 1; stty size; test -t 0 && echo tty-yes".into()],
        tty: true,
        ..Default::default()
    };
    let mut session = t.engine.exec(&id, &spec).await.unwrap();
    t.engine.resize_exec(&session.id, 33, 97).await.unwrap();
    let mut text = String::new();
    within(20, async {
        while let Some(chunk) = session.output.next().await {
            let chunk = chunk.unwrap();
            assert_eq!(chunk.stream, OutputStream::Console);
            text.push_str(&String::from_utf8_lossy(&chunk.bytes));
        }
    })
    .await;
    assert!(text.contains("33 97"), "{text:?}");
    assert!(text.contains("tty-yes\r\n"), "a TTY turns \\n into \\r\\n: {text:?}");
    assert_eq!(t.engine.exec_exit_code(&session.id).await.unwrap(), Some(0));
}

#[tokio::test]
async fn interactive_exec_reads_stdin() {
    let t = setup("exec-stdin").await;
    let id = t.sleeper("x").await;
    let spec = ExecSpec {
        cmd: vec!["sh".into(), "-c".into(), "read a; read b; echo \"got:$a+$b\"; echo done >&2".into()],
        stdin: true,
        ..Default::default()
    };
    let mut session = t.engine.exec(&id, &spec).await.unwrap();
    session.input.write_all(b"hello\nworld\n").await.unwrap();
    session.input.flush().await.unwrap();
    let (mut out, mut err) = (String::new(), String::new());
    within(20, async {
        while let Some(chunk) = session.output.next().await {
            let chunk = chunk.unwrap();
            let s = String::from_utf8_lossy(&chunk.bytes).into_owned();
            match chunk.stream {
                OutputStream::Stderr => err.push_str(&s),
                _ => out.push_str(&s),
            }
        }
    })
    .await;
    assert_eq!((out.as_str(), err.as_str()), ("got:hello+world\n", "done\n"));
}

//! A misbehaving Docker engine for fault tests: a unix-socket HTTP server in the test process
//! that answers `/version` and `/_ping` like a real engine (so `Engine::connect` succeeds) and
//! every other request with whatever [`Reply`] the test's handler chooses: truncated JSON, bad
//! chunk sizes, endless headers, a huge streamed body, a stream cut in the middle of a line.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// What the mock sends for one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// These bytes (a whole response), then the connection stays open for the next request.
    Bytes(Vec<u8>),
    /// These bytes, then the connection is closed (a cut-off answer).
    Close(Vec<u8>),
    /// A status line, then header lines forever (until the client goes away).
    EndlessHeaders,
    /// `head` (status line and headers, without the blank line), then `total` bytes made of
    /// `pattern` repeated, written as they are made (never held whole), then close.
    Stream { head: String, total: u64, pattern: Vec<u8> },
}

impl Reply {
    /// A complete `200 OK` JSON answer.
    pub fn json(body: &str) -> Self {
        Self::Bytes(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    }
}

/// A running mock engine; dropped with the test.
pub struct MockEngine {
    pub socket: PathBuf,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockEngine {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockEngine {
    /// The endpoint to connect to.
    pub fn endpoint(&self) -> gantry_engine::Endpoint {
        gantry_engine::Endpoint::Unix(self.socket.clone())
    }
}

/// Starts a mock whose `handler(method, path)` decides every answer except `/version` and
/// `/_ping` (`path` without the `/v1.xx` prefix, with its query).
pub fn start(handler: impl Fn(&str, &str) -> Reply + Send + Sync + 'static) -> MockEngine {
    let dir = tempfile::tempdir().expect("temporary directory");
    let socket = dir.path().join("mock.sock");
    let listener = UnixListener::bind(&socket).expect("bind the mock socket");
    let handler = Arc::new(handler);
    let task = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let _ = serve(conn, handler).await;
            });
        }
    });
    MockEngine { socket, _dir: dir, task }
}

const VERSION: &str = r#"{"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12","Os":"linux","Arch":"amd64","KernelVersion":"6.1.0"}"#;

async fn serve(mut conn: UnixStream, handler: Arc<impl Fn(&str, &str) -> Reply + Send + Sync>) -> std::io::Result<()> {
    let mut pending = Vec::new();
    loop {
        let Some((method, path)) = read_request(&mut conn, &mut pending).await? else { return Ok(()) };
        let bare = strip_version(&path);
        let reply = match bare.split('?').next().unwrap_or("") {
            "/version" => Reply::json(VERSION),
            "/_ping" => Reply::Bytes(
                b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK"
                    .to_vec(),
            ),
            _ => handler(&method, bare),
        };
        match reply {
            Reply::Bytes(bytes) => conn.write_all(&bytes).await?,
            Reply::Close(bytes) => {
                conn.write_all(&bytes).await?;
                return conn.shutdown().await;
            }
            Reply::EndlessHeaders => {
                conn.write_all(b"HTTP/1.1 200 OK\r\n").await?;
                let line = format!("X-Padding: {}\r\n", "a".repeat(1000));
                loop {
                    conn.write_all(line.as_bytes()).await?;
                }
            }
            Reply::Stream { head, total, pattern } => {
                conn.write_all(format!("{head}\r\n\r\n").as_bytes()).await?;
                let block: Vec<u8> = pattern.iter().copied().cycle().take(64 * 1024).collect();
                let mut sent = 0u64;
                while sent < total {
                    let n = block.len().min((total - sent) as usize);
                    conn.write_all(&block[..n]).await?;
                    sent += n as u64;
                }
                return conn.shutdown().await;
            }
        }
    }
}

/// Reads one request (headers and a Content-Length body, which is dropped).
async fn read_request(conn: &mut UnixStream, pending: &mut Vec<u8>) -> std::io::Result<Option<(String, String)>> {
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(at) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        pending.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&pending[..end]).to_string();
    pending.drain(..end + 4);
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0);
    while pending.len() < length {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        pending.extend_from_slice(&chunk[..n]);
    }
    pending.drain(..length);
    let mut words = head.split_whitespace();
    Ok(Some((words.next().unwrap_or("").to_string(), words.next().unwrap_or("").to_string())))
}

fn strip_version(path: &str) -> &str {
    match path.strip_prefix("/v") {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest.find('/').map_or(path, |i| &rest[i..]),
        _ => path,
    }
}

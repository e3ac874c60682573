//! A small client for QEMU's guest agent (qemu-ga, in the guest) over the instance's
//! virtio-serial socket ([`crate::instance::Instance::guest_agent_socket`]).
//!
//! The guest allows only a few commands (vm-images/README.md): a sync, setting the clock, and
//! running a program with `guest-exec`. Gantry uses them around a saved state: the guest's
//! shares are unmounted before a save (QEMU refuses to migrate with 9p mounted) and mounted
//! again after a restore, whose clock is then set to this computer's.
//!
//! The protocol is QMP's JSON without a greeting. A session starts with
//! `guest-sync-delimited`: the agent answers after a `0xFF` byte, so whatever an earlier client
//! left unread is skipped ([`skip_to_delimiter`]).

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::error::{MachineError, Result};
use crate::lines::LineReader;
use crate::qmp::{Message, command_line, parse_message};

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Longest reply line accepted (a program's output comes back base64-encoded in one line).
const MAX_LINE: usize = 1 << 20;
/// How long one command may take to answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// The byte qemu-ga sends before its answer to `guest-sync-delimited` (and a client sends to
/// reset the agent's parser).
const DELIMITER: u8 = 0xFF;

fn err(message: impl Into<String>) -> MachineError {
    MachineError::GuestAgent { message: message.into() }
}

/// A program run in the guest, finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exited {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// A session with the guest agent.
pub struct GuestAgent {
    reader: LineReader<BufReader<tokio::io::ReadHalf<Box<dyn Stream>>>>,
    writer: tokio::io::WriteHalf<Box<dyn Stream>>,
}

impl std::fmt::Debug for GuestAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GuestAgent")
    }
}

impl GuestAgent {
    /// Connects to the agent's socket and syncs within `bound` (no agent in the guest: an error
    /// once `bound` has passed).
    #[cfg(unix)]
    pub async fn connect(path: &Path, bound: Duration) -> Result<Self> {
        crate::instance::check_socket_path(path)?;
        let s = tokio::net::UnixStream::connect(path)
            .await
            .map_err(|e| err(format!("cannot connect to {}: {e}", path.display())))?;
        Self::over(s, bound).await
    }

    /// QEMU's guest agent socket is a unix socket, which tokio cannot open on Windows.
    #[cfg(not(unix))]
    pub async fn connect(path: &Path, _bound: Duration) -> Result<Self> {
        Err(err(format!("cannot connect to {}: the guest agent's socket needs unix sockets", path.display())))
    }

    /// A session over any byte stream (tests use an in-memory pipe); syncs within `bound`.
    pub async fn over(stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static, bound: Duration) -> Result<Self> {
        let (r, w) = tokio::io::split(Box::new(stream) as Box<dyn Stream>);
        let mut ga = Self { reader: LineReader::new(BufReader::new(r), MAX_LINE), writer: w };
        let id = u64::from(std::process::id()) << 20 | u64::from(rand_low());
        tokio::time::timeout(bound, ga.sync(id))
            .await
            .map_err(|_| err(format!("the guest agent did not answer within {} s", bound.as_secs())))??;
        Ok(ga)
    }

    async fn sync(&mut self, id: u64) -> Result<()> {
        let mut msg = vec![DELIMITER];
        msg.extend(command_line("guest-sync-delimited", Some(json!({ "id": id }))));
        self.writer.write_all(&msg).await.map_err(|e| err(format!("write: {e}")))?;
        loop {
            skip_to_delimiter(self.reader.inner_mut()).await?;
            match self.read_message().await? {
                Message::Return(v) if v.as_u64() == Some(id) => return Ok(()),
                other => tracing::debug!(?other, "guest agent: a stale reply skipped"),
            }
        }
    }

    async fn read_message(&mut self) -> Result<Message> {
        match self.reader.next_line().await {
            Ok(Some(line)) => parse_message(&line),
            Ok(None) => Err(err("the guest agent closed the connection")),
            Err(e) => Err(err(format!("read: {e}"))),
        }
    }

    /// Runs a command; its `return` value, or the agent's error.
    pub async fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value> {
        let bytes = command_line(command, arguments);
        self.writer.write_all(&bytes).await.map_err(|e| err(format!("write: {e}")))?;
        let reply = async {
            loop {
                match self.read_message().await? {
                    Message::Return(v) => return Ok(v),
                    Message::Error { desc, .. } => return Err(err(format!("{command}: {desc}"))),
                    other => tracing::debug!(?other, "guest agent: unexpected message skipped"),
                }
            }
        };
        tokio::time::timeout(REPLY_TIMEOUT, reply)
            .await
            .map_err(|_| err(format!("{command}: no reply within {} s", REPLY_TIMEOUT.as_secs())))?
    }

    /// Sets the guest's clock to `unix_nanos` (`guest-set-time`).
    pub async fn set_time(&mut self, unix_nanos: i64) -> Result<()> {
        self.execute("guest-set-time", Some(json!({ "time": unix_nanos }))).await.map(|_| ())
    }

    /// Runs `path` with `args` in the guest and waits up to `bound` for it to end.
    pub async fn run(&mut self, path: &str, args: &[&str], bound: Duration) -> Result<Exited> {
        let started =
            self.execute("guest-exec", Some(json!({ "path": path, "arg": args, "capture-output": true }))).await?;
        let pid = started.get("pid").and_then(Value::as_i64).ok_or_else(|| err("guest-exec: no pid in its reply"))?;
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let status = self.execute("guest-exec-status", Some(json!({ "pid": pid }))).await?;
            if let Some(done) = exec_status(&status)? {
                return Ok(done);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(err(format!("{path} did not finish within {} s", bound.as_secs())));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A `guest-exec-status` reply: `None` while the program runs. Pure.
pub fn exec_status(v: &Value) -> Result<Option<Exited>> {
    if !v.get("exited").and_then(Value::as_bool).unwrap_or(false) {
        return Ok(None);
    }
    let text = |key: &str| -> Result<String> {
        match v.get(key).and_then(Value::as_str) {
            None => Ok(String::new()),
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| err(format!("guest-exec-status: {key} is not base64: {e}"))),
        }
    };
    // a program killed by a signal has `signal` and no `exitcode`
    let code = match (v.get("exitcode").and_then(Value::as_i64), v.get("signal").and_then(Value::as_i64)) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        (None, None) => -1,
    };
    Ok(Some(Exited { code, stdout: text("out-data")?, stderr: text("err-data")? }))
}

/// Reads and drops bytes up to and including the next [`DELIMITER`].
async fn skip_to_delimiter<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Result<()> {
    let mut skipped = Vec::new();
    let n = r.read_until(DELIMITER, &mut skipped).await.map_err(|e| err(format!("read: {e}")))?;
    if n == 0 || skipped.last() != Some(&DELIMITER) {
        return Err(err("the guest agent closed the connection"));
    }
    Ok(())
}

/// Low bits for a sync id that differs between sessions.
fn rand_low() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos() & 0xF_FFFF).unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn exec_status_decodes_output_and_codes() {
        assert_eq!(exec_status(&json!({"exited": false})).unwrap(), None);
        let done = exec_status(&json!({"exited": true, "exitcode": 1, "err-data": "YnVzeQo="})).unwrap().unwrap();
        assert_eq!(done, Exited { code: 1, stdout: String::new(), stderr: "busy\n".into() });
        assert_eq!(exec_status(&json!({"exited": true, "signal": 9})).unwrap().unwrap().code, 137);
        let bad = exec_status(&json!({"exited": true, "exitcode": 0, "out-data": "!!"})).unwrap_err();
        assert!(bad.to_string().contains("not base64"), "{bad}");
    }

    proptest::proptest! {
        /// Whatever the agent sends, the status reader returns or errs; it never panics.
        #[test]
        fn exec_status_never_panics(exited: bool, code: Option<i64>, out in ".{0,40}") {
            let _ = exec_status(&json!({"exited": exited, "exitcode": code, "out-data": out}));
        }
    }

    /// A fake agent: stale bytes before the delimiter are skipped, the sync id is checked,
    /// guest-exec is polled until the program ends.
    #[tokio::test]
    async fn syncs_then_runs_a_program() {
        let (client, server) = tokio::io::duplex(4096);
        let agent = tokio::spawn(async move {
            let (r, mut w) = tokio::io::split(server);
            let mut r = BufReader::new(r);
            let mut polls = 0;
            loop {
                let mut line = Vec::new();
                if r.read_until(b'\n', &mut line).await.unwrap() == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&line);
                let v: Value = serde_json::from_str(text.trim_start_matches('\u{FFFD}').trim()).unwrap();
                let reply = match v["execute"].as_str().unwrap() {
                    "guest-sync-delimited" => {
                        // a stale reply of an earlier session, then the delimiter and the answer
                        w.write_all(b"{\"return\": 7}\n").await.unwrap();
                        w.write_all(&[DELIMITER]).await.unwrap();
                        json!({"return": v["arguments"]["id"]})
                    }
                    "guest-exec" => json!({"return": {"pid": 42}}),
                    "guest-exec-status" => {
                        polls += 1;
                        if polls < 2 {
                            json!({"return": {"exited": false}})
                        } else {
                            json!({"return": {"exited": true, "exitcode": 0, "out-data": "b2sK"}})
                        }
                    }
                    _ => json!({"error": {"class": "CommandNotFound", "desc": "not allowed"}}),
                };
                w.write_all(format!("{reply}\n").as_bytes()).await.unwrap();
            }
        });
        let mut ga = GuestAgent::over(client, Duration::from_secs(5)).await.unwrap();
        let done = ga.run("/usr/lib/gantry/suspend", &[], Duration::from_secs(5)).await.unwrap();
        assert_eq!(done, Exited { code: 0, stdout: "ok\n".into(), stderr: String::new() });
        let e = ga.execute("guest-shutdown", None).await.unwrap_err();
        assert!(e.to_string().contains("not allowed"), "{e}");
        drop(ga);
        agent.await.unwrap();
    }
}

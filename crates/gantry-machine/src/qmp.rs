//! A small QMP client over QEMU's monitor socket (tokio).
//!
//! Messages are JSON objects, one per line ([`parse_message`]); lines are bounded
//! ([`MAX_LINE`]). Asynchronous events QEMU sends between replies are kept (up to
//! [`MAX_QUEUED_EVENTS`]) for [`Qmp::next_event`], which waits for the next one. A QMP socket
//! serves one client at a time: a connection that waits for events uses a monitor of its own
//! (the instance's `qmp-events.sock`).

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::error::{MachineError, Result};
use crate::lines::LineReader;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Longest message line accepted from QEMU (its replies are a few KiB).
pub const MAX_LINE: usize = 1 << 20;
/// Events kept while nobody asks for them; older ones are dropped first.
pub const MAX_QUEUED_EVENTS: usize = 64;

/// The VM stopped (paused): by a write error, a monitor command, or before power-off.
pub const EVENT_STOP: &str = "STOP";
/// The VM runs again after a [`EVENT_STOP`].
pub const EVENT_RESUME: &str = "RESUME";
/// A disk's I/O failed; `data.action` says what QEMU did (`stop` pauses the VM), `data.nospace`
/// whether the host's disk is full.
pub const EVENT_BLOCK_IO_ERROR: &str = "BLOCK_IO_ERROR";

/// One message from QEMU's monitor.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// The first line of a session (`{"QMP": {...}}`).
    Greeting(Value),
    /// A command's result.
    Return(Value),
    /// A command's failure.
    Error {
        class: String,
        desc: String,
    },
    Event(Event),
}

/// An asynchronous event (`{"event": "STOP", "data": {...}, "timestamp": {...}}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: String,
    /// The event's `data` (`null` when it has none).
    pub data: Value,
}

fn err(message: impl Into<String>) -> MachineError {
    MachineError::Qmp { message: message.into() }
}

/// Reads one monitor line (without its newline) as a [`Message`]. Pure: no I/O.
pub fn parse_message(line: &[u8]) -> Result<Message> {
    let shown = || String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned();
    let v: Value = serde_json::from_slice(line).map_err(|e| err(format!("bad message {:?}: {e}", shown())))?;
    let Value::Object(mut o) = v else {
        return Err(err(format!("bad message {:?}: not a JSON object", shown())));
    };
    if let Some(g) = o.remove("QMP") {
        return Ok(Message::Greeting(g));
    }
    if let Some(name) = o.get("event") {
        let Some(name) = name.as_str() else {
            return Err(err(format!("bad message {:?}: the event name is not a string", shown())));
        };
        return Ok(Message::Event(Event { name: name.to_owned(), data: o.remove("data").unwrap_or(Value::Null) }));
    }
    if let Some(r) = o.remove("return") {
        return Ok(Message::Return(r));
    }
    if let Some(e) = o.get("error") {
        let field = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let desc = Some(field("desc")).filter(|d| !d.is_empty()).unwrap_or_else(|| "unknown error".into());
        return Ok(Message::Error { class: field("class"), desc });
    }
    Err(err(format!("bad message {:?}: neither a reply nor an event", shown())))
}

/// One command as QMP (and QEMU's guest agent) read it: a JSON object and a newline.
pub(crate) fn command_line(command: &str, arguments: Option<Value>) -> Vec<u8> {
    let mut msg = json!({ "execute": command });
    if let Some(args) = arguments {
        msg["arguments"] = args;
    }
    let mut bytes = msg.to_string().into_bytes();
    bytes.push(b'\n');
    bytes
}

/// A connected QMP session (capabilities negotiated).
pub struct Qmp {
    reader: LineReader<BufReader<tokio::io::ReadHalf<Box<dyn Stream>>>>,
    writer: tokio::io::WriteHalf<Box<dyn Stream>>,
    events: VecDeque<Event>,
}

impl std::fmt::Debug for Qmp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Qmp")
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);

impl Qmp {
    /// Connects to a unix socket and negotiates capabilities.
    #[cfg(unix)]
    pub async fn connect(path: &Path) -> Result<Self> {
        crate::instance::check_socket_path(path)?;
        let s = tokio::net::UnixStream::connect(path)
            .await
            .map_err(|e| err(format!("cannot connect to {}: {e}", path.display())))?;
        Self::over(s).await
    }

    /// QEMU's monitor socket is a unix socket, which tokio cannot open on Windows.
    #[cfg(not(unix))]
    pub async fn connect(path: &Path) -> Result<Self> {
        Err(err(format!("cannot connect to {}: QEMU's monitor socket needs unix sockets", path.display())))
    }

    /// Connects to a loopback TCP port (Windows) and negotiates capabilities.
    pub async fn connect_tcp(port: u16) -> Result<Self> {
        let s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| err(format!("cannot connect to 127.0.0.1:{port}: {e}")))?;
        Self::over(s).await
    }

    /// A session over any byte stream to a monitor (tests use an in-memory pipe).
    pub async fn over(stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static) -> Result<Self> {
        let (r, w) = tokio::io::split(Box::new(stream) as Box<dyn Stream>);
        let mut q = Self { reader: LineReader::new(BufReader::new(r), MAX_LINE), writer: w, events: VecDeque::new() };
        match tokio::time::timeout(TIMEOUT, q.read_message()).await.map_err(|_| err("no greeting within 10 s"))?? {
            Message::Greeting(_) => {}
            other => return Err(err(format!("unexpected greeting {other:?}"))),
        }
        q.execute("qmp_capabilities", None).await?;
        Ok(q)
    }

    /// The next message; waits as long as it takes (callers bound it).
    async fn read_message(&mut self) -> Result<Message> {
        match self.reader.next_line().await {
            Ok(Some(line)) => parse_message(&line),
            Ok(None) => Err(err("QEMU closed the monitor connection")),
            Err(e) => Err(err(format!("read: {e}"))),
        }
    }

    fn keep(&mut self, ev: Event) {
        tracing::debug!(event = %ev.name, data = %ev.data, "qmp event");
        if self.events.len() >= MAX_QUEUED_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(ev);
    }

    /// Runs a command; returns its `return` value or the QMP error as [`MachineError::Qmp`].
    /// Events that arrive meanwhile are kept for [`Self::next_event`].
    pub async fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value> {
        let bytes = command_line(command, arguments);
        self.writer.write_all(&bytes).await.map_err(|e| err(format!("write: {e}")))?;
        let reply = async {
            loop {
                match self.read_message().await? {
                    Message::Event(ev) => self.keep(ev),
                    Message::Return(r) => return Ok(r),
                    Message::Error { desc, .. } => return Err(err(format!("{command}: {desc}"))),
                    Message::Greeting(_) => return Err(err("a second greeting in one session")),
                }
            }
        };
        tokio::time::timeout(TIMEOUT, reply).await.map_err(|_| err(format!("{command}: no reply within 10 s")))?
    }

    /// The next event, in the order QEMU sent them; waits without a time limit. Cancel-safe
    /// (use it in `select!`).
    pub async fn next_event(&mut self) -> Result<Event> {
        loop {
            if let Some(ev) = self.events.pop_front() {
                return Ok(ev);
            }
            match self.read_message().await? {
                Message::Event(ev) => self.keep(ev),
                other => tracing::debug!(?other, "qmp: a reply nobody asked for"),
            }
        }
    }

    /// `query-status` → e.g. `"running"`.
    pub async fn status(&mut self) -> Result<String> {
        let v = self.execute("query-status", None).await?;
        Ok(v.get("status").and_then(Value::as_str).unwrap_or("unknown").to_owned())
    }

    /// ACPI power button: the guest's init shuts down cleanly.
    pub async fn system_powerdown(&mut self) -> Result<()> {
        self.execute("system_powerdown", None).await.map(|_| ())
    }

    /// Ends QEMU immediately.
    pub async fn quit(&mut self) -> Result<()> {
        match self.execute("quit", None).await {
            Ok(_) => Ok(()),
            // QEMU may close the socket before answering.
            Err(MachineError::Qmp { message }) if message.contains("closed") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A human monitor command; its text output is returned (HMP reports failures as text).
    pub async fn hmp(&mut self, command_line: &str) -> Result<String> {
        let v = self.execute("human-monitor-command", Some(json!({ "command-line": command_line }))).await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// HMP `info usernet`: the user network's connections and `hostfwd` rules, as text.
    pub async fn usernet(&mut self) -> Result<String> {
        self.hmp("info usernet").await
    }

    /// `hostfwd_add`; `rule` like `tcp:127.0.0.1:8080-:8080`. Non-empty output is a failure.
    pub async fn hostfwd_add(&mut self, netdev: &str, rule: &str) -> Result<(), String> {
        match self.hmp(&format!("hostfwd_add {netdev} {rule}")).await {
            Ok(out) if out.trim().is_empty() => Ok(()),
            Ok(out) => Err(out.trim().to_owned()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// `hostfwd_remove`; `rule` like `tcp:127.0.0.1:8080`. QEMU answers every removal, with
    /// "host forwarding rule for RULE removed" when it was there (anything else is a failure).
    pub async fn hostfwd_remove(&mut self, netdev: &str, rule: &str) -> Result<(), String> {
        match self.hmp(&format!("hostfwd_remove {netdev} {rule}")).await {
            Ok(out) if out.trim().is_empty() || out.trim_end().ends_with(" removed") => Ok(()),
            Ok(out) => Err(out.trim().to_owned()),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::AsyncBufReadExt;

    /// A fake QEMU monitor: greeting, capabilities, an event between replies (kept), HMP text errors.
    #[tokio::test]
    async fn talks_qmp() {
        let t = tempfile::tempdir().unwrap();
        let sock = t.path().join("qmp.sock");
        let l = tokio::net::UnixListener::bind(&sock).unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let (r, mut w) = tokio::io::split(s);
            let mut r = BufReader::new(r).lines();
            w.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n").await.unwrap();
            while let Some(line) = r.next_line().await.unwrap() {
                let v: Value = serde_json::from_str(&line).unwrap();
                let reply = match v["execute"].as_str().unwrap() {
                    "qmp_capabilities" => json!({"return": {}}),
                    "query-status" => {
                        w.write_all(b"{\"event\": \"RESUME\"}\n").await.unwrap();
                        json!({"return": {"status": "running", "running": true}})
                    }
                    "human-monitor-command" => {
                        let cmd = v["arguments"]["command-line"].as_str().unwrap();
                        // QEMU 7.2's texts: hostfwd_remove always answers, "removed" or "not found"
                        if cmd.contains(":80-") {
                            json!({"return": "Could not set up host forwarding rule 'tcp:127.0.0.1:80-:80'\r\n"})
                        } else if let Some(rule) = cmd.strip_prefix("hostfwd_remove net0 ") {
                            let found = if rule.ends_with(":8080") { "removed" } else { "not found" };
                            json!({"return": format!("host forwarding rule for {rule} {found}\r\n")})
                        } else {
                            json!({"return": ""})
                        }
                    }
                    _ => json!({"error": {"class": "CommandNotFound", "desc": "nope"}}),
                };
                w.write_all(format!("{reply}\n").as_bytes()).await.unwrap();
            }
        });
        let mut q = Qmp::connect(&sock).await.unwrap();
        assert_eq!(q.status().await.unwrap(), "running");
        // the event that came between the command and its reply is kept, not lost
        assert_eq!(q.next_event().await.unwrap(), Event { name: EVENT_RESUME.into(), data: Value::Null });
        assert!(q.hostfwd_add("net0", "tcp:127.0.0.1:8080-:8080").await.is_ok());
        let e = q.hostfwd_add("net0", "tcp:127.0.0.1:80-:80").await.unwrap_err();
        assert!(e.contains("Could not set up host forwarding"), "{e}");
        assert_eq!(q.hostfwd_remove("net0", "tcp:127.0.0.1:8080").await, Ok(()));
        let e = q.hostfwd_remove("net0", "tcp:127.0.0.1:9").await.unwrap_err();
        assert!(e.contains("not found"), "{e}");
        let e = q.execute("bogus", None).await.unwrap_err();
        assert!(e.to_string().contains("nope"));
        drop(q);
        server.await.unwrap();
    }
}

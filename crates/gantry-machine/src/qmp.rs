//! A small QMP client over QEMU's monitor socket (tokio).
//!
//! Asynchronous events QEMU sends between replies are skipped (and logged).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::error::{MachineError, Result};

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A connected QMP session (capabilities negotiated).
pub struct Qmp {
    reader: BufReader<tokio::io::ReadHalf<Box<dyn Stream>>>,
    writer: tokio::io::WriteHalf<Box<dyn Stream>>,
}

impl std::fmt::Debug for Qmp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Qmp")
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);

fn err(message: impl Into<String>) -> MachineError {
    MachineError::Qmp { message: message.into() }
}

impl Qmp {
    /// Connects to a unix socket and negotiates capabilities.
    #[cfg(unix)]
    pub async fn connect(path: &Path) -> Result<Self> {
        crate::instance::check_socket_path(path)?;
        let s = tokio::net::UnixStream::connect(path)
            .await
            .map_err(|e| err(format!("cannot connect to {}: {e}", path.display())))?;
        Self::handshake(Box::new(s)).await
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
        Self::handshake(Box::new(s)).await
    }

    async fn handshake(s: Box<dyn Stream>) -> Result<Self> {
        let (r, w) = tokio::io::split(s);
        let mut q = Self { reader: BufReader::new(r), writer: w };
        let greeting = q.read_message().await?;
        if greeting.get("QMP").is_none() {
            return Err(err(format!("unexpected greeting {greeting}")));
        }
        q.execute("qmp_capabilities", None).await?;
        Ok(q)
    }

    async fn read_message(&mut self) -> Result<Value> {
        let mut line = String::new();
        let n = tokio::time::timeout(TIMEOUT, self.reader.read_line(&mut line))
            .await
            .map_err(|_| err("no reply within 10 s"))?
            .map_err(|e| err(format!("read: {e}")))?;
        if n == 0 {
            return Err(err("QEMU closed the monitor connection"));
        }
        serde_json::from_str(&line).map_err(|e| err(format!("bad reply {line:?}: {e}")))
    }

    /// Runs a command; returns its `return` value or the QMP error as [`MachineError::Qmp`].
    pub async fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value> {
        let mut msg = json!({ "execute": command });
        if let Some(args) = arguments {
            msg["arguments"] = args;
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(b'\n');
        self.writer.write_all(&bytes).await.map_err(|e| err(format!("write: {e}")))?;
        loop {
            let v = self.read_message().await?;
            if let Some(ev) = v.get("event") {
                tracing::debug!(event = %ev, "qmp event");
                continue;
            }
            if let Some(r) = v.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = v.get("error") {
                let desc = e.get("desc").and_then(Value::as_str).unwrap_or("unknown error");
                return Err(err(format!("{command}: {desc}")));
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

    /// `hostfwd_remove`; `rule` like `tcp:127.0.0.1:8080`.
    pub async fn hostfwd_remove(&mut self, netdev: &str, rule: &str) -> Result<(), String> {
        match self.hmp(&format!("hostfwd_remove {netdev} {rule}")).await {
            Ok(out) if out.trim().is_empty() => Ok(()),
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

    /// A fake QEMU monitor: greeting, capabilities, an event between replies, HMP text errors.
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
                        if cmd.contains(":80-") {
                            json!({"return": "Could not set up host forwarding rule 'tcp:127.0.0.1:80-:80'\r\n"})
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
        assert!(q.hostfwd_add("net0", "tcp:127.0.0.1:8080-:8080").await.is_ok());
        let e = q.hostfwd_add("net0", "tcp:127.0.0.1:80-:80").await.unwrap_err();
        assert!(e.contains("Could not set up host forwarding"), "{e}");
        let e = q.execute("bogus", None).await.unwrap_err();
        assert!(e.to_string().contains("nope"));
        drop(q);
        server.await.unwrap();
    }
}

//! The control socket (`control.sock`, mode 0600): newline-delimited JSON requests
//! `{"request":"status"}`, `{"request":"subscribe"}`, `{"request":"stop"}`; every answer line is
//! a [`VmStatus`]. A line that is not a request is answered with an error status naming the
//! requests; lines are bounded ([`MAX_REQUEST_LINE`], [`MAX_STATUS_LINE`]).

use std::sync::Arc;
use std::time::Duration;

use gantry_machine::lines::LineReader;
use gantry_machine::local::{LocalListener, LocalStream};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::broadcast;

#[cfg(test)]
use gantry_machine::driver::QemuDriver;
#[cfg(test)]
use gantry_machine::instance::Instance;
#[cfg(test)]
use gantry_machine::local::LocalEndpoint;

use super::Shared;
#[cfg(test)]
use crate::vm::error::VmError;
#[cfg(test)]
use crate::vm::status::RunningInfo;
use crate::vm::status::VmStatus;

/// A control-socket request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    Status,
    Subscribe,
    Stop,
}

/// Longest request line the agent reads (a request is a few bytes).
pub const MAX_REQUEST_LINE: usize = 64 << 10;
/// Longest status line a client reads.
pub const MAX_STATUS_LINE: usize = 1 << 20;

/// Reads one request line (without its newline); anything else gives the reason, which
/// [`bad_request`] turns into the answer.
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    serde_json::from_slice(line)
        .map_err(|e| format!("bad request {:?}: {e}", String::from_utf8_lossy(&line[..line.len().min(200)])))
}

/// The answer to a line that is not a request: the error and the requests there are.
pub fn bad_request(message: String) -> VmStatus {
    VmStatus::Error {
        message,
        hint: r#"send {"request":"status"}, {"request":"subscribe"} or {"request":"stop"}"#.into(),
    }
}

/// Serves the control socket; aborting it also ends its connections (they live in its JoinSet).
pub(super) async fn control_server<D: Send + Sync + 'static>(mut listener: LocalListener, shared: Arc<Shared<D>>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let Ok(conn) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let shared = shared.clone();
        conns.spawn(async move {
            if let Err(e) = handle_control(conn, shared).await {
                tracing::debug!(error = %e, "control connection");
            }
        });
    }
}

/// The agent's control-socket server without a VM or a start-up chain, for tests of clients:
/// statuses are published by hand, and dropping it (or [`FakeAgent::exit`]) ends it like the
/// agent's exit does (connections closed, socket removed).
#[cfg(test)]
pub(crate) struct FakeAgent {
    shared: Arc<Shared<QemuDriver>>,
    server: tokio::task::JoinHandle<()>,
}

#[cfg(test)]
impl FakeAgent {
    /// Binds `instance`'s control socket; the current status is `first`.
    pub(crate) fn serve(instance: &Instance, first: VmStatus) -> Result<Self, VmError> {
        instance.ensure().map_err(VmError::io("create", instance.dir()))?;
        let control = instance.control_socket();
        let _ = std::fs::remove_file(&control);
        let listener = LocalListener::bind(&LocalEndpoint::control(instance)).map_err(VmError::Machine)?;
        // a driver that is never started: the control socket does not use it
        let shared = Shared::new(instance, QemuDriver::new(instance.clone()), first, RunningInfo::default());
        let server = tokio::spawn(control_server(listener, shared.clone()));
        Ok(Self { shared, server })
    }

    /// Broadcasts `s` to subscribers, as the agent does.
    pub(crate) fn publish(&self, s: VmStatus) {
        self.shared.publish(s);
    }

    /// Ends like the agent's process: connections closed, socket removed.
    pub(crate) fn exit(self) {
        drop(self);
    }
}

#[cfg(test)]
impl Drop for FakeAgent {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_file(self.shared.instance.control_socket());
    }
}

async fn send(w: &mut (impl AsyncWrite + Unpin), s: &VmStatus) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(s).map_err(std::io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line).await
}

async fn handle_control<D>(conn: LocalStream, shared: Arc<Shared<D>>) -> std::io::Result<()> {
    let (r, mut w) = tokio::io::split(conn);
    let mut lines = LineReader::new(BufReader::new(r), MAX_REQUEST_LINE);
    loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(()),
            Err(e) => {
                let s = VmStatus::Error {
                    message: format!("bad request: {e}"),
                    hint: "requests are one short JSON line each; the connection was closed".into(),
                };
                send(&mut w, &s).await?;
                return Err(e);
            }
        };
        let req = match parse_request(&line) {
            Ok(r) => r,
            Err(why) => {
                send(&mut w, &bad_request(why)).await?;
                continue;
            }
        };
        match req {
            Request::Status => {
                let s = shared.current.borrow().clone();
                send(&mut w, &s).await?;
            }
            Request::Subscribe | Request::Stop => {
                let mut rx = shared.tx.subscribe();
                let s = shared.current.borrow().clone();
                if s.is_settled() {
                    send(&mut w, &s).await?;
                } else {
                    // joined during start: replay the steps so far
                    let past = shared.history.lock().map(|h| h.clone()).unwrap_or_default();
                    for p in past.iter().chain(past.is_empty().then_some(&s)) {
                        send(&mut w, p).await?;
                    }
                }
                if req == Request::Stop {
                    shared.stop.cancel();
                }
                loop {
                    match rx.recv().await {
                        Ok(s) => {
                            send(&mut w, &s).await?;
                            if req == Request::Stop && matches!(s, VmStatus::Stopped) {
                                return Ok(());
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let s = shared.current.borrow().clone();
                            send(&mut w, &s).await?;
                        }
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::vm::status::Step;
    use proptest::prelude::*;

    type Reader = LineReader<BufReader<tokio::io::ReadHalf<LocalStream>>>;

    async fn connect(instance: &Instance) -> (Reader, tokio::io::WriteHalf<LocalStream>) {
        let conn = gantry_machine::local::connect(&LocalEndpoint::control(instance)).await.unwrap();
        let (r, w) = tokio::io::split(conn);
        (LineReader::new(BufReader::new(r), MAX_STATUS_LINE), w)
    }

    async fn answer(r: &mut Reader) -> Option<VmStatus> {
        r.next_line().await.unwrap().map(|l| serde_json::from_slice(&l).unwrap())
    }

    /// Whatever a client sends, each line gets one answer (the status, or an error naming the
    /// requests) and the connection keeps working.
    #[test]
    fn every_line_gets_one_answer_and_the_connection_stays_usable() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let t = tempfile::tempdir().unwrap();
        let inst = Instance::at(t.path().join("default"));
        let current = VmStatus::starting(Step::BootVm, Some("QEMU pid 1".into()));
        let _agent = rt.block_on(async { FakeAgent::serve(&inst, current.clone()) }).unwrap();
        let line = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..120),
            "[^\n]{0,80}".prop_map(String::into_bytes),
            Just(br#"{"request":"status"}"#.to_vec()),
            Just(br#" { "request" : "status", "extra": 1 } "#.to_vec()),
            Just(br#"{"request":"reboot"}"#.to_vec()),
        ]
        .prop_map(|mut l| {
            l.retain(|&b| b != b'\n');
            l
        })
        // subscribe and stop turn the connection into a stream of events (tested elsewhere)
        .prop_filter("not subscribe/stop", |l| matches!(parse_request(l), Ok(Request::Status) | Err(_)));
        gantry_testkit::prop::check(
            "agent control protocol (any request line)",
            file!(),
            0,
            prop::collection::vec(line, 1..8),
            |lines| {
                rt.block_on(async {
                    let (mut r, mut w) = connect(&inst).await;
                    let mut payload = Vec::new();
                    for l in &lines {
                        payload.extend_from_slice(l);
                        payload.push(b'\n');
                    }
                    w.write_all(&payload).await.unwrap();
                    for l in &lines {
                        let got = answer(&mut r).await;
                        // a line may end in CRLF
                        match parse_request(l.strip_suffix(b"\r").unwrap_or(l)) {
                            Ok(_) => assert_eq!(got.as_ref(), Some(&current)),
                            Err(why) => {
                                let want = bad_request(why);
                                assert_eq!(got.as_ref(), Some(&want));
                                assert!(matches!(want, VmStatus::Error { ref hint, .. } if hint.contains(r#"{"request":"status"}"#)));
                            }
                        }
                    }
                });
                Ok(())
            },
        );
    }

    #[test]
    fn an_endless_request_line_is_refused_and_the_agent_keeps_serving() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let t = tempfile::tempdir().unwrap();
        let inst = Instance::at(t.path().join("default"));
        let _agent = rt.block_on(async { FakeAgent::serve(&inst, VmStatus::Stopped) }).unwrap();
        rt.block_on(async {
            let (mut r, mut w) = connect(&inst).await;
            // no newline, ever: the agent stops reading at its bound instead of buffering
            let junk = vec![b'x'; MAX_REQUEST_LINE + 1];
            let _ = w.write_all(&junk).await;
            match answer(&mut r).await {
                Some(VmStatus::Error { message, .. }) => assert!(message.contains("longer than"), "{message}"),
                other => panic!("{other:?}"),
            }
            assert_eq!(answer(&mut r).await, None, "the connection is closed");
            let (mut r, mut w) = connect(&inst).await;
            w.write_all(b"{\"request\":\"status\"}\n").await.unwrap();
            assert_eq!(answer(&mut r).await, Some(VmStatus::Stopped));
        });
        gantry_testkit::reliability::bad_inputs("agent control socket: a request line without end", 1);
    }
}

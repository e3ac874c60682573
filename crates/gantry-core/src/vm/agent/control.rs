//! The control socket (`control.sock`, mode 0600): newline-delimited JSON requests
//! `{"request":"status"}`, `{"request":"subscribe"}`, `{"request":"stop"}`; every answer line is
//! a [`VmStatus`].

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::broadcast;

#[cfg(test)]
use gantry_machine::forward;
#[cfg(test)]
use gantry_machine::instance::Instance;

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

/// Serves the control socket; aborting it also ends its connections (they live in its JoinSet).
pub(super) async fn control_server(listener: tokio::net::UnixListener, shared: Arc<Shared>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let Ok((conn, _)) = accepted else {
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

/// The agent's control-socket server without QEMU or a start-up chain, for tests of clients:
/// statuses are published by hand, and dropping it (or [`FakeAgent::exit`]) ends it like the
/// agent's exit does (connections closed, socket removed).
#[cfg(test)]
pub(crate) struct FakeAgent {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

#[cfg(test)]
impl FakeAgent {
    /// Binds `instance`'s control socket; the current status is `first`.
    pub(crate) fn serve(instance: &Instance, first: VmStatus) -> Result<Self, VmError> {
        instance.ensure().map_err(VmError::io("create", instance.dir()))?;
        let control = instance.control_socket();
        let _ = std::fs::remove_file(&control);
        let listener = forward::bind(&control).map_err(VmError::Machine)?;
        let shared = Shared::new(instance, first, RunningInfo::default());
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

async fn send(w: &mut tokio::net::unix::OwnedWriteHalf, s: &VmStatus) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(s).map_err(std::io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line).await
}

async fn handle_control(conn: tokio::net::UnixStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let (r, mut w) = conn.into_split();
    let mut lines = BufReader::new(r).lines();
    while let Some(line) = lines.next_line().await? {
        let req: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                let s = VmStatus::Error {
                    message: format!("bad request {line:?}: {e}"),
                    hint: r#"send {"request":"status"}, {"request":"subscribe"} or {"request":"stop"}"#.into(),
                };
                send(&mut w, &s).await?;
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
    Ok(())
}

//! The participant's side: join a room with its code (the server must present the certificate the
//! code pins), report step progress, follow the trainer's commands. Nothing but the display name
//! and `{lab, step, status}` is ever sent.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::BodyExt;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::error::{Result, WorkshopError};
use crate::room::code::JoinCode;
use crate::room::http::{self, Body};
use crate::room::server::{JoinRequest, Joined};
use crate::room::state::{Progress, RoomCommand};

/// The membership file in the workshops folder.
pub const MEMBERSHIP_FILE: &str = "room.json";
/// The room certificate saved beside it (what an engine trusts for the mirror).
pub const ROOM_CA_FILE: &str = "room-ca.crt";

/// A participant's membership of a room (kept in [`MEMBERSHIP_FILE`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Membership {
    pub code: String,
    pub name: String,
    pub id: u64,
    pub token: String,
    pub title: String,
    pub labs: Vec<crate::labs::LabOutline>,
    /// `https://ADDRESS:PORT`: the registry mirror the room offers; `None` when the room has no
    /// registry (`serve --no-registry`: everybody imported the bundle).
    pub mirror: Option<String>,
    /// The room's certificate (PEM), pinned by the code.
    pub certificate: String,
}

impl Membership {
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(WorkshopError::io("create", dir))?;
        let path = dir.join(MEMBERSHIP_FILE);
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| WorkshopError::invalid(e.to_string(), ""))?;
        crate::sign::write_private_replacing(&path, &bytes)?;
        let ca = dir.join(ROOM_CA_FILE);
        std::fs::write(&ca, &self.certificate).map_err(WorkshopError::io("write", &ca))
    }

    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(MEMBERSHIP_FILE);
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => WorkshopError::invalid(
                "this computer has not joined a workshop room",
                "join with the code the trainer shows: gantry workshop join CODE --name \"Your name\"",
            ),
            _ => WorkshopError::Io { action: "read", path: path.clone(), source: e },
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| WorkshopError::invalid(format!("{}: {e}", path.display()), "join again"))
    }
}

/// A connection to a room server.
pub struct RoomClient {
    code: JoinCode,
    connector: TlsConnector,
    sender: tokio::sync::Mutex<Option<SendRequest<Body>>>,
    token: String,
}

impl std::fmt::Debug for RoomClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomClient").field("addr", &self.code.addr).finish_non_exhaustive()
    }
}

fn unreachable(addr: SocketAddr, e: impl std::fmt::Display) -> WorkshopError {
    WorkshopError::invalid(
        format!("the workshop room at {addr} cannot be reached: {e}"),
        "check that you are on the room's network (the same Wi-Fi as the trainer) and that the code is today's",
    )
}

impl RoomClient {
    /// A client for the room `code` names (no request sent yet).
    pub fn new(code: &JoinCode) -> Result<Self> {
        let pinned = code.clone();
        let config = crate::room::tls::pinned_client(move |digest| pinned.pins(digest))?;
        Ok(Self {
            code: code.clone(),
            connector: TlsConnector::from(config),
            sender: tokio::sync::Mutex::new(None),
            token: String::new(),
        })
    }

    /// The same client acting for a participant who joined earlier.
    pub fn for_member(membership: &Membership) -> Result<Self> {
        let code = JoinCode::parse(&membership.code).map_err(|e| WorkshopError::invalid(e, "join again"))?;
        let mut client = Self::new(&code)?;
        client.token = membership.token.clone();
        Ok(client)
    }

    /// A TLS connection to the room; the certificate it presented (DER).
    async fn connect(&self) -> Result<(tokio_rustls::client::TlsStream<TcpStream>, Vec<u8>)> {
        let addr = self.code.addr;
        let tcp = tokio::time::timeout(std::time::Duration::from_secs(10), TcpStream::connect(addr))
            .await
            .map_err(|_| unreachable(addr, "no answer within 10 s"))?
            .map_err(|e| unreachable(addr, e))?;
        let _ = tcp.set_nodelay(true);
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let tls = self.connector.connect(name, tcp).await.map_err(|e| {
            WorkshopError::invalid(
                format!("the workshop room at {addr} is not the one the code names: {e}"),
                "ask the trainer for the code again; do not join a room whose certificate does not match",
            )
        })?;
        let cert = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec()).unwrap_or_default();
        Ok((tls, cert))
    }

    /// Sends a request on the kept connection (made again when it closed).
    async fn request(&self, request: Request<Body>) -> Result<(StatusCode, Bytes)> {
        let mut slot = self.sender.lock().await;
        let reusable = match slot.as_mut() {
            Some(sender) => sender.ready().await.is_ok(),
            None => false,
        };
        if !reusable {
            let (tls, _) = self.connect().await?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| unreachable(self.code.addr, e))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            *slot = Some(sender);
        }
        let sender = slot.as_mut().ok_or_else(|| unreachable(self.code.addr, "no connection"))?;
        let response = sender.send_request(request).await.map_err(|e| unreachable(self.code.addr, e))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| unreachable(self.code.addr, e))?.to_bytes();
        Ok((status, body))
    }

    fn post(&self, path: &str, value: &impl Serialize) -> Result<Request<Body>> {
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("host", self.code.addr.to_string())
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", self.token))
            .body(http::full(serde_json::to_vec(value).unwrap_or_default()))
            .map_err(|e| WorkshopError::invalid(e.to_string(), ""))
    }

    /// Joins under `name`; the membership to keep.
    pub async fn join(&mut self, name: &str) -> Result<Membership> {
        let (_, certificate) = self.connect().await?;
        let request = self.post("/api/join", &JoinRequest { secret: self.code.secret_text(), name: name.into() })?;
        let (status, body) = self.request(request).await?;
        if status != StatusCode::OK {
            return Err(refused(status, &body));
        }
        let joined: Joined = serde_json::from_slice(&body).map_err(|e| {
            WorkshopError::invalid(format!("the room answered something unexpected: {e}"), "update Gantry")
        })?;
        self.token = joined.token.clone();
        Ok(Membership {
            code: self.code.to_string(),
            name: name.trim().into(),
            id: joined.id,
            token: joined.token,
            title: joined.title,
            labs: joined.labs,
            mirror: joined.registry.then(|| format!("https://{}", self.code.addr)),
            certificate: pem("CERTIFICATE", &certificate),
        })
    }

    /// Reports progress on a step.
    pub async fn report(&self, progress: &Progress) -> Result<()> {
        let (status, body) = self.request(self.post("/api/progress", progress)?).await?;
        if status != StatusCode::NO_CONTENT {
            return Err(refused(status, &body));
        }
        Ok(())
    }

    /// A plain round trip on the kept connection (what a report costs without the room's work).
    pub async fn ping(&self) -> Result<()> {
        let request = Request::builder()
            .uri("/api/ping")
            .header("host", self.code.addr.to_string())
            .body(http::empty())
            .map_err(|e| WorkshopError::invalid(e.to_string(), ""))?;
        self.request(request).await.map(drop)
    }

    /// Opens an event stream at `path` (with `token` as the `t` parameter) on its own connection;
    /// yields each event's name and data.
    pub async fn events(
        &self,
        path: &str,
        token: &str,
    ) -> Result<impl Stream<Item = (String, String)> + Send + 'static> {
        let (tls, _) = self.connect().await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(tls))
            .await
            .map_err(|e| unreachable(self.code.addr, e))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let request = Request::builder()
            .uri(format!("{path}?t={token}"))
            .header("host", self.code.addr.to_string())
            .header("accept", "text/event-stream")
            .body(http::empty())
            .map_err(|e| WorkshopError::invalid(e.to_string(), ""))?;
        let response = sender.send_request(request).await.map_err(|e| unreachable(self.code.addr, e))?;
        if response.status() != StatusCode::OK {
            let status = response.status();
            let body = response.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
            return Err(refused(status, &body));
        }
        let frames = response.into_body().into_data_stream();
        Ok(sse_events(frames.map(|r| r.map_err(std::io::Error::other))))
    }

    /// The trainer's commands, as they come.
    pub async fn commands(&self) -> Result<impl Stream<Item = RoomCommand> + Send + 'static> {
        let events = self.events("/api/commands", &self.token).await?;
        Ok(events.filter_map(|(event, data)| async move {
            if event == "command" { serde_json::from_str(&data).ok() } else { None }
        }))
    }
}

fn refused(status: StatusCode, body: &[u8]) -> WorkshopError {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let hint = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "join again with the code the trainer shows",
        _ => "check the lab and step names against the workshop's labs (gantry workshop list)",
    };
    WorkshopError::invalid(format!("the workshop room refused ({status}): {message}"), hint)
}

/// Splits a server-sent event stream into `(event, data)` pairs (`event` defaults to `message`;
/// comment lines are skipped; several `data:` lines are joined with newlines).
pub fn sse_events<S>(chunks: S) -> impl Stream<Item = (String, String)> + Send + 'static
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
{
    let state = (Box::pin(chunks), String::new(), std::collections::VecDeque::new());
    futures_util::stream::unfold(state, |(mut chunks, mut buffer, mut ready)| async move {
        loop {
            if let Some(event) = ready.pop_front() {
                return Some((event, (chunks, buffer, ready)));
            }
            match chunks.next().await {
                Some(Ok(bytes)) => {
                    buffer.push_str(&String::from_utf8_lossy(&bytes));
                    ready.extend(take_events(&mut buffer));
                }
                _ => return None,
            }
        }
    })
}

/// Takes the complete events (ended by a blank line) off the front of `buffer`.
pub fn take_events(buffer: &mut String) -> Vec<(String, String)> {
    let mut events = Vec::new();
    let normalized = buffer.replace("\r\n", "\n");
    let mut rest = normalized.as_str();
    while let Some(end) = rest.find("\n\n") {
        let block = &rest[..end];
        rest = &rest[end + 2..];
        let mut event = String::from("message");
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                event = v.trim_start().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if !data.is_empty() {
            events.push((event, data.join("\n")));
        }
    }
    *buffer = rest.to_string();
    events
}

/// `der` as a PEM block labelled `label`.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Used by [`Arc`]-sharing callers (the benchmark drives many clients from tasks).
pub type SharedClient = Arc<RoomClient>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_across_chunks() {
        let mut buffer = String::from(": keep-alive\n\nevent: update\ndata: {\"a\":1}\n\nevent: sn");
        assert_eq!(take_events(&mut buffer), [("update".to_string(), "{\"a\":1}".to_string())]);
        assert_eq!(buffer, "event: sn");
        buffer.push_str("apshot\r\ndata: x\r\ndata: y\r\n\r\n");
        assert_eq!(take_events(&mut buffer), [("snapshot".to_string(), "x\ny".to_string())]);
        assert!(buffer.is_empty());
    }

    #[test]
    fn pem_round_trips_through_the_reader() {
        let der: Vec<u8> = (0..=255).collect();
        assert_eq!(crate::room::tls::pem_der(&pem("CERTIFICATE", &der)), Some(der));
    }
}

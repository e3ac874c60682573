//! The room server: one TLS port on the trainer's laptop for everything the room needs.
//!
//! - `/v2/…` (GET and HEAD only): the room's registry, forwarded to the registry process on
//!   loopback (participants' engines use it as a mirror; nobody can push);
//! - `/room`: the trainer's grid, a plain page (no framework, no external asset, strict CSP) a
//!   projector can show, following `/api/room/events` (server-sent events);
//! - `/api/join`, `/api/progress`, `/api/commands`: what participants' Gantry sends (a display
//!   name, then step progress only) and the trainer's commands it follows;
//! - `/api/room`, `/api/room.csv`, `/api/room/command`: the trainer's side, with the trainer token.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::error::{Result, WorkshopError};
use crate::room::http::{self, Body, answer, error, json, query_param, read_body};
use crate::room::state::{Progress, Room, RoomCommand};

/// The page and its script and style (served as they are; the script renders every
/// participant-supplied string with `textContent`).
const PAGE_HTML: &str = include_str!("page/room.html");
const PAGE_JS: &str = include_str!("page/room.js");
const PAGE_CSS: &str = include_str!("page/room.css");
/// The page's Content-Security-Policy: nothing but its own script, style and event stream.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// Most bytes of a JSON request.
const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// How often an idle event stream gets a comment line (keeps proxies and NATs from closing it).
const KEEPALIVE: Duration = Duration::from_secs(15);

/// What a participant sends to join.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    /// The room secret from the join code.
    pub secret: String,
    pub name: String,
}

/// What a participant gets back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Joined {
    pub id: u64,
    pub token: String,
    pub title: String,
    pub labs: Vec<crate::labs::LabOutline>,
    /// Whether the room serves a registry (a mirror to add); rooms of older Gantry versions did
    /// not say, and had one unless opened with `--no-registry`.
    #[serde(default = "has_registry_by_default")]
    pub registry: bool,
}

fn has_registry_by_default() -> bool {
    true
}

/// Shared by every connection.
#[derive(Debug)]
pub struct ServerState {
    pub room: Arc<Room>,
    /// The room secret (hex) a join must carry.
    pub secret: String,
    /// The trainer's token (hex) for the grid and commands.
    pub trainer_token: String,
    /// The registry process's loopback address, when the room has a registry.
    pub registry: Option<SocketAddr>,
}

/// A running room server.
#[derive(Debug)]
pub struct RoomServer {
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl RoomServer {
    /// Serves `state` on `listener` over TLS.
    pub fn start(listener: TcpListener, tls: Arc<rustls::ServerConfig>, state: Arc<ServerState>) -> Result<Self> {
        let addr = listener.local_addr().map_err(WorkshopError::io("listen on", "the room's port"))?;
        let stop = CancellationToken::new();
        let acceptor = TlsAcceptor::from(tls);
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            tracing::warn!(error = %e, "room server: accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    () = stopped.cancelled() => break,
                };
                let (acceptor, state, stopped) = (acceptor.clone(), state.clone(), stopped.clone());
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "room server: TLS handshake failed"),
                        Err(_) => return tracing::debug!(%peer, "room server: TLS handshake timed out"),
                    };
                    let for_service = stopped.clone();
                    let service = service_fn(move |req| {
                        let (state, stopped) = (state.clone(), for_service.clone());
                        async move { Ok::<_, Infallible>(secure(route(req, &state, &stopped).await)) }
                    });
                    let connection =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service);
                    tokio::select! {
                        result = connection => if let Err(e) = result {
                            tracing::debug!(%peer, error = %e, "room server: connection ended");
                        },
                        () = stopped.cancelled() => {}
                    }
                });
            }
        });
        Ok(Self { addr, stop, task })
    }

    /// Stops accepting and ends every connection.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Headers every answer carries.
fn secure(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Constant-time comparison of a presented token with the expected one.
fn same_token(presented: &str, expected: &str) -> bool {
    let (a, b) = (presented.as_bytes(), expected.as_bytes());
    !b.is_empty() && a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The bearer token of a request (header), or the `t` query parameter (event streams: the
/// browser's EventSource cannot set headers).
fn token(req: &Request<Incoming>) -> String {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
        .or_else(|| query_param(req.uri().query(), "t"))
        .unwrap_or_default()
}

async fn route(req: Request<Incoming>, state: &ServerState, stopped: &CancellationToken) -> Response<Body> {
    let path = req.uri().path().to_string();
    if path == "/v2" || path.starts_with("/v2/") {
        return forward_to_registry(req, state).await;
    }
    let trainer = same_token(&token(&req), &state.trainer_token);
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/") => answer(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "Gantry workshop room. Participants: `gantry workshop join CODE`. Trainer: open the room link `gantry workshop serve` printed.\n",
        ),
        (Method::GET, "/room") => {
            let mut response = answer(StatusCode::OK, "text/html; charset=utf-8", PAGE_HTML);
            response.headers_mut().insert("content-security-policy", HeaderValue::from_static(PAGE_CSP));
            response
        }
        (Method::GET, "/room.js") => answer(StatusCode::OK, "text/javascript; charset=utf-8", PAGE_JS),
        (Method::GET, "/room.css") => answer(StatusCode::OK, "text/css; charset=utf-8", PAGE_CSS),
        (Method::GET, "/api/ping") => answer(StatusCode::OK, "text/plain", "pong"),
        (Method::POST, "/api/join") => join(req, state).await,
        (Method::POST, "/api/progress") => progress(req, state).await,
        (Method::GET, "/api/commands") => {
            if !state.room.is_participant(&token(&req)) {
                return error(StatusCode::UNAUTHORIZED, "unknown participant: join again");
            }
            let commands = tokio_stream_of(state.room.subscribe_commands(), "command");
            event_stream(commands, stopped)
        }
        (_, "/api/room" | "/api/room.csv" | "/api/room/events" | "/api/room/command") if !trainer => {
            error(StatusCode::UNAUTHORIZED, "the trainer's link (with its token) is needed")
        }
        (Method::GET, "/api/room") => json(StatusCode::OK, &state.room.snapshot()),
        (Method::GET, "/api/room.csv") => {
            let mut response = answer(StatusCode::OK, "text/csv; charset=utf-8", state.room.csv());
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"room.csv\""));
            response
        }
        (Method::GET, "/api/room/events") => {
            // Subscribe first, then take the snapshot: no update falls between the two.
            let updates = tokio_stream_of(state.room.subscribe(), "update");
            let snapshot = sse_frame("snapshot", &state.room.snapshot());
            event_stream(futures_util::stream::once(async move { snapshot }).chain(updates), stopped)
        }
        (Method::POST, "/api/room/command") => match read_json::<RoomCommand>(req).await {
            Ok(command) => match state.room.command(command) {
                Ok(sent) => json(StatusCode::OK, &serde_json::json!({ "sent": sent })),
                Err(refused) => error(StatusCode::BAD_REQUEST, &refused.0),
            },
            Err(response) => response,
        },
        _ => error(StatusCode::NOT_FOUND, "no such page"),
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(req: Request<Incoming>) -> std::result::Result<T, Response<Body>> {
    let bytes =
        read_body(req.into_body(), MAX_REQUEST_BYTES).await.map_err(|e| error(StatusCode::PAYLOAD_TOO_LARGE, &e))?;
    serde_json::from_slice(&bytes).map_err(|e| error(StatusCode::BAD_REQUEST, &format!("not the expected JSON: {e}")))
}

async fn join(req: Request<Incoming>, state: &ServerState) -> Response<Body> {
    let request: JoinRequest = match read_json(req).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    if !same_token(&request.secret, &state.secret) {
        return error(StatusCode::FORBIDDEN, "the join code is for another room (or was mistyped)");
    }
    let token = crate::room::random_token();
    match state.room.join(&request.name, token.clone()) {
        Ok(id) => {
            let snapshot = state.room.snapshot();
            let registry = state.registry.is_some();
            json(StatusCode::OK, &Joined { id, token, title: snapshot.title, labs: snapshot.labs, registry })
        }
        Err(refused) => error(StatusCode::BAD_REQUEST, &refused.0),
    }
}

async fn progress(req: Request<Incoming>, state: &ServerState) -> Response<Body> {
    let token = token(&req);
    let progress: Progress = match read_json(req).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    match state.room.report(&token, &progress) {
        Ok(()) => {
            let mut response = Response::new(http::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
        }
        Err(refused) => error(StatusCode::BAD_REQUEST, &refused.0),
    }
}

/// One server-sent event.
fn sse_frame(event: &str, data: &impl Serialize) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {}\n\n", serde_json::to_string(data).unwrap_or_default()))
}

/// A broadcast receiver as a stream of events; a receiver that fell behind gets a `resync` event
/// (the page then fetches the whole grid again).
fn tokio_stream_of<T: Serialize + Clone + Send + 'static>(
    receiver: tokio::sync::broadcast::Receiver<T>,
    event: &'static str,
) -> impl futures_util::Stream<Item = Bytes> + Send + 'static {
    futures_util::stream::unfold(receiver, move |mut receiver| async move {
        match receiver.recv().await {
            Ok(item) => Some((sse_frame(event, &item), receiver)),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                Some((sse_frame("resync", &serde_json::json!({ "missed": n })), receiver))
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => None,
        }
    })
}

/// An event-stream answer from `events`, with keep-alive comments, ended when the server stops.
fn event_stream(
    events: impl futures_util::Stream<Item = Bytes> + Send + 'static,
    stopped: &CancellationToken,
) -> Response<Body> {
    let keepalive = futures_util::stream::unfold((), |()| async {
        tokio::time::sleep(KEEPALIVE).await;
        Some((Bytes::from_static(b": keep-alive\n\n"), ()))
    });
    let merged = futures_util::stream::select(Box::pin(events), Box::pin(keepalive))
        .take_until(stopped.clone().cancelled_owned())
        .map(|bytes| Ok::<_, std::io::Error>(Frame::data(bytes)));
    let mut response = Response::new(BodyExt::boxed_unsync(StreamBody::new(merged)));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    response
}

/// Forwards a registry read to the registry process.
async fn forward_to_registry(req: Request<Incoming>, state: &ServerState) -> Response<Body> {
    let Some(registry) = state.registry else {
        return error(StatusCode::NOT_FOUND, "this room has no registry");
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return error(StatusCode::METHOD_NOT_ALLOWED, "the room's registry is read-only");
    }
    let path_and_query = req.uri().path_and_query().map_or("/v2/", |p| p.as_str()).to_string();
    let mut forward = Request::builder().method(req.method().clone()).uri(path_and_query);
    for (name, value) in req.headers() {
        if name != header::HOST && name != header::CONNECTION {
            forward = forward.header(name, value);
        }
    }
    let forward = match forward.header(header::HOST, registry.to_string()).body(http::empty()) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let stream = match TcpStream::connect(registry).await {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_GATEWAY, &format!("the registry process does not answer: {e}")),
    };
    match http::send(stream, forward).await {
        Ok(response) => response.map(|body| BodyExt::boxed_unsync(body.map_err(std::io::Error::other))),
        Err(e) => error(StatusCode::BAD_GATEWAY, &format!("the registry process failed: {e}")),
    }
}

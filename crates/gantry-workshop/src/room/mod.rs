//! The room: `gantry workshop serve` on the trainer's laptop runs one TLS server with the room's
//! registry (filled from the bundle; a pull-through cache when an upstream is given), the
//! trainer's live grid of participants × steps, and the participants' progress feed; a join code
//! carries its address, its certificate's pin and the room secret. See [`server`] for the routes
//! and [`participant`] for the other side.

pub mod code;
pub mod http;
pub mod participant;
pub mod registry;
pub mod server;
pub mod state;
pub mod tls;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use tokio::net::TcpListener;

use crate::bundle::Bundle;
use crate::error::{Result, WorkshopError};
use crate::labs::LabOutline;
use code::{JoinCode, SECRET_BYTES};
use registry::{Registry, RegistryMode};
use server::{RoomServer, ServerState};
use state::Room;
use tls::RoomCert;

/// The room secret's file in the room folder.
pub const SECRET_FILE: &str = "room-secret";
/// The port the room listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 5443;

/// How to run a room.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub bundle: PathBuf,
    /// The room's folder (certificate, registry storage, logs); kept between runs.
    pub dir: PathBuf,
    /// Where to listen (default `0.0.0.0:5443`: the room's network).
    pub listen: SocketAddr,
    /// The address participants reach (default: this machine's address on its default route).
    pub advertise: Option<IpAddr>,
    /// A pull-through upstream (e.g. `https://registry-1.docker.io`) for images the bundle lacks.
    pub upstream: Option<String>,
    /// Run without a registry (only the grid).
    pub no_registry: bool,
}

/// What a serve is doing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ServeEvent {
    /// Pushing the bundle's images into the registry: blobs and manifests done of total.
    Filling { done: usize, total: usize },
    /// The upstream could not be reached: the room serves the bundle's images only.
    UpstreamUnreachable { upstream: String, reason: String },
    /// The room is open.
    Open { code: String, trainer_url: String, mirror: String, registry: bool, upstream: Option<String> },
}

/// A running room.
#[derive(Debug)]
pub struct ServingRoom {
    pub server: RoomServer,
    pub code: JoinCode,
    pub trainer_token: String,
    pub room: Arc<Room>,
    registry: Option<Registry>,
}

impl ServingRoom {
    /// The trainer's page (the token is in the fragment: browsers never send it in a request line).
    pub fn trainer_url(&self) -> String {
        format!("https://{}/room#t={}", self.code.addr, self.trainer_token)
    }

    pub async fn stop(self) {
        self.server.stop().await;
        if let Some(registry) = self.registry {
            registry.stop().await;
        }
    }
}

/// This machine's address on its default route (no packet is sent); loopback when offline.
pub fn default_address() -> IpAddr {
    UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("10.255.255.255:9").map(|()| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// The labs' outlines from the bundle.
pub fn bundle_labs(bundle: &Bundle) -> Result<Vec<LabOutline>> {
    bundle
        .manifest
        .labs
        .iter()
        .map(|lab| {
            let part = bundle.blob(&lab.digest, &format!("lab {}", lab.id))?;
            LabOutline::from_archive(&lab.id, &bundle.read_part(part, crate::labs::MAX_LAB_BYTES)?)
        })
        .collect()
}

/// Opens the room for `options` (see the module documentation).
pub async fn serve(options: &ServeOptions, progress: &(dyn Fn(ServeEvent) + Send + Sync)) -> Result<ServingRoom> {
    let bundle = Bundle::open(&options.bundle)?;
    bundle.check_signature(None)?;
    let labs = bundle_labs(&bundle)?;
    std::fs::create_dir_all(&options.dir).map_err(WorkshopError::io("create", &options.dir))?;

    let registry = if options.no_registry || bundle.manifest.images.is_empty() && options.upstream.is_none() {
        None
    } else {
        Some(start_registry(&bundle, &options.dir.join("registry"), options.upstream.as_deref(), progress).await?)
    };

    let advertise = options.advertise.unwrap_or_else(|| match options.listen.ip() {
        ip if ip.is_unspecified() => default_address(),
        ip => ip,
    });
    let mut names = vec![advertise, IpAddr::V4(Ipv4Addr::LOCALHOST)];
    if !options.listen.ip().is_unspecified() {
        names.push(options.listen.ip());
    }
    let cert = RoomCert::load_or_create(&options.dir, &names)?;
    let listener = TcpListener::bind(options.listen).await.map_err(|e| {
        WorkshopError::invalid(
            format!("the room cannot listen on {}: {e}", options.listen),
            "another program uses the port: choose another with --listen 0.0.0.0:PORT",
        )
    })?;
    let port = listener.local_addr().map_err(WorkshopError::io("listen on", &options.dir))?.port();
    let secret_bytes = room_secret(&options.dir)?;
    let code = JoinCode::new(SocketAddr::new(advertise, port), &cert.digest(), secret_bytes);
    let room = Arc::new(Room::new(&bundle.manifest.title, labs));
    let state = Arc::new(ServerState {
        room: room.clone(),
        secret: code.secret_text(),
        trainer_token: random_token(),
        registry: registry.as_ref().map(|r| r.addr),
    });
    let server = RoomServer::start(listener, cert.server_config()?, state.clone())?;
    let serving = ServingRoom { server, code, trainer_token: state.trainer_token.clone(), room, registry };
    progress(ServeEvent::Open {
        code: serving.code.to_string(),
        trainer_url: serving.trainer_url(),
        mirror: format!("https://{}", serving.code.addr),
        registry: serving.registry.is_some(),
        upstream: options.upstream.clone(),
    });
    Ok(serving)
}

/// Fills the registry from the bundle (unless an earlier run did), then runs it as the room
/// needs it (a pull-through cache when `upstream` is given).
async fn start_registry(
    bundle: &Bundle,
    dir: &Path,
    upstream: Option<&str>,
    progress: &(dyn Fn(ServeEvent) + Send + Sync),
) -> Result<Registry> {
    let filler = Registry::start(dir, &RegistryMode { upstream: None }).await?;
    if !filler.holds(bundle) {
        filler.fill(bundle, &|done, total| progress(ServeEvent::Filling { done, total })).await?;
    }
    let Some(upstream) = upstream else {
        return Ok(filler);
    };
    // The registry refuses to start as a cache when the upstream does not answer (distribution
    // 2.8 stops at start-up); once running, it falls back to what it holds when the upstream goes.
    if let Err(reason) = probe(upstream).await {
        progress(ServeEvent::UpstreamUnreachable { upstream: upstream.into(), reason });
        return Ok(filler);
    }
    // A pull-through registry takes no pushes: fill first, then serve the same storage as a cache.
    filler.stop().await;
    Registry::start(dir, &RegistryMode { upstream: Some(upstream.into()) }).await
}

/// Whether a TCP connection to the upstream's host and port opens within 5 s.
async fn probe(upstream: &str) -> std::result::Result<(), String> {
    let (scheme, rest) = upstream.split_once("://").ok_or_else(|| format!("{upstream} is not a URL"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let default_port = if scheme == "http" { 80 } else { 443 };
    let target = if authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    };
    match tokio::time::timeout(std::time::Duration::from_secs(5), tokio::net::TcpStream::connect(&target)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 5 s".into()),
    }
}

/// The room secret kept in the room folder (made on first use), so that the join code stays
/// the same when the room is opened again.
fn room_secret(dir: &Path) -> Result<[u8; SECRET_BYTES]> {
    let path = dir.join(SECRET_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let text = text.trim();
        let bytes: Option<Vec<u8>> = (0..text.len())
            .step_by(2)
            .map(|i| text.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect();
        if let Some(secret) = bytes.and_then(|b| <[u8; SECRET_BYTES]>::try_from(b).ok()) {
            return Ok(secret);
        }
        tracing::warn!(path = %path.display(), "the room secret is unreadable; making a new one (a new join code)");
        std::fs::remove_file(&path).map_err(WorkshopError::io("replace", &path))?;
    }
    let secret: [u8; SECRET_BYTES] = random_bytes();
    crate::sign::write_private(&path, code::hex(&secret).as_bytes())?;
    Ok(secret)
}

/// A fresh random token (16 bytes as hex).
pub fn random_token() -> String {
    code::hex(&random_bytes::<16>())
}

fn random_bytes<const N: usize>() -> [u8; N] {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; N];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        tracing::error!("the system's random source failed");
    }
    bytes
}

//! The archive sent to `docker load` for one image, put together from the bundle's parts as it
//! is sent (nothing is unpacked to disk), in the form the engine's image store takes:
//!
//! - classic store: `manifest.json` (Docker's save format) naming one platform's config and
//!   layers, since a classic engine keeps one platform per name;
//! - containerd store: an OCI image layout whose `index.json` names the image's index, with every
//!   platform's manifest, config and layers, so the engine keeps them all.
//!
//! Every part's digest is checked again as it is sent, and a part's last chunk is held back until
//! its digest matched: a part that changed since it was verified breaks the archive before it
//! ends, and the engine keeps nothing of it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::Stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::digest::Hasher;
use crate::error::WorkshopError;
use crate::manifest::Part;
use crate::tarhead;

/// Bytes per chunk read from the bundle.
const CHUNK: usize = 1024 * 1024;

/// Where a member's bytes come from.
#[derive(Debug, Clone)]
pub enum Source {
    Bytes(Bytes),
    /// A part of the bundle, at this offset.
    Part {
        part: Part,
        offset: u64,
    },
}

/// One member of the archive.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub source: Source,
}

impl Member {
    pub fn bytes(name: &str, bytes: Vec<u8>) -> Self {
        Self { name: name.into(), source: Source::Bytes(Bytes::from(bytes)) }
    }

    pub fn part(part: &Part, offset: u64) -> Self {
        Self { name: part.path.clone(), source: Source::Part { part: part.clone(), offset } }
    }

    fn size(&self) -> u64 {
        match &self.source {
            Source::Bytes(b) => b.len() as u64,
            Source::Part { part, .. } => part.size,
        }
    }
}

/// An archive to send.
#[derive(Debug, Clone)]
pub struct LoadArchive {
    pub members: Vec<Member>,
}

/// Counters and the first failure of a stream, shared with whoever awaits the engine.
#[derive(Debug, Default)]
pub struct StreamState {
    pub sent: AtomicU64,
    pub failure: Mutex<Option<WorkshopError>>,
}

impl LoadArchive {
    /// Bytes the archive takes (headers, contents, padding, end marker).
    pub fn len(&self) -> u64 {
        self.members.iter().map(|m| tarhead::member_len(m.size())).sum::<u64>() + tarhead::END.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The archive as a byte stream read from `bundle`; `state` counts bytes sent and keeps the
    /// failure that broke the stream (a corrupt part, an unreadable file).
    pub fn into_stream(
        self,
        bundle: PathBuf,
        state: Arc<StreamState>,
    ) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
        tokio::spawn(async move {
            if let Err(e) = produce(self.members, &bundle, &tx, &state).await {
                let message = e.to_string();
                if let Ok(mut slot) = state.failure.lock() {
                    slot.get_or_insert(e);
                }
                let _ = tx.send(Err(std::io::Error::other(message))).await;
            }
        });
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
    }
}

/// Sends `chunk`; `Err(Cancelled)` when the engine's side went away.
async fn send(
    tx: &tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    state: &StreamState,
    chunk: Bytes,
) -> Result<(), WorkshopError> {
    let n = chunk.len() as u64;
    tx.send(Ok(chunk)).await.map_err(|_| WorkshopError::Cancelled)?;
    state.sent.fetch_add(n, Ordering::Relaxed);
    Ok(())
}

async fn produce(
    members: Vec<Member>,
    bundle: &PathBuf,
    tx: &tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    state: &StreamState,
) -> Result<(), WorkshopError> {
    for member in members {
        let size = member.size();
        let header = tarhead::file_header(&member.name, size).map_err(|e| WorkshopError::invalid(e, ""))?;
        send(tx, state, Bytes::copy_from_slice(&header)).await?;
        match member.source {
            Source::Bytes(bytes) => send(tx, state, bytes).await?,
            Source::Part { part, offset } => {
                let mut file = tokio::fs::File::open(bundle).await.map_err(WorkshopError::io("open", bundle))?;
                file.seek(std::io::SeekFrom::Start(offset)).await.map_err(WorkshopError::io("read", bundle))?;
                let mut file = file.take(part.size);
                let mut hasher = Hasher::new();
                let mut held: Option<Bytes> = None;
                let mut read = 0u64;
                loop {
                    let mut buf = vec![0u8; CHUNK];
                    let n = file.read(&mut buf).await.map_err(WorkshopError::io("read", bundle))?;
                    if n == 0 {
                        break;
                    }
                    buf.truncate(n);
                    hasher.update(&buf);
                    read += n as u64;
                    if let Some(previous) = held.replace(Bytes::from(buf)) {
                        send(tx, state, previous).await?;
                    }
                }
                let digest = hasher.finish();
                if read != part.size {
                    return Err(WorkshopError::Truncated {
                        path: bundle.clone(),
                        reason: format!("{} is cut off (the file changed after it was verified)", part.path),
                    });
                }
                if digest != part.digest {
                    return Err(WorkshopError::Corrupt {
                        path: bundle.clone(),
                        part: part.path,
                        expected: part.digest.to_string(),
                        actual: digest.to_string(),
                    });
                }
                if let Some(last) = held {
                    send(tx, state, last).await?;
                }
            }
        }
        let pad = tarhead::padding(size);
        if pad > 0 {
            send(tx, state, Bytes::from(vec![0u8; pad])).await?;
        }
    }
    send(tx, state, Bytes::from_static(&tarhead::END)).await
}

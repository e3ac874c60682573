//! Running streams: each is forwarded in small batches to a sink and can be cancelled by id.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use gantry_engine::{CancellationToken, EngineStream};
use tokio::io::AsyncWrite;

use serde::{Deserialize, Serialize};

use super::Gantry;
use super::error::{ApiError, ApiResult};

/// How long items are gathered before a batch is sent (one frame at 60 Hz).
pub const BATCH_WINDOW: Duration = Duration::from_millis(16);

type Input = Arc<tokio::sync::Mutex<Pin<Box<dyn AsyncWrite + Send>>>>;

/// What a terminal stream types into and resizes: a container's exec, or a PTY on this computer.
#[derive(Clone)]
pub(crate) enum TerminalControl {
    /// A shell in a container, by its exec id.
    Exec(String),
    /// The host terminal: its shell ends when the stream's entry (the last holder) goes.
    Host(Arc<crate::host_terminal::HostSession>),
}

/// What a stream sends, in order: `Started` with its id, batches of items, then `End` (after an
/// `Error` when it failed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StreamMsg<T> {
    /// The stream's id, first, so the UI can cancel it.
    Started {
        id: u64,
    },
    Items {
        items: Vec<T>,
    },
    Error {
        error: ApiError,
    },
    End,
}

/// The streams this process runs, by id.
#[derive(Default)]
pub struct Streams {
    next: AtomicU64,
    tokens: Mutex<HashMap<u64, CancellationToken>>,
    inputs: Mutex<HashMap<u64, (TerminalControl, Input)>>,
    /// Streams that outlive the engine they watch (the VM status watch), so stopping the engine
    /// does not end them.
    engine_independent: Mutex<HashSet<u64>>,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams").field("running", &self.running()).finish()
    }
}

impl Streams {
    /// How many streams run now.
    pub fn running(&self) -> usize {
        self.tokens.lock().map(|t| t.len()).unwrap_or(0)
    }

    fn register(&self) -> (u64, CancellationToken) {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let token = CancellationToken::new();
        if let Ok(mut t) = self.tokens.lock() {
            t.insert(id, token.clone());
        }
        (id, token)
    }

    fn finish(&self, id: u64) {
        if let Ok(mut t) = self.tokens.lock() {
            t.remove(&id);
        }
        if let Ok(mut k) = self.engine_independent.lock() {
            k.remove(&id);
        }
        if let Ok(mut i) = self.inputs.lock() {
            i.remove(&id);
        }
    }

    /// Stops stream `id`; false when it had already ended.
    pub fn cancel(&self, id: u64) -> bool {
        let token = self.tokens.lock().ok().and_then(|mut t| t.remove(&id));
        if let Ok(mut i) = self.inputs.lock() {
            i.remove(&id);
        }
        token.map(|t| t.cancel()).is_some()
    }

    /// Marks stream `id` as one that goes on when the engine stops.
    pub(crate) fn engine_independent(&self, id: u64) {
        if let Ok(mut k) = self.engine_independent.lock() {
            k.insert(id);
        }
    }

    /// Stops every stream that reads from the engine (the engine is being stopped); streams
    /// marked engine-independent go on.
    pub fn cancel_engine_streams(&self) {
        let keep = self.engine_independent.lock().map(|k| k.clone()).unwrap_or_default();
        let ids: Vec<u64> =
            self.tokens.lock().map(|t| t.keys().copied().filter(|id| !keep.contains(id)).collect()).unwrap_or_default();
        for id in ids {
            self.cancel(id);
        }
    }

    /// Stops every stream (the window closed).
    pub fn cancel_all(&self) {
        let tokens: Vec<CancellationToken> =
            self.tokens.lock().map(|mut t| t.drain().map(|(_, v)| v).collect()).unwrap_or_default();
        for t in tokens {
            t.cancel();
        }
        if let Ok(mut i) = self.inputs.lock() {
            i.clear();
        }
    }

    pub(crate) fn input(&self, id: u64) -> Option<(TerminalControl, Input)> {
        self.inputs.lock().ok().and_then(|i| i.get(&id).cloned())
    }

    /// Forwards a terminal's output like [`Self::forward`], with its input and size control
    /// attached under the same id before the output starts (so an output that ends at once still
    /// drops them).
    pub(crate) fn forward_terminal<T, F>(
        self: &Arc<Self>,
        stream: EngineStream<T>,
        control: TerminalControl,
        input: Pin<Box<dyn AsyncWrite + Send>>,
        sink: F,
    ) -> u64
    where
        T: Send + 'static,
        F: Fn(StreamMsg<T>) + Send + 'static,
    {
        let (id, token) = self.register();
        if let Ok(mut i) = self.inputs.lock() {
            i.insert(id, (control, Arc::new(tokio::sync::Mutex::new(input))));
        }
        self.forward_with(id, token, stream, 64, sink);
        id
    }

    /// Runs `task` (cancellable by id like a stream); `task` gets the cancellation token.
    pub fn spawn_task<F, Fut>(self: &Arc<Self>, task: F) -> u64
    where
        F: FnOnce(u64, CancellationToken) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (id, token) = self.register();
        let streams = Arc::clone(self);
        let fut = task(id, token);
        tokio::spawn(async move {
            fut.await;
            streams.finish(id);
        });
        id
    }

    /// Forwards `stream` to `sink` in batches of at most `max_batch` items gathered for at most
    /// [`BATCH_WINDOW`]; sends `Started` first and `End` (or `Error`) last. Returns the id.
    pub fn forward<T, F>(self: &Arc<Self>, stream: EngineStream<T>, max_batch: usize, sink: F) -> u64
    where
        T: Send + 'static,
        F: Fn(StreamMsg<T>) + Send + 'static,
    {
        let (id, token) = self.register();
        self.forward_with(id, token, stream, max_batch, sink);
        id
    }

    fn forward_with<T, F>(
        self: &Arc<Self>,
        id: u64,
        token: CancellationToken,
        stream: EngineStream<T>,
        max_batch: usize,
        sink: F,
    ) where
        T: Send + 'static,
        F: Fn(StreamMsg<T>) + Send + 'static,
    {
        let streams = Arc::clone(self);
        sink(StreamMsg::Started { id });
        tokio::spawn(async move {
            let mut stream = gantry_engine::cancellable(stream, token);
            let mut buf: Vec<T> = Vec::new();
            let mut deadline: Option<tokio::time::Instant> = None;
            loop {
                let next = match deadline {
                    Some(d) => tokio::time::timeout_at(d, stream.next()).await.ok(),
                    None => Some(stream.next().await),
                };
                match next {
                    None => {
                        flush(&sink, &mut buf);
                        deadline = None;
                    }
                    Some(Some(Ok(item))) => {
                        buf.push(item);
                        if buf.len() >= max_batch {
                            flush(&sink, &mut buf);
                            deadline = None;
                        } else if deadline.is_none() {
                            deadline = Some(tokio::time::Instant::now() + BATCH_WINDOW);
                        }
                    }
                    Some(Some(Err(e))) => {
                        flush(&sink, &mut buf);
                        sink(StreamMsg::Error { error: ApiError::from(e) });
                        break;
                    }
                    Some(None) => {
                        flush(&sink, &mut buf);
                        break;
                    }
                }
            }
            sink(StreamMsg::End);
            streams.finish(id);
        });
    }
}

impl Gantry {
    /// Stops a stream (logs, stats, events, pull, build, terminal, VM start or watch); false when
    /// it had already ended.
    pub async fn stream_cancel(&self, id: u64) -> ApiResult<bool> {
        Ok(self.streams.cancel(id))
    }
}

fn flush<T, F: Fn(StreamMsg<T>)>(sink: &F, buf: &mut Vec<T>) {
    if !buf.is_empty() {
        sink(StreamMsg::Items { items: std::mem::take(buf) });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stopping_the_engine_keeps_engine_independent_streams() {
        let streams = Arc::new(Streams::default());
        let (ended_tx, mut ended) = tokio::sync::mpsc::unbounded_channel();
        let spawn = |name: &'static str| {
            let tx = ended_tx.clone();
            streams.spawn_task(move |_, token| async move {
                token.cancelled().await;
                let _ = tx.send(name);
            })
        };
        let _logs = spawn("logs");
        let watch = spawn("vm watch");
        streams.engine_independent(watch);
        streams.cancel_engine_streams();
        assert_eq!(ended.recv().await, Some("logs"));
        assert!(streams.tokens.lock().unwrap().contains_key(&watch), "the VM watch goes on");
        streams.cancel_all();
        assert_eq!(ended.recv().await, Some("vm watch"));
    }
}

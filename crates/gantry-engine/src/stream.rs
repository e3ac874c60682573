//! Stream helpers shared by every streaming call: boxing and cancellation.

use std::pin::Pin;

use futures_util::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::error::Result;

/// A boxed, sendable stream of engine results. Dropping it cancels the underlying request.
pub type EngineStream<T> = Pin<Box<dyn Stream<Item = Result<T>> + Send>>;

/// Ends `stream` cleanly as soon as `token` is cancelled (the HTTP request is dropped).
pub fn cancellable<T: Send + 'static>(stream: EngineStream<T>, token: CancellationToken) -> EngineStream<T> {
    Box::pin(stream.take_until(token.cancelled_owned()))
}

/// The sending half given to a [`channel_stream`] producer.
#[derive(Debug)]
pub struct Sender<T> {
    tx: tokio::sync::mpsc::Sender<Result<T>>,
}

impl<T> Sender<T> {
    /// Sends one item; false when the consumer dropped the stream (stop producing).
    pub async fn send(&self, item: Result<T>) -> bool {
        self.tx.send(item).await.is_ok()
    }

    /// Resolves when the consumer has dropped the stream.
    pub async fn closed(&self) {
        self.tx.closed().await;
    }
}

/// Runs `producer` on a task and streams what it sends; an `Err` it returns becomes the last
/// item. Dropping the stream aborts the task, cancelling whatever request it was making.
pub fn channel_stream<T, F, Fut>(producer: F) -> EngineStream<T>
where
    T: Send + 'static,
    F: FnOnce(Sender<T>) -> Fut,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let error_tx = tx.clone();
    let fut = producer(Sender { tx });
    let task = tokio::spawn(async move {
        if let Err(e) = fut.await {
            let _ = error_tx.send(Err(e)).await;
        }
    });
    let guard = AbortOnDrop(task);
    Box::pin(futures_util::stream::unfold((rx, guard), |(mut rx, guard)| async move {
        rx.recv().await.map(|item| (item, (rx, guard)))
    }))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

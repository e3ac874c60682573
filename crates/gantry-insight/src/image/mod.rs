//! Looking inside images: the `docker save` stream read in one pass ([`archive`]), the layer
//! analysis ([`layers`], with dive's score in [`dive`]).

pub mod archive;
pub mod dive;
pub mod layers;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::StreamExt;
use gantry_engine::{Engine, EngineError};

use crate::InsightError;
use archive::{ContentCollector, NoContent, SavedImage, read_saved_image};
use layers::ImageLayers;

/// How many chunks of the export may wait between the engine and the reader (bounded memory).
const CHUNKS_IN_FLIGHT: usize = 16;

/// Reads `reference` from the engine's export stream, handing wanted file contents to
/// `collector`. `progress` (if given) counts the bytes read so far. Dropping the future stops
/// the export.
pub async fn read_image<C>(
    engine: &Engine,
    reference: &str,
    collector: C,
    progress: Option<Arc<AtomicU64>>,
) -> Result<(SavedImage, C), InsightError>
where
    C: ContentCollector + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, EngineError>>(CHUNKS_IN_FLIGHT);
    let mut stream = engine.export_image(reference);
    let forward = tokio::spawn(async move {
        while let Some(item) = stream.next().await {
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    let _stop_forwarding = AbortOnDrop(forward);
    let reading = tokio::task::spawn_blocking(move || {
        let mut reader = ChannelReader { rx, current: Bytes::new(), engine_error: None, progress };
        let mut collector = collector;
        let result = read_saved_image(&mut reader, &mut collector);
        (result, reader.engine_error.take(), collector)
    });
    let (result, engine_error, collector) =
        reading.await.map_err(|e| InsightError::Archive { message: format!("the reader stopped: {e}") })?;
    if let Some(e) = engine_error {
        return Err(e.into());
    }
    Ok((result?, collector))
}

/// Reads an image from the engine and analyses its layers.
pub async fn analyze_layers(
    engine: &Engine,
    reference: &str,
    progress: Option<Arc<AtomicU64>>,
) -> Result<ImageLayers, InsightError> {
    let (image, _) = read_image(engine, reference, NoContent, progress).await?;
    let reference = reference.to_string();
    tokio::task::spawn_blocking(move || ImageLayers::new(&reference, image))
        .await
        .map_err(|e| InsightError::Archive { message: format!("the analysis stopped: {e}") })
}

/// A blocking `Read` over the chunks the export task sends.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, EngineError>>,
    current: Bytes,
    engine_error: Option<EngineError>,
    progress: Option<Arc<AtomicU64>>,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => {
                    let message = e.to_string();
                    self.engine_error = Some(e);
                    return Err(std::io::Error::other(message));
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        if let Some(progress) = &self.progress {
            progress.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

//! The engine's event stream, explained: what the Events panel and `gantry events --explain`
//! show.

use futures_util::StreamExt;
use gantry_engine::{Engine, EngineEvent, EngineStream, Event, EventFilter, channel_stream};
use serde::{Deserialize, Serialize};

use super::{ContainerFacts, Explainer, Explanation, facts_needed};
use crate::Lang;

/// An item of the explained stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
// Nearly every item is an `Event`: boxing it would only add an allocation per item.
#[allow(clippy::large_enum_variant)]
pub enum ExplainedEvent {
    /// An engine event and what it means.
    Event { event: Event, explanation: Explanation },
    /// The connection to the engine was lost; the stream retries after `retry_in_ms`.
    Disconnected { reason: String, attempt: u32, retry_in_ms: u64 },
    /// The engine answers again.
    Reconnected { attempt: u32 },
}

/// Engine events as they happen, each explained in `lang`. A container's inspect data is read
/// when its event needs it (a `die`, a health change, a start), so the explanation can say
/// "out of memory" or show the failing health check's output. Dropping the stream ends it.
pub fn explained_events(engine: &Engine, filter: &EventFilter, lang: Lang) -> EngineStream<ExplainedEvent> {
    let engine = engine.clone();
    let filter = filter.clone();
    channel_stream(move |tx| async move {
        let mut events = engine.events(&filter);
        let mut explainer = Explainer::new(lang);
        while let Some(item) = events.next().await {
            let explained = match item? {
                EngineEvent::Event { event, .. } => {
                    let facts = match facts_needed(&event) {
                        Some(container) => read_facts(&engine, &event, container).await,
                        None => None,
                    };
                    let explanation = explainer.explain(&event, facts);
                    ExplainedEvent::Event { event, explanation }
                }
                EngineEvent::Disconnected { reason, attempt, retry_in_ms } => {
                    ExplainedEvent::Disconnected { reason, attempt, retry_in_ms }
                }
                EngineEvent::Reconnected { attempt } => ExplainedEvent::Reconnected { attempt },
            };
            if !tx.send(Ok(explained)).await {
                break;
            }
        }
        Ok(())
    })
}

/// How long to wait for the engine to record why a start failed.
const START_ERROR_WAIT: std::time::Duration = std::time::Duration::from_millis(100);
const START_ERROR_TRIES: u32 = 10;

/// The container's inspect data. After a failed start the network is disconnected before the
/// engine records the error, so for a container that never ran the error is waited for briefly.
async fn read_facts(engine: &Engine, event: &Event, container: &str) -> Option<ContainerFacts> {
    let mut facts = None;
    for _ in 0..START_ERROR_TRIES {
        facts = engine.inspect_container(container).await.ok().map(|d| ContainerFacts::from_inspect(&d.raw));
        let waiting =
            event.resource == "network" && facts.as_ref().is_some_and(|f| f.status == "created" && f.error.is_empty());
        if !waiting {
            break;
        }
        tokio::time::sleep(START_ERROR_WAIT).await;
    }
    facts
}

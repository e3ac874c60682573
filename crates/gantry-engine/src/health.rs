//! Whether the engine answers, and how fast: a ping at a steady pace, for the status line's
//! latency and for noticing a lost connection (SSH dropped, engine restarted) and its return.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::events::reconnect_delay;
use crate::stream::{EngineStream, channel_stream};

/// Longest a health ping may take before the engine counts as lost.
pub const PING_LIMIT: Duration = Duration::from_secs(10);

/// One reading of the connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Health {
    /// The engine answered a ping in `latency_ms`; `recovered` on the first answer after a loss.
    Up { latency_ms: f64, recovered: bool },
    /// No answer: why, how many tries so far, and when the next one is.
    Lost { reason: String, attempt: u32, retry_in_ms: u64 },
}

impl Engine {
    /// Pings every `every` until dropped: `Up` with the round trip each time, `Lost` (retried
    /// with backoff, at most `every` apart) while it does not answer, then `Up { recovered }`.
    pub fn watch_health(&self, every: Duration) -> EngineStream<Health> {
        let engine = self.clone();
        channel_stream(move |tx| async move {
            let mut attempt: u32 = 0;
            loop {
                let reading = engine.latency(PING_LIMIT).await;
                let (item, wait) = match reading {
                    Ok(latency) => {
                        let recovered = attempt > 0;
                        attempt = 0;
                        (Health::Up { latency_ms: latency.as_secs_f64() * 1e3, recovered }, every)
                    }
                    Err(e) => {
                        attempt += 1;
                        let wait = reconnect_delay(attempt).min(every);
                        let reason = e.to_string();
                        tracing::info!(%reason, attempt, "engine not answering");
                        (Health::Lost { reason, attempt, retry_in_ms: wait.as_millis() as u64 }, wait)
                    }
                };
                if !tx.send(Ok(item)).await {
                    return Ok(());
                }
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = tx.closed() => return Ok(()),
                }
            }
        })
    }
}

//! The engine's event stream, described in plain words, reconnecting when the engine restarts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use bollard::models::EventMessage;
use bollard::query_parameters::EventsOptions;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::error::ResourceKind;
use crate::stream::{EngineStream, channel_stream};

/// One thing that happened in the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Event {
    /// `container`, `image`, `volume`, `network`, `daemon`, ...
    pub resource: String,
    /// `start`, `die`, `create`, `pull`, `destroy`, `connect`, ...
    pub action: String,
    /// The object's ID (or name, for images and volumes).
    pub id: String,
    /// The container's (or network's) name, when the engine says.
    pub name: Option<String>,
    pub attributes: BTreeMap<String, String>,
    /// Seconds since the Unix epoch.
    pub time: i64,
    pub time_nano: i64,
}

impl Event {
    fn from_raw(raw: EventMessage) -> Self {
        let actor = raw.actor.unwrap_or_default();
        let attributes: BTreeMap<String, String> = actor.attributes.unwrap_or_default().into_iter().collect();
        Self {
            resource: raw.typ.map(|t| t.to_string()).unwrap_or_default(),
            // Health checks come as "health_status: healthy"; keep the verb short.
            action: raw.action.unwrap_or_default(),
            id: actor.id.unwrap_or_default(),
            name: attributes.get("name").cloned(),
            attributes,
            time: raw.time.unwrap_or_default(),
            time_nano: raw.time_nano.unwrap_or_default(),
        }
    }

    /// The event in plain words, e.g. "container web started from image nginx:1.27".
    pub fn describe(&self) -> String {
        let short_id: String = self.id.trim_start_matches("sha256:").chars().take(12).collect();
        let name = self.name.clone().unwrap_or_else(|| short_id.clone());
        let attr = |k: &str| self.attributes.get(k).cloned().unwrap_or_default();
        match (self.resource.as_str(), self.action.as_str()) {
            ("container", "create") => format!("container {name} created from image {}", attr("image")),
            ("container", "start") => format!("container {name} started from image {}", attr("image")),
            ("container", "die") => format!("container {name} stopped (exit code {})", attr("exitCode")),
            ("container", "kill") => format!("container {name} was sent signal {}", attr("signal")),
            ("container", "stop") => format!("container {name} was asked to stop"),
            ("container", "destroy") => format!("container {name} removed"),
            ("container", "pause") => format!("container {name} paused"),
            ("container", "unpause") => format!("container {name} resumed"),
            ("container", "restart") => format!("container {name} restarted"),
            ("container", "rename") => {
                format!("container {} renamed to {name}", attr("oldName").trim_start_matches('/'))
            }
            ("container", "oom") => format!("container {name} ran out of memory"),
            ("container", a) if a.starts_with("exec_start") => {
                format!("command run in container {name}: {}", a.trim_start_matches("exec_start:").trim())
            }
            ("container", a) if a.starts_with("exec_") => format!("container {name}: {}", a.replace('_', " ")),
            ("container", a) if a.starts_with("health_status") => {
                format!("container {name} is {}", a.trim_start_matches("health_status:").trim())
            }
            ("image", "pull") => format!("image {} pulled", self.id),
            ("image", "push") => format!("image {} pushed", self.id),
            ("image", "tag") => format!("image {short_id} tagged {}", attr("name")),
            ("image", "untag") => format!("image {short_id} untagged"),
            ("image", "delete") => format!("image {short_id} deleted"),
            ("image", "import") => format!("image {short_id} imported"),
            ("image", "load") => format!("image {} loaded", self.name.clone().unwrap_or(self.id.clone())),
            ("image", "save") => format!("image {} saved to a file", self.name.clone().unwrap_or(self.id.clone())),
            ("volume", "create") => format!("volume {} created", self.id),
            ("volume", "destroy") => format!("volume {} removed", self.id),
            ("volume", "mount") => format!(
                "volume {} mounted at {} in container {}",
                self.id,
                attr("destination"),
                short(&attr("container"))
            ),
            ("volume", "unmount") => {
                format!("volume {} unmounted from container {}", self.id, short(&attr("container")))
            }
            ("network", "create") => format!("network {name} created ({})", attr("type")),
            ("network", "destroy") => format!("network {name} removed"),
            ("network", "connect") => format!("container {} joined network {name}", short(&attr("container"))),
            ("network", "disconnect") => format!("container {} left network {name}", short(&attr("container"))),
            ("daemon", "reload") => "engine configuration reloaded".into(),
            (resource, action) => format!("{resource} {name}: {action}"),
        }
    }
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

/// An item of the event stream: an engine event, or news about the connection itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EngineEvent {
    /// Something happened in the engine.
    Event { event: Event, description: String },
    /// The connection to the engine was lost; the stream retries after `retry_in_ms`.
    Disconnected { reason: String, attempt: u32, retry_in_ms: u64 },
    /// The engine answers again; events since the last one seen are replayed.
    Reconnected { attempt: u32 },
}

/// Which events to receive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct EventFilter {
    /// Only these resources (`container`, `image`, ...); all when empty.
    pub resources: Vec<String>,
    /// Only events of this container (name or ID).
    pub container: Option<String>,
    /// Replay events since this Unix time (seconds).
    pub since: Option<i64>,
}

/// Backoff between reconnect attempts: 250 ms doubling to at most 5 s.
pub fn reconnect_delay(attempt: u32) -> Duration {
    Duration::from_millis((250u64 << attempt.min(5)).min(5_000))
}

/// Seconds before the newest delivered event whose events are still remembered.
const REPLAY_MARGIN_SECS: i64 = 2;

/// The events a stream delivered lately, to drop the repeats a replay brings after a reconnect
/// (it resumes from the newest event's second).
///
/// The engine stamps an event before it queues it, so events logged at the same moment (two
/// clients at work) can arrive slightly out of time order: a "newest time seen" mark would drop
/// the late one as a repeat. Events are remembered by their identity instead, for the seconds a
/// replay can bring back.
#[derive(Debug, Default)]
struct Delivered {
    newest_secs: Option<i64>,
    recent: HashSet<(i64, String, String, String)>,
}

impl Delivered {
    /// True the first time `event` is seen (and remembers it); false for a repeat.
    fn first_time(&mut self, event: &Event) -> bool {
        if event.time_nano != 0 {
            let key = (event.time_nano, event.resource.clone(), event.action.clone(), event.id.clone());
            if !self.recent.insert(key) {
                return false;
            }
        }
        // (An engine that does not stamp nanoseconds leaves nothing to tell repeats by.)
        if self.newest_secs.is_none_or(|newest| event.time > newest) {
            self.newest_secs = Some(event.time);
            let oldest_kept = event.time - REPLAY_MARGIN_SECS;
            self.recent.retain(|(nano, ..)| nano.div_euclid(1_000_000_000) >= oldest_kept);
        }
        true
    }

    /// The second a replay starts from: the newest event's.
    fn newest_secs(&self) -> Option<i64> {
        self.newest_secs
    }
}

impl Engine {
    /// Streams engine events until dropped. When the engine goes away the stream says so,
    /// retries with backoff, and continues (replaying what was missed) once it is back.
    pub fn events(&self, filter: &EventFilter) -> EngineStream<EngineEvent> {
        let engine = self.clone();
        let filter = filter.clone();
        channel_stream(move |tx| async move {
            let mut since = filter.since;
            // What was delivered; the replay after a reconnect skips it.
            let mut delivered = Delivered::default();
            let mut attempt: u32 = 0;
            loop {
                let mut filters: HashMap<String, Vec<String>> = HashMap::new();
                if !filter.resources.is_empty() {
                    filters.insert("type".into(), filter.resources.clone());
                }
                if let Some(c) = &filter.container {
                    filters.insert("container".into(), vec![c.clone()]);
                }
                let options = EventsOptions {
                    since: since.map(|s| s.to_string()),
                    until: None,
                    filters: (!filters.is_empty()).then_some(filters),
                };
                let mut raw = engine.docker.events(Some(options));
                let reason = loop {
                    tokio::select! {
                        item = raw.next() => match item {
                            Some(Ok(message)) => {
                                if attempt > 0 {
                                    if !tx.send(Ok(EngineEvent::Reconnected { attempt })).await { return Ok(()); }
                                    attempt = 0;
                                }
                                let event = Event::from_raw(message);
                                if !delivered.first_time(&event) {
                                    continue;
                                }
                                // Resume from the newest second on reconnect; `delivered` drops the repeats.
                                since = delivered.newest_secs().or(since);
                                let description = event.describe();
                                if !tx.send(Ok(EngineEvent::Event { event, description })).await { return Ok(()); }
                            }
                            Some(Err(e)) => break engine.err(e, ResourceKind::Engine, "").to_string(),
                            None => break "the engine closed the event stream".to_string(),
                        },
                        () = tx.closed() => return Ok(()),
                    }
                };
                // Wait for the engine to answer again, telling the consumer what we do.
                loop {
                    attempt += 1;
                    let delay = reconnect_delay(attempt);
                    tracing::info!(%reason, attempt, ?delay, "engine event stream lost; reconnecting");
                    let news = EngineEvent::Disconnected {
                        reason: reason.clone(),
                        attempt,
                        retry_in_ms: delay.as_millis() as u64,
                    };
                    if !tx.send(Ok(news)).await {
                        return Ok(());
                    }
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = tx.closed() => return Ok(()),
                    }
                    if engine.ping().await.is_ok() {
                        if since.is_none() {
                            since = Some(
                                std::time::SystemTime::now()
                                    .duration_since(std::time::UNIX_EPOCH)
                                    .map_or(0, |d| d.as_secs() as i64),
                            );
                        }
                        break;
                    }
                }
                if !tx.send(Ok(EngineEvent::Reconnected { attempt })).await {
                    return Ok(());
                }
                attempt = 0;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(resource: &str, action: &str, attrs: &[(&str, &str)]) -> Event {
        let attributes: BTreeMap<String, String> = attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Event {
            resource: resource.into(),
            action: action.into(),
            id: "0123456789abcdef0123".into(),
            name: attributes.get("name").cloned(),
            attributes,
            time: 0,
            time_nano: 0,
        }
    }

    #[test]
    fn plain_words() {
        assert_eq!(
            ev("container", "start", &[("name", "web"), ("image", "nginx:1.27")]).describe(),
            "container web started from image nginx:1.27"
        );
        assert_eq!(
            ev("container", "die", &[("name", "web"), ("exitCode", "137")]).describe(),
            "container web stopped (exit code 137)"
        );
        assert_eq!(
            ev("network", "connect", &[("name", "front"), ("container", "abcdef0123456789")]).describe(),
            "container abcdef012345 joined network front"
        );
        assert_eq!(
            ev("container", "exec_start: sh -c ls", &[("name", "web")]).describe(),
            "command run in container web: sh -c ls"
        );
    }

    fn at(nano: i64, action: &str) -> Event {
        Event { time: nano.div_euclid(1_000_000_000), time_nano: nano, ..ev("volume", action, &[]) }
    }

    #[test]
    fn events_out_of_time_order_are_all_delivered() {
        // Two clients at work: the engine stamps "push" first but queues "create" first.
        let mut delivered = Delivered::default();
        assert!(delivered.first_time(&at(10_500_000_000, "create")));
        assert!(delivered.first_time(&at(10_400_000_000, "push")));
        assert!(delivered.first_time(&at(9_999_000_000, "mount")), "across a second boundary too");
        assert_eq!(delivered.newest_secs(), Some(10));
    }

    #[test]
    fn a_replay_drops_what_was_delivered() {
        let mut delivered = Delivered::default();
        let first = [at(10_100_000_000, "create"), at(10_200_000_000, "mount"), at(11_000_000_000, "unmount")];
        for e in &first {
            assert!(delivered.first_time(e));
        }
        // The replay from second 11 repeats the last one; the same instant with another action is new.
        assert!(!delivered.first_time(&first[2]));
        assert!(delivered.first_time(&at(11_000_000_000, "destroy")));
        assert!(!delivered.first_time(&first[0]), "still remembered a second later");
    }

    #[test]
    fn old_events_are_forgotten() {
        let mut delivered = Delivered::default();
        for s in 0..1_000i64 {
            assert!(delivered.first_time(&at(s * 1_000_000_000, "create")));
        }
        assert!(delivered.recent.len() <= (REPLAY_MARGIN_SECS + 1) as usize, "{}", delivered.recent.len());
    }

    #[test]
    fn engines_without_nanoseconds_repeat_nothing_away() {
        let mut delivered = Delivered::default();
        let unstamped = Event { time: 7, ..ev("volume", "create", &[]) };
        assert!(delivered.first_time(&unstamped));
        assert!(delivered.first_time(&unstamped));
        assert_eq!(delivered.newest_secs(), Some(7), "a replay still starts from its second");
    }

    #[test]
    fn backoff_is_capped() {
        assert_eq!(reconnect_delay(1), Duration::from_millis(500));
        assert_eq!(reconnect_delay(20), Duration::from_secs(5));
    }
}

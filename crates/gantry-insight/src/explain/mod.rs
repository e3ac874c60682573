//! What just happened: every engine event in plain language, with what it means for the user
//! (exit codes, out-of-memory kills, health checks, ports that did not publish) in English or
//! Russian, and the lab that teaches it.
//!
//! [`explain`] is a pure function of the event and an [`EventContext`] (the container's inspect
//! data and what happened to it just before); [`Explainer`] keeps that recent history for a
//! stream of events.

mod facts;
pub mod lab_topics;
mod stream;
mod texts;

use std::collections::HashMap;

use gantry_engine::Event;
use serde::{Deserialize, Serialize};

use crate::Lang;
pub use facts::{ContainerFacts, HealthFacts};
pub use stream::{ExplainedEvent, explained_events};

/// What kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Situation {
    ContainerCreated,
    ContainerStarted,
    /// Exit code 0.
    ContainerFinished,
    /// Exit codes 1–125 without a more specific reason.
    ContainerFailed,
    /// Exit code 126: the command exists but cannot be run.
    CommandNotExecutable,
    /// Exit code 127: the command does not exist.
    CommandNotFound,
    /// The kernel killed the container for using more memory than it may.
    OutOfMemory,
    /// `docker stop` waited, then killed it (exit code 137 after SIGTERM).
    StopTimeoutKilled,
    /// Killed with SIGKILL (exit code 137) by `docker kill` or another process.
    Killed,
    /// Ended by a signal (exit code 128 + signal, e.g. 143 = SIGTERM).
    StoppedBySignal,
    /// The container could not start (the engine's error says why).
    StartFailed,
    /// A port was to be published on the host and is not.
    PortNotPublished,
    HealthStarting,
    Healthy,
    Unhealthy,
    ContainerAttached,
    SignalSent,
    StopRequested,
    ContainerRemoved,
    ContainerPaused,
    ContainerResumed,
    ContainerRestarted,
    ContainerRenamed,
    ExecStarted,
    ExecFailed,
    ImagePulled,
    ImagePushed,
    ImageTagged,
    ImageUntagged,
    ImageDeleted,
    ImageLoaded,
    ImageSaved,
    ImageImported,
    VolumeCreated,
    VolumeRemoved,
    VolumeMounted,
    VolumeUnmounted,
    NetworkCreated,
    NetworkRemoved,
    NetworkConnected,
    NetworkDisconnected,
    EngineReloaded,
    /// Anything else, described in the engine's words.
    Other,
}

/// How the news should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Info,
    Good,
    Warning,
    Problem,
}

/// An event in plain language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Explanation {
    pub situation: Situation,
    pub tone: Tone,
    /// What happened, in one line.
    pub headline: String,
    /// What it means for the user and what to do, in one or two sentences.
    pub meaning: String,
    /// The engine's own words when they add something (an error, a health check's output).
    pub detail: Option<String>,
    pub exit_code: Option<i64>,
    /// The lab that teaches this (a lab id).
    pub lab: Option<String>,
}

/// What is known around an event besides the event itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EventContext {
    /// The container's inspect data, read when the event arrived (gone for removed containers).
    pub facts: Option<ContainerFacts>,
    /// The engine reported an out-of-memory kill for this container just before.
    pub oom_seen: bool,
    /// Signals sent to the container since it last started (`15`, `9`, …), in order.
    pub signals: Vec<String>,
    /// For network and volume events: the name of the container they are about.
    pub container_name: Option<String>,
}

/// Explains one event.
pub fn explain(event: &Event, context: &EventContext, lang: Lang) -> Explanation {
    texts::explain(event, context, lang)
}

/// The container whose inspect data explaining this event needs, if any: the container of a
/// `die`, `start`, `oom` or health event, and of a network `disconnect` (a start that failed
/// shows only as its network being disconnected again).
pub fn facts_needed(event: &Event) -> Option<&str> {
    match (event.resource.as_str(), event.action.as_str()) {
        ("container", "die" | "start" | "oom") => Some(&event.id),
        ("container", action) if action.starts_with("health_status") => Some(&event.id),
        ("network", "disconnect") => event.attributes.get("container").map(String::as_str),
        _ => None,
    }
}

/// Explains a stream of events, remembering what happened to each container just before
/// (out-of-memory reports, signals) so a later `die` is explained right.
#[derive(Debug, Default)]
pub struct Explainer {
    lang: Lang,
    recent: HashMap<String, EventContext>,
    /// Container names by ID, learnt from container events (network events carry only the ID).
    names: HashMap<String, String>,
}

impl Explainer {
    pub fn new(lang: Lang) -> Self {
        Self { lang, recent: HashMap::new(), names: HashMap::new() }
    }

    /// Explains `event`; `facts` is the container's inspect data when available.
    pub fn explain(&mut self, event: &Event, facts: Option<ContainerFacts>) -> Explanation {
        if event.resource != "container" {
            let container_name = event
                .attributes
                .get("container")
                .and_then(|id| self.names.get(id).cloned())
                .or_else(|| facts.as_ref().map(|f| f.name.clone()).filter(|n| !n.is_empty()));
            return explain(event, &EventContext { facts, container_name, ..EventContext::default() }, self.lang);
        }
        if let Some(name) = &event.name {
            self.names.insert(event.id.clone(), name.clone());
        }
        let remembered = self.recent.entry(event.id.clone()).or_default();
        match event.action.as_str() {
            "start" | "restart" => *remembered = EventContext::default(),
            "oom" => remembered.oom_seen = true,
            "kill" => remembered.signals.push(event.attributes.get("signal").cloned().unwrap_or_default()),
            _ => {}
        }
        let context = EventContext { facts, ..remembered.clone() };
        let explanation = explain(event, &context, self.lang);
        if event.action == "destroy" {
            self.recent.remove(&event.id);
            self.names.remove(&event.id);
        }
        explanation
    }
}

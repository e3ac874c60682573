//! The live checker: a stream of typed [`LabEvent`]s for one learner's lab.
//!
//! Checks are evaluated once when their step starts, then again only when something that can
//! change them happens, never on a timer:
//! - an engine event about a resource the check depends on ([`CheckSpec::trigger`]); events that
//!   arrive together are evaluated together;
//! - a new line of output of a container a failing `logs_contain` check waits for (its log stream
//!   is followed while the check fails);
//! - a change of a file a file check reads (its modification time, looked at once a second: a
//!   local `stat`, no engine request); `http` checks of the step are asked again too, since the
//!   file may be served through a bind mount.
//!
//! Two exceptions, each bounded:
//! - `http`: whether a server inside a container answers yet, and what, is not an engine event.
//!   After each event that can change it, a failing `http` check is retried with backoff (100 ms
//!   doubling to 2 s) for at most 30 s, then waits for the next event.
//! - image checks on engines older than Docker 23 (API < 1.42): there an image built by BuildKit
//!   (the docker CLI's default builder) is tagged without an `image tag` event (moby#45404), so
//!   failing image checks are also evaluated every 2 s (one image inspect each; none once they
//!   pass, none on newer engines).
//!
//! A step passes when all its checks pass; the progress is saved and the next step starts.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::{FutureExt, StreamExt};
use gantry_engine::{Engine, EngineEvent, EngineStream, Event, EventFilter, LogOptions, Sender, channel_stream};
use serde::Serialize;

use crate::check::CheckSpec;
use crate::eval::{CheckResult, CheckStatus, Context, HELPER_PREFIX, evaluate};
use crate::lab::Lab;
use crate::progress::{Progress, ProgressStore, now_secs};

/// How often watched files are looked at.
const FILE_WATCH: Duration = Duration::from_secs(1);
/// First retry of a failing `http` check after an event.
const HTTP_FIRST_RETRY: Duration = Duration::from_millis(100);
/// Longest pause between `http` retries.
const HTTP_MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long after an event a failing `http` check keeps being retried.
const HTTP_RETRY_WINDOW: Duration = Duration::from_secs(30);
/// How often failing image checks are evaluated on engines whose BuildKit builds send no events.
const SILENT_BUILD_POLL: Duration = Duration::from_secs(2);
/// The first API version whose engines report BuildKit builds with an `image tag` event (23.0).
const BUILD_EVENTS_API: (u32, u32) = (1, 42);
/// Engine events kept for `event_seen` checks (the newest).
const EVENT_LOG_LIMIT: usize = 10_000;

/// What the checker reports, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LabEvent {
    /// A step became the current one; its checks are evaluated next.
    StepStarted { step: usize, id: String },
    /// A check's result, the first time and whenever it changes.
    Check { step: usize, check: usize, result: CheckResult },
    /// Every check of the step has been evaluated once.
    StepEvaluated { step: usize },
    /// All checks of the step pass; the progress is saved.
    StepPassed { step: usize, id: String },
    /// Every step has passed (the stream ends).
    LabCompleted,
    /// The engine stopped answering; checks resume when it is back.
    EngineLost { reason: String },
    /// The engine answers again; the step's checks are evaluated again.
    EngineBack,
}

/// Watches `lab` for the learner whose `progress` it is, from their current step to the end.
/// Dropping the stream stops it (and every request it makes).
pub fn watch(
    engine: Engine,
    lab: Arc<Lab>,
    progress: Progress,
    ctx: Context,
    store: Option<ProgressStore>,
) -> EngineStream<LabEvent> {
    channel_stream(
        move |tx| async move { Checker { engine, lab, progress, ctx, store, log: Vec::new() }.run(tx).await },
    )
}

/// Evaluates every check of `step` once (no waiting for events).
pub async fn evaluate_step(engine: &Engine, lab: &Lab, step: usize, ctx: &Context) -> Vec<CheckResult> {
    let Some(step) = lab.steps.get(step) else { return Vec::new() };
    let specs: Vec<CheckSpec> = step.checks.iter().map(|c| c.resolve(&ctx.values)).collect();
    futures_util::future::join_all(specs.iter().map(|spec| evaluate(engine, spec, ctx, &[]))).await
}

/// True for events the checker causes itself or that change nothing a check reads: reading a
/// file out of a container (`archive-path`), and the helper containers that read volumes and
/// images (labelled, or named by the labs).
pub fn is_noise(event: &Event) -> bool {
    event.action == "archive-path"
        || event.action == "extract-to-dir"
        || (event.resource == "container"
            && (event.attributes.contains_key(gantry_engine::volume_files::HELPER_LABEL)
                || event.name.as_deref().is_some_and(|n| n.starts_with(HELPER_PREFIX))))
}

/// Why checks are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// The step started, or an event / log line / file change happened.
    Change,
    /// A scheduled `http` retry.
    HttpRetry,
}

struct StepState {
    index: usize,
    specs: Vec<CheckSpec>,
    results: Vec<CheckResult>,
    followers: HashMap<usize, tokio::task::JoinHandle<()>>,
    file_stamps: HashMap<usize, FilesStamp>,
    http_deadline: Option<Instant>,
    http_backoff: Duration,
    http_next: Option<Instant>,
}

impl Drop for StepState {
    fn drop(&mut self) {
        for (_, follower) in self.followers.drain() {
            follower.abort();
        }
    }
}

impl StepState {
    fn all_pass(&self) -> bool {
        self.results.iter().all(CheckResult::passed)
    }

    fn image_failing(&self) -> bool {
        self.specs.iter().zip(&self.results).any(|(s, r)| is_image_check(s) && !r.passed())
    }

    fn indices_where(&self, f: impl Fn(&CheckSpec) -> bool) -> BTreeSet<usize> {
        self.specs.iter().enumerate().filter(|(_, s)| f(s)).map(|(i, _)| i).collect()
    }
}

struct Checker {
    engine: Engine,
    lab: Arc<Lab>,
    progress: Progress,
    ctx: Context,
    store: Option<ProgressStore>,
    /// Engine events since the lab started.
    log: Vec<Event>,
}

macro_rules! emit {
    ($tx:expr, $event:expr) => {
        if !$tx.send(Ok($event)).await {
            return Ok(());
        }
    };
}

impl Checker {
    async fn run(mut self, tx: Sender<LabEvent>) -> gantry_engine::Result<()> {
        // Events since the lab started come first (for `event_seen`), then live ones.
        let filter = EventFilter { since: Some(self.progress.started_at), ..Default::default() };
        let mut events = self.engine.events(&filter);
        let (line_tx, mut line_rx) = tokio::sync::mpsc::channel::<usize>(16);
        let mut file_tick = tokio::time::interval(FILE_WATCH);
        file_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut engine_lost = false;
        let silent_builds = api_below(&self.engine.api_version(), BUILD_EVENTS_API);
        let mut build_poll = tokio::time::interval(SILENT_BUILD_POLL);
        build_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            if self.progress.is_complete(&self.lab) {
                emit!(tx, LabEvent::LabCompleted);
                return Ok(());
            }
            let index = self.progress.current_step;
            let step = &self.lab.steps[index];
            let specs: Vec<CheckSpec> = step.checks.iter().map(|c| c.resolve(&self.ctx.values)).collect();
            let mut st = StepState {
                index,
                results: vec![CheckResult { status: CheckStatus::Pending, detail: None }; specs.len()],
                specs,
                followers: HashMap::new(),
                file_stamps: HashMap::new(),
                http_deadline: None,
                http_backoff: HTTP_FIRST_RETRY,
                http_next: None,
            };
            emit!(tx, LabEvent::StepStarted { step: index, id: step.id.clone() });
            let all: BTreeSet<usize> = (0..st.specs.len()).collect();
            if !self.evaluate(&mut st, &all, Cause::Change, &tx, &line_tx).await {
                return Ok(());
            }
            emit!(tx, LabEvent::StepEvaluated { step: index });
            let has_files = st.specs.iter().any(|s| !s.watched_files().is_empty());
            while !st.all_pass() {
                let http_next = st.http_next;
                let mut due: BTreeSet<usize> = BTreeSet::new();
                let mut cause = Cause::Change;
                tokio::select! {
                    item = events.next() => {
                        let Some(item) = item else { return Ok(()) };
                        let mut pending = vec![item?];
                        // Events that arrived together are evaluated together.
                        while let Some(Some(more)) = events.next().now_or_never() {
                            pending.push(more?);
                        }
                        for item in pending {
                            match item {
                                EngineEvent::Event { event, .. } => {
                                    if !is_noise(&event) {
                                        due.extend(st.indices_where(|s| s.trigger().fires_on(&event.resource)));
                                    }
                                    self.remember(event);
                                }
                                EngineEvent::Disconnected { reason, .. } => {
                                    if !engine_lost {
                                        engine_lost = true;
                                        emit!(tx, LabEvent::EngineLost { reason });
                                    }
                                }
                                EngineEvent::Reconnected { .. } => {
                                    engine_lost = false;
                                    emit!(tx, LabEvent::EngineBack);
                                    due.extend(0..st.specs.len());
                                }
                            }
                        }
                    }
                    Some(check) = line_rx.recv() => {
                        if check < st.specs.len() {
                            due.insert(check);
                        }
                    }
                    () = sleep_until(http_next), if http_next.is_some() => {
                        cause = Cause::HttpRetry;
                        due = st.indices_where(|s| matches!(s, CheckSpec::Http(_)));
                    }
                    _ = file_tick.tick(), if has_files => {
                        due = self.changed_files(&mut st);
                        if !due.is_empty() {
                            // A changed file may be served through a bind mount: ask again.
                            due.extend(st.indices_where(|s| matches!(s, CheckSpec::Http(_))));
                        }
                    }
                    _ = build_poll.tick(), if silent_builds && st.image_failing() => {
                        due = st.indices_where(is_image_check);
                        due.retain(|i| !st.results[*i].passed());
                    }
                    () = tx.closed() => return Ok(()),
                }
                if !due.is_empty() && !engine_lost && !self.evaluate(&mut st, &due, cause, &tx, &line_tx).await {
                    return Ok(());
                }
            }
            drop(st);
            let id = self.lab.steps[index].id.clone();
            self.progress.passed.push(id.clone());
            self.progress.current_step = index + 1;
            if let Some(store) = &self.store
                && let Err(e) = store.save(&self.progress)
            {
                tracing::warn!(lab = %self.lab.id, error = %e, "could not save the lab's progress");
            }
            emit!(tx, LabEvent::StepPassed { step: index, id });
        }
    }

    fn remember(&mut self, event: Event) {
        if self.log.len() >= EVENT_LOG_LIMIT {
            self.log.drain(..EVENT_LOG_LIMIT / 10);
        }
        self.log.push(event);
    }

    /// Evaluates the checks `due`, reports changed results, and arranges what waits for the
    /// failing ones. False when the consumer has gone.
    async fn evaluate(
        &self,
        st: &mut StepState,
        due: &BTreeSet<usize>,
        cause: Cause,
        tx: &Sender<LabEvent>,
        line_tx: &tokio::sync::mpsc::Sender<usize>,
    ) -> bool {
        // Files are stamped before they are read: a change while a check reads them shows up as a
        // new stamp on the next look, and the check runs again.
        for i in due.iter().copied() {
            let files = st.specs[i].watched_files();
            if !files.is_empty() {
                st.file_stamps.insert(i, files_stamp(&self.ctx.work_dir, &files));
            }
        }
        let results = futures_util::future::join_all(
            due.iter().map(|i| evaluate(&self.engine, &st.specs[*i], &self.ctx, &self.log)),
        )
        .await;
        for (i, result) in due.iter().copied().zip(results) {
            if st.results[i] != result {
                st.results[i] = result.clone();
                if !tx.send(Ok(LabEvent::Check { step: st.index, check: i, result })).await {
                    return false;
                }
            }
        }
        for i in due.iter().copied() {
            let failing = !st.results[i].passed();
            match &st.specs[i] {
                CheckSpec::LogsContain(c) if failing && st.followers.get(&i).is_none_or(|f| f.is_finished()) => {
                    let follower = follow(self.engine.clone(), c.container.clone(), c.text.clone(), i, line_tx.clone());
                    st.followers.insert(i, follower);
                }
                _ => {}
            }
        }
        let http_failing =
            st.specs.iter().zip(&st.results).any(|(s, r)| matches!(s, CheckSpec::Http(_)) && !r.passed());
        let now = Instant::now();
        match (http_failing, cause) {
            (false, _) => st.http_next = None,
            (true, Cause::Change) => {
                st.http_deadline = Some(now + HTTP_RETRY_WINDOW);
                st.http_backoff = HTTP_FIRST_RETRY;
                st.http_next = Some(now + st.http_backoff);
            }
            (true, Cause::HttpRetry) => {
                st.http_backoff = (st.http_backoff * 2).min(HTTP_MAX_BACKOFF);
                let next = now + st.http_backoff;
                st.http_next = st.http_deadline.filter(|d| next <= *d).map(|_| next);
            }
        }
        true
    }

    /// File checks whose file changed since they were last evaluated.
    fn changed_files(&self, st: &mut StepState) -> BTreeSet<usize> {
        let mut changed = BTreeSet::new();
        for (i, spec) in st.specs.iter().enumerate() {
            let files = spec.watched_files();
            if files.is_empty() {
                continue;
            }
            let stamp = files_stamp(&self.ctx.work_dir, &files);
            if st.file_stamps.get(&i) != Some(&stamp) {
                changed.insert(i);
            }
        }
        changed
    }
}

/// Checks that read images (and only those).
fn is_image_check(spec: &CheckSpec) -> bool {
    matches!(spec.trigger(), crate::check::Trigger::Resources(resources) if resources.contains(&"image"))
}

/// True when API version `version` (`1.41`) is older than `than`.
fn api_below(version: &str, than: (u32, u32)) -> bool {
    let mut parts = version.trim().split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) < than
}

/// Modification time and size of each file (`None` for a missing one).
type FilesStamp = Vec<Option<(SystemTime, u64)>>;

fn files_stamp(dir: &std::path::Path, files: &[&str]) -> FilesStamp {
    files
        .iter()
        .map(|f| {
            let meta = std::fs::metadata(dir.join(f)).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Follows `container`'s output and reports `check` when a line with `text` appears.
fn follow(
    engine: Engine,
    container: String,
    text: String,
    check: usize,
    tx: tokio::sync::mpsc::Sender<usize>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // From a second ago: a line printed while the check was being evaluated is not missed.
        let options = LogOptions { follow: true, since: Some(now_secs() - 1), ..Default::default() };
        let mut lines = engine.logs(&container, &options);
        while let Some(Ok(line)) = lines.next().await {
            if line.text.contains(&text) {
                let _ = tx.send(check).await;
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_engines_are_recognised() {
        assert!(api_below("1.41", BUILD_EVENTS_API));
        assert!(!api_below("1.42", BUILD_EVENTS_API));
        assert!(!api_below("1.47", BUILD_EVENTS_API));
        assert!(!api_below("2.0", BUILD_EVENTS_API));
        assert!(api_below("", BUILD_EVENTS_API));
    }
}

//! Following a service until it has converged: a rolling image update task by task, or a scale
//! to a new replica count, as a stream that ends when the swarm is done (or gave up).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::services::{ServiceSummary, UpdateStatus};
use crate::stream::{EngineStream, channel_stream};
use crate::tasks::TaskSummary;

/// How often the swarm's state is read while following a rollout.
pub const ROLLOUT_POLL: Duration = Duration::from_millis(500);

/// One reading of a service on its way to what its spec says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RolloutProgress {
    pub service: String,
    /// The image the spec asks for.
    pub image: String,
    /// Tasks wanted (replicas; one per eligible node for a global service).
    pub desired: u32,
    /// Tasks running, whatever their image.
    pub running: u32,
    /// Tasks running the spec's image.
    pub updated: u32,
    /// The rolling update's own state, when there is one.
    pub update: Option<UpdateStatus>,
    /// Why tasks fail to start, latest first (e.g. an image missing on a node).
    pub problems: Vec<String>,
    /// The last reading: converged, or the swarm paused or rolled back the update.
    pub done: bool,
    /// When done without reaching the spec: what happened.
    pub failed: Option<String>,
}

/// The reading for `tasks` of a service whose spec asks for `image`; `update` is its update status.
pub fn progress(service: &ServiceSummary, image: &str, tasks: &[TaskSummary]) -> RolloutProgress {
    let wanted: Vec<&TaskSummary> = tasks.iter().filter(|t| t.wanted()).collect();
    let running = wanted.iter().filter(|t| t.state == "running").count();
    let updated = wanted.iter().filter(|t| t.state == "running" && t.image == image).count();
    let mut failing: Vec<&TaskSummary> =
        tasks.iter().filter(|t| matches!(t.state.as_str(), "failed" | "rejected") && t.error.is_some()).collect();
    failing.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
    let mut problems: Vec<String> = Vec::new();
    for t in failing {
        let text = format!("{} on {}: {}", t.name, t.node, t.error.as_deref().unwrap_or_default());
        if !problems.contains(&text) && problems.len() < 3 {
            problems.push(text);
        }
    }
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let desired = service.desired;
    let update = service.update.clone();
    let (done, failed) = match update.as_ref().map(|u| u.state.as_str()) {
        Some("paused" | "rollback_paused") => {
            (true, Some(format!("the update paused: {}", update.as_ref().map(|u| u.message.as_str()).unwrap_or(""))))
        }
        Some("rollback_completed") => (
            true,
            Some(format!("the update was rolled back: {}", update.as_ref().map(|u| u.message.as_str()).unwrap_or(""))),
        ),
        Some("updating" | "rollback_started") => (false, None),
        // completed, or no update: converged when every wanted task runs the spec's image
        _ => (count(updated) == desired && count(running) == desired && wanted.len() == running, None),
    };
    RolloutProgress {
        service: service.name.clone(),
        image: image.to_string(),
        desired,
        running: count(running),
        updated: count(updated),
        update,
        problems,
        done,
        failed,
    }
}

impl Engine {
    /// Follows `service` until its tasks match its spec (every wanted task running the spec's
    /// image) or the swarm pauses or rolls back its update. Sends a reading whenever it changes;
    /// the last one has `done`. Dropping the stream stops following (the update goes on).
    pub fn watch_rollout(&self, service: &str) -> EngineStream<RolloutProgress> {
        let engine = self.clone();
        let service = service.to_string();
        channel_stream(move |tx| async move {
            let mut last: Option<RolloutProgress> = None;
            loop {
                let summary = engine.service(&service).await?;
                let tasks = engine.service_tasks(&service).await?;
                let reading = progress(&summary, &summary.image, &tasks);
                let done = reading.done;
                if last.as_ref() != Some(&reading) {
                    last = Some(reading.clone());
                    if !tx.send(Ok(reading)).await {
                        return Ok(());
                    }
                }
                if done {
                    return Ok(());
                }
                tokio::select! {
                    () = tokio::time::sleep(ROLLOUT_POLL) => {}
                    () = tx.closed() => return Ok(()),
                }
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn service(desired: u32, update: Option<&str>) -> ServiceSummary {
        ServiceSummary {
            id: "s".into(),
            name: "web".into(),
            mode: "replicated".into(),
            running: 0,
            desired,
            image: "app:2".into(),
            ports: vec![],
            update: update.map(|state| UpdateStatus {
                state: state.into(),
                message: "task failed".into(),
                started_at: None,
                completed_at: None,
            }),
            stack: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn task(slot: u32, image: &str, state: &str, desired: &str) -> TaskSummary {
        TaskSummary {
            id: format!("t{slot}{image}{state}"),
            name: format!("web.{slot}"),
            service_id: "s".into(),
            node_id: "n".into(),
            node: "node-1".into(),
            image: image.into(),
            state: state.into(),
            desired_state: desired.into(),
            message: String::new(),
            error: (state == "rejected").then(|| "No such image: app:2".into()),
            updated_at: String::new(),
            container_id: None,
        }
    }

    #[test]
    fn a_rolling_update_is_done_when_every_replica_runs_the_new_image() {
        let mid = [
            task(1, "app:2", "running", "running"),
            task(2, "app:1", "running", "running"),
            task(1, "app:1", "shutdown", "shutdown"),
        ];
        let p = progress(&service(2, Some("updating")), "app:2", &mid);
        assert_eq!((p.running, p.updated, p.done), (2, 1, false));
        let end = [task(1, "app:2", "running", "running"), task(2, "app:2", "running", "running")];
        let p = progress(&service(2, Some("completed")), "app:2", &end);
        assert_eq!((p.updated, p.done, p.failed), (2, true, None));
    }

    #[test]
    fn a_paused_update_ends_the_watch_and_says_why() {
        let tasks = [task(1, "app:2", "rejected", "shutdown"), task(1, "app:1", "running", "running")];
        let p = progress(&service(1, Some("paused")), "app:2", &tasks);
        assert!(p.done);
        assert!(p.failed.as_deref().is_some_and(|f| f.contains("paused")), "{p:?}");
        assert_eq!(p.problems, vec!["web.1 on node-1: No such image: app:2".to_string()]);
    }

    #[test]
    fn a_scale_converges_when_the_wanted_tasks_run() {
        let starting = [task(1, "app:2", "running", "running"), task(2, "app:2", "starting", "running")];
        assert!(!progress(&service(2, None), "app:2", &starting).done);
        let up = [task(1, "app:2", "running", "running"), task(2, "app:2", "running", "running")];
        assert!(progress(&service(2, None), "app:2", &up).done);
        // scaled down: the extra task is still being stopped
        let down = [task(1, "app:2", "running", "running"), task(2, "app:2", "running", "shutdown")];
        assert!(progress(&service(1, None), "app:2", &down).done);
    }
}

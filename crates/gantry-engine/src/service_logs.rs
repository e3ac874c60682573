//! A service's logs across its tasks (`docker service logs`): every task's lines, each marked
//! with its task (`web.2`) and node, and, when following, the tasks a scale or a rolling update
//! starts later.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use crate::Engine;
use crate::error::ResourceKind;
use crate::logs::{LogLine, LogOptions, raw_log_options};
use crate::stream::{EngineStream, channel_stream};
use crate::tasks::TaskSummary;

/// How often a followed service's task list is read again for new tasks.
pub const NEW_TASKS_POLL: Duration = Duration::from_secs(2);

/// One line of a service's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ServiceLogLine {
    /// The task's name, `service.slot` (as `docker service logs` shows it).
    pub task: String,
    pub task_id: String,
    /// The node's host name.
    pub node: String,
    pub line: LogLine,
}

/// Tasks whose logs can be read: those that got a container.
fn readable(task: &TaskSummary) -> bool {
    task.container_id.is_some()
}

impl Engine {
    /// Streams the logs of every task of `service` (the current ones and, as the engine keeps
    /// them, the replaced ones). With `follow`, tasks started later join the stream; dropping
    /// the stream stops every task's request. A task whose node cannot be reached is skipped
    /// (and logged), the others go on.
    pub fn service_logs(&self, service: &str, options: &LogOptions) -> EngineStream<ServiceLogLine> {
        let engine = self.clone();
        let service = service.to_string();
        let options = options.clone();
        channel_stream(move |tx| async move {
            let (line_tx, mut line_rx) = tokio::sync::mpsc::channel::<ServiceLogLine>(256);
            // dropped with this producer: every task's request ends with it
            let mut readers = JoinSet::new();
            let mut started: HashSet<String> = HashSet::new();
            loop {
                for task in engine.service_tasks(&service).await?.into_iter().filter(readable) {
                    if !started.insert(task.id.clone()) {
                        continue;
                    }
                    let raw = engine.docker.task_logs(&task.id, Some(raw_log_options(&options)));
                    let mut lines = engine.log_lines(raw, options.timestamps, ResourceKind::Task, &task.id);
                    let line_tx = line_tx.clone();
                    readers.spawn(async move {
                        while let Some(item) = lines.next().await {
                            match item {
                                Ok(line) => {
                                    let line = ServiceLogLine {
                                        task: task.name.clone(),
                                        task_id: task.id.clone(),
                                        node: task.node.clone(),
                                        line,
                                    };
                                    if line_tx.send(line).await.is_err() {
                                        return;
                                    }
                                }
                                Err(e) => {
                                    tracing::warn!(task = %task.name, node = %task.node, error = %e, "task logs unavailable");
                                    return;
                                }
                            }
                        }
                    });
                }
                if !options.follow {
                    drop(line_tx);
                    while let Some(line) = line_rx.recv().await {
                        if !tx.send(Ok(line)).await {
                            return Ok(());
                        }
                    }
                    return Ok(());
                }
                let next_look = tokio::time::sleep(NEW_TASKS_POLL);
                tokio::pin!(next_look);
                loop {
                    tokio::select! {
                        line = line_rx.recv() => {
                            let Some(line) = line else { return Ok(()) };
                            if !tx.send(Ok(line)).await {
                                return Ok(());
                            }
                        }
                        () = &mut next_look => break,
                        () = tx.closed() => return Ok(()),
                    }
                }
                while readers.try_join_next().is_some() {}
            }
        })
    }
}

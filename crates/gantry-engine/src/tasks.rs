//! The tasks of a service (`docker service ps`): which replica runs where, in which state, with
//! which image, and why one failed.

use std::collections::HashMap;

use bollard::models::{Task, TaskState};
use bollard::query_parameters::{ListNodesOptions, ListTasksOptions};
use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::error::{ResourceKind, Result};
use crate::services::image_without_digest;

/// One task (a replica's container on a node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TaskSummary {
    pub id: String,
    /// `service.slot` for a replicated service, `service.node` for a global one (as `docker
    /// service ps` names them).
    pub name: String,
    pub service_id: String,
    pub node_id: String,
    /// The node's host name (the ID when the node is gone).
    pub node: String,
    pub image: String,
    /// `running`, `pending`, `failed`, `shutdown`, `rejected`, ...
    pub state: String,
    /// What the swarm wants it to be: `running` or `shutdown`.
    pub desired_state: String,
    /// The engine's words about the state, e.g. `started`.
    pub message: String,
    /// Why it failed, if it did.
    pub error: Option<String>,
    pub updated_at: String,
    /// The container that runs it, on its node.
    pub container_id: Option<String>,
}

impl TaskSummary {
    /// True when the swarm wants this task running (it counts towards the replicas).
    pub fn wanted(&self) -> bool {
        self.desired_state == "running"
    }

    fn from_task(task: Task, service_name: &str, hostnames: &HashMap<String, String>) -> Self {
        let status = task.status.unwrap_or_default();
        let node_id = task.node_id.unwrap_or_default();
        let node = hostnames.get(&node_id).cloned().unwrap_or_else(|| node_id.clone());
        let name = match task.slot {
            Some(slot) if slot > 0 => format!("{service_name}.{slot}"),
            _ => format!("{service_name}.{node_id}"),
        };
        let image = task
            .spec
            .and_then(|s| s.container_spec)
            .and_then(|c| c.image)
            .map(|i| image_without_digest(&i).to_string())
            .unwrap_or_default();
        Self {
            id: task.id.unwrap_or_default(),
            name,
            service_id: task.service_id.unwrap_or_default(),
            node,
            node_id,
            image,
            state: status.state.unwrap_or(TaskState::NEW).to_string(),
            desired_state: task.desired_state.map(|s| s.to_string()).unwrap_or_default(),
            message: status.message.unwrap_or_default(),
            error: status.err.filter(|e| !e.is_empty()),
            updated_at: task.updated_at.unwrap_or_default(),
            container_id: status.container_status.and_then(|c| c.container_id).filter(|c| !c.is_empty()),
        }
    }
}

impl Engine {
    /// The node IDs and their host names.
    pub(crate) async fn node_hostnames(&self) -> Result<HashMap<String, String>> {
        let nodes =
            self.docker.list_nodes(None::<ListNodesOptions>).await.map_err(|e| self.err(e, ResourceKind::Node, ""))?;
        Ok(nodes
            .into_iter()
            .filter_map(|n| Some((n.id?, n.description.and_then(|d| d.hostname).unwrap_or_default())))
            .collect())
    }

    /// A service's tasks, current ones first (by slot), then the history the engine keeps.
    pub async fn service_tasks(&self, service: &str) -> Result<Vec<TaskSummary>> {
        let raw_service = self.service_raw(service).await?;
        let service_name = raw_service.spec.and_then(|s| s.name).unwrap_or_else(|| service.to_string());
        let service_id = raw_service.id.unwrap_or_default();
        let filters = HashMap::from([("service".to_string(), vec![service_id])]);
        let raw = self
            .docker
            .list_tasks(Some(ListTasksOptions { filters: Some(filters) }))
            .await
            .map_err(|e| self.err(e, ResourceKind::Task, service))?;
        let hostnames = self.node_hostnames().await?;
        let mut tasks: Vec<TaskSummary> =
            raw.into_iter().map(|t| TaskSummary::from_task(t, &service_name, &hostnames)).collect();
        tasks.sort_by(|a, b| {
            (!a.wanted(), &a.name, std::cmp::Reverse(&a.updated_at)).cmp(&(
                !b.wanted(),
                &b.name,
                std::cmp::Reverse(&b.updated_at),
            ))
        });
        Ok(tasks)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tasks_are_named_as_docker_service_ps_names_them() {
        let hostnames = HashMap::from([("n1".to_string(), "worker-1".to_string())]);
        let task: Task = serde_json::from_value(serde_json::json!({
            "ID": "t1", "ServiceID": "s1", "NodeID": "n1", "Slot": 2,
            "Spec": {"ContainerSpec": {"Image": "app:2@sha256:ff"}},
            "Status": {"State": "failed", "Message": "started", "Err": "task: non-zero exit (1)",
                       "ContainerStatus": {"ContainerID": "c1"}},
            "DesiredState": "shutdown"
        }))
        .unwrap();
        let t = TaskSummary::from_task(task, "web", &hostnames);
        assert_eq!((t.name.as_str(), t.node.as_str(), t.image.as_str()), ("web.2", "worker-1", "app:2"));
        assert_eq!((t.state.as_str(), t.wanted()), ("failed", false));
        assert_eq!(t.error.as_deref(), Some("task: non-zero exit (1)"));
        let global: Task =
            serde_json::from_value(serde_json::json!({"ID": "t2", "NodeID": "gone", "DesiredState": "running"}))
                .unwrap();
        let t = TaskSummary::from_task(global, "agent", &hostnames);
        assert_eq!((t.name.as_str(), t.node.as_str(), t.wanted()), ("agent.gone", "gone", true));
    }
}

//! Swarm nodes (`docker node ls`): each engine in the swarm with its role and state.

use bollard::models::{Node, Reachability};
use bollard::query_parameters::ListNodesOptions;
use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::error::{ResourceKind, Result};

/// One node of the swarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NodeSummary {
    pub id: String,
    pub hostname: String,
    /// `manager` or `worker`.
    pub role: String,
    /// `active` (takes tasks), `pause` (keeps its tasks, takes no new ones) or `drain`.
    pub availability: String,
    /// `ready`, `down`, `disconnected` or `unknown`.
    pub state: String,
    /// What the state means, in the engine's words (e.g. why it is down).
    pub message: String,
    /// For managers: `leader`, `reachable` or `unreachable`.
    pub manager_status: Option<String>,
    /// The address the node is reached at.
    pub address: String,
    pub engine_version: String,
    /// `linux/x86_64` and the like.
    pub platform: String,
    /// The engine Gantry is connected to.
    pub is_self: bool,
}

impl NodeSummary {
    fn from_node(node: Node, self_id: &str) -> Self {
        let spec = node.spec.unwrap_or_default();
        let description = node.description.unwrap_or_default();
        let status = node.status.unwrap_or_default();
        let manager_status = node.manager_status.map(|m| {
            if m.leader == Some(true) {
                "leader".to_string()
            } else {
                m.reachability.unwrap_or(Reachability::UNKNOWN).to_string()
            }
        });
        let platform = description
            .platform
            .map(|p| format!("{}/{}", p.os.unwrap_or_default(), p.architecture.unwrap_or_default()).to_lowercase());
        let id = node.id.unwrap_or_default();
        Self {
            is_self: !self_id.is_empty() && id == self_id,
            id,
            hostname: description.hostname.unwrap_or_default(),
            role: spec.role.map(|r| r.to_string()).unwrap_or_default(),
            availability: spec.availability.map(|a| a.to_string()).unwrap_or_default(),
            state: status.state.map(|s| s.to_string()).unwrap_or_else(|| "unknown".into()),
            message: status.message.unwrap_or_default(),
            manager_status,
            address: status.addr.unwrap_or_default(),
            engine_version: description.engine.and_then(|e| e.engine_version).unwrap_or_default(),
            platform: platform.unwrap_or_default(),
        }
    }
}

impl Engine {
    /// The swarm's nodes, managers first, then by host name (managers only).
    pub async fn list_nodes(&self) -> Result<Vec<NodeSummary>> {
        let raw =
            self.docker.list_nodes(None::<ListNodesOptions>).await.map_err(|e| self.err(e, ResourceKind::Node, ""))?;
        let self_id = self.swarm_status().await.map(|s| s.node_id).unwrap_or_default();
        let mut nodes: Vec<NodeSummary> = raw.into_iter().map(|n| NodeSummary::from_node(n, &self_id)).collect();
        nodes.sort_by(|a, b| (a.role != "manager", &a.hostname, &a.id).cmp(&(b.role != "manager", &b.hostname, &b.id)));
        Ok(nodes)
    }
}

//! Swarm mode of the engine itself: whether it is in a swarm and a manager, making it one
//! (`docker swarm init`), joining another's swarm, leaving, and the join tokens.

use bollard::models::{LocalNodeState, SwarmInitRequest, SwarmJoinRequest};
use bollard::query_parameters::LeaveSwarmOptions;
use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::error::{EngineError, ResourceKind, Result};

/// Where this engine stands in Swarm mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SwarmStatus {
    /// `inactive` (not in a swarm), `pending`, `active`, `error` or `locked`.
    pub state: String,
    /// A manager: services, nodes and stacks can be managed through this engine.
    pub manager: bool,
    /// This engine's node ID in the swarm (empty when inactive).
    pub node_id: String,
    /// The address other nodes reach this one at.
    pub node_address: String,
    /// Nodes and managers in the swarm (known to managers only).
    pub nodes: u32,
    pub managers: u32,
    /// What went wrong, in the engine's words, when `state` is `error`.
    pub error: Option<String>,
}

impl SwarmStatus {
    /// True when the engine is in a swarm (as a manager or a worker).
    pub fn active(&self) -> bool {
        self.state == "active"
    }
}

/// How to create a swarm (`docker swarm init`); empty fields take the engine's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct SwarmInit {
    /// The address other nodes reach this one at (needed when the engine has several).
    pub advertise_address: Option<String>,
    /// Where the manager listens for other nodes; `0.0.0.0:2377` by default.
    pub listen_address: Option<String>,
}

/// Which join token to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SwarmRole {
    Worker,
    Manager,
}

impl Engine {
    /// This engine's Swarm state (from `docker info`).
    pub async fn swarm_status(&self) -> Result<SwarmStatus> {
        let info = self.docker.info().await.map_err(|e| self.err(e, ResourceKind::Swarm, ""))?;
        let swarm = info.swarm.unwrap_or_default();
        let state = match swarm.local_node_state {
            Some(LocalNodeState::EMPTY) | None => "inactive".to_string(),
            Some(s) => s.to_string(),
        };
        let count = |n: Option<i64>| n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
        Ok(SwarmStatus {
            state,
            manager: swarm.control_available.unwrap_or(false),
            node_id: swarm.node_id.unwrap_or_default(),
            node_address: swarm.node_addr.unwrap_or_default(),
            nodes: count(swarm.nodes),
            managers: count(swarm.managers),
            error: swarm.error.filter(|e| !e.is_empty()),
        })
    }

    /// Makes this engine the first manager of a new swarm; returns its node ID. An engine that
    /// is already in a swarm is left as it is (an error says so).
    pub async fn swarm_init(&self, init: &SwarmInit) -> Result<String> {
        let status = self.swarm_status().await?;
        if status.active() {
            return Err(EngineError::Conflict {
                message: format!(
                    "this engine is already in a swarm (node {}, {})",
                    status.node_id,
                    if status.manager { "a manager" } else { "a worker" }
                ),
            });
        }
        let request = SwarmInitRequest {
            advertise_addr: init.advertise_address.clone().filter(|a| !a.trim().is_empty()),
            listen_addr: Some(
                init.listen_address.clone().filter(|a| !a.trim().is_empty()).unwrap_or_else(|| "0.0.0.0:2377".into()),
            ),
            ..Default::default()
        };
        self.docker.init_swarm(request).await.map_err(|e| self.err(e, ResourceKind::Swarm, ""))
    }

    /// Joins the swarm managed at `manager_address` (`host:2377`) with a join token (which says
    /// whether as a worker or a manager).
    pub async fn swarm_join(
        &self,
        manager_address: &str,
        token: &str,
        advertise_address: Option<&str>,
        listen_address: Option<&str>,
    ) -> Result<()> {
        if !token.starts_with("SWMTKN-") {
            return Err(EngineError::InvalidRequest {
                message: "a join token starts with SWMTKN- (`docker swarm join-token worker` on a manager prints it)"
                    .into(),
            });
        }
        let request = SwarmJoinRequest {
            remote_addrs: Some(vec![manager_address.to_string()]),
            join_token: Some(token.to_string()),
            advertise_addr: advertise_address.map(str::to_string),
            listen_addr: Some(listen_address.unwrap_or("0.0.0.0:2377").to_string()),
            ..Default::default()
        };
        self.docker.join_swarm(request).await.map_err(|e| self.err(e, ResourceKind::Swarm, ""))
    }

    /// Leaves the swarm. A manager leaves only with `force` (the engine refuses otherwise, since
    /// the last manager leaving ends the swarm and its services).
    pub async fn swarm_leave(&self, force: bool) -> Result<()> {
        self.docker
            .leave_swarm(Some(LeaveSwarmOptions { force }))
            .await
            .map_err(|e| self.err(e, ResourceKind::Swarm, ""))
    }

    /// The token another engine joins this swarm with, as a worker or a manager (managers only).
    pub async fn swarm_join_token(&self, role: SwarmRole) -> Result<String> {
        let swarm = self.docker.inspect_swarm().await.map_err(|e| self.err(e, ResourceKind::Swarm, ""))?;
        let tokens = swarm.join_tokens.unwrap_or_default();
        match role {
            SwarmRole::Worker => tokens.worker,
            SwarmRole::Manager => tokens.manager,
        }
        .ok_or_else(|| EngineError::Protocol { message: "the engine returned no join token".into() })
    }
}

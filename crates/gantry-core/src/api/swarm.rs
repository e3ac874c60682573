//! Swarm through the one API: the engine's Swarm state (and the Settings button that makes
//! Gantry's VM a manager), nodes, services (scale, roll an image and follow it, logs across
//! tasks) and stacks from compose files. Each call goes to the selected engine; a non-manager
//! answers with `not_swarm_manager`, which the views show as such.

use std::path::{Path, PathBuf};

use gantry_engine::rollout::RolloutProgress;
use gantry_engine::stacks::plan_stack;
use gantry_engine::{
    DeployReport, EngineError, LogOptions, NodeSummary, ServiceLogLine, ServiceSummary, StackRemoval, StackSummary,
    SwarmInit, SwarmStatus, TaskSummary,
};
use serde::{Deserialize, Serialize};

use super::error::ApiResult;
use super::{Gantry, StreamMsg};

/// Lines sent to the UI per batch of service logs.
const SERVICE_LOG_BATCH: usize = 200;

/// A stack to deploy from a compose file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StackDeployRequest {
    /// The stack's name: its services are named `NAME_service`.
    pub name: String,
    /// The compose file; relative paths in it (bind mounts, env files) start at its folder.
    pub compose_file: String,
    /// Also remove the stack's services that the file no longer has.
    #[serde(default)]
    pub prune: bool,
}

impl Gantry {
    /// The selected engine's Swarm state.
    pub async fn swarm_status(&self) -> ApiResult<SwarmStatus> {
        Ok(self.engine().await?.swarm_status().await?)
    }

    /// Makes the selected engine the first manager of a new swarm (`docker swarm init`; the
    /// Settings button does this for Gantry's VM). Returns the new state.
    pub async fn swarm_init(&self, init: SwarmInit) -> ApiResult<SwarmStatus> {
        let engine = self.engine().await?;
        engine.swarm_init(&init).await?;
        Ok(engine.swarm_status().await?)
    }

    /// Leaves the swarm (a manager only with `force`: the last manager leaving ends its services).
    pub async fn swarm_leave(&self, force: bool) -> ApiResult<SwarmStatus> {
        let engine = self.engine().await?;
        engine.swarm_leave(force).await?;
        Ok(engine.swarm_status().await?)
    }

    /// The swarm's nodes.
    pub async fn node_list(&self) -> ApiResult<Vec<NodeSummary>> {
        Ok(self.engine().await?.list_nodes().await?)
    }

    /// Every service with its replicas running and desired.
    pub async fn service_list(&self) -> ApiResult<Vec<ServiceSummary>> {
        Ok(self.engine().await?.list_services().await?)
    }

    /// A service's tasks (which replica runs where, and why one failed).
    pub async fn service_tasks(&self, service: String) -> ApiResult<Vec<TaskSummary>> {
        Ok(self.engine().await?.service_tasks(&service).await?)
    }

    /// Sets a replicated service's replica count; follow it with [`Self::service_watch`].
    pub async fn service_scale(&self, service: String, replicas: u32) -> ApiResult<Vec<String>> {
        Ok(self.engine().await?.scale_service(&service, replicas).await?)
    }

    /// Rolls a service to another image as its update policy says; follow it with
    /// [`Self::service_watch`].
    pub async fn service_update_image(&self, service: String, image: String) -> ApiResult<Vec<String>> {
        Ok(self.engine().await?.update_service_image(&service, &image).await?)
    }

    /// Removes a service and its tasks.
    pub async fn service_remove(&self, service: String) -> ApiResult<()> {
        Ok(self.engine().await?.remove_service(&service).await?)
    }

    /// Follows a service to convergence (a scale or a rolling update): one reading per change,
    /// the last one `done`. Cancel with [`Self::cancel_stream`] (the update goes on).
    pub async fn service_watch(
        &self,
        service: String,
        sink: impl Fn(StreamMsg<RolloutProgress>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        // a missing service is an error now, not a stream that ends at once
        engine.service(&service).await?;
        Ok(self.streams.forward(engine.watch_rollout(&service), 1, sink))
    }

    /// Streams a service's logs across its tasks (with `follow`, tasks started later too).
    pub async fn service_logs(
        &self,
        service: String,
        options: LogOptions,
        sink: impl Fn(StreamMsg<ServiceLogLine>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        engine.service(&service).await?;
        Ok(self.streams.forward(engine.service_logs(&service, &options), SERVICE_LOG_BATCH, sink))
    }

    /// The swarm's stacks.
    pub async fn stack_list(&self) -> ApiResult<Vec<StackSummary>> {
        Ok(self.engine().await?.list_stacks().await?)
    }

    /// Deploys (or updates) a stack from a compose file. The whole file is checked first: an
    /// error names its place, and nothing is changed.
    pub async fn stack_deploy(&self, request: StackDeployRequest) -> ApiResult<DeployReport> {
        let path = PathBuf::from(request.compose_file.trim());
        let text = std::fs::read_to_string(&path).map_err(|e| EngineError::Io {
            action: "read",
            path: path.display().to_string(),
            source: e,
        })?;
        let base_dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let base_dir = std::path::absolute(base_dir).unwrap_or_else(|_| base_dir.to_path_buf());
        let lookup = |name: &str| std::env::var(name).ok();
        let plan = plan_stack(request.name.trim(), &text, &base_dir, &lookup)?;
        Ok(self.engine().await?.deploy_stack(&plan, request.prune).await?)
    }

    /// Removes a stack's services and networks (its volumes stay).
    pub async fn stack_remove(&self, name: String) -> ApiResult<StackRemoval> {
        Ok(self.engine().await?.remove_stack(name.trim()).await?)
    }
}

//! Containers: list, inspect, lifecycle, the Run dialog, and their logs and resource use as
//! streams.

use gantry_engine::{ContainerFilter, RemoveOptions};

use super::error::ApiResult;
use super::run::{RunPreview, RunRequest};
use super::{ContainerDetails, ContainerSummary, FileChange, Gantry, LogLine, LogOptions, StatsSample, StreamMsg};

/// Largest batch of log lines sent to the UI at once.
pub const LOG_BATCH: usize = 5_000;

impl Gantry {
    /// Containers (running only unless `all`), without Gantry's own short-lived helpers.
    pub async fn container_list(&self, all: bool) -> ApiResult<Vec<ContainerSummary>> {
        let mut list = self.engine().await?.list_containers(&ContainerFilter { all, ..Default::default() }).await?;
        list.retain(|c| !gantry_engine::volume_files::is_helper(&c.labels));
        Ok(list)
    }

    pub async fn container_inspect(&self, id: String) -> ApiResult<ContainerDetails> {
        Ok(self.engine().await?.inspect_container(&id).await?)
    }

    pub async fn container_start(&self, id: String) -> ApiResult<()> {
        Ok(self.engine().await?.start_container(&id).await?)
    }

    pub async fn container_stop(&self, id: String) -> ApiResult<()> {
        Ok(self.engine().await?.stop_container(&id, None).await?)
    }

    pub async fn container_restart(&self, id: String) -> ApiResult<()> {
        Ok(self.engine().await?.restart_container(&id, None).await?)
    }

    pub async fn container_pause(&self, id: String) -> ApiResult<()> {
        Ok(self.engine().await?.pause_container(&id).await?)
    }

    pub async fn container_unpause(&self, id: String) -> ApiResult<()> {
        Ok(self.engine().await?.unpause_container(&id).await?)
    }

    /// Removes a container (a running one only with `force`); its named volumes stay.
    pub async fn container_remove(&self, id: String, force: bool) -> ApiResult<()> {
        Ok(self.engine().await?.remove_container(&id, RemoveOptions { force, volumes: false }).await?)
    }

    /// The files the container added, changed or deleted compared with its image.
    pub async fn container_changes(&self, id: String) -> ApiResult<Vec<FileChange>> {
        Ok(self.engine().await?.container_changes(&id).await?)
    }

    /// The equivalent `docker run` command of the Run dialog, or what is wrong with it.
    pub async fn container_run_preview(&self, request: RunRequest) -> ApiResult<RunPreview> {
        Ok(RunPreview { command: request.to_spec()?.docker_run_command() })
    }

    /// Creates and starts a container from the Run dialog; returns its ID.
    pub async fn container_run(&self, request: RunRequest) -> ApiResult<String> {
        let spec = request.to_spec()?;
        Ok(self.engine().await?.run_container(&spec).await?)
    }

    /// Streams a container's logs to `sink`; returns the stream id.
    pub async fn container_logs(
        &self,
        id: String,
        options: LogOptions,
        sink: impl Fn(StreamMsg<LogLine>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        Ok(self.streams.forward(engine.logs(&id, &options), LOG_BATCH, sink))
    }

    /// Streams a container's resource use (about one sample per second).
    pub async fn container_stats(
        &self,
        id: String,
        sink: impl Fn(StreamMsg<StatsSample>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        Ok(self.streams.forward(engine.stats(&id, true), 1, sink))
    }
}

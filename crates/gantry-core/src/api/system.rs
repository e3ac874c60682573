//! This computer and the engine as a whole: CPU and memory, disk use, clean-up (prune) with a
//! preview of what it deletes, and the engine's events.

use futures_util::StreamExt;
use gantry_engine::{ContainerFilter, EngineStream};
use serde::{Deserialize, Serialize};

use super::error::ApiResult;
use super::{ContainerSummary, DiskUsage, EngineEvent, EventFilter, Gantry, StreamMsg, SystemPruneReport};

/// CPU and memory of this computer.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HostStats {
    pub cpus: u32,
    /// Average over all CPUs, 0..=100.
    pub cpu_percent: f32,
    pub memory_total: u64,
    pub memory_used: u64,
}

/// What a system prune would remove, listed before it runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PrunePreview {
    /// Names of stopped containers.
    pub containers: Vec<String>,
    /// Dangling images (short IDs), or every unused image when `all_images`.
    pub images: Vec<String>,
    /// Volumes no container uses (only when volumes are included).
    pub volumes: Vec<String>,
    /// Custom networks no container uses.
    pub networks: Vec<String>,
    /// Bytes the engine says can be reclaimed (images, containers, build cache, and volumes when included).
    pub reclaimable: i64,
}

impl Gantry {
    /// This computer's CPU and memory use.
    pub async fn host_stats(&self) -> ApiResult<HostStats> {
        let Ok(mut guard) = self.system.lock() else { return Ok(HostStats::default()) };
        let Some(sys) = guard.as_mut() else { return Ok(HostStats::default()) };
        sys.refresh_cpu_usage();
        sys.refresh_memory();
        Ok(HostStats {
            cpus: u32::try_from(sys.cpus().len()).unwrap_or(u32::MAX),
            cpu_percent: sys.global_cpu_usage(),
            memory_total: sys.total_memory(),
            memory_used: sys.used_memory(),
        })
    }

    /// `docker system df`.
    pub async fn system_disk_usage(&self) -> ApiResult<DiskUsage> {
        Ok(self.engine().await?.disk_usage().await?)
    }

    /// What [`Self::system_prune`] with the same arguments would remove.
    pub async fn system_prune_preview(&self, all_images: bool, volumes: bool) -> ApiResult<PrunePreview> {
        let engine = self.engine().await?;
        let all = ContainerFilter { all: true, ..Default::default() };
        let (containers, images, vols, nets, usage) = tokio::join!(
            engine.list_containers(&all),
            engine.list_images(false),
            engine.list_volumes(),
            engine.list_networks(),
            engine.disk_usage()
        );
        let (containers, images, vols, nets, usage) = (containers?, images?, vols?, nets?, usage?);
        let stopped: Vec<&ContainerSummary> = containers.iter().filter(|c| !c.state.is_alive()).collect();
        let alive_images: std::collections::HashSet<&str> =
            containers.iter().filter(|c| c.state.is_alive()).map(|c| c.image_id.as_str()).collect();
        let short = |id: &str| id.trim_start_matches("sha256:").chars().take(12).collect::<String>();
        let images = images
            .iter()
            .filter(|i| if all_images { !alive_images.contains(i.id.as_str()) } else { i.dangling })
            .map(|i| i.tags.first().cloned().unwrap_or_else(|| short(&i.id)))
            .collect();
        let alive_names: std::collections::HashSet<&str> = containers
            .iter()
            .filter(|c| c.state.is_alive())
            .flat_map(|c| c.networks.iter().map(String::as_str))
            .collect();
        let mut reclaimable = usage.images.reclaimable + usage.containers.reclaimable + usage.build_cache.reclaimable;
        let volumes = if volumes {
            reclaimable += usage.volumes.reclaimable;
            vols.iter()
                .filter(|v| v.used_by.is_empty() || v.used_by.iter().all(|u| stopped.iter().any(|c| &c.name == u)))
                .map(|v| v.name.clone())
                .collect()
        } else {
            Vec::new()
        };
        Ok(PrunePreview {
            containers: stopped.iter().map(|c| c.name.clone()).collect(),
            images,
            volumes,
            networks: nets
                .iter()
                .filter(|n| !n.builtin && !alive_names.contains(n.name.as_str()))
                .map(|n| n.name.clone())
                .collect(),
            reclaimable,
        })
    }

    /// Removes stopped containers, unused networks, dangling (or all unused) images, build
    /// cache, and unused volumes when asked.
    pub async fn system_prune(&self, all_images: bool, volumes: bool) -> ApiResult<SystemPruneReport> {
        Ok(self.engine().await?.prune_system(all_images, volumes).await?)
    }

    /// Streams engine events (with reconnects) to `sink`.
    pub async fn system_events(
        &self,
        filter: EventFilter,
        sink: impl Fn(StreamMsg<EngineEvent>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        Ok(self.streams.forward(without_helpers(engine.events(&filter)), 200, sink))
    }
}

/// The events without those of Gantry's own helper containers (hidden from the container list
/// too); a container that only carries the helper label is not one of them.
fn without_helpers(events: EngineStream<EngineEvent>) -> EngineStream<EngineEvent> {
    Box::pin(events.filter(|item| {
        let helper = matches!(item, Ok(EngineEvent::Event { event, .. })
            if event.resource == "container" && gantry_engine::volume_files::is_helper(&event.attributes));
        std::future::ready(!helper)
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use futures_util::StreamExt;
    use gantry_engine::volume_files::{HELPER_LABEL, helper_mark};

    use super::*;

    fn container_event(id: &str, label: Option<String>) -> gantry_engine::Result<EngineEvent> {
        let attributes: BTreeMap<String, String> = label.map(|v| (HELPER_LABEL.to_string(), v)).into_iter().collect();
        let event = gantry_engine::Event {
            resource: "container".into(),
            action: "create".into(),
            id: id.into(),
            name: Some(id.into()),
            attributes,
            time: 0,
            time_nano: 0,
        };
        Ok(EngineEvent::Event { event, description: String::new() })
    }

    #[tokio::test]
    async fn the_events_of_gantrys_helpers_are_left_out() {
        let events = futures_util::stream::iter(vec![
            container_event("web", None),
            container_event("helper", Some(helper_mark())),
            container_event("look-alike", Some("volume-files".into())),
        ]);
        let ids: Vec<String> = without_helpers(Box::pin(events))
            .filter_map(|e| async move {
                match e {
                    Ok(EngineEvent::Event { event, .. }) => Some(event.id),
                    _ => None,
                }
            })
            .collect()
            .await;
        assert_eq!(ids, ["web", "look-alike"]);
    }
}

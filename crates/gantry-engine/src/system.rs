//! The engine as a whole: info, version, disk usage, prune.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Engine;
use crate::containers::ContainerFilter;
use crate::error::{ResourceKind, Result};

/// What `docker info` says, in the parts a person looks at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EngineInfo {
    pub name: String,
    pub server_version: String,
    pub api_version: String,
    pub os: String,
    pub kernel: String,
    pub architecture: String,
    pub cpus: i64,
    pub memory_bytes: i64,
    pub containers: i64,
    pub containers_running: i64,
    pub containers_paused: i64,
    pub containers_stopped: i64,
    pub images: i64,
    pub storage_driver: String,
    pub docker_root_dir: String,
    pub cgroup_version: String,
    pub warnings: Vec<String>,
}

/// Client and server versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EngineVersion {
    pub version: String,
    pub api_version: String,
    pub min_api_version: String,
    /// The API version this client negotiated.
    pub negotiated_api_version: String,
    pub os: String,
    pub arch: String,
    pub kernel: String,
    pub go_version: String,
    pub git_commit: String,
}

impl EngineVersion {
    /// From the engine's `/version` answer and the API version this client uses.
    pub(crate) fn from_raw(v: bollard::models::SystemVersion, negotiated_api_version: String) -> Self {
        Self {
            version: v.version.unwrap_or_default(),
            api_version: v.api_version.unwrap_or_default(),
            min_api_version: v.min_api_version.unwrap_or_default(),
            negotiated_api_version,
            os: v.os.unwrap_or_default(),
            arch: v.arch.unwrap_or_default(),
            kernel: v.kernel_version.unwrap_or_default(),
            go_version: v.go_version.unwrap_or_default(),
            git_commit: v.git_commit.unwrap_or_default(),
        }
    }
}

/// Usage of one kind of object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UsageLine {
    pub total: i64,
    pub active: i64,
    pub size: i64,
    pub reclaimable: i64,
}

/// `docker system df`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DiskUsage {
    pub images: UsageLine,
    pub containers: UsageLine,
    pub volumes: UsageLine,
    pub build_cache: UsageLine,
    /// Bytes per volume name, when the engine reports them.
    pub volume_sizes: BTreeMap<String, i64>,
}

/// What a system prune removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SystemPruneReport {
    pub containers: Vec<String>,
    pub images: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    pub space_reclaimed: i64,
}

fn int(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

impl DiskUsage {
    /// Reads either the API ≥ 1.52 summary shape or the older per-object lists.
    pub fn from_json(v: &Value) -> Self {
        let summary = |key: &str| {
            v.get(key).map(|u| UsageLine {
                total: int(u, "TotalCount"),
                active: int(u, "ActiveCount"),
                size: int(u, "TotalSize"),
                reclaimable: int(u, "Reclaimable"),
            })
        };
        let list = |key: &str| v.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
        let mut usage = DiskUsage::default();

        let images = list("Images");
        usage.images = summary("ImageUsage").unwrap_or_else(|| {
            let active: Vec<&Value> = images.iter().filter(|i| int(i, "Containers") > 0).collect();
            let size = v
                .get("LayersSize")
                .and_then(Value::as_i64)
                .unwrap_or_else(|| images.iter().map(|i| int(i, "Size")).sum());
            let active_size: i64 = active.iter().map(|i| int(i, "Size") - int(i, "SharedSize").max(0)).sum();
            UsageLine {
                total: images.len() as i64,
                active: active.len() as i64,
                size,
                reclaimable: (size - active_size).max(0),
            }
        });
        let containers = list("Containers");
        usage.containers = summary("ContainerUsage").unwrap_or_else(|| {
            let size: i64 = containers.iter().map(|c| int(c, "SizeRw")).sum();
            let running: Vec<&Value> =
                containers.iter().filter(|c| c.get("State").and_then(Value::as_str) == Some("running")).collect();
            let running_size: i64 = running.iter().map(|c| int(c, "SizeRw")).sum();
            UsageLine {
                total: containers.len() as i64,
                active: running.len() as i64,
                size,
                reclaimable: size - running_size,
            }
        });
        let volumes = list("Volumes");
        for vol in &volumes {
            if let (Some(name), Some(size)) = (
                vol.get("Name").and_then(Value::as_str),
                vol.get("UsageData").and_then(|u| u.get("Size")).and_then(Value::as_i64),
            ) && size >= 0
            {
                usage.volume_sizes.insert(name.to_string(), size);
            }
        }
        usage.volumes = summary("VolumeUsage").unwrap_or_else(|| {
            let refs = |vol: &Value| vol.get("UsageData").map_or(0, |u| int(u, "RefCount"));
            let size_of = |vol: &Value| vol.get("UsageData").map_or(0, |u| int(u, "Size").max(0));
            let size: i64 = volumes.iter().map(size_of).sum();
            let unused: i64 = volumes.iter().filter(|vol| refs(vol) == 0).map(size_of).sum();
            UsageLine {
                total: volumes.len() as i64,
                active: volumes.iter().filter(|vol| refs(vol) > 0).count() as i64,
                size,
                reclaimable: unused,
            }
        });
        let cache = list("BuildCache");
        usage.build_cache = summary("BuildCacheUsage").unwrap_or_else(|| {
            let size: i64 =
                cache.iter().filter(|c| c.get("Shared") != Some(&Value::Bool(true))).map(|c| int(c, "Size")).sum();
            let in_use: Vec<&Value> = cache.iter().filter(|c| c.get("InUse") == Some(&Value::Bool(true))).collect();
            let in_use_size: i64 = in_use.iter().map(|c| int(c, "Size")).sum();
            UsageLine { total: cache.len() as i64, active: in_use.len() as i64, size, reclaimable: size - in_use_size }
        });
        usage
    }
}

impl Engine {
    /// Engine facts: version, OS, CPUs, memory, object counts.
    pub async fn info(&self) -> Result<EngineInfo> {
        let i = self.docker.info().await.map_err(|e| self.err(e, ResourceKind::Engine, ""))?;
        Ok(EngineInfo {
            name: i.name.unwrap_or_default(),
            server_version: i.server_version.unwrap_or_default(),
            api_version: self.api_version(),
            os: i.operating_system.unwrap_or_default(),
            kernel: i.kernel_version.unwrap_or_default(),
            architecture: i.architecture.unwrap_or_default(),
            cpus: i.ncpu.unwrap_or_default(),
            memory_bytes: i.mem_total.unwrap_or_default(),
            containers: i.containers.unwrap_or_default(),
            containers_running: i.containers_running.unwrap_or_default(),
            containers_paused: i.containers_paused.unwrap_or_default(),
            containers_stopped: i.containers_stopped.unwrap_or_default(),
            images: i.images.unwrap_or_default(),
            storage_driver: i.driver.unwrap_or_default(),
            docker_root_dir: i.docker_root_dir.unwrap_or_default(),
            cgroup_version: i.cgroup_version.map(|c| c.to_string()).unwrap_or_default(),
            warnings: i.warnings.unwrap_or_default(),
        })
    }

    /// Engine version details.
    pub async fn version(&self) -> Result<EngineVersion> {
        let v = self.docker.version().await.map_err(|e| self.err(e, ResourceKind::Engine, ""))?;
        Ok(EngineVersion::from_raw(v, self.api_version()))
    }

    /// Disk used by images, containers, volumes and build cache (`docker system df`).
    pub async fn disk_usage(&self) -> Result<DiskUsage> {
        if let Some(json) = self.raw_get_json("/system/df").await? {
            return Ok(DiskUsage::from_json(&json));
        }
        // Endpoints without raw access (TLS, named pipe): typed call, else computed from lists.
        let df = self
            .docker
            .df(None::<bollard::query_parameters::DataUsageOptions>)
            .await
            .map_err(|e| self.err(e, ResourceKind::Engine, ""))?;
        let json = serde_json::to_value(&df).unwrap_or(Value::Null);
        let usage = DiskUsage::from_json(&json);
        if usage != DiskUsage::from_json(&Value::Null) {
            return Ok(usage);
        }
        let images = self.list_images(false).await?;
        let containers =
            self.list_containers(&ContainerFilter { all: true, with_sizes: true, ..Default::default() }).await?;
        let image_size: i64 = images.iter().map(|i| i.size).sum();
        let container_size: i64 = containers.iter().filter_map(|c| c.size_rw).sum();
        Ok(DiskUsage {
            images: UsageLine {
                total: images.len() as i64,
                active: images.iter().filter(|i| i.in_use).count() as i64,
                size: image_size,
                reclaimable: images.iter().filter(|i| !i.in_use).map(|i| i.size).sum(),
            },
            containers: UsageLine {
                total: containers.len() as i64,
                active: containers.iter().filter(|c| c.state.is_alive()).count() as i64,
                size: container_size,
                reclaimable: containers.iter().filter(|c| !c.state.is_alive()).filter_map(|c| c.size_rw).sum(),
            },
            ..Default::default()
        })
    }

    /// Removes stopped containers, unused networks, dangling images (all unused with
    /// `all_images`) and, with `volumes`, unused volumes.
    pub async fn prune_system(&self, all_images: bool, volumes: bool) -> Result<SystemPruneReport> {
        let c = self
            .docker
            .prune_containers(None::<bollard::query_parameters::PruneContainersOptions>)
            .await
            .map_err(|e| self.err(e, ResourceKind::Container, ""))?;
        let n = self.prune_networks().await?;
        let v = if volumes { self.prune_volumes(true).await? } else { Default::default() };
        let i = self.prune_images(all_images).await?;
        Ok(SystemPruneReport {
            space_reclaimed: c.space_reclaimed.unwrap_or_default() + i.space_reclaimed + v.space_reclaimed,
            containers: c.containers_deleted.unwrap_or_default(),
            images: i.deleted,
            networks: n.deleted,
            volumes: v.deleted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_df_shape() {
        let v: Value = serde_json::from_str(
            r#"{"LayersSize": 1000,
                "Images": [{"Id": "a", "Size": 600, "SharedSize": 0, "Containers": 1}, {"Id": "b", "Size": 400, "SharedSize": 0, "Containers": 0}],
                "Containers": [{"Id": "c1", "SizeRw": 10, "State": "running"}, {"Id": "c2", "SizeRw": 5, "State": "exited"}],
                "Volumes": [{"Name": "data", "UsageData": {"Size": 42, "RefCount": 1}}, {"Name": "old", "UsageData": {"Size": 8, "RefCount": 0}}],
                "BuildCache": [{"Size": 7, "InUse": false, "Shared": false}]}"#,
        )
        .expect("json");
        let u = DiskUsage::from_json(&v);
        assert_eq!(u.images, UsageLine { total: 2, active: 1, size: 1000, reclaimable: 400 });
        assert_eq!(u.containers, UsageLine { total: 2, active: 1, size: 15, reclaimable: 5 });
        assert_eq!(u.volumes, UsageLine { total: 2, active: 1, size: 50, reclaimable: 8 });
        assert_eq!(u.build_cache.reclaimable, 7);
        assert_eq!(u.volume_sizes.get("data"), Some(&42));
    }

    #[test]
    fn summary_df_shape() {
        let v: Value = serde_json::from_str(
            r#"{"ImageUsage": {"TotalCount": 3, "ActiveCount": 1, "TotalSize": 900, "Reclaimable": 300}}"#,
        )
        .expect("json");
        assert_eq!(DiskUsage::from_json(&v).images, UsageLine { total: 3, active: 1, size: 900, reclaimable: 300 });
    }
}

//! Volumes: list with users and sizes, create, inspect, remove, prune.

use std::collections::{BTreeMap, HashMap};

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{ListVolumesOptions, PruneVolumesOptions, RemoveVolumeOptions};
use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::containers::display_name;
use crate::error::{EngineError, ResourceKind, Result};
use crate::images::PruneReport;

/// A volume and who uses it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VolumeSummary {
    pub name: String,
    pub driver: String,
    pub mountpoint: String,
    pub created: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Names of containers (running or not) that mount it.
    pub used_by: Vec<String>,
    /// Bytes on disk, when the engine reports it (filled by [`Engine::list_volumes_with_sizes`]).
    pub size: Option<i64>,
    /// Anonymous volumes have a 64-hex-digit name.
    pub anonymous: bool,
}

impl Engine {
    /// Lists volumes with the containers that use each.
    pub async fn list_volumes(&self) -> Result<Vec<VolumeSummary>> {
        let raw = self
            .docker
            .list_volumes(None::<ListVolumesOptions>)
            .await
            .map_err(|e| self.err(e, ResourceKind::Volume, ""))?;
        let containers = self.all_containers_raw().await?;
        let mut users: HashMap<String, Vec<String>> = HashMap::new();
        for c in containers {
            let name = display_name(c.names.as_deref());
            for m in c.mounts.unwrap_or_default() {
                if let Some(v) = m.name.filter(|n| !n.is_empty()) {
                    users.entry(v).or_default().push(name.clone());
                }
            }
        }
        let mut volumes: Vec<VolumeSummary> = raw
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| VolumeSummary {
                used_by: users.remove(&v.name).unwrap_or_default(),
                anonymous: v.name.len() == 64 && v.name.chars().all(|c| c.is_ascii_hexdigit()),
                size: v.usage_data.as_ref().map(|u| u.size).filter(|s| *s >= 0),
                created: v.created_at.map(|c| c.to_string()),
                labels: v.labels.into_iter().collect(),
                mountpoint: v.mountpoint,
                driver: v.driver,
                name: v.name,
            })
            .collect();
        volumes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(volumes)
    }

    /// Lists volumes and fills in their sizes from the engine's disk-usage report.
    pub async fn list_volumes_with_sizes(&self) -> Result<Vec<VolumeSummary>> {
        let mut volumes = self.list_volumes().await?;
        let sizes = self.disk_usage().await?.volume_sizes;
        for v in &mut volumes {
            if let Some(size) = sizes.get(&v.name) {
                v.size = Some(*size);
            }
        }
        Ok(volumes)
    }

    /// Creates a named volume (an existing one with that name is an error).
    pub async fn create_volume(&self, name: &str, labels: &[(String, String)]) -> Result<VolumeSummary> {
        if !name.is_empty() && !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
            return Err(EngineError::InvalidRequest {
                message: format!("volume name {name:?} may only contain letters, digits, '_', '.' and '-'"),
            });
        }
        if !name.is_empty() && self.docker.inspect_volume(name).await.is_ok() {
            return Err(EngineError::NameInUse { name: name.to_string() });
        }
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels.iter().cloned().collect()),
            ..Default::default()
        };
        let v = self.docker.create_volume(request).await.map_err(|e| self.err(e, ResourceKind::Volume, name))?;
        Ok(VolumeSummary {
            anonymous: false,
            size: None,
            used_by: Vec::new(),
            created: v.created_at.map(|c| c.to_string()),
            labels: v.labels.into_iter().collect(),
            mountpoint: v.mountpoint,
            driver: v.driver,
            name: v.name,
        })
    }

    /// Inspects one volume.
    pub async fn inspect_volume(&self, name: &str) -> Result<VolumeSummary> {
        self.docker.inspect_volume(name).await.map_err(|e| self.err(e, ResourceKind::Volume, name))?;
        self.list_volumes()
            .await?
            .into_iter()
            .find(|v| v.name == name)
            .ok_or_else(|| EngineError::NotFound { kind: ResourceKind::Volume, id: name.to_string() })
    }

    /// Removes a volume; fails with a conflict while a container uses it (unless `force`).
    pub async fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        self.docker
            .remove_volume(name, Some(RemoveVolumeOptions { force }))
            .await
            .map_err(|e| self.err(e, ResourceKind::Volume, name))
    }

    /// Removes volumes no container uses. With `all`, named ones too (else only anonymous,
    /// on engines that make the distinction).
    pub async fn prune_volumes(&self, all: bool) -> Result<PruneReport> {
        let filters = all.then(|| HashMap::from([("all".to_string(), vec!["true".to_string()])]));
        let result = self.docker.prune_volumes(Some(PruneVolumesOptions { filters: filters.clone() })).await;
        let report = match result {
            Ok(r) => r,
            // Engines before API 1.42 do not know the `all` filter and prune every unused volume anyway.
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 400, .. }) if filters.is_some() => {
                self.docker
                    .prune_volumes(None::<PruneVolumesOptions>)
                    .await
                    .map_err(|e| self.err(e, ResourceKind::Volume, ""))?
            }
            Err(e) => return Err(self.err(e, ResourceKind::Volume, "")),
        };
        Ok(PruneReport {
            deleted: report.volumes_deleted.unwrap_or_default(),
            space_reclaimed: report.space_reclaimed.unwrap_or_default(),
        })
    }
}

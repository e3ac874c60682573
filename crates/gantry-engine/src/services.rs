//! Swarm services (`docker service ls/scale/update/rm`): replicas running and desired, image,
//! published ports and the state of a rolling update. Every call needs a Swarm manager.

use std::collections::HashMap;

use bollard::models::{Service, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, ServiceUpdateStatusStateEnum};
use bollard::query_parameters::{InspectServiceOptions, ListServicesOptions, UpdateServiceOptions};
use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::error::{EngineError, ResourceKind, Result};

/// The label `docker stack deploy` (and Gantry's) puts on everything of a stack.
pub const STACK_LABEL: &str = "com.docker.stack.namespace";

/// A published port of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ServicePort {
    /// The port on every node (`ingress`) or on the task's node (`host`); 0 when not published.
    pub published: u16,
    /// The port inside the containers.
    pub target: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// `ingress` (routing mesh) or `host`.
    pub mode: String,
}

/// Where a rolling update (or its rollback) stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UpdateStatus {
    /// `updating`, `paused`, `completed`, `rollback_started`, `rollback_paused` or
    /// `rollback_completed`.
    pub state: String,
    /// The engine's words, e.g. why it paused.
    pub message: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
}

impl UpdateStatus {
    /// True while tasks are being replaced (an update or a rollback in progress).
    pub fn in_progress(&self) -> bool {
        matches!(self.state.as_str(), "updating" | "rollback_started")
    }
}

/// One service as the Services view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ServiceSummary {
    pub id: String,
    pub name: String,
    /// `replicated`, `global`, `replicated-job` or `global-job`.
    pub mode: String,
    /// Tasks running now.
    pub running: u32,
    /// Tasks wanted: the replicas of a replicated service, one per eligible node for a global one.
    pub desired: u32,
    /// The image the service runs, without the digest the engine may have pinned.
    pub image: String,
    pub ports: Vec<ServicePort>,
    /// The last rolling update, if there was one.
    pub update: Option<UpdateStatus>,
    /// The stack it belongs to (`gantry stack deploy`, `docker stack deploy`).
    pub stack: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// `name:tag@sha256:...` → `name:tag` (the engine pins digests when it can resolve them).
pub fn image_without_digest(image: &str) -> &str {
    image.split_once('@').map_or(image, |(name, _)| name)
}

fn mode_word(mode: Option<&ServiceSpecMode>) -> &'static str {
    match mode {
        Some(m) if m.global.is_some() => "global",
        Some(m) if m.replicated_job.is_some() => "replicated-job",
        Some(m) if m.global_job.is_some() => "global-job",
        _ => "replicated",
    }
}

fn port_number(n: Option<i64>) -> u16 {
    n.and_then(|n| u16::try_from(n).ok()).unwrap_or(0)
}

fn update_status(service: &Service) -> Option<UpdateStatus> {
    let status = service.update_status.as_ref()?;
    let state = status.state.filter(|s| *s != ServiceUpdateStatusStateEnum::EMPTY)?;
    Some(UpdateStatus {
        state: state.to_string(),
        message: status.message.clone().unwrap_or_default(),
        started_at: status.started_at.clone(),
        completed_at: status.completed_at.clone(),
    })
}

impl ServiceSummary {
    fn from_service(service: Service) -> Self {
        let update = update_status(&service);
        let spec = service.spec.unwrap_or_default();
        let labels = spec.labels.clone().unwrap_or_default();
        let image = spec
            .task_template
            .as_ref()
            .and_then(|t| t.container_spec.as_ref())
            .and_then(|c| c.image.as_deref())
            .map(image_without_digest)
            .unwrap_or_default()
            .to_string();
        // The endpoint shows the ports actually published (with the engine's assigned numbers);
        // the spec's are what was asked for.
        let ports = service
            .endpoint
            .and_then(|e| e.ports)
            .or_else(|| spec.endpoint_spec.as_ref().and_then(|e| e.ports.clone()))
            .unwrap_or_default()
            .into_iter()
            .map(|p| ServicePort {
                published: port_number(p.published_port),
                target: port_number(p.target_port),
                protocol: p.protocol.map(|p| p.to_string()).filter(|p| !p.is_empty()).unwrap_or_else(|| "tcp".into()),
                mode: p
                    .publish_mode
                    .map(|m| m.to_string())
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| "ingress".into()),
            })
            .collect();
        let counts = service.service_status.unwrap_or_default();
        let desired_from_spec = spec.mode.as_ref().and_then(|m| m.replicated.as_ref()).and_then(|r| r.replicas);
        let count = |n: Option<u64>| n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
        Self {
            id: service.id.unwrap_or_default(),
            name: spec.name.clone().unwrap_or_default(),
            mode: mode_word(spec.mode.as_ref()).into(),
            running: count(counts.running_tasks),
            desired: counts
                .desired_tasks
                .map(|n| count(Some(n)))
                .or_else(|| desired_from_spec.and_then(|n| u32::try_from(n).ok()))
                .unwrap_or(0),
            image,
            ports,
            update,
            stack: labels.get(STACK_LABEL).cloned(),
            created_at: service.created_at.unwrap_or_default(),
            updated_at: service.updated_at.unwrap_or_default(),
        }
    }
}

impl Engine {
    /// Every service with its running and desired task counts, by name.
    pub async fn list_services(&self) -> Result<Vec<ServiceSummary>> {
        self.list_services_filtered(HashMap::new()).await
    }

    pub(crate) async fn list_services_filtered(
        &self,
        filters: HashMap<String, Vec<String>>,
    ) -> Result<Vec<ServiceSummary>> {
        let options = ListServicesOptions { filters: Some(filters), status: Some(true) };
        let raw = self.docker.list_services(Some(options)).await.map_err(|e| self.err(e, ResourceKind::Service, ""))?;
        let mut services: Vec<ServiceSummary> = raw.into_iter().map(ServiceSummary::from_service).collect();
        services.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(services)
    }

    /// One service by name or ID.
    pub async fn service(&self, name: &str) -> Result<ServiceSummary> {
        // the list carries the task counts that inspect lacks
        let mut filters = HashMap::new();
        filters.insert("id".to_string(), vec![self.service_raw(name).await?.id.unwrap_or_default()]);
        self.list_services_filtered(filters)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| EngineError::NotFound { kind: ResourceKind::Service, id: name.to_string() })
    }

    pub(crate) async fn service_raw(&self, name: &str) -> Result<Service> {
        if name.trim().is_empty() {
            return Err(EngineError::InvalidRequest { message: "say which service".into() });
        }
        self.docker
            .inspect_service(name, None::<InspectServiceOptions>)
            .await
            .map_err(|e| self.err(e, ResourceKind::Service, name))
    }

    /// Applies `change` to the service's current spec and sends it with the version it was read
    /// at (a concurrent change makes the engine refuse instead of one change being lost).
    /// Returns the engine's warnings.
    pub(crate) async fn change_service(
        &self,
        name: &str,
        change: impl FnOnce(&mut ServiceSpec) -> Result<()>,
    ) -> Result<Vec<String>> {
        let current = self.service_raw(name).await?;
        let version = current.version.and_then(|v| v.index).unwrap_or(0);
        let mut spec = current.spec.unwrap_or_default();
        change(&mut spec)?;
        let options =
            UpdateServiceOptions { version: i32::try_from(version).unwrap_or(i32::MAX), ..Default::default() };
        let answer = self
            .docker
            .update_service(name, spec, options, None)
            .await
            .map_err(|e| self.err(e, ResourceKind::Service, name))?;
        Ok(answer.warnings.unwrap_or_default())
    }

    /// Sets a replicated service's replica count (`docker service scale NAME=N`).
    pub async fn scale_service(&self, name: &str, replicas: u32) -> Result<Vec<String>> {
        self.change_service(name, |spec| {
            let mode = mode_word(spec.mode.as_ref());
            if mode != "replicated" {
                return Err(EngineError::InvalidRequest {
                    message: format!(
                        "service {name} is {mode}: only replicated services have a replica count (a global one runs one task per node)"
                    ),
                });
            }
            spec.mode = Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(i64::from(replicas)) }),
                ..Default::default()
            });
            Ok(())
        })
        .await
    }

    /// Rolls the service to another image, task by task as its update policy says (`docker
    /// service update --image`). Follow it with [`Engine::watch_rollout`].
    pub async fn update_service_image(&self, name: &str, image: &str) -> Result<Vec<String>> {
        let image = image.trim();
        if image.is_empty() || image.starts_with('-') || image.chars().any(char::is_whitespace) {
            return Err(EngineError::InvalidReference {
                reference: image.to_string(),
                reason: "an image reference has no spaces and does not start with '-'".into(),
            });
        }
        self.change_service(name, |spec| {
            let container = spec
                .task_template
                .get_or_insert_with(Default::default)
                .container_spec
                .get_or_insert_with(Default::default);
            container.image = Some(image.to_string());
            Ok(())
        })
        .await
    }

    /// Removes a service and its tasks.
    pub async fn remove_service(&self, name: &str) -> Result<()> {
        self.docker.delete_service(name).await.map_err(|e| self.err(e, ResourceKind::Service, name))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_left_out_of_the_image_shown() {
        assert_eq!(image_without_digest("nginx:1.27@sha256:abc"), "nginx:1.27");
        assert_eq!(image_without_digest("nginx"), "nginx");
    }

    #[test]
    fn a_listed_service_reads_counts_ports_and_update_state() {
        let raw: Service = serde_json::from_value(serde_json::json!({
            "ID": "s1",
            "Spec": {
                "Name": "web",
                "Labels": {"com.docker.stack.namespace": "shop"},
                "TaskTemplate": {"ContainerSpec": {"Image": "nginx:1.27@sha256:0123"}},
                "Mode": {"Replicated": {"Replicas": 3}},
                "EndpointSpec": {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080}]}
            },
            "Endpoint": {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"}]},
            "UpdateStatus": {"State": "updating", "Message": "update in progress"},
            "ServiceStatus": {"RunningTasks": 2, "DesiredTasks": 3}
        }))
        .unwrap();
        let s = ServiceSummary::from_service(raw);
        assert_eq!((s.name.as_str(), s.mode.as_str(), s.running, s.desired), ("web", "replicated", 2, 3));
        assert_eq!(s.image, "nginx:1.27");
        assert_eq!(s.stack.as_deref(), Some("shop"));
        assert_eq!(
            s.ports,
            vec![ServicePort { published: 8080, target: 80, protocol: "tcp".into(), mode: "ingress".into() }]
        );
        assert!(s.update.as_ref().is_some_and(UpdateStatus::in_progress), "{:?}", s.update);
    }

    #[test]
    fn a_global_service_without_counts_is_global() {
        let raw: Service = serde_json::from_value(serde_json::json!({
            "ID": "s2", "Spec": {"Name": "agent", "Mode": {"Global": {}}}
        }))
        .unwrap();
        let s = ServiceSummary::from_service(raw);
        assert_eq!((s.mode.as_str(), s.desired, s.update), ("global", 0, None));
    }
}

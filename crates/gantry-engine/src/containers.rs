//! Containers: list, inspect, lifecycle, rename, top, changed files.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{ContainerSummary as RawSummary, PortSummaryTypeEnum};
use bollard::query_parameters::{
    InspectContainerOptions, KillContainerOptions, ListContainersOptions, RemoveContainerOptions,
    RenameContainerOptions, RestartContainerOptions, StartContainerOptions, StopContainerOptions, TopOptions,
};
use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::error::{ResourceKind, Result};

/// Compose's label naming the project a container belongs to.
pub const COMPOSE_PROJECT_LABEL: &str = "com.docker.compose.project";
/// Compose's label naming the service a container runs.
pub const COMPOSE_SERVICE_LABEL: &str = "com.docker.compose.service";

/// A container's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Removing,
    Dead,
    Unknown,
}

impl ContainerState {
    /// Parses the engine's state word (`running`, `exited`, ...).
    pub fn parse(text: &str) -> Self {
        match text {
            "created" => Self::Created,
            "running" => Self::Running,
            "paused" => Self::Paused,
            "restarting" => Self::Restarting,
            "exited" => Self::Exited,
            "removing" => Self::Removing,
            "dead" => Self::Dead,
            _ => Self::Unknown,
        }
    }

    /// True while the container's processes exist (running, paused or restarting).
    pub fn is_alive(self) -> bool {
        matches!(self, Self::Running | Self::Paused | Self::Restarting)
    }
}

/// A published (or only exposed) port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PortMapping {
    /// Host address the port is bound to (`0.0.0.0`, `127.0.0.1`, `::`), if published.
    pub host_ip: Option<String>,
    /// Host port, if published.
    pub host_port: Option<u16>,
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
}

/// One row of the container list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ContainerSummary {
    pub id: String,
    /// Name without the leading slash.
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub command: String,
    /// Creation time, seconds since the Unix epoch.
    pub created: i64,
    pub state: ContainerState,
    /// The engine's human status, e.g. "Up 5 minutes".
    pub status: String,
    pub ports: Vec<PortMapping>,
    pub labels: BTreeMap<String, String>,
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
    pub networks: Vec<String>,
    /// Volume names and bind-mount sources.
    pub mounts: Vec<String>,
    /// Bytes written by the container (only when listed with sizes).
    pub size_rw: Option<i64>,
}

impl ContainerSummary {
    pub(crate) fn from_raw(raw: RawSummary) -> Self {
        let labels: BTreeMap<String, String> = raw.labels.unwrap_or_default().into_iter().collect();
        let mut ports: Vec<PortMapping> = raw
            .ports
            .unwrap_or_default()
            .into_iter()
            .map(|p| PortMapping {
                host_ip: p.ip.filter(|ip| !ip.is_empty()),
                host_port: p.public_port.filter(|port| *port != 0),
                container_port: p.private_port,
                protocol: match p.typ {
                    Some(PortSummaryTypeEnum::UDP) => "udp",
                    Some(PortSummaryTypeEnum::SCTP) => "sctp",
                    _ => "tcp",
                }
                .to_string(),
            })
            .collect();
        ports.sort_by(|a, b| {
            (a.container_port, a.host_port, &a.host_ip).cmp(&(b.container_port, b.host_port, &b.host_ip))
        });
        ports.dedup();
        let mut networks: Vec<String> =
            raw.network_settings.and_then(|n| n.networks).unwrap_or_default().into_keys().collect();
        networks.sort();
        let mounts = raw
            .mounts
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.name.filter(|n| !n.is_empty()).or(m.source))
            .collect();
        let name = display_name(raw.names.as_deref());
        Self {
            id: raw.id.unwrap_or_default(),
            name,
            image: raw.image.unwrap_or_default(),
            image_id: raw.image_id.unwrap_or_default(),
            command: raw.command.unwrap_or_default(),
            created: raw.created.unwrap_or_default(),
            state: ContainerState::parse(&raw.state.map(|s| s.to_string()).unwrap_or_default()),
            status: raw.status.unwrap_or_default(),
            ports,
            compose_project: labels.get(COMPOSE_PROJECT_LABEL).cloned(),
            compose_service: labels.get(COMPOSE_SERVICE_LABEL).cloned(),
            labels,
            networks,
            mounts,
            size_rw: raw.size_rw,
        }
    }
}

/// What to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ContainerFilter {
    /// Include stopped containers.
    pub all: bool,
    /// Compute each container's writable-layer size (slower).
    pub with_sizes: bool,
    /// Only containers with this label (`key` or `key=value`).
    pub label: Option<String>,
    /// Only containers of this compose project.
    pub compose_project: Option<String>,
}

/// A readable view of `docker inspect` plus the raw JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ContainerDetails {
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub state: ContainerState,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub created: Option<String>,
    pub restart_count: i64,
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub tty: bool,
    pub working_dir: String,
    pub ports: Vec<PortMapping>,
    pub mounts: Vec<MountView>,
    pub networks: BTreeMap<String, String>,
    pub restart_policy: String,
    pub memory_limit: i64,
    pub nano_cpus: i64,
    pub labels: BTreeMap<String, String>,
    /// The whole inspect document.
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub raw: serde_json::Value,
}

/// A mount as seen by a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MountView {
    /// `volume`, `bind`, `tmpfs`, ...
    pub kind: String,
    /// Volume name or host path.
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

/// Processes running in a container (`docker top`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProcessTable {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// A file the container added, changed or deleted (`docker diff`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FileChange {
    pub path: String,
    pub kind: FileChangeKind,
}

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum FileChangeKind {
    Modified,
    Added,
    Deleted,
}

/// Options for removing a container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RemoveOptions {
    /// Kill it first if it runs.
    pub force: bool,
    /// Also remove its anonymous volumes.
    pub volumes: bool,
}

/// A container's name from the engine's `Names` list, without the leading slash.
pub(crate) fn display_name(names: Option<&[String]>) -> String {
    names.and_then(|n| n.first()).map(|n| n.trim_start_matches('/').to_string()).unwrap_or_default()
}

impl Engine {
    /// Every container, running or not, as the engine reports it (for joins with other lists).
    pub(crate) async fn all_containers_raw(&self) -> Result<Vec<RawSummary>> {
        let options = ListContainersOptions { all: true, ..Default::default() };
        self.docker.list_containers(Some(options)).await.map_err(|e| self.err(e, ResourceKind::Container, ""))
    }

    /// Lists containers, newest first.
    pub async fn list_containers(&self, filter: &ContainerFilter) -> Result<Vec<ContainerSummary>> {
        let mut filters: HashMap<String, Vec<String>> = HashMap::new();
        let mut labels = Vec::new();
        if let Some(label) = &filter.label {
            labels.push(label.clone());
        }
        if let Some(project) = &filter.compose_project {
            labels.push(format!("{COMPOSE_PROJECT_LABEL}={project}"));
        }
        if !labels.is_empty() {
            filters.insert("label".into(), labels);
        }
        let options = ListContainersOptions {
            all: filter.all,
            size: filter.with_sizes,
            filters: (!filters.is_empty()).then_some(filters),
            ..Default::default()
        };
        let raw =
            self.docker.list_containers(Some(options)).await.map_err(|e| self.err(e, ResourceKind::Container, ""))?;
        Ok(raw.into_iter().map(ContainerSummary::from_raw).collect())
    }

    /// Inspects one container by name or ID.
    pub async fn inspect_container(&self, id: &str) -> Result<ContainerDetails> {
        let raw = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| self.err(e, ResourceKind::Container, id))?;
        let json = serde_json::to_value(&raw).unwrap_or(serde_json::Value::Null);
        let state = raw.state.clone().unwrap_or_default();
        let config = raw.config.clone().unwrap_or_default();
        let host = raw.host_config.clone().unwrap_or_default();
        let mut ports = Vec::new();
        for (key, bindings) in raw.network_settings.as_ref().and_then(|n| n.ports.clone()).unwrap_or_default() {
            let (port, protocol) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
            let Ok(container_port) = port.parse::<u16>() else { continue };
            match bindings {
                Some(list) if !list.is_empty() => {
                    for b in list {
                        ports.push(PortMapping {
                            host_ip: b.host_ip.filter(|s| !s.is_empty()),
                            host_port: b.host_port.and_then(|p| p.parse().ok()),
                            container_port,
                            protocol: protocol.to_string(),
                        });
                    }
                }
                _ => ports.push(PortMapping {
                    host_ip: None,
                    host_port: None,
                    container_port,
                    protocol: protocol.to_string(),
                }),
            }
        }
        ports.sort_by_key(|p| (p.container_port, p.host_port));
        let mounts = raw
            .mounts
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|m| MountView {
                kind: m.typ.map(|t| t.to_string()).unwrap_or_default(),
                source: m.name.filter(|n| !n.is_empty()).or(m.source).unwrap_or_default(),
                target: m.destination.unwrap_or_default(),
                read_only: !m.rw.unwrap_or(true),
            })
            .collect();
        let networks = raw
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|(name, ep)| (name, ep.ip_address.unwrap_or_default()))
            .collect();
        let mut command = config.entrypoint.clone().unwrap_or_default();
        command.extend(config.cmd.clone().unwrap_or_default());
        Ok(ContainerDetails {
            id: raw.id.unwrap_or_default(),
            name: raw.name.unwrap_or_default().trim_start_matches('/').to_string(),
            image: config.image.unwrap_or_default(),
            image_id: raw.image.unwrap_or_default(),
            state: ContainerState::parse(&state.status.map(|s| s.to_string()).unwrap_or_default()),
            running: state.running.unwrap_or(false),
            exit_code: state.exit_code,
            started_at: state.started_at.filter(|t| !t.starts_with("0001")),
            finished_at: state.finished_at.filter(|t| !t.starts_with("0001")),
            created: raw.created.map(|c| c.to_string()),
            restart_count: raw.restart_count.unwrap_or_default(),
            command,
            env: config.env.unwrap_or_default(),
            tty: config.tty.unwrap_or(false),
            working_dir: config.working_dir.unwrap_or_default(),
            ports,
            mounts,
            networks,
            restart_policy: host
                .restart_policy
                .and_then(|r| r.name)
                .map(|n| n.to_string())
                .unwrap_or_else(|| "no".into()),
            memory_limit: host.memory.unwrap_or_default(),
            nano_cpus: host.nano_cpus.unwrap_or_default(),
            labels: config.labels.unwrap_or_default().into_iter().collect(),
            raw: json,
        })
    }

    /// Starts a created or stopped container.
    pub async fn start_container(&self, id: &str) -> Result<()> {
        match self.docker.start_container(id, None::<StartContainerOptions>).await {
            Ok(()) => Ok(()),
            // 304: already started; not an error for the user.
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(self.err(e, ResourceKind::Container, id)),
        }
    }

    /// Stops a container: SIGTERM, then SIGKILL after `timeout_secs` (engine default if None).
    pub async fn stop_container(&self, id: &str, timeout_secs: Option<i32>) -> Result<()> {
        let options = StopContainerOptions { t: timeout_secs, signal: None };
        match self.docker.stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(self.err(e, ResourceKind::Container, id)),
        }
    }

    /// Restarts a container.
    pub async fn restart_container(&self, id: &str, timeout_secs: Option<i32>) -> Result<()> {
        let options = RestartContainerOptions { t: timeout_secs, signal: None };
        self.docker.restart_container(id, Some(options)).await.map_err(|e| self.err(e, ResourceKind::Container, id))
    }

    /// Freezes all processes of a container.
    pub async fn pause_container(&self, id: &str) -> Result<()> {
        self.docker.pause_container(id).await.map_err(|e| self.err(e, ResourceKind::Container, id))
    }

    /// Thaws a paused container.
    pub async fn unpause_container(&self, id: &str) -> Result<()> {
        self.docker.unpause_container(id).await.map_err(|e| self.err(e, ResourceKind::Container, id))
    }

    /// Sends a signal (default `SIGKILL`).
    pub async fn kill_container(&self, id: &str, signal: Option<&str>) -> Result<()> {
        let options = KillContainerOptions { signal: signal.unwrap_or("SIGKILL").to_string() };
        self.docker.kill_container(id, Some(options)).await.map_err(|e| self.err(e, ResourceKind::Container, id))
    }

    /// Removes a container.
    pub async fn remove_container(&self, id: &str, options: RemoveOptions) -> Result<()> {
        let opts = RemoveContainerOptions { force: options.force, v: options.volumes, link: false };
        self.docker.remove_container(id, Some(opts)).await.map_err(|e| self.err(e, ResourceKind::Container, id))
    }

    /// Renames a container.
    pub async fn rename_container(&self, id: &str, new_name: &str) -> Result<()> {
        let opts = RenameContainerOptions { name: new_name.to_string() };
        self.docker.rename_container(id, opts).await.map_err(|e| match self.err(e, ResourceKind::Container, id) {
            crate::EngineError::Conflict { .. } => crate::EngineError::NameInUse { name: new_name.to_string() },
            other => other,
        })
    }

    /// The processes running in a container.
    pub async fn top_container(&self, id: &str) -> Result<ProcessTable> {
        // The engine runs `ps` on its own host, so its default arguments always work.
        let top = self
            .docker
            .top_processes(id, None::<TopOptions>)
            .await
            .map_err(|e| self.err(e, ResourceKind::Container, id))?;
        Ok(ProcessTable { titles: top.titles.unwrap_or_default(), processes: top.processes.unwrap_or_default() })
    }

    /// Files the container changed relative to its image.
    pub async fn container_changes(&self, id: &str) -> Result<Vec<FileChange>> {
        let changes = self.docker.container_changes(id).await.map_err(|e| self.err(e, ResourceKind::Container, id))?;
        Ok(changes
            .unwrap_or_default()
            .into_iter()
            .map(|c| FileChange {
                path: c.path,
                kind: match c.kind as u8 {
                    1 => FileChangeKind::Added,
                    2 => FileChangeKind::Deleted,
                    _ => FileChangeKind::Modified,
                },
            })
            .collect())
    }

    /// Waits until the container exits and returns its exit code.
    pub async fn wait_container(&self, id: &str) -> Result<i64> {
        use futures_util::StreamExt;
        let mut stream = self.docker.wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
        match stream.next().await {
            Some(Ok(resp)) => Ok(resp.status_code),
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(self.err(e, ResourceKind::Container, id)),
            None => Err(crate::EngineError::Protocol { message: "wait ended without a status".into() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::PortSummary;

    #[test]
    fn summary_reads_compose_labels_ports_and_name() {
        let raw = RawSummary {
            id: Some("abc".into()),
            names: Some(vec!["/shop-web-1".into()]),
            labels: Some(HashMap::from([
                (COMPOSE_PROJECT_LABEL.to_string(), "shop".to_string()),
                (COMPOSE_SERVICE_LABEL.to_string(), "web".to_string()),
            ])),
            ports: Some(vec![
                PortSummary {
                    ip: Some("127.0.0.1".into()),
                    private_port: 80,
                    public_port: Some(8080),
                    typ: Some(PortSummaryTypeEnum::TCP),
                },
                PortSummary { ip: None, private_port: 53, public_port: None, typ: Some(PortSummaryTypeEnum::UDP) },
            ]),
            ..Default::default()
        };
        let s = ContainerSummary::from_raw(raw);
        assert_eq!(s.name, "shop-web-1");
        assert_eq!(s.compose_project.as_deref(), Some("shop"));
        assert_eq!(s.compose_service.as_deref(), Some("web"));
        assert_eq!(
            s.ports[0],
            PortMapping { host_ip: None, host_port: None, container_port: 53, protocol: "udp".into() }
        );
        assert_eq!(s.ports[1].host_port, Some(8080));
    }

    #[test]
    fn states_parse() {
        assert_eq!(ContainerState::parse("running"), ContainerState::Running);
        assert!(ContainerState::parse("paused").is_alive());
        assert!(!ContainerState::parse("exited").is_alive());
        assert_eq!(ContainerState::parse("weird"), ContainerState::Unknown);
    }
}

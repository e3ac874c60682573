//! Networks: list with attached containers, create, connect, disconnect, remove, prune.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    EndpointSettings, Ipam, IpamConfig, NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
};
use bollard::query_parameters::{ListNetworksOptions, PruneNetworksOptions};
use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::containers::display_name;
use crate::error::{EngineError, ResourceKind, Result};
use crate::images::PruneReport;

/// A container attached to a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NetworkMember {
    pub container: String,
    pub ipv4: String,
}

/// A network and what is attached to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NetworkSummary {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub scope: String,
    pub internal: bool,
    pub subnets: Vec<String>,
    pub gateways: Vec<String>,
    pub containers: Vec<NetworkMember>,
    pub labels: BTreeMap<String, String>,
    /// `bridge`, `host` and `none` come with the engine and cannot be removed.
    pub builtin: bool,
}

/// A network to create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct NetworkSpec {
    pub name: String,
    /// `bridge` when empty.
    pub driver: Option<String>,
    /// No route to the outside world.
    pub internal: bool,
    /// e.g. `172.30.0.0/24`.
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub labels: Vec<(String, String)>,
}

impl Engine {
    /// Lists networks with the containers attached to each.
    pub async fn list_networks(&self) -> Result<Vec<NetworkSummary>> {
        let raw = self
            .docker
            .list_networks(None::<ListNetworksOptions>)
            .await
            .map_err(|e| self.err(e, ResourceKind::Network, ""))?;
        let containers = self.all_containers_raw().await?;
        let mut members: HashMap<String, Vec<NetworkMember>> = HashMap::new();
        for c in containers {
            let name = display_name(c.names.as_deref());
            for (_, ep) in c.network_settings.and_then(|n| n.networks).unwrap_or_default() {
                if let Some(id) = ep.network_id.filter(|i| !i.is_empty()) {
                    members
                        .entry(id)
                        .or_default()
                        .push(NetworkMember { container: name.clone(), ipv4: ep.ip_address.unwrap_or_default() });
                }
            }
        }
        let mut networks: Vec<NetworkSummary> = raw
            .into_iter()
            .map(|n| {
                let id = n.id.unwrap_or_default();
                let name = n.name.unwrap_or_default();
                let configs = n.ipam.and_then(|i| i.config).unwrap_or_default();
                let mut containers = members.remove(&id).unwrap_or_default();
                containers.sort_by(|a, b| a.container.cmp(&b.container));
                NetworkSummary {
                    builtin: matches!(name.as_str(), "bridge" | "host" | "none"),
                    subnets: configs.iter().filter_map(|c| c.subnet.clone()).collect(),
                    gateways: configs.iter().filter_map(|c| c.gateway.clone()).collect(),
                    driver: n.driver.unwrap_or_default(),
                    scope: n.scope.unwrap_or_default(),
                    internal: n.internal.unwrap_or(false),
                    labels: n.labels.unwrap_or_default().into_iter().collect(),
                    containers,
                    name,
                    id,
                }
            })
            .collect();
        networks.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(networks)
    }

    /// Creates a network; returns its ID. An existing name is an error, not a duplicate.
    pub async fn create_network(&self, spec: &NetworkSpec) -> Result<String> {
        if spec.name.is_empty() || !spec.name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
            return Err(EngineError::InvalidRequest {
                message: format!("network name {:?} must be letters, digits, '_', '.' or '-'", spec.name),
            });
        }
        let existing = self.list_networks().await?;
        if existing.iter().any(|n| n.name == spec.name) {
            return Err(EngineError::NameInUse { name: spec.name.clone() });
        }
        let ipam = spec.subnet.as_ref().map(|subnet| Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(subnet.clone()),
                gateway: spec.gateway.clone(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let request = NetworkCreateRequest {
            name: spec.name.clone(),
            driver: Some(spec.driver.clone().unwrap_or_else(|| "bridge".into())),
            internal: Some(spec.internal),
            ipam,
            labels: (!spec.labels.is_empty()).then(|| spec.labels.iter().cloned().collect()),
            ..Default::default()
        };
        let created =
            self.docker.create_network(request).await.map_err(|e| self.err(e, ResourceKind::Network, &spec.name))?;
        Ok(created.id)
    }

    /// Attaches a container to a network, optionally with extra DNS aliases.
    pub async fn connect_network(&self, network: &str, container: &str, aliases: &[String]) -> Result<()> {
        let request = NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: (!aliases.is_empty())
                .then(|| EndpointSettings { aliases: Some(aliases.to_vec()), ..Default::default() }),
        };
        self.docker.connect_network(network, request).await.map_err(|e| self.net_err(e, network, container))
    }

    /// Detaches a container from a network.
    pub async fn disconnect_network(&self, network: &str, container: &str, force: bool) -> Result<()> {
        let request = NetworkDisconnectRequest { container: container.to_string(), force: Some(force) };
        self.docker.disconnect_network(network, request).await.map_err(|e| self.net_err(e, network, container))
    }

    /// Removes a network (fails while containers are attached).
    pub async fn remove_network(&self, network: &str) -> Result<()> {
        self.docker.remove_network(network).await.map_err(|e| self.err(e, ResourceKind::Network, network))
    }

    /// Removes networks no container uses.
    pub async fn prune_networks(&self) -> Result<PruneReport> {
        let r = self
            .docker
            .prune_networks(None::<PruneNetworksOptions>)
            .await
            .map_err(|e| self.err(e, ResourceKind::Network, ""))?;
        Ok(PruneReport { deleted: r.networks_deleted.unwrap_or_default(), space_reclaimed: 0 })
    }

    fn net_err(&self, e: bollard::errors::Error, network: &str, container: &str) -> EngineError {
        match self.err(e, ResourceKind::Network, network) {
            EngineError::NotFound { .. } => {
                // The engine says 404 for either; name the one that is missing.
                EngineError::NotFound {
                    kind: ResourceKind::Network,
                    id: format!("{network} (or container {container})"),
                }
            }
            other => other,
        }
    }
}

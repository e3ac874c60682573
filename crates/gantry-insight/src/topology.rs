//! The live picture: host ports, containers, networks, volumes and host folders as a graph
//! (host port → container, container → network, volume → container, host folder →
//! container), rebuilt when an engine event could change it.

use std::time::Duration;

use futures_util::StreamExt;
use gantry_engine::{
    ContainerFilter, ContainerState, ContainerSummary, Engine, EngineEvent, EngineStream, Event, EventFilter,
    NetworkSummary, VolumeSummary, channel_stream,
};
use serde::{Deserialize, Serialize};

/// Events that come in a burst (a `docker run` makes four or five) are read together before
/// the picture is rebuilt once.
const COALESCE: Duration = Duration::from_millis(15);

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    HostPort,
    Container,
    Network,
    Volume,
    HostFolder,
}

/// A node of the picture. Its `id` is stable across updates (`container:<id>`,
/// `network:<name>`, `volume:<name>`, `folder:<path>`, `port:<ip>:<port>/<protocol>`), so a view
/// can keep its layout and a click can open the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Node {
    pub id: String,
    pub kind: NodeKind,
    pub label: String,
    /// The container's image, the network's driver, …
    pub detail: String,
    /// For containers.
    pub state: Option<ContainerState>,
    /// The compose project, for grouping.
    pub group: Option<String>,
}

/// How two nodes are connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// Host port → container (published).
    Publishes,
    /// Container → network.
    Joins,
    /// Volume or host folder → container.
    Mounts,
}

/// A connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    /// The container port for a published port (`80/tcp`).
    pub label: String,
}

/// The whole picture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Topology {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// A new picture and the event that caused it (none for the first one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TopologyUpdate {
    pub topology: Topology,
    pub cause: Option<Event>,
}

fn container_id(c: &ContainerSummary) -> String {
    format!("container:{}", c.id)
}

/// Builds the picture from the engine's lists.
pub fn build(containers: &[ContainerSummary], networks: &[NetworkSummary], volumes: &[VolumeSummary]) -> Topology {
    let mut topology = Topology::default();
    for network in networks.iter().filter(|n| n.name != "none") {
        topology.nodes.push(Node {
            id: format!("network:{}", network.name),
            kind: NodeKind::Network,
            label: network.name.clone(),
            detail: network.driver.clone(),
            state: None,
            group: None,
        });
    }
    for volume in volumes {
        topology.nodes.push(Node {
            id: format!("volume:{}", volume.name),
            kind: NodeKind::Volume,
            label: if volume.anonymous { volume.name.chars().take(12).collect() } else { volume.name.clone() },
            detail: volume.driver.clone(),
            state: None,
            group: None,
        });
    }
    let has = |topology: &Topology, id: &str| topology.nodes.iter().any(|n| n.id == id);
    // Gantry's own short-lived helpers (volume browsing) are not part of the user's picture.
    for container in containers.iter().filter(|c| !c.labels.contains_key(gantry_engine::volume_files::HELPER_LABEL)) {
        let id = container_id(container);
        topology.nodes.push(Node {
            id: id.clone(),
            kind: NodeKind::Container,
            label: container.name.clone(),
            detail: container.image.clone(),
            state: Some(container.state),
            group: container.compose_project.clone(),
        });
        for port in &container.ports {
            let Some(host_port) = port.host_port else { continue };
            let host_ip = port.host_ip.clone().unwrap_or_else(|| "0.0.0.0".into());
            let port_id = format!("port:{host_ip}:{host_port}/{}", port.protocol);
            if !has(&topology, &port_id) {
                topology.nodes.push(Node {
                    id: port_id.clone(),
                    kind: NodeKind::HostPort,
                    label: format!("{host_ip}:{host_port}"),
                    detail: port.protocol.clone(),
                    state: None,
                    group: None,
                });
            }
            topology.edges.push(Edge {
                from: port_id,
                to: id.clone(),
                kind: EdgeKind::Publishes,
                label: format!("{}/{}", port.container_port, port.protocol),
            });
        }
        for network in &container.networks {
            let network_id = format!("network:{network}");
            if has(&topology, &network_id) {
                topology.edges.push(Edge {
                    from: id.clone(),
                    to: network_id,
                    kind: EdgeKind::Joins,
                    label: String::new(),
                });
            }
        }
        for mount in &container.mounts {
            let (from, kind) = if mount.starts_with('/') || mount.contains('\\') {
                (format!("folder:{mount}"), NodeKind::HostFolder)
            } else {
                (format!("volume:{mount}"), NodeKind::Volume)
            };
            if !has(&topology, &from) {
                topology.nodes.push(Node {
                    id: from.clone(),
                    kind,
                    label: mount.clone(),
                    detail: String::new(),
                    state: None,
                    group: None,
                });
            }
            topology.edges.push(Edge { from, to: id.clone(), kind: EdgeKind::Mounts, label: String::new() });
        }
    }
    topology.nodes.sort_by(|a, b| (a.kind, &a.label, &a.id).cmp(&(b.kind, &b.label, &b.id)));
    topology.edges.sort_by(|a, b| (&a.from, &a.to, a.kind).cmp(&(&b.from, &b.to, b.kind)));
    topology
}

/// The picture now.
pub async fn snapshot(engine: &Engine) -> gantry_engine::Result<Topology> {
    let filter = ContainerFilter { all: true, ..ContainerFilter::default() };
    let (containers, networks, volumes) =
        tokio::try_join!(engine.list_containers(&filter), engine.list_networks(), engine.list_volumes())?;
    Ok(build(&containers, &networks, &volumes))
}

/// Whether an event can change the picture.
pub fn changes_topology(event: &Event) -> bool {
    match event.resource.as_str() {
        "container" => matches!(
            event.action.as_str(),
            "create" | "start" | "die" | "destroy" | "rename" | "pause" | "unpause" | "restart" | "stop"
        ),
        "network" => matches!(event.action.as_str(), "create" | "destroy" | "connect" | "disconnect"),
        "volume" => matches!(event.action.as_str(), "create" | "destroy" | "mount" | "unmount"),
        _ => false,
    }
}

/// The picture, then a new one after every burst of events that can change it. No polling:
/// it follows the engine's event stream (which reconnects by itself). Dropping it ends it.
pub fn watch_topology(engine: &Engine) -> EngineStream<TopologyUpdate> {
    let engine = engine.clone();
    channel_stream(move |tx| async move {
        let filter = EventFilter {
            resources: vec!["container".into(), "network".into(), "volume".into()],
            ..EventFilter::default()
        };
        // Subscribe before the first snapshot, so nothing between the two is missed.
        let mut events = engine.events(&filter);
        let mut current = snapshot(&engine).await?;
        if !tx.send(Ok(TopologyUpdate { topology: current.clone(), cause: None })).await {
            return Ok(());
        }
        while let Some(item) = events.next().await {
            let EngineEvent::Event { event, .. } = item? else { continue };
            if !changes_topology(&event) {
                continue;
            }
            let mut cause = event;
            while let Ok(Some(next)) = tokio::time::timeout(COALESCE, events.next()).await {
                if let EngineEvent::Event { event, .. } = next?
                    && changes_topology(&event)
                {
                    cause = event;
                }
            }
            let topology = snapshot(&engine).await?;
            if topology == current {
                continue;
            }
            current = topology.clone();
            if !tx.send(Ok(TopologyUpdate { topology, cause: Some(cause) })).await {
                return Ok(());
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_engine::PortMapping;

    fn container(name: &str, ports: Vec<PortMapping>, networks: &[&str], mounts: &[&str]) -> ContainerSummary {
        ContainerSummary {
            id: format!("{name}-id"),
            name: name.into(),
            image: "nginx:1.27".into(),
            image_id: String::new(),
            command: String::new(),
            created: 0,
            state: ContainerState::Running,
            status: String::new(),
            ports,
            labels: Default::default(),
            compose_project: Some("shop".into()),
            compose_service: None,
            networks: networks.iter().map(|s| s.to_string()).collect(),
            mounts: mounts.iter().map(|s| s.to_string()).collect(),
            size_rw: None,
        }
    }

    fn network(name: &str) -> NetworkSummary {
        NetworkSummary {
            id: name.into(),
            name: name.into(),
            driver: "bridge".into(),
            scope: "local".into(),
            internal: false,
            subnets: vec![],
            gateways: vec![],
            containers: vec![],
            labels: Default::default(),
            builtin: false,
        }
    }

    #[test]
    fn ports_networks_volumes_and_folders() {
        let web = container(
            "web",
            vec![PortMapping {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some(8080),
                container_port: 80,
                protocol: "tcp".into(),
            }],
            &["front"],
            &["/home/me/site", "data"],
        );
        let db = container("db", vec![], &["front", "back"], &["data"]);
        let topology = build(&[web, db], &[network("front"), network("back"), network("none")], &[]);
        let kinds: Vec<(NodeKind, &str)> = topology.nodes.iter().map(|n| (n.kind, n.label.as_str())).collect();
        assert_eq!(
            kinds,
            vec![
                (NodeKind::HostPort, "127.0.0.1:8080"),
                (NodeKind::Container, "db"),
                (NodeKind::Container, "web"),
                (NodeKind::Network, "back"),
                (NodeKind::Network, "front"),
                (NodeKind::Volume, "data"),
                (NodeKind::HostFolder, "/home/me/site"),
            ]
        );
        assert!(topology.edges.contains(&Edge {
            from: "port:127.0.0.1:8080/tcp".into(),
            to: "container:web-id".into(),
            kind: EdgeKind::Publishes,
            label: "80/tcp".into()
        }));
        assert_eq!(topology.edges.iter().filter(|e| e.kind == EdgeKind::Joins).count(), 3);
        assert_eq!(topology.edges.iter().filter(|e| e.from == "volume:data").count(), 2, "one volume node, two mounts");
    }
}

//! What `docker compose down` deletes, read from the engine (not from the files): every
//! container and network labelled with the project, and with `--volumes` its volumes.

use gantry_engine::containers::COMPOSE_PROJECT_LABEL;
use gantry_engine::{ContainerSummary, NetworkSummary, VolumeSummary};
use serde::{Deserialize, Serialize};

/// The names a down of one project removes, for its confirmation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DownPreview {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    /// Empty unless the volumes are removed too.
    pub volumes: Vec<String>,
}

fn of_project(labels: &std::collections::BTreeMap<String, String>, project: &str) -> bool {
    labels.get(COMPOSE_PROJECT_LABEL).is_some_and(|p| p == project)
}

/// The project's resources among the engine's lists, sorted by name.
pub fn down_preview(
    project: &str,
    containers: &[ContainerSummary],
    networks: &[NetworkSummary],
    volumes: &[VolumeSummary],
    with_volumes: bool,
) -> DownPreview {
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    DownPreview {
        containers: sorted(
            containers.iter().filter(|c| of_project(&c.labels, project)).map(|c| c.name.clone()).collect(),
        ),
        networks: sorted(networks.iter().filter(|n| of_project(&n.labels, project)).map(|n| n.name.clone()).collect()),
        volumes: if with_volumes {
            sorted(volumes.iter().filter(|v| of_project(&v.labels, project)).map(|v| v.name.clone()).collect())
        } else {
            Vec::new()
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn labelled(project: &str) -> serde_json::Value {
        serde_json::json!({ COMPOSE_PROJECT_LABEL: project })
    }

    #[test]
    fn lists_only_the_projects_resources() {
        let container = |name: &str, project: &str| -> ContainerSummary {
            let mut c: ContainerSummary = serde_json::from_value(serde_json::json!({
                "id": name, "name": name, "image": "i", "image_id": "", "command": "", "created": 0,
                "state": "running", "status": "", "ports": [], "labels": labelled(project),
                "compose_project": project, "compose_service": null, "networks": [], "mounts": [], "size_rw": null
            }))
            .unwrap();
            c.name = name.into();
            c
        };
        let network = |name: &str, project: &str| -> NetworkSummary {
            serde_json::from_value(serde_json::json!({
                "id": name, "name": name, "driver": "bridge", "scope": "local", "internal": false, "subnets": [],
                "gateways": [], "containers": [], "labels": labelled(project), "builtin": false
            }))
            .unwrap()
        };
        let volume = |name: &str, project: &str| -> VolumeSummary {
            serde_json::from_value(serde_json::json!({
                "name": name, "driver": "local", "mountpoint": "", "created": null, "labels": labelled(project),
                "used_by": [], "size": null, "anonymous": false
            }))
            .unwrap()
        };
        let containers =
            [container("shop-web-1", "shop"), container("shopping-db-1", "shopping"), container("shop-db-1", "shop")];
        let networks = [network("shop_default", "shop"), network("bridge", "")];
        let volumes = [volume("shop_data", "shop"), volume("shopping_data", "shopping")];
        let keep = down_preview("shop", &containers, &networks, &volumes, false);
        assert_eq!(keep.containers, ["shop-db-1", "shop-web-1"]);
        assert_eq!(keep.networks, ["shop_default"]);
        assert!(keep.volumes.is_empty());
        assert_eq!(down_preview("shop", &containers, &networks, &volumes, true).volumes, ["shop_data"]);
    }
}

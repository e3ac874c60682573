//! Network checks: exists, containers attached, one container resolves another by name.
//!
//! `resolves` follows the rule of Docker's embedded DNS instead of running a command in the
//! container (which may have no shell or resolver tools): on a user-defined network, a container
//! finds every running container of that network by its name and its network aliases (compose
//! service names are aliases); on the default `bridge` network only legacy `--link` names resolve.

use gantry_engine::{ContainerFilter, ContainerState, Engine};

use super::{CheckResult, Eval, answered, optional};
use crate::check::{NetworkAttached, Resolves};

/// Networks where the engine's DNS does not resolve container names.
const NO_DNS: [&str; 3] = ["bridge", "host", "none"];

pub async fn exists(engine: &Engine, network: &str) -> Eval<CheckResult> {
    let networks = answered(engine.list_networks().await)?;
    Ok(CheckResult::given(
        networks.iter().any(|n| n.name == network),
        format!("there is no network `{network}` (docker network create {network})"),
        format!("нет сети `{network}` (docker network create {network})"),
    ))
}

pub async fn attached(engine: &Engine, check: &NetworkAttached) -> Eval<CheckResult> {
    let networks = answered(engine.list_networks().await)?;
    let Some(network) = networks.iter().find(|n| n.name == check.network) else {
        return Ok(CheckResult::fail(
            format!("there is no network `{}`", check.network),
            format!("нет сети `{}`", check.network),
        ));
    };
    let missing: Vec<String> = check
        .containers
        .iter()
        .filter(|c| !network.containers.iter().any(|m| &m.container == *c))
        .map(|c| format!("`{c}`"))
        .collect();
    Ok(CheckResult::given(
        missing.is_empty(),
        format!("not attached to `{}`: {}", check.network, missing.join(", ")),
        format!("не подключены к `{}`: {}", check.network, missing.join(", ")),
    ))
}

/// The names a container answers to on one network: its name, aliases and DNS names.
fn names_on(raw: &serde_json::Value, name: &str, network: &str) -> Vec<String> {
    let endpoint = &raw["NetworkSettings"]["Networks"][network];
    let mut names = vec![name.to_string()];
    for key in ["Aliases", "DNSNames"] {
        names.extend(endpoint[key].as_array().into_iter().flatten().filter_map(|a| a.as_str().map(str::to_string)));
    }
    names
}

pub async fn resolves(engine: &Engine, check: &Resolves) -> Eval<CheckResult> {
    let Some(from) = optional(engine.inspect_container(&check.container).await)? else {
        return Ok(CheckResult::fail(
            format!("there is no container `{}`", check.container),
            format!("нет контейнера `{}`", check.container),
        ));
    };
    if !from.running {
        return Ok(CheckResult::fail(
            format!("`{}` is not running", check.container),
            format!("`{}` не запущен", check.container),
        ));
    }
    // Legacy links: "/db:/web/database" lets `web` reach `db` as `database` (and `db`).
    for link in from.raw["HostConfig"]["Links"].as_array().into_iter().flatten().filter_map(|l| l.as_str()) {
        let (target, alias) = link.split_once(':').unwrap_or((link, link));
        let target = target.trim_start_matches('/');
        let alias = alias.rsplit('/').next().unwrap_or(alias);
        if check.name == target || check.name == alias {
            return Ok(CheckResult::pass());
        }
    }
    let user_networks: Vec<&String> = from.networks.keys().filter(|n| !NO_DNS.contains(&n.as_str())).collect();
    if user_networks.is_empty() {
        return Ok(CheckResult::fail(
            format!(
                "`{}` is only on the default network, where containers do not find each other by name: create a network and attach both",
                check.container
            ),
            format!(
                "`{}` подключён только к сети по умолчанию, где контейнеры не находят друг друга по имени: создайте сеть и подключите к ней оба",
                check.container
            ),
        ));
    }
    let running = answered(engine.list_containers(&ContainerFilter { all: false, ..Default::default() }).await)?;
    for other in running.iter().filter(|c| c.id != from.id && c.state == ContainerState::Running) {
        let shared: Vec<&&String> = user_networks.iter().filter(|n| other.networks.contains(n)).collect();
        if shared.is_empty() {
            continue;
        }
        let Some(details) = optional(engine.inspect_container(&other.id).await)? else { continue };
        if shared.iter().any(|n| names_on(&details.raw, &other.name, n).contains(&check.name)) {
            return Ok(CheckResult::pass());
        }
    }
    let target_elsewhere = running.iter().any(|c| c.name == check.name);
    Ok(if target_elsewhere {
        CheckResult::fail(
            format!("`{}` and `{}` share no network of their own", check.container, check.name),
            format!("у `{}` и `{}` нет общей собственной сети", check.container, check.name),
        )
    } else {
        CheckResult::fail(
            format!("no running container called `{}` on the networks of `{}`", check.name, check.container),
            format!("в сетях `{}` нет работающего контейнера с именем `{}`", check.container, check.name),
        )
    })
}

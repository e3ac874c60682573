//! A compose file's services, networks, volumes, secrets and configs as Swarm specs, named and labelled as
//! `docker stack deploy` names them (`STACK_service`, `STACK_default`, the
//! `com.docker.stack.namespace` label), so that either tool can update or remove the stack.
//!
//! Which keys are read is listed in [`SERVICE_KEYS`] and its neighbours; `docker stack deploy`
//! ignores some keys (listed in [`IGNORED_SERVICE_KEYS`]: a warning says so), refuses others
//! ([`REFUSED_SERVICE_KEYS`], with its reason); a key Gantry does not read yet is an error, so a
//! file is never deployed with part of it silently dropped.

use std::collections::BTreeMap;
use std::path::Path;

use bollard::models::{NetworkCreateRequest, ServiceSpec};
use serde_json::{Map, Value, json};

use super::compose::ComposeError;
use super::objects::{Defined, PlannedObject, compose_key, container_key, references};
use super::values::{
    boolean, bytes, command, count, duration_ns, integer, key_values, nano_cpus, number, one_of, strings, text,
};
use crate::services::STACK_LABEL;
use crate::swarm_objects::SwarmObjectKind;

type Res<T> = Result<T, ComposeError>;

/// The label with the image a stack's service was deployed with (as the docker CLI sets it).
pub const STACK_IMAGE_LABEL: &str = "com.docker.stack.image";

/// Top-level keys read.
pub const TOP_KEYS: &[&str] = &["version", "name", "services", "networks", "volumes", "secrets", "configs"];
/// Service keys read.
pub const SERVICE_KEYS: &[&str] = &[
    "image",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "labels",
    "ports",
    "deploy",
    "networks",
    "volumes",
    "working_dir",
    "user",
    "hostname",
    "healthcheck",
    "stop_grace_period",
    "stop_signal",
    "tty",
    "stdin_open",
    "read_only",
    "init",
    "extra_hosts",
    "cap_add",
    "cap_drop",
    "sysctls",
    "secrets",
    "configs",
];
/// `deploy:` keys read.
pub const DEPLOY_KEYS: &[&str] = &[
    "mode",
    "replicas",
    "labels",
    "update_config",
    "rollback_config",
    "restart_policy",
    "resources",
    "placement",
    "endpoint_mode",
];
/// Service keys `docker stack deploy` ignores (Swarm has no such setting), with a warning.
pub const IGNORED_SERVICE_KEYS: &[&str] = &[
    "build",
    "cgroupns_mode",
    "cgroup_parent",
    "container_name",
    "depends_on",
    "devices",
    "domainname",
    "expose",
    "external_links",
    "ipc",
    "links",
    "mac_address",
    "network_mode",
    "pid",
    "privileged",
    "restart",
    "security_opt",
    "shm_size",
    "userns_mode",
];
/// Service keys `docker stack deploy` refuses, and what to write instead.
pub const REFUSED_SERVICE_KEYS: &[(&str, &str)] = &[
    ("extends", "`extends` is not supported by stack deploy"),
    ("volume_driver", "define the volume in the top-level `volumes:` with its driver instead"),
    ("volumes_from", "define a volume in the top-level `volumes:` and mount it in each service instead"),
    ("cpu_quota", "set resource limits in deploy.resources instead"),
    ("cpu_shares", "set resource limits in deploy.resources instead"),
    ("cpuset", "set resource limits in deploy.resources instead"),
    ("mem_limit", "set resource limits in deploy.resources instead"),
    ("memswap_limit", "set resource limits in deploy.resources instead"),
];

/// A network the stack needs: made by the deploy unless `external`.
#[derive(Debug, Clone)]
pub struct PlannedNetwork {
    /// The network's name on the engine.
    pub name: String,
    pub external: bool,
    pub create: NetworkCreateRequest,
}

/// A service to create or update.
#[derive(Debug, Clone)]
pub struct PlannedService {
    /// The compose file's name (`web`); the engine's is `spec.name` (`shop_web`).
    pub short_name: String,
    pub spec: ServiceSpec,
}

/// Everything a deploy will ask of the engine, worked out before asking anything.
#[derive(Debug, Clone)]
pub struct StackPlan {
    pub stack: String,
    pub services: Vec<PlannedService>,
    pub networks: Vec<PlannedNetwork>,
    /// The secrets and configs of the top-level `secrets:` and `configs:`.
    pub objects: Vec<PlannedObject>,
    pub warnings: Vec<String>,
}

/// Stack names: lowercase letters, digits, `_` and `-`, starting with a letter or digit (they
/// prefix every service and network name).
pub fn validate_stack_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "stack name {name:?}: use lowercase letters, digits, '_' and '-' (at most 63), starting with a letter or digit"
        ))
    }
}

pub(super) fn object<'a>(v: &'a Value, at: &str) -> Res<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| ComposeError::at(at, "expected a mapping (key: value lines)"))
}

/// `v` as a mapping, `null` as an empty one.
pub(super) fn object_or_empty<'a>(
    v: &'a Value,
    at: &str,
    empty: &'a Map<String, Value>,
) -> Res<&'a Map<String, Value>> {
    if v.is_null() { Ok(empty) } else { object(v, at) }
}

pub(super) fn refuse_unknown(map: &Map<String, Value>, at: &str, known: &[&str]) -> Res<()> {
    for key in map.keys() {
        if !known.contains(&key.as_str()) && !key.starts_with("x-") {
            return Err(ComposeError::at(
                format!("{at}.{key}"),
                format!("Gantry's stack deploy does not read this key (it reads: {})", known.join(", ")),
            ));
        }
    }
    Ok(())
}

pub(super) fn labels_of(v: Option<&Value>, at: &str, stack: &str) -> Res<Map<String, Value>> {
    let mut labels = Map::new();
    if let Some(v) = v {
        for (k, val) in key_values(v, at)? {
            labels.insert(k, Value::String(val.unwrap_or_default()));
        }
    }
    labels.insert(STACK_LABEL.into(), Value::String(stack.into()));
    Ok(labels)
}

/// The stack's networks by their compose names; `default` always exists (made only if used).
struct Networks {
    by_compose_name: BTreeMap<String, PlannedNetwork>,
}

impl Networks {
    fn read(stack: &str, top: Option<&Value>) -> Res<Self> {
        let empty = Map::new();
        let mut by_compose_name = BTreeMap::new();
        let defined = match top {
            Some(v) => object_or_empty(v, "networks", &empty)?,
            None => &empty,
        };
        for (name, def) in defined.iter().chain(std::iter::once((&"default".to_string(), &Value::Null))) {
            if by_compose_name.contains_key(name) {
                continue;
            }
            let at = format!("networks.{name}");
            let def = object_or_empty(def, &at, &empty)?;
            refuse_unknown(
                def,
                &at,
                &["name", "driver", "driver_opts", "attachable", "internal", "labels", "external", "ipam"],
            )?;
            let external = match def.get("external") {
                None => None,
                Some(Value::Object(e)) => {
                    Some(e.get("name").map(|n| text(n, &format!("{at}.external.name"))).transpose()?)
                }
                Some(v) => boolean(v, &format!("{at}.external"))?.then_some(None),
            };
            let explicit = def.get("name").map(|n| text(n, &format!("{at}.name"))).transpose()?;
            let engine_name = match &external {
                Some(Some(n)) => n.clone(),
                _ => explicit.unwrap_or_else(|| format!("{stack}_{name}")),
            };
            let mut create = NetworkCreateRequest {
                name: engine_name.clone(),
                driver: Some(match def.get("driver") {
                    Some(d) => text(d, &format!("{at}.driver"))?,
                    None => "overlay".into(),
                }),
                scope: Some("swarm".into()),
                attachable: def.get("attachable").map(|v| boolean(v, &format!("{at}.attachable"))).transpose()?,
                internal: def.get("internal").map(|v| boolean(v, &format!("{at}.internal"))).transpose()?,
                options: def
                    .get("driver_opts")
                    .map(|v| key_values(v, &format!("{at}.driver_opts")))
                    .transpose()?
                    .map(|kv| kv.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect()),
                ..Default::default()
            };
            let labels = labels_of(def.get("labels"), &format!("{at}.labels"), stack)?;
            create.labels =
                Some(labels.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string())).collect());
            if let Some(ipam) = def.get("ipam") {
                create.ipam = Some(
                    serde_json::from_value(pascal_ipam(ipam, &format!("{at}.ipam"))?)
                        .map_err(|e| ComposeError::at(format!("{at}.ipam"), e.to_string()))?,
                );
            }
            by_compose_name
                .insert(name.clone(), PlannedNetwork { name: engine_name, external: external.is_some(), create });
        }
        Ok(Self { by_compose_name })
    }
}

/// `ipam: {driver, config: [{subnet, gateway, ip_range}]}` in the engine's spelling.
fn pascal_ipam(v: &Value, at: &str) -> Res<Value> {
    let empty = Map::new();
    let ipam = object_or_empty(v, at, &empty)?;
    refuse_unknown(ipam, at, &["driver", "config"])?;
    let mut configs = Vec::new();
    if let Some(list) = ipam.get("config") {
        for (i, c) in list
            .as_array()
            .ok_or_else(|| ComposeError::at(format!("{at}.config"), "expected a list"))?
            .iter()
            .enumerate()
        {
            let cat = format!("{at}.config[{i}]");
            let c = object(c, &cat)?;
            refuse_unknown(c, &cat, &["subnet", "gateway", "ip_range"])?;
            let mut out = Map::new();
            for (key, pascal) in [("subnet", "Subnet"), ("gateway", "Gateway"), ("ip_range", "IPRange")] {
                if let Some(v) = c.get(key) {
                    out.insert(pascal.into(), Value::String(text(v, &format!("{cat}.{key}"))?));
                }
            }
            configs.push(Value::Object(out));
        }
    }
    let mut out = Map::new();
    if let Some(d) = ipam.get("driver") {
        out.insert("Driver".into(), Value::String(text(d, &format!("{at}.driver"))?));
    }
    out.insert("Config".into(), Value::Array(configs));
    Ok(Value::Object(out))
}

/// A named volume of the top-level `volumes:`: its name on the engine and how tasks create it.
struct NamedVolume {
    name: String,
    external: bool,
    driver: Option<String>,
    driver_opts: Map<String, Value>,
    labels: Map<String, Value>,
}

fn read_volumes(stack: &str, top: Option<&Value>) -> Res<BTreeMap<String, NamedVolume>> {
    let empty = Map::new();
    let mut out = BTreeMap::new();
    let Some(top) = top else { return Ok(out) };
    for (name, def) in object_or_empty(top, "volumes", &empty)? {
        let at = format!("volumes.{name}");
        let def = object_or_empty(def, &at, &empty)?;
        refuse_unknown(def, &at, &["name", "driver", "driver_opts", "external", "labels"])?;
        let external = match def.get("external") {
            None => None,
            Some(Value::Object(e)) => Some(e.get("name").map(|n| text(n, &format!("{at}.external.name"))).transpose()?),
            Some(v) => boolean(v, &format!("{at}.external"))?.then_some(None),
        };
        let explicit = def.get("name").map(|n| text(n, &format!("{at}.name"))).transpose()?;
        let engine_name = match &external {
            Some(Some(n)) => n.clone(),
            _ => explicit.unwrap_or_else(|| format!("{stack}_{name}")),
        };
        let driver_opts = match def.get("driver_opts") {
            Some(v) => key_values(v, &format!("{at}.driver_opts"))?
                .into_iter()
                .map(|(k, v)| (k, Value::String(v.unwrap_or_default())))
                .collect(),
            None => Map::new(),
        };
        out.insert(
            name.clone(),
            NamedVolume {
                name: engine_name,
                external: external.is_some(),
                driver: def.get("driver").map(|d| text(d, &format!("{at}.driver"))).transpose()?,
                driver_opts,
                labels: labels_of(def.get("labels"), &format!("{at}.labels"), stack)?,
            },
        );
    }
    Ok(out)
}

/// Works out the whole deploy of `compose` (as [`super::compose::load`] read it) as stack
/// `stack`. `base_dir` is where relative paths (bind mounts, env files) start; `lookup` gives
/// variables for `environment` entries without a value.
pub fn plan(stack: &str, compose: &Value, base_dir: &Path, lookup: &dyn Fn(&str) -> Option<String>) -> Res<StackPlan> {
    validate_stack_name(stack).map_err(|m| ComposeError::at("the stack name", m))?;
    let top = object(compose, "the file")?;
    for key in top.keys() {
        match key.as_str() {
            k if TOP_KEYS.contains(&k) || k.starts_with("x-") => {}
            k => {
                return Err(ComposeError::at(
                    k,
                    format!("unknown top-level key (a compose file has {})", TOP_KEYS.join(", ")),
                ));
            }
        }
    }
    let mut networks = Networks::read(stack, top.get("networks"))?;
    let volumes = read_volumes(stack, top.get("volumes"))?;
    let objects = Defined::read(stack, top, base_dir, lookup)?;
    let services = top
        .get("services")
        .map(|s| object(s, "services"))
        .transpose()?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ComposeError::at("services", "the file has no services"))?;

    let mut warnings = Vec::new();
    let mut ignored: BTreeMap<&str, ()> = BTreeMap::new();
    let mut used_networks: BTreeMap<String, ()> = BTreeMap::new();
    let mut planned = Vec::new();
    for (short_name, def) in services {
        let at = format!("services.{short_name}");
        if short_name.is_empty() || !short_name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
            return Err(ComposeError::at(at, "a service name is letters, digits, '_', '.' and '-'"));
        }
        let def = object(def, &at)?;
        for key in def.keys() {
            let key = key.as_str();
            if let Some((_, why)) = REFUSED_SERVICE_KEYS.iter().find(|(k, _)| *k == key) {
                return Err(ComposeError::at(format!("{at}.{key}"), *why));
            }
            if let Some(k) = IGNORED_SERVICE_KEYS.iter().find(|k| **k == key) {
                ignored.insert(k, ());
            } else if !SERVICE_KEYS.contains(&key) && !key.starts_with("x-") {
                return Err(ComposeError::at(
                    format!("{at}.{key}"),
                    "Gantry's stack deploy does not read this key yet (docs/remote.md lists the keys it reads): deploy this file with `docker stack deploy`",
                ));
            }
        }
        let spec = service_spec(stack, short_name, def, &at, &mut networks, &volumes, &objects, base_dir, lookup)?;
        for n in spec_networks(&spec) {
            used_networks.insert(n, ());
        }
        planned.push(PlannedService { short_name: short_name.clone(), spec });
    }
    if !ignored.is_empty() {
        warnings.push(format!(
            "ignoring keys Swarm has no use for (as docker stack deploy does): {}",
            ignored.keys().copied().collect::<Vec<_>>().join(", ")
        ));
    }
    let networks = networks.by_compose_name.into_values().filter(|n| used_networks.contains_key(&n.name)).collect();
    Ok(StackPlan { stack: stack.to_string(), services: planned, networks, objects: objects.into_list(), warnings })
}

fn spec_networks(spec: &ServiceSpec) -> Vec<String> {
    spec.task_template
        .as_ref()
        .and_then(|t| t.networks.as_ref())
        .map(|n| n.iter().filter_map(|a| a.target.clone()).collect())
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn service_spec(
    stack: &str,
    short_name: &str,
    def: &Map<String, Value>,
    at: &str,
    networks: &mut Networks,
    volumes: &BTreeMap<String, NamedVolume>,
    objects: &Defined,
    base_dir: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Res<ServiceSpec> {
    let field = |key: &str| format!("{at}.{key}");
    let image = match def.get("image") {
        Some(v) => text(v, &field("image"))?,
        None => {
            return Err(ComposeError::at(
                field("image"),
                "missing: Swarm runs images, it does not build them; build and name the image, then set `image:`",
            ));
        }
    };
    let mut container = Map::new();
    container.insert("Image".into(), json!(image));
    if let Some(v) = def.get("entrypoint") {
        container.insert("Command".into(), json!(command(v, &field("entrypoint"))?));
    }
    if let Some(v) = def.get("command") {
        container.insert("Args".into(), json!(command(v, &field("command"))?));
    }
    let env = environment(def, at, base_dir, lookup)?;
    if !env.is_empty() {
        container.insert("Env".into(), json!(env));
    }
    container.insert("Labels".into(), Value::Object(labels_of(def.get("labels"), &field("labels"), stack)?));
    for (key, pascal) in
        [("working_dir", "Dir"), ("user", "User"), ("hostname", "Hostname"), ("stop_signal", "StopSignal")]
    {
        if let Some(v) = def.get(key) {
            container.insert(pascal.into(), json!(text(v, &field(key))?));
        }
    }
    for (key, pascal) in [("tty", "TTY"), ("stdin_open", "OpenStdin"), ("read_only", "ReadOnly"), ("init", "Init")] {
        if let Some(v) = def.get(key) {
            container.insert(pascal.into(), json!(boolean(v, &field(key))?));
        }
    }
    if let Some(v) = def.get("stop_grace_period") {
        container.insert("StopGracePeriod".into(), json!(duration_ns(v, &field("stop_grace_period"))?));
    }
    if let Some(v) = def.get("extra_hosts") {
        let hosts = key_values_colon(v, &field("extra_hosts"))?;
        // the engine's spelling is /etc/hosts' own: "IP name"
        container
            .insert("Hosts".into(), json!(hosts.into_iter().map(|(h, ip)| format!("{ip} {h}")).collect::<Vec<_>>()));
    }
    for (key, pascal) in [("cap_add", "CapabilityAdd"), ("cap_drop", "CapabilityDrop")] {
        if let Some(v) = def.get(key) {
            container.insert(pascal.into(), json!(strings(v, &field(key))?));
        }
    }
    if let Some(v) = def.get("sysctls") {
        let map: Map<String, Value> =
            key_values(v, &field("sysctls"))?.into_iter().map(|(k, v)| (k, json!(v.unwrap_or_default()))).collect();
        container.insert("Sysctls".into(), Value::Object(map));
    }
    if let Some(v) = def.get("healthcheck") {
        container.insert("HealthCheck".into(), healthcheck(v, &field("healthcheck"))?);
    }
    let mounts = match def.get("volumes") {
        Some(v) => mounts(v, &field("volumes"), volumes, base_dir)?,
        None => Vec::new(),
    };
    if !mounts.is_empty() {
        container.insert("Mounts".into(), Value::Array(mounts));
    }
    for kind in [SwarmObjectKind::Secret, SwarmObjectKind::Config] {
        if let Some(v) = def.get(compose_key(kind)) {
            let refs = references(kind, v, &field(compose_key(kind)), objects)?;
            container.insert(container_key(kind).into(), Value::Array(refs));
        }
    }

    let empty = Map::new();
    let deploy = match def.get("deploy") {
        Some(v) => object_or_empty(v, &field("deploy"), &empty)?,
        None => &empty,
    };
    let dat = field("deploy");
    refuse_unknown(deploy, &dat, DEPLOY_KEYS)?;
    let mut task = Map::new();
    task.insert("ContainerSpec".into(), Value::Object(container));
    if let Some(v) = deploy.get("resources") {
        task.insert("Resources".into(), resources(v, &format!("{dat}.resources"))?);
    }
    if let Some(v) = deploy.get("restart_policy") {
        task.insert("RestartPolicy".into(), restart_policy(v, &format!("{dat}.restart_policy"))?);
    }
    if let Some(v) = deploy.get("placement") {
        task.insert("Placement".into(), placement(v, &format!("{dat}.placement"))?);
    }
    task.insert(
        "Networks".into(),
        Value::Array(attachments(def.get("networks"), &field("networks"), short_name, networks)?),
    );

    let mut spec = Map::new();
    spec.insert("Name".into(), json!(format!("{stack}_{short_name}")));
    let mut labels = labels_of(deploy.get("labels"), &format!("{dat}.labels"), stack)?;
    labels.insert(STACK_IMAGE_LABEL.into(), json!(image));
    spec.insert("Labels".into(), Value::Object(labels));
    spec.insert("TaskTemplate".into(), Value::Object(task));
    let mode = match deploy.get("mode") {
        Some(v) => one_of(v, &format!("{dat}.mode"), &["replicated", "global"])?,
        None => "replicated".into(),
    };
    if mode == "global" {
        if deploy.contains_key("replicas") {
            return Err(ComposeError::at(
                format!("{dat}.replicas"),
                "a global service runs one task per node: no replicas",
            ));
        }
        spec.insert("Mode".into(), json!({"Global": {}}));
    } else {
        let replicas = deploy.get("replicas").map(|v| count(v, &format!("{dat}.replicas"))).transpose()?.unwrap_or(1);
        spec.insert("Mode".into(), json!({"Replicated": {"Replicas": replicas}}));
    }
    for (key, pascal) in [("update_config", "UpdateConfig"), ("rollback_config", "RollbackConfig")] {
        if let Some(v) = deploy.get(key) {
            spec.insert(pascal.into(), update_config(v, &format!("{dat}.{key}"))?);
        }
    }
    let mut endpoint = Map::new();
    if let Some(v) = deploy.get("endpoint_mode") {
        endpoint.insert("Mode".into(), json!(one_of(v, &format!("{dat}.endpoint_mode"), &["vip", "dnsrr"])?));
    }
    if let Some(v) = def.get("ports") {
        endpoint.insert("Ports".into(), Value::Array(ports(v, &field("ports"))?));
    }
    if !endpoint.is_empty() {
        spec.insert("EndpointSpec".into(), Value::Object(endpoint));
    }
    serde_json::from_value(Value::Object(spec))
        .map_err(|e| ComposeError::at(at, format!("cannot be expressed as a Swarm service: {e}")))
}

/// `env_file` entries, then `environment` over them; entries without a value take this
/// machine's variable (and are left out when it is not set), as compose does.
fn environment(
    def: &Map<String, Value>,
    at: &str,
    base_dir: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Res<Vec<String>> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |k: String, v: Option<String>| {
        let Some(v) = v.or_else(|| lookup(&k)) else { return };
        match env.iter_mut().find(|(key, _)| *key == k) {
            Some(entry) => entry.1 = v,
            None => env.push((k, v)),
        }
    };
    if let Some(files) = def.get("env_file") {
        for (i, file) in strings(files, &format!("{at}.env_file"))?.into_iter().enumerate() {
            let path = base_dir.join(&file);
            let fat = format!("{at}.env_file[{i}]");
            let content = std::fs::read_to_string(&path)
                .map_err(|e| ComposeError::at(&fat, format!("cannot read {}: {e}", path.display())))?;
            for (n, line) in content.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let line = line.strip_prefix("export ").unwrap_or(line);
                match line.split_once('=') {
                    Some((k, v)) if !k.trim().is_empty() => set(k.trim().to_string(), Some(unquote(v.trim()))),
                    Some(_) => {
                        return Err(ComposeError::at(&fat, format!("line {} of {file} has no name before =", n + 1)));
                    }
                    None => set(line.to_string(), None),
                }
            }
        }
    }
    if let Some(v) = def.get("environment") {
        for (k, val) in key_values(v, &format!("{at}.environment"))? {
            set(k, val);
        }
    }
    Ok(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

/// `extra_hosts`: `name:ip` / `name=ip` list entries, or a mapping.
fn key_values_colon(v: &Value, at: &str) -> Res<Vec<(String, String)>> {
    match v {
        Value::Object(_) => key_values(v, at)?.into_iter().map(|(k, ip)| Ok((k, ip.unwrap_or_default()))).collect(),
        _ => strings(v, at)?
            .into_iter()
            .map(|entry| {
                entry
                    .split_once('=')
                    .or_else(|| entry.split_once(':'))
                    .map(|(h, ip)| (h.to_string(), ip.to_string()))
                    .ok_or_else(|| ComposeError::at(at, format!("{entry:?}: write name:address")))
            })
            .collect(),
    }
}

fn healthcheck(v: &Value, at: &str) -> Res<Value> {
    let empty = Map::new();
    let h = object_or_empty(v, at, &empty)?;
    refuse_unknown(h, at, &["test", "interval", "timeout", "retries", "start_period", "disable"])?;
    let mut out = Map::new();
    if h.get("disable").map(|d| boolean(d, &format!("{at}.disable"))).transpose()? == Some(true) {
        out.insert("Test".into(), json!(["NONE"]));
        return Ok(Value::Object(out));
    }
    if let Some(t) = h.get("test") {
        let test = match t {
            Value::String(s) => vec!["CMD-SHELL".to_string(), s.clone()],
            other => strings(other, &format!("{at}.test"))?,
        };
        out.insert("Test".into(), json!(test));
    }
    for (key, pascal) in [("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod")] {
        if let Some(d) = h.get(key) {
            out.insert(pascal.into(), json!(duration_ns(d, &format!("{at}.{key}"))?));
        }
    }
    if let Some(r) = h.get("retries") {
        out.insert("Retries".into(), json!(count(r, &format!("{at}.retries"))?));
    }
    Ok(Value::Object(out))
}

fn resources(v: &Value, at: &str) -> Res<Value> {
    let empty = Map::new();
    let r = object_or_empty(v, at, &empty)?;
    refuse_unknown(r, at, &["limits", "reservations"])?;
    let mut out = Map::new();
    for (key, pascal) in [("limits", "Limits"), ("reservations", "Reservations")] {
        let Some(part) = r.get(key) else { continue };
        let pat = format!("{at}.{key}");
        let part = object_or_empty(part, &pat, &empty)?;
        let allowed: &[&str] = if key == "limits" { &["cpus", "memory", "pids"] } else { &["cpus", "memory"] };
        refuse_unknown(part, &pat, allowed)?;
        let mut o = Map::new();
        if let Some(c) = part.get("cpus") {
            o.insert("NanoCPUs".into(), json!(nano_cpus(c, &format!("{pat}.cpus"))?));
        }
        if let Some(m) = part.get("memory") {
            o.insert("MemoryBytes".into(), json!(bytes(m, &format!("{pat}.memory"))?));
        }
        if let Some(p) = part.get("pids") {
            o.insert("Pids".into(), json!(integer(p, &format!("{pat}.pids"))?));
        }
        out.insert(pascal.into(), Value::Object(o));
    }
    Ok(Value::Object(out))
}

fn restart_policy(v: &Value, at: &str) -> Res<Value> {
    let empty = Map::new();
    let r = object_or_empty(v, at, &empty)?;
    refuse_unknown(r, at, &["condition", "delay", "max_attempts", "window"])?;
    let mut out = Map::new();
    if let Some(c) = r.get("condition") {
        out.insert("Condition".into(), json!(one_of(c, &format!("{at}.condition"), &["none", "on-failure", "any"])?));
    }
    for (key, pascal) in [("delay", "Delay"), ("window", "Window")] {
        if let Some(d) = r.get(key) {
            out.insert(pascal.into(), json!(duration_ns(d, &format!("{at}.{key}"))?));
        }
    }
    if let Some(m) = r.get("max_attempts") {
        out.insert("MaxAttempts".into(), json!(count(m, &format!("{at}.max_attempts"))?));
    }
    Ok(Value::Object(out))
}

fn placement(v: &Value, at: &str) -> Res<Value> {
    let empty = Map::new();
    let p = object_or_empty(v, at, &empty)?;
    refuse_unknown(p, at, &["constraints", "preferences", "max_replicas_per_node"])?;
    let mut out = Map::new();
    if let Some(c) = p.get("constraints") {
        out.insert("Constraints".into(), json!(strings(c, &format!("{at}.constraints"))?));
    }
    if let Some(list) = p.get("preferences") {
        let pat = format!("{at}.preferences");
        let items =
            list.as_array().ok_or_else(|| ComposeError::at(&pat, "expected a list of `- spread: node.labels.NAME`"))?;
        let mut prefs = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let iat = format!("{pat}[{i}]");
            let item = object(item, &iat)?;
            refuse_unknown(item, &iat, &["spread"])?;
            let spread =
                item.get("spread").ok_or_else(|| ComposeError::at(&iat, "expected `spread: node.labels.NAME`"))?;
            prefs.push(json!({"Spread": {"SpreadDescriptor": text(spread, &format!("{iat}.spread"))?}}));
        }
        out.insert("Preferences".into(), Value::Array(prefs));
    }
    if let Some(m) = p.get("max_replicas_per_node") {
        out.insert("MaxReplicas".into(), json!(count(m, &format!("{at}.max_replicas_per_node"))?));
    }
    Ok(Value::Object(out))
}

fn update_config(v: &Value, at: &str) -> Res<Value> {
    let empty = Map::new();
    let u = object_or_empty(v, at, &empty)?;
    refuse_unknown(u, at, &["parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order"])?;
    let mut out = Map::new();
    if let Some(p) = u.get("parallelism") {
        out.insert("Parallelism".into(), json!(count(p, &format!("{at}.parallelism"))?));
    }
    for (key, pascal) in [("delay", "Delay"), ("monitor", "Monitor")] {
        if let Some(d) = u.get(key) {
            out.insert(pascal.into(), json!(duration_ns(d, &format!("{at}.{key}"))?));
        }
    }
    if let Some(f) = u.get("failure_action") {
        out.insert(
            "FailureAction".into(),
            json!(one_of(f, &format!("{at}.failure_action"), &["continue", "pause", "rollback"])?),
        );
    }
    if let Some(r) = u.get("max_failure_ratio") {
        let ratio = number(r, &format!("{at}.max_failure_ratio"))?;
        if !(0.0..=1.0).contains(&ratio) {
            return Err(ComposeError::at(format!("{at}.max_failure_ratio"), "expected a ratio from 0 to 1"));
        }
        out.insert("MaxFailureRatio".into(), json!(ratio));
    }
    if let Some(o) = u.get("order") {
        out.insert("Order".into(), json!(one_of(o, &format!("{at}.order"), &["stop-first", "start-first"])?));
    }
    Ok(Value::Object(out))
}

/// The service's networks (its short name as an alias on each, so services find each other by
/// it); none listed means the stack's `default`.
fn attachments(v: Option<&Value>, at: &str, short_name: &str, networks: &mut Networks) -> Res<Vec<Value>> {
    let mut wanted: Vec<(String, Vec<String>)> = Vec::new();
    match v {
        None | Some(Value::Null) => wanted.push(("default".into(), Vec::new())),
        Some(Value::Array(_)) => {
            for name in strings(v.unwrap_or(&Value::Null), at)? {
                wanted.push((name, Vec::new()));
            }
        }
        Some(Value::Object(map)) => {
            let empty = Map::new();
            for (name, def) in map {
                let nat = format!("{at}.{name}");
                let def = object_or_empty(def, &nat, &empty)?;
                refuse_unknown(def, &nat, &["aliases"])?;
                let aliases =
                    def.get("aliases").map(|a| strings(a, &format!("{nat}.aliases"))).transpose()?.unwrap_or_default();
                wanted.push((name.clone(), aliases));
            }
        }
        Some(_) => return Err(ComposeError::at(at, "expected a list of network names or a mapping")),
    }
    let mut out = Vec::new();
    for (name, mut aliases) in wanted {
        let network = networks.by_compose_name.get(&name).ok_or_else(|| {
            ComposeError::at(
                format!("{at}.{name}"),
                format!("network {name:?} is not defined in the top-level `networks:`"),
            )
        })?;
        aliases.insert(0, short_name.to_string());
        out.push(json!({"Target": network.name, "Aliases": aliases}));
    }
    Ok(out)
}

/// Published ports: `"8080:80"`, `"80"`, `"8080-8081:80-81/udp"`, or `{target, published,
/// protocol, mode}`.
fn ports(v: &Value, at: &str) -> Res<Vec<Value>> {
    let items = v.as_array().ok_or_else(|| ComposeError::at(at, "expected a list of ports"))?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let iat = format!("{at}[{i}]");
        match item {
            Value::Object(p) => {
                refuse_unknown(p, &iat, &["target", "published", "protocol", "mode"])?;
                let target = p.get("target").ok_or_else(|| ComposeError::at(&iat, "a port needs its `target`"))?;
                let mut port = Map::new();
                port.insert("TargetPort".into(), json!(port_number(target, &format!("{iat}.target"))?));
                if let Some(pb) = p.get("published") {
                    port.insert("PublishedPort".into(), json!(port_number(pb, &format!("{iat}.published"))?));
                }
                port.insert(
                    "Protocol".into(),
                    json!(match p.get("protocol") {
                        Some(pr) => one_of(pr, &format!("{iat}.protocol"), &["tcp", "udp", "sctp"])?,
                        None => "tcp".into(),
                    }),
                );
                port.insert(
                    "PublishMode".into(),
                    json!(match p.get("mode") {
                        Some(m) => one_of(m, &format!("{iat}.mode"), &["ingress", "host"])?,
                        None => "ingress".into(),
                    }),
                );
                out.push(Value::Object(port));
            }
            other => out.extend(short_ports(&text(other, &iat)?).map_err(|m| ComposeError::at(&iat, m))?),
        }
    }
    Ok(out)
}

fn port_number(v: &Value, at: &str) -> Res<u16> {
    let n = integer(v, at)?;
    u16::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| ComposeError::at(at, "a port is 1 to 65535"))
}

/// `[published[-end]:]target[-end][/protocol]`.
pub fn short_ports(spec: &str) -> Result<Vec<Value>, String> {
    let (ports, protocol) = match spec.rsplit_once('/') {
        Some((p, proto)) if ["tcp", "udp", "sctp"].contains(&proto) => (p, proto),
        Some((_, proto)) => return Err(format!("{spec:?}: protocol {proto:?} is not tcp, udp or sctp")),
        None => (spec, "tcp"),
    };
    let parts: Vec<&str> = ports.split(':').collect();
    let (published, target) = match parts.as_slice() {
        [target] => (None, *target),
        [published, target] => (Some(*published), *target),
        _ => {
            return Err(format!(
                "{spec:?}: Swarm publishes a port on every node's addresses: write published:target without an address"
            ));
        }
    };
    let range = |text: &str| -> Result<(u16, u16), String> {
        let (a, b) = text.split_once('-').unwrap_or((text, text));
        let parse = |t: &str| t.trim().parse::<u16>().ok().filter(|n| *n > 0);
        match (parse(a), parse(b)) {
            (Some(a), Some(b)) if a <= b => Ok((a, b)),
            _ => Err(format!("{spec:?}: {text:?} is not a port (1-65535) or a range of them")),
        }
    };
    let (t0, t1) = range(target)?;
    let published = published.map(range).transpose()?;
    if let Some((p0, p1)) = published
        && p1 - p0 != t1 - t0
    {
        return Err(format!("{spec:?}: the published and target ranges differ in size"));
    }
    Ok((0..=(t1 - t0))
        .map(|i| {
            let mut port = json!({"TargetPort": t0 + i, "Protocol": protocol, "PublishMode": "ingress"});
            if let Some((p0, _)) = published {
                port["PublishedPort"] = json!(p0 + i);
            }
            port
        })
        .collect())
}

/// Mounts: `name:/path[:ro]` (a volume of the top-level `volumes:`), `./dir:/path` or
/// `/abs:/path` (a bind mount: the folder must exist on the node that runs the task), `/path`
/// (an anonymous volume), or `{type, source, target, read_only, volume: {nocopy}, tmpfs: {size}}`.
fn mounts(v: &Value, at: &str, volumes: &BTreeMap<String, NamedVolume>, base_dir: &Path) -> Res<Vec<Value>> {
    let items = v.as_array().ok_or_else(|| ComposeError::at(at, "expected a list of mounts"))?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let iat = format!("{at}[{i}]");
        let (kind, source, target, read_only, nocopy, tmpfs_size) = match item {
            Value::Object(m) => {
                refuse_unknown(m, &iat, &["type", "source", "target", "read_only", "volume", "tmpfs"])?;
                let kind = match m.get("type") {
                    Some(t) => one_of(t, &format!("{iat}.type"), &["volume", "bind", "tmpfs"])?,
                    None => "volume".into(),
                };
                let target = m.get("target").map(|t| text(t, &format!("{iat}.target"))).transpose()?;
                let source = m.get("source").map(|s| text(s, &format!("{iat}.source"))).transpose()?;
                let read_only =
                    m.get("read_only").map(|r| boolean(r, &format!("{iat}.read_only"))).transpose()?.unwrap_or(false);
                let nocopy = match m.get("volume") {
                    Some(Value::Object(o)) => {
                        refuse_unknown(o, &format!("{iat}.volume"), &["nocopy"])?;
                        o.get("nocopy")
                            .map(|n| boolean(n, &format!("{iat}.volume.nocopy")))
                            .transpose()?
                            .unwrap_or(false)
                    }
                    _ => false,
                };
                let size = match m.get("tmpfs") {
                    Some(Value::Object(o)) => {
                        refuse_unknown(o, &format!("{iat}.tmpfs"), &["size"])?;
                        o.get("size").map(|s| bytes(s, &format!("{iat}.tmpfs.size"))).transpose()?
                    }
                    _ => None,
                };
                (kind, source, target.unwrap_or_default(), read_only, nocopy, size)
            }
            other => {
                let spec = text(other, &iat)?;
                let parts: Vec<&str> = spec.split(':').collect();
                let (source, target, mode) = match parts.as_slice() {
                    [target] => (None, *target, ""),
                    [source, target] => (Some(*source), *target, ""),
                    [source, target, mode] => (Some(*source), *target, *mode),
                    _ => return Err(ComposeError::at(&iat, format!("{spec:?}: write source:target[:ro]"))),
                };
                let mut read_only = false;
                let mut nocopy = false;
                for flag in mode.split(',').filter(|f| !f.is_empty()) {
                    match flag {
                        "ro" => read_only = true,
                        "rw" => read_only = false,
                        "nocopy" => nocopy = true,
                        other => {
                            return Err(ComposeError::at(
                                &iat,
                                format!("{spec:?}: mount option {other:?} is not ro, rw or nocopy"),
                            ));
                        }
                    }
                }
                let kind = match source {
                    Some(s) if s.starts_with(['/', '.', '~']) => "bind",
                    _ => "volume",
                };
                (kind.to_string(), source.map(str::to_string), target.to_string(), read_only, nocopy, None)
            }
        };
        if !target.starts_with('/') {
            return Err(ComposeError::at(
                &iat,
                format!("the mount target {target:?} must be an absolute path in the container"),
            ));
        }
        let mut mount = json!({"Type": kind, "Target": target, "ReadOnly": read_only});
        match kind.as_str() {
            "bind" => {
                let source = source.ok_or_else(|| ComposeError::at(&iat, "a bind mount needs its source folder"))?;
                mount["Source"] = json!(bind_source(&source, base_dir).map_err(|m| ComposeError::at(&iat, m))?);
            }
            "tmpfs" => {
                if let Some(size) = tmpfs_size {
                    mount["TmpfsOptions"] = json!({"SizeBytes": size});
                }
            }
            _ => match source {
                None => {}
                Some(name) => {
                    let volume = volumes.get(&name).ok_or_else(|| {
                        ComposeError::at(&iat, format!("volume {name:?} is not defined in the top-level `volumes:`"))
                    })?;
                    mount["Source"] = json!(volume.name);
                    let mut options = json!({"NoCopy": nocopy});
                    if !volume.external {
                        options["Labels"] = Value::Object(volume.labels.clone());
                        if volume.driver.is_some() || !volume.driver_opts.is_empty() {
                            options["DriverConfig"] = json!({
                                "Name": volume.driver.clone().unwrap_or_else(|| "local".into()),
                                "Options": volume.driver_opts,
                            });
                        }
                    }
                    mount["VolumeOptions"] = options;
                }
            },
        }
        out.push(mount);
    }
    Ok(out)
}

/// A bind source as an absolute path: `./x` and `x/y` from the compose file's folder, `~/x`
/// from the home folder.
fn bind_source(source: &str, base_dir: &Path) -> Result<String, String> {
    let path = if let Some(rest) = source.strip_prefix("~/") {
        let home = gantry_files::home_dir().ok_or("~ in a bind mount, and HOME is not set")?;
        Path::new(&home).join(rest)
    } else {
        base_dir.join(source)
    };
    let mut clean = std::path::PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    clean.to_str().map(str::to_string).ok_or_else(|| format!("{source:?} is not a UTF-8 path"))
}

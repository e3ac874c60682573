//! Creating and starting containers from a [`RunSpec`] — what `docker run -d` does.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, Mount, MountType, NetworkingConfig, PortBinding, RestartPolicy,
    RestartPolicyNameEnum,
};
use bollard::query_parameters::CreateContainerOptions;
use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::error::{EngineError, ResourceKind, Result};

/// A port to publish: `host_ip:host_port:container_port/protocol`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PortSpec {
    /// Host address to bind; `None` binds the engine default (all addresses).
    pub host_ip: Option<String>,
    /// Host port; `None` lets the engine pick a free one.
    pub host_port: Option<u16>,
    pub container_port: u16,
    /// `tcp` (default) or `udp`.
    #[serde(default = "tcp")]
    pub protocol: String,
}

fn tcp() -> String {
    "tcp".into()
}

impl PortSpec {
    /// Parses docker's `-p` syntax: `80`, `8080:80`, `127.0.0.1:8080:80`, `8080:80/udp`.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason: &str| EngineError::InvalidRequest { message: format!("port {text:?}: {reason}") };
        let (rest, protocol) = match text.rsplit_once('/') {
            Some((rest, proto @ ("tcp" | "udp" | "sctp"))) => (rest, proto.to_string()),
            Some(_) => return Err(invalid("protocol must be tcp, udp or sctp")),
            None => (text, "tcp".to_string()),
        };
        let parts: Vec<&str> = rest.rsplitn(3, ':').collect();
        let port = |s: &str| {
            s.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| invalid("ports are numbers from 1 to 65535"))
        };
        let (host_ip, host_port, container_port) = match parts.as_slice() {
            [c] => (None, None, port(c)?),
            [c, h] => (None, Some(port(h)?), port(c)?),
            [c, h, ip] => (
                Some(ip.trim_matches(['[', ']']).to_string()),
                if h.is_empty() { None } else { Some(port(h)?) },
                port(c)?,
            ),
            _ => return Err(invalid("expected [ip:][hostPort:]containerPort[/protocol]")),
        };
        Ok(Self { host_ip, host_port, container_port, protocol })
    }
}

/// A volume or bind mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MountSpec {
    /// Volume name (created if missing) or absolute host path.
    pub source: String,
    /// Absolute path inside the container.
    pub target: String,
    #[serde(default)]
    pub read_only: bool,
}

impl MountSpec {
    /// True when the source is a host path (a bind mount) rather than a volume name.
    pub fn is_bind(&self) -> bool {
        self.source.starts_with('/')
            || self.source.starts_with('.')
            || self.source.contains('\\')
            || self.source.get(1..2) == Some(":")
    }

    /// Parses docker's `-v` syntax: `name:/path`, `/host:/path[:ro]`.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = || EngineError::InvalidRequest {
            message: format!(
                "volume {text:?}: expected SOURCE:/container/path[:ro] (SOURCE is a volume name or an absolute host path)"
            ),
        };
        let mut parts: Vec<&str> = text.split(':').collect();
        let read_only = match parts.last() {
            Some(&"ro") => {
                parts.pop();
                true
            }
            Some(&"rw") => {
                parts.pop();
                false
            }
            _ => false,
        };
        match parts.as_slice() {
            [source, target] if !source.is_empty() && target.starts_with('/') => {
                Ok(Self { source: source.to_string(), target: target.to_string(), read_only })
            }
            _ => Err(invalid()),
        }
    }
}

/// When the engine restarts a container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    #[default]
    No,
    Always,
    UnlessStopped,
    OnFailure,
}

/// Everything `docker run -d` can be asked for in Gantry's Run dialog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct RunSpec {
    pub image: String,
    pub name: Option<String>,
    /// Command and arguments; empty = the image's default.
    pub command: Vec<String>,
    /// Replaces the image's entrypoint when set.
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=value` pairs.
    pub env: Vec<String>,
    pub ports: Vec<PortSpec>,
    pub mounts: Vec<MountSpec>,
    pub network: Option<String>,
    /// Extra names on `network`.
    pub network_aliases: Vec<String>,
    pub restart: Restart,
    /// Memory limit in bytes.
    pub memory_bytes: Option<i64>,
    /// CPU limit in units of 1e-9 CPUs (`--cpus 1.5` = 1_500_000_000).
    pub nano_cpus: Option<i64>,
    pub tty: bool,
    /// Keep stdin open (`-i`).
    pub interactive: bool,
    pub labels: Vec<(String, String)>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    /// Remove the container when it exits (`--rm`).
    pub auto_remove: bool,
    pub privileged: bool,
}

impl RunSpec {
    /// A spec for `image` with everything else default.
    pub fn new(image: impl Into<String>) -> Self {
        Self { image: image.into(), ..Self::default() }
    }

    /// Checks the spec before anything is sent to the engine.
    pub fn validate(&self) -> Result<()> {
        let bad = |message: String| Err(EngineError::InvalidRequest { message });
        if self.image.trim().is_empty() {
            return bad("an image is required".into());
        }
        crate::images::validate_reference(&self.image)?;
        if let Some(name) = &self.name {
            let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !ok {
                return bad(format!(
                    "container name {name:?} may only contain letters, digits, '_', '.' and '-', starting with a letter or digit"
                ));
            }
        }
        for env in &self.env {
            if env.split_once('=').is_none_or(|(k, _)| k.is_empty()) {
                return bad(format!("environment entry {env:?} must look like KEY=value"));
            }
        }
        for m in &self.mounts {
            if !m.target.starts_with('/') {
                return bad(format!("mount target {:?} must be an absolute path in the container", m.target));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.ports {
            if let Some(hp) = p.host_port
                && !seen.insert((p.host_ip.clone(), hp, p.protocol.clone()))
            {
                return bad(format!("host port {hp} is published twice"));
            }
        }
        Ok(())
    }

    /// The equivalent `docker run` command line, as arguments (for display and copy).
    pub fn docker_run_args(&self) -> Vec<String> {
        let mut args = vec!["docker".to_string(), "run".into(), "-d".into()];
        let mut push = |flag: &str, value: String| {
            args.push(flag.to_string());
            args.push(value);
        };
        if let Some(name) = &self.name {
            push("--name", name.clone());
        }
        for p in &self.ports {
            let mut s = String::new();
            if let Some(ip) = &p.host_ip {
                s.push_str(ip);
                s.push(':');
            }
            if let Some(hp) = p.host_port {
                s.push_str(&hp.to_string());
                s.push(':');
            } else if p.host_ip.is_some() {
                s.push(':');
            }
            s.push_str(&p.container_port.to_string());
            if p.protocol != "tcp" {
                s.push('/');
                s.push_str(&p.protocol);
            }
            push("-p", s);
        }
        for e in &self.env {
            push("-e", e.clone());
        }
        for m in &self.mounts {
            push("-v", format!("{}:{}{}", m.source, m.target, if m.read_only { ":ro" } else { "" }));
        }
        if let Some(n) = &self.network {
            push("--network", n.clone());
        }
        for a in &self.network_aliases {
            push("--network-alias", a.clone());
        }
        match self.restart {
            Restart::No => {}
            Restart::Always => push("--restart", "always".into()),
            Restart::UnlessStopped => push("--restart", "unless-stopped".into()),
            Restart::OnFailure => push("--restart", "on-failure".into()),
        }
        if let Some(m) = self.memory_bytes {
            push("--memory", m.to_string());
        }
        if let Some(c) = self.nano_cpus {
            push("--cpus", format!("{}", c as f64 / 1e9));
        }
        for (k, v) in &self.labels {
            push("--label", format!("{k}={v}"));
        }
        if let Some(w) = &self.working_dir {
            push("-w", w.clone());
        }
        if let Some(u) = &self.user {
            push("-u", u.clone());
        }
        if let Some(ep) = &self.entrypoint {
            push("--entrypoint", ep.join(" "));
        }
        if self.tty {
            args.push("-t".into());
        }
        if self.interactive {
            args.push("-i".into());
        }
        if self.auto_remove {
            args.push("--rm".into());
        }
        if self.privileged {
            args.push("--privileged".into());
        }
        args.push(self.image.clone());
        args.extend(self.command.iter().cloned());
        args
    }

    /// The equivalent `docker run` command as one shell-quoted line.
    pub fn docker_run_command(&self) -> String {
        self.docker_run_args().iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ")
    }

    fn to_create_body(&self) -> ContainerCreateBody {
        let mut exposed = Vec::new();
        let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        for p in &self.ports {
            let key = format!("{}/{}", p.container_port, p.protocol);
            exposed.push(key.clone());
            bindings.entry(key).or_insert_with(|| Some(Vec::new())).get_or_insert_with(Vec::new).push(PortBinding {
                host_ip: p.host_ip.clone(),
                host_port: Some(p.host_port.map(|h| h.to_string()).unwrap_or_default()),
            });
        }
        exposed.sort();
        exposed.dedup();
        let mounts = self
            .mounts
            .iter()
            .map(|m| Mount {
                target: Some(m.target.clone()),
                source: Some(m.source.clone()),
                typ: Some(if m.is_bind() { MountType::BIND } else { MountType::VOLUME }),
                read_only: Some(m.read_only),
                ..Default::default()
            })
            .collect();
        let restart = match self.restart {
            Restart::No => RestartPolicyNameEnum::NO,
            Restart::Always => RestartPolicyNameEnum::ALWAYS,
            Restart::UnlessStopped => RestartPolicyNameEnum::UNLESS_STOPPED,
            Restart::OnFailure => RestartPolicyNameEnum::ON_FAILURE,
        };
        let host_config = HostConfig {
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            mounts: Some(mounts),
            network_mode: self.network.clone(),
            restart_policy: Some(RestartPolicy { name: Some(restart), maximum_retry_count: None }),
            memory: self.memory_bytes,
            nano_cpus: self.nano_cpus,
            auto_remove: Some(self.auto_remove),
            privileged: Some(self.privileged),
            ..Default::default()
        };
        let networking_config = match (&self.network, self.network_aliases.is_empty()) {
            (Some(net), false) => Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    net.clone(),
                    EndpointSettings { aliases: Some(self.network_aliases.clone()), ..Default::default() },
                )])),
            }),
            _ => None,
        };
        ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: (!self.command.is_empty()).then(|| self.command.clone()),
            entrypoint: self.entrypoint.clone(),
            env: (!self.env.is_empty()).then(|| self.env.clone()),
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            tty: Some(self.tty),
            open_stdin: Some(self.interactive),
            attach_stdin: Some(false),
            labels: (!self.labels.is_empty()).then(|| self.labels.iter().cloned().collect()),
            working_dir: self.working_dir.clone(),
            user: self.user.clone(),
            host_config: Some(host_config),
            networking_config,
            ..Default::default()
        }
    }
}

fn shell_quote(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c)) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

impl Engine {
    /// Creates a container from `spec` without starting it; returns its ID.
    pub async fn create_container(&self, spec: &RunSpec) -> Result<String> {
        spec.validate()?;
        let options =
            spec.name.as_ref().map(|n| CreateContainerOptions { name: Some(n.clone()), platform: String::new() });
        let subject = spec.name.clone().unwrap_or_else(|| spec.image.clone());
        let created = self.docker.create_container(options, spec.to_create_body()).await.map_err(|e| {
            match self.err(e, ResourceKind::Container, &subject) {
                EngineError::NotFound { .. } | EngineError::ImageMissing { .. } => {
                    EngineError::ImageMissing { image: spec.image.clone() }
                }
                EngineError::Conflict { .. } => EngineError::NameInUse { name: subject.clone() },
                EngineError::InvalidReference { reason, .. } => {
                    EngineError::InvalidReference { reference: spec.image.clone(), reason }
                }
                other => other,
            }
        })?;
        for warning in &created.warnings {
            tracing::warn!(container = %created.id, %warning, "engine warning on create");
        }
        Ok(created.id)
    }

    /// Creates and starts a container (`docker run -d`); returns its ID. If it cannot start
    /// (e.g. its host port is taken) the created container is removed again, so a retry with
    /// the same name works.
    pub async fn run_container(&self, spec: &RunSpec) -> Result<String> {
        let id = self.create_container(spec).await?;
        if let Err(e) = self.start_container(&id).await {
            let cleanup = crate::containers::RemoveOptions { force: true, volumes: false };
            if let Err(rm) = self.remove_container(&id, cleanup).await {
                tracing::warn!(container = %id, error = %rm, "could not remove container that failed to start");
            }
            return Err(e);
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_port_syntax() {
        let p = PortSpec::parse("127.0.0.1:8080:80").expect("valid");
        assert_eq!((p.host_ip.as_deref(), p.host_port, p.container_port), (Some("127.0.0.1"), Some(8080), 80));
        let p = PortSpec::parse("53:53/udp").expect("valid");
        assert_eq!((p.host_port, p.protocol.as_str()), (Some(53), "udp"));
        assert_eq!(PortSpec::parse("80").expect("valid").host_port, None);
        assert!(PortSpec::parse("99999:80").is_err());
        assert!(PortSpec::parse("80/icmp").is_err());
    }

    #[test]
    fn parses_volume_syntax() {
        let m = MountSpec::parse("/home/a/src:/app:ro").expect("valid");
        assert!(m.is_bind() && m.read_only);
        let m = MountSpec::parse("data:/var/lib/data").expect("valid");
        assert!(!m.is_bind());
        assert!(MountSpec::parse("data").is_err());
        assert!(MountSpec::parse("data:relative").is_err());
    }

    #[test]
    fn equivalent_docker_run_command() {
        let spec = RunSpec {
            name: Some("web".into()),
            ports: vec![PortSpec::parse("127.0.0.1:8080:80").expect("valid")],
            env: vec!["GREETING=hello world".into()],
            mounts: vec![MountSpec::parse("site:/www:ro").expect("valid")],
            restart: Restart::UnlessStopped,
            command: vec!["httpd".into(), "-f".into()],
            ..RunSpec::new("busybox:latest")
        };
        assert_eq!(
            spec.docker_run_command(),
            "docker run -d --name web -p 127.0.0.1:8080:80 -e 'GREETING=hello world' -v site:/www:ro --restart unless-stopped busybox:latest httpd -f"
        );
    }

    #[test]
    fn validation_is_specific() {
        let err = RunSpec { name: Some("bad name!".into()), ..RunSpec::new("busybox") }.validate().err();
        assert!(matches!(err, Some(EngineError::InvalidRequest { ref message }) if message.contains("bad name!")));
        let err = RunSpec::new("Not/Valid:Ref!").validate().err();
        assert!(matches!(err, Some(EngineError::InvalidReference { .. })), "{err:?}");
        let err = RunSpec { env: vec!["NOVALUE".into()], ..RunSpec::new("busybox") }.validate().err();
        assert!(matches!(err, Some(EngineError::InvalidRequest { .. })));
    }
}

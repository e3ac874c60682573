//! DTOs made for the UI: forms with the text a person typed, and views that combine engine calls.

use gantry_engine::{EngineInfo, EngineVersion, MountSpec, PortSpec, Restart, RunSpec};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, FieldError};

/// Which engine the app talks to and whether it answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EngineStatus {
    pub connected: bool,
    /// e.g. `unix:///run/docker.sock`.
    pub endpoint: String,
    /// Why this engine: `explicit`, `docker_host`, `settings` or `gantry_vm`.
    pub origin: String,
    pub version: Option<EngineVersion>,
    pub info: Option<EngineInfo>,
    /// Why it is not connected.
    pub error: Option<ApiError>,
    /// The VM's state in words, when the engine is Gantry's VM.
    pub vm: Option<String>,
    /// What the running VM warns about (e.g. software emulation: slow), shown next to its state.
    pub vm_warnings: Vec<String>,
}

/// CPU and memory of this computer.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HostStats {
    pub cpus: u32,
    /// Average over all CPUs, 0..=100.
    pub cpu_percent: f32,
    pub memory_total: u64,
    pub memory_used: u64,
}

/// What a system prune would remove, listed before it runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PrunePreview {
    /// Names of stopped containers.
    pub containers: Vec<String>,
    /// Dangling images (short IDs), or every unused image when `all_images`.
    pub images: Vec<String>,
    /// Volumes no container uses (only when volumes are included).
    pub volumes: Vec<String>,
    /// Custom networks no container uses.
    pub networks: Vec<String>,
    /// Bytes the engine says can be reclaimed (images, containers, build cache, and volumes when included).
    pub reclaimable: i64,
}

/// The Run dialog, as typed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct RunRequest {
    pub image: String,
    pub name: String,
    /// Command line, split on whitespace (quotes group words).
    pub command: String,
    /// `-p` values: `8080:80`, `127.0.0.1:8080:80/udp`.
    pub ports: Vec<String>,
    /// `KEY=value`.
    pub env: Vec<String>,
    /// `-v` values: `name:/path`, `/host:/path:ro`.
    pub volumes: Vec<String>,
    pub network: String,
    pub restart: Restart,
    pub auto_remove: bool,
}

/// What the Run dialog makes: the spec and the equivalent `docker run` command.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RunPreview {
    pub command: String,
}

/// Splits a command line on whitespace; single or double quotes group words.
pub fn split_command(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut has = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                has = true;
            }
            (None, c) if c.is_whitespace() => {
                if has || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                has = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if has || !cur.is_empty() {
        words.push(cur);
    }
    words
}

impl RunRequest {
    /// Checks every field and builds the engine's spec; all problems are reported at once.
    pub fn to_spec(&self) -> Result<RunSpec, ApiError> {
        let mut errs = Vec::new();
        let field =
            |f: String, e: gantry_engine::EngineError| FieldError { field: f, message: e.to_string(), hint: e.hint() };
        let image = self.image.trim();
        if image.is_empty() {
            errs.push(FieldError {
                field: "image".into(),
                message: "choose an image to run".into(),
                hint: "type an image name such as busybox:latest, or pick one from the Images panel".into(),
            });
        } else if let Err(e) = gantry_engine::images::validate_reference(image) {
            errs.push(field("image".into(), e));
        }
        let mut spec = RunSpec::new(image);
        let name = self.name.trim();
        if !name.is_empty() {
            let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if !ok {
                errs.push(FieldError {
                    field: "name".into(),
                    message: format!("{name:?} is not a valid container name"),
                    hint: "use letters, digits, '_', '.' and '-', starting with a letter or digit".into(),
                });
            }
            spec.name = Some(name.to_string());
        }
        spec.command = split_command(&self.command);
        for (i, p) in self.ports.iter().map(|p| p.trim()).enumerate().filter(|(_, p)| !p.is_empty()) {
            match PortSpec::parse(p) {
                Ok(port) => spec.ports.push(port),
                Err(e) => errs.push(field(format!("ports[{i}]"), e)),
            }
        }
        for (i, e) in self.env.iter().map(|e| e.trim()).enumerate().filter(|(_, e)| !e.is_empty()) {
            if e.starts_with('=') {
                errs.push(FieldError {
                    field: format!("env[{i}]"),
                    message: format!("{e:?} has no variable name"),
                    hint: "write KEY=value".into(),
                });
            } else {
                spec.env.push(e.to_string());
            }
        }
        for (i, v) in self.volumes.iter().map(|v| v.trim()).enumerate().filter(|(_, v)| !v.is_empty()) {
            match MountSpec::parse(v) {
                Ok(m) => spec.mounts.push(m),
                Err(e) => errs.push(field(format!("volumes[{i}]"), e)),
            }
        }
        let network = self.network.trim();
        if !network.is_empty() {
            spec.network = Some(network.to_string());
        }
        spec.restart = self.restart;
        spec.auto_remove = self.auto_remove;
        if errs.is_empty() { Ok(spec) } else { Err(ApiError::invalid(errs)) }
    }
}

/// Where a stream's items go: a batch of items, an error, or the end.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StreamMsg<T> {
    /// The stream's id, first, so the UI can cancel it.
    Started {
        id: u64,
    },
    Items {
        items: Vec<T>,
    },
    Error {
        error: ApiError,
    },
    End,
}

/// The VM as it runs: what the engine card shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VmRunning {
    /// `unix:///.../docker.sock`
    pub docker_host: String,
    /// `kvm`, `hvf`, `whpx` or `tcg`.
    pub accel: String,
    pub engine_version: String,
    /// e.g. software emulation in use.
    pub warnings: Vec<String>,
    /// Forwarded host ports, e.g. `tcp 127.0.0.1:8080`.
    pub forwarded_ports: Vec<String>,
}

impl From<crate::vm::RunningInfo> for VmRunning {
    fn from(i: crate::vm::RunningInfo) -> Self {
        Self {
            docker_host: i.docker_host,
            accel: i.accel,
            engine_version: i.engine_version,
            warnings: i.warnings,
            forwarded_ports: i
                .forwarded_ports
                .iter()
                .map(|p| format!("{:?} {}:{}", p.proto, p.bind, p.port).to_lowercase())
                .collect(),
        }
    }
}

/// One status event of Gantry's VM, as the agent reports it (see `watch_vm_status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VmEvent {
    /// Step `number` of `total` of the start-up chain.
    Starting {
        step: String,
        number: u32,
        total: u32,
        detail: Option<String>,
    },
    Running {
        info: VmRunning,
    },
    /// Running, with problems (e.g. a published host port already in use).
    Degraded {
        reasons: Vec<String>,
        info: VmRunning,
    },
    Stopping,
    Stopped,
    /// A failed start, or the VM went away unexpectedly.
    Error {
        message: String,
        hint: String,
    },
}

impl From<crate::vm::VmStatus> for VmEvent {
    fn from(s: crate::vm::VmStatus) -> Self {
        use crate::vm::VmStatus as S;
        match s {
            S::Starting { step, number, total, detail } => Self::Starting {
                step: step.title().into(),
                number: u32::try_from(number).unwrap_or(u32::MAX),
                total: u32::try_from(total).unwrap_or(u32::MAX),
                detail,
            },
            S::Running(info) => Self::Running { info: info.into() },
            S::Degraded { reasons, info } => Self::Degraded { reasons, info: info.into() },
            S::Stopping => Self::Stopping,
            S::Stopped => Self::Stopped,
            S::Error { message, hint } => Self::Error { message, hint },
        }
    }
}

/// Output of a terminal session, as text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TerminalOutput {
    pub data: String,
}

/// A request to open a terminal in a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct TerminalRequest {
    pub container: String,
    /// Empty = `/bin/sh`.
    pub command: Vec<String>,
    pub rows: u16,
    pub cols: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_commands_with_quotes() {
        assert_eq!(split_command("httpd -f -p 80"), ["httpd", "-f", "-p", "80"]);
        assert_eq!(split_command("sh -c 'echo hi there'"), ["sh", "-c", "echo hi there"]);
        assert_eq!(split_command("  "), Vec::<String>::new());
        assert_eq!(split_command("echo \"\""), ["echo", ""]);
    }

    #[test]
    fn run_request_reports_every_bad_field() {
        let req = RunRequest {
            image: "busybox".into(),
            ports: vec!["8080:80".into(), "nope".into()],
            volumes: vec!["data".into()],
            ..Default::default()
        };
        let Err(err) = req.to_spec() else { panic!("should fail") };
        let fields: Vec<&str> = err.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["ports[1]", "volumes[0]"]);
    }

    #[test]
    fn run_request_builds_spec() -> Result<(), ApiError> {
        let req = RunRequest {
            image: "busybox:latest".into(),
            name: "web".into(),
            command: "httpd -f -p 80".into(),
            ports: vec!["18080:80".into()],
            env: vec!["A=1".into()],
            ..Default::default()
        };
        let spec = req.to_spec()?;
        assert_eq!(spec.ports.len(), 1);
        assert!(spec.docker_run_command().contains("-p 18080:80"));
        Ok(())
    }
}

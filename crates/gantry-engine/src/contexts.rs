//! The docker CLI's contexts, read and written where the docker CLI keeps them, so a context
//! added here is one `docker context ls` shows and `docker --context NAME` uses:
//!
//! - `$DOCKER_CONFIG` (default `~/.docker`)`/config.json`: `currentContext`;
//! - `contexts/meta/<sha256(name)>/meta.json`: name, description, the docker endpoint's `Host`;
//! - `contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem`: TLS material of that endpoint.
//!
//! `default` is not stored: it is `DOCKER_HOST` or the platform's local socket.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::connect::{Endpoint, TlsFiles};
use crate::error::{EngineError, ResourceKind, Result};
use crate::private_file::write_atomic;

/// The implicit context: `DOCKER_HOST`, else the local engine.
pub const DEFAULT_CONTEXT: &str = "default";
/// The environment variable that overrides the docker CLI's current context.
pub const DOCKER_CONTEXT_ENV: &str = "DOCKER_CONTEXT";
/// The longest context name accepted (the docker CLI has no limit; file names do).
const MAX_NAME_LEN: usize = 100;

/// How a context reaches its engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// A unix socket on this computer.
    Local,
    /// A Windows named pipe on this computer.
    NamedPipe,
    /// Another machine through `ssh`.
    Ssh,
    /// TCP with TLS: the server's certificate is verified against the context's CA.
    Tls,
    /// TCP without TLS (refused unless loopback or explicitly allowed).
    Plaintext,
}

/// One docker context as `docker context ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DockerContext {
    pub name: String,
    pub description: String,
    /// The docker endpoint's `Host`, e.g. `ssh://me@build`, `tcp://h:2376`, `unix:///x.sock`.
    pub host: String,
    pub transport: Transport,
    /// Whether the docker CLI uses it now (`docker context use`, or `DOCKER_CONTEXT`).
    pub current: bool,
    /// Why Gantry cannot use it as it is (missing TLS files, unverified TLS, a bad address).
    pub problem: Option<String>,
}

/// A new context (`gantry context add`, the app's "Add engine").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct NewContext {
    pub name: String,
    pub description: String,
    /// `ssh://[user@]host[:port]`, `tcp://host:port` (TLS when the three files are given) or
    /// `unix:///path`.
    pub host: String,
    /// For TLS: the CA that signed the engine's certificate, and this client's certificate and key.
    pub tls_ca: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Serialize)]
struct MetaFile {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Metadata", default)]
    metadata: serde_json::Value,
    #[serde(rename = "Endpoints", default)]
    endpoints: serde_json::Map<String, serde_json::Value>,
}

/// The docker CLI's context store under one config directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextStore {
    config_dir: PathBuf,
}

/// The docker CLI's config directory: `$DOCKER_CONFIG`, else `~/.docker` (under the system temp
/// directory when there is no home directory). The one definition: the contexts, the registry
/// logins and the `gantry` docker context all live there.
pub fn docker_config_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    gantry_files::home_dir().unwrap_or_else(std::env::temp_dir).join(".docker")
}

/// The directory name the docker CLI gives a context: the hex SHA-256 of its name.
pub fn context_dir_name(name: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, name.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a context name the way the docker CLI does (`^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$`, not
/// `default`).
pub fn validate_name(name: &str) -> Result<()> {
    let invalid = |reason: &str| EngineError::InvalidRequest { message: format!("context name {name:?}: {reason}") };
    let mut chars = name.chars();
    match chars.next() {
        None => return Err(invalid("it is empty")),
        Some(c) if !c.is_ascii_alphanumeric() => return Err(invalid("it must start with a letter or digit")),
        Some(_) => {}
    }
    if name.len() < 2 || name.len() > MAX_NAME_LEN {
        return Err(invalid("it must be 2 to 100 characters long"));
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || "_.+-".contains(*c))) {
        return Err(invalid(&format!("{c:?} is not allowed (letters, digits and _ . + - are)")));
    }
    if name == DEFAULT_CONTEXT {
        return Err(invalid("\"default\" is the docker CLI's own context"));
    }
    Ok(())
}

impl ContextStore {
    /// The store in `config_dir` (a docker CLI config directory).
    pub fn new(config_dir: impl Into<PathBuf>) -> Self {
        Self { config_dir: config_dir.into() }
    }

    /// The store the docker CLI uses ([`docker_config_dir`]).
    pub fn from_env() -> Self {
        Self::new(docker_config_dir())
    }

    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// `contexts/meta/<sha256(name)>/meta.json`.
    pub fn meta_path(&self, name: &str) -> PathBuf {
        self.config_dir.join("contexts").join("meta").join(context_dir_name(name)).join("meta.json")
    }

    /// `contexts/tls/<sha256(name)>` (the docker endpoint's files are in its `docker/`).
    pub fn tls_dir(&self, name: &str) -> PathBuf {
        self.config_dir.join("contexts").join("tls").join(context_dir_name(name))
    }

    fn config_json(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        let path = self.config_dir.join("config.json");
        match std::fs::read(&path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(serde_json::Map::new()),
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(serde_json::Value::Object(map)) => Ok(map),
                Ok(_) => Err(EngineError::Protocol { message: format!("{} is not a JSON object", path.display()) }),
                Err(e) => Err(EngineError::Protocol { message: format!("{} is not JSON: {e}", path.display()) }),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::Map::new()),
            Err(e) => Err(EngineError::io("reading", path.display(), e)),
        }
    }

    /// The docker CLI's current context: `DOCKER_CONTEXT`, else `currentContext` in config.json,
    /// else `default`.
    pub fn current(&self) -> Result<String> {
        if let Some(name) = std::env::var(DOCKER_CONTEXT_ENV).ok().filter(|n| !n.trim().is_empty()) {
            return Ok(name.trim().to_string());
        }
        let config = self.config_json()?;
        Ok(config
            .get("currentContext")
            .and_then(serde_json::Value::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or(DEFAULT_CONTEXT)
            .to_string())
    }

    /// Makes `name` the docker CLI's current context (`docker context use`), keeping every other
    /// setting of config.json.
    pub fn set_current(&self, name: &str) -> Result<()> {
        if name != DEFAULT_CONTEXT {
            self.get(name)?;
        }
        let mut config = self.config_json()?;
        if name == DEFAULT_CONTEXT {
            config.remove("currentContext");
        } else {
            config.insert("currentContext".into(), name.into());
        }
        let path = self.config_dir.join("config.json");
        let json = serde_json::to_vec_pretty(&config).map_err(|e| EngineError::Protocol { message: e.to_string() })?;
        write_atomic(&path, &json).map_err(|e| EngineError::io("writing", path.display(), e))
    }

    /// Every context: `default` first, then the stored ones by name. A stored context whose
    /// files cannot be read is listed with its problem rather than hiding the others.
    pub fn list(&self) -> Result<Vec<DockerContext>> {
        let current = self.current()?;
        let mut list = vec![self.default_context(&current)];
        let meta_dir = self.config_dir.join("contexts").join("meta");
        let entries = match std::fs::read_dir(&meta_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(list),
            Err(e) => return Err(EngineError::io("reading", meta_dir.display(), e)),
        };
        let mut stored = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path().join("meta.json");
            let Ok(bytes) = std::fs::read(&path) else { continue };
            match serde_json::from_slice::<MetaFile>(&bytes) {
                Ok(meta) => stored.push(self.describe(&meta, &current)),
                Err(e) => tracing::warn!(path = %path.display(), "unreadable docker context: {e}"),
            }
        }
        stored.sort_by(|a, b| a.name.cmp(&b.name));
        list.extend(stored);
        Ok(list)
    }

    /// One context by name (`default` included).
    pub fn get(&self, name: &str) -> Result<DockerContext> {
        let current = self.current()?;
        if name == DEFAULT_CONTEXT {
            return Ok(self.default_context(&current));
        }
        let meta = self.read_meta(name)?;
        Ok(self.describe(&meta, &current))
    }

    fn read_meta(&self, name: &str) -> Result<MetaFile> {
        let path = self.meta_path(name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(EngineError::NotFound { kind: ResourceKind::Context, id: name.to_string() });
            }
            Err(e) => return Err(EngineError::io("reading", path.display(), e)),
        };
        let meta: MetaFile = serde_json::from_slice(&bytes)
            .map_err(|e| EngineError::Protocol { message: format!("{}: {e}", path.display()) })?;
        if meta.name != name {
            return Err(EngineError::Protocol {
                message: format!("{} names context {:?}, not {name:?}", path.display(), meta.name),
            });
        }
        Ok(meta)
    }

    fn default_context(&self, current: &str) -> DockerContext {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| Endpoint::default_local().to_string());
        let (transport, problem) = match Endpoint::from_env() {
            Ok(e) => (transport_of(&e), None),
            Err(e) => (Transport::Local, Some(e.to_string())),
        };
        DockerContext {
            name: DEFAULT_CONTEXT.into(),
            description: "The docker CLI's default: DOCKER_HOST, else the local engine".into(),
            host,
            transport,
            current: current == DEFAULT_CONTEXT,
            problem,
        }
    }

    fn describe(&self, meta: &MetaFile, current: &str) -> DockerContext {
        let docker = meta.endpoints.get("docker");
        let host = docker.and_then(|d| d.get("Host")).and_then(serde_json::Value::as_str).unwrap_or_default();
        let description =
            meta.metadata.get("Description").and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
        let (transport, problem) = match self.endpoint_of(meta) {
            Ok(e) => (transport_of(&e), None),
            Err(e) => (guess_transport(host), Some(e.to_string())),
        };
        DockerContext {
            name: meta.name.clone(),
            description,
            host: host.to_string(),
            transport,
            current: current == meta.name,
            problem,
        }
    }

    /// The endpoint Gantry connects to for context `name`.
    pub fn endpoint(&self, name: &str) -> Result<Endpoint> {
        if name == DEFAULT_CONTEXT {
            return Endpoint::from_env();
        }
        self.endpoint_of(&self.read_meta(name)?)
    }

    fn endpoint_of(&self, meta: &MetaFile) -> Result<Endpoint> {
        let invalid =
            |reason: String| EngineError::InvalidEndpoint { endpoint: format!("context {}", meta.name), reason };
        let docker = meta.endpoints.get("docker").ok_or_else(|| invalid("it has no docker endpoint".into()))?;
        let host = docker
            .get("Host")
            .and_then(serde_json::Value::as_str)
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("its docker endpoint has no Host".into()))?;
        let mut endpoint = Endpoint::parse(host)?;
        if let Endpoint::Tcp { tls, .. } = &mut endpoint {
            let skip_verify = docker.get("SkipTLSVerify").and_then(serde_json::Value::as_bool).unwrap_or(false);
            if skip_verify {
                return Err(invalid(
                    "it skips verifying the engine's TLS certificate (SkipTLSVerify), which Gantry does not do; recreate it with the engine's CA certificate".into(),
                ));
            }
            let files = TlsFiles::in_dir(&self.tls_dir(&meta.name).join("docker"));
            let present = [&files.ca, &files.cert, &files.key].map(|f| f.exists());
            match present {
                [true, true, true] => *tls = Some(files),
                [false, false, false] => {}
                _ => {
                    return Err(invalid(format!(
                        "its TLS material in {} is incomplete: Gantry needs ca.pem, cert.pem and key.pem",
                        self.tls_dir(&meta.name).join("docker").display()
                    )));
                }
            }
        }
        Ok(endpoint)
    }

    /// Creates a context the docker CLI sees too. The host is checked first (an SSH host that
    /// looks like an option, a TLS file that is missing or not PEM are refused) and nothing is
    /// written unless everything is right; an existing context is never overwritten.
    pub fn create(&self, new: &NewContext) -> Result<DockerContext> {
        validate_name(&new.name)?;
        let endpoint = Endpoint::parse(&new.host)?;
        let tls_files = match (&new.tls_ca, &new.tls_cert, &new.tls_key) {
            (None, None, None) => None,
            (Some(ca), Some(cert), Some(key)) => Some([("ca.pem", ca), ("cert.pem", cert), ("key.pem", key)]),
            _ => {
                return Err(EngineError::InvalidRequest {
                    message: "TLS needs all three files: the CA certificate, the client certificate and its key".into(),
                });
            }
        };
        let host = match (&endpoint, &tls_files) {
            (Endpoint::Tcp { address, .. }, _) => format!("tcp://{address}"),
            (_, Some(_)) => {
                return Err(EngineError::InvalidRequest {
                    message: format!("TLS files go with a tcp://host:port engine, not {}", new.host.trim()),
                });
            }
            (other, None) => other.to_string(),
        };
        let mut contents = Vec::new();
        if let Some(files) = &tls_files {
            for (name, path) in files {
                let bytes = std::fs::read(path).map_err(|e| EngineError::io("reading", path.display(), e))?;
                if !String::from_utf8_lossy(&bytes).contains("-----BEGIN ") {
                    return Err(EngineError::InvalidRequest {
                        message: format!("{} is not a PEM file (it has no -----BEGIN line)", path.display()),
                    });
                }
                contents.push((*name, bytes));
            }
        }
        let meta_path = self.meta_path(&new.name);
        if meta_path.exists() {
            return Err(EngineError::NameInUse { name: new.name.clone() });
        }
        let meta = MetaFile {
            name: new.name.clone(),
            metadata: serde_json::json!({ "Description": new.description.trim() }),
            endpoints: serde_json::Map::from_iter([(
                "docker".to_string(),
                serde_json::json!({ "Host": host, "SkipTLSVerify": false }),
            )]),
        };
        let json = serde_json::to_vec(&meta).map_err(|e| EngineError::Protocol { message: e.to_string() })?;
        let tls_dir = self.tls_dir(&new.name).join("docker");
        for (name, bytes) in &contents {
            let path = tls_dir.join(name);
            write_atomic(&path, bytes.trim_ascii_end()).map_err(|e| EngineError::io("writing", path.display(), e))?;
        }
        if let Err(e) = write_atomic(&meta_path, &json) {
            let _ = std::fs::remove_dir_all(self.tls_dir(&new.name));
            return Err(EngineError::io("writing", meta_path.display(), e));
        }
        self.get(&new.name)
    }

    /// Removes a stored context and its TLS files. The docker CLI's current context is removed
    /// only with `force` (then the CLI goes back to `default`), as `docker context rm` does.
    pub fn remove(&self, name: &str, force: bool) -> Result<()> {
        if name == DEFAULT_CONTEXT {
            return Err(EngineError::Conflict { message: "the default context cannot be removed".into() });
        }
        let meta = self.read_meta(name)?;
        let current = self.config_json()?.get("currentContext").and_then(|v| v.as_str()).map(str::to_string);
        if current.as_deref() == Some(meta.name.as_str()) {
            if !force {
                return Err(EngineError::Conflict {
                    message: format!(
                        "context {name} is the docker CLI's current context; remove it with force, or switch first (`docker context use default`)"
                    ),
                });
            }
            self.set_current(DEFAULT_CONTEXT)?;
        }
        // Only this context's two directories, each checked to be where the store keeps them.
        let meta_dir = self.meta_path(name).parent().map(Path::to_path_buf);
        for dir in [meta_dir, Some(self.tls_dir(name))].into_iter().flatten() {
            if dir.file_name().and_then(|n| n.to_str()) != Some(context_dir_name(name).as_str()) {
                continue;
            }
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(EngineError::io("removing", dir.display(), e)),
            }
        }
        Ok(())
    }
}

fn transport_of(endpoint: &Endpoint) -> Transport {
    match endpoint {
        Endpoint::Unix(_) => Transport::Local,
        Endpoint::NamedPipe(_) => Transport::NamedPipe,
        Endpoint::Ssh(_) => Transport::Ssh,
        Endpoint::Tcp { tls: Some(_), .. } => Transport::Tls,
        Endpoint::Tcp { tls: None, .. } => Transport::Plaintext,
    }
}

fn guess_transport(host: &str) -> Transport {
    if host.starts_with("ssh://") {
        Transport::Ssh
    } else if host.starts_with("npipe://") {
        Transport::NamedPipe
    } else if host.starts_with("tcp://") || host.starts_with("https://") {
        Transport::Tls
    } else {
        Transport::Local
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn store() -> (tempfile::TempDir, ContextStore) {
        let t = tempfile::tempdir().unwrap();
        let s = ContextStore::new(t.path());
        (t, s)
    }

    #[test]
    fn names_like_the_docker_cli() {
        for ok in ["gantry", "build-box", "a1", "x.y_z+1"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "-x", ".x", "a b", "a/b", "default", "ü1", &"a".repeat(101)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        // the docker CLI's directory for "default" (a known digest)
        assert_eq!(context_dir_name("default"), "37a8eec1ce19687d132fe29051dca629d164e2c4958ba141d5f4133a33f0688f");
    }

    #[test]
    fn ssh_context_round_trip_in_the_docker_cli_layout() {
        let (_t, s) = store();
        let new = NewContext {
            name: "build".into(),
            description: "the build box".into(),
            host: "ssh://me@build.example:2222".into(),
            ..Default::default()
        };
        let c = s.create(&new).unwrap();
        assert_eq!(c.transport, Transport::Ssh);
        assert_eq!(c.host, "ssh://me@build.example:2222");
        let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(s.meta_path("build")).unwrap()).unwrap();
        assert_eq!(meta["Name"], "build");
        assert_eq!(meta["Metadata"]["Description"], "the build box");
        assert_eq!(meta["Endpoints"]["docker"]["Host"], "ssh://me@build.example:2222");
        assert_eq!(meta["Endpoints"]["docker"]["SkipTLSVerify"], false);
        let names: Vec<String> = s.list().unwrap().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["default", "build"]);
        assert!(matches!(s.create(&new), Err(EngineError::NameInUse { .. })), "never overwritten");
        assert!(matches!(s.endpoint("build").unwrap(), Endpoint::Ssh(_)));
        s.remove("build", false).unwrap();
        assert!(matches!(s.get("build"), Err(EngineError::NotFound { .. })));
    }

    #[test]
    fn tls_context_keeps_its_files_private_and_verifies() {
        let (t, s) = store();
        let src = t.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(src.join(f), PEM).unwrap();
        }
        let new = NewContext {
            name: "prod".into(),
            host: "tcp://engine.example:2376".into(),
            tls_ca: Some(src.join("ca.pem")),
            tls_cert: Some(src.join("cert.pem")),
            tls_key: Some(src.join("key.pem")),
            ..Default::default()
        };
        let c = s.create(&new).unwrap();
        assert_eq!((c.transport, c.problem), (Transport::Tls, None));
        let Endpoint::Tcp { address, tls: Some(files) } = s.endpoint("prod").unwrap() else { panic!("TLS") };
        assert_eq!(address, "engine.example:2376");
        assert!(files.key.starts_with(s.tls_dir("prod").join("docker")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&files.key).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // a missing key file makes it unusable, said so
        std::fs::remove_file(&files.key).unwrap();
        let c = s.get("prod").unwrap();
        assert!(c.problem.unwrap().contains("key.pem"));
        assert!(s.endpoint("prod").is_err());
    }

    #[test]
    fn bad_input_writes_nothing() {
        let (t, s) = store();
        let not_pem = t.path().join("x.pem");
        std::fs::write(&not_pem, "hello").unwrap();
        let cases = [
            NewContext { name: "x1".into(), host: "ssh://-oProxyCommand=id".into(), ..Default::default() },
            NewContext { name: "x2".into(), host: "ftp://h".into(), ..Default::default() },
            NewContext { name: "default".into(), host: "ssh://h".into(), ..Default::default() },
            NewContext {
                name: "x3".into(),
                host: "tcp://h:2376".into(),
                tls_ca: Some(not_pem.clone()),
                ..Default::default()
            },
            NewContext {
                name: "x4".into(),
                host: "tcp://h:2376".into(),
                tls_ca: Some(not_pem.clone()),
                tls_cert: Some(not_pem.clone()),
                tls_key: Some(not_pem.clone()),
                ..Default::default()
            },
            NewContext {
                name: "x5".into(),
                host: "ssh://h".into(),
                tls_ca: Some(not_pem.clone()),
                tls_cert: Some(not_pem.clone()),
                tls_key: Some(not_pem),
                ..Default::default()
            },
        ];
        for new in &cases {
            assert!(s.create(new).is_err(), "{new:?}");
        }
        assert!(!t.path().join("contexts").exists(), "nothing written");
    }

    #[test]
    fn current_context_needs_force_to_remove_and_other_settings_stay() {
        let (t, s) = store();
        std::fs::write(t.path().join("config.json"), r#"{"auths":{"r":{"auth":"eA=="}}}"#).unwrap();
        s.create(&NewContext { name: "box".into(), host: "ssh://box".into(), ..Default::default() }).unwrap();
        s.set_current("box").unwrap();
        if std::env::var_os(DOCKER_CONTEXT_ENV).is_none() {
            assert_eq!(s.current().unwrap(), "box");
        }
        assert!(matches!(s.remove("box", false), Err(EngineError::Conflict { .. })));
        assert!(s.get("box").is_ok(), "still there");
        s.remove("box", true).unwrap();
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(t.path().join("config.json")).unwrap()).unwrap();
        assert_eq!(config, serde_json::json!({"auths":{"r":{"auth":"eA=="}}}));
        assert!(matches!(s.set_current("nope"), Err(EngineError::NotFound { .. })));
        assert!(s.remove(DEFAULT_CONTEXT, true).is_err());
    }

    #[test]
    fn skip_tls_verify_and_broken_files_are_listed_with_their_problem() {
        let (_t, s) = store();
        let write = |name: &str, json: &str| {
            let p = s.meta_path(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, json).unwrap();
        };
        write(
            "insecure",
            r#"{"Name":"insecure","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.0.0.5:2376","SkipTLSVerify":true}}}"#,
        );
        write("junk", "{not json");
        write("k8s", r#"{"Name":"k8s","Metadata":{},"Endpoints":{"kubernetes":{}}}"#);
        let list = s.list().unwrap();
        let names: Vec<&str> = list.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["default", "insecure", "k8s"]);
        assert!(list[1].problem.as_deref().unwrap_or_default().contains("SkipTLSVerify"));
        assert!(list[2].problem.as_deref().unwrap_or_default().contains("no docker endpoint"));
    }
}

//! Endpoints and the connected [`Engine`] handle.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, ClientVersion, Docker};

use crate::error::{EngineError, ResourceKind, Result, Subject, classify};
use crate::ssh::{SshConnector, SshTarget};
use crate::system::EngineVersion;

/// Seconds a request may wait for the engine's response headers.
const REQUEST_TIMEOUT_SECS: u64 = 120;
/// How long the first ping may take before the engine counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The same for an SSH engine: `ssh` itself may take up to 10 s to reach the host.
const SSH_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Idle `ssh` connections kept per SSH engine for the next requests.
const SSH_IDLE_CONNECTIONS: usize = 4;

/// Set to `1` to allow a plaintext `tcp://` engine on another machine (a warning is logged).
pub const ALLOW_PLAINTEXT_ENV: &str = "GANTRY_ALLOW_PLAINTEXT_TCP";

static ALLOW_PLAINTEXT: AtomicBool = AtomicBool::new(false);

/// Allows (for this process) plaintext `tcp://` endpoints on other machines, as the CLI's
/// `--allow-plaintext-tcp` does; [`ALLOW_PLAINTEXT_ENV`] does the same from the environment.
pub fn allow_plaintext_tcp(allow: bool) {
    ALLOW_PLAINTEXT.store(allow, Ordering::Relaxed);
}

fn plaintext_allowed() -> bool {
    ALLOW_PLAINTEXT.load(Ordering::Relaxed)
        || std::env::var(ALLOW_PLAINTEXT_ENV).is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
}

/// True when `address` (`host:port`) names this machine: `localhost`, `127.0.0.0/8` or `::1`.
/// Other names are not resolved: only what is loopback on its face counts.
pub fn is_loopback_address(address: &str) -> bool {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The docker CLI's certificate directory: `DOCKER_CERT_PATH`, else its config directory.
fn default_cert_dir() -> PathBuf {
    std::env::var_os("DOCKER_CERT_PATH")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(crate::contexts::docker_config_dir)
}

/// Client certificate files for a TLS engine endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// The conventional `ca.pem`, `cert.pem`, `key.pem` in one directory (`DOCKER_CERT_PATH`).
    pub fn in_dir(dir: &Path) -> Self {
        Self { ca: dir.join("ca.pem"), cert: dir.join("cert.pem"), key: dir.join("key.pem") }
    }
}

/// Where a Docker engine listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket, e.g. `/var/run/docker.sock` or Gantry's own forwarded socket.
    Unix(PathBuf),
    /// TCP `host:port`, with client certificates when the engine runs `--tlsverify`.
    Tcp { address: String, tls: Option<TlsFiles> },
    /// A Windows named pipe such as `//./pipe/docker_engine`.
    NamedPipe(String),
    /// Another machine over SSH: `ssh://user@host`, through the system's `ssh` and the remote
    /// `docker system dial-stdio` (see [`SshTarget`]).
    Ssh(SshTarget),
}

impl Endpoint {
    /// Parses `unix:///path`, `/path`, `tcp://host:port` (no TLS), `https://host:port` (TLS with
    /// the client certificates in `DOCKER_CERT_PATH` or `~/.docker`), `npipe:////./pipe/name` or
    /// `ssh://[user@]host[:port]`.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason: &str| EngineError::InvalidEndpoint { endpoint: text.to_string(), reason: reason.into() };
        let text = text.trim();
        if text.starts_with("ssh://") {
            return SshTarget::parse(text).map(Self::Ssh);
        }
        if let Some(path) = text.strip_prefix("unix://") {
            if !path.starts_with('/') || path.len() < 2 {
                return Err(invalid("a unix socket path must be absolute"));
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        if text.starts_with('/') {
            return Ok(Self::Unix(PathBuf::from(text)));
        }
        let (tcp, tls) = match text.strip_prefix("https://") {
            Some(addr) => (Some(addr), Some(TlsFiles::in_dir(&default_cert_dir()))),
            None => (text.strip_prefix("tcp://").or_else(|| text.strip_prefix("http://")), None),
        };
        if let Some(addr) = tcp {
            let addr = addr.trim_end_matches('/');
            let (host, port) = addr.rsplit_once(':').ok_or_else(|| invalid("expected tcp://host:port"))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() || host.contains('/') {
                return Err(invalid("expected tcp://host:port with a host name or address"));
            }
            if port.parse::<u16>().ok().filter(|p| *p > 0).is_none() {
                return Err(invalid("expected tcp://host:port with a port number from 1 to 65535"));
            }
            return Ok(Self::Tcp { address: addr.to_string(), tls });
        }
        if let Some(pipe) = text.strip_prefix("npipe://") {
            let name = pipe.trim_start_matches(['/', '\\']).replace('\\', "/");
            if !name.to_ascii_lowercase().starts_with("./pipe/") || name.len() <= "./pipe/".len() {
                return Err(invalid("expected a named pipe such as npipe:////./pipe/docker_engine"));
            }
            return Ok(Self::NamedPipe(format!("//{name}")));
        }
        Err(invalid("unknown scheme; use unix://, tcp://, https://, ssh:// or npipe://"))
    }

    /// The endpoint the docker CLI would use: `DOCKER_HOST` (with `DOCKER_TLS_VERIFY` and
    /// `DOCKER_CERT_PATH`), else the platform's default local socket.
    pub fn from_env() -> Result<Self> {
        match std::env::var("DOCKER_HOST") {
            Ok(host) if !host.trim().is_empty() => {
                let mut endpoint = Self::parse(&host)?;
                if let Self::Tcp { tls: tls @ None, .. } = &mut endpoint {
                    let verify = std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty() && v != "0");
                    if verify {
                        *tls = Some(TlsFiles::in_dir(&default_cert_dir()));
                    }
                }
                Ok(endpoint)
            }
            _ => Ok(Self::default_local()),
        }
    }

    /// The platform's default local engine.
    pub fn default_local() -> Self {
        if cfg!(windows) {
            Self::NamedPipe("//./pipe/docker_engine".into())
        } else {
            Self::Unix(PathBuf::from("/var/run/docker.sock"))
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix://{}", path.display()),
            Self::Tcp { address, tls: Some(_) } => write!(f, "https://{address}"),
            Self::Tcp { address, tls: None } => write!(f, "tcp://{address}"),
            Self::NamedPipe(pipe) => write!(f, "npipe://{pipe}"),
            Self::Ssh(target) => target.fmt(f),
        }
    }
}

/// A connected Docker engine. Cheap to clone; every resource module adds methods to it.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) docker: Docker,
    endpoint: Endpoint,
    endpoint_text: String,
}

impl Engine {
    /// Connects, checks that the engine answers, and negotiates the API version.
    pub async fn connect(endpoint: &Endpoint) -> Result<Self> {
        Ok(Self::connect_once(endpoint).await?.0)
    }

    /// [`Engine::connect`], also returning the engine's version, from the one `/version` request
    /// that negotiates the API version (each costs the engine a `runc --version` and a
    /// `docker-init --version`: a third of a second in a VM whose CPU is emulated).
    pub async fn connect_reporting_version(endpoint: &Endpoint) -> Result<(Self, EngineVersion)> {
        match Self::connect_once(endpoint).await? {
            (engine, Some(version)) => Ok((engine, version)),
            (engine, None) => {
                let version = engine.version().await?;
                Ok((engine, version))
            }
        }
    }

    /// One `/version` request, at this client's API version; an engine older than the client is
    /// then spoken to at its own API version through a new client (none connects before its
    /// first request). An SSH endpoint, whose connection a new client would make again,
    /// negotiates on its own connection instead (bollard's negotiation: the version is not kept).
    async fn connect_once(endpoint: &Endpoint) -> Result<(Self, Option<EngineVersion>)> {
        let text = endpoint.to_string();
        let docker = Self::client(endpoint, API_DEFAULT_VERSION, &text)?;
        let limit = if matches!(endpoint, Endpoint::Ssh(_)) { SSH_CONNECT_TIMEOUT } else { CONNECT_TIMEOUT };
        let (docker, raw) = if matches!(endpoint, Endpoint::Ssh(_)) {
            (answered(docker.negotiate_version(), limit, &text).await?, None)
        } else {
            let raw = answered(docker.version(), limit, &text).await?;
            let Some(server) = raw.api_version.as_deref().and_then(parse_api_version) else {
                return Err(EngineError::Unreachable {
                    endpoint: text,
                    reason: format!("its /version answer names no API version ({:?})", raw.api_version),
                });
            };
            let docker = if server < *API_DEFAULT_VERSION { Self::client(endpoint, &server, &text)? } else { docker };
            (docker, Some(raw))
        };
        let engine = Self { docker, endpoint: endpoint.clone(), endpoint_text: text };
        tracing::debug!(endpoint = %engine.endpoint_text, api = %engine.api_version(), "connected to engine");
        let version = raw.map(|raw| EngineVersion::from_raw(raw, engine.api_version()));
        Ok((engine, version))
    }

    /// A client for `endpoint` speaking API `version` (no request made).
    fn client(endpoint: &Endpoint, version: &ClientVersion, text: &str) -> Result<Docker> {
        match endpoint {
            Endpoint::Unix(path) => {
                if !path.exists() {
                    return Err(EngineError::Unreachable {
                        endpoint: text.to_string(),
                        reason: format!("socket {} does not exist", path.display()),
                    });
                }
                connect_unix(path, version)
            }
            Endpoint::Tcp { address, tls: None } => {
                check_plaintext(address)?;
                Docker::connect_with_http(address, REQUEST_TIMEOUT_SECS, version)
            }
            Endpoint::Tcp { address, tls: Some(tls) } => {
                for file in [&tls.ca, &tls.cert, &tls.key] {
                    if !file.exists() {
                        return Err(EngineError::InvalidEndpoint {
                            endpoint: text.to_string(),
                            reason: format!(
                                "TLS needs the client certificates ca.pem, cert.pem and key.pem (DOCKER_CERT_PATH or ~/.docker), and {} does not exist; Gantry never falls back to plaintext",
                                file.display()
                            ),
                        });
                    }
                }
                Docker::connect_with_ssl(address, &tls.key, &tls.cert, &tls.ca, REQUEST_TIMEOUT_SECS, version)
            }
            Endpoint::NamedPipe(pipe) => connect_pipe(pipe, version),
            Endpoint::Ssh(target) => connect_ssh(target, version),
        }
        .map_err(|e| classify(e, text, Subject::new(ResourceKind::Engine, text)))
    }

    /// Connects to the endpoint from the environment (see [`Endpoint::from_env`]).
    pub async fn from_env() -> Result<Self> {
        Self::connect(&Endpoint::from_env()?).await
    }

    /// The endpoint this handle talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The negotiated API version, e.g. `1.41`.
    pub fn api_version(&self) -> String {
        self.docker.client_version().to_string()
    }

    /// Checks that the engine still answers.
    pub async fn ping(&self) -> Result<()> {
        self.docker.ping().await.map(|_| ()).map_err(|e| self.err(e, ResourceKind::Engine, ""))
    }

    /// One ping's round trip (the latency the status line shows), bounded by `limit`.
    pub async fn latency(&self, limit: Duration) -> Result<Duration> {
        let started = std::time::Instant::now();
        match tokio::time::timeout(limit, self.ping()).await {
            Ok(Ok(())) => Ok(started.elapsed()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(EngineError::Unreachable {
                endpoint: self.endpoint_text.clone(),
                reason: format!("no answer to a ping within {limit:?}"),
            }),
        }
    }

    /// The underlying bollard client, for calls Gantry does not wrap yet.
    pub fn raw(&self) -> &Docker {
        &self.docker
    }

    /// Maps a bollard error for an operation on `kind` `id`.
    pub(crate) fn err(&self, e: bollard::errors::Error, kind: ResourceKind, id: &str) -> EngineError {
        classify(e, &self.endpoint_text, Subject::new(kind, id))
    }
}

/// Refuses plaintext TCP to another machine unless allowed ([`allow_plaintext_tcp`],
/// [`ALLOW_PLAINTEXT_ENV`]); when allowed, says loudly what that means.
fn check_plaintext(address: &str) -> Result<()> {
    if is_loopback_address(address) {
        return Ok(());
    }
    if !plaintext_allowed() {
        return Err(EngineError::PlaintextRemote { address: address.to_string() });
    }
    tracing::warn!(
        %address,
        "connecting to a Docker engine on another machine WITHOUT TLS: anyone on that network can control it"
    );
    Ok(())
}

/// `what` (a request), its error or silence within `limit` as "the engine at `endpoint` is
/// unreachable".
async fn answered<T>(
    what: impl std::future::Future<Output = std::result::Result<T, bollard::errors::Error>>,
    limit: Duration,
    endpoint: &str,
) -> Result<T> {
    match tokio::time::timeout(limit, what).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(unreachable_from(e, endpoint)),
        Err(_) => Err(EngineError::Unreachable {
            endpoint: endpoint.to_string(),
            reason: format!("no answer within {limit:?}"),
        }),
    }
}

/// `"1.45"` → API version 1.45.
fn parse_api_version(s: &str) -> Option<ClientVersion> {
    let (major, minor) = s.trim().split_once('.')?;
    Some(ClientVersion { major_version: major.parse().ok()?, minor_version: minor.parse().ok()? })
}

fn unreachable_from(e: bollard::errors::Error, endpoint: &str) -> EngineError {
    match classify(e, endpoint, Subject::new(ResourceKind::Engine, endpoint)) {
        EngineError::Protocol { message } | EngineError::Api { message, .. } => {
            EngineError::Unreachable { endpoint: endpoint.to_string(), reason: message }
        }
        other => other,
    }
}

/// An engine behind `ssh`: bollard sends each request through hyper's client, whose connections
/// are `ssh ... docker system dial-stdio` processes (kept for reuse like any HTTP connection, and
/// all channels of one shared SSH connection where `ssh_mux` can arrange it).
fn connect_ssh(target: &SshTarget, version: &ClientVersion) -> std::result::Result<Docker, bollard::errors::Error> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(SSH_IDLE_CONNECTIONS)
        .build(SshConnector::new(target.clone()));
    let client = std::sync::Arc::new(client);
    Docker::connect_with_custom_transport(
        move |request: bollard::BollardRequest| {
            let client = std::sync::Arc::clone(&client);
            async move { client.request(request).await.map_err(bollard::errors::Error::from) }
        },
        Some("http://docker"),
        REQUEST_TIMEOUT_SECS,
        version,
    )
}

#[cfg(windows)]
fn connect_pipe(pipe: &str, version: &ClientVersion) -> std::result::Result<Docker, bollard::errors::Error> {
    Docker::connect_with_named_pipe(pipe, REQUEST_TIMEOUT_SECS, version)
}

#[cfg(unix)]
fn connect_unix(path: &Path, version: &ClientVersion) -> std::result::Result<Docker, bollard::errors::Error> {
    Docker::connect_with_unix(&path.to_string_lossy(), REQUEST_TIMEOUT_SECS, version)
}

#[cfg(not(unix))]
fn connect_unix(path: &Path, _version: &ClientVersion) -> std::result::Result<Docker, bollard::errors::Error> {
    Err(bollard::errors::Error::UnsupportedURISchemeError {
        uri: format!("unix://{} (unix sockets are not supported here: use npipe://)", path.display()),
    })
}

#[cfg(not(windows))]
fn connect_pipe(pipe: &str, _version: &ClientVersion) -> std::result::Result<Docker, bollard::errors::Error> {
    Err(bollard::errors::Error::UnsupportedURISchemeError {
        uri: format!("npipe://{pipe} (named pipes exist on Windows only)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn api_versions_parse_and_order() {
        let v = |s| parse_api_version(s).map(|v| (v.major_version, v.minor_version));
        assert_eq!(v("1.45"), Some((1, 45)));
        assert_eq!(v(" 1.41\n"), Some((1, 41)));
        for bad in ["", "1", "1.", ".45", "1.x", "v1.45", "1.45.1"] {
            assert_eq!(v(bad), None, "{bad:?}");
        }
        // an engine older than this client is spoken to at its own version
        assert!(parse_api_version("1.45").unwrap() < *API_DEFAULT_VERSION);
        assert!(parse_api_version("1.41").unwrap() < parse_api_version("1.45").unwrap());
        assert!(parse_api_version("2.0").unwrap() > *API_DEFAULT_VERSION);
    }

    proptest::proptest! {
        #[test]
        fn api_versions_round_trip(major in 0usize..100_000, minor in 0usize..100_000) {
            let v = parse_api_version(&format!("{major}.{minor}")).map(|v| (v.major_version, v.minor_version));
            proptest::prop_assert_eq!(v, Some((major, minor)));
        }

        #[test]
        fn any_text_is_parsed_or_refused(s in "\\PC{0,12}") {
            if let Some(v) = parse_api_version(&s) {
                proptest::prop_assert_eq!(parse_api_version(&format!("{}.{}", v.major_version, v.minor_version)), Some(v));
            }
        }
    }

    #[test]
    fn parses_endpoints() {
        assert_eq!(Endpoint::parse("unix:///run/d.sock").ok(), Some(Endpoint::Unix("/run/d.sock".into())));
        assert_eq!(Endpoint::parse("/run/d.sock").ok(), Some(Endpoint::Unix("/run/d.sock".into())));
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:2376").ok(),
            Some(Endpoint::Tcp { address: "127.0.0.1:2376".into(), tls: None })
        );
        assert!(matches!(Endpoint::parse("tcp://nohost"), Err(EngineError::InvalidEndpoint { .. })));
        assert!(matches!(Endpoint::parse("ftp://x"), Err(EngineError::InvalidEndpoint { .. })));
        assert!(matches!(Endpoint::parse("unix://relative"), Err(EngineError::InvalidEndpoint { .. })));
        assert_eq!(
            Endpoint::parse("tcp://[::1]:2375").ok(),
            Some(Endpoint::Tcp { address: "[::1]:2375".into(), tls: None })
        );
        assert_eq!(
            Endpoint::parse("npipe:////./pipe/docker_engine").ok(),
            Some(Endpoint::NamedPipe("//./pipe/docker_engine".into()))
        );
        assert_eq!(
            Endpoint::parse(r"npipe://\\.\pipe\docker_engine").ok(),
            Some(Endpoint::NamedPipe("//./pipe/docker_engine".into()))
        );
        assert_eq!(Endpoint::parse("npipe://./pipe/x").ok(), Some(Endpoint::NamedPipe("//./pipe/x".into())));
        for bad in ["unix://", "unix:///", "tcp://host", "tcp://host:0", "tcp://host:99999", "tcp://:2375"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Endpoint::parse("ssh://me@h").ok(),
            Some(Endpoint::Ssh(SshTarget { user: Some("me".into()), host: "h".into(), port: None, socket: None }))
        );
        for bad in ["ssh://-oProxyCommand=x", "", "npipe://x", "npipe:////./pipe/"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn https_means_tls_and_round_trips() {
        let Ok(Endpoint::Tcp { address, tls: Some(files) }) = Endpoint::parse("https://engine.example:2376") else {
            panic!("https:// must ask for TLS")
        };
        assert_eq!(address, "engine.example:2376");
        assert!(files.ca.ends_with("ca.pem") && files.key.ends_with("key.pem"));
        let tls = Endpoint::Tcp { address: "h:1".into(), tls: Some(TlsFiles::in_dir(Path::new("/c"))) };
        assert_eq!(tls.to_string(), "https://h:1");
        assert!(matches!(Endpoint::parse(&tls.to_string()), Ok(Endpoint::Tcp { tls: Some(_), .. })));
    }

    #[test]
    fn loopback_addresses() {
        for yes in ["127.0.0.1:2375", "localhost:1", "LOCALHOST:1", "[::1]:2375", "127.1.2.3:9"] {
            assert!(is_loopback_address(yes), "{yes}");
        }
        for no in
            ["10.0.0.1:2375", "192.168.1.2:2375", "[::]:1", "0.0.0.0:2375", "engine.example:2375", "127.0.0.1.nip.io:1"]
        {
            assert!(!is_loopback_address(no), "{no}");
        }
    }

    #[tokio::test]
    async fn https_without_certificates_is_an_error_not_plaintext() {
        let dir = std::env::temp_dir().join(format!("gantry-no-certs-{}", std::process::id()));
        let endpoint = Endpoint::Tcp { address: "127.0.0.1:1".into(), tls: Some(TlsFiles::in_dir(&dir)) };
        let err = Engine::connect(&endpoint).await.err();
        let Some(EngineError::InvalidEndpoint { reason, .. }) = err else {
            panic!("expected InvalidEndpoint, got {err:?}")
        };
        assert!(reason.contains("never falls back to plaintext"), "{reason}");
    }

    /// One test, because the allowance is process-wide: first refused, then allowed (and then the
    /// connection itself is tried: refused by a closed port on this machine's own LAN address).
    #[tokio::test]
    async fn plaintext_to_another_machine_needs_an_explicit_allowance() {
        let err = Engine::connect(&Endpoint::Tcp { address: "192.0.2.7:2375".into(), tls: None }).await.err();
        let Some(err @ EngineError::PlaintextRemote { .. }) = err else {
            panic!("expected PlaintextRemote, got {err:?}")
        };
        assert_eq!(err.code(), crate::EngineErrorCode::PlaintextEndpoint);
        assert!(err.hint().contains("--allow-plaintext-tcp"), "{}", err.hint());
        // This machine's outgoing address (no packet is sent), when it has a network at all.
        let lan = std::net::UdpSocket::bind("0.0.0.0:0")
            .and_then(|s| s.connect("192.0.2.7:9").map(|()| s))
            .and_then(|s| s.local_addr())
            .map(|a| a.ip())
            .ok()
            .filter(|ip| !ip.is_loopback() && !ip.is_unspecified());
        if let Some(ip) = lan {
            let closed = std::net::TcpListener::bind((ip, 0)).and_then(|l| l.local_addr()).map(|a| a.port());
            if let Ok(port) = closed {
                allow_plaintext_tcp(true);
                let err = Engine::connect(&Endpoint::Tcp { address: format!("{ip}:{port}"), tls: None }).await.err();
                allow_plaintext_tcp(false);
                assert!(matches!(err, Some(EngineError::Unreachable { .. })), "allowed, so tried: {err:?}");
            }
        }
    }

    #[tokio::test]
    async fn missing_socket_names_the_endpoint() {
        let err = Engine::connect(&Endpoint::Unix("/nonexistent/gantry.sock".into())).await.err();
        let Some(err @ EngineError::Unreachable { .. }) = err else { panic!("expected Unreachable, got {err:?}") };
        assert!(err.to_string().contains("unix:///nonexistent/gantry.sock"), "{err}");
    }

    #[tokio::test]
    async fn refused_tcp_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let endpoint = Endpoint::Tcp { address: format!("127.0.0.1:{port}"), tls: None };
        let err = Engine::connect(&endpoint).await.err();
        assert!(matches!(err, Some(EngineError::Unreachable { .. })), "{err:?}");
    }
}

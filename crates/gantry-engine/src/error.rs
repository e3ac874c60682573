//! Typed errors: every failure of an engine call maps to one specific, actionable variant.

use std::fmt;

/// The kind of engine object an operation was about; used to make "not found" precise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResourceKind {
    Container,
    Image,
    Volume,
    Network,
    Exec,
    Engine,
    Context,
    Service,
    Node,
    Task,
    Stack,
    Swarm,
    Secret,
    Config,
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Container => "container",
            Self::Image => "image",
            Self::Volume => "volume",
            Self::Network => "network",
            Self::Exec => "exec session",
            Self::Engine => "engine",
            Self::Context => "context",
            Self::Service => "service",
            Self::Node => "node",
            Self::Task => "task",
            Self::Stack => "stack",
            Self::Swarm => "swarm",
            Self::Secret => "secret",
            Self::Config => "config",
        })
    }
}

/// Everything that can go wrong talking to a Docker engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Nothing answered at the endpoint (socket missing, connection refused, timeout).
    #[error("the Docker engine at {endpoint} is not answering: {reason}")]
    Unreachable { endpoint: String, reason: String },
    /// The endpoint string itself cannot be used.
    #[error("invalid engine endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    /// The object does not exist.
    #[error("{kind} {id:?} does not exist")]
    NotFound { kind: ResourceKind, id: String },
    /// A container was to be created from an image the engine does not have.
    #[error("image {image:?} is not on this engine")]
    ImageMissing { image: String },
    /// A container (or other object) with this name already exists.
    #[error("the name {name:?} is already in use")]
    NameInUse { name: String },
    /// A host port asked for is taken, by another container or another program.
    #[error("host port {port} is already in use")]
    PortInUse { port: String, message: String },
    /// An image reference that Docker cannot parse.
    #[error("{reference:?} is not a valid image reference: {reason}")]
    InvalidReference { reference: String, reason: String },
    /// The request conflicts with the object's state (e.g. removing a running container).
    #[error("{message}")]
    Conflict { message: String },
    /// The engine rejected the request's parameters.
    #[error("the engine rejected the request: {message}")]
    InvalidRequest { message: String },
    /// A registry could not be reached or refused the pull / push.
    #[error("registry error for {reference}: {message}")]
    Registry { reference: String, message: String },
    /// The registry refused the login: wrong user name or password, or no login where one is needed.
    #[error("the registry {server} refused the login: {message}")]
    RegistryAuth { server: String, message: String },
    /// An image build failed; `message` is the builder's error.
    #[error("build failed: {message}")]
    Build { message: String },
    /// The engine's disk is full.
    #[error("the engine's disk is full: {message}")]
    DiskFull { message: String },
    /// Reading or writing a local file failed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The engine answered with an error that has no more specific variant.
    #[error("engine error (HTTP {status}): {message}")]
    Api { status: u16, message: String },
    /// The operation was cancelled by its caller.
    #[error("cancelled")]
    Cancelled,
    /// The engine's answer could not be understood.
    #[error("unexpected answer from the engine: {message}")]
    Protocol { message: String },
    /// A file given as an archive (volume import) is not a complete tar archive.
    #[error("{path} is not a complete tar archive: {reason}")]
    InvalidArchive { path: String, reason: String },
    /// An operation needs some local image (e.g. to read a volume's files) and the engine has none.
    #[error("{purpose} needs an image on the engine, and there is none")]
    NoLocalImage { purpose: String },
    /// A plaintext TCP endpoint on another machine: anyone on that network could control the engine.
    #[error(
        "refusing plaintext tcp://{address}: it is not this machine, and without TLS anyone on the network can control that engine"
    )]
    PlaintextRemote { address: String },
    /// A file to be written exists and replacing it was not asked for.
    #[error("{path} already exists")]
    FileExists { path: String },
    /// A Swarm call (services, nodes, stacks) to an engine that is not a Swarm manager.
    #[error("this engine is not a Swarm manager: {message}")]
    NotSwarmManager { message: String },
    /// A compose file that cannot be deployed as it is: where, and why.
    #[error("compose file, {location}: {message}")]
    InvalidCompose { location: String, message: String },
}

/// The stable codes of [`EngineError::code`], one per kind of failure (serialized in snake_case,
/// e.g. `engine_unreachable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EngineErrorCode {
    EngineUnreachable,
    InvalidEndpoint,
    NotFound,
    ImageMissing,
    NameInUse,
    PortInUse,
    InvalidReference,
    Conflict,
    InvalidRequest,
    Registry,
    RegistryAuth,
    BuildFailed,
    DiskFull,
    Io,
    EngineError,
    Cancelled,
    Protocol,
    InvalidArchive,
    NoImage,
    PlaintextEndpoint,
    FileExists,
    NotSwarmManager,
    InvalidCompose,
}

impl EngineErrorCode {
    /// The code as it appears at the UI boundary (the same text serde writes).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EngineUnreachable => "engine_unreachable",
            Self::InvalidEndpoint => "invalid_endpoint",
            Self::NotFound => "not_found",
            Self::ImageMissing => "image_missing",
            Self::NameInUse => "name_in_use",
            Self::PortInUse => "port_in_use",
            Self::InvalidReference => "invalid_reference",
            Self::Conflict => "conflict",
            Self::InvalidRequest => "invalid_request",
            Self::Registry => "registry",
            Self::RegistryAuth => "registry_auth",
            Self::BuildFailed => "build_failed",
            Self::DiskFull => "disk_full",
            Self::Io => "io",
            Self::EngineError => "engine_error",
            Self::Cancelled => "cancelled",
            Self::Protocol => "protocol",
            Self::InvalidArchive => "invalid_archive",
            Self::NoImage => "no_image",
            Self::PlaintextEndpoint => "plaintext_endpoint",
            Self::FileExists => "file_exists",
            Self::NotSwarmManager => "not_swarm_manager",
            Self::InvalidCompose => "invalid_compose",
        }
    }
}

/// Shorthand for results of engine calls.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl EngineError {
    /// A stable machine-readable code, used at the UI boundary (`{code, message, hint}`).
    pub fn code(&self) -> EngineErrorCode {
        match self {
            Self::Unreachable { .. } => EngineErrorCode::EngineUnreachable,
            Self::InvalidEndpoint { .. } => EngineErrorCode::InvalidEndpoint,
            Self::NotFound { .. } => EngineErrorCode::NotFound,
            Self::ImageMissing { .. } => EngineErrorCode::ImageMissing,
            Self::NameInUse { .. } => EngineErrorCode::NameInUse,
            Self::PortInUse { .. } => EngineErrorCode::PortInUse,
            Self::InvalidReference { .. } => EngineErrorCode::InvalidReference,
            Self::Conflict { .. } => EngineErrorCode::Conflict,
            Self::InvalidRequest { .. } => EngineErrorCode::InvalidRequest,
            Self::Registry { .. } => EngineErrorCode::Registry,
            Self::RegistryAuth { .. } => EngineErrorCode::RegistryAuth,
            Self::Build { .. } => EngineErrorCode::BuildFailed,
            Self::DiskFull { .. } => EngineErrorCode::DiskFull,
            Self::Io { .. } => EngineErrorCode::Io,
            Self::Api { .. } => EngineErrorCode::EngineError,
            Self::Cancelled => EngineErrorCode::Cancelled,
            Self::Protocol { .. } => EngineErrorCode::Protocol,
            Self::InvalidArchive { .. } => EngineErrorCode::InvalidArchive,
            Self::NoLocalImage { .. } => EngineErrorCode::NoImage,
            Self::PlaintextRemote { .. } => EngineErrorCode::PlaintextEndpoint,
            Self::FileExists { .. } => EngineErrorCode::FileExists,
            Self::NotSwarmManager { .. } => EngineErrorCode::NotSwarmManager,
            Self::InvalidCompose { .. } => EngineErrorCode::InvalidCompose,
        }
    }

    /// What the user can do about it, in one sentence.
    pub fn hint(&self) -> String {
        match self {
            Self::Unreachable { .. } => "Start the engine with `gantry start`, or point DOCKER_HOST (or the engine setting) at a running Docker engine.".into(),
            Self::InvalidEndpoint { .. } => "Use unix:///path/to/docker.sock, tcp://host:port or npipe:////./pipe/name.".into(),
            Self::NotFound { kind, .. } => format!("Check the {kind} name or ID; list them to see what exists."),
            Self::ImageMissing { image } => format!("Pull it first (`gantry pull {image}`), build it, or load it from a file."),
            Self::NameInUse { .. } => "Choose another name, or remove the existing one first.".into(),
            Self::PortInUse { port, .. } => format!("Stop whatever uses host port {port}, or publish on another host port."),
            Self::InvalidReference { .. } => "Use lowercase letters, digits, '.', '-', '_' and '/', optionally ':tag' or '@sha256:digest' (e.g. nginx:1.27).".into(),
            Self::Conflict { .. } => "Stop or remove what holds the object first (or use force).".into(),
            Self::InvalidRequest { .. } => "Check the values you entered.".into(),
            Self::Registry { .. } => "Check the image name, your network connection and registry login.".into(),
            Self::RegistryAuth { server, .. } => format!("Check the user name and password (or access token) for {server}, then log in again (Settings → Registries, or `gantry login {server}`)."),
            Self::Build { .. } => "Read the build output above the error; fix the Dockerfile or the build context.".into(),
            Self::DiskFull { .. } => "Free space: remove unused images, containers and build cache (prune), or grow the VM disk.".into(),
            Self::Io { .. } => "Check that the path exists and that you may read/write it.".into(),
            Self::Api { .. } | Self::Protocol { .. } => "Retry; if it persists, check the engine logs (`gantry logs`).".into(),
            Self::Cancelled => "Nothing to do.".into(),
            Self::InvalidArchive { .. } => "Choose a .tar file, e.g. one made by Export; nothing was changed.".into(),
            Self::NoLocalImage { .. } => "Pull or load a small image such as busybox, then try again.".into(),
            Self::FileExists { .. } => "Choose another name, or confirm that the file is to be replaced.".into(),
            Self::PlaintextRemote { .. } => format!(
                "Use TLS (DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or an https:// endpoint), or, on a network you trust, allow it in Settings → Engine, with --allow-plaintext-tcp, or with {}=1.",
                crate::connect::ALLOW_PLAINTEXT_ENV
            ),
            Self::InvalidCompose { .. } => "Fix the compose file at that place and deploy again; nothing was changed (docs/remote.md lists the keys Gantry reads).".into(),
            Self::NotSwarmManager { .. } => "Choose an engine that is a Swarm manager (`gantry context use`), or make this one a manager: `gantry swarm init` (in the app: the Swarm panel's button).".into(),
        }
    }

    /// True when the error means the engine itself is gone (worth reconnecting).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }

    pub(crate) fn io(action: &'static str, path: impl fmt::Display, source: std::io::Error) -> Self {
        Self::Io { action, path: path.to_string(), source }
    }
}

/// What an engine call was about, so a raw engine error becomes a specific variant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub kind: ResourceKind,
    pub id: &'a str,
}

impl<'a> Subject<'a> {
    pub(crate) fn new(kind: ResourceKind, id: &'a str) -> Self {
        Self { kind, id }
    }
}

/// Maps a bollard error for an operation on `subject` at `endpoint`.
pub(crate) fn classify(err: bollard::errors::Error, endpoint: &str, subject: Subject<'_>) -> EngineError {
    use bollard::errors::Error as B;
    match err {
        B::DockerResponseServerError { status_code, message } => classify_response(status_code, message, subject),
        B::DockerStreamError { error } => {
            classify_message(&error, subject).unwrap_or(EngineError::Protocol { message: error })
        }
        B::SocketNotFoundError(path) => {
            EngineError::Unreachable { endpoint: endpoint.to_string(), reason: format!("socket {path} does not exist") }
        }
        B::RequestTimeoutError => {
            EngineError::Unreachable { endpoint: endpoint.to_string(), reason: "no answer within the timeout".into() }
        }
        e @ (B::HyperLegacyError { .. }
        | B::IOError { .. }
        | B::HyperResponseError { .. }
        | B::HttpClientError { .. }) => {
            EngineError::Unreachable { endpoint: endpoint.to_string(), reason: root_cause(&e) }
        }
        B::JsonDataError { message, .. } => EngineError::Protocol { message },
        other => EngineError::Protocol { message: other.to_string() },
    }
}

fn root_cause(err: &dyn std::error::Error) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Maps an engine HTTP error status and message.
pub(crate) fn classify_response(status: u16, message: String, subject: Subject<'_>) -> EngineError {
    if let Some(specific) = classify_message(&message, subject) {
        return specific;
    }
    match status {
        404 if message.contains("No such image") || message.contains("No such image:") => {
            EngineError::ImageMissing { image: subject.id.to_string() }
        }
        404 => EngineError::NotFound { kind: subject.kind, id: subject.id.to_string() },
        409 => EngineError::Conflict { message },
        400 => EngineError::InvalidRequest { message },
        _ => EngineError::Api { status, message },
    }
}

/// Recognises specific conditions from the engine's message text, whatever the status.
pub(crate) fn classify_message(message: &str, subject: Subject<'_>) -> Option<EngineError> {
    let lower = message.to_ascii_lowercase();
    if lower.contains("not a swarm manager") || lower.contains("not part of a swarm") {
        return Some(EngineError::NotSwarmManager { message: message.to_string() });
    }
    if lower.contains("port is already allocated") || lower.contains("address already in use") {
        return Some(EngineError::PortInUse { port: port_from_message(message), message: message.to_string() });
    }
    if lower.contains("is already in use by container") || (lower.contains("already in use") && lower.contains("name"))
    {
        let name =
            quoted(message).map(|n| n.trim_start_matches('/').to_string()).unwrap_or_else(|| subject.id.to_string());
        return Some(EngineError::NameInUse { name });
    }
    if lower.contains("already exists") && matches!(subject.kind, ResourceKind::Network | ResourceKind::Volume) {
        return Some(EngineError::NameInUse { name: subject.id.to_string() });
    }
    if lower.contains("invalid reference format") || lower.contains("must be lowercase") {
        return Some(EngineError::InvalidReference { reference: subject.id.to_string(), reason: message.to_string() });
    }
    if lower.contains("no space left on device") {
        return Some(EngineError::DiskFull { message: message.to_string() });
    }
    if lower.contains("no such image") {
        return Some(EngineError::ImageMissing { image: subject.id.to_string() });
    }
    None
}

/// True when a registry's (or the engine's) message means the credentials were wrong or missing.
pub(crate) fn is_auth_failure(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    [
        "401 unauthorized",
        "unauthorized:",
        "incorrect username or password",
        "no basic auth credentials",
        "authentication required",
    ]
    .iter()
    .any(|m| lower.contains(m))
}

/// The first double-quoted word of a message (Docker quotes names in its conflicts).
fn quoted(message: &str) -> Option<&str> {
    let start = message.find('"')? + 1;
    let len = message[start..].find('"')?;
    Some(&message[start..start + len])
}

/// Extracts `8080` from "Bind for 0.0.0.0:8080 failed: port is already allocated" and
/// "listen tcp4 127.0.0.1:8080: bind: address already in use".
fn port_from_message(message: &str) -> String {
    for (idx, _) in message.match_indices(':') {
        let digits: String = message[idx + 1..].chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() {
            let before = &message[..idx];
            if before.ends_with(|c: char| c.is_ascii_digit() || c == ']') {
                return digits;
            }
        }
    }
    "?".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_text_is_what_serde_writes() {
        for code in [
            EngineErrorCode::EngineUnreachable,
            EngineErrorCode::InvalidEndpoint,
            EngineErrorCode::NotFound,
            EngineErrorCode::ImageMissing,
            EngineErrorCode::NameInUse,
            EngineErrorCode::PortInUse,
            EngineErrorCode::InvalidReference,
            EngineErrorCode::Conflict,
            EngineErrorCode::InvalidRequest,
            EngineErrorCode::Registry,
            EngineErrorCode::RegistryAuth,
            EngineErrorCode::BuildFailed,
            EngineErrorCode::DiskFull,
            EngineErrorCode::Io,
            EngineErrorCode::EngineError,
            EngineErrorCode::Cancelled,
            EngineErrorCode::Protocol,
            EngineErrorCode::InvalidArchive,
            EngineErrorCode::NoImage,
            EngineErrorCode::PlaintextEndpoint,
            EngineErrorCode::FileExists,
            EngineErrorCode::NotSwarmManager,
            EngineErrorCode::InvalidCompose,
        ] {
            assert_eq!(serde_json::to_value(code).expect("a code serializes"), serde_json::Value::from(code.as_str()));
        }
    }

    fn sub(id: &str) -> Subject<'_> {
        Subject::new(ResourceKind::Container, id)
    }

    #[test]
    fn port_allocated_is_port_in_use_with_port() {
        let e = classify_response(
            500,
            "driver failed programming external connectivity on endpoint web (abc): Bind for 0.0.0.0:8080 failed: port is already allocated".into(),
            sub("web"),
        );
        assert!(matches!(e, EngineError::PortInUse { ref port, .. } if port == "8080"), "{e:?}");
        let e = classify_response(
            500,
            "driver failed programming external connectivity: Error starting userland proxy: listen tcp4 127.0.0.1:18080: bind: address already in use".into(),
            sub("web"),
        );
        assert!(matches!(e, EngineError::PortInUse { ref port, .. } if port == "18080"), "{e:?}");
    }

    #[test]
    fn name_conflict_names_the_container() {
        let e = classify_response(
            409,
            r#"Conflict. The container name "/web" is already in use by container "0123". You have to remove (or rename) that container to be able to reuse that name."#.into(),
            sub("web"),
        );
        assert!(matches!(e, EngineError::NameInUse { ref name } if name == "web"), "{e:?}");
    }

    #[test]
    fn missing_things() {
        assert!(matches!(
            classify_response(404, "No such container: x".into(), sub("x")),
            EngineError::NotFound { .. }
        ));
        let e = classify_response(404, "No such image: nope:latest".into(), sub("nope:latest"));
        assert!(matches!(e, EngineError::ImageMissing { .. }), "{e:?}");
        let e =
            classify_response(400, "invalid reference format: repository name must be lowercase".into(), sub("Bad"));
        assert!(matches!(e, EngineError::InvalidReference { .. }), "{e:?}");
    }

    #[test]
    fn auth_failures_are_recognised() {
        for m in [
            "login attempt to http://127.0.0.1:5000/v2/ failed with status: 401 Unauthorized",
            "unauthorized: incorrect username or password",
            "Head \"http://127.0.0.1:5000/v2/x/manifests/1\": no basic auth credentials",
            "unauthorized: authentication required",
        ] {
            assert!(is_auth_failure(m), "{m}");
        }
        assert!(!is_auth_failure("dial tcp 127.0.0.1:1: connect: connection refused"));
        let e = EngineError::RegistryAuth { server: "ghcr.io".into(), message: "401".into() };
        assert_eq!(e.code(), EngineErrorCode::RegistryAuth);
        assert!(e.hint().contains("gantry login ghcr.io"));
    }

    #[test]
    fn swarm_calls_to_a_plain_engine_say_so() {
        let e = classify_response(
            503,
            "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.".into(),
            Subject::new(ResourceKind::Service, ""),
        );
        assert_eq!(e.code(), EngineErrorCode::NotSwarmManager, "{e:?}");
        assert!(e.hint().contains("gantry swarm init"));
    }

    #[test]
    fn every_error_has_code_and_hint() {
        let e = EngineError::Unreachable { endpoint: "unix:///x".into(), reason: "gone".into() };
        assert_eq!(e.code(), EngineErrorCode::EngineUnreachable);
        assert!(e.to_string().contains("unix:///x"));
        assert!(e.hint().contains("gantry start"));
    }
}

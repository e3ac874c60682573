//! Local endpoints for Gantry's own clients: the agent's control channel, the engine proxy and
//! the desktop app's single-instance knock. On Linux and macOS a unix socket (mode 0600, a stale
//! socket replaced, a live one refused); on Windows a named pipe created as the first instance of
//! its name (a process that made the name first is not joined but refused) that refuses remote
//! clients. A pipe gets Windows' default security: full access for its creator, SYSTEM and
//! administrators, read-only for others (who therefore cannot send a request).
//!
//! Pipe names are derived from the socket path the same code uses on unix ([`pipe_name_for`]),
//! so server and client agree without a file; the engine of the default instance has the
//! well-known name [`DEFAULT_ENGINE_PIPE`], which the docker context `gantry` points at.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::{MachineError, Result};
use crate::instance::Instance;

/// The default instance's engine pipe (`npipe:////./pipe/gantry_engine` for the docker CLI).
pub const DEFAULT_ENGINE_PIPE: &str = r"\\.\pipe\gantry_engine";

const PIPE_PREFIX: &str = r"\\.\pipe\";

/// A byte stream to or from a local endpoint.
pub trait LocalIo: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> LocalIo for T {}

/// One accepted or opened local connection.
pub type LocalStream = Box<dyn LocalIo>;

/// Where a local endpoint lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LocalEndpoint {
    /// A unix socket file.
    Socket(PathBuf),
    /// A Windows named pipe, `\\.\pipe\NAME`.
    Pipe(String),
}

impl std::fmt::Display for LocalEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Socket(p) => write!(f, "unix://{}", p.display()),
            // the docker CLI's spelling: npipe:////./pipe/NAME
            Self::Pipe(name) => write!(f, "npipe://{}", name.replace('\\', "/")),
        }
    }
}

impl LocalEndpoint {
    /// The endpoint that stands for the socket file `path` on this OS.
    pub fn for_path(path: &Path) -> Self {
        if cfg!(windows) { Self::Pipe(pipe_name_for(path)) } else { Self::Socket(path.to_owned()) }
    }

    /// The agent's control channel of `instance`.
    pub fn control(instance: &Instance) -> Self {
        Self::for_path(&instance.control_socket())
    }

    /// The engine proxy of `instance`: [`DEFAULT_ENGINE_PIPE`] for the default instance on
    /// Windows, so that `docker context` and `DOCKER_HOST` have a name that never changes.
    pub fn engine(instance: &Instance) -> Self {
        if cfg!(windows) && *instance == Instance::default() {
            Self::Pipe(DEFAULT_ENGINE_PIPE.to_owned())
        } else {
            Self::for_path(&instance.docker_socket())
        }
    }

    /// The file or pipe name, for messages.
    pub fn display_path(&self) -> String {
        match self {
            Self::Socket(p) => p.display().to_string(),
            Self::Pipe(name) => name.clone(),
        }
    }
}

/// The pipe name that stands for the socket file `path` on Windows: `\\.\pipe\gantry-<file
/// stem>-<hash of the whole path>`. The path is compared case-insensitively, as Windows does.
pub fn pipe_name_for(path: &Path) -> String {
    let text = path.to_string_lossy().replace('/', "\\");
    // the last component, split by hand: a Windows path is also named on other systems (tests)
    let file = text.rsplit('\\').next().unwrap_or_default();
    let stem: String = file
        .split('.')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let text = text.to_lowercase();
    format!("{PIPE_PREFIX}gantry-{stem}-{:016x}", fnv1a(text.as_bytes()))
}

/// FNV-1a, 64 bits: a stable hash (std's `DefaultHasher` may change between Rust releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// A bound local endpoint. Dropping it removes the socket file (unix).
#[derive(Debug)]
pub struct LocalListener {
    endpoint: LocalEndpoint,
    inner: Inner,
    /// The socket file this listener made (device, inode): dropping removes only that file, not
    /// one a later listener made at the same path.
    made: Option<(u64, u64)>,
}

enum Inner {
    #[cfg(unix)]
    Socket(tokio::net::UnixListener),
    /// The pipe instance waiting for the next client.
    #[cfg(windows)]
    Pipe(tokio::net::windows::named_pipe::NamedPipeServer),
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalListener")
    }
}

impl LocalListener {
    /// Binds `endpoint`: a socket file is created owner-only (a stale one replaced, a live one
    /// refused), a pipe as the first instance of its name.
    pub fn bind(endpoint: &LocalEndpoint) -> Result<Self> {
        let inner = match endpoint {
            #[cfg(unix)]
            LocalEndpoint::Socket(path) => Inner::Socket(crate::forward::bind(path)?),
            #[cfg(windows)]
            LocalEndpoint::Pipe(name) => Inner::Pipe(pipe::create(name, true)?),
            #[allow(unreachable_patterns)]
            other => return Err(unsupported(other)),
        };
        Ok(Self { endpoint: endpoint.clone(), inner, made: socket_identity(endpoint) })
    }

    /// Where this listener is.
    pub fn endpoint(&self) -> &LocalEndpoint {
        &self.endpoint
    }

    /// The next client.
    pub async fn accept(&mut self) -> std::io::Result<LocalStream> {
        match &mut self.inner {
            #[cfg(unix)]
            Inner::Socket(l) => {
                let (s, _) = l.accept().await?;
                Ok(Box::new(s))
            }
            #[cfg(windows)]
            Inner::Pipe(waiting) => {
                waiting.connect().await?;
                // the next instance exists before this one is handed out: no moment without one
                let LocalEndpoint::Pipe(name) = &self.endpoint else {
                    return Err(std::io::Error::other("a pipe listener without a pipe name"));
                };
                let next = pipe::create(name, false).map_err(std::io::Error::other)?;
                Ok(Box::new(std::mem::replace(waiting, next)))
            }
        }
    }
}

impl Drop for LocalListener {
    fn drop(&mut self) {
        if let LocalEndpoint::Socket(path) = &self.endpoint
            && self.made.is_some()
            && socket_identity(&self.endpoint) == self.made
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The (device, inode) of a socket file; `None` for a pipe or a missing file.
fn socket_identity(endpoint: &LocalEndpoint) -> Option<(u64, u64)> {
    #[cfg(unix)]
    if let LocalEndpoint::Socket(path) = endpoint {
        use std::os::unix::fs::MetadataExt;
        return std::fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()));
    }
    let _ = endpoint;
    None
}

/// Opens a connection to `endpoint` (a busy pipe is retried for a few seconds, as every
/// instance of a pipe can be taken for a moment between two clients).
pub async fn connect(endpoint: &LocalEndpoint) -> std::io::Result<LocalStream> {
    match endpoint {
        #[cfg(unix)]
        LocalEndpoint::Socket(path) => Ok(Box::new(tokio::net::UnixStream::connect(path).await?)),
        #[cfg(windows)]
        LocalEndpoint::Pipe(name) => Ok(Box::new(pipe::open(name).await?)),
        #[allow(unreachable_patterns)]
        other => Err(std::io::Error::new(std::io::ErrorKind::Unsupported, unsupported(other).to_string())),
    }
}

fn unsupported(endpoint: &LocalEndpoint) -> MachineError {
    MachineError::Unsupported {
        what: format!("{endpoint}: {} on this OS", if cfg!(windows) { "no unix sockets" } else { "no named pipes" }),
    }
}

#[cfg(windows)]
mod pipe {
    use std::time::Duration;

    use tokio::net::windows::named_pipe::{ClientOptions, NamedPipeClient, NamedPipeServer, ServerOptions};

    use crate::error::{MachineError, Result};

    /// ERROR_PIPE_BUSY: every instance of the pipe is connected to a client right now.
    const ERROR_PIPE_BUSY: i32 = 231;
    /// How long a client waits for a free instance.
    const BUSY_WAIT: Duration = Duration::from_secs(5);

    pub(super) fn create(name: &str, first: bool) -> Result<NamedPipeServer> {
        ServerOptions::new().first_pipe_instance(first).reject_remote_clients(true).create(name).map_err(|e| {
            if first && e.kind() == std::io::ErrorKind::PermissionDenied {
                MachineError::EndpointInUse { endpoint: name.to_owned() }
            } else {
                MachineError::Io { what: "create named pipe", path: name.into(), source: e }
            }
        })
    }

    pub(super) async fn open(name: &str) -> std::io::Result<NamedPipeClient> {
        let deadline = tokio::time::Instant::now() + BUSY_WAIT;
        loop {
            match ClientOptions::new().open(name) {
                Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[test]
    fn pipe_names_are_stable_per_path_and_case_insensitive() {
        let a = pipe_name_for(Path::new(r"C:\Users\Ann\AppData\Local\gantry\default\control.sock"));
        let b = pipe_name_for(Path::new(r"c:\users\ann\appdata\local\gantry\default\CONTROL.sock"));
        let c = pipe_name_for(Path::new(r"C:\Users\Ann\AppData\Local\gantry\other\control.sock"));
        assert!(a.starts_with(r"\\.\pipe\gantry-control-"), "{a}");
        assert_eq!(a.len(), r"\\.\pipe\gantry-control-".len() + 16);
        // the stem keeps the case it was given, the hash does not
        assert_eq!(a.rsplit('-').next(), b.rsplit('-').next());
        assert_ne!(a, c);
        // a stem of odd characters cannot leave the pipe namespace
        let odd = pipe_name_for(Path::new(r"C:\x\..\con tr\ol.sock"));
        assert!(!odd[PIPE_PREFIX.len()..].contains(['\\', '/', ' ']), "{odd}");
    }

    #[test]
    fn endpoints_display_as_docker_hosts() {
        assert_eq!(LocalEndpoint::Pipe(DEFAULT_ENGINE_PIPE.into()).to_string(), "npipe:////./pipe/gantry_engine");
        assert_eq!(LocalEndpoint::Socket("/run/x.sock".into()).to_string(), "unix:///run/x.sock");
    }

    #[test]
    fn the_default_instance_engine_has_the_well_known_name_on_windows_only() {
        let engine = LocalEndpoint::engine(&Instance::default());
        if cfg!(windows) {
            assert_eq!(engine, LocalEndpoint::Pipe(DEFAULT_ENGINE_PIPE.into()));
        } else {
            assert_eq!(engine, LocalEndpoint::Socket(Instance::default().docker_socket()));
        }
        let t = tempfile::tempdir().unwrap();
        let other = Instance::at(t.path().join("other"));
        assert_eq!(LocalEndpoint::engine(&other), LocalEndpoint::for_path(&other.docker_socket()));
    }

    /// Several clients at once, each with its own connection, answered in both directions; the
    /// name cannot be bound twice while the first listener lives.
    #[tokio::test]
    async fn serves_several_clients_and_refuses_a_second_server() {
        let t = tempfile::tempdir().unwrap();
        let endpoint = LocalEndpoint::for_path(&t.path().join("echo.sock"));
        let mut listener = LocalListener::bind(&endpoint).unwrap();
        let server = tokio::spawn(async move {
            let mut served = Vec::new();
            for _ in 0..3 {
                let mut conn = listener.accept().await.unwrap();
                served.push(tokio::spawn(async move {
                    let mut buf = [0u8; 5];
                    conn.read_exact(&mut buf).await.unwrap();
                    buf.reverse();
                    conn.write_all(&buf).await.unwrap();
                }));
            }
            for s in served {
                s.await.unwrap();
            }
            listener
        });
        let mut clients = Vec::new();
        for i in 0..3u8 {
            let mut c = connect(&endpoint).await.unwrap();
            c.write_all(&[b'a' + i, b'b', b'c', b'd', b'e']).await.unwrap();
            clients.push(c);
        }
        for (i, mut c) in clients.into_iter().enumerate() {
            let mut buf = [0u8; 5];
            c.read_exact(&mut buf).await.unwrap();
            assert_eq!(buf, [b'e', b'd', b'c', b'b', b'a' + i as u8]);
        }
        let listener = server.await.unwrap();
        // (on unix the refused second bind has knocked once to see whether the socket is alive)
        let again = LocalListener::bind(&endpoint);
        if gantry_testkit::wine::detected() {
            let why = "Wine lets a second process create the first instance of a pipe name (Windows refuses)";
            gantry_testkit::skip::skipped("local: a second server is refused", why);
        } else {
            assert!(matches!(again, Err(MachineError::EndpointInUse { .. } | MachineError::Io { .. })), "{again:?}");
        }
        drop(again);
        drop(listener);
        // gone with its listener: nobody answers, and the name can be bound again
        assert!(connect(&endpoint).await.is_err());
        drop(LocalListener::bind(&endpoint).unwrap());
    }

    /// A listener dropped after another took its path over (an agent restarted in the same
    /// process) leaves the new socket alone.
    #[cfg(unix)]
    #[tokio::test]
    async fn dropping_an_old_listener_keeps_a_newer_socket() {
        let t = tempfile::tempdir().unwrap();
        let endpoint = LocalEndpoint::for_path(&t.path().join("control.sock"));
        let old = LocalListener::bind(&endpoint).unwrap();
        let LocalEndpoint::Socket(path) = &endpoint else { unreachable!() };
        std::fs::remove_file(path).unwrap();
        let new = LocalListener::bind(&endpoint).unwrap();
        drop(old);
        assert!(path.exists());
        assert!(connect(&endpoint).await.is_ok());
        drop(new);
        assert!(!path.exists());
    }
}

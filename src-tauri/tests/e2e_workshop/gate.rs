//! A gate on the road between an app and its engine, for the test only: a unix socket that
//! forwards every connection to the engine byte for byte, but stops reading from a connection
//! once it has sent `hold_after` bytes towards the engine, until the test releases it. A large
//! upload (an image load) then stands still part way, with the app showing its progress, for as
//! long as the test needs (no hook in the app: the app only sees a slow engine).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixListener, UnixStream};
use tokio::sync::watch;

use crate::harness::Result;

/// Where the engine is: a unix socket path or a TCP address (from `DOCKER_HOST`).
#[derive(Debug, Clone)]
enum Upstream {
    Unix(PathBuf),
    Tcp(String),
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

impl Upstream {
    fn parse(docker_host: &str) -> Result<Self> {
        if let Some(path) = docker_host.strip_prefix("unix://") {
            Ok(Self::Unix(path.into()))
        } else if let Some(addr) = docker_host.strip_prefix("tcp://") {
            Ok(Self::Tcp(addr.trim_end_matches('/').into()))
        } else {
            Err(format!("the gate forwards to unix:// or tcp:// engines, not {docker_host}").into())
        }
    }

    async fn connect(&self) -> std::io::Result<Box<dyn Stream>> {
        Ok(match self {
            Self::Unix(path) => Box::new(UnixStream::connect(path).await?),
            Self::Tcp(addr) => Box::new(TcpStream::connect(addr).await?),
        })
    }
}

/// The gate: its socket, whether a connection is being held, and the release.
pub struct Gate {
    socket: PathBuf,
    holding: Arc<AtomicBool>,
    released: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Gate {
    /// Listens on `dir/gate.sock`, forwarding to the engine at `docker_host`.
    pub fn start(dir: &Path, docker_host: &str, hold_after: u64) -> Result<Self> {
        let upstream = Upstream::parse(docker_host)?;
        let socket = dir.join("gate.sock");
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket)?;
        let holding = Arc::new(AtomicBool::new(false));
        let (released, watch) = watch::channel(false);
        let task = {
            let holding = holding.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let (upstream, holding, watch) = (upstream.clone(), holding.clone(), watch.clone());
                    tokio::spawn(async move {
                        if let Ok(engine) = upstream.connect().await {
                            forward(client, engine, hold_after, holding, watch).await;
                        }
                    });
                }
            })
        };
        Ok(Self { socket, holding, released, task })
    }

    /// The gate as a `DOCKER_HOST` value.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// A flag that turns true once a connection is held.
    pub fn holding(&self) -> Arc<AtomicBool> {
        self.holding.clone()
    }

    /// Lets every held connection go on (and no connection is held from then on).
    pub fn release(&self) {
        let _ = self.released.send(true);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.release();
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Copies both ways; the client's bytes wait at `hold_after` until released.
async fn forward(
    client: UnixStream,
    engine: Box<dyn Stream>,
    hold_after: u64,
    holding: Arc<AtomicBool>,
    mut released: watch::Receiver<bool>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut engine_read, mut engine_write) = tokio::io::split(engine);
    let back = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut engine_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    });
    let mut sent = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if sent >= hold_after && !*released.borrow() {
            holding.store(true, Ordering::SeqCst);
            if released.wait_for(|r| *r).await.is_err() {
                break;
            }
        }
        // never read past the gate while it is closed
        let room = if *released.borrow() { buf.len() } else { buf.len().min((hold_after - sent) as usize) };
        let n = match client_read.read(&mut buf[..room]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if engine_write.write_all(&buf[..n]).await.is_err() {
            break;
        }
        sent += n as u64;
    }
    let _ = engine_write.shutdown().await;
    let _ = back.await;
}

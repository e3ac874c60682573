//! The socket forwarder: a host unix socket (mode 0600, stale socket removed) whose every
//! connection is proxied byte-for-byte over a fresh mutual-TLS connection to the engine's
//! forwarded loopback port. Raw byte proxying carries HTTP upgrades and hijacked streams
//! (`docker run -it`, `docker exec`, attach); a half-close on one side (EOF) is passed on as a
//! TLS close_notify / socket shutdown on the other, as the docker CLI expects.
//!
//! On Windows the same would serve a named pipe (`\\.\pipe\gantry`); not implemented yet.

use std::net::SocketAddr;
#[cfg(unix)]
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
#[cfg(unix)]
use std::sync::atomic::Ordering;

use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[cfg(unix)]
use crate::error::{MachineError, Result};

/// Where to connect and with which TLS identity.
#[derive(Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    pub tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream").field("addr", &self.addr).finish()
    }
}

impl Upstream {
    /// Opens one TLS connection to the engine.
    pub async fn connect(&self) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        TlsConnector::from(self.tls.clone()).connect(crate::tls::server_name(), tcp).await
    }
}

/// Counters for status and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicU64,
    pub failures: AtomicU64,
}

/// Binds `path` (removing a stale socket first) with mode 0600.
#[cfg(unix)]
pub fn bind(path: &Path) -> Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    crate::process::remove_stale_socket(path).map_err(MachineError::io("remove stale socket", path))?;
    let l = tokio::net::UnixListener::bind(path).map_err(MachineError::io("bind", path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(MachineError::io("chmod 0600", path))?;
    Ok(l)
}

/// Serves `listener` until `cancel` resolves; each connection is proxied to `upstream`.
/// The socket file is removed on return.
#[cfg(unix)]
pub async fn serve(
    listener: tokio::net::UnixListener,
    socket_path: PathBuf,
    upstream: Upstream,
    stats: Arc<Stats>,
    cancel: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(cancel);
    loop {
        tokio::select! {
            _ = &mut cancel => break,
            accepted = listener.accept() => {
                let (client, _) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                stats.connections.fetch_add(1, Ordering::Relaxed);
                let up = upstream.clone();
                let stats = stats.clone();
                tokio::spawn(async move {
                    if let Err(e) = proxy(client, &up).await {
                        stats.failures.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(error = %e, "engine connection ended with an error");
                    }
                });
            }
        }
    }
    let _ = std::fs::remove_file(&socket_path);
}

#[cfg(unix)]
async fn proxy(mut client: tokio::net::UnixStream, up: &Upstream) -> std::io::Result<()> {
    let mut engine = up.connect().await?;
    tokio::io::copy_bidirectional(&mut client, &mut engine).await?;
    Ok(())
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::instance::Instance;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A TLS echo server standing in for dockerd: requires the client certificate.
    #[tokio::test]
    async fn proxies_bytes_both_ways_with_half_close_and_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let i = Instance::at(t.path().join("default"));
        i.ensure().unwrap();
        crate::tls::ensure(&i).unwrap();
        let server_cfg = crate::tls::server_config(&i).unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (s, _) = tcp.accept().await.unwrap();
                let acc = tokio_rustls::TlsAcceptor::from(server_cfg.clone());
                tokio::spawn(async move {
                    let Ok(mut s) = acc.accept(s).await else { return };
                    let mut buf = Vec::new();
                    // read until the client half-closes, then answer (like a hijacked stdin)
                    s.read_to_end(&mut buf).await.unwrap();
                    s.write_all(b"echo:").await.unwrap();
                    s.write_all(&buf).await.unwrap();
                    s.shutdown().await.unwrap();
                });
            }
        });
        // stale socket file is replaced
        std::fs::write(i.docker_socket(), "stale").unwrap();
        let l = bind(&i.docker_socket()).unwrap();
        assert_eq!(std::fs::metadata(i.docker_socket()).unwrap().permissions().mode() & 0o777, 0o600);
        let up = Upstream { addr, tls: crate::tls::client_config(&i).unwrap() };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let sock = i.docker_socket();
        let h = tokio::spawn(serve(l, sock.clone(), up, Arc::default(), async {
            let _ = stop_rx.await;
        }));
        for _ in 0..3 {
            let mut c = tokio::net::UnixStream::connect(&sock).await.unwrap();
            c.write_all(b"hello").await.unwrap();
            c.shutdown().await.unwrap();
            let mut out = Vec::new();
            c.read_to_end(&mut out).await.unwrap();
            assert_eq!(out, b"echo:hello");
        }
        // a client without a certificate is refused by the engine side
        let no_cert = Upstream { addr, tls: crate::tls::client_config_from(&i.tls_ca(), None).unwrap() };
        let refused = async {
            let mut s = no_cert.connect().await?;
            s.write_all(b"x").await?;
            s.shutdown().await?;
            let mut v = Vec::new();
            s.read_to_end(&mut v).await?;
            Ok::<_, std::io::Error>(v)
        }
        .await;
        assert!(refused.is_err() || refused.as_ref().is_ok_and(|v| v.is_empty()), "{refused:?}");
        stop_tx.send(()).unwrap();
        h.await.unwrap();
        assert!(!sock.exists());
    }
}

//! The engine forwarder: a local endpoint ([`crate::local`]: a unix socket, mode 0600, stale
//! socket removed; on Windows a named pipe, first instance, local clients only) whose every
//! connection is proxied byte-for-byte over a fresh mutual-TLS connection to the engine's
//! forwarded loopback port. Raw byte proxying carries HTTP upgrades and hijacked streams
//! (`docker run -it`, `docker exec`, attach); a half-close on one side (EOF) is passed on as a
//! TLS close_notify / socket shutdown on the other, as the docker CLI expects.
//!
//! With a [`Filter`], each connection is read as HTTP/1.1 requests ([`crate::http1`]): container,
//! volume and service creates are checked against the [`MountPolicy`] and refused with a
//! specific error ("Mounts denied: ...") when a bind source is not shared; every other byte,
//! upgrades and hijacked streams included, passes through unchanged. Clients that pipeline
//! requests (send the next before the answer to the previous one) could see a refusal before an
//! earlier answer; the docker CLI and bollard do not pipeline.
//!
//! A named pipe has no half-close: on Windows a client's end of input (a hijacked `docker exec
//! -i` stdin closing) is not passed on until the pipe closes (docs/windows.md).

use std::net::SocketAddr;
#[cfg(unix)]
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[cfg(unix)]
use crate::error::{MachineError, Result};
use crate::http1::{self, Chunked, Framing};
use crate::local::{LocalListener, LocalStream};
use crate::shares::{self, MountPolicy};

/// Largest body of a checked request (container creates are a few KiB).
pub const MAX_CHECKED_BODY: u64 = 16 << 20;

/// What the proxy checks: the mount policy, and the settings file its refusals point at.
#[derive(Debug, Clone)]
pub struct Filter {
    pub policy: MountPolicy,
    pub settings_file: PathBuf,
}

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
    crate::instance::check_socket_path(path)?;
    crate::process::remove_stale_socket(path).map_err(MachineError::io("remove stale socket", path))?;
    let l = tokio::net::UnixListener::bind(path).map_err(MachineError::io("bind", path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(MachineError::io("chmod 0600", path))?;
    Ok(l)
}

/// Serves `listener` until `cancel` resolves; each connection is proxied to `upstream`.
/// The listener (and with it a socket file) is dropped on return.
pub async fn serve(
    mut listener: LocalListener,
    upstream: Upstream,
    stats: Arc<Stats>,
    filter: Option<Arc<Filter>>,
    cancel: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(cancel);
    loop {
        tokio::select! {
            _ = &mut cancel => break,
            accepted = listener.accept() => {
                let client = match accepted {
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
                let filter = filter.clone();
                tokio::spawn(async move {
                    let r = match filter {
                        Some(f) => proxy_filtered(client, &up, &f).await,
                        None => proxy(client, &up).await,
                    };
                    if let Err(e) = r {
                        stats.failures.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(error = %e, "engine connection ended with an error");
                    }
                });
            }
        }
    }
    drop(listener);
}

async fn proxy(mut client: LocalStream, up: &Upstream) -> std::io::Result<()> {
    let mut engine = up.connect().await?;
    tokio::io::copy_bidirectional(&mut client, &mut engine).await?;
    Ok(())
}

type ClientWriter = Arc<tokio::sync::Mutex<tokio::io::WriteHalf<LocalStream>>>;

async fn proxy_filtered(client: LocalStream, up: &Upstream, filter: &Filter) -> std::io::Result<()> {
    let engine = up.connect().await?;
    let (mut er, mut ew) = tokio::io::split(engine);
    let (mut cr, cw) = tokio::io::split(client);
    let cw: ClientWriter = Arc::new(tokio::sync::Mutex::new(cw));
    let answers = {
        let cw = cw.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = er.read(&mut buf).await?;
                let mut w = cw.lock().await;
                if n == 0 {
                    return w.shutdown().await;
                }
                w.write_all(&buf[..n]).await?;
            }
        })
    };
    match requests(&mut cr, &mut ew, &cw, filter).await {
        Ok(()) => {
            let _ = ew.shutdown().await; // the client is done sending: pass the half-close on
            answers.await.map_err(std::io::Error::other)?
        }
        Err(Refused) => {
            answers.abort();
            let _ = cw.lock().await.shutdown().await;
            Ok(())
        }
    }
}

/// The connection was answered by the proxy and closed.
struct Refused;

impl From<std::io::Error> for Refused {
    fn from(e: std::io::Error) -> Self {
        tracing::debug!(error = %e, "engine connection ended");
        Refused
    }
}

async fn answer(cw: &ClientWriter, status: u16, reason: &str, message: &str, close: bool) -> std::io::Result<()> {
    tracing::info!(status, message, "engine request refused");
    cw.lock().await.write_all(&http1::error_response(status, reason, message, close)).await
}

/// Reads more from `r` into `buf`; the number of bytes read (0 at the end).
async fn fill(r: &mut (impl AsyncRead + Unpin), buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0u8; 16 * 1024];
    let n = r.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Passes requests from the client to the engine one by one, checking the ones the policy reads.
async fn requests(
    cr: &mut (impl AsyncRead + Unpin),
    ew: &mut (impl AsyncWrite + Unpin),
    cw: &ClientWriter,
    filter: &Filter,
) -> Result<(), Refused> {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let head = loop {
            match http1::parse_head(&buf) {
                Ok(Some(h)) => break h,
                Ok(None) => {
                    if fill(cr, &mut buf).await? == 0 {
                        ew.write_all(&buf).await?; // an incomplete request: the engine answers it
                        return Ok(());
                    }
                }
                Err(e) => {
                    answer(cw, 400, "Bad Request", &e.to_string(), true).await?;
                    return Err(Refused);
                }
            }
        };
        let framing = match head.framing() {
            Ok(f) => f,
            Err(e) => {
                answer(cw, 400, "Bad Request", &e.to_string(), true).await?;
                return Err(Refused);
            }
        };
        let path = http1::api_path(&head.target);
        if shares::inspects(&path) && !head.switches_to_raw() {
            if head.expects_continue() {
                cw.lock().await.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
            }
            let head_bytes = head.without_expect(&buf);
            buf.drain(..head.len);
            let Some((raw, body)) = whole_body(cr, &mut buf, framing).await? else {
                let m = format!("the request body is larger than {} MiB", MAX_CHECKED_BODY >> 20);
                answer(cw, 413, "Payload Too Large", &m, true).await?;
                return Err(Refused);
            };
            match filter.policy.check_body(&body) {
                Ok(()) => {
                    ew.write_all(&head_bytes).await?;
                    ew.write_all(&raw).await?;
                }
                Err(denied) => {
                    let close = head.version == "HTTP/1.0"
                        || head.values("connection").any(|v| v.eq_ignore_ascii_case("close"));
                    answer(cw, 400, "Bad Request", &denied.message(&filter.settings_file), close).await?;
                    if close {
                        return Err(Refused);
                    }
                }
            }
            continue;
        }
        ew.write_all(&buf[..head.len]).await?;
        buf.drain(..head.len);
        if head.switches_to_raw() {
            // a hijacked stream from here on: raw bytes both ways
            ew.write_all(&buf).await?;
            tokio::io::copy(cr, ew).await?;
            return Ok(());
        }
        pass_body(cr, ew, &mut buf, framing).await?;
    }
}

/// Streams one body from `buf` + `cr` to `ew`; what follows it stays in `buf`.
async fn pass_body(
    cr: &mut (impl AsyncRead + Unpin),
    ew: &mut (impl AsyncWrite + Unpin),
    buf: &mut Vec<u8>,
    framing: Framing,
) -> Result<(), Refused> {
    match framing {
        Framing::None => Ok(()),
        Framing::Length(n) => {
            let from_buf = usize::try_from(n).map_or(buf.len(), |n| n.min(buf.len()));
            ew.write_all(&buf[..from_buf]).await?;
            buf.drain(..from_buf);
            let rest = n - from_buf as u64;
            let copied = tokio::io::copy(&mut cr.take(rest), ew).await?;
            if copied < rest { Err(Refused) } else { Ok(()) }
        }
        Framing::Chunked => {
            let mut c = Chunked::default();
            loop {
                let step = c.feed(buf, None).map_err(|e| {
                    tracing::debug!(error = %e, "bad chunked body");
                    Refused
                })?;
                ew.write_all(&buf[..step.consumed]).await?;
                buf.drain(..step.consumed);
                if step.done {
                    return Ok(());
                }
                if fill(cr, buf).await? == 0 {
                    return Err(Refused);
                }
            }
        }
    }
}

/// Reads a whole body (raw bytes as sent, and decoded), or `None` when it is over the bound.
async fn whole_body(
    cr: &mut (impl AsyncRead + Unpin),
    buf: &mut Vec<u8>,
    framing: Framing,
) -> Result<Option<(Vec<u8>, Vec<u8>)>, Refused> {
    match framing {
        Framing::None => Ok(Some((Vec::new(), Vec::new()))),
        Framing::Length(n) if n > MAX_CHECKED_BODY => Ok(None),
        Framing::Length(n) => {
            let n = usize::try_from(n).map_err(|_| Refused)?;
            while buf.len() < n {
                if fill(cr, buf).await? == 0 {
                    return Err(Refused);
                }
            }
            let raw: Vec<u8> = buf.drain(..n).collect();
            Ok(Some((raw.clone(), raw)))
        }
        Framing::Chunked => {
            let mut c = Chunked::default();
            let (mut raw, mut data) = (Vec::new(), Vec::new());
            loop {
                let step = c.feed(buf, Some(&mut data)).map_err(|_| Refused)?;
                raw.extend(buf.drain(..step.consumed));
                if step.done {
                    return Ok(Some((raw, data)));
                }
                if raw.len() as u64 > MAX_CHECKED_BODY + 65536 {
                    return Ok(None);
                }
                if fill(cr, buf).await? == 0 {
                    return Err(Refused);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::instance::Instance;
    use crate::local::{self, LocalEndpoint};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A TLS server standing in for dockerd (it requires the client certificate): it reads until
    /// the client half-closes (`until_eof`, like a hijacked stdin) or 5 bytes, then answers
    /// `echo:` and what it read.
    async fn tls_echo(i: &Instance, until_eof: bool) -> SocketAddr {
        let server_cfg = crate::tls::server_config(i).unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (s, _) = tcp.accept().await.unwrap();
                let acc = tokio_rustls::TlsAcceptor::from(server_cfg.clone());
                tokio::spawn(async move {
                    let Ok(mut s) = acc.accept(s).await else { return };
                    let mut buf = Vec::new();
                    if until_eof {
                        s.read_to_end(&mut buf).await.unwrap();
                    } else {
                        buf.resize(5, 0);
                        s.read_exact(&mut buf).await.unwrap();
                    }
                    s.write_all(b"echo:").await.unwrap();
                    s.write_all(&buf).await.unwrap();
                    s.shutdown().await.unwrap();
                });
            }
        });
        addr
    }

    fn instance(t: &tempfile::TempDir) -> Instance {
        let i = Instance::at(t.path().join("default"));
        i.ensure().unwrap();
        crate::tls::ensure(&i).unwrap();
        i
    }

    /// The engine endpoint of this OS (a named pipe on Windows, run under Wine in CI) to a
    /// mutual-TLS engine, several clients one after the other; the endpoint is gone after.
    #[tokio::test]
    async fn the_local_endpoint_reaches_the_tls_engine() {
        let t = tempfile::tempdir().unwrap();
        let i = instance(&t);
        let addr = tls_echo(&i, false).await;
        let endpoint = LocalEndpoint::for_path(&i.docker_socket());
        let listener = LocalListener::bind(&endpoint).unwrap();
        let up = Upstream { addr, tls: crate::tls::client_config(&i).unwrap() };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let h = tokio::spawn(serve(listener, up, Arc::default(), None, async {
            let _ = stop_rx.await;
        }));
        for word in [b"hello", b"world", b"gantr"] {
            let mut c = local::connect(&endpoint).await.unwrap();
            c.write_all(word).await.unwrap();
            let mut out = vec![0u8; 10];
            c.read_exact(&mut out).await.unwrap();
            assert_eq!(out, [&b"echo:"[..], word].concat());
        }
        stop_tx.send(()).unwrap();
        h.await.unwrap();
        assert!(local::connect(&endpoint).await.is_err());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn proxies_bytes_both_ways_with_half_close_and_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let i = instance(&t);
        let addr = tls_echo(&i, true).await;
        // stale socket file is replaced
        std::fs::write(i.docker_socket(), "stale").unwrap();
        let l = LocalListener::bind(&LocalEndpoint::Socket(i.docker_socket())).unwrap();
        assert_eq!(std::fs::metadata(i.docker_socket()).unwrap().permissions().mode() & 0o777, 0o600);
        let up = Upstream { addr, tls: crate::tls::client_config(&i).unwrap() };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let sock = i.docker_socket();
        let h = tokio::spawn(serve(l, up, Arc::default(), None, async {
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

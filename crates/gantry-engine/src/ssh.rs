//! Engines on other machines over SSH, the way the docker CLI reaches them: each connection is
//! the system's `ssh` running `docker system dial-stdio` on the remote host, so `~/.ssh/config`,
//! the agent and `known_hosts` apply as they do for `ssh` itself. Only argument vectors are built
//! (never a local shell string); host and user names that `ssh` could read as options are refused.

use std::ffi::OsString;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use hyper_util::client::legacy::connect::{Connected, Connection};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::error::{EngineError, Result};

/// The program started for each connection (found on `PATH`, like the docker CLI does).
pub const SSH_PROGRAM: &str = "ssh";
/// Seconds `ssh` may take to reach the host (the docker CLI uses the same option).
const SSH_CONNECT_TIMEOUT_SECS: u32 = 10;
/// How much of `ssh`'s error output is kept to explain a failed connection.
const STDERR_KEEP: usize = 2048;
/// Bytes moved from `ssh`'s output per read.
const READ_CHUNK: usize = 16 * 1024;

/// An SSH engine address: `ssh://[user@]host[:port][/path/to/remote/docker.sock]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// The engine socket on the remote host, when not the remote docker CLI's default.
    pub socket: Option<String>,
}

impl SshTarget {
    /// Parses `ssh://[user@]host[:port][/socket/path]` (the docker CLI's form).
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason: String| EngineError::InvalidEndpoint { endpoint: text.to_string(), reason };
        let rest = text
            .trim()
            .strip_prefix("ssh://")
            .ok_or_else(|| invalid("an SSH engine is written ssh://[user@]host[:port]".into()))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], Some(&rest[i..])),
            None => (rest, None),
        };
        if authority.contains(['?', '#']) || path.is_some_and(|p| p.contains(['?', '#'])) {
            return Err(invalid("an SSH address has no query or fragment".into()));
        }
        let (user, host_port) = match authority.rsplit_once('@') {
            Some((user, hp)) => (Some(user), hp),
            None => (None, authority),
        };
        let (host, port) = split_host_port(host_port).map_err(invalid)?;
        check_word("host", host).map_err(invalid)?;
        if let Some(user) = user {
            check_word("user", user).map_err(invalid)?;
        }
        let socket = match path.map(|p| p.trim_end_matches('/')).filter(|p| !p.is_empty()) {
            None => None,
            Some(p) if p.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c)) => Some(p.to_string()),
            Some(p) => {
                return Err(invalid(format!(
                    "the remote socket path {p:?} may contain only letters, digits and / . _ - (it is passed to the remote shell)"
                )));
            }
        };
        Ok(Self { user: user.map(str::to_string), host: host.to_string(), port, socket })
    }

    /// The arguments of the `ssh` command for one connection (the docker CLI's, plus no prompts:
    /// nobody can answer one, and the agent or a key file do the authentication).
    pub fn ssh_args(&self) -> Vec<OsString> {
        self.ssh_args_with(&[])
    }

    /// [`Self::ssh_args`] with more `ssh` options (connection sharing, `ssh_mux`) before the host.
    pub(crate) fn ssh_args_with(&self, options: &[OsString]) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "-T".into(),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            format!("ConnectTimeout={SSH_CONNECT_TIMEOUT_SECS}").into(),
        ];
        args.extend(options.iter().cloned());
        args.extend(self.destination_args());
        args.push("docker".into());
        if let Some(socket) = &self.socket {
            args.extend(["--host".into(), format!("unix://{socket}").into()]);
        }
        args.extend(["system".into(), "dial-stdio".into()]);
        args
    }

    /// `[-l user] [-p port] -- host`: who and where, the host after the end of options.
    pub(crate) fn destination_args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        if let Some(user) = &self.user {
            args.extend(["-l".into(), user.into()]);
        }
        if let Some(port) = self.port {
            args.extend(["-p".into(), port.to_string().into()]);
        }
        args.extend(["--".into(), self.host.clone().into()]);
        args
    }

    /// The `ssh` command line as a person would type it (for messages and docs).
    pub fn command_line(&self) -> String {
        let args: Vec<String> = self.ssh_args().iter().map(|a| a.to_string_lossy().into_owned()).collect();
        format!("{SSH_PROGRAM} {}", args.join(" "))
    }
}

impl std::fmt::Display for SshTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ssh://")?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        if let Some(socket) = &self.socket {
            f.write_str(socket)?;
        }
        Ok(())
    }
}

fn split_host_port(text: &str) -> std::result::Result<(&str, Option<u16>), String> {
    let bad_port = |p: &str| format!("{p:?} is not a port number from 1 to 65535");
    let parse_port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| bad_port(p));
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("an IPv6 address needs its closing ]")?;
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(parse_port(port)?))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(format!("unexpected {after:?} after the address")),
        };
    }
    match text.split_once(':') {
        Some((host, port)) => Ok((host, Some(parse_port(port)?))),
        None => Ok((text, None)),
    }
}

/// A host or user name `ssh` takes as a plain word: not empty, not an option (`-oProxyCommand=`),
/// no spaces, quotes or control characters.
fn check_word(what: &str, word: &str) -> std::result::Result<(), String> {
    if word.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if word.starts_with('-') {
        return Err(format!("the {what} {word:?} starts with '-', which ssh would read as an option"));
    }
    if let Some(c) = word.chars().find(|c| c.is_whitespace() || c.is_control() || "'\"`$;&|<>\\".contains(*c)) {
        return Err(format!("the {what} {word:?} contains {c:?}"));
    }
    Ok(())
}

/// Opens connections to an [`SshTarget`] for hyper's client: one `ssh` process per connection,
/// all of them sharing one SSH connection where `ssh_mux` can arrange it. From the second
/// connection on, one more is started ahead of need, so that a new long stream (a followed log,
/// an exec) does not wait for `ssh` and the remote `docker` to start.
#[derive(Clone, Debug)]
pub(crate) struct SshConnector {
    target: Arc<SshTarget>,
    /// The sharing options, decided before the first connection.
    sharing: Arc<tokio::sync::OnceCell<Vec<OsString>>>,
    /// The connection started ahead of need.
    spare: Arc<Mutex<Option<SshStream>>>,
    /// Whether a connection was made before (the first one may still be making the shared SSH
    /// connection, which a spare started beside it could not use).
    started: Arc<std::sync::atomic::AtomicBool>,
}

impl SshConnector {
    pub(crate) fn new(target: SshTarget) -> Self {
        Self { target: Arc::new(target), sharing: Arc::default(), spare: Arc::default(), started: Arc::default() }
    }

    /// A connection: the spare if it still runs, else a new one; then a new spare.
    fn connect(&self, options: &[OsString]) -> io::Result<SshStream> {
        let spare = self.spare.lock().ok().and_then(|mut s| s.take()).and_then(|mut s| s.is_alive().then_some(s));
        let stream = match spare {
            Some(stream) => stream,
            None => self.spawn(options)?,
        };
        if self.started.swap(true, std::sync::atomic::Ordering::SeqCst) {
            match self.spawn(options) {
                Ok(next) => {
                    if let Ok(mut slot) = self.spare.lock() {
                        *slot = Some(next);
                    }
                }
                Err(e) => tracing::debug!("no spare SSH connection: {e}"),
            }
        }
        Ok(stream)
    }

    fn spawn(&self, options: &[OsString]) -> io::Result<SshStream> {
        let mut command = Command::new(SSH_PROGRAM);
        command
            .args(self.target.ssh_args_with(options))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| {
            io::Error::new(e.kind(), format!("cannot start `{SSH_PROGRAM}` ({e}); install the OpenSSH client"))
        })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(io::Error::other("ssh started without its pipes"));
        };
        let failure = Arc::new(Mutex::new(None));
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let watcher = tokio::spawn(watch_child(child, Arc::clone(&failure), done_tx));
        Ok(SshStream { stdin: Some(stdin), stdout, failure, exited: Some(done_rx), _watcher: WatcherGuard(watcher) })
    }
}

impl tower_service::Service<hyper::Uri> for SshConnector {
    type Response = SshStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<SshStream>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let connector = self.clone();
        Box::pin(async move {
            let options = connector.sharing.get_or_init(|| crate::ssh_mux::options(&connector.target)).await;
            connector.connect(options)
        })
    }
}

/// Keeps `ssh`'s error output and reports how it ended; owns the child, so aborting this task
/// (when the connection is dropped) kills `ssh`.
async fn watch_child(mut child: Child, failure: Arc<Mutex<Option<String>>>, done: tokio::sync::oneshot::Sender<()>) {
    let mut stderr_text = Vec::new();
    if let Some(mut stderr) = child.stderr.take() {
        let mut buf = [0u8; 512];
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0 {
                break;
            }
            stderr_text.extend_from_slice(&buf[..n]);
            if stderr_text.len() > STDERR_KEEP {
                stderr_text.drain(..stderr_text.len() - STDERR_KEEP);
            }
        }
    }
    let status = child.wait().await;
    let text = String::from_utf8_lossy(&stderr_text).trim().to_string();
    let reason = match status {
        Ok(s) if s.success() => None,
        Ok(s) if text.is_empty() => Some(format!("ssh ended ({s})")),
        Ok(_) => Some(format!("ssh: {}", explain_ssh_error(&text))),
        Err(e) => Some(format!("ssh: {e}")),
    };
    if let Ok(mut slot) = failure.lock() {
        *slot = reason;
    }
    let _ = done.send(());
}

/// `ssh`'s message with what to do for the failures people meet first.
pub fn explain_ssh_error(stderr: &str) -> String {
    let lower = stderr.to_ascii_lowercase();
    let advice = if lower.contains("host key verification failed") {
        " (the host is not in known_hosts, or its key changed: connect once with `ssh HOST` in a terminal and check the fingerprint)"
    } else if lower.contains("permission denied") {
        " (no key was accepted: add your key to the agent with `ssh-add`, or name it with IdentityFile in ~/.ssh/config; Gantry cannot answer password prompts)"
    } else if lower.contains("docker: command not found") || lower.contains("docker: not found") {
        " (the remote host has no `docker` command on the PATH of a non-interactive login)"
    } else if lower.contains("cannot connect to the docker daemon") {
        " (the remote host's Docker engine is not running, or this user may not use it)"
    } else {
        ""
    };
    let last_lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).rev().take(3).collect();
    let mut text: Vec<&str> = last_lines.into_iter().rev().collect();
    if text.is_empty() {
        text.push(stderr);
    }
    format!("{}{advice}", text.join(" / "))
}

struct WatcherGuard(tokio::task::JoinHandle<()>);

impl Drop for WatcherGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One connection: `ssh`'s stdin and stdout as a byte stream. At the end of the output, the
/// reason `ssh` failed (if it did) becomes the read error, so "Permission denied (publickey)"
/// reaches the user instead of "connection closed".
pub(crate) struct SshStream {
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    failure: Arc<Mutex<Option<String>>>,
    exited: Option<tokio::sync::oneshot::Receiver<()>>,
    _watcher: WatcherGuard,
}

impl SshStream {
    /// Whether `ssh` still runs (a spare that ended while it waited is not handed out).
    fn is_alive(&mut self) -> bool {
        self.exited
            .as_mut()
            .is_some_and(|exited| matches!(exited.try_recv(), Err(tokio::sync::oneshot::error::TryRecvError::Empty)))
    }
}

impl hyper::rt::Read for SshStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let room = buf.remaining().min(READ_CHUNK);
        if room == 0 {
            return Poll::Ready(Ok(()));
        }
        // Read through a local buffer so that the end of the output can be told apart.
        let mut local = [0u8; READ_CHUNK];
        let mut chunk = tokio::io::ReadBuf::new(&mut local[..room]);
        ready!(Pin::new(&mut this.stdout).poll_read(cx, &mut chunk))?;
        if !chunk.filled().is_empty() {
            buf.put_slice(chunk.filled());
            return Poll::Ready(Ok(()));
        }
        // End of output: wait for ssh to exit and say why, if it failed.
        if let Some(exited) = this.exited.as_mut() {
            let _ = ready!(Pin::new(exited).poll(cx));
            this.exited = None;
        }
        match this.failure.lock().ok().and_then(|f| f.clone()) {
            Some(reason) => Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionAborted, reason))),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl hyper::rt::Write for SshStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut().stdin.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_write(cx, data),
            None => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stdin.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(stdin) = this.stdin.as_mut() {
            ready!(Pin::new(stdin).poll_shutdown(cx))?;
        }
        // Closing ssh's stdin ends the input half of the remote dial-stdio.
        this.stdin = None;
        Poll::Ready(Ok(()))
    }
}

impl Connection for SshStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl std::fmt::Debug for SshStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshStream").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(t: &SshTarget) -> Vec<String> {
        t.ssh_args().iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn parses_the_docker_cli_forms() {
        let t = SshTarget::parse("ssh://me@build.example:2222").ok();
        assert_eq!(
            t,
            Some(SshTarget { user: Some("me".into()), host: "build.example".into(), port: Some(2222), socket: None })
        );
        let t = SshTarget::parse("ssh://box").ok();
        assert_eq!(t, Some(SshTarget { user: None, host: "box".into(), port: None, socket: None }));
        let t = SshTarget::parse("ssh://me@[::1]:22/run/user/1000/docker.sock").ok();
        assert_eq!(
            t,
            Some(SshTarget {
                user: Some("me".into()),
                host: "::1".into(),
                port: Some(22),
                socket: Some("/run/user/1000/docker.sock".into())
            })
        );
        for text in ["ssh://me@build.example:2222", "ssh://box", "ssh://me@[::1]:22/run/docker.sock"] {
            assert_eq!(SshTarget::parse(text).map(|t| t.to_string()).ok().as_deref(), Some(text));
        }
    }

    #[test]
    fn refuses_what_ssh_would_read_as_options_or_a_shell_would_expand() {
        for bad in [
            "ssh://-oProxyCommand=touch /tmp/x",
            "ssh://-oProxyCommand=x",
            "ssh://me@-p1",
            "ssh://-l@host",
            "ssh://",
            "ssh://@host",
            "ssh://host:0",
            "ssh://host:99999",
            "ssh://host:x",
            "ssh://ho st",
            "ssh://host/run/$(id).sock",
            "ssh://host/run/a;b",
            "ssh://host?x=1",
            "ssh://h`id`",
            "tcp://host:22",
        ] {
            assert!(SshTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_host_comes_after_the_end_of_options() {
        let t = SshTarget::parse("ssh://me@host:2222/run/docker.sock").expect("parses");
        let a = args(&t);
        let dashdash = a.iter().position(|x| x == "--").expect("--");
        assert_eq!(a[dashdash + 1], "host");
        assert_eq!(&a[dashdash + 2..], ["docker", "--host", "unix:///run/docker.sock", "system", "dial-stdio"]);
        assert!(a[..dashdash].windows(2).any(|w| w == ["-l", "me"]));
        assert!(a[..dashdash].windows(2).any(|w| w == ["-p", "2222"]));
        assert!(a.contains(&"BatchMode=yes".to_string()));
    }

    #[test]
    fn ssh_errors_say_what_to_do() {
        assert!(explain_ssh_error("Host key verification failed.").contains("known_hosts"));
        assert!(explain_ssh_error("me@h: Permission denied (publickey).").contains("ssh-add"));
        let e = explain_ssh_error("bash: line 1: docker: command not found");
        assert!(e.contains("no `docker` command"), "{e}");
        assert_eq!(explain_ssh_error("a\n\nb\nc\nd"), "b / c / d");
    }
}

//! One host terminal: the shell in a PTY (openpty on Unix, ConPTY on Windows, through
//! `portable-pty`), its output as chunks of bytes, its input, its size — and its end: when the
//! session is dropped (the panel left, the window closed) or the shell exits, the shell and every
//! program it started in its session end too.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize};
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;

use super::plan::{EnvChange, ShellProgram};

/// How long a shell has to exit after its hang-up before it is killed.
pub const HANG_UP_GRACE: Duration = Duration::from_millis(1500);
/// How often the supervisor looks whether the shell exited.
const POLL: Duration = Duration::from_millis(100);

/// Everything a session is started with, all chosen by Gantry ([`super::plan`]).
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    pub program: ShellProgram,
    pub env: Vec<EnvChange>,
    pub dir: PathBuf,
    pub rows: u16,
    pub cols: u16,
}

type SharedMaster = Arc<Mutex<Option<Box<dyn MasterPty + Send>>>>;

/// A running host terminal. Dropping it ends the shell and what it started.
pub struct HostSession {
    master: SharedMaster,
    pid: Option<u32>,
    /// Dropped (with the session) to tell the supervisor to end the shell.
    close: Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

impl std::fmt::Debug for HostSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostSession").field("pid", &self.pid).finish_non_exhaustive()
    }
}

/// A started session with its output (chunks of bytes, ending when the terminal does) and its
/// input.
pub struct Spawned {
    pub session: HostSession,
    pub output: mpsc::Receiver<Vec<u8>>,
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

impl std::fmt::Debug for Spawned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spawned").field("session", &self.session).finish_non_exhaustive()
    }
}

/// `portable-pty`'s errors (`anyhow`) as I/O errors saying what failed.
fn pty_error<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> std::io::Error {
    move |e| std::io::Error::other(format!("cannot {what}: {e}"))
}

impl HostSession {
    /// Opens a PTY of `spec.rows` × `spec.cols` and starts the shell in it.
    pub fn spawn(spec: SpawnSpec) -> std::io::Result<Spawned> {
        let size = PtySize { rows: spec.rows, cols: spec.cols, pixel_width: 0, pixel_height: 0 };
        let pair = portable_pty::native_pty_system().openpty(size).map_err(pty_error("open a PTY"))?;
        let child = pair.slave.spawn_command(command(&spec)).map_err(pty_error("start the shell"))?;
        // Only the shell (and what it starts) keeps the terminal's other end open, so reading
        // ends once they are gone.
        drop(pair.slave);
        let reader = pair.master.try_clone_reader().map_err(pty_error("read the PTY"))?;
        let writer = pair.master.take_writer().map_err(pty_error("write to the PTY"))?;
        let pid = child.process_id();
        let master: SharedMaster = Arc::new(Mutex::new(Some(pair.master)));
        let (close_tx, close_rx) = std::sync::mpsc::channel();
        let (out_tx, output) = mpsc::channel(64);
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let name = |what: &str| format!("host-terminal-{what}");
        std::thread::Builder::new().name(name("read")).spawn(move || read_output(reader, &out_tx))?;
        std::thread::Builder::new().name(name("write")).spawn(move || write_input(writer, in_rx))?;
        let supervised = Arc::clone(&master);
        std::thread::Builder::new().name(name("supervise")).spawn(move || supervise(child, &supervised, &close_rx))?;
        tracing::info!(pid, program = %spec.program.path.display(), dir = %spec.dir.display(), "host terminal started");
        let session = Self { master, pid, close: Mutex::new(Some(close_tx)) };
        Ok(Spawned { session, output, input: Box::pin(ChannelWriter(in_tx)) })
    }

    /// The shell's process id (its process group and session on Unix).
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Tells the terminal (and so the shell) its new size.
    pub fn resize(&self, rows: u16, cols: u16) -> std::io::Result<()> {
        let guard = self.master.lock().map_err(|_| std::io::Error::other("the terminal's lock is poisoned"))?;
        let master = guard.as_ref().ok_or_else(|| std::io::Error::other("the terminal has ended"))?;
        master.resize(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }).map_err(pty_error("resize the PTY"))
    }
}

impl Drop for HostSession {
    fn drop(&mut self) {
        // The supervisor hangs up and, after the grace time, kills. Only it signals the shell:
        // it alone reaps it, so its process id is never one the system gave to another program
        // meanwhile. (Should this process exit first, closing the PTY hangs up the shell too.)
        if let Ok(mut close) = self.close.lock() {
            close.take();
        }
    }
}

fn command(spec: &SpawnSpec) -> CommandBuilder {
    // On Unix the default program is `$SHELL` as a login shell (argv0 `-name`): SHELL is set to
    // the chosen shell, which has no arguments.
    let mut cmd = if cfg!(unix) && spec.program.args.is_empty() {
        let mut cmd = CommandBuilder::new_default_prog();
        cmd.env("SHELL", &spec.program.path);
        cmd
    } else {
        let mut cmd = CommandBuilder::new(&spec.program.path);
        cmd.args(&spec.program.args);
        cmd
    };
    for change in &spec.env {
        match change {
            EnvChange::Set(key, value) => cmd.env(key, value),
            EnvChange::Remove(key) => cmd.env_remove(key),
        }
    }
    cmd.cwd(&spec.dir);
    cmd
}

fn read_output(mut reader: Box<dyn Read + Send>, out: &mpsc::Sender<Vec<u8>>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if out.blocking_send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // EIO on Linux: the shell's side closed.
            Err(_) => break,
        }
    }
}

fn write_input(mut writer: Box<dyn Write + Send>, mut input: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(bytes) = input.blocking_recv() {
        if writer.write_all(&bytes).and_then(|()| writer.flush()).is_err() {
            break;
        }
    }
}

/// Owns the shell: waits for it to exit or for the session to close; on close hangs up, waits
/// [`HANG_UP_GRACE`], then kills. Afterwards ends what the shell left in its
/// session and closes the PTY, so the output ends.
fn supervise(mut child: Box<dyn Child + Send + Sync>, master: &SharedMaster, close: &std::sync::mpsc::Receiver<()>) {
    let pid = child.process_id();
    loop {
        match child.try_wait() {
            Ok(None) => {}
            Ok(Some(status)) => {
                tracing::info!(pid, code = status.exit_code(), "host terminal's shell exited");
                break;
            }
            Err(e) => {
                tracing::warn!(pid, "cannot wait for the host terminal's shell: {e}");
                break;
            }
        }
        match close.recv_timeout(POLL) {
            Err(RecvTimeoutError::Timeout) => continue,
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                end_shell(&mut *child, pid);
                break;
            }
        }
    }
    #[cfg(unix)]
    if let Some(pid) = pid {
        super::reap::end_session(pid, HANG_UP_GRACE);
    }
    // On Windows closing the pseudo console ends the programs attached to it, and the output.
    if let Ok(mut m) = master.lock() {
        m.take();
    }
}

/// The session closed: the shell's process group gets SIGHUP (as when a terminal window closes),
/// the grace time, then SIGKILL. (On Windows: the shell is terminated.)
fn end_shell(child: &mut (dyn Child + Send + Sync), pid: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = pid {
        super::reap::hang_up_group(pid);
    }
    #[cfg(not(unix))]
    {
        let _ = child.kill();
    }
    let deadline = Instant::now() + HANG_UP_GRACE;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    tracing::info!(pid, "host terminal's shell ignored its hang-up: killing it");
    #[cfg(unix)]
    if let Some(pid) = pid {
        super::reap::kill_group(pid);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Input typed into the terminal, handed to the writer thread (a PTY write can block).
struct ChannelWriter(mpsc::UnboundedSender<Vec<u8>>);

impl AsyncWrite for ChannelWriter {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Poll::Ready(match self.0.send(buf.to_vec()) {
            Ok(()) => Ok(buf.len()),
            Err(_) => Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the terminal has ended")),
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

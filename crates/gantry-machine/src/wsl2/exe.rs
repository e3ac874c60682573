//! Running `wsl.exe`: the thin OS layer. [`WslExe`] is what the driver needs from it (a command
//! with its output; a long-running keep-alive process with input and output lines), so the
//! tests put a fake in its place (wsl.exe cannot run on Linux or under Wine).

use std::ffi::OsString;
use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// What a finished `wsl.exe` run printed.
#[derive(Debug, Clone, Default)]
pub struct RawOutput {
    /// `None`: ended by a signal.
    pub exit: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// A keep-alive process: its output lines (decoded) and its input, which the guest reads until
/// it closes.
pub struct KeepAlive {
    pub lines: mpsc::Receiver<String>,
    input: Option<Box<dyn tokio::io::AsyncWrite + Send + Sync + Unpin>>,
    child: Option<tokio::process::Child>,
}

impl KeepAlive {
    /// A keep-alive from its parts (fakes in tests).
    pub fn from_parts(
        lines: mpsc::Receiver<String>,
        input: Box<dyn tokio::io::AsyncWrite + Send + Sync + Unpin>,
    ) -> Self {
        Self { lines, input: Some(input), child: None }
    }

    /// Closes its input: the guest stops what it runs, then the process ends.
    pub async fn close_input(&mut self) {
        if let Some(mut input) = self.input.take() {
            let _ = input.shutdown().await;
        }
    }

    /// The `wsl.exe` process's id (`None` for a fake, or once it was reaped).
    pub fn id(&self) -> Option<u32> {
        self.child.as_ref().and_then(tokio::process::Child::id)
    }

    /// Whether the process ended (a fake: its output ended).
    pub fn exited(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => !matches!(child.try_wait(), Ok(None)),
            None => self.lines.is_closed() && self.lines.is_empty(),
        }
    }

    /// Ends the `wsl.exe` process itself (after `--terminate`, or when it does not end).
    pub async fn kill(&mut self) {
        self.close_input().await;
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill().await;
        }
    }
}

/// How the driver runs `wsl.exe`.
pub trait WslExe: Send + Sync {
    /// Runs `wsl.exe ARGS` to its end.
    fn run(&self, args: Vec<OsString>) -> impl Future<Output = std::io::Result<RawOutput>> + Send;
    /// Starts `wsl.exe ARGS`, writes `input` to it (its input stays open) and streams its output.
    fn keep_alive(
        &self,
        args: Vec<OsString>,
        input: Vec<u8>,
    ) -> impl Future<Output = std::io::Result<KeepAlive>> + Send;
}

/// The real `wsl.exe` (or another program standing in for it).
#[derive(Debug, Clone)]
pub struct SystemWsl {
    program: PathBuf,
}

impl Default for SystemWsl {
    /// `%SystemRoot%\System32\wsl.exe`, by full path so that no `wsl.exe` elsewhere on PATH runs.
    fn default() -> Self {
        let root = std::env::var_os("SystemRoot").unwrap_or_else(|| r"C:\Windows".into());
        Self { program: PathBuf::from(root).join("System32").join("wsl.exe") }
    }
}

impl SystemWsl {
    /// Another program in place of wsl.exe.
    pub fn program(program: impl Into<PathBuf>) -> Self {
        Self { program: program.into() }
    }

    fn command(&self, args: &[OsString]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(&self.program);
        // UTF-8 where wsl.exe supports it; decode() also reads UTF-16LE where it does not
        c.args(args).env("WSL_UTF8", "1").stdin(Stdio::null()).kill_on_drop(true);
        #[cfg(windows)]
        {
            /// No console window flashing up for each call.
            const CREATE_NO_WINDOW: u32 = 0x0800_0000;
            c.creation_flags(CREATE_NO_WINDOW);
        }
        c
    }
}

impl WslExe for SystemWsl {
    async fn run(&self, args: Vec<OsString>) -> std::io::Result<RawOutput> {
        let out = self.command(&args).output().await?;
        Ok(RawOutput { exit: out.status.code(), stdout: out.stdout, stderr: out.stderr })
    }

    async fn keep_alive(&self, args: Vec<OsString>, input: Vec<u8>) -> std::io::Result<KeepAlive> {
        let mut child =
            self.command(&args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        let mut stdin = child.stdin.take().ok_or_else(|| std::io::Error::other("no stdin"))?;
        stdin.write_all(&input).await?;
        stdin.flush().await?;
        let (tx, lines) = mpsc::channel(64);
        for out in [
            child.stdout.take().map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child.stderr.take().map(|e| Box::new(e) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(out);
                let mut line = Vec::new();
                while reader.read_until(b'\n', &mut line).await.is_ok_and(|n| n > 0) {
                    let text = super::output::decode(&line);
                    line.clear();
                    if tx.send(text.trim_end().to_owned()).await.is_err() {
                        break;
                    }
                }
            });
        }
        Ok(KeepAlive { lines, input: Some(Box::new(stdin)), child: Some(child) })
    }
}

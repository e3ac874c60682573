//! Running commands in a container: captured, or interactive with stdin/stdout and resize.

use std::pin::Pin;

use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWrite;

use crate::Engine;
use crate::error::{EngineError, ResourceKind, Result};
use crate::logs::{OutputStream, split_output};
use crate::stream::EngineStream;

/// A command to run in a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct ExecSpec {
    pub cmd: Vec<String>,
    /// Allocate a terminal (output arrives as `Console`, stdout and stderr merged).
    pub tty: bool,
    /// Attach stdin so the caller can type into the command.
    pub stdin: bool,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub privileged: bool,
}

/// A chunk of output from an exec session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecChunk {
    pub stream: OutputStream,
    pub bytes: bytes::Bytes,
}

/// A running, attached exec session.
pub struct ExecSession {
    /// The exec ID, for [`Engine::resize_exec`] and [`Engine::exec_exit_code`].
    pub id: String,
    /// Output chunks; ends when the command exits. Dropping it detaches.
    pub output: EngineStream<ExecChunk>,
    /// The command's stdin (closed when dropped).
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

impl std::fmt::Debug for ExecSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecSession").field("id", &self.id).finish_non_exhaustive()
    }
}

/// The captured result of a finished command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl Engine {
    /// Starts `spec` in container `id` and attaches to it.
    pub async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<ExecSession> {
        if spec.cmd.is_empty() {
            return Err(EngineError::InvalidRequest { message: "exec needs a command".into() });
        }
        let config = CreateExecOptions::<String> {
            cmd: Some(spec.cmd.clone()),
            tty: Some(spec.tty),
            attach_stdin: Some(spec.stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            env: (!spec.env.is_empty()).then(|| spec.env.clone()),
            working_dir: spec.working_dir.clone(),
            user: spec.user.clone(),
            privileged: Some(spec.privileged),
            ..Default::default()
        };
        let created =
            self.docker.create_exec(id, config).await.map_err(|e| self.err(e, ResourceKind::Container, id))?;
        let started = self
            .docker
            .start_exec(
                &created.id,
                Some(StartExecOptions { detach: false, tty: spec.tty, output_capacity: Some(64 * 1024) }),
            )
            .await
            .map_err(|e| self.err(e, ResourceKind::Exec, &created.id))?;
        match started {
            StartExecResults::Attached { output, input } => {
                let engine = self.clone();
                let exec_id = created.id.clone();
                let output = output.map(move |r| {
                    r.map(|o| {
                        let (stream, bytes) = split_output(o);
                        ExecChunk { stream, bytes }
                    })
                    .map_err(|e| engine.err(e, ResourceKind::Exec, &exec_id))
                });
                Ok(ExecSession { id: created.id, output: Box::pin(output), input })
            }
            StartExecResults::Detached => Err(EngineError::Protocol { message: "exec started detached".into() }),
        }
    }

    /// Runs a command to completion and captures its output and exit code.
    pub async fn exec_output(&self, id: &str, cmd: &[&str]) -> Result<ExecOutput> {
        let spec = ExecSpec { cmd: cmd.iter().map(|s| s.to_string()).collect(), ..Default::default() };
        let mut session = self.exec(id, &spec).await?;
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        while let Some(chunk) = session.output.next().await {
            let chunk = chunk?;
            match chunk.stream {
                OutputStream::Stderr => stderr.extend_from_slice(&chunk.bytes),
                _ => stdout.extend_from_slice(&chunk.bytes),
            }
        }
        let exit_code = self.exec_exit_code(&session.id).await?.unwrap_or(-1);
        Ok(ExecOutput {
            exit_code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    /// Tells the exec session's terminal its new size.
    pub async fn resize_exec(&self, exec_id: &str, rows: u16, cols: u16) -> Result<()> {
        self.docker
            .resize_exec(exec_id, ResizeExecOptions { height: rows, width: cols })
            .await
            .map_err(|e| self.err(e, ResourceKind::Exec, exec_id))
    }

    /// The exit code, once the command has finished (`None` while it runs).
    pub async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>> {
        let info = self.docker.inspect_exec(exec_id).await.map_err(|e| self.err(e, ResourceKind::Exec, exec_id))?;
        Ok(if info.running.unwrap_or(false) { None } else { info.exit_code })
    }
}

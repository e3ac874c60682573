//! A shell in a container: `/bin/sh` with a TTY, its output as a text stream, keystrokes and
//! size changes sent back. The host terminal ([`super::host_terminal`]) shares the input and
//! resize commands.

use futures_util::StreamExt;
use gantry_engine::ExecSpec;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::error::{ApiError, ApiResult, GantryErrorCode};
use super::streams::TerminalControl;
use super::{Gantry, StreamMsg};

/// Output of a terminal session, as text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TerminalOutput {
    pub data: String,
}

/// A request to open a terminal in a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct TerminalRequest {
    pub container: String,
    /// Empty = `/bin/sh`.
    pub command: Vec<String>,
    pub rows: u16,
    pub cols: u16,
}

impl Gantry {
    /// Opens a terminal (`/bin/sh` with a TTY) in a container; output goes to `sink`.
    pub async fn terminal_open(
        &self,
        request: TerminalRequest,
        sink: impl Fn(StreamMsg<TerminalOutput>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        let cmd = if request.command.is_empty() { vec!["/bin/sh".to_string()] } else { request.command };
        let spec =
            ExecSpec { cmd, tty: true, stdin: true, env: vec!["TERM=xterm-256color".into()], ..Default::default() };
        let session = engine.exec(&request.container, &spec).await?;
        if request.rows > 0 && request.cols > 0 {
            // The exec may not be running yet; a failed first resize is harmless.
            let _ = engine.resize_exec(&session.id, request.rows, request.cols).await;
        }
        let mut decoder = gantry_engine::Utf8Decoder::default();
        let text = session.output.map(move |r| r.map(|chunk| TerminalOutput { data: decoder.push(&chunk.bytes) }));
        Ok(self.streams.forward_terminal(Box::pin(text), TerminalControl::Exec(session.id), session.input, sink))
    }

    /// Types `data` into terminal `id`.
    pub async fn terminal_input(&self, id: u64, data: String) -> ApiResult<()> {
        let (_, input) = self.streams.input(id).ok_or_else(terminal_gone)?;
        let mut w = input.lock().await;
        let lost = |e: std::io::Error| {
            ApiError::new(
                GantryErrorCode::TerminalClosed,
                format!("The terminal stopped taking input: {e}."),
                "Open the terminal again.",
            )
        };
        w.write_all(data.as_bytes()).await.map_err(lost)?;
        w.flush().await.map_err(lost)
    }

    /// Tells terminal `id` (in a container or the host terminal) its new size.
    pub async fn terminal_resize(&self, id: u64, rows: u16, cols: u16) -> ApiResult<()> {
        match self.streams.input(id).ok_or_else(terminal_gone)?.0 {
            TerminalControl::Exec(exec_id) => Ok(self.engine().await?.resize_exec(&exec_id, rows, cols).await?),
            TerminalControl::Host(session) => super::host_terminal::resize(&session, rows, cols),
        }
    }
}

pub(super) fn terminal_gone() -> ApiError {
    ApiError::new(GantryErrorCode::TerminalClosed, "This terminal session has ended.", "Open a new terminal.")
}

//! The Learn panel's terminal on this computer, off unless turned on in Settings: the learner's
//! own shell in a PTY, with `docker` pointed at the app's engine and the lab's work folder as
//! its folder. Gantry chooses the program, its arguments, environment and folder
//! ([`crate::host_terminal::plan`]); the webview gives only the size. Output, input and size
//! changes go the container terminal's way (`terminal_input`, `terminal_resize`,
//! `stream_cancel`); one at a time per app, ended with the window.

use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult, FieldError, GantryErrorCode};
use super::streams::TerminalControl;
use super::{Gantry, StreamMsg, TerminalOutput};
use crate::host_terminal::{self as host, HostSession, SpawnSpec};
use crate::settings::{self, Settings};

/// What the webview may ask of the host terminal: its size, nothing else (any other field is
/// refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct HostTerminalRequest {
    pub rows: u16,
    pub cols: u16,
}

/// The app's host terminal (its stream id) and the lab whose work folder it starts in.
#[derive(Debug, Default)]
pub(super) struct HostTerminalSlot {
    stream: Mutex<Option<u64>>,
    lab: Mutex<Option<String>>,
}

impl HostTerminalSlot {
    /// Notes the lab the Learn panel shows (its work folder is where the next terminal starts).
    pub(super) fn follow_lab(&self, id: &str) {
        if let Ok(mut lab) = self.lab.lock() {
            *lab = Some(id.to_string());
        }
    }
}

/// The error when the setting is off: what it is and where to turn it on.
pub fn host_terminal_off() -> ApiError {
    ApiError::new(
        GantryErrorCode::HostTerminalOff,
        "The terminal in the app is turned off: it runs your shell on this computer, so it is off until you turn it on.",
        "Turn it on in Settings → App (\"A terminal in the app: it runs your shell on this computer\"), or type the commands in any terminal after `docker context use gantry`.",
    )
}

fn size_error(message: String) -> ApiError {
    ApiError::invalid(vec![FieldError {
        field: "size".into(),
        message,
        hint: "Open the terminal again; the window may be too small to show it.".into(),
    }])
}

/// Resizes the host terminal (sizes outside [`host::plan::SIZE_LIMITS`] are refused).
pub(super) fn resize(session: &HostSession, rows: u16, cols: u16) -> ApiResult<()> {
    host::check_size(rows, cols).map_err(size_error)?;
    session.resize(rows, cols).map_err(|e| {
        ApiError::new(
            GantryErrorCode::TerminalClosed,
            format!("The terminal cannot be resized: {e}."),
            "Open it again.",
        )
    })
}

impl Gantry {
    /// Opens the host terminal (when the setting is on): the learner's shell, `docker` pointed
    /// at the app's engine, in the work folder of the lab the Learn panel shows (else the home
    /// folder). A terminal this app had open before ends. Output goes to `sink`.
    pub async fn host_terminal_open(
        &self,
        request: HostTerminalRequest,
        sink: impl Fn(StreamMsg<TerminalOutput>) + Send + 'static,
    ) -> ApiResult<u64> {
        let settings = settings::load(&self.settings_path)?;
        if !settings.ui.host_terminal {
            return Err(host_terminal_off());
        }
        host::check_size(request.rows, request.cols).map_err(size_error)?;
        self.host_terminal_close();
        let spec = self.host_terminal_spec(&settings, request);
        let spawned = HostSession::spawn(spec).map_err(|e| {
            ApiError::new(
                GantryErrorCode::HostTerminalFailed,
                format!("The terminal could not start your shell: {e}."),
                "Check that your shell ($SHELL) runs in a terminal outside Gantry, then open this one again.",
            )
        })?;
        let mut decoder = gantry_engine::Utf8Decoder::default();
        let output =
            futures_util::stream::unfold(spawned.output, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) })
                .map(move |bytes| Ok::<_, gantry_engine::EngineError>(TerminalOutput { data: decoder.push(&bytes) }));
        let id = self.streams.forward_terminal(
            Box::pin(output),
            TerminalControl::Host(Arc::new(spawned.session)),
            spawned.input,
            sink,
        );
        // Stopping the VM does not end the learner's shell.
        self.streams.engine_independent(id);
        if let Ok(mut slot) = self.host_terminal.stream.lock() {
            *slot = Some(id);
        }
        Ok(id)
    }

    /// Ends the host terminal this app has open, if any (its shell and what it started).
    pub fn host_terminal_close(&self) -> bool {
        let id = self.host_terminal.stream.lock().ok().and_then(|mut s| s.take());
        id.is_some_and(|id| self.streams.cancel(id))
    }

    fn host_terminal_spec(&self, settings: &Settings, request: HostTerminalRequest) -> SpawnSpec {
        let program = host::users_shell();
        let resolved = self.resolve_engine().ok();
        let gantry_context =
            gantry_engine::ContextStore::from_env().meta_path(crate::vm::context::CONTEXT_NAME).is_file();
        let target = host::docker_target(resolved.as_ref(), &settings.engine, gantry_context);
        let lab = self.host_terminal.lab.lock().ok().and_then(|l| l.clone());
        let work_dir = lab.and_then(|id| super::lab_progress_store().load(&id).ok().flatten()).map(|p| p.work_dir);
        let dir = host::choose_dir(work_dir.as_deref(), gantry_files::home_dir().as_deref(), std::path::Path::is_dir);
        SpawnSpec { program, env: host::shell_env(&target), dir, rows: request.rows, cols: request.cols }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_request_takes_the_size_and_nothing_else() {
        let ok: HostTerminalRequest = serde_json::from_str(r#"{"rows":24,"cols":80}"#).unwrap();
        assert_eq!(ok, HostTerminalRequest { rows: 24, cols: 80 });
        for extra in [
            r#""program":"/bin/bash""#,
            r#""command":["/bin/sh","-c","id"]"#,
            r#""args":["-c","id"]"#,
            r#""env":{"LD_PRELOAD":"/tmp/x.so"}"#,
            r#""cwd":"/""#,
            r#""container":"web""#,
        ] {
            let json = format!(r#"{{"rows":24,"cols":80,{extra}}}"#);
            let err = serde_json::from_str::<HostTerminalRequest>(&json).unwrap_err();
            assert!(err.to_string().contains("unknown field"), "{json}: {err}");
        }
        assert!(serde_json::from_str::<HostTerminalRequest>(r#"{"rows":24}"#).is_err(), "both numbers are needed");
        assert!(serde_json::from_str::<HostTerminalRequest>(r#"{"rows":-1,"cols":80}"#).is_err());
    }

    #[test]
    fn the_refusal_says_what_and_where_to_turn_it_on() {
        let e = host_terminal_off();
        assert_eq!(e.code, GantryErrorCode::HostTerminalOff);
        assert!(e.message.contains("your shell on this computer"), "{}", e.message);
        assert!(e.hint.contains("Settings → App"), "{}", e.hint);
    }
}

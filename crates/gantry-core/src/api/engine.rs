//! Which engine, whether it answers, and starting or stopping it (only Gantry's VM is started or
//! stopped by Gantry).

use std::sync::Arc;

use gantry_engine::{EngineErrorCode, EngineInfo, EngineVersion};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult, GantryErrorCode};
use super::{Gantry, StreamMsg, VmEvent};
use crate::engine_source::{Origin, ResolvedEngine};
use crate::vm::{self, VmStatus};

/// Which engine the app talks to and whether it answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EngineStatus {
    pub connected: bool,
    /// e.g. `unix:///run/docker.sock`; empty when no endpoint could be chosen.
    pub endpoint: String,
    /// Why this engine; `None` when no endpoint could be chosen.
    pub origin: Option<Origin>,
    pub version: Option<EngineVersion>,
    pub info: Option<EngineInfo>,
    /// Why it is not connected.
    pub error: Option<ApiError>,
    /// The VM's state, when the engine is Gantry's VM (its warnings, e.g. software emulation,
    /// while it runs).
    pub vm: Option<VmEvent>,
}

impl EngineStatus {
    /// Not connected: no engine answered (or none could be chosen), for `error`'s reason.
    pub fn down(resolved: Option<&ResolvedEngine>, error: ApiError) -> Self {
        Self {
            connected: false,
            endpoint: resolved.map(|r| r.endpoint.to_string()).unwrap_or_default(),
            origin: resolved.map(|r| r.origin),
            version: None,
            info: None,
            error: Some(error),
            vm: None,
        }
    }

    /// Connected to the engine `resolved` names, which answered with `version` and `info`.
    pub fn up(resolved: &ResolvedEngine, version: EngineVersion, info: EngineInfo) -> Self {
        Self {
            connected: true,
            endpoint: resolved.endpoint.to_string(),
            origin: Some(resolved.origin),
            version: Some(version),
            info: Some(info),
            error: None,
            vm: None,
        }
    }

    /// With the state of Gantry's VM.
    #[must_use]
    pub fn with_vm(mut self, status: VmStatus) -> Self {
        self.vm = Some(status.into());
        self
    }
}

impl Gantry {
    /// Which engine, whether it answers, its version and counts.
    pub async fn engine_status(&self) -> ApiResult<EngineStatus> {
        let resolved = match self.resolve_engine() {
            Ok(r) => r,
            Err(error) => return Ok(EngineStatus::down(None, error)),
        };
        let vm = match resolved.origin {
            Origin::GantryVm => Some(vm::status(&vm::Instance::default()).await),
            _ => None,
        };
        let status = match self.engine().await {
            Err(mut error) => {
                if vm.is_some() && error.code == EngineErrorCode::EngineUnreachable {
                    // said for both front ends: the app's button and the command
                    error.hint =
                        "Start Gantry's VM: the Start button on the Dashboard, or `gantry start` in a terminal.".into();
                }
                EngineStatus::down(Some(&resolved), error)
            }
            Ok(engine) => match tokio::join!(engine.version(), engine.info()) {
                (Ok(version), Ok(info)) => EngineStatus::up(&resolved, version, info),
                (Err(e), _) | (_, Err(e)) => {
                    self.disconnect().await;
                    EngineStatus::down(Some(&resolved), e.into())
                }
            },
        };
        Ok(match vm {
            Some(vm) => status.with_vm(vm),
            None => status,
        })
    }

    /// Connects again (after a VM start, or when the engine went away) and says how it went.
    pub async fn engine_reconnect(&self) -> ApiResult<EngineStatus> {
        self.disconnect().await;
        self.engine_status().await
    }

    /// Starts Gantry's VM and reports each step of the start-up chain to `sink` as it happens
    /// (step 3 of 9, ...), then `End` (or `Error`); connects once it runs. Returns the stream
    /// id. `not_managed` when the engine is not Gantry's VM.
    pub async fn engine_start(&self, sink: impl Fn(StreamMsg<VmEvent>) + Send + Sync + 'static) -> ApiResult<u64> {
        if !self.engine_is_gantry_vm() {
            return Err(ApiError::new(
                GantryErrorCode::NotManaged,
                "The engine is not Gantry's VM, so there is nothing for Gantry to start.",
                "Switch the engine to Gantry VM in Settings, or start your engine where it is installed.",
            ));
        }
        let this = self.clone();
        Ok(self.streams.spawn_task(move |id, token| async move {
            let sink = Arc::new(sink);
            sink(StreamMsg::Started { id });
            let progress = {
                let sink = Arc::clone(&sink);
                move |s: &VmStatus| sink(StreamMsg::Items { items: vec![VmEvent::from(s.clone())] })
            };
            let options = vm::StartOptions::default();
            let started = tokio::select! {
                r = vm::start(&options, progress) => Some(r),
                () = token.cancelled() => None,
            };
            match started {
                Some(Err(e)) => sink(StreamMsg::Error { error: e.into() }),
                Some(Ok(_)) => this.disconnect().await,
                None => {}
            }
            sink(StreamMsg::End);
        }))
    }

    /// Stops Gantry's VM; for an existing engine there is nothing Gantry may stop.
    pub async fn engine_stop(&self) -> ApiResult<EngineStatus> {
        if !self.engine_is_gantry_vm() {
            return Err(ApiError::new(
                GantryErrorCode::NotManaged,
                "This engine is not Gantry's VM, so Gantry does not stop it.",
                "Stop it where it was started, or switch the engine to Gantry VM in Settings.",
            ));
        }
        self.streams.cancel_engine_streams();
        vm::stop(&vm::Instance::default(), |_| {}).await?;
        self.engine_reconnect().await
    }
}

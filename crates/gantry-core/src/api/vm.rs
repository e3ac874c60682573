//! Gantry's VM followed live: the agent's status events as the UI receives them (structured: the
//! UI words them in its language; the CLI and the tray use `VmStatus::describe`).

use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult, GantryErrorCode};
use super::{Gantry, StreamMsg};
use crate::vm::{Step, VmStatus};

/// The VM as it runs: what the engine card shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VmRunning {
    /// `unix:///.../docker.sock`
    pub docker_host: String,
    /// `kvm`, `hvf`, `whpx` or `tcg`.
    pub accel: String,
    pub engine_version: String,
    /// e.g. software emulation in use.
    pub warnings: Vec<String>,
    /// Forwarded host ports, e.g. `tcp 127.0.0.1:8080`.
    pub forwarded_ports: Vec<String>,
}

impl From<crate::vm::RunningInfo> for VmRunning {
    fn from(i: crate::vm::RunningInfo) -> Self {
        Self {
            docker_host: i.docker_host,
            accel: i.accel,
            engine_version: i.engine_version,
            warnings: i.warnings,
            forwarded_ports: i
                .forwarded_ports
                .iter()
                .map(|p| format!("{:?} {}:{}", p.proto, p.bind, p.port).to_lowercase())
                .collect(),
        }
    }
}

/// One status event of Gantry's VM, as the agent reports it (see `watch_vm_status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VmEvent {
    /// Step `number` of `total` of the start-up chain (the UI says each step in its language).
    Starting {
        step: Step,
        number: u32,
        total: u32,
        detail: Option<String>,
    },
    Running {
        info: VmRunning,
    },
    /// Running, with problems (e.g. a published host port already in use).
    Degraded {
        reasons: Vec<String>,
        info: VmRunning,
    },
    Stopping,
    Stopped,
    /// A failed start, or the VM went away unexpectedly.
    Error {
        message: String,
        hint: String,
    },
}

impl From<crate::vm::VmStatus> for VmEvent {
    fn from(s: crate::vm::VmStatus) -> Self {
        use crate::vm::VmStatus as S;
        match s {
            S::Starting { step, number, total, detail } => Self::Starting {
                step,
                number: u32::try_from(number).unwrap_or(u32::MAX),
                total: u32::try_from(total).unwrap_or(u32::MAX),
                detail,
            },
            S::Running(info) => Self::Running { info: info.into() },
            S::Degraded { reasons, info } => Self::Degraded { reasons, info: info.into() },
            S::Stopping => Self::Stopping,
            S::Stopped => Self::Stopped,
            S::Error { message, hint } => Self::Error { message, hint },
        }
    }
}

impl Gantry {
    /// Follows Gantry's VM live: each status event of its agent (starting steps, running,
    /// degraded with reasons, stopping, stopped, error with a hint) as it happens, across stops
    /// and starts from anywhere (the CLI too), until cancelled. `not_managed` when the engine is
    /// not Gantry's VM: there is nothing to watch. Returns the stream id.
    pub async fn vm_watch(&self, sink: impl Fn(StreamMsg<VmEvent>) + Send + Sync + 'static) -> ApiResult<u64> {
        self.vm_watch_as(VmEvent::from, sink).await
    }

    /// [`Self::vm_watch`], each status turned into a `T` by `map` (e.g. the tray's line:
    /// `VmStatus::describe`).
    pub async fn vm_watch_as<T: Send + 'static>(
        &self,
        map: impl Fn(VmStatus) -> T + Send + Sync + 'static,
        sink: impl Fn(StreamMsg<T>) + Send + Sync + 'static,
    ) -> ApiResult<u64> {
        if !self.engine_is_gantry_vm() {
            return Err(ApiError::new(
                GantryErrorCode::NotManaged,
                "The engine is not Gantry's VM, so there is no VM to watch.",
                "The engine's state shows in the engine card; switch to Gantry VM in Settings to use the VM.",
            ));
        }
        let id = self.streams.spawn_task(move |id, token| async move {
            sink(StreamMsg::Started { id });
            let instance = crate::vm::Instance::default();
            crate::vm::watch(&instance, &token, |s| sink(StreamMsg::Items { items: vec![map(s)] })).await;
            sink(StreamMsg::End);
        });
        // the watch reports the stop itself: stopping the engine must not end it
        self.streams.engine_independent(id);
        Ok(id)
    }
}

//! Typed status events of the VM, as the agent broadcasts them on its control socket.

use serde::{Deserialize, Serialize};

use gantry_machine::boot_timings::BootPhase;
use gantry_machine::ports::PortRule;

/// The start-up chain's named steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Step {
    ValidateSettings,
    PrepareInstance,
    TlsMaterial,
    DataDisk,
    BootVm,
    WaitForEngine,
    ServeSocket,
    DockerContext,
    PortForwarding,
}

impl Step {
    /// All steps in order.
    pub const ALL: [Step; 9] = [
        Step::ValidateSettings,
        Step::PrepareInstance,
        Step::TlsMaterial,
        Step::DataDisk,
        Step::BootVm,
        Step::WaitForEngine,
        Step::ServeSocket,
        Step::DockerContext,
        Step::PortForwarding,
    ];

    /// Human-readable name.
    pub fn title(self) -> &'static str {
        match self {
            Step::ValidateSettings => "validate settings",
            Step::PrepareInstance => "prepare instance directory",
            Step::TlsMaterial => "TLS material",
            Step::DataDisk => "data disk",
            Step::BootVm => "boot VM",
            Step::WaitForEngine => "wait for engine",
            Step::ServeSocket => "serve docker.sock",
            Step::DockerContext => "docker context",
            Step::PortForwarding => "port forwarding",
        }
    }

    /// 1-based position.
    pub fn number(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).map_or(0, |i| i + 1)
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.title())
    }
}

/// Facts about a running VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RunningInfo {
    /// `unix:///.../docker.sock`
    pub docker_host: String,
    /// The Docker context created for the docker CLI.
    pub context: String,
    /// `kvm`, `hvf`, `whpx` or `tcg`.
    pub accel: String,
    /// e.g. software emulation in use.
    pub warnings: Vec<String>,
    pub engine_version: String,
    pub qemu_pid: u32,
    pub agent_pid: u32,
    /// Launch → engine ready, in ms (0 when the agent reattached to a running VM).
    pub boot_ms: u64,
    /// Where this start's time went, phase by phase (`gantry start --timings`); empty when the
    /// agent reattached to a running VM.
    #[serde(default)]
    pub timings: Vec<BootPhase>,
    pub forwarded_ports: Vec<PortRule>,
    /// The start-up caches given back to the host once the engine answered (None until then,
    /// when it failed, or when the agent reattached to a running VM).
    #[serde(default)]
    pub caches_given_back: Option<CachesGivenBack>,
}

/// What giving the start-up caches back did ([`gantry_machine::memory`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachesGivenBack {
    /// QEMU's resident memory just before (MiB; None where the host cannot tell).
    pub qemu_rss_before_mib: Option<u64>,
    /// QEMU's resident memory just after (MiB).
    pub qemu_rss_after_mib: Option<u64>,
    /// The smallest the guest became while the balloon was inflated (MiB).
    pub guest_lowest_mib: u64,
    /// Inflating and deflating, end to end.
    pub took_ms: u64,
}

/// One status event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum VmStatus {
    Starting {
        step: Step,
        number: usize,
        total: usize,
        detail: Option<String>,
    },
    Running(RunningInfo),
    /// Running, with problems (e.g. a published host port already taken).
    Degraded {
        reasons: Vec<String>,
        info: RunningInfo,
    },
    Stopping,
    Stopped,
    Error {
        message: String,
        hint: String,
    },
}

impl VmStatus {
    pub fn starting(step: Step, detail: Option<String>) -> Self {
        Self::Starting { step, number: step.number(), total: Step::ALL.len(), detail }
    }
    /// Running or degraded.
    pub fn is_up(&self) -> bool {
        matches!(self, Self::Running(_) | Self::Degraded { .. })
    }
    /// A terminal state for a start request.
    pub fn is_settled(&self) -> bool {
        matches!(self, Self::Running(_) | Self::Degraded { .. } | Self::Error { .. } | Self::Stopped)
    }
    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Self::Starting { step, number, total, detail } => match detail {
                Some(d) => format!("[{number}/{total}] {step}: {d}"),
                None => format!("[{number}/{total}] {step}"),
            },
            Self::Running(i) => format!("running ({}, engine {})", i.accel, i.engine_version),
            Self::Degraded { reasons, .. } => format!("running with problems: {}", reasons.join("; ")),
            Self::Stopping => "stopping".into(),
            Self::Stopped => "stopped".into(),
            Self::Error { message, hint } => format!("error: {message} (hint: {hint})"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_shape() {
        let s = VmStatus::starting(Step::BootVm, None);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["kind"], "starting");
        assert_eq!(v["step"], "boot_vm");
        assert_eq!(v["number"], 5);
        let r = serde_json::to_value(VmStatus::Running(RunningInfo::default())).unwrap();
        assert_eq!(r["kind"], "running");
        assert!(r.get("docker_host").is_some());
        let back: VmStatus = serde_json::from_value(r).unwrap();
        assert!(back.is_up());
    }
}

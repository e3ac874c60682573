//! What a [`super::Driver`] offers beyond the lifecycle, as data the agent asks for (like lima's
//! `pkg/driver` feature flags): who forwards published ports, which VM events it reports, whether
//! a new agent can reattach to a running VM, where the engine is reached, and its log files.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Who makes a container's published port reachable on this computer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortForwarding {
    /// The driver installs one rule per published port when the agent asks
    /// ([`super::Driver::reconcile_forwards`]): QEMU's `hostfwd`.
    ByDriver,
    /// The platform relays the guest's listening ports by itself, without the agent: WSL 2's
    /// localhost forwarding (loopback only). The agent installs nothing and reports no conflicts.
    ByPlatformRelay,
}

/// The flags the agent asks a driver for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Features {
    pub port_forwarding: PortForwarding,
    /// The driver reports the VM being paused and resumed ([`super::Driver::events`]) and can
    /// resume it (QEMU stops the guest when this computer's disk is full).
    pub pause_events: bool,
    /// The pause events say which disk write failed and why (QEMU's `BLOCK_IO_ERROR`).
    pub disk_error_events: bool,
    /// The VM outlives its agent and a new agent reattaches ([`super::Driver::running`]). Without
    /// it, the VM ends with the agent that started it (WSL 2: its keep-alive process).
    pub reattach: bool,
    /// The driver can take the guest's start-up caches back once the engine answers
    /// ([`super::Driver::give_back_memory`]: QEMU's balloon). WSL 2 reclaims memory by itself.
    pub memory_reclaim: bool,
    /// A stop can save the VM's state to a file and the next start resume it
    /// ([`super::StopMode::SaveIfAsked`]; QEMU's migration to a file).
    pub saved_state: bool,
}

/// Where the driver offers the engine (always mutual TLS with the instance's certificates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EngineEndpoint {
    /// A loopback TCP port: QEMU's `hostfwd` to the guest's engine port, or WSL 2's localhost
    /// forwarding of it.
    TcpTls { addr: SocketAddr },
    /// The guest's virtio-socket port relayed to an owner-only unix socket on this computer
    /// (Apple Virtualization through `gantry-vz`).
    VsockRelay { socket: PathBuf },
    /// A named pipe on Windows relaying to the guest.
    NamedPipe { name: String },
}

impl std::fmt::Display for EngineEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TcpTls { addr } => write!(f, "tcp://{addr} (mutual TLS)"),
            Self::VsockRelay { socket } => write!(f, "vsock relay {} (mutual TLS)", socket.display()),
            Self::NamedPipe { name } => write!(f, "named pipe {name} (mutual TLS)"),
        }
    }
}

/// What a log file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// The guest's console: kernel messages and the init's `gantry-init:` lines (boot timings
    /// are read from it).
    Console,
    /// The hypervisor's own output (QEMU's stderr).
    Hypervisor,
}

/// One log file a driver writes for the running VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogFile {
    pub kind: LogKind,
    pub path: PathBuf,
}

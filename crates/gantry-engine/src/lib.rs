//! Gantry's view of a Docker engine: a typed, tested layer over bollard that every front end
//! (CLI, desktop app, host agent) uses.
//!
//! One module per resource adds methods to [`Engine`]; every stream is an [`EngineStream`]
//! that stops its request when dropped (or when wrapped with [`cancellable`]); every failure is
//! an [`EngineError`] with a stable `code()` and a `hint()` for the user.

mod build;
mod connect;
pub mod container_files;
pub mod containers;
pub mod contexts;
pub mod dockerignore;
mod error;
pub mod events;
pub mod exec;
pub mod health;
pub mod images;
pub mod logs;
pub mod networks;
pub mod nodes;
/// Atomic owner-only files (the crate `gantry-files`, shared with the VM side).
pub use gantry_files as private_file;
mod raw;
pub mod rollout;
pub mod run;
pub mod service_logs;
pub mod services;
mod ssh;
mod ssh_mux;
pub mod stacks;
pub mod stats;
mod stream;
pub mod swarm;
pub mod swarm_objects;
pub mod system;
pub mod tasks;
mod transfer;
mod utf8;
pub mod volume_files;
pub mod volumes;

pub use build::{BuildEvent, BuildSpec, pack_context};
pub use connect::{ALLOW_PLAINTEXT_ENV, Endpoint, Engine, TlsFiles, allow_plaintext_tcp, is_loopback_address};
pub use container_files::ContainerFile;
pub use containers::{
    ContainerDetails, ContainerFilter, ContainerState, ContainerSummary, FileChange, FileChangeKind, PortMapping,
    RemoveOptions,
};
pub use contexts::{ContextStore, DockerContext, NewContext, Transport};
pub use error::{EngineError, EngineErrorCode, ResourceKind, Result};
pub use events::{EngineEvent, Event, EventFilter};
pub use exec::{ExecChunk, ExecOutput, ExecSession, ExecSpec};
pub use health::Health;
pub use images::{ImageDetails, ImageLayer, ImageSummary, Progress, PruneReport, RegistryAuth};
pub use logs::{LogLine, LogOptions, OutputStream};
pub use networks::{NetworkMember, NetworkSpec, NetworkSummary};
pub use nodes::NodeSummary;
pub use rollout::RolloutProgress;
pub use run::{MountSpec, PortSpec, Restart, RunSpec};
pub use service_logs::ServiceLogLine;
pub use services::{ServicePort, ServiceSummary, UpdateStatus};
pub use ssh::{SSH_PROGRAM, SshTarget};
pub use stacks::{DeployReport, StackPlan, StackRemoval, StackSummary};
pub use stats::StatsSample;
pub use stream::{EngineStream, Sender, cancellable, channel_stream};
pub use swarm::{SwarmInit, SwarmRole, SwarmStatus};
pub use swarm_objects::{SwarmObjectKind, SwarmObjectSummary};
pub use system::{DiskUsage, EngineInfo, EngineVersion, SystemPruneReport, UsageLine};
pub use tasks::TaskSummary;
pub use transfer::{Existing, ImageStore, partial_path};
pub use utf8::Utf8Decoder;
pub use volume_files::{VolumeEntry, VolumeListing};
pub use volumes::VolumeSummary;

/// Re-exported so callers can cancel streams without depending on tokio-util themselves.
pub use tokio_util::sync::CancellationToken;

//! The façade every front end calls (the desktop app's commands and the `gantry` CLI): one
//! [`Gantry`] holding the engine connection chosen from settings, methods returning
//! serializable views, and [`ApiError`] at the boundary.
//!
//! One module per resource, like the engine crate: [`engine`] (which engine, start, stop),
//! [`vm`] (the VM's live status), [`system`] (host and disk use, prune), [`containers`],
//! [`terminal`], [`compose`], [`images`] (and [`insight`]: inside images, Dockerfiles, events),
//! [`volumes`], [`networks`], [`settings`], [`registry`], [`labs`] (and [`host_terminal`], the Learn
//! panel's terminal on this computer), [`workshop`], [`desktop`].
//! Every command the webview may call is declared once in [`command_table`](crate::command_table):
//! a method of [`Gantry`] with the same name (`resource_verb`) and arguments.

/// The command table (the [`command_table!`](crate::command_table) macro).
mod command_table;
mod compose;
mod containers;
mod contexts;
mod desktop;
mod engine;
mod error;
mod host_terminal;
mod images;
mod insight;
mod labs;
mod networks;
pub mod registry;
mod run;
mod settings;
mod settings_form;
mod streams;
mod swarm;
mod swarm_objects;
mod system;
mod terminal;
#[cfg(all(test, feature = "ts"))]
mod ts;
mod vm;
mod volumes;
pub mod workshop;
pub mod workshop_open;
mod workshop_room;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use crate::compose::{ComposeAction, ComposeLogLine, ComposeTarget, DownPreview, ProjectConfig};
pub use compose::{ComposeOutput, ComposeProject};
pub use contexts::{EngineChoice, EngineChoiceKind};
pub use engine::EngineStatus;
pub use error::{ApiError, ApiResult, ErrorCode, FieldError, GantryErrorCode, sentence};
pub use gantry_engine::{
    BuildEvent, BuildSpec, ContainerDetails, ContainerSummary, DiskUsage, EngineErrorCode, EngineEvent, EventFilter,
    FileChange, ImageDetails, ImageLayer, ImageSummary, LogLine, LogOptions, NetworkSpec, NetworkSummary, Progress,
    PruneReport, StatsSample, SystemPruneReport, UsageLine, VolumeSummary,
};
pub use gantry_engine::{
    DeployReport, Health, NewContext, NodeSummary, RolloutProgress, ServiceLogLine, ServiceSummary, StackRemoval,
    StackSummary, SwarmInit, SwarmObjectKind, SwarmObjectSummary, SwarmStatus, TaskSummary,
};
pub use gantry_engine::{VolumeEntry, VolumeListing};
pub use gantry_insight::Lang;
pub use gantry_insight::explain::ExplainedEvent;
pub use gantry_insight::image::layers::{LayerReport, TreeNode};
pub use gantry_insight::sbom::ImageContents;
pub use gantry_insight::topology::TopologyUpdate;
pub use gantry_insight::vuln::VulnerabilityReport;
pub use gantry_labs::view::{LabView, StepView};
pub use gantry_labs::{LabEvent, ResetPlan, ResetReport};
pub use gantry_workshop::preflight::PreflightReport;
pub use gantry_workshop::room::state::RoomCommand;
pub use gantry_workshop::{ImportEvent, ImportReport, SettingsDefaults};
pub use host_terminal::{HostTerminalRequest, host_terminal_off};
pub use insight::{ContentsProgress, DockerfileReview, FixPreview, LayersProgress};
pub use labs::{
    LabCard, LabCatalogue, LabResetOutcome, lab_library, lab_library_with, lab_progress_store, lab_work_root,
};
pub use run::{RunPreview, RunRequest, split_command};
pub use settings_form::{RegistryEntry, RegistryMirrorEntry, SaveOutcome, SettingsForm, SettingsView};
pub use streams::{BATCH_WINDOW, StreamMsg, Streams};
pub use swarm::StackDeployRequest;
pub use swarm_objects::SwarmObjectCreate;
pub use system::{HostStats, PrunePreview};
pub use terminal::{TerminalOutput, TerminalRequest};
pub use vm::{VmEvent, VmRunning};
pub use workshop::WorkshopBundleView;
pub use workshop_open::OpenedBundle;
pub use workshop_room::{RoomEvent, RoomOpenOptions};

use crate::credentials::CredentialStore;
use crate::engine_source::{self, Origin, ResolvedEngine};

/// The API. Cheap to clone: clones share the connection and the running streams.
#[derive(Clone)]
pub struct Gantry {
    /// The connected engine and why it was chosen; `None` until first use or after a reconnect.
    engine: Arc<tokio::sync::Mutex<Option<(gantry_engine::Engine, ResolvedEngine)>>>,
    /// An engine named on the command line (`--engine`), ahead of the environment and settings.
    explicit: Option<String>,
    streams: Arc<Streams>,
    system: Arc<Mutex<Option<sysinfo::System>>>,
    settings_path: PathBuf,
    credentials: CredentialStore,
    /// The workshop room open in this app, if any.
    room: Arc<workshop_room::RoomSlot>,
    /// Bundles the desktop was asked to open, for the Workshops panel.
    opened: Arc<workshop_open::OpenedBundles>,
    /// The host terminal open in this app, if any, and the lab it starts in.
    host_terminal: Arc<host_terminal::HostTerminalSlot>,
}

impl std::fmt::Debug for Gantry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gantry")
            .field("settings_path", &self.settings_path)
            .field("explicit", &self.explicit)
            .finish_non_exhaustive()
    }
}

impl Default for Gantry {
    fn default() -> Self {
        Self::new()
    }
}

impl Gantry {
    /// The API over the engine that [`engine_source::resolve`] picks; connects on first use.
    pub fn new() -> Self {
        Self::with_paths(crate::settings::settings_path(), CredentialStore::default())
    }

    /// Like [`Self::new`] with another settings file and docker credential store (tests, a second
    /// instance).
    pub fn with_paths(settings_path: PathBuf, credentials: CredentialStore) -> Self {
        Self {
            engine: Arc::default(),
            explicit: None,
            streams: Arc::default(),
            system: Arc::new(Mutex::new(sysinfo::System::new().ok())),
            settings_path,
            credentials,
            room: Arc::default(),
            opened: Arc::default(),
            host_terminal: Arc::default(),
        }
    }

    /// Uses the engine at `endpoint` (e.g. the CLI's `--engine`) instead of the environment's or
    /// the settings' choice; `None` keeps the usual order.
    #[must_use]
    pub fn with_engine(mut self, endpoint: Option<&str>) -> Self {
        self.explicit = endpoint.map(str::to_string);
        self
    }

    /// The running streams.
    pub fn streams(&self) -> &Arc<Streams> {
        &self.streams
    }

    /// Which engine the calls go to, and why (without connecting).
    pub fn resolve_engine(&self) -> ApiResult<ResolvedEngine> {
        Ok(engine_source::resolve(self.explicit.as_deref())?)
    }

    /// The connected engine, connecting (again) when needed.
    pub async fn engine(&self) -> ApiResult<gantry_engine::Engine> {
        let mut guard = self.engine.lock().await;
        if let Some((engine, _)) = guard.as_ref() {
            return Ok(engine.clone());
        }
        let (engine, resolved) = engine_source::connect(self.explicit.as_deref()).await?;
        *guard = Some((engine.clone(), resolved));
        // This install's helper containers carry its secret mark (when one was ever made); those a
        // crash left behind go.
        self.use_helper_mark(false);
        let cleanup = engine.clone();
        tokio::spawn(async move { cleanup.remove_stale_volume_helpers().await });
        Ok(engine)
    }

    /// Makes this install's helper mark the one helpers carry and are recognised by: read from
    /// beside the settings, and made there first when `create` (before the first helper is made,
    /// so that a connection alone never writes into Gantry's folder).
    fn use_helper_mark(&self, create: bool) {
        let path = self.settings_path.with_file_name(crate::helper_mark::FILE_NAME);
        let mark =
            if create { crate::helper_mark::load_or_create(&path).map(Some) } else { crate::helper_mark::load(&path) };
        match mark {
            Ok(Some(mark)) => gantry_engine::volume_files::set_helper_mark(&mark),
            Ok(None) => {}
            Err(e) => tracing::warn!(
                path = %path.display(),
                "cannot read or create the helper mark ({e}); helpers of earlier runs are not recognised"
            ),
        }
    }

    /// Forgets the connection so that the next call connects again (after a settings change or
    /// when the engine went away).
    async fn disconnect(&self) {
        *self.engine.lock().await = None;
    }

    /// Whether the configured engine is Gantry's own VM (the one engine Gantry starts and stops).
    fn engine_is_gantry_vm(&self) -> bool {
        self.resolve_engine().is_ok_and(|r| r.origin == Origin::GantryVm)
    }
}

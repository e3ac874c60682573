//! The façade every front end calls (the desktop app's commands, later an HTTP server or the
//! CLI): one [`Gantry`] holding the engine connection chosen from settings, methods returning
//! serializable views, and [`ApiError`] at the boundary.

mod desktop;
mod error;
pub mod registry;
mod settings_form;
mod streams;
mod types;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use gantry_engine::{
    BuildEvent, BuildSpec, ContainerDetails, ContainerFilter, ContainerSummary, DiskUsage, Engine, EngineEvent,
    EventFilter, ExecSpec, FileChange, ImageDetails, ImageLayer, ImageSummary, LogLine, LogOptions, NetworkSpec,
    NetworkSummary, Progress, PruneReport, RemoveOptions, StatsSample, SystemPruneReport, VolumeSummary,
};
use tokio::io::AsyncWriteExt;

pub use error::{ApiError, ApiResult, FieldError};
pub use gantry_engine::{VolumeEntry, VolumeListing};
pub use settings_form::{EngineKind, RegistryEntry, SaveOutcome, SettingsForm, SettingsView, ThemeChoice};
pub use streams::{BATCH_WINDOW, Streams};
pub use types::{
    EngineStatus, HostStats, PrunePreview, RunPreview, RunRequest, StreamMsg, TerminalOutput, TerminalRequest, VmEvent,
    VmRunning, split_command,
};

use crate::credentials::CredentialStore;
use crate::engine_source::{self, Origin};
use crate::settings::{self, HostFacts};

/// Largest batch of log lines sent to the UI at once.
pub const LOG_BATCH: usize = 5_000;

/// The desktop API. Cheap to clone.
#[derive(Clone)]
pub struct Gantry {
    engine: Arc<tokio::sync::Mutex<Option<(Engine, String, Origin)>>>,
    streams: Arc<Streams>,
    system: Arc<Mutex<Option<sysinfo::System>>>,
    settings_path: PathBuf,
    credentials: CredentialStore,
}

impl std::fmt::Debug for Gantry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gantry").field("settings_path", &self.settings_path).finish_non_exhaustive()
    }
}

impl Default for Gantry {
    fn default() -> Self {
        Self::new()
    }
}

fn origin_word(o: Origin) -> &'static str {
    match o {
        Origin::Explicit => "explicit",
        Origin::DockerHost => "docker_host",
        Origin::Settings => "settings",
        Origin::GantryVm => "gantry_vm",
    }
}

impl Gantry {
    /// A façade over the engine that [`engine_source::resolve`] picks; connects on first use.
    pub fn new() -> Self {
        Self::with_paths(settings::settings_path(), CredentialStore::default())
    }

    /// Like [`Self::new`] with another settings file and docker credential store (tests, a second
    /// instance).
    pub fn with_paths(settings_path: PathBuf, credentials: CredentialStore) -> Self {
        Self {
            engine: Arc::default(),
            streams: Arc::default(),
            system: Arc::new(Mutex::new(sysinfo::System::new().ok())),
            settings_path,
            credentials,
        }
    }

    /// The running streams.
    pub fn streams(&self) -> &Arc<Streams> {
        &self.streams
    }

    /// The connected engine, connecting (again) when needed.
    pub async fn engine(&self) -> ApiResult<Engine> {
        let mut guard = self.engine.lock().await;
        if let Some((engine, _, _)) = guard.as_ref() {
            return Ok(engine.clone());
        }
        let (engine, resolved) = engine_source::connect(None).await?;
        *guard = Some((engine.clone(), resolved.endpoint.to_string(), resolved.origin));
        // Helpers of a volume browse that a crash left behind.
        let cleanup = engine.clone();
        tokio::spawn(async move { cleanup.remove_stale_volume_helpers().await });
        Ok(engine)
    }

    /// Drops the connection so the next call reconnects (after a settings change, a VM start).
    pub async fn reconnect(&self) -> EngineStatus {
        *self.engine.lock().await = None;
        self.engine_status().await
    }

    // ---- engine and host ----

    /// Which engine, whether it answers, its version and counts.
    pub async fn engine_status(&self) -> EngineStatus {
        let resolved = engine_source::resolve(None);
        let (endpoint, origin) = match &resolved {
            Ok(r) => (r.endpoint.to_string(), origin_word(r.origin).to_string()),
            Err(_) => (String::new(), String::new()),
        };
        let (vm, vm_warnings) = match resolved.as_ref().map(|r| r.origin) {
            Ok(Origin::GantryVm) => {
                let status = crate::vm::status(&crate::vm::Instance::default()).await;
                let warnings = match &status {
                    crate::vm::VmStatus::Running(info) | crate::vm::VmStatus::Degraded { info, .. } => {
                        info.warnings.clone()
                    }
                    _ => Vec::new(),
                };
                (Some(status.describe()), warnings)
            }
            _ => (None, Vec::new()),
        };
        let engine = match self.engine().await {
            Ok(e) => e,
            Err(mut error) => {
                if vm.is_some() && error.code == "engine_unreachable" {
                    // the app has its own Start button; the CLI command is the alternative
                    error.hint = "Start the VM with the Start button (or `gantry start` in a terminal).".into();
                }
                return EngineStatus {
                    connected: false,
                    endpoint,
                    origin,
                    version: None,
                    info: None,
                    error: Some(error),
                    vm,
                    vm_warnings,
                };
            }
        };
        let (version, info) = tokio::join!(engine.version(), engine.info());
        match (version, info) {
            (Ok(v), Ok(i)) => EngineStatus {
                connected: true,
                endpoint,
                origin,
                version: Some(v),
                info: Some(i),
                error: None,
                vm,
                vm_warnings,
            },
            (Err(e), _) | (_, Err(e)) => {
                *self.engine.lock().await = None;
                EngineStatus {
                    connected: false,
                    endpoint,
                    origin,
                    version: None,
                    info: None,
                    error: Some(e.into()),
                    vm,
                    vm_warnings,
                }
            }
        }
    }

    /// Starts Gantry's VM (when it is the engine source) and reconnects.
    pub async fn engine_start(&self) -> ApiResult<EngineStatus> {
        if engine_is_gantry_vm() {
            crate::vm::start(&crate::vm::StartOptions::default(), |_| {}).await?;
        }
        Ok(self.reconnect().await)
    }

    /// Starts Gantry's VM and reports each step of the start-up chain to `sink` as it happens
    /// ("[3/9] booting the VM", ...), then `End` (or `Error`). Returns the stream id.
    pub fn engine_start_progress(&self, sink: impl Fn(StreamMsg<String>) + Send + Sync + 'static) -> ApiResult<u64> {
        if !engine_is_gantry_vm() {
            return Err(ApiError::new(
                "not_managed",
                "the engine is not Gantry's VM, so there is nothing for Gantry to start",
                "switch the engine to Gantry VM in Settings, or start your engine where it is installed",
            ));
        }
        let this = self.clone();
        Ok(self.streams.spawn_task(move |id, token| async move {
            let sink = Arc::new(sink);
            sink(StreamMsg::Started { id });
            let progress = {
                let sink = Arc::clone(&sink);
                move |s: &crate::vm::VmStatus| sink(StreamMsg::Items { items: vec![s.describe()] })
            };
            let options = crate::vm::StartOptions::default();
            let started = tokio::select! {
                r = crate::vm::start(&options, progress) => Some(r),
                () = token.cancelled() => None,
            };
            match started {
                Some(Err(e)) => sink(StreamMsg::Error { error: e.into() }),
                Some(Ok(_)) => {
                    this.reconnect().await;
                }
                None => {}
            }
            sink(StreamMsg::End);
        }))
    }

    /// Follows Gantry's VM live: each status event of its agent (starting steps, running,
    /// degraded with reasons, stopping, stopped, error with a hint) as it happens, across stops
    /// and starts from anywhere (the CLI too), until cancelled. `not_managed` when the engine is
    /// not Gantry's VM: there is nothing to watch. Returns the stream id.
    pub fn watch_vm_status(&self, sink: impl Fn(StreamMsg<VmEvent>) + Send + Sync + 'static) -> ApiResult<u64> {
        if !engine_is_gantry_vm() {
            return Err(ApiError::new(
                "not_managed",
                "the engine is not Gantry's VM, so there is no VM to watch",
                "the engine's state shows in the engine card; switch to Gantry VM in Settings to use the VM",
            ));
        }
        let id = self.streams.spawn_task(move |id, token| async move {
            sink(StreamMsg::Started { id });
            let instance = crate::vm::Instance::default();
            crate::vm::watch(&instance, &token, |s| sink(StreamMsg::Items { items: vec![VmEvent::from(s)] })).await;
            sink(StreamMsg::End);
        });
        // the watch reports the stop itself: stopping the engine must not end it
        self.streams.engine_independent(id);
        Ok(id)
    }

    /// Stops Gantry's VM; for an existing engine there is nothing Gantry may stop.
    pub async fn engine_stop(&self) -> ApiResult<EngineStatus> {
        if !engine_is_gantry_vm() {
            return Err(ApiError::new(
                "not_managed",
                "this engine is not Gantry's VM, so Gantry does not stop it",
                "stop it where it was started, or switch the engine to Gantry VM in Settings",
            ));
        }
        self.streams.cancel_engine_streams();
        crate::vm::stop(&crate::vm::Instance::default(), |_| {}).await?;
        Ok(self.reconnect().await)
    }

    /// This computer's CPU and memory use.
    pub fn host_stats(&self) -> HostStats {
        let Ok(mut guard) = self.system.lock() else { return HostStats::default() };
        let Some(sys) = guard.as_mut() else { return HostStats::default() };
        sys.refresh_cpu_usage();
        sys.refresh_memory();
        HostStats {
            cpus: u32::try_from(sys.cpus().len()).unwrap_or(u32::MAX),
            cpu_percent: sys.global_cpu_usage(),
            memory_total: sys.total_memory(),
            memory_used: sys.used_memory(),
        }
    }

    /// `docker system df`.
    pub async fn disk_usage(&self) -> ApiResult<DiskUsage> {
        Ok(self.engine().await?.disk_usage().await?)
    }

    /// What [`Self::prune_system`] with the same arguments would remove.
    pub async fn prune_preview(&self, all_images: bool, volumes: bool) -> ApiResult<PrunePreview> {
        let engine = self.engine().await?;
        let all = ContainerFilter { all: true, ..Default::default() };
        let (containers, images, vols, nets, usage) = tokio::join!(
            engine.list_containers(&all),
            engine.list_images(false),
            engine.list_volumes(),
            engine.list_networks(),
            engine.disk_usage()
        );
        let (containers, images, vols, nets, usage) = (containers?, images?, vols?, nets?, usage?);
        let stopped: Vec<&ContainerSummary> = containers.iter().filter(|c| !c.state.is_alive()).collect();
        let alive_images: std::collections::HashSet<&str> =
            containers.iter().filter(|c| c.state.is_alive()).map(|c| c.image_id.as_str()).collect();
        let short = |id: &str| id.trim_start_matches("sha256:").chars().take(12).collect::<String>();
        let images = images
            .iter()
            .filter(|i| if all_images { !alive_images.contains(i.id.as_str()) } else { i.dangling })
            .map(|i| i.tags.first().cloned().unwrap_or_else(|| short(&i.id)))
            .collect();
        let alive_names: std::collections::HashSet<&str> = containers
            .iter()
            .filter(|c| c.state.is_alive())
            .flat_map(|c| c.networks.iter().map(String::as_str))
            .collect();
        let mut reclaimable = usage.images.reclaimable + usage.containers.reclaimable + usage.build_cache.reclaimable;
        let volumes = if volumes {
            reclaimable += usage.volumes.reclaimable;
            vols.iter()
                .filter(|v| v.used_by.is_empty() || v.used_by.iter().all(|u| stopped.iter().any(|c| &c.name == u)))
                .map(|v| v.name.clone())
                .collect()
        } else {
            Vec::new()
        };
        Ok(PrunePreview {
            containers: stopped.iter().map(|c| c.name.clone()).collect(),
            images,
            volumes,
            networks: nets
                .iter()
                .filter(|n| !n.builtin && !alive_names.contains(n.name.as_str()))
                .map(|n| n.name.clone())
                .collect(),
            reclaimable,
        })
    }

    /// Removes stopped containers, unused networks, dangling (or all unused) images, build
    /// cache, and unused volumes when asked.
    pub async fn prune_system(&self, all_images: bool, volumes: bool) -> ApiResult<SystemPruneReport> {
        Ok(self.engine().await?.prune_system(all_images, volumes).await?)
    }

    // ---- containers ----

    /// Containers, without Gantry's own short-lived helpers.
    pub async fn list_containers(&self, all: bool) -> ApiResult<Vec<ContainerSummary>> {
        let mut list = self.engine().await?.list_containers(&ContainerFilter { all, ..Default::default() }).await?;
        list.retain(|c| !c.labels.contains_key(gantry_engine::volume_files::HELPER_LABEL));
        Ok(list)
    }

    pub async fn inspect_container(&self, id: &str) -> ApiResult<ContainerDetails> {
        Ok(self.engine().await?.inspect_container(id).await?)
    }

    pub async fn start_container(&self, id: &str) -> ApiResult<()> {
        Ok(self.engine().await?.start_container(id).await?)
    }

    pub async fn stop_container(&self, id: &str) -> ApiResult<()> {
        Ok(self.engine().await?.stop_container(id, None).await?)
    }

    pub async fn restart_container(&self, id: &str) -> ApiResult<()> {
        Ok(self.engine().await?.restart_container(id, None).await?)
    }

    pub async fn pause_container(&self, id: &str) -> ApiResult<()> {
        Ok(self.engine().await?.pause_container(id).await?)
    }

    pub async fn unpause_container(&self, id: &str) -> ApiResult<()> {
        Ok(self.engine().await?.unpause_container(id).await?)
    }

    pub async fn remove_container(&self, id: &str, force: bool) -> ApiResult<()> {
        Ok(self.engine().await?.remove_container(id, RemoveOptions { force, volumes: false }).await?)
    }

    pub async fn container_changes(&self, id: &str) -> ApiResult<Vec<FileChange>> {
        Ok(self.engine().await?.container_changes(id).await?)
    }

    /// The equivalent `docker run` command of the Run dialog, or what is wrong with it.
    pub fn run_preview(&self, req: &RunRequest) -> ApiResult<RunPreview> {
        Ok(RunPreview { command: req.to_spec()?.docker_run_command() })
    }

    /// Creates and starts a container from the Run dialog; returns its ID.
    pub async fn run_container(&self, req: &RunRequest) -> ApiResult<String> {
        let spec = req.to_spec()?;
        Ok(self.engine().await?.run_container(&spec).await?)
    }

    /// Streams a container's logs to `sink`; returns the stream id.
    pub async fn stream_logs(
        &self,
        id: &str,
        options: LogOptions,
        sink: impl Fn(StreamMsg<LogLine>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        Ok(self.streams.forward(engine.logs(id, &options), LOG_BATCH, sink))
    }

    /// Streams a container's resource use (about one sample per second).
    pub async fn stream_stats(
        &self,
        id: &str,
        sink: impl Fn(StreamMsg<StatsSample>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        Ok(self.streams.forward(engine.stats(id, true), 1, sink))
    }

    /// Streams engine events (with reconnects) to `sink`.
    pub async fn stream_events(
        &self,
        filter: EventFilter,
        sink: impl Fn(StreamMsg<EngineEvent>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        Ok(self.streams.forward(engine.events(&filter), 200, sink))
    }

    /// Stops a stream (logs, stats, events, pull, build, terminal).
    pub fn cancel_stream(&self, id: u64) -> bool {
        self.streams.cancel(id)
    }

    /// Opens a terminal (`/bin/sh` with a TTY) in a container; output goes to `sink`.
    pub async fn terminal_open(
        &self,
        req: &TerminalRequest,
        sink: impl Fn(StreamMsg<TerminalOutput>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        let cmd = if req.command.is_empty() { vec!["/bin/sh".to_string()] } else { req.command.clone() };
        let spec =
            ExecSpec { cmd, tty: true, stdin: true, env: vec!["TERM=xterm-256color".into()], ..Default::default() };
        let session = engine.exec(&req.container, &spec).await?;
        if req.rows > 0 && req.cols > 0 {
            // The exec may not be running yet; a failed first resize is harmless.
            let _ = engine.resize_exec(&session.id, req.rows, req.cols).await;
        }
        let mut decoder = gantry_engine::Utf8Decoder::default();
        let text = session.output.map(move |r| r.map(|chunk| TerminalOutput { data: decoder.push(&chunk.bytes) }));
        let id = self.streams.forward(Box::pin(text), 64, sink);
        self.streams.attach_input(id, session.id, session.input);
        Ok(id)
    }

    /// Types `data` into terminal `id`.
    pub async fn terminal_input(&self, id: u64, data: &str) -> ApiResult<()> {
        let (_, input) = self.streams.input(id).ok_or_else(terminal_gone)?;
        let mut w = input.lock().await;
        w.write_all(data.as_bytes()).await.map_err(|e| ApiError::new("io", e.to_string(), "reopen the terminal"))?;
        w.flush().await.map_err(|e| ApiError::new("io", e.to_string(), "reopen the terminal"))
    }

    /// Tells terminal `id` its new size.
    pub async fn terminal_resize(&self, id: u64, rows: u16, cols: u16) -> ApiResult<()> {
        let (exec_id, _) = self.streams.input(id).ok_or_else(terminal_gone)?;
        Ok(self.engine().await?.resize_exec(&exec_id, rows, cols).await?)
    }

    // ---- images ----

    pub async fn list_images(&self) -> ApiResult<Vec<ImageSummary>> {
        Ok(self.engine().await?.list_images(false).await?)
    }

    pub async fn inspect_image(&self, reference: &str) -> ApiResult<ImageDetails> {
        Ok(self.engine().await?.inspect_image(reference).await?)
    }

    pub async fn image_history(&self, reference: &str) -> ApiResult<Vec<ImageLayer>> {
        Ok(self.engine().await?.image_history(reference).await?)
    }

    /// Pulls with per-layer progress, with the stored login for the image's registry, if any.
    pub async fn pull_image(
        &self,
        reference: &str,
        sink: impl Fn(StreamMsg<Progress>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        gantry_engine::images::validate_reference(reference)?;
        let auth = self.auth_for(reference).await;
        Ok(self.streams.forward(engine.pull_image(reference, auth.as_ref()), 50, sink))
    }

    /// Pushes with per-layer progress, with the stored login for the image's registry, if any.
    pub async fn push_image(
        &self,
        reference: &str,
        sink: impl Fn(StreamMsg<Progress>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        let auth = self.auth_for(reference).await;
        Ok(self.streams.forward(engine.push_image(reference, auth.as_ref()), 50, sink))
    }

    /// Builds from a folder with live output.
    pub async fn build_image(
        &self,
        spec: BuildSpec,
        sink: impl Fn(StreamMsg<BuildEvent>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        Ok(self.streams.forward(engine.build_image(&spec), 50, sink))
    }

    pub async fn tag_image(&self, source: &str, target: &str) -> ApiResult<()> {
        Ok(self.engine().await?.tag_image(source, target).await?)
    }

    pub async fn remove_image(&self, reference: &str, force: bool) -> ApiResult<Vec<String>> {
        Ok(self.engine().await?.remove_image(reference, force).await?)
    }

    pub async fn prune_images(&self, all: bool) -> ApiResult<PruneReport> {
        Ok(self.engine().await?.prune_images(all).await?)
    }

    /// Loads images from a `docker save` tar file.
    pub async fn load_images(&self, path: &str) -> ApiResult<Vec<String>> {
        Ok(self.engine().await?.load_images(std::path::Path::new(path)).await?)
    }

    /// Saves images to a tar file; returns its size.
    pub async fn save_images(&self, images: &[String], path: &str) -> ApiResult<u64> {
        Ok(self.engine().await?.save_images(images, std::path::Path::new(path)).await?)
    }

    /// Creates an image from a root filesystem tar (`docker import`).
    pub async fn import_image(&self, path: &str, reference: &str) -> ApiResult<String> {
        Ok(self.engine().await?.import_rootfs(std::path::Path::new(path), reference, &[]).await?)
    }

    // ---- volumes ----

    pub async fn list_volumes(&self) -> ApiResult<Vec<VolumeSummary>> {
        Ok(self.engine().await?.list_volumes_with_sizes().await?)
    }

    pub async fn create_volume(&self, name: &str) -> ApiResult<VolumeSummary> {
        Ok(self.engine().await?.create_volume(name.trim(), &[]).await?)
    }

    pub async fn remove_volume(&self, name: &str, force: bool) -> ApiResult<()> {
        Ok(self.engine().await?.remove_volume(name, force).await?)
    }

    pub async fn prune_volumes(&self) -> ApiResult<PruneReport> {
        Ok(self.engine().await?.prune_volumes(false).await?)
    }

    /// Lists a volume's files (read-only; nothing is started).
    pub async fn browse_volume(&self, name: &str) -> ApiResult<VolumeListing> {
        Ok(self.engine().await?.list_volume_files(name).await?)
    }

    /// Writes a volume's files to a tar file; returns its size.
    pub async fn export_volume(&self, name: &str, path: &str) -> ApiResult<u64> {
        Ok(self.engine().await?.export_volume(name, std::path::Path::new(path)).await?)
    }

    /// Extracts a tar file into a volume.
    pub async fn import_volume(&self, name: &str, path: &str) -> ApiResult<()> {
        Ok(self.engine().await?.import_volume(name, std::path::Path::new(path)).await?)
    }

    // ---- networks ----

    pub async fn list_networks(&self) -> ApiResult<Vec<NetworkSummary>> {
        Ok(self.engine().await?.list_networks().await?)
    }

    pub async fn create_network(&self, spec: &NetworkSpec) -> ApiResult<String> {
        Ok(self.engine().await?.create_network(spec).await?)
    }

    pub async fn remove_network(&self, name: &str) -> ApiResult<()> {
        Ok(self.engine().await?.remove_network(name).await?)
    }

    pub async fn connect_network(&self, network: &str, container: &str) -> ApiResult<()> {
        Ok(self.engine().await?.connect_network(network, container, &[]).await?)
    }

    pub async fn disconnect_network(&self, network: &str, container: &str) -> ApiResult<()> {
        Ok(self.engine().await?.disconnect_network(network, container, false).await?)
    }

    // ---- settings ----

    fn host_facts(&self) -> HostFacts {
        HostFacts::detect(self.settings_path.parent().unwrap_or(std::path::Path::new(".")))
    }

    /// The settings as a form, with the host facts they are checked against.
    pub fn get_settings(&self) -> ApiResult<SettingsView> {
        let s = settings::load(&self.settings_path)?;
        let host = self.host_facts();
        Ok(SettingsView {
            form: SettingsForm::from(&s),
            host_cpus: host.cpus,
            host_memory_mib: host.memory_mib,
            host_free_disk_gib: host.free_disk_gib,
            path: self.settings_path.display().to_string(),
        })
    }

    /// Validates and saves; nothing is written when any field is wrong. The registry list is
    /// kept as it is: only [`Self::registry_login`] and [`Self::registry_logout`] change it.
    pub async fn save_settings(&self, form: &SettingsForm) -> ApiResult<SaveOutcome> {
        let old = settings::load(&self.settings_path).unwrap_or_default();
        let mut host = self.host_facts();
        // The disk size is checked against the free space only when it changes: the data disk
        // grows on demand, and space other programs used since must not block other changes.
        if form.disk_gib == old.vm.disk_gib {
            host.free_disk_gib = 0;
        }
        let mut new = form.to_settings(&host)?;
        new.registries.clone_from(&old.registries);
        settings::save(&self.settings_path, &new, &host)?;
        if old.ui.start_at_login != new.ui.start_at_login {
            desktop::apply_start_at_login(new.ui.start_at_login)?;
        }
        let engine_changed = old.engine != new.engine;
        if engine_changed {
            self.streams.cancel_all();
            *self.engine.lock().await = None;
        }
        Ok(SaveOutcome { needs_vm_restart: old.needs_vm_restart(&new), engine_changed })
    }
}

impl Gantry {
    /// Saves text (a log) in the user's download folder; returns the path.
    pub fn save_download(&self, file_name: &str, contents: &str) -> ApiResult<String> {
        desktop::save_download(file_name, contents)
    }

    /// Opens a published port (`http://localhost:PORT/...`) in the default browser; other
    /// addresses are refused so the UI cannot be used to launch arbitrary programs.
    pub fn open_url(&self, url: &str) -> ApiResult<()> {
        let local = ["http://localhost:", "http://127.0.0.1:", "https://localhost:", "https://127.0.0.1:"];
        if !local.iter().any(|p| url.starts_with(p)) || url.chars().any(|c| c.is_whitespace() || c == '"') {
            return Err(ApiError::new(
                "invalid_url",
                format!("{url} is not a local address"),
                "only published ports on localhost can be opened",
            ));
        }
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else if cfg!(windows) {
            "explorer"
        } else {
            "xdg-open"
        };
        std::process::Command::new(opener).arg(url).spawn().map(|_| ()).map_err(|e| {
            ApiError::new("io", format!("cannot start {opener}: {e}"), format!("open {url} in your browser yourself"))
        })
    }
}

fn terminal_gone() -> ApiError {
    ApiError::new("terminal_closed", "this terminal session has ended", "open a new terminal")
}

/// Whether the configured engine is Gantry's own VM (the one engine Gantry starts and stops).
fn engine_is_gantry_vm() -> bool {
    engine_source::resolve(None).is_ok_and(|r| r.origin == Origin::GantryVm)
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "ts")]
    use super::*;

    /// Writes the TypeScript types the UI uses (`ui/src/lib/bindings/`). Run by
    /// `cargo test -p gantry-core --features ts export_bindings`; also checks they are current.
    #[cfg(feature = "ts")]
    #[test]
    fn export_bindings() -> Result<(), Box<dyn std::error::Error>> {
        use ts_rs::TS;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings");
        let cfg = ts_rs::Config::new().with_large_int("number").with_out_dir(&dir);
        EngineStatus::export_all(&cfg)?;
        VmEvent::export_all(&cfg)?;
        HostStats::export_all(&cfg)?;
        PrunePreview::export_all(&cfg)?;
        RunRequest::export_all(&cfg)?;
        RunPreview::export_all(&cfg)?;
        StreamMsg::<LogLine>::export_all(&cfg)?;
        TerminalOutput::export_all(&cfg)?;
        TerminalRequest::export_all(&cfg)?;
        SettingsView::export_all(&cfg)?;
        SaveOutcome::export_all(&cfg)?;
        ApiError::export_all(&cfg)?;
        ContainerSummary::export_all(&cfg)?;
        ContainerDetails::export_all(&cfg)?;
        FileChange::export_all(&cfg)?;
        LogOptions::export_all(&cfg)?;
        StatsSample::export_all(&cfg)?;
        EngineEvent::export_all(&cfg)?;
        EventFilter::export_all(&cfg)?;
        ImageSummary::export_all(&cfg)?;
        ImageDetails::export_all(&cfg)?;
        ImageLayer::export_all(&cfg)?;
        Progress::export_all(&cfg)?;
        BuildEvent::export_all(&cfg)?;
        BuildSpec::export_all(&cfg)?;
        PruneReport::export_all(&cfg)?;
        SystemPruneReport::export_all(&cfg)?;
        DiskUsage::export_all(&cfg)?;
        VolumeSummary::export_all(&cfg)?;
        VolumeListing::export_all(&cfg)?;
        NetworkSummary::export_all(&cfg)?;
        NetworkSpec::export_all(&cfg)?;
        Ok(())
    }
}

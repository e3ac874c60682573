// The command table: see the macro's documentation (this file is included by src-tauri/build.rs).

/// Every command a front end's webview may call, declared once: its name (`resource_verb`), its
/// arguments, and what it returns (`fn`) or streams (`stream`). Each is the method of
/// [`Gantry`](crate::api::Gantry) with the same name and arguments (a streaming one also takes a
/// sink last and returns the stream id).
///
/// `command_table!(callback)` expands to `callback! { ... }` with the table, so that each consumer
/// turns it into what it needs from this one list:
/// - the desktop shell (`src-tauri/src/commands.rs`): the `#[tauri::command]` functions and their
///   handler;
/// - the desktop shell's build script: the permission of each command (the webview may call
///   these and nothing else);
/// - `cargo test -p gantry-core --features ts export_bindings`: `ui/src/lib/commands.ts`, the UI's
///   typed functions.
///
/// Adding a command: a method on `Gantry` in the resource's module, then one line here.
/// (This file is also `include!`d by `src-tauri/build.rs`: keep it this one macro, without
/// inner doc comments.)
#[macro_export]
macro_rules! command_table {
    ($callback:ident) => {
        $callback! {
            // ---- engine and VM ----
            /// Which engine the app talks to, whether it answers, its version and the VM's state.
            fn engine_status() -> $crate::api::EngineStatus;
            /// Connects again and says how it went.
            fn engine_reconnect() -> $crate::api::EngineStatus;
            /// Starts Gantry's VM; streams each start-up step as it happens.
            stream engine_start() -> $crate::api::VmEvent;
            /// Stops Gantry's VM (only Gantry's own engine is ever stopped).
            fn engine_stop() -> $crate::api::EngineStatus;
            /// Follows the VM's status events live.
            stream vm_watch() -> $crate::api::VmEvent;
            /// Stops a stream by its id.
            fn stream_cancel(id: u64) -> bool;

            // ---- this computer and the engine as a whole ----
            /// This computer's CPUs and memory use.
            fn host_stats() -> $crate::api::HostStats;
            /// What the engine's images, containers, volumes and build cache take on disk.
            fn system_disk_usage() -> $crate::api::DiskUsage;
            /// What a clean-up with these options would delete.
            fn system_prune_preview(all_images: bool, volumes: bool) -> $crate::api::PrunePreview;
            /// Deletes stopped containers, unused networks, dangling (or all unused) images, the build cache, and unused volumes when asked.
            fn system_prune(all_images: bool, volumes: bool) -> $crate::api::SystemPruneReport;
            /// The engine's events as they happen (from `filter.since`).
            stream system_events(filter: $crate::api::EventFilter) -> $crate::api::EngineEvent;

            // ---- containers ----
            /// Containers (running only unless `all`).
            fn container_list(all: bool) -> Vec<$crate::api::ContainerSummary>;
            fn container_inspect(id: String) -> $crate::api::ContainerDetails;
            fn container_start(id: String) -> ();
            fn container_stop(id: String) -> ();
            fn container_restart(id: String) -> ();
            fn container_pause(id: String) -> ();
            fn container_unpause(id: String) -> ();
            fn container_remove(id: String, force: bool) -> ();
            /// Files the container added, changed or deleted compared with its image.
            fn container_changes(id: String) -> Vec<$crate::api::FileChange>;
            /// The Run dialog's equivalent `docker run` command, or what is wrong with the form.
            fn container_run_preview(request: $crate::api::RunRequest) -> $crate::api::RunPreview;
            /// Creates and starts a container from the Run dialog; returns its ID.
            fn container_run(request: $crate::api::RunRequest) -> String;
            stream container_logs(id: String, options: $crate::api::LogOptions) -> $crate::api::LogLine;
            stream container_stats(id: String) -> $crate::api::StatsSample;

            // ---- terminal ----
            /// Opens `/bin/sh` with a TTY in a container.
            stream terminal_open(request: $crate::api::TerminalRequest) -> $crate::api::TerminalOutput;
            fn terminal_input(id: u64, data: String) -> ();
            fn terminal_resize(id: u64, rows: u16, cols: u16) -> ();
            /// Opens the Learn panel's terminal on this computer (when turned on in Settings): the user's shell, chosen by Gantry; only the size comes from here. Input and resize as above.
            stream host_terminal_open(request: $crate::api::HostTerminalRequest) -> $crate::api::TerminalOutput;

            // ---- compose ----
            /// Opens a compose file, or the folder holding one, checked by `docker compose config`.
            fn compose_open(path: String) -> $crate::api::ComposeProject;
            /// Opens a compose project found on the engine (also one Gantry did not start).
            fn compose_project_open(name: String) -> $crate::api::ComposeProject;
            /// What a down of the project deletes now (containers, networks, and volumes when asked).
            fn compose_down_preview(name: String, volumes: bool) -> $crate::api::DownPreview;
            /// Runs up, stop, restart or down on a project (up, stop and restart also on some of its
            /// services); streams compose's output.
            stream compose_run(target: $crate::api::ComposeTarget, action: $crate::api::ComposeAction, services: Vec<String>) -> $crate::api::ComposeOutput;
            /// Follows the logs of every service of a project, interleaved, each line with its service.
            stream compose_logs(target: $crate::api::ComposeTarget, tail: u32) -> $crate::api::ComposeLogLine;

            // ---- images ----
            fn image_list() -> Vec<$crate::api::ImageSummary>;
            fn image_inspect(reference: String) -> $crate::api::ImageDetails;
            fn image_history(reference: String) -> Vec<$crate::api::ImageLayer>;
            stream image_pull(reference: String) -> $crate::api::Progress;
            stream image_push(reference: String) -> $crate::api::Progress;
            stream image_build(spec: $crate::api::BuildSpec) -> $crate::api::BuildEvent;
            fn image_tag(source: String, target: String) -> ();
            fn image_remove(reference: String, force: bool) -> Vec<String>;
            fn image_prune(all: bool) -> $crate::api::PruneReport;
            fn image_load(path: String) -> Vec<String>;
            /// Saves images to a tar file; replaces an existing file only when `replace`.
            fn image_save(images: Vec<String>, path: String, replace: bool) -> u64;
            fn image_import(path: String, reference: String) -> String;

            // ---- inside images, Dockerfiles and events (gantry-insight) ----
            /// Reads an image's layers and analyses them (size, wasted bytes, efficiency, biggest files); progress, then the report.
            stream image_layers(reference: String) -> $crate::api::LayersProgress;
            /// One layer's file tree with what it added, changed and removed.
            fn image_layer_tree(reference: String, layer: u32) -> $crate::api::TreeNode;
            /// Reads the packages an image holds; progress, then the table.
            stream image_contents(reference: String) -> $crate::api::ContentsProgress;
            /// The image's packages as a CycloneDX JSON document.
            fn image_sbom(reference: String) -> String;
            /// The image's known vulnerabilities from an OSV database file, offline.
            fn image_vulns(reference: String, database: String) -> $crate::api::VulnerabilityReport;
            /// A Dockerfile (or a build context folder's) with its advice.
            fn dockerfile_lint(path: String, lang: $crate::api::Lang) -> $crate::api::DockerfileReview;
            /// The diffs the chosen fixes would make; writes nothing.
            fn dockerfile_fix_preview(path: String, revision: String, findings: Vec<u32>, lang: $crate::api::Lang) -> $crate::api::FixPreview;
            /// Writes the chosen fixes, refused when the file changed since it was read.
            fn dockerfile_fix_apply(path: String, revision: String, findings: Vec<u32>, lang: $crate::api::Lang) -> $crate::api::DockerfileReview;
            /// The engine's events as they happen, each explained in plain language.
            stream system_events_explained(filter: $crate::api::EventFilter, lang: $crate::api::Lang) -> $crate::api::ExplainedEvent;
            /// The live picture of ports, containers, networks, volumes and host folders, updated on every change.
            stream topology_watch() -> $crate::api::TopologyUpdate;

            // ---- volumes ----
            fn volume_list() -> Vec<$crate::api::VolumeSummary>;
            fn volume_create(name: String) -> $crate::api::VolumeSummary;
            fn volume_remove(name: String, force: bool) -> ();
            fn volume_prune() -> $crate::api::PruneReport;
            fn volume_browse(name: String) -> $crate::api::VolumeListing;
            /// Writes a volume's files to a tar file; replaces an existing file only when `replace`.
            fn volume_export(name: String, path: String, replace: bool) -> u64;
            fn volume_import(name: String, path: String) -> ();

            // ---- networks ----
            fn network_list() -> Vec<$crate::api::NetworkSummary>;
            fn network_create(spec: $crate::api::NetworkSpec) -> String;
            fn network_remove(name: String) -> ();
            fn network_connect(network: String, container: String) -> ();
            fn network_disconnect(network: String, container: String) -> ();

            // ---- engines and contexts (the engine switcher) ----
            /// Gantry's VM, then every docker context, with the one Gantry and the one the docker CLI use marked.
            fn context_list() -> Vec<$crate::api::EngineChoice>;
            /// Makes Gantry (and with `docker_cli` the docker CLI) use an engine; streams of the previous one end.
            fn context_use(name: String, docker_cli: bool) -> $crate::api::EngineStatus;
            /// Adds a docker context (SSH host, or TCP with CA, certificate and key) the docker CLI sees too.
            fn context_add(context: $crate::api::NewContext) -> $crate::api::EngineChoice;
            /// Removes a docker context and its TLS files (the one in use only with `force`).
            fn context_remove(name: String, force: bool) -> ();
            /// One ping's round trip to the selected engine, in milliseconds.
            fn engine_latency() -> f64;
            /// The selected engine's latency every few seconds, a lost connection and its return.
            stream engine_health() -> $crate::api::Health;

            // ---- swarm ----
            fn swarm_status() -> $crate::api::SwarmStatus;
            /// Makes the selected engine the first manager of a new swarm (`docker swarm init`).
            fn swarm_init(init: $crate::api::SwarmInit) -> $crate::api::SwarmStatus;
            fn swarm_leave(force: bool) -> $crate::api::SwarmStatus;
            fn node_list() -> Vec<$crate::api::NodeSummary>;
            fn service_list() -> Vec<$crate::api::ServiceSummary>;
            fn service_tasks(service: String) -> Vec<$crate::api::TaskSummary>;
            fn service_scale(service: String, replicas: u32) -> Vec<String>;
            /// Rolls a service to another image as its update policy says.
            fn service_update_image(service: String, image: String) -> Vec<String>;
            fn service_remove(service: String) -> ();
            /// Follows a service to convergence (a scale or a rolling update); the last reading is `done`.
            stream service_watch(service: String) -> $crate::api::RolloutProgress;
            /// A service's logs across its tasks (with `follow`, tasks started later too).
            stream service_logs(service: String, options: $crate::api::LogOptions) -> $crate::api::ServiceLogLine;
            fn stack_list() -> Vec<$crate::api::StackSummary>;
            /// Deploys (or updates) a stack from a compose file; nothing changes when the file is wrong.
            fn stack_deploy(request: $crate::api::StackDeployRequest) -> $crate::api::DeployReport;
            fn stack_remove(name: String) -> $crate::api::StackRemoval;
            /// The swarm's secrets or configs (never their contents).
            fn swarm_object_list(kind: $crate::api::SwarmObjectKind) -> Vec<$crate::api::SwarmObjectSummary>;
            /// Makes a secret or config from a file.
            fn swarm_object_create(request: $crate::api::SwarmObjectCreate) -> $crate::api::SwarmObjectSummary;
            fn swarm_object_remove(kind: $crate::api::SwarmObjectKind, name: String) -> ();

            // ---- settings and registries ----
            fn settings_get() -> $crate::api::SettingsView;
            fn settings_save(form: $crate::api::SettingsForm) -> $crate::api::SaveOutcome;
            fn registry_login(server: String, username: String, password: String) -> Vec<$crate::api::RegistryEntry>;
            fn registry_logout(server: String) -> Vec<$crate::api::RegistryEntry>;

            // ---- labs ----
            /// The labs, with the learner's progress in each.
            fn lab_list(lang: $crate::api::Lang) -> $crate::api::LabCatalogue;
            /// A lab's overview: its steps (which passed), its work folder and ports once started.
            fn lab_show(id: String, lang: $crate::api::Lang) -> $crate::api::LabView;
            /// One step (0-based): its Markdown, check labels, hints and solution.
            fn lab_step(id: String, index: u32, lang: $crate::api::Lang) -> $crate::api::StepView;
            /// Starts a lab, or resumes it as it was.
            fn lab_start(id: String, lang: $crate::api::Lang) -> $crate::api::LabView;
            /// Checks the current step live, step after step, until the lab is done.
            stream lab_watch(id: String) -> $crate::api::LabEvent;
            /// What resetting the lab would remove (only what it created).
            fn lab_reset_preview(id: String) -> $crate::api::ResetPlan;
            /// Removes what the lab created, puts its files back, starts it again.
            fn lab_reset(id: String, lang: $crate::api::Lang) -> $crate::api::LabResetOutcome;
            // ---- workshops (gantry-workshop) ----
            /// Imports a workshop bundle: verifies every part, loads its images and installs its labs, with progress; importing again continues where it stopped.
            stream workshop_import(path: String, trusted_key: Option<String>) -> $crate::api::ImportEvent;
            /// What a bundle holds (its table of contents and signature checked), before importing it.
            fn workshop_inspect(path: String) -> $crate::api::WorkshopBundleView;
            /// The workshops imported on this computer, newest first.
            fn workshop_list() -> Vec<$crate::api::ImportReport>;
            /// Takes a bundle's suggested VM CPUs, memory and registry mirror into the settings (checked like any settings change).
            fn workshop_apply_settings(defaults: $crate::api::SettingsDefaults) -> $crate::api::SaveOutcome;
            /// The bundles the desktop is asked to open (dropped on the window, "Open with"), checked; the Workshops panel imports them.
            stream workshop_opened() -> $crate::api::OpenedBundle;
            /// The workshop preflight of this computer (and of a bundle when given), to send the trainer.
            fn workshop_preflight(bundle: Option<String>) -> $crate::api::PreflightReport;
            /// Opens the trainer's room for a bundle (registry, join code, the projector's page) and follows its grid live; cancelling closes it.
            stream workshop_room_open(path: String, options: $crate::api::RoomOpenOptions) -> $crate::api::RoomEvent;
            /// Tells every participant following the room to reset a lab or go to a step; returns how many it reached.
            fn workshop_room_command(command: $crate::api::RoomCommand) -> u32;
            /// The open room's grid as CSV.
            fn workshop_room_csv() -> String;

            // ---- desktop ----
            /// Saves text in the download folder (never elsewhere); returns the path written.
            fn download_save(file_name: String, contents: String) -> String;
            /// Opens a published port (`http://localhost:PORT`) in the default browser.
            fn url_open(url: String) -> ();
        }
    };
}

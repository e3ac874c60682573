//! Every command is a one-line delegation to `gantry_core::api::Gantry`; streams go to the UI
//! through a `Channel` and are cancelled with `cancel_stream`.

use gantry_core::api::{
    ApiResult, EngineStatus, Gantry, HostStats, PrunePreview, RegistryEntry, RunPreview, RunRequest, SaveOutcome,
    SettingsForm, SettingsView, StreamMsg, TerminalOutput, TerminalRequest, VmEvent, VolumeListing,
};
use gantry_engine::{
    BuildEvent, BuildSpec, ContainerDetails, ContainerSummary, DiskUsage, EngineEvent, EventFilter, FileChange,
    ImageDetails, ImageLayer, ImageSummary, LogLine, LogOptions, NetworkSpec, NetworkSummary, Progress, PruneReport,
    StatsSample, SystemPruneReport, VolumeSummary,
};
use serde::Serialize;
use tauri::State;
use tauri::ipc::Channel;

type Api<'a> = State<'a, Gantry>;

/// Turns a channel into the sink gantry-core streams into (a closed window just drops items).
fn sink<T: Serialize + Clone + Send + 'static>(
    channel: Channel<StreamMsg<T>>,
) -> impl Fn(StreamMsg<T>) + Send + 'static {
    move |msg| {
        let _ = channel.send(msg);
    }
}

// ---- engine and host ----

#[tauri::command(rename_all = "snake_case")]
pub async fn engine_status(api: Api<'_>) -> ApiResult<EngineStatus> {
    Ok(api.engine_status().await)
}
#[tauri::command(rename_all = "snake_case")]
pub async fn engine_reconnect(api: Api<'_>) -> ApiResult<EngineStatus> {
    Ok(api.reconnect().await)
}
#[tauri::command(rename_all = "snake_case")]
pub async fn engine_start(api: Api<'_>) -> ApiResult<EngineStatus> {
    api.engine_start().await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn engine_start_progress(api: Api<'_>, channel: Channel<StreamMsg<String>>) -> ApiResult<u64> {
    api.engine_start_progress(move |msg| drop(channel.send(msg)))
}
#[tauri::command(rename_all = "snake_case")]
pub async fn watch_vm_status(api: Api<'_>, channel: Channel<StreamMsg<VmEvent>>) -> ApiResult<u64> {
    api.watch_vm_status(move |msg| drop(channel.send(msg)))
}
#[tauri::command(rename_all = "snake_case")]
pub async fn engine_stop(api: Api<'_>) -> ApiResult<EngineStatus> {
    api.engine_stop().await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn host_stats(api: Api<'_>) -> ApiResult<HostStats> {
    Ok(api.host_stats())
}
#[tauri::command(rename_all = "snake_case")]
pub async fn disk_usage(api: Api<'_>) -> ApiResult<DiskUsage> {
    api.disk_usage().await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn prune_preview(api: Api<'_>, all_images: bool, volumes: bool) -> ApiResult<PrunePreview> {
    api.prune_preview(all_images, volumes).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn prune_system(api: Api<'_>, all_images: bool, volumes: bool) -> ApiResult<SystemPruneReport> {
    api.prune_system(all_images, volumes).await
}

// ---- containers ----

#[tauri::command(rename_all = "snake_case")]
pub async fn list_containers(api: Api<'_>, all: bool) -> ApiResult<Vec<ContainerSummary>> {
    api.list_containers(all).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn inspect_container(api: Api<'_>, id: String) -> ApiResult<ContainerDetails> {
    api.inspect_container(&id).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn start_container(api: Api<'_>, id: String) -> ApiResult<()> {
    api.start_container(&id).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn stop_container(api: Api<'_>, id: String) -> ApiResult<()> {
    api.stop_container(&id).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn restart_container(api: Api<'_>, id: String) -> ApiResult<()> {
    api.restart_container(&id).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn pause_container(api: Api<'_>, id: String) -> ApiResult<()> {
    api.pause_container(&id).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn unpause_container(api: Api<'_>, id: String) -> ApiResult<()> {
    api.unpause_container(&id).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn remove_container(api: Api<'_>, id: String, force: bool) -> ApiResult<()> {
    api.remove_container(&id, force).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn container_changes(api: Api<'_>, id: String) -> ApiResult<Vec<FileChange>> {
    api.container_changes(&id).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn run_preview(api: Api<'_>, request: RunRequest) -> ApiResult<RunPreview> {
    api.run_preview(&request)
}
#[tauri::command(rename_all = "snake_case")]
pub async fn run_container(api: Api<'_>, request: RunRequest) -> ApiResult<String> {
    api.run_container(&request).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn stream_logs(
    api: Api<'_>,
    id: String,
    options: LogOptions,
    channel: Channel<StreamMsg<LogLine>>,
) -> ApiResult<u64> {
    api.stream_logs(&id, options, sink(channel)).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn stream_stats(api: Api<'_>, id: String, channel: Channel<StreamMsg<StatsSample>>) -> ApiResult<u64> {
    api.stream_stats(&id, sink(channel)).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn stream_events(
    api: Api<'_>,
    filter: EventFilter,
    channel: Channel<StreamMsg<EngineEvent>>,
) -> ApiResult<u64> {
    api.stream_events(filter, sink(channel)).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn cancel_stream(api: Api<'_>, id: u64) -> ApiResult<bool> {
    Ok(api.cancel_stream(id))
}
#[tauri::command(rename_all = "snake_case")]
pub async fn terminal_open(
    api: Api<'_>,
    request: TerminalRequest,
    channel: Channel<StreamMsg<TerminalOutput>>,
) -> ApiResult<u64> {
    api.terminal_open(&request, sink(channel)).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn terminal_input(api: Api<'_>, id: u64, data: String) -> ApiResult<()> {
    api.terminal_input(id, &data).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn terminal_resize(api: Api<'_>, id: u64, rows: u16, cols: u16) -> ApiResult<()> {
    api.terminal_resize(id, rows, cols).await
}

// ---- images ----

#[tauri::command(rename_all = "snake_case")]
pub async fn list_images(api: Api<'_>) -> ApiResult<Vec<ImageSummary>> {
    api.list_images().await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn inspect_image(api: Api<'_>, reference: String) -> ApiResult<ImageDetails> {
    api.inspect_image(&reference).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn image_history(api: Api<'_>, reference: String) -> ApiResult<Vec<ImageLayer>> {
    api.image_history(&reference).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn pull_image(api: Api<'_>, reference: String, channel: Channel<StreamMsg<Progress>>) -> ApiResult<u64> {
    api.pull_image(&reference, sink(channel)).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn push_image(api: Api<'_>, reference: String, channel: Channel<StreamMsg<Progress>>) -> ApiResult<u64> {
    api.push_image(&reference, sink(channel)).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn build_image(api: Api<'_>, spec: BuildSpec, channel: Channel<StreamMsg<BuildEvent>>) -> ApiResult<u64> {
    api.build_image(spec, sink(channel)).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn tag_image(api: Api<'_>, source: String, target: String) -> ApiResult<()> {
    api.tag_image(&source, &target).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn remove_image(api: Api<'_>, reference: String, force: bool) -> ApiResult<Vec<String>> {
    api.remove_image(&reference, force).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn prune_images(api: Api<'_>, all: bool) -> ApiResult<PruneReport> {
    api.prune_images(all).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn load_images(api: Api<'_>, path: String) -> ApiResult<Vec<String>> {
    api.load_images(&path).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn save_images(api: Api<'_>, images: Vec<String>, path: String) -> ApiResult<u64> {
    api.save_images(&images, &path).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn import_image(api: Api<'_>, path: String, reference: String) -> ApiResult<String> {
    api.import_image(&path, &reference).await
}

// ---- volumes ----

#[tauri::command(rename_all = "snake_case")]
pub async fn list_volumes(api: Api<'_>) -> ApiResult<Vec<VolumeSummary>> {
    api.list_volumes().await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn create_volume(api: Api<'_>, name: String) -> ApiResult<VolumeSummary> {
    api.create_volume(&name).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn remove_volume(api: Api<'_>, name: String, force: bool) -> ApiResult<()> {
    api.remove_volume(&name, force).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn browse_volume(api: Api<'_>, name: String) -> ApiResult<VolumeListing> {
    api.browse_volume(&name).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn export_volume(api: Api<'_>, name: String, path: String) -> ApiResult<u64> {
    api.export_volume(&name, &path).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn import_volume(api: Api<'_>, name: String, path: String) -> ApiResult<()> {
    api.import_volume(&name, &path).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn prune_volumes(api: Api<'_>) -> ApiResult<PruneReport> {
    api.prune_volumes().await
}

// ---- networks ----

#[tauri::command(rename_all = "snake_case")]
pub async fn list_networks(api: Api<'_>) -> ApiResult<Vec<NetworkSummary>> {
    api.list_networks().await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn create_network(api: Api<'_>, spec: NetworkSpec) -> ApiResult<String> {
    api.create_network(&spec).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn remove_network(api: Api<'_>, name: String) -> ApiResult<()> {
    api.remove_network(&name).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn connect_network(api: Api<'_>, network: String, container: String) -> ApiResult<()> {
    api.connect_network(&network, &container).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn disconnect_network(api: Api<'_>, network: String, container: String) -> ApiResult<()> {
    api.disconnect_network(&network, &container).await
}

// ---- settings ----

#[tauri::command(rename_all = "snake_case")]
pub async fn get_settings(api: Api<'_>) -> ApiResult<SettingsView> {
    api.get_settings()
}
#[tauri::command(rename_all = "snake_case")]
pub async fn save_settings(api: Api<'_>, form: SettingsForm) -> ApiResult<SaveOutcome> {
    api.save_settings(&form).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn registry_login(
    api: Api<'_>,
    server: String,
    username: String,
    password: String,
) -> ApiResult<Vec<RegistryEntry>> {
    api.registry_login(&server, &username, &password).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn registry_logout(api: Api<'_>, server: String) -> ApiResult<Vec<RegistryEntry>> {
    api.registry_logout(&server).await
}
#[tauri::command(rename_all = "snake_case")]
pub async fn save_download(api: Api<'_>, file_name: String, contents: String) -> ApiResult<String> {
    api.save_download(&file_name, &contents)
}
#[tauri::command(rename_all = "snake_case")]
pub async fn open_url(api: Api<'_>, url: String) -> ApiResult<()> {
    api.open_url(&url)
}

/// The command table, used by `main`.
#[macro_export]
macro_rules! gantry_commands {
    () => {
        tauri::generate_handler![
            commands::engine_status,
            commands::engine_reconnect,
            commands::engine_start,
            commands::engine_start_progress,
            commands::engine_stop,
            commands::watch_vm_status,
            commands::host_stats,
            commands::disk_usage,
            commands::prune_preview,
            commands::prune_system,
            commands::list_containers,
            commands::inspect_container,
            commands::start_container,
            commands::stop_container,
            commands::restart_container,
            commands::pause_container,
            commands::unpause_container,
            commands::remove_container,
            commands::container_changes,
            commands::run_preview,
            commands::run_container,
            commands::stream_logs,
            commands::stream_stats,
            commands::stream_events,
            commands::cancel_stream,
            commands::terminal_open,
            commands::terminal_input,
            commands::terminal_resize,
            commands::list_images,
            commands::inspect_image,
            commands::image_history,
            commands::pull_image,
            commands::push_image,
            commands::build_image,
            commands::tag_image,
            commands::remove_image,
            commands::prune_images,
            commands::load_images,
            commands::save_images,
            commands::import_image,
            commands::list_volumes,
            commands::create_volume,
            commands::remove_volume,
            commands::browse_volume,
            commands::export_volume,
            commands::import_volume,
            commands::prune_volumes,
            commands::list_networks,
            commands::create_network,
            commands::remove_network,
            commands::connect_network,
            commands::disconnect_network,
            commands::get_settings,
            commands::save_settings,
            commands::registry_login,
            commands::registry_logout,
            commands::save_download,
            commands::open_url,
        ]
    };
}

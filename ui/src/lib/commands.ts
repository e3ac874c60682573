// Generated from crates/gantry-core/src/api/command_table.rs by `npm run bindings`: do not edit.
// One typed function per command the webview may call; nothing else calls the IPC.
import { call, stream, type StreamCallbacks, type StreamHandle } from './ipc';
import type { BuildEvent } from './bindings/BuildEvent';
import type { BuildSpec } from './bindings/BuildSpec';
import type { ComposeAction } from './bindings/ComposeAction';
import type { ComposeLogLine } from './bindings/ComposeLogLine';
import type { ComposeOutput } from './bindings/ComposeOutput';
import type { ComposeProject } from './bindings/ComposeProject';
import type { ComposeTarget } from './bindings/ComposeTarget';
import type { ContainerDetails } from './bindings/ContainerDetails';
import type { ContainerSummary } from './bindings/ContainerSummary';
import type { ContentsProgress } from './bindings/ContentsProgress';
import type { DeployReport } from './bindings/DeployReport';
import type { DiskUsage } from './bindings/DiskUsage';
import type { DockerfileReview } from './bindings/DockerfileReview';
import type { DownPreview } from './bindings/DownPreview';
import type { EngineChoice } from './bindings/EngineChoice';
import type { EngineEvent } from './bindings/EngineEvent';
import type { EngineStatus } from './bindings/EngineStatus';
import type { EventFilter } from './bindings/EventFilter';
import type { ExplainedEvent } from './bindings/ExplainedEvent';
import type { FileChange } from './bindings/FileChange';
import type { FixPreview } from './bindings/FixPreview';
import type { Health } from './bindings/Health';
import type { HostStats } from './bindings/HostStats';
import type { HostTerminalRequest } from './bindings/HostTerminalRequest';
import type { ImageDetails } from './bindings/ImageDetails';
import type { ImageLayer } from './bindings/ImageLayer';
import type { ImageSummary } from './bindings/ImageSummary';
import type { ImportEvent } from './bindings/ImportEvent';
import type { ImportReport } from './bindings/ImportReport';
import type { LabCatalogue } from './bindings/LabCatalogue';
import type { LabEvent } from './bindings/LabEvent';
import type { LabResetOutcome } from './bindings/LabResetOutcome';
import type { LabView } from './bindings/LabView';
import type { Lang } from './bindings/Lang';
import type { LayersProgress } from './bindings/LayersProgress';
import type { LogLine } from './bindings/LogLine';
import type { LogOptions } from './bindings/LogOptions';
import type { NetworkSpec } from './bindings/NetworkSpec';
import type { NetworkSummary } from './bindings/NetworkSummary';
import type { NewContext } from './bindings/NewContext';
import type { NodeSummary } from './bindings/NodeSummary';
import type { OpenedBundle } from './bindings/OpenedBundle';
import type { PreflightReport } from './bindings/PreflightReport';
import type { Progress } from './bindings/Progress';
import type { PrunePreview } from './bindings/PrunePreview';
import type { PruneReport } from './bindings/PruneReport';
import type { RegistryEntry } from './bindings/RegistryEntry';
import type { ResetPlan } from './bindings/ResetPlan';
import type { RolloutProgress } from './bindings/RolloutProgress';
import type { RoomCommand } from './bindings/RoomCommand';
import type { RoomEvent } from './bindings/RoomEvent';
import type { RoomOpenOptions } from './bindings/RoomOpenOptions';
import type { RunPreview } from './bindings/RunPreview';
import type { RunRequest } from './bindings/RunRequest';
import type { SaveOutcome } from './bindings/SaveOutcome';
import type { ServiceLogLine } from './bindings/ServiceLogLine';
import type { ServiceSummary } from './bindings/ServiceSummary';
import type { SettingsDefaults } from './bindings/SettingsDefaults';
import type { SettingsForm } from './bindings/SettingsForm';
import type { SettingsView } from './bindings/SettingsView';
import type { StackDeployRequest } from './bindings/StackDeployRequest';
import type { StackRemoval } from './bindings/StackRemoval';
import type { StackSummary } from './bindings/StackSummary';
import type { StatsSample } from './bindings/StatsSample';
import type { StepView } from './bindings/StepView';
import type { SwarmInit } from './bindings/SwarmInit';
import type { SwarmObjectCreate } from './bindings/SwarmObjectCreate';
import type { SwarmObjectKind } from './bindings/SwarmObjectKind';
import type { SwarmObjectSummary } from './bindings/SwarmObjectSummary';
import type { SwarmStatus } from './bindings/SwarmStatus';
import type { SystemPruneReport } from './bindings/SystemPruneReport';
import type { TaskSummary } from './bindings/TaskSummary';
import type { TerminalOutput } from './bindings/TerminalOutput';
import type { TerminalRequest } from './bindings/TerminalRequest';
import type { TopologyUpdate } from './bindings/TopologyUpdate';
import type { TreeNode } from './bindings/TreeNode';
import type { VmEvent } from './bindings/VmEvent';
import type { VolumeListing } from './bindings/VolumeListing';
import type { VolumeSummary } from './bindings/VolumeSummary';
import type { VulnerabilityReport } from './bindings/VulnerabilityReport';
import type { WorkshopBundleView } from './bindings/WorkshopBundleView';

/** Every command's name. */
export type CommandName =
  | 'engine_status'
  | 'engine_reconnect'
  | 'engine_start'
  | 'engine_stop'
  | 'vm_watch'
  | 'stream_cancel'
  | 'host_stats'
  | 'system_disk_usage'
  | 'system_prune_preview'
  | 'system_prune'
  | 'system_events'
  | 'container_list'
  | 'container_inspect'
  | 'container_start'
  | 'container_stop'
  | 'container_restart'
  | 'container_pause'
  | 'container_unpause'
  | 'container_remove'
  | 'container_changes'
  | 'container_run_preview'
  | 'container_run'
  | 'container_logs'
  | 'container_stats'
  | 'terminal_open'
  | 'terminal_input'
  | 'terminal_resize'
  | 'host_terminal_open'
  | 'compose_open'
  | 'compose_project_open'
  | 'compose_down_preview'
  | 'compose_run'
  | 'compose_logs'
  | 'image_list'
  | 'image_inspect'
  | 'image_history'
  | 'image_pull'
  | 'image_push'
  | 'image_build'
  | 'image_tag'
  | 'image_remove'
  | 'image_prune'
  | 'image_load'
  | 'image_save'
  | 'image_import'
  | 'image_layers'
  | 'image_layer_tree'
  | 'image_contents'
  | 'image_sbom'
  | 'image_vulns'
  | 'dockerfile_lint'
  | 'dockerfile_fix_preview'
  | 'dockerfile_fix_apply'
  | 'system_events_explained'
  | 'topology_watch'
  | 'volume_list'
  | 'volume_create'
  | 'volume_remove'
  | 'volume_prune'
  | 'volume_browse'
  | 'volume_export'
  | 'volume_import'
  | 'network_list'
  | 'network_create'
  | 'network_remove'
  | 'network_connect'
  | 'network_disconnect'
  | 'context_list'
  | 'context_use'
  | 'context_add'
  | 'context_remove'
  | 'engine_latency'
  | 'engine_health'
  | 'swarm_status'
  | 'swarm_init'
  | 'swarm_leave'
  | 'node_list'
  | 'service_list'
  | 'service_tasks'
  | 'service_scale'
  | 'service_update_image'
  | 'service_remove'
  | 'service_watch'
  | 'service_logs'
  | 'stack_list'
  | 'stack_deploy'
  | 'stack_remove'
  | 'swarm_object_list'
  | 'swarm_object_create'
  | 'swarm_object_remove'
  | 'settings_get'
  | 'settings_save'
  | 'registry_login'
  | 'registry_logout'
  | 'lab_list'
  | 'lab_show'
  | 'lab_step'
  | 'lab_start'
  | 'lab_watch'
  | 'lab_reset_preview'
  | 'lab_reset'
  | 'workshop_import'
  | 'workshop_inspect'
  | 'workshop_list'
  | 'workshop_apply_settings'
  | 'workshop_opened'
  | 'workshop_preflight'
  | 'workshop_room_open'
  | 'workshop_room_command'
  | 'workshop_room_csv'
  | 'download_save'
  | 'url_open';

/** Which engine the app talks to, whether it answers, its version and the VM's state. */
export function engineStatus(): Promise<EngineStatus> {
  return call<EngineStatus>('engine_status', {});
}

/** Connects again and says how it went. */
export function engineReconnect(): Promise<EngineStatus> {
  return call<EngineStatus>('engine_reconnect', {});
}

/** Starts Gantry's VM; streams each start-up step as it happens. */
export function engineStart(on: StreamCallbacks<VmEvent>): Promise<StreamHandle> {
  return stream<VmEvent>('engine_start', {}, on);
}

/** Stops Gantry's VM (only Gantry's own engine is ever stopped). */
export function engineStop(): Promise<EngineStatus> {
  return call<EngineStatus>('engine_stop', {});
}

/** Follows the VM's status events live. */
export function vmWatch(on: StreamCallbacks<VmEvent>): Promise<StreamHandle> {
  return stream<VmEvent>('vm_watch', {}, on);
}

/** Stops a stream by its id. */
export function streamCancel(id: number): Promise<boolean> {
  return call<boolean>('stream_cancel', { id });
}

/** This computer's CPUs and memory use. */
export function hostStats(): Promise<HostStats> {
  return call<HostStats>('host_stats', {});
}

/** What the engine's images, containers, volumes and build cache take on disk. */
export function systemDiskUsage(): Promise<DiskUsage> {
  return call<DiskUsage>('system_disk_usage', {});
}

/** What a clean-up with these options would delete. */
export function systemPrunePreview(all_images: boolean, volumes: boolean): Promise<PrunePreview> {
  return call<PrunePreview>('system_prune_preview', { all_images, volumes });
}

/** Deletes stopped containers, unused networks, dangling (or all unused) images, the build cache, and unused volumes when asked. */
export function systemPrune(all_images: boolean, volumes: boolean): Promise<SystemPruneReport> {
  return call<SystemPruneReport>('system_prune', { all_images, volumes });
}

/** The engine's events as they happen (from `filter.since`). */
export function systemEvents(filter: EventFilter, on: StreamCallbacks<EngineEvent>): Promise<StreamHandle> {
  return stream<EngineEvent>('system_events', { filter }, on);
}

/** Containers (running only unless `all`). */
export function containerList(all: boolean): Promise<Array<ContainerSummary>> {
  return call<Array<ContainerSummary>>('container_list', { all });
}

export function containerInspect(id: string): Promise<ContainerDetails> {
  return call<ContainerDetails>('container_inspect', { id });
}

export function containerStart(id: string): Promise<null> {
  return call<null>('container_start', { id });
}

export function containerStop(id: string): Promise<null> {
  return call<null>('container_stop', { id });
}

export function containerRestart(id: string): Promise<null> {
  return call<null>('container_restart', { id });
}

export function containerPause(id: string): Promise<null> {
  return call<null>('container_pause', { id });
}

export function containerUnpause(id: string): Promise<null> {
  return call<null>('container_unpause', { id });
}

export function containerRemove(id: string, force: boolean): Promise<null> {
  return call<null>('container_remove', { id, force });
}

/** Files the container added, changed or deleted compared with its image. */
export function containerChanges(id: string): Promise<Array<FileChange>> {
  return call<Array<FileChange>>('container_changes', { id });
}

/** The Run dialog's equivalent `docker run` command, or what is wrong with the form. */
export function containerRunPreview(request: RunRequest): Promise<RunPreview> {
  return call<RunPreview>('container_run_preview', { request });
}

/** Creates and starts a container from the Run dialog; returns its ID. */
export function containerRun(request: RunRequest): Promise<string> {
  return call<string>('container_run', { request });
}

export function containerLogs(id: string, options: LogOptions, on: StreamCallbacks<LogLine>): Promise<StreamHandle> {
  return stream<LogLine>('container_logs', { id, options }, on);
}

export function containerStats(id: string, on: StreamCallbacks<StatsSample>): Promise<StreamHandle> {
  return stream<StatsSample>('container_stats', { id }, on);
}

/** Opens `/bin/sh` with a TTY in a container. */
export function terminalOpen(request: TerminalRequest, on: StreamCallbacks<TerminalOutput>): Promise<StreamHandle> {
  return stream<TerminalOutput>('terminal_open', { request }, on);
}

export function terminalInput(id: number, data: string): Promise<null> {
  return call<null>('terminal_input', { id, data });
}

export function terminalResize(id: number, rows: number, cols: number): Promise<null> {
  return call<null>('terminal_resize', { id, rows, cols });
}

/** Opens the Learn panel's terminal on this computer (when turned on in Settings): the user's shell, chosen by Gantry; only the size comes from here. Input and resize as above. */
export function hostTerminalOpen(request: HostTerminalRequest, on: StreamCallbacks<TerminalOutput>): Promise<StreamHandle> {
  return stream<TerminalOutput>('host_terminal_open', { request }, on);
}

/** Opens a compose file, or the folder holding one, checked by `docker compose config`. */
export function composeOpen(path: string): Promise<ComposeProject> {
  return call<ComposeProject>('compose_open', { path });
}

/** Opens a compose project found on the engine (also one Gantry did not start). */
export function composeProjectOpen(name: string): Promise<ComposeProject> {
  return call<ComposeProject>('compose_project_open', { name });
}

/** What a down of the project deletes now (containers, networks, and volumes when asked). */
export function composeDownPreview(name: string, volumes: boolean): Promise<DownPreview> {
  return call<DownPreview>('compose_down_preview', { name, volumes });
}

/** Runs up, stop, restart or down on a project (up, stop and restart also on some of its services); streams compose's output. */
export function composeRun(target: ComposeTarget, action: ComposeAction, services: Array<string>, on: StreamCallbacks<ComposeOutput>): Promise<StreamHandle> {
  return stream<ComposeOutput>('compose_run', { target, action, services }, on);
}

/** Follows the logs of every service of a project, interleaved, each line with its service. */
export function composeLogs(target: ComposeTarget, tail: number, on: StreamCallbacks<ComposeLogLine>): Promise<StreamHandle> {
  return stream<ComposeLogLine>('compose_logs', { target, tail }, on);
}

export function imageList(): Promise<Array<ImageSummary>> {
  return call<Array<ImageSummary>>('image_list', {});
}

export function imageInspect(reference: string): Promise<ImageDetails> {
  return call<ImageDetails>('image_inspect', { reference });
}

export function imageHistory(reference: string): Promise<Array<ImageLayer>> {
  return call<Array<ImageLayer>>('image_history', { reference });
}

export function imagePull(reference: string, on: StreamCallbacks<Progress>): Promise<StreamHandle> {
  return stream<Progress>('image_pull', { reference }, on);
}

export function imagePush(reference: string, on: StreamCallbacks<Progress>): Promise<StreamHandle> {
  return stream<Progress>('image_push', { reference }, on);
}

export function imageBuild(spec: BuildSpec, on: StreamCallbacks<BuildEvent>): Promise<StreamHandle> {
  return stream<BuildEvent>('image_build', { spec }, on);
}

export function imageTag(source: string, target: string): Promise<null> {
  return call<null>('image_tag', { source, target });
}

export function imageRemove(reference: string, force: boolean): Promise<Array<string>> {
  return call<Array<string>>('image_remove', { reference, force });
}

export function imagePrune(all: boolean): Promise<PruneReport> {
  return call<PruneReport>('image_prune', { all });
}

export function imageLoad(path: string): Promise<Array<string>> {
  return call<Array<string>>('image_load', { path });
}

/** Saves images to a tar file; replaces an existing file only when `replace`. */
export function imageSave(images: Array<string>, path: string, replace: boolean): Promise<number> {
  return call<number>('image_save', { images, path, replace });
}

export function imageImport(path: string, reference: string): Promise<string> {
  return call<string>('image_import', { path, reference });
}

/** Reads an image's layers and analyses them (size, wasted bytes, efficiency, biggest files); progress, then the report. */
export function imageLayers(reference: string, on: StreamCallbacks<LayersProgress>): Promise<StreamHandle> {
  return stream<LayersProgress>('image_layers', { reference }, on);
}

/** One layer's file tree with what it added, changed and removed. */
export function imageLayerTree(reference: string, layer: number): Promise<TreeNode> {
  return call<TreeNode>('image_layer_tree', { reference, layer });
}

/** Reads the packages an image holds; progress, then the table. */
export function imageContents(reference: string, on: StreamCallbacks<ContentsProgress>): Promise<StreamHandle> {
  return stream<ContentsProgress>('image_contents', { reference }, on);
}

/** The image's packages as a CycloneDX JSON document. */
export function imageSbom(reference: string): Promise<string> {
  return call<string>('image_sbom', { reference });
}

/** The image's known vulnerabilities from an OSV database file, offline. */
export function imageVulns(reference: string, database: string): Promise<VulnerabilityReport> {
  return call<VulnerabilityReport>('image_vulns', { reference, database });
}

/** A Dockerfile (or a build context folder's) with its advice. */
export function dockerfileLint(path: string, lang: Lang): Promise<DockerfileReview> {
  return call<DockerfileReview>('dockerfile_lint', { path, lang });
}

/** The diffs the chosen fixes would make; writes nothing. */
export function dockerfileFixPreview(path: string, revision: string, findings: Array<number>, lang: Lang): Promise<FixPreview> {
  return call<FixPreview>('dockerfile_fix_preview', { path, revision, findings, lang });
}

/** Writes the chosen fixes, refused when the file changed since it was read. */
export function dockerfileFixApply(path: string, revision: string, findings: Array<number>, lang: Lang): Promise<DockerfileReview> {
  return call<DockerfileReview>('dockerfile_fix_apply', { path, revision, findings, lang });
}

/** The engine's events as they happen, each explained in plain language. */
export function systemEventsExplained(filter: EventFilter, lang: Lang, on: StreamCallbacks<ExplainedEvent>): Promise<StreamHandle> {
  return stream<ExplainedEvent>('system_events_explained', { filter, lang }, on);
}

/** The live picture of ports, containers, networks, volumes and host folders, updated on every change. */
export function topologyWatch(on: StreamCallbacks<TopologyUpdate>): Promise<StreamHandle> {
  return stream<TopologyUpdate>('topology_watch', {}, on);
}

export function volumeList(): Promise<Array<VolumeSummary>> {
  return call<Array<VolumeSummary>>('volume_list', {});
}

export function volumeCreate(name: string): Promise<VolumeSummary> {
  return call<VolumeSummary>('volume_create', { name });
}

export function volumeRemove(name: string, force: boolean): Promise<null> {
  return call<null>('volume_remove', { name, force });
}

export function volumePrune(): Promise<PruneReport> {
  return call<PruneReport>('volume_prune', {});
}

export function volumeBrowse(name: string): Promise<VolumeListing> {
  return call<VolumeListing>('volume_browse', { name });
}

/** Writes a volume's files to a tar file; replaces an existing file only when `replace`. */
export function volumeExport(name: string, path: string, replace: boolean): Promise<number> {
  return call<number>('volume_export', { name, path, replace });
}

export function volumeImport(name: string, path: string): Promise<null> {
  return call<null>('volume_import', { name, path });
}

export function networkList(): Promise<Array<NetworkSummary>> {
  return call<Array<NetworkSummary>>('network_list', {});
}

export function networkCreate(spec: NetworkSpec): Promise<string> {
  return call<string>('network_create', { spec });
}

export function networkRemove(name: string): Promise<null> {
  return call<null>('network_remove', { name });
}

export function networkConnect(network: string, container: string): Promise<null> {
  return call<null>('network_connect', { network, container });
}

export function networkDisconnect(network: string, container: string): Promise<null> {
  return call<null>('network_disconnect', { network, container });
}

/** Gantry's VM, then every docker context, with the one Gantry and the one the docker CLI use marked. */
export function contextList(): Promise<Array<EngineChoice>> {
  return call<Array<EngineChoice>>('context_list', {});
}

/** Makes Gantry (and with `docker_cli` the docker CLI) use an engine; streams of the previous one end. */
export function contextUse(name: string, docker_cli: boolean): Promise<EngineStatus> {
  return call<EngineStatus>('context_use', { name, docker_cli });
}

/** Adds a docker context (SSH host, or TCP with CA, certificate and key) the docker CLI sees too. */
export function contextAdd(context: NewContext): Promise<EngineChoice> {
  return call<EngineChoice>('context_add', { context });
}

/** Removes a docker context and its TLS files (the one in use only with `force`). */
export function contextRemove(name: string, force: boolean): Promise<null> {
  return call<null>('context_remove', { name, force });
}

/** One ping's round trip to the selected engine, in milliseconds. */
export function engineLatency(): Promise<number> {
  return call<number>('engine_latency', {});
}

/** The selected engine's latency every few seconds, a lost connection and its return. */
export function engineHealth(on: StreamCallbacks<Health>): Promise<StreamHandle> {
  return stream<Health>('engine_health', {}, on);
}

export function swarmStatus(): Promise<SwarmStatus> {
  return call<SwarmStatus>('swarm_status', {});
}

/** Makes the selected engine the first manager of a new swarm (`docker swarm init`). */
export function swarmInit(init: SwarmInit): Promise<SwarmStatus> {
  return call<SwarmStatus>('swarm_init', { init });
}

export function swarmLeave(force: boolean): Promise<SwarmStatus> {
  return call<SwarmStatus>('swarm_leave', { force });
}

export function nodeList(): Promise<Array<NodeSummary>> {
  return call<Array<NodeSummary>>('node_list', {});
}

export function serviceList(): Promise<Array<ServiceSummary>> {
  return call<Array<ServiceSummary>>('service_list', {});
}

export function serviceTasks(service: string): Promise<Array<TaskSummary>> {
  return call<Array<TaskSummary>>('service_tasks', { service });
}

export function serviceScale(service: string, replicas: number): Promise<Array<string>> {
  return call<Array<string>>('service_scale', { service, replicas });
}

/** Rolls a service to another image as its update policy says. */
export function serviceUpdateImage(service: string, image: string): Promise<Array<string>> {
  return call<Array<string>>('service_update_image', { service, image });
}

export function serviceRemove(service: string): Promise<null> {
  return call<null>('service_remove', { service });
}

/** Follows a service to convergence (a scale or a rolling update); the last reading is `done`. */
export function serviceWatch(service: string, on: StreamCallbacks<RolloutProgress>): Promise<StreamHandle> {
  return stream<RolloutProgress>('service_watch', { service }, on);
}

/** A service's logs across its tasks (with `follow`, tasks started later too). */
export function serviceLogs(service: string, options: LogOptions, on: StreamCallbacks<ServiceLogLine>): Promise<StreamHandle> {
  return stream<ServiceLogLine>('service_logs', { service, options }, on);
}

export function stackList(): Promise<Array<StackSummary>> {
  return call<Array<StackSummary>>('stack_list', {});
}

/** Deploys (or updates) a stack from a compose file; nothing changes when the file is wrong. */
export function stackDeploy(request: StackDeployRequest): Promise<DeployReport> {
  return call<DeployReport>('stack_deploy', { request });
}

export function stackRemove(name: string): Promise<StackRemoval> {
  return call<StackRemoval>('stack_remove', { name });
}

/** The swarm's secrets or configs (never their contents). */
export function swarmObjectList(kind: SwarmObjectKind): Promise<Array<SwarmObjectSummary>> {
  return call<Array<SwarmObjectSummary>>('swarm_object_list', { kind });
}

/** Makes a secret or config from a file. */
export function swarmObjectCreate(request: SwarmObjectCreate): Promise<SwarmObjectSummary> {
  return call<SwarmObjectSummary>('swarm_object_create', { request });
}

export function swarmObjectRemove(kind: SwarmObjectKind, name: string): Promise<null> {
  return call<null>('swarm_object_remove', { kind, name });
}

export function settingsGet(): Promise<SettingsView> {
  return call<SettingsView>('settings_get', {});
}

export function settingsSave(form: SettingsForm): Promise<SaveOutcome> {
  return call<SaveOutcome>('settings_save', { form });
}

export function registryLogin(server: string, username: string, password: string): Promise<Array<RegistryEntry>> {
  return call<Array<RegistryEntry>>('registry_login', { server, username, password });
}

export function registryLogout(server: string): Promise<Array<RegistryEntry>> {
  return call<Array<RegistryEntry>>('registry_logout', { server });
}

/** The labs, with the learner's progress in each. */
export function labList(lang: Lang): Promise<LabCatalogue> {
  return call<LabCatalogue>('lab_list', { lang });
}

/** A lab's overview: its steps (which passed), its work folder and ports once started. */
export function labShow(id: string, lang: Lang): Promise<LabView> {
  return call<LabView>('lab_show', { id, lang });
}

/** One step (0-based): its Markdown, check labels, hints and solution. */
export function labStep(id: string, index: number, lang: Lang): Promise<StepView> {
  return call<StepView>('lab_step', { id, index, lang });
}

/** Starts a lab, or resumes it as it was. */
export function labStart(id: string, lang: Lang): Promise<LabView> {
  return call<LabView>('lab_start', { id, lang });
}

/** Checks the current step live, step after step, until the lab is done. */
export function labWatch(id: string, on: StreamCallbacks<LabEvent>): Promise<StreamHandle> {
  return stream<LabEvent>('lab_watch', { id }, on);
}

/** What resetting the lab would remove (only what it created). */
export function labResetPreview(id: string): Promise<ResetPlan> {
  return call<ResetPlan>('lab_reset_preview', { id });
}

/** Removes what the lab created, puts its files back, starts it again. */
export function labReset(id: string, lang: Lang): Promise<LabResetOutcome> {
  return call<LabResetOutcome>('lab_reset', { id, lang });
}

/** Imports a workshop bundle: verifies every part, loads its images and installs its labs, with progress; importing again continues where it stopped. */
export function workshopImport(path: string, trusted_key: string | null, on: StreamCallbacks<ImportEvent>): Promise<StreamHandle> {
  return stream<ImportEvent>('workshop_import', { path, trusted_key }, on);
}

/** What a bundle holds (its table of contents and signature checked), before importing it. */
export function workshopInspect(path: string): Promise<WorkshopBundleView> {
  return call<WorkshopBundleView>('workshop_inspect', { path });
}

/** The workshops imported on this computer, newest first. */
export function workshopList(): Promise<Array<ImportReport>> {
  return call<Array<ImportReport>>('workshop_list', {});
}

/** Takes a bundle's suggested VM CPUs, memory and registry mirror into the settings (checked like any settings change). */
export function workshopApplySettings(defaults: SettingsDefaults): Promise<SaveOutcome> {
  return call<SaveOutcome>('workshop_apply_settings', { defaults });
}

/** The bundles the desktop is asked to open (dropped on the window, "Open with"), checked; the Workshops panel imports them. */
export function workshopOpened(on: StreamCallbacks<OpenedBundle>): Promise<StreamHandle> {
  return stream<OpenedBundle>('workshop_opened', {}, on);
}

/** The workshop preflight of this computer (and of a bundle when given), to send the trainer. */
export function workshopPreflight(bundle: string | null): Promise<PreflightReport> {
  return call<PreflightReport>('workshop_preflight', { bundle });
}

/** Opens the trainer's room for a bundle (registry, join code, the projector's page) and follows its grid live; cancelling closes it. */
export function workshopRoomOpen(path: string, options: RoomOpenOptions, on: StreamCallbacks<RoomEvent>): Promise<StreamHandle> {
  return stream<RoomEvent>('workshop_room_open', { path, options }, on);
}

/** Tells every participant following the room to reset a lab or go to a step; returns how many it reached. */
export function workshopRoomCommand(command: RoomCommand): Promise<number> {
  return call<number>('workshop_room_command', { command });
}

/** The open room's grid as CSV. */
export function workshopRoomCsv(): Promise<string> {
  return call<string>('workshop_room_csv', {});
}

/** Saves text in the download folder (never elsewhere); returns the path written. */
export function downloadSave(file_name: string, contents: string): Promise<string> {
  return call<string>('download_save', { file_name, contents });
}

/** Opens a published port (`http://localhost:PORT`) in the default browser. */
export function urlOpen(url: string): Promise<null> {
  return call<null>('url_open', { url });
}

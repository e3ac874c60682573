// App-wide reactive state: the current panel, theme, engine status, live resource lists
// (refreshed from engine events, never polled) and the events timeline.
import { toApiError, type ApiError, type StreamHandle } from '../ipc';
import { containerList, engineReconnect, engineStatus, imageList, networkList, systemEvents, vmWatch, volumeList } from '../commands';
import type { ContainerSummary } from '../bindings/ContainerSummary';
import type { EngineStatus } from '../bindings/EngineStatus';
import type { ImageSummary } from '../bindings/ImageSummary';
import type { NetworkSummary } from '../bindings/NetworkSummary';
import type { VmEvent } from '../bindings/VmEvent';
import type { VolumeSummary } from '../bindings/VolumeSummary';
import { staleResources } from './containers';
import { Timeline, type TimelineEntry } from './events';
import { statusDown, statusWhenDown, vmAction, withVm } from './vm';

export type Panel = 'dashboard' | 'containers' | 'images' | 'volumes' | 'networks' | 'events' | 'settings';
export const PANELS: { id: Panel; label: string; key: string }[] = [
  { id: 'dashboard', label: 'Dashboard', key: '1' },
  { id: 'containers', label: 'Containers', key: '2' },
  { id: 'images', label: 'Images', key: '3' },
  { id: 'volumes', label: 'Volumes', key: '4' },
  { id: 'networks', label: 'Networks', key: '5' },
  { id: 'events', label: 'Events', key: '6' },
  { id: 'settings', label: 'Settings', key: '7' },
];

export type ThemeName = 'system' | 'light' | 'dark';

interface Resource<T> {
  items: T[];
  loaded: boolean;
  loading: boolean;
  error: ApiError | null;
}

function resource<T>(): Resource<T> {
  return { items: [], loaded: false, loading: false, error: null };
}

/** Timing marks read by the render benchmark (e2e). */
export const perf: Record<string, number> = {};

class AppState {
  panel = $state<Panel>('dashboard');
  /** Container open in the detail view. */
  detailId = $state<string | null>(null);
  theme = $state<ThemeName>('system');
  status = $state<EngineStatus | null>(null);
  /** The last status event of Gantry's VM (when it is the engine), live. */
  vm = $state<VmEvent | null>(null);
  containers = $state.raw<Resource<ContainerSummary>>(resource());
  images = $state.raw<Resource<ImageSummary>>(resource());
  volumes = $state.raw<Resource<VolumeSummary>>(resource());
  networks = $state.raw<Resource<NetworkSummary>>(resource());
  /** Newest first. */
  timeline = $state.raw<TimelineEntry[]>([]);
  private log = new Timeline();
  eventsError = $state<ApiError | null>(null);
  toasts = $state<{ id: number; text: string; kind: 'ok' | 'error' }[]>([]);
  runDialog = $state<{ open: boolean; image: string }>({ open: false, image: '' });

  private events: StreamHandle | null = null;
  private vmWatch: StreamHandle | null = null;
  private vmWatchStarting = false;
  private pending = new Set<'containers' | 'images' | 'volumes' | 'networks'>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private toastSeq = 0;

  go(panel: Panel) {
    this.panel = panel;
    if (panel !== 'containers') this.detailId = null;
  }

  openContainer(id: string) {
    this.panel = 'containers';
    this.detailId = id;
  }

  toast(text: string, kind: 'ok' | 'error' = 'ok') {
    const id = ++this.toastSeq;
    this.toasts = [...this.toasts.slice(-2), { id, text, kind }];
    setTimeout(() => this.dismiss(id), 4000);
  }

  dismiss(id: number) {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  async refreshStatus() {
    this.status = await engineStatus().catch((e) => statusDown(null, toApiError(e)));
    if (this.status.connected && !this.events) await this.subscribe();
    if (this.status.origin === 'gantry_vm') void this.watchVm();
    return this.status;
  }

  /** Follows Gantry's VM live (stops and starts from the CLI too); restarts the watch when it
   * ends (stopping the VM from the app ends every stream). */
  async watchVm() {
    if (this.vmWatch || this.vmWatchStarting) return;
    this.vmWatchStarting = true;
    try {
      this.vmWatch = await vmWatch({
        items: (evs) => {
          for (const ev of evs) void this.onVm(ev);
        },
        end: () => {
          this.vmWatch = null;
          setTimeout(() => {
            if (this.status?.origin === 'gantry_vm') void this.watchVm();
          }, 1000);
        },
      });
    } catch {
      // not the VM (`not_managed`): nothing to watch
      this.vmWatch = null;
      this.vm = null;
    } finally {
      this.vmWatchStarting = false;
    }
  }

  private async onVm(ev: VmEvent) {
    this.vm = ev;
    const action = vmAction(ev, !!this.status?.connected);
    if (action === 'disconnect') {
      this.status = statusWhenDown(this.status, ev);
    } else if (action === 'reconnect') {
      const status = await engineReconnect().catch(() => null);
      if (!status) return;
      this.status = status;
      if (status.connected) {
        await this.resubscribe();
        await this.loadAll();
      }
    } else if (this.status) {
      this.status = ev.kind === 'stopped' || ev.kind === 'error' ? statusWhenDown(this.status, ev) : withVm(this.status, ev);
    }
  }

  async loadContainers() {
    const t0 = performance.now();
    await this.load('containers', () => containerList(true));
    perf.containersFetched = performance.now() - t0;
  }
  async loadImages() {
    await this.load('images', imageList);
  }
  async loadVolumes() {
    await this.load('volumes', volumeList);
  }
  async loadNetworks() {
    await this.load('networks', networkList);
  }

  private async load(key: 'containers' | 'images' | 'volumes' | 'networks', list: () => Promise<unknown[]>) {
    const prev = this[key] as Resource<unknown>;
    this[key] = { ...prev, loading: true } as never;
    try {
      const items = await list();
      this[key] = { items, loaded: true, loading: false, error: null } as never;
    } catch (e) {
      this[key] = { ...prev, loaded: true, loading: false, error: toApiError(e) } as never;
    }
  }

  async loadAll() {
    await Promise.all([this.loadContainers(), this.loadImages(), this.loadVolumes(), this.loadNetworks()]);
  }

  /** One events stream for the whole app: it feeds the timeline and refreshes stale lists. */
  async subscribe() {
    if (this.events) return;
    try {
      // Start with the last 15 minutes so the timeline is not empty on open.
      this.log = new Timeline();
      const since = Math.floor(Date.now() / 1000) - 15 * 60;
      this.events = await systemEvents({ resources: [], container: null, since }, {
        items: (evs) => {
          this.log.add(evs);
          this.timeline = this.log.entries;
          for (const ev of evs) for (const r of staleResources(ev)) this.pending.add(r);
          this.schedule();
        },
        error: (e) => {
          this.eventsError = e;
        },
        end: () => {
          this.events = null;
        },
      });
      this.eventsError = null;
    } catch (e) {
      this.eventsError = toApiError(e);
    }
  }

  private schedule() {
    if (this.timer || this.pending.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const todo = [...this.pending];
      this.pending.clear();
      for (const r of todo) {
        if (r === 'containers') void this.loadContainers();
        if (r === 'images' && this.images.loaded) void this.loadImages();
        if (r === 'volumes' && this.volumes.loaded) void this.loadVolumes();
        if (r === 'networks' && this.networks.loaded) void this.loadNetworks();
      }
    }, 120);
  }

  async resubscribe() {
    await this.events?.cancel();
    this.events = null;
    await this.subscribe();
  }
}

export const app = new AppState();

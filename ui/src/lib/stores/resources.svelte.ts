// The engine's resource lists (containers, images, volumes, networks), loaded on demand and
// refreshed when engine events make them stale: never polled.
import type { ContainerSummary } from '../bindings/ContainerSummary';
import type { ImageSummary } from '../bindings/ImageSummary';
import type { NetworkSummary } from '../bindings/NetworkSummary';
import type { VolumeSummary } from '../bindings/VolumeSummary';
import { containerList, imageList, networkList, volumeList } from '../commands';
import { toApiError, type ApiError } from '../ipc';
import type { ResourceKind } from './containers';
import { perf } from './perf';

export interface Resource<T> {
  items: T[];
  loaded: boolean;
  loading: boolean;
  error: ApiError | null;
}

function resource<T>(): Resource<T> {
  return { items: [], loaded: false, loading: false, error: null };
}

class Resources {
  containers = $state.raw<Resource<ContainerSummary>>(resource());
  images = $state.raw<Resource<ImageSummary>>(resource());
  volumes = $state.raw<Resource<VolumeSummary>>(resource());
  networks = $state.raw<Resource<NetworkSummary>>(resource());

  private stale = new Set<ResourceKind>();
  private timer: ReturnType<typeof setTimeout> | null = null;

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

  async loadAll() {
    await Promise.all([this.loadContainers(), this.loadImages(), this.loadVolumes(), this.loadNetworks()]);
  }

  /** Lists that engine events made stale are loaded again shortly (several events, one load);
   * lists nobody opened yet stay unloaded. */
  markStale(kinds: Iterable<ResourceKind>) {
    for (const k of kinds) this.stale.add(k);
    if (this.timer || this.stale.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const todo = [...this.stale];
      this.stale.clear();
      for (const r of todo) {
        if (r === 'containers') void this.loadContainers();
        if (r === 'images' && this.images.loaded) void this.loadImages();
        if (r === 'volumes' && this.volumes.loaded) void this.loadVolumes();
        if (r === 'networks' && this.networks.loaded) void this.loadNetworks();
      }
    }, 120);
  }

  private async load<K extends ResourceKind>(key: K, list: () => Promise<this[K]['items']>) {
    const prev = this[key] as Resource<unknown>;
    this[key] = { ...prev, loading: true } as never;
    try {
      const items = await list();
      this[key] = { items, loaded: true, loading: false, error: null } as never;
    } catch (e) {
      this[key] = { ...prev, loaded: true, loading: false, error: toApiError(e) } as never;
    }
  }
}

export const resources = new Resources();

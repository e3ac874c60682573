// The engine switcher's and the Swarm view's state: engines and contexts, the selected engine's
// health (latency, a lost connection), and the swarm's services, nodes and stacks.
import type { ApiError } from '../bindings/ApiError';
import type { DeployReport } from '../bindings/DeployReport';
import type { EngineChoice } from '../bindings/EngineChoice';
import type { EngineStatus } from '../bindings/EngineStatus';
import type { Health } from '../bindings/Health';
import type { NewContext } from '../bindings/NewContext';
import type { NodeSummary } from '../bindings/NodeSummary';
import type { RolloutProgress } from '../bindings/RolloutProgress';
import type { ServiceSummary } from '../bindings/ServiceSummary';
import type { StackSummary } from '../bindings/StackSummary';
import type { SwarmStatus } from '../bindings/SwarmStatus';
import {
  contextAdd,
  contextList,
  contextRemove,
  contextUse,
  engineHealth,
  nodeList,
  serviceList,
  serviceRemove,
  serviceScale,
  serviceUpdateImage,
  serviceWatch,
  stackDeploy,
  stackList,
  stackRemove,
  swarmInit,
  swarmStatus,
} from '../commands';
import { toApiError, type StreamHandle } from '../ipc';

class RemoteStore {
  engines = $state.raw<EngineChoice[]>([]);
  enginesError = $state<ApiError | null>(null);
  health = $state.raw<Health | null>(null);
  swarm = $state.raw<SwarmStatus | null>(null);
  services = $state.raw<ServiceSummary[]>([]);
  nodes = $state.raw<NodeSummary[]>([]);
  stacks = $state.raw<StackSummary[]>([]);
  swarmError = $state<ApiError | null>(null);
  /** The last reading of each rollout followed, by service name. */
  rollouts = $state<Record<string, RolloutProgress>>({});
  private healthStream: StreamHandle | null = null;
  private watches = new Map<string, StreamHandle>();

  selected = $derived(this.engines.find((e) => e.selected) ?? null);

  async loadEngines() {
    try {
      this.engines = await contextList();
      this.enginesError = null;
    } catch (e) {
      this.enginesError = toApiError(e);
    }
  }

  /** Follows the selected engine's latency and connection (again after a switch). */
  async watchHealth() {
    await this.healthStream?.cancel();
    this.health = null;
    try {
      this.healthStream = await engineHealth({ items: (items) => (this.health = items[items.length - 1] ?? this.health) });
    } catch {
      this.healthStream = null;
    }
  }

  /** Switches Gantry to `name`; the new engine's status. */
  async use(name: string, dockerCli: boolean): Promise<EngineStatus> {
    const status = await contextUse(name, dockerCli);
    await this.loadEngines();
    void this.watchHealth();
    this.clearSwarm();
    return status;
  }

  async add(context: NewContext) {
    await contextAdd(context);
    await this.loadEngines();
  }

  async remove(name: string) {
    await contextRemove(name, false);
    await this.loadEngines();
  }

  clearSwarm() {
    this.swarm = null;
    this.services = [];
    this.nodes = [];
    this.stacks = [];
    this.swarmError = null;
  }

  /** The swarm state and, on a manager, its services, nodes and stacks. */
  async loadSwarm() {
    try {
      this.swarm = await swarmStatus();
      if (this.swarm.manager) {
        [this.services, this.nodes, this.stacks] = await Promise.all([serviceList(), nodeList(), stackList()]);
      } else {
        this.services = [];
        this.nodes = [];
        this.stacks = [];
      }
      this.swarmError = null;
    } catch (e) {
      this.swarmError = toApiError(e);
    }
  }

  async swarmInit() {
    this.swarm = await swarmInit({ advertise_address: null, listen_address: null });
    await this.loadSwarm();
  }

  /** Follows a service to convergence; the lists are read again at its end. */
  async watch(service: string) {
    await this.watches.get(service)?.cancel();
    const handle = await serviceWatch(service, {
      items: (items) => {
        const last = items[items.length - 1];
        if (last) this.rollouts = { ...this.rollouts, [service]: last };
      },
      end: () => {
        this.watches.delete(service);
        void this.loadSwarm();
      },
      error: (e) => (this.swarmError = e),
    });
    this.watches.set(service, handle);
  }

  async scale(service: string, replicas: number) {
    await serviceScale(service, replicas);
    await this.watch(service);
  }

  async updateImage(service: string, image: string) {
    await serviceUpdateImage(service, image);
    await this.watch(service);
  }

  async removeService(service: string) {
    await serviceRemove(service);
    await this.loadSwarm();
  }

  async deployStack(name: string, composeFile: string): Promise<DeployReport> {
    const report = await stackDeploy({ name, compose_file: composeFile, prune: false });
    await this.loadSwarm();
    for (const s of [...report.created, ...report.updated]) void this.watch(s);
    return report;
  }

  async removeStack(name: string) {
    await stackRemove(name);
    await this.loadSwarm();
  }
}

export const remote = new RemoteStore();

// The engine the app talks to and, when it is Gantry's VM, the VM followed live (starts and stops
// from the CLI too). Reconnects and reloads the lists when the engine comes up.
import type { EngineStatus } from '../bindings/EngineStatus';
import type { VmEvent } from '../bindings/VmEvent';
import { engineReconnect, engineStatus, vmWatch } from '../commands';
import { toApiError, type StreamHandle } from '../ipc';
import { resources } from './resources.svelte';
import { timeline } from './timeline.svelte';
import { statusDown, statusWhenDown, vmAction, withVm } from './vm';

class EngineStore {
  status = $state<EngineStatus | null>(null);
  /** The last status event of Gantry's VM (when it is the engine), live. */
  vm = $state<VmEvent | null>(null);

  private watch: StreamHandle | null = null;
  private watchStarting = false;

  /** Asks the core which engine and whether it answers; subscribes to its events when it does. */
  async refresh() {
    this.status = await engineStatus().catch((e) => statusDown(null, toApiError(e)));
    if (this.status.connected && !timeline.subscribed) await timeline.subscribe();
    if (this.status.origin === 'gantry_vm') void this.watchVm();
    return this.status;
  }

  /** After a start, stop or reconnect: the new status, and fresh lists when connected. */
  async changed(status: EngineStatus) {
    this.status = status;
    if (status.connected) {
      await timeline.resubscribe();
      await resources.loadAll();
    }
  }

  /** Follows Gantry's VM live; restarts the watch when it ends (stopping the VM from the app ends
   * every stream). */
  async watchVm() {
    if (this.watch || this.watchStarting) return;
    this.watchStarting = true;
    try {
      this.watch = await vmWatch({
        items: (evs) => {
          for (const ev of evs) void this.onVm(ev);
        },
        end: () => {
          this.watch = null;
          setTimeout(() => {
            if (this.status?.origin === 'gantry_vm') void this.watchVm();
          }, 1000);
        },
      });
    } catch {
      // not the VM (`not_managed`): nothing to watch
      this.watch = null;
      this.vm = null;
    } finally {
      this.watchStarting = false;
    }
  }

  private async onVm(ev: VmEvent) {
    this.vm = ev;
    const action = vmAction(ev, !!this.status?.connected);
    if (action === 'disconnect') {
      this.status = statusWhenDown(this.status, ev);
    } else if (action === 'reconnect') {
      const status = await engineReconnect().catch(() => null);
      if (status) await this.changed(status);
    } else if (this.status) {
      this.status = ev.kind === 'stopped' || ev.kind === 'error' ? statusWhenDown(this.status, ev) : withVm(this.status, ev);
    }
  }
}

export const engine = new EngineStore();

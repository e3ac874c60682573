// Gantry's VM followed live: what each status event of its agent means for the engine card,
// the sidebar and the engine status the rest of the app uses. The words come from the catalogs.
import type { ApiError } from '../bindings/ApiError';
import type { EngineStatus } from '../bindings/EngineStatus';
import type { VmEvent } from '../bindings/VmEvent';
import { t } from '../i18n/index.svelte';

/** The VM's state in words. */
export function describeVm(ev: VmEvent): string {
  switch (ev.kind) {
    case 'starting': {
      const step = t(`vm.step.${ev.step}`);
      return ev.detail ? t('vm.starting.detail', { number: ev.number, total: ev.total, step, detail: ev.detail }) : t('vm.starting', { number: ev.number, total: ev.total, step });
    }
    case 'running':
      return t('vm.running', { accel: ev.info.accel, version: ev.info.engine_version });
    case 'degraded':
      return t('vm.degraded', { reasons: ev.reasons.join('; ') });
    case 'stopping':
      return t('vm.stopping');
    case 'stopped':
      return t('vm.stopped');
    case 'error':
      return t('vm.error', { message: ev.message });
  }
}

/** What the running VM warns about (e.g. software emulation), when it runs. */
export function vmWarnings(ev: VmEvent | null): string[] {
  return ev?.kind === 'running' || ev?.kind === 'degraded' ? ev.info.warnings : [];
}

/** What the app does after `ev`: connect to the engine that came up, drop the one that went
 * away, or nothing. */
export function vmAction(ev: VmEvent, connected: boolean): 'reconnect' | 'disconnect' | null {
  const up = ev.kind === 'running' || ev.kind === 'degraded';
  if (up && !connected) return 'reconnect';
  if ((ev.kind === 'stopped' || ev.kind === 'error') && connected) return 'disconnect';
  return null;
}

/** Why the VM is down, as an error for the card: only when it did not stop on request. */
export function vmError(ev: VmEvent | null): ApiError | null {
  return ev?.kind === 'error' ? { code: 'vm', message: ev.message, hint: ev.hint, fields: [] } : null;
}

/** Not connected, for `error`'s reason, at the endpoint `status` named (like the core's
 * `EngineStatus::down`). */
export function statusDown(status: EngineStatus | null, error: ApiError | null): EngineStatus {
  return { connected: false, endpoint: status?.endpoint ?? '', origin: status?.origin ?? null, version: null, info: null, error, vm: null };
}

/** The engine status once the VM went down (`stopped` or `error`), without asking the engine.
 * A VM that was already down keeps the reason the engine gave (e.g. how to start it). */
export function statusWhenDown(status: EngineStatus | null, ev: VmEvent): EngineStatus {
  const kept = status && !status.connected && ev.kind === 'stopped' ? status.error : null;
  return { ...statusDown(status, vmError(ev) ?? kept), origin: status?.origin ?? 'gantry_vm', vm: ev };
}

/** The status with what the VM just said, while it starts, runs or stops. */
export function withVm(status: EngineStatus, ev: VmEvent): EngineStatus {
  return ev.kind === 'stopped' || ev.kind === 'error' ? status : { ...status, vm: ev };
}

/** A transition in progress that the card and the sidebar show instead of the state. */
export function vmTransition(ev: VmEvent | null): string {
  if (ev?.kind === 'starting') return t('vm.transition.starting');
  if (ev?.kind === 'stopping') return t('vm.transition.stopping');
  return '';
}

export type EngineTone = 'ok' | 'warn' | 'bad' | 'busy' | 'unknown';

/** The sidebar's engine line. */
export function engineLabel(status: EngineStatus | null, vm: VmEvent | null): { text: string; tone: EngineTone } {
  if (!status) return { text: t('engine.pill.connecting'), tone: 'unknown' };
  const managed = status.origin === 'gantry_vm';
  if (managed && vm?.kind === 'starting') return { text: t('engine.pill.starting'), tone: 'busy' };
  if (managed && vm?.kind === 'stopping') return { text: t('engine.pill.stopping'), tone: 'busy' };
  if (status.connected && managed && vm?.kind === 'degraded') return { text: t('engine.pill.problems'), tone: 'warn' };
  if (status.connected) return { text: t('engine.pill.running'), tone: 'ok' };
  if (managed && vm?.kind === 'error') return { text: t('engine.pill.died'), tone: 'bad' };
  return { text: t('engine.pill.stopped'), tone: 'bad' };
}

// Gantry's VM followed live: what each status event of its agent means for the engine card,
// the sidebar and the engine status the rest of the app uses.
import type { ApiError } from '../bindings/ApiError';
import type { EngineStatus } from '../bindings/EngineStatus';
import type { VmEvent } from '../bindings/VmEvent';

/** The VM's state in words, as `gantry vm-status` says it. */
export function describeVm(ev: VmEvent): string {
  switch (ev.kind) {
    case 'starting':
      return `[${ev.number}/${ev.total}] ${ev.step}${ev.detail ? `: ${ev.detail}` : ''}`;
    case 'running':
      return `running (${ev.info.accel}, engine ${ev.info.engine_version})`;
    case 'degraded':
      return `running with problems: ${ev.reasons.join('; ')}`;
    case 'stopping':
      return 'stopping';
    case 'stopped':
      return 'stopped';
    case 'error':
      return `error: ${ev.message}`;
  }
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

/** The engine status once the VM went down (`stopped` or `error`), without asking the engine.
 * A VM that was already down keeps the reason the engine gave (e.g. how to start it). */
export function statusWhenDown(status: EngineStatus | null, ev: VmEvent): EngineStatus {
  const kept = status && !status.connected && ev.kind === 'stopped' ? status.error : null;
  return { ...statusDown(status, vmError(ev) ?? kept), origin: status?.origin ?? 'gantry_vm', vm: describeVm(ev) };
}

/** Not connected, for `error`'s reason, at the endpoint `status` named (like the core's
 * `EngineStatus::down`). */
export function statusDown(status: EngineStatus | null, error: ApiError | null): EngineStatus {
  return {
    connected: false,
    endpoint: status?.endpoint ?? '',
    origin: status?.origin ?? null,
    version: null,
    info: null,
    error,
    vm: null,
    vm_warnings: [],
  };
}

/** The status with what the VM just said (its words and warnings) when it runs. */
export function withVm(status: EngineStatus, ev: VmEvent): EngineStatus {
  if (ev.kind === 'running' || ev.kind === 'degraded') return { ...status, vm: describeVm(ev), vm_warnings: ev.info.warnings };
  if (ev.kind === 'starting' || ev.kind === 'stopping') return { ...status, vm: describeVm(ev) };
  return status;
}

/** A transition in progress that the card and the sidebar show instead of the state. */
export function vmTransition(ev: VmEvent | null): string {
  if (ev?.kind === 'starting') return 'Starting…';
  if (ev?.kind === 'stopping') return 'Stopping…';
  return '';
}

export type EngineTone = 'ok' | 'warn' | 'bad' | 'busy' | 'unknown';

/** The sidebar's engine line. */
export function engineLabel(status: EngineStatus | null, vm: VmEvent | null): { text: string; tone: EngineTone } {
  if (!status) return { text: 'Connecting…', tone: 'unknown' };
  const managed = status.origin === 'gantry_vm';
  if (managed && vm?.kind === 'starting') return { text: 'Engine starting…', tone: 'busy' };
  if (managed && vm?.kind === 'stopping') return { text: 'Engine stopping…', tone: 'busy' };
  if (status.connected && managed && vm?.kind === 'degraded') return { text: 'Engine running with problems', tone: 'warn' };
  if (status.connected) return { text: 'Engine running', tone: 'ok' };
  if (managed && vm?.kind === 'error') return { text: 'Engine stopped unexpectedly', tone: 'bad' };
  return { text: 'Engine not running', tone: 'bad' };
}

import { describe, expect, it } from 'vitest';
import type { ApiError } from '../bindings/ApiError';
import type { EngineStatus } from '../bindings/EngineStatus';
import type { VmEvent } from '../bindings/VmEvent';
import { locale } from '../i18n/index.svelte';
import { describeVm, engineLabel, statusWhenDown, vmAction, vmError, vmTransition, vmWarnings, withVm } from './vm';

const info = { docker_host: 'unix:///h/docker.sock', accel: 'tcg', engine_version: '27.3.1', warnings: ['software emulation: slow'], forwarded_ports: [] };
const running: VmEvent = { kind: 'running', info };
const degraded: VmEvent = { kind: 'degraded', reasons: ['host port 8080 is already in use on 127.0.0.1: stop the program using it or publish another port'], info };
const stopped: VmEvent = { kind: 'stopped' };
const died: VmEvent = { kind: 'error', message: 'the VM stopped unexpectedly (its agent exited)', hint: 'start it again' };
const starting: VmEvent = { kind: 'starting', step: 'boot_vm', number: 5, total: 9, detail: null };

function status(connected: boolean): EngineStatus {
  return {
    connected, endpoint: 'unix:///h/docker.sock', origin: 'gantry_vm', version: null, info: null, error: null,
    vm: connected ? running : stopped,
  };
}

describe('vm status events', () => {
  it('say the state as the CLI does', () => {
    expect(describeVm(starting)).toBe('[5/9] boot VM');
    expect(describeVm({ ...starting, detail: 'dockerd' })).toBe('[5/9] boot VM: dockerd');
    expect(describeVm(running)).toBe('running (tcg, engine 27.3.1)');
    expect(describeVm(degraded)).toContain('8080 is already in use');
    expect(describeVm(stopped)).toBe('stopped');
  });
  it('say it in Russian too', () => {
    locale.lang = 'ru';
    try {
      expect(describeVm(starting)).toBe('[5/9] загрузка ВМ');
      expect(describeVm(running)).toBe('работает (tcg, движок 27.3.1)');
      expect(engineLabel(status(false), stopped).text).toBe('Движок не запущен');
    } finally {
      locale.lang = 'en';
    }
  });
  it('connect when the VM comes up, disconnect when it goes down, else nothing', () => {
    expect(vmAction(running, false)).toBe('reconnect');
    expect(vmAction(degraded, false)).toBe('reconnect');
    expect(vmAction(running, true)).toBeNull();
    expect(vmAction(stopped, true)).toBe('disconnect');
    expect(vmAction(died, true)).toBe('disconnect');
    expect(vmAction(stopped, false)).toBeNull();
    expect(vmAction(starting, false)).toBeNull();
  });
  it('a VM that went down: not connected, with the error and its hint only when unexpected', () => {
    const down = statusWhenDown(status(true), stopped);
    expect(down.connected).toBe(false);
    expect(down.vm).toEqual(stopped);
    expect(down.error).toBeNull();
    expect(down.origin).toBe('gantry_vm');
    const dead = statusWhenDown(status(true), died);
    expect(dead.error).toEqual({ code: 'vm', message: died.kind === 'error' ? died.message : '', hint: 'start it again', fields: [] });
    expect(describeVm(dead.vm!)).toContain('unexpectedly');
    expect(vmError(stopped)).toBeNull();
    expect(statusWhenDown(null, stopped).origin).toBe('gantry_vm');
    // already down: the engine's own reason (how to start it) stays
    const why: ApiError = { code: 'engine_unreachable', message: 'cannot reach the engine', hint: 'start it with Start', fields: [] };
    expect(statusWhenDown({ ...status(false), error: why }, stopped).error).toEqual(why);
    expect(statusWhenDown({ ...status(false), error: why }, died).error?.message).toContain('unexpectedly');
  });
  it('a running VM brings its words and warnings; transitions show while they last', () => {
    const s = withVm(status(true), degraded);
    expect(describeVm(s.vm!)).toContain('running with problems');
    expect(vmWarnings(s.vm)).toEqual(['software emulation: slow']);
    expect(vmWarnings(starting)).toEqual([]);
    expect(describeVm(withVm(status(false), starting).vm!)).toBe('[5/9] boot VM');
    expect(vmTransition(starting)).toBe('Starting…');
    expect(vmTransition({ kind: 'stopping' })).toBe('Stopping…');
    expect(vmTransition(running)).toBe('');
    expect(vmTransition(null)).toBe('');
  });
  it('the sidebar line follows the VM: running, problems, transitions, stopped unexpectedly', () => {
    expect(engineLabel(null, null)).toEqual({ text: 'Connecting…', tone: 'unknown' });
    expect(engineLabel(status(true), running)).toEqual({ text: 'Engine running', tone: 'ok' });
    expect(engineLabel(status(true), degraded)).toEqual({ text: 'Engine running with problems', tone: 'warn' });
    expect(engineLabel(status(true), { kind: 'stopping' }).text).toBe('Engine stopping…');
    expect(engineLabel(status(false), starting).text).toBe('Engine starting…');
    expect(engineLabel(status(false), stopped)).toEqual({ text: 'Engine not running', tone: 'bad' });
    expect(engineLabel(status(false), died).text).toBe('Engine stopped unexpectedly');
    // an existing engine: the VM's events do not apply
    const other: EngineStatus = { ...status(true), origin: 'docker_host' };
    expect(engineLabel(other, degraded).text).toBe('Engine running');
  });
});

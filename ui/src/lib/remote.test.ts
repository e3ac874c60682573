import { describe, expect, it } from 'vitest';
import { locale } from './i18n/index.svelte';
import { contextHost, healthLabel, portsLabel, replicas, rolloutLine } from './remote';
import type { ServiceSummary } from './bindings/ServiceSummary';

const service = (over: Partial<ServiceSummary> = {}): ServiceSummary => ({
  id: 's',
  name: 'shop_web',
  mode: 'replicated',
  running: 2,
  desired: 3,
  image: 'app:2',
  ports: [{ published: 8080, target: 80, protocol: 'tcp', mode: 'ingress' }],
  update: null,
  stack: 'shop',
  created_at: '',
  updated_at: '',
  ...over,
});

locale.lang = 'en';

describe('engine switcher', () => {
  it('shows latency, a recovery, and a lost connection', () => {
    expect(healthLabel({ state: 'up', latency_ms: 3.25, recovered: false })).toEqual({ text: '3.3 ms', tone: 'ok' });
    expect(healthLabel({ state: 'up', latency_ms: 42.6, recovered: true }).text).toBe('43 ms · reconnected');
    expect(healthLabel({ state: 'up', latency_ms: 900, recovered: false }).tone).toBe('warn');
    const lost = healthLabel({ state: 'lost', reason: 'ssh: connection refused', attempt: 2, retry_in_ms: 1000 });
    expect(lost).toEqual({ text: 'connection lost · retry 2 in 1 s', tone: 'bad' });
    expect(healthLabel(null).tone).toBe('idle');
  });

  it('makes the context endpoint from what was typed', () => {
    expect(contextHost('ssh', ' me@build ')).toBe('ssh://me@build');
    expect(contextHost('ssh', 'ssh://me@build:2222')).toBe('ssh://me@build:2222');
    expect(contextHost('tls', '10.0.0.5:2376')).toBe('tcp://10.0.0.5:2376');
  });
});

describe('services', () => {
  it('shows replicas, ports and a rollout', () => {
    expect(replicas(service())).toEqual({ text: '2/3', short: true });
    expect(portsLabel(service())).toBe('8080→80/tcp');
    const reading = { service: 'shop_web', image: 'app:2', desired: 4, running: 4, updated: 2, update: null, problems: [], done: false, failed: null };
    expect(rolloutLine(reading)).toBe('2/4 on app:2, 4 running');
    expect(rolloutLine({ ...reading, done: true, failed: 'the update paused: task failed' })).toBe('the update paused: task failed');
    locale.lang = 'ru';
    expect(rolloutLine(reading)).toBe('2/4 на app:2, работают: 4');
    locale.lang = 'en';
  });
});

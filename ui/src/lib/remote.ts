// Pure helpers of the engine switcher and the Swarm view (tested in remote.test.ts).
import type { EngineChoice } from './bindings/EngineChoice';
import type { Health } from './bindings/Health';
import type { RolloutProgress } from './bindings/RolloutProgress';
import type { ServiceSummary } from './bindings/ServiceSummary';
import { t } from './i18n/index.svelte';

export type Tone = 'ok' | 'warn' | 'bad' | 'idle';

/** The status line's connection text: the latency, or that the connection is lost and retried. */
export function healthLabel(h: Health | null): { text: string; tone: Tone } {
  if (!h) return { text: '', tone: 'idle' };
  if (h.state === 'up') {
    const ms = h.latency_ms < 10 ? h.latency_ms.toFixed(1) : Math.round(h.latency_ms).toString();
    return { text: t(h.recovered ? 'switcher.recovered' : 'switcher.latency', { ms }), tone: h.latency_ms > 500 ? 'warn' : 'ok' };
  }
  const secs = Math.max(1, Math.round(h.retry_in_ms / 1000));
  return { text: t('switcher.lost', { attempt: h.attempt, secs }), tone: 'bad' };
}

/** How a switcher entry reaches its engine, in words. */
export function transportLabel(c: EngineChoice): string {
  if (c.kind === 'gantry_vm') return t('switcher.vm');
  return t(`switcher.transport.${c.transport}`);
}

/** The new context's docker endpoint from the add form (`ssh://…` or `tcp://…`). */
export function contextHost(kind: 'ssh' | 'tls', address: string): string {
  const a = address.trim();
  if (kind === 'ssh') return a.startsWith('ssh://') ? a : `ssh://${a}`;
  return a.startsWith('tcp://') ? a : `tcp://${a}`;
}

/** `2/3`, and whether the service is short of replicas. */
export function replicas(s: ServiceSummary): { text: string; short: boolean } {
  return { text: `${s.running}/${s.desired}`, short: s.running < s.desired };
}

/** A rollout reading in one line. */
export function rolloutLine(p: RolloutProgress): string {
  if (p.failed) return p.failed;
  const values = { updated: p.updated, desired: p.desired, running: p.running, image: p.image };
  return t(p.done ? 'swarm.rollout.done' : 'swarm.rollout.progress', values);
}

/** Published ports as `8080→80/tcp`. */
export function portsLabel(s: ServiceSummary): string {
  return s.ports.map((p) => `${p.published || '—'}→${p.target}/${p.protocol}${p.mode === 'host' ? ' (host)' : ''}`).join(', ');
}

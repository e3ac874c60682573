// The events timeline: newest first, bounded, filterable by resource and text.
import type { EngineEvent } from '../bindings/EngineEvent';
import type { ExplainedEvent } from '../bindings/ExplainedEvent';
import type { Explanation } from '../bindings/Explanation';
import { explanationOf, rawEvent, subjectOf } from '../insight/events';
import { decimal } from '../format';
import { t } from '../i18n/index.svelte';

export interface TimelineEntry {
  key: number;
  time: number;
  resource: string;
  action: string;
  text: string;
  /** Connection news rather than an engine event. */
  notice: boolean;
  /** What the event means for the user, when it came explained. */
  explanation?: Explanation | null;
  /** The container (or other object) the event is about. */
  subject?: string;
}

let seq = 0;

export function toEntry(ev: EngineEvent, now: number = Date.now() / 1000): TimelineEntry {
  switch (ev.kind) {
    case 'event':
      return { key: ++seq, time: ev.event.time_nano ? ev.event.time_nano / 1e9 : ev.event.time || now, resource: ev.event.resource, action: ev.event.action, text: ev.description, notice: false };
    case 'disconnected':
      return { key: ++seq, time: now, resource: 'engine', action: 'disconnected', text: t('events.disconnected', { reason: ev.reason, seconds: decimal(ev.retry_in_ms / 1000, 1) }), notice: true };
    case 'reconnected':
      return { key: ++seq, time: now, resource: 'engine', action: 'reconnected', text: t('events.reconnected'), notice: true };
  }
}

export class Timeline {
  entries: TimelineEntry[] = [];
  constructor(readonly max = 2000) {}

  add(events: EngineEvent[]): void {
    const fresh = events.map((e) => toEntry(e)).reverse();
    this.entries = fresh.concat(this.entries).slice(0, this.max);
  }

  /** Adds explained events: the headline is the entry's text, the explanation rides along. */
  addExplained(events: ExplainedEvent[]): void {
    const fresh: TimelineEntry[] = events.map((e) => ({ ...toEntry(rawEvent(e)), explanation: explanationOf(e), subject: subjectOf(e) })).reverse();
    this.entries = fresh.concat(this.entries).slice(0, this.max);
  }

  filtered(resource: string, query: string): TimelineEntry[] {
    const q = query.trim().toLowerCase();
    return this.entries.filter((e) => (resource === 'all' || e.resource === resource) && (!q || e.text.toLowerCase().includes(q)));
  }
}

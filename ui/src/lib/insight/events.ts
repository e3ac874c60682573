// What just happened: an explained engine event as a timeline entry (plain language, its tone,
// the lab that teaches it), and the raw event underneath for the lists that go stale.
import type { EngineEvent } from '../bindings/EngineEvent';
import type { ExplainedEvent } from '../bindings/ExplainedEvent';
import type { Explanation } from '../bindings/Explanation';

/** The engine event inside an explained one (the stale-list logic reads these). */
export function rawEvent(ev: ExplainedEvent): EngineEvent {
  switch (ev.kind) {
    case 'event':
      return { kind: 'event', event: ev.event, description: ev.explanation.headline };
    case 'disconnected':
      return { kind: 'disconnected', reason: ev.reason, attempt: ev.attempt, retry_in_ms: ev.retry_in_ms };
    case 'reconnected':
      return { kind: 'reconnected', attempt: ev.attempt };
  }
}

/** The explanation of an explained event, if it is an engine event. */
export function explanationOf(ev: ExplainedEvent): Explanation | null {
  return ev.kind === 'event' ? ev.explanation : null;
}

/** The container an event is about (a network event names it in its attributes), else its object's ID. */
export function subjectOf(ev: ExplainedEvent): string | undefined {
  if (ev.kind !== 'event') return undefined;
  return ev.event.resource === 'container' ? ev.event.id : (ev.event.attributes['container'] ?? ev.event.id);
}

const bad = (e: Explanation) => e.tone === 'warning' || e.tone === 'problem';

/**
 * What to tell on a container's page: the newest explained news about it, when that is a warning
 * or a problem (a start after it wipes it; its network coming and going does not count unless
 * it is bad news, such as a start that failed). `entries` are newest first.
 */
export function containerNews(entries: readonly { resource: string; subject?: string; explanation?: Explanation | null }[], id: string): Explanation | null {
  const newest = entries.find((e) => e.subject === id && e.explanation && (e.resource === 'container' || bad(e.explanation)));
  const explanation = newest?.explanation ?? null;
  return explanation && bad(explanation) ? explanation : null;
}

/** Whether an explanation says more than its headline (a meaning, the engine's words). */
export function worthExplaining(e: Explanation): boolean {
  return e.meaning.trim() !== '' || e.detail !== null;
}

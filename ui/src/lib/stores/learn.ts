// The Learn panel's live state as a pure reducer over the checker's events (lab_watch): which step
// is live, each check's result, whether the step just passed, and when to offer a hint.
import type { CheckResult } from '../bindings/CheckResult';
import type { LabEvent } from '../bindings/LabEvent';
import type { Lang } from '../bindings/Lang';

export interface Live {
  /** The step the checker works on (`null` before its first event). */
  step: number | null;
  /** Results of the live step's checks, by index. */
  results: CheckResult[];
  /** True once every check of the live step was evaluated once. */
  evaluated: boolean;
  /** Steps that passed while watching, in order. */
  passed: number[];
  completed: boolean;
  /** Why the engine stopped answering, while it does not. */
  engineLost: string | null;
  /** A check failed again after the learner did something: offer a hint. */
  stuck: boolean;
}

export function initialLive(): Live {
  return { step: null, results: [], evaluated: false, passed: [], completed: false, engineLost: null, stuck: false };
}

const PENDING: CheckResult = { status: 'pending', detail: null };

/** The state after `event`. */
export function applyEvent(live: Live, event: LabEvent): Live {
  switch (event.kind) {
    case 'step_started':
      return { ...live, step: event.step, results: [], evaluated: false, stuck: false };
    case 'check': {
      if (event.step !== live.step) return live;
      const results = [...live.results];
      while (results.length <= event.check) results.push(PENDING);
      results[event.check] = event.result;
      // A failure reported after the first evaluation follows something the learner did.
      const stuck = live.stuck || (live.evaluated && event.result.status === 'fail');
      return { ...live, results, stuck };
    }
    case 'step_evaluated':
      return event.step === live.step ? { ...live, evaluated: true } : live;
    case 'step_passed':
      return { ...live, passed: [...live.passed, event.step] };
    case 'lab_completed':
      return { ...live, completed: true };
    case 'engine_lost':
      return { ...live, engineLost: event.reason };
    case 'engine_back':
      return { ...live, engineLost: null };
  }
}

/** A check's result for display: pending until the checker reports it. */
export function resultOf(live: Live, step: number, check: number): CheckResult {
  if (live.step === step) return live.results[check] ?? PENDING;
  return PENDING;
}

/** Why a check did not pass, in `lang` (English when the lab has no text in it). */
export function detailIn(result: CheckResult, lang: Lang): string {
  const d = result.detail;
  if (!d) return '';
  return d[lang] ?? d.en ?? '';
}

/** `busybox` → `busybox:latest`, `docker.io/library/nginx:1` → `nginx:1` (how the engine names
 * local images), so a lab's declared image can be found among the engine's tags. */
export function normalRef(reference: string): string {
  let r = reference.trim().replace(/^docker\.io\//, '').replace(/^library\//, '');
  const lastPart = r.slice(r.lastIndexOf('/') + 1);
  if (!lastPart.includes(':') && !lastPart.includes('@')) r += ':latest';
  return r;
}

/** Whether an image tagged `reference` is among `tags` (the engine's image tags). */
export function hasImage(tags: readonly string[], reference: string): boolean {
  const want = normalRef(reference);
  return tags.some((t) => normalRef(t) === want);
}

/** A pull's progress in percent from each layer's latest message (`null` before any size). */
export function pullPercent(layers: Record<string, { current: number | null; total: number | null }>): number | null {
  let current = 0;
  let total = 0;
  for (const p of Object.values(layers)) {
    if (p.total && p.total > 0) {
      total += p.total;
      current += Math.min(p.current ?? 0, p.total);
    }
  }
  return total > 0 ? Math.floor((100 * current) / total) : null;
}

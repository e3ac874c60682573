// The Workshops panel's state, folded from the core's streams: an import's progress, and the
// trainer's room. A workshop import's progress as the panel shows it: one phase line with a bar, the
// images loaded so far and the labs installed, folded from the core's ImportEvent stream. Pure
// (tested in workshop.test.ts).
import type { ImportEvent } from './bindings/ImportEvent';
import type { RoomEvent } from './bindings/RoomEvent';
import type { RoomSnapshot } from './bindings/RoomSnapshot';
import type { StepStatus } from './bindings/StepStatus';

export type ImportPhase = 'opening' | 'verifying' | 'loading' | 'done';

export interface ImportProgress {
  phase: ImportPhase;
  title: string;
  /** What the bar measures now: bytes verified, or bytes of the image being loaded. */
  done: number;
  total: number;
  /** The part being verified or the image being loaded. */
  current: string;
  /** Parts already verified by an earlier, interrupted import. */
  resumed: number;
  loaded: { image: string; alreadyPresent: boolean }[];
  /** Images the engine will run under emulation (another CPU), with the platform. */
  emulated: string[];
  labs: string[];
}

export function startProgress(): ImportProgress {
  return { phase: 'opening', title: '', done: 0, total: 0, current: '', resumed: 0, loaded: [], emulated: [], labs: [] };
}

/** The progress after `ev`. */
export function applyImportEvent(p: ImportProgress, ev: ImportEvent): ImportProgress {
  switch (ev.event) {
    case 'opened':
      return { ...p, title: ev.title, phase: 'verifying', done: 0, total: ev.bytes };
    case 'verifying':
      return { ...p, phase: 'verifying', current: ev.part, done: ev.done, total: ev.total };
    case 'verified':
      return { ...p, resumed: ev.resumed, done: p.total };
    case 'loading':
      return { ...p, phase: 'loading', current: ev.image, done: ev.done, total: ev.total };
    case 'loaded':
      return { ...p, loaded: [...p.loaded, { image: ev.image, alreadyPresent: ev.already_present }] };
    case 'emulated':
      return { ...p, emulated: [...p.emulated, `${ev.image} (${ev.platform})`] };
    case 'labs_installed':
      return { ...p, phase: 'done', labs: ev.labs, current: '', done: 1, total: 1 };
  }
}

/** The bar's fill, 0..1. */
export function fraction(p: ImportProgress): number {
  return p.total > 0 ? Math.min(1, p.done / p.total) : 0;
}

// ---- the trainer's room ----

export interface RoomState {
  /** Registry filling while the room opens: done of total. */
  filling: { done: number; total: number } | null;
  /** The upstream that does not answer, with why. */
  upstreamDown: string | null;
  /** Set once the room is open. */
  open: { code: string; trainerUrl: string; mirror: string; registry: boolean } | null;
  grid: RoomSnapshot | null;
}

export function startRoom(): RoomState {
  return { filling: null, upstreamDown: null, open: null, grid: null };
}

/** The room after `ev`. */
export function applyRoomEvent(r: RoomState, ev: RoomEvent): RoomState {
  switch (ev.kind) {
    case 'serve': {
      const e = ev.event;
      if (e.event === 'filling') return { ...r, filling: { done: e.done, total: e.total } };
      if (e.event === 'upstream_unreachable') return { ...r, upstreamDown: `${e.upstream}: ${e.reason}` };
      return { ...r, open: { code: e.code, trainerUrl: e.trainer_url, mirror: e.mirror, registry: e.registry } };
    }
    case 'snapshot':
      return { ...r, grid: ev.snapshot };
    case 'update': {
      if (!r.grid) return r;
      const u = ev.update;
      if (u.kind === 'joined') {
        const others = r.grid.participants.filter((p) => p.id !== u.participant.id);
        return { ...r, grid: { ...r.grid, participants: [...others, u.participant] } };
      }
      const participants = r.grid.participants.map((p) =>
        p.id === u.participant ? { ...p, steps: { ...p.steps, [`${u.lab}/${u.step}`]: u.status }, last_seen_ms: u.at_ms } : p,
      );
      return { ...r, grid: { ...r.grid, participants } };
    }
  }
}

/** The grid's columns: every lab's steps, in order, as `lab/step`. */
export function roomColumns(grid: RoomSnapshot): { lab: string; step: string; key: string }[] {
  return grid.labs.flatMap((l) => l.steps.map((step) => ({ lab: l.id, step, key: `${l.id}/${step}` })));
}

/** How many participants passed the step `key`. */
export function passedCount(grid: RoomSnapshot, key: string): number {
  return grid.participants.filter((p) => (p.steps[key] as StepStatus | undefined) === 'passed').length;
}

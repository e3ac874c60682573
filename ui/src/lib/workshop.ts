// A workshop import's progress as the Workshops panel shows it: one phase line with a bar, the
// images loaded so far and the labs installed, folded from the core's ImportEvent stream. Pure
// (tested in workshop.test.ts).
import type { ImportEvent } from './bindings/ImportEvent';

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

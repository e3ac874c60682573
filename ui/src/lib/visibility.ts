// Sampling only while the window is visible: a hidden (minimised, closed to the tray) window
// asks the engine for nothing, so an idle app costs next to no CPU.

import type { StreamHandle } from './ipc';

/** What this module needs of `document` (a fake in tests). */
export interface VisibilitySource {
  readonly hidden: boolean;
  addEventListener(type: 'visibilitychange', listener: () => void): void;
  removeEventListener(type: 'visibilitychange', listener: () => void): void;
}

/** Stops what was started. */
export type Stop = () => void;

/**
 * Runs `start` whenever the page becomes visible (at once if it is) and the stop it returned when
 * the page is hidden. The returned function stops it for good (call it when the view goes).
 */
export function whileVisible(start: () => Stop, source: VisibilitySource = document): Stop {
  let stop: Stop | null = null;
  const update = () => {
    if (source.hidden) {
      stop?.();
      stop = null;
    } else if (!stop) {
      stop = start();
    }
  };
  update();
  source.addEventListener('visibilitychange', update);
  return () => {
    source.removeEventListener('visibilitychange', update);
    stop?.();
    stop = null;
  };
}

/**
 * Calls `tick` every `everyMs` while the page is visible, and once at once when it becomes
 * visible again (the numbers shown are then fresh, not as old as the time it was hidden).
 */
export function pollWhileVisible(tick: () => void, everyMs: number, source: VisibilitySource = document): Stop {
  return whileVisible(() => {
    tick();
    const timer = setInterval(tick, everyMs);
    return () => clearInterval(timer);
  }, source);
}

/**
 * Keeps a stream open while the page is visible: `open` when it is shown, cancelled when it is
 * hidden. A stream still opening when the page is hidden is cancelled as soon as it has opened.
 */
export function streamWhileVisible(open: () => Promise<StreamHandle>, source: VisibilitySource = document): Stop {
  return whileVisible(() => {
    let cancelled = false;
    let handle: StreamHandle | null = null;
    open().then(
      (h) => {
        if (cancelled) void h.cancel();
        else handle = h;
      },
      () => {
        // the caller's `open` reports its own errors
      },
    );
    return () => {
      cancelled = true;
      void handle?.cancel();
      handle = null;
    };
  }, source);
}

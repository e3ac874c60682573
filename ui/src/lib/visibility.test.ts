import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StreamHandle } from './ipc';
import { pollWhileVisible, streamWhileVisible, whileVisible, type VisibilitySource } from './visibility';

/** A document whose visibility the test changes, as the browser does when a window is hidden. */
class FakeDocument extends EventTarget implements VisibilitySource {
  hidden = false;
  listeners = 0;
  override addEventListener(type: string, l: () => void) {
    this.listeners++;
    super.addEventListener(type, l);
  }
  override removeEventListener(type: string, l: () => void) {
    this.listeners--;
    super.removeEventListener(type, l);
  }
  set(hidden: boolean) {
    this.hidden = hidden;
    this.dispatchEvent(new Event('visibilitychange'));
  }
}

describe('whileVisible', () => {
  it('starts when visible, stops when hidden, starts again when shown, and stops for good', () => {
    const doc = new FakeDocument();
    const log: string[] = [];
    const stop = whileVisible(() => {
      log.push('start');
      return () => log.push('stop');
    }, doc);
    expect(log).toEqual(['start']);
    doc.set(true);
    doc.set(true); // a repeated event changes nothing
    expect(log).toEqual(['start', 'stop']);
    doc.set(false);
    doc.set(false);
    expect(log).toEqual(['start', 'stop', 'start']);
    stop();
    expect(log).toEqual(['start', 'stop', 'start', 'stop']);
    expect(doc.listeners).toBe(0);
    doc.set(true);
    doc.set(false);
    expect(log).toHaveLength(4);
  });

  it('does not start while the page is hidden', () => {
    const doc = new FakeDocument();
    doc.hidden = true;
    let started = 0;
    const stop = whileVisible(() => {
      started++;
      return () => {};
    }, doc);
    expect(started).toBe(0);
    doc.set(false);
    expect(started).toBe(1);
    stop();
  });
});

describe('pollWhileVisible', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('samples every interval while shown and never while hidden', () => {
    const doc = new FakeDocument();
    let ticks = 0;
    const stop = pollWhileVisible(() => ticks++, 2000, doc);
    expect(ticks).toBe(1); // at once
    vi.advanceTimersByTime(6000);
    expect(ticks).toBe(4);
    doc.set(true);
    vi.advanceTimersByTime(60_000);
    expect(ticks).toBe(4); // a hidden window asks for nothing
    expect(vi.getTimerCount()).toBe(0);
    doc.set(false);
    expect(ticks).toBe(5); // fresh numbers as soon as it is shown
    vi.advanceTimersByTime(2000);
    expect(ticks).toBe(6);
    stop();
    vi.advanceTimersByTime(10_000);
    expect(ticks).toBe(6);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('streamWhileVisible', () => {
  function handle(log: string[], id: number): StreamHandle {
    return {
      id,
      cancel: async () => {
        log.push(`cancel ${id}`);
      },
    };
  }

  it('opens while shown and cancels when hidden', async () => {
    const doc = new FakeDocument();
    const log: string[] = [];
    let n = 0;
    const stop = streamWhileVisible(async () => {
      n++;
      log.push(`open ${n}`);
      return handle(log, n);
    }, doc);
    await Promise.resolve();
    doc.set(true);
    doc.set(false);
    await Promise.resolve();
    stop();
    expect(log).toEqual(['open 1', 'cancel 1', 'open 2', 'cancel 2']);
  });

  it('cancels a stream that finishes opening after the page was hidden', async () => {
    const doc = new FakeDocument();
    const log: string[] = [];
    let finish: (h: StreamHandle) => void = () => {};
    const stop = streamWhileVisible(
      () =>
        new Promise<StreamHandle>((resolve) => {
          finish = resolve;
        }),
      doc,
    );
    doc.set(true); // hidden before the stream opened
    finish(handle(log, 7));
    await Promise.resolve();
    await Promise.resolve();
    expect(log).toEqual(['cancel 7']);
    stop();
    expect(log).toEqual(['cancel 7']);
  });

  it('survives a stream that fails to open', async () => {
    const doc = new FakeDocument();
    const stop = streamWhileVisible(() => Promise.reject(new Error('engine down')), doc);
    await Promise.resolve();
    doc.set(true);
    doc.set(false);
    stop();
    expect(doc.listeners).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { applyImportEvent, fraction, startProgress } from './workshop';
import type { ImportEvent } from './bindings/ImportEvent';

describe('workshop import progress', () => {
  it('follows the phases of an import, from opening to the labs', () => {
    const events: ImportEvent[] = [
      { event: 'opened', title: 'Docker 101', id: 'sha256:00', parts: 3, bytes: 1000, signed_by: null },
      { event: 'verifying', part: 'image busybox', done: 250, total: 1000 },
    ];
    let p = events.reduce(applyImportEvent, startProgress());
    expect(p.phase).toBe('verifying');
    expect(p.title).toBe('Docker 101');
    expect(fraction(p)).toBe(0.25);
    p = applyImportEvent(p, { event: 'verified', parts: 3, resumed: 1 });
    expect(p.resumed).toBe(1);
    expect(fraction(p)).toBe(1);
    p = applyImportEvent(p, { event: 'loading', image: 'busybox:1.36', platforms: ['linux/amd64'], done: 10, total: 40 });
    expect(p.phase).toBe('loading');
    expect(p.current).toBe('busybox:1.36');
    expect(fraction(p)).toBe(0.25);
    p = applyImportEvent(p, { event: 'loaded', image: 'busybox:1.36', id: 'sha256:11', already_present: false });
    p = applyImportEvent(p, { event: 'emulated', image: 'busybox:1.36', platform: 'linux/arm64', engine: 'linux/amd64' });
    p = applyImportEvent(p, { event: 'labs_installed', labs: ['first-container'], dir: '/x' });
    expect(p.phase).toBe('done');
    expect(p.loaded).toEqual([{ image: 'busybox:1.36', alreadyPresent: false }]);
    expect(p.emulated).toEqual(['busybox:1.36 (linux/arm64)']);
    expect(p.labs).toEqual(['first-container']);
  });

  it('never fills the bar past the end or divides by zero', () => {
    expect(fraction(startProgress())).toBe(0);
    const p = applyImportEvent(startProgress(), { event: 'verifying', part: 'x', done: 20, total: 10 });
    expect(fraction(p)).toBe(1);
  });
});

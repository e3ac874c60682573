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

describe('the trainer room', () => {
  it('opens, then follows joins and progress', async () => {
    const { applyRoomEvent, passedCount, roomColumns, startRoom } = await import('./workshop');
    let r = startRoom();
    r = applyRoomEvent(r, { kind: 'serve', event: { event: 'filling', done: 1, total: 4 } });
    expect(r.filling).toEqual({ done: 1, total: 4 });
    r = applyRoomEvent(r, { kind: 'serve', event: { event: 'open', code: 'GW1-X', trainer_url: 'https://h/room#t=1', mirror: 'https://h', registry: true, upstream: null } });
    expect(r.open?.code).toBe('GW1-X');
    // updates before the grid are dropped: the snapshot that follows has them
    expect(applyRoomEvent(r, { kind: 'update', update: { kind: 'progress', participant: 1, lab: 'a', step: 's1', status: 'passed', at_ms: 5 } })).toBe(r);
    r = applyRoomEvent(r, {
      kind: 'snapshot',
      snapshot: { title: 'T', labs: [{ id: 'a', title: 'A', steps: ['s1', 's2'], ports: [], images: [] }], participants: [] },
    });
    r = applyRoomEvent(r, { kind: 'update', update: { kind: 'joined', participant: { id: 1, name: '<b>Ada</b>', steps: {}, last_seen_ms: 1 } } });
    r = applyRoomEvent(r, { kind: 'update', update: { kind: 'progress', participant: 1, lab: 'a', step: 's1', status: 'passed', at_ms: 5 } });
    r = applyRoomEvent(r, { kind: 'update', update: { kind: 'progress', participant: 2, lab: 'a', step: 's1', status: 'stuck', at_ms: 6 } });
    const grid = r.grid!;
    expect(grid.participants).toHaveLength(1);
    expect(grid.participants[0].steps['a/s1']).toBe('passed');
    expect(grid.participants[0].last_seen_ms).toBe(5);
    expect(roomColumns(grid).map((c) => c.key)).toEqual(['a/s1', 'a/s2']);
    expect(passedCount(grid, 'a/s1')).toBe(1);
    expect(passedCount(grid, 'a/s2')).toBe(0);
  });
});

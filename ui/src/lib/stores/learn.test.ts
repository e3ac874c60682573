// The Learn panel follows the checker's events: ticks per check, steps passing, hints offered
// after a failure that follows the learner's work, the engine going away and back.
import { describe, expect, it } from 'vitest';
import type { LabEvent } from '../bindings/LabEvent';
import { applyEvent, detailIn, hasImage, initialLive, pullPercent, resultOf, type Live } from './learn';

const fail = { status: 'fail', detail: { en: 'no container named web', ru: 'нет контейнера web' } } as const;
const pass = { status: 'pass', detail: null } as const;

function run(events: LabEvent[]): Live {
  return events.reduce(applyEvent, initialLive());
}

describe('live checks', () => {
  it('tick each check as the checker reports it and move to the next step', () => {
    let live = run([
      { kind: 'step_started', step: 0, id: 'hello' },
      { kind: 'check', step: 0, check: 1, result: fail },
      { kind: 'check', step: 0, check: 0, result: fail },
      { kind: 'step_evaluated', step: 0 },
    ]);
    expect(live.step).toBe(0);
    expect(resultOf(live, 0, 1).status).toBe('fail');
    expect(resultOf(live, 1, 0).status).toBe('pending');
    expect(live.stuck).toBe(false);
    live = run([
      { kind: 'step_started', step: 0, id: 'hello' },
      { kind: 'check', step: 0, check: 0, result: pass },
      { kind: 'step_evaluated', step: 0 },
      { kind: 'step_passed', step: 0, id: 'hello' },
      { kind: 'step_started', step: 1, id: 'logs' },
    ]);
    expect(live.passed).toEqual([0]);
    expect(live.step).toBe(1);
    expect(live.results).toEqual([]);
    expect(resultOf(live, 0, 0).status).toBe('pending');
  });

  it('offer a hint when a check fails again after the first evaluation', () => {
    const live = run([
      { kind: 'step_started', step: 2, id: 'web' },
      { kind: 'check', step: 2, check: 0, result: fail },
      { kind: 'step_evaluated', step: 2 },
      { kind: 'check', step: 2, check: 0, result: pass },
      { kind: 'check', step: 2, check: 0, result: fail },
    ]);
    expect(live.stuck).toBe(true);
    expect(applyEvent(live, { kind: 'step_started', step: 3, id: 'stop' }).stuck).toBe(false);
  });

  it('ignore results of another step and follow the engine', () => {
    let live = run([{ kind: 'step_started', step: 1, id: 'logs' }, { kind: 'check', step: 0, check: 0, result: pass }]);
    expect(live.results).toEqual([]);
    live = applyEvent(live, { kind: 'engine_lost', reason: 'connection refused' });
    expect(live.engineLost).toBe('connection refused');
    live = applyEvent(live, { kind: 'engine_back' });
    expect(live.engineLost).toBeNull();
    expect(applyEvent(live, { kind: 'lab_completed' }).completed).toBe(true);
  });

  it('say why in the learner language, English when missing', () => {
    expect(detailIn(fail, 'ru')).toBe('нет контейнера web');
    expect(detailIn({ status: 'fail', detail: { en: 'only English' } }, 'ru')).toBe('only English');
    expect(detailIn(pass, 'en')).toBe('');
  });
});

describe('the lab images', () => {
  it('are found under the names the engine gives them', () => {
    const tags = ['busybox:1.36', 'nginx:latest', 'localhost:5000/app:1'];
    expect(hasImage(tags, 'busybox:1.36')).toBe(true);
    expect(hasImage(tags, 'docker.io/library/busybox:1.36')).toBe(true);
    expect(hasImage(tags, 'nginx')).toBe(true);
    expect(hasImage(tags, 'nginx:1.27-alpine')).toBe(false);
    expect(hasImage(tags, 'localhost:5000/app:1')).toBe(true);
    expect(hasImage(tags, 'localhost:5000/app')).toBe(false);
  });
  it('report a pull in percent of the sizes known', () => {
    expect(pullPercent({})).toBeNull();
    expect(pullPercent({ a: { current: 50, total: 100 }, b: { current: null, total: 300 }, c: { current: 3, total: null } })).toBe(12);
    expect(pullPercent({ a: { current: 120, total: 100 } })).toBe(100);
  });
});

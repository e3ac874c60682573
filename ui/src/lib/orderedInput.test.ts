import { describe, expect, it } from 'vitest';
import { orderedInput } from './orderedInput';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('orderedInput', () => {
  it('sends one call at a time and joins what is typed meanwhile, in order', async () => {
    const sent: string[] = [];
    const releases: (() => void)[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const send = (d: string) =>
      new Promise<void>((resolve) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        sent.push(d);
        releases.push(() => {
          inFlight--;
          resolve();
        });
      });
    const push = orderedInput(send, () => {});
    for (const ch of 'echo term-$((40+2))\r') push(ch);
    expect(sent).toEqual(['e']);
    releases.shift()!();
    await tick();
    expect(sent).toEqual(['e', 'cho term-$((40+2))\r']);
    push('x');
    releases.shift()!();
    await tick();
    releases.shift()!();
    await tick();
    expect(sent.join('')).toBe('echo term-$((40+2))\rx');
    expect(maxInFlight).toBe(1);
  });

  it('reports a failed send and goes on with what is typed next', async () => {
    const errors: unknown[] = [];
    const sent: string[] = [];
    let fail = true;
    const push = orderedInput(async (d) => {
      if (fail) {
        fail = false;
        throw new Error('terminal gone');
      }
      sent.push(d);
    }, (e) => errors.push(e));
    push('a');
    await tick();
    push('b');
    await tick();
    expect(errors).toHaveLength(1);
    expect(sent).toEqual(['b']);
  });
});

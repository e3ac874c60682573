import { describe, expect, it } from 'vitest';
import { PANELS } from './stores/nav.svelte';
import { panelIndexForKey, panelKey } from './panelKeys';

describe('panel shortcuts', () => {
  it('gives the first ten panels of the sidebar their own digits, in order, and the rest none', () => {
    const keys = PANELS.map((_, i) => panelKey(i));
    const digits = keys.slice(0, 10);
    expect(digits).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '0'].slice(0, Math.min(10, PANELS.length)));
    expect(keys.slice(10).every((k) => k === null)).toBe(true);
    expect(PANELS.indexOf('learn')).toBeLessThan(10);
  });

  it('opens the panel whose digit was pressed, and none for a digit without a panel', () => {
    PANELS.slice(0, 10).forEach((_, i) => expect(panelIndexForKey(panelKey(i)!, PANELS.length)).toBe(i));
    expect(panelIndexForKey('0', 9)).toBeNull();
    expect(panelIndexForKey('4', 3)).toBeNull();
    expect(panelIndexForKey('a', 10)).toBeNull();
    expect(panelIndexForKey('10', 10)).toBeNull();
  });

  it('has no digit past the tenth panel', () => {
    expect(panelKey(10)).toBeNull();
    expect(panelKey(-1)).toBeNull();
    expect(panelKey(0)).toBe('1');
    expect(panelKey(9)).toBe('0');
  });
});

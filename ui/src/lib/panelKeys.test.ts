import { describe, expect, it } from 'vitest';
import { PANELS } from './stores/nav.svelte';
import { panelIndexForKey, panelKey } from './panelKeys';

describe('panel shortcuts', () => {
  it('gives every panel of the sidebar its own digit', () => {
    const keys = PANELS.map((_, i) => panelKey(i));
    expect(keys.every((k) => k !== null)).toBe(true);
    expect(new Set(keys).size).toBe(PANELS.length);
  });

  it('opens the panel whose digit was pressed, and none for a digit without a panel', () => {
    PANELS.forEach((_, i) => expect(panelIndexForKey(panelKey(i)!, PANELS.length)).toBe(i));
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

// The sidebar's keyboard shortcuts: Ctrl (or Alt) + a digit opens the panel at that place, in the
// sidebar's order; 1…9 are the first nine panels and 0 the tenth, like a keyboard's number row.

/** The digit that opens the panel at `index` (0-based), or null past the tenth panel. */
export function panelKey(index: number): string | null {
  if (!Number.isInteger(index) || index < 0 || index > 9) return null;
  return index === 9 ? '0' : String(index + 1);
}

/** The index of the panel a digit key opens among `count` panels, or null if it opens none. */
export function panelIndexForKey(key: string, count: number): number | null {
  if (!/^[0-9]$/.test(key)) return null;
  const index = key === '0' ? 9 : Number(key) - 1;
  return index < count ? index : null;
}

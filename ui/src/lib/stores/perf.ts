// Timing marks read by the render benchmark (e2e).
export const perf: Record<string, number> = {};

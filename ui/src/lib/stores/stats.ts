// A few minutes of a container's stats, as points for small charts.
import type { StatsSample } from '../bindings/StatsSample';

export interface Point {
  t: number;
  v: number;
}

export class StatsHistory {
  cpu: Point[] = [];
  memory: Point[] = [];
  netRx: Point[] = [];
  netTx: Point[] = [];
  last: StatsSample | null = null;
  private prev: StatsSample | null = null;
  private prevT = 0;

  /** `windowSeconds` of history (default 5 minutes). */
  constructor(readonly windowSeconds = 300) {}

  push(s: StatsSample, now: number = Date.now() / 1000): void {
    const t = Date.parse(s.read) / 1000 || now;
    this.cpu.push({ t, v: s.cpu_percent });
    this.memory.push({ t, v: s.memory_used });
    // Network as bytes per second between samples.
    if (this.prev && t > this.prevT) {
      const dt = t - this.prevT;
      this.netRx.push({ t, v: Math.max(0, (s.net_rx - this.prev.net_rx) / dt) });
      this.netTx.push({ t, v: Math.max(0, (s.net_tx - this.prev.net_tx) / dt) });
    }
    this.prev = s;
    this.prevT = t;
    this.last = s;
    const cutoff = t - this.windowSeconds;
    for (const series of [this.cpu, this.memory, this.netRx, this.netTx]) {
      while (series.length && series[0].t < cutoff) series.shift();
    }
  }
}

/** SVG polyline points for `series` in a width×height box; y from 0 to max(series, floor). */
export function sparkline(series: Point[], width: number, height: number, floor = 1): string {
  if (series.length === 0) return '';
  const t0 = series[0].t;
  const t1 = series[series.length - 1].t;
  const span = Math.max(1, t1 - t0);
  const max = Math.max(floor, ...series.map((p) => p.v));
  return series
    .map((p) => {
      const x = ((p.t - t0) / span) * width;
      const y = height - (p.v / max) * height;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}

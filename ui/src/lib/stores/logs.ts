// Log lines kept in flat arrays, so 100,000 lines cost little; search finds matching rows.
import type { LogLine } from '../bindings/LogLine';

export const MAX_LINES = 200_000;
/** What ends a line the engine cut (longer than its limit) in a downloaded log. */
export const CUT_SUFFIX = ' […]';

export class LogBuffer {
  text: string[] = [];
  stream: LogLine['stream'][] = [];
  time: (string | null)[] = [];
  /** Rows the engine cut because the line was too long (usually none, so a set). */
  cut = new Set<number>();
  /** Lines dropped from the front when the buffer was full. */
  dropped = 0;

  constructor(readonly max = MAX_LINES) {}

  get length(): number {
    return this.text.length;
  }

  append(lines: LogLine[]): void {
    for (const l of lines) {
      this.text.push(l.text);
      this.stream.push(l.stream);
      if (l.truncated) this.cut.add(this.text.length - 1);
      this.time.push(l.timestamp);
    }
    const over = this.text.length - this.max;
    if (over > 0) {
      this.text.splice(0, over);
      this.stream.splice(0, over);
      this.time.splice(0, over);
      if (this.cut.size) this.cut = new Set([...this.cut].filter((i) => i >= over).map((i) => i - over));
      this.dropped += over;
    }
  }

  clear(): void {
    this.text = [];
    this.stream = [];
    this.time = [];
    this.cut = new Set();
    this.dropped = 0;
  }

  /** Indices of lines containing `query` (case-insensitive). */
  search(query: string): number[] {
    const q = query.trim().toLowerCase();
    if (!q) return [];
    const out: number[] = [];
    for (let i = 0; i < this.text.length; i++) {
      if (this.text[i].toLowerCase().includes(q)) out.push(i);
    }
    return out;
  }

  /** The whole log as text, for download. */
  toText(withTime: boolean): string {
    const out: string[] = new Array(this.text.length);
    for (let i = 0; i < this.text.length; i++) {
      const text = this.cut.has(i) ? this.text[i] + CUT_SUFFIX : this.text[i];
      out[i] = withTime && this.time[i] ? `${this.time[i]} ${text}` : text;
    }
    return out.join('\n') + '\n';
  }
}

/** The rows a virtual list shows: first..last (exclusive), with `overscan` extra rows each side. */
export function visibleRange(scrollTop: number, viewport: number, rowHeight: number, total: number, overscan = 10) {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(total, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  return { first, last };
}

// The Dockerfile advice view's logic: findings counted by severity, the lines a finding is
// about, and a unified diff split into lines a person reads (added, removed, context, headers).
import type { Finding } from '../bindings/Finding';
import type { Severity } from '../bindings/Severity';

export const SEVERITIES: readonly Severity[] = ['error', 'warning', 'info', 'style'];

export function countBySeverity(findings: readonly Finding[]): Record<Severity, number> {
  const out: Record<Severity, number> = { error: 0, warning: 0, info: 0, style: 0 };
  for (const f of findings) out[f.severity]++;
  return out;
}

/** Indexes of the findings that have a fix. */
export function fixable(findings: readonly Finding[]): number[] {
  return findings.flatMap((f, i) => (f.fix ? [i] : []));
}

export interface DiffLine {
  kind: 'file' | 'hunk' | 'add' | 'del' | 'same';
  text: string;
}

/** A `diff -u` text as typed lines (the `---`/`+++` headers are `file`, `@@` lines `hunk`). */
export function diffLines(diff: string): DiffLine[] {
  const out: DiffLine[] = [];
  for (const line of diff.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('--- ') || line.startsWith('+++ ')) out.push({ kind: 'file', text: line });
    else if (line.startsWith('@@')) out.push({ kind: 'hunk', text: line });
    else if (line.startsWith('+')) out.push({ kind: 'add', text: line.slice(1) });
    else if (line.startsWith('-')) out.push({ kind: 'del', text: line.slice(1) });
    else out.push({ kind: 'same', text: line.slice(1) });
  }
  return out;
}

/** The Dockerfile's lines, each with the findings about it (by index), for the source view. */
export function annotatedLines(text: string, findings: readonly Finding[]): { number: number; text: string; findings: number[] }[] {
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((line, i) => ({
    number: i + 1,
    text: line,
    findings: findings.flatMap((f, k) => (f.line <= i + 1 && i + 1 <= Math.max(f.line, f.end_line) ? [k] : [])),
  }));
}

// Formatters shared by the panels, in the current language. Pure functions, tested in
// format.test.ts.
import type { PortMapping } from './bindings/PortMapping';
import { locale, t, type Key } from './i18n/index.svelte';

const UNITS: Key[] = ['unit.b', 'unit.kb', 'unit.mb', 'unit.gb', 'unit.tb'];

/** `v` with exactly `digits` decimals, as the current language writes numbers. */
export function decimal(v: number, digits: number): string {
  return new Intl.NumberFormat(locale.lang, { minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: false }).format(v);
}

/** 1536 → "1.54 KB" (powers of 1000, as `docker` prints sizes). */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return '—';
  let v = n;
  let u = 0;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  const digits = u === 0 || v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${decimal(v, digits)} ${t(UNITS[u])}`;
}

/** Memory in binary units: 2147483648 → "2.0 GiB". */
export function mib(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  if (n >= 1024 ** 3) return `${decimal(n / 1024 ** 3, 1)} ${t('unit.gib')}`;
  if (n >= 1024 ** 2) return `${decimal(n / 1024 ** 2, 0)} ${t('unit.mib')}`;
  if (n >= 1024) return `${decimal(n / 1024, 0)} ${t('unit.kib')}`;
  return `${n} ${t('unit.b')}`;
}

/** Seconds → "3 days", "5 minutes", "just now". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 5) return t('time.just_now');
  if (s < 45) return t('time.seconds', { n: s });
  const units: [number, Key][] = [
    [365 * 86400, 'time.years'],
    [30 * 86400, 'time.months'],
    [7 * 86400, 'time.weeks'],
    [86400, 'time.days'],
    [3600, 'time.hours'],
    [60, 'time.minutes'],
  ];
  for (const [size, key] of units) {
    if (s >= size) return t(key, { n: Math.floor(s / size) });
  }
  return t('time.seconds', { n: s });
}

/** Unix seconds → "5 minutes ago". */
export function ago(unixSeconds: number, now: number = Date.now() / 1000): string {
  if (!unixSeconds) return '—';
  if (now - unixSeconds < 5) return t('time.just_now');
  return t('time.ago', { duration: duration(now - unixSeconds) });
}

/** The first `max` items, joined with commas, "…" when there are more. */
export function list(items: readonly string[], max = Infinity): string {
  return items.slice(0, max).join(', ') + (items.length > max ? '…' : '');
}

/** Engine IDs: "sha256:abcdef…" → "abcdef012345". */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

export function percent(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return `${decimal(v, digits)}%`;
}

/** A published port as a link target, or null when only exposed. */
export function portUrl(p: PortMapping): string | null {
  if (!p.host_port || p.protocol !== 'tcp') return null;
  return `http://localhost:${p.host_port}`;
}

/** "localhost:8080 → 80" / "80/udp" */
export function portLabel(p: PortMapping): string {
  const proto = p.protocol === 'tcp' ? '' : `/${p.protocol}`;
  if (!p.host_port) return `${p.container_port}${proto}`;
  return `localhost:${p.host_port}${proto}`;
}

/** Published ports, once each (IPv4 and IPv6 bindings of the same port collapse). */
export function uniquePorts(ports: PortMapping[]): PortMapping[] {
  const seen = new Set<string>();
  const out: PortMapping[] = [];
  for (const p of ports) {
    const key = `${p.host_port ?? ''}:${p.container_port}/${p.protocol}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(p);
    }
  }
  return out;
}

/** Image reference without the default registry: "docker.io/library/nginx:1" → "nginx:1". */
export function imageName(ref: string): string {
  return ref.replace(/^docker\.io\//, '').replace(/^library\//, '');
}

/** A stored registry login's server as people say it: Docker Hub's "https://index.docker.io/v1/" → "Docker Hub" (a name). */
export function registryName(server: string): string {
  return server === 'https://index.docker.io/v1/' ? 'Docker Hub' : server;
}

/** RFC 3339 → local "HH:MM:SS.mmm". */
export function clock(ts: string | null | undefined): string {
  if (!ts) return '';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Unix seconds → local date and time, as the current language writes them. */
export function dateTime(unixSeconds: number): string {
  if (!unixSeconds) return '—';
  return new Date(unixSeconds * 1000).toLocaleString(locale.lang);
}

/** Splits text around case-insensitive matches of `query`, for highlighting. */
export function highlight(text: string, query: string): { text: string; hit: boolean }[] {
  if (!query) return [{ text, hit: false }];
  const lower = text.toLowerCase();
  const q = query.toLowerCase();
  const parts: { text: string; hit: boolean }[] = [];
  let i = 0;
  for (;;) {
    const j = lower.indexOf(q, i);
    if (j < 0) break;
    if (j > i) parts.push({ text: text.slice(i, j), hit: false });
    parts.push({ text: text.slice(j, j + q.length), hit: true });
    i = j + q.length;
  }
  if (i < text.length || parts.length === 0) parts.push({ text: text.slice(i), hit: false });
  return parts;
}

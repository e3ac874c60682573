// Compose view logic: each service's containers, a colour per service, the capped output and log
// buffers, and what a down confirmation lists.
import type { ComposeAction } from '../bindings/ComposeAction';
import type { ComposeLogLine } from '../bindings/ComposeLogLine';
import type { ContainerSummary } from '../bindings/ContainerSummary';
import type { DownPreview } from '../bindings/DownPreview';
import { isAlive } from './containers';

export interface ServiceRow {
  service: string;
  containers: ContainerSummary[];
  running: number;
  /** Declared in the files but without a container yet (or removed). */
  declaredOnly: boolean;
  /** On the engine but no longer in the files. */
  orphan: boolean;
  /** The service's profiles (none: it always runs). */
  profiles: string[];
  /** In profiles none of which is chosen: Up does not start it. */
  inactive: boolean;
}

/** One row per service: those the files declare, then any other the engine has for the project; each with its profiles and whether the `chosen` ones start it. */
export function serviceRows(
  project: string,
  declared: string[],
  containers: ContainerSummary[],
  serviceProfiles: Partial<Record<string, string[]>> = {},
  chosen: readonly string[] = [],
): ServiceRow[] {
  const byService = new Map<string, ContainerSummary[]>();
  for (const c of containers) {
    if (c.compose_project !== project || !c.compose_service) continue;
    let list = byService.get(c.compose_service);
    if (!list) byService.set(c.compose_service, (list = []));
    list.push(c);
  }
  const names = [...new Set([...declared, ...byService.keys()])].sort((a, b) => a.localeCompare(b));
  const known = new Set(declared);
  return names.map((service) => {
    const list = (byService.get(service) ?? []).sort((a, b) => a.name.localeCompare(b.name));
    const profiles = serviceProfiles[service] ?? [];
    const inactive = profiles.length > 0 && !profiles.some((p) => chosen.includes(p));
    return { service, containers: list, running: list.filter(isAlive).length, declaredOnly: list.length === 0, orphan: !known.has(service), profiles, inactive };
  });
}

/** Colours that read on light and dark backgrounds, one per service. */
export const SERVICE_COLORS = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#0891b2', '#65a30d', '#dc2626'] as const;

/** A service's colour: by its place among the project's services, so neighbours always differ; unknown services by a hash. */
export function serviceColor(service: string, services: readonly string[]): string {
  const i = services.indexOf(service);
  if (i >= 0) return SERVICE_COLORS[i % SERVICE_COLORS.length];
  let h = 0;
  for (const ch of service) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return SERVICE_COLORS[h % SERVICE_COLORS.length];
}

/** The prefix a log line shows: `web` or `web-2` for a second replica; compose's own lines have none. */
export function logPrefix(line: ComposeLogLine): string {
  if (!line.service) return '';
  return line.replica !== null && line.replica > 1 ? `${line.service}-${line.replica}` : line.service;
}

/** Lines kept at most in the output and log panes (the oldest go first). */
export const MAX_COMPOSE_LINES = 20_000;

/** `list` with `more` appended, keeping the last `max` items (a new array, for Svelte's state). */
export function appendCapped<T>(list: readonly T[], more: readonly T[], max = MAX_COMPOSE_LINES): T[] {
  const all = list.concat(more);
  return all.length > max ? all.slice(all.length - max) : all;
}

/** Whether a down would delete nothing at all (nothing of the project exists on the engine). */
export function nothingToDelete(p: DownPreview): boolean {
  return p.containers.length === 0 && p.networks.length === 0 && p.volumes.length === 0;
}

/** The path the user typed, as the core expects it: trimmed, without surrounding quotes (pasted from a file manager). */
export function cleanPath(text: string): string {
  const t = text.trim();
  const quoted = /^(['"])(.*)\1$/.exec(t);
  return (quoted ? quoted[2] : t).trim();
}

/** The log lines to show: every line but those of the `hidden` services (compose's own lines always show). */
export function shownLogs(lines: readonly ComposeLogLine[], hidden: ReadonlySet<string>): readonly ComposeLogLine[] {
  if (hidden.size === 0) return lines;
  return lines.filter((l) => !l.service || !hidden.has(l.service));
}

/** `hidden` with `service` shown again if it was hidden, hidden if it was shown (a new set, for Svelte's state). */
export function toggled(hidden: ReadonlySet<string>, service: string): Set<string> {
  const next = new Set(hidden);
  if (!next.delete(service)) next.add(service);
  return next;
}

/** `chosen` with `profile` added or removed, sorted (compose's order does not matter; a stable one keeps the UI still). */
export function toggledProfile(chosen: readonly string[], profile: string): string[] {
  const next = chosen.includes(profile) ? chosen.filter((p) => p !== profile) : [...chosen, profile];
  return next.sort((a, b) => a.localeCompare(b));
}

/** What a compose command does, as its heading says it: the verb, and the services it names (`restart web`). */
export function commandLabel(action: ComposeAction, services: readonly string[] = []): string {
  return [action.kind, ...services].join(' ');
}

// Container list logic: filter, search, group by compose project.
import type { ContainerSummary } from '../bindings/ContainerSummary';
import type { EngineEvent } from '../bindings/EngineEvent';

export type StateFilter = 'all' | 'running' | 'stopped';

export interface ContainerGroup {
  /** Compose project, or null for standalone containers. */
  project: string | null;
  containers: ContainerSummary[];
  running: number;
}

export function isAlive(c: ContainerSummary): boolean {
  return c.state === 'running' || c.state === 'paused' || c.state === 'restarting';
}

export function matches(c: ContainerSummary, query: string, state: StateFilter): boolean {
  if (state === 'running' && !isAlive(c)) return false;
  if (state === 'stopped' && isAlive(c)) return false;
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return (
    c.name.toLowerCase().includes(q) ||
    c.image.toLowerCase().includes(q) ||
    c.id.startsWith(q) ||
    (c.compose_project ?? '').toLowerCase().includes(q) ||
    c.ports.some((p) => String(p.host_port ?? '') === q)
  );
}

/** Groups by compose project (projects first, by name), standalone containers last; each group sorted by name. */
export function groupContainers(list: ContainerSummary[], query = '', state: StateFilter = 'all'): ContainerGroup[] {
  const groups = new Map<string | null, ContainerSummary[]>();
  for (const c of list) {
    if (!matches(c, query, state)) continue;
    const key = c.compose_project ?? null;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(c);
  }
  const out: ContainerGroup[] = [];
  for (const [project, containers] of groups) {
    containers.sort((a, b) => a.name.localeCompare(b.name));
    out.push({ project, containers, running: containers.filter(isAlive).length });
  }
  out.sort((a, b) => {
    if (a.project === null) return 1;
    if (b.project === null) return -1;
    return a.project.localeCompare(b.project);
  });
  return out;
}

/** Container events that change what the list shows. */
const LIST_ACTIONS = new Set(['create', 'start', 'die', 'stop', 'destroy', 'pause', 'unpause', 'restart', 'rename', 'kill', 'oom']);

export function changesContainerList(ev: EngineEvent): boolean {
  if (ev.kind === 'reconnected') return true;
  if (ev.kind !== 'event') return false;
  return ev.event.resource === 'container' && LIST_ACTIONS.has(ev.event.action);
}

/** The engine's resource lists the app keeps. */
export type ResourceKind = 'containers' | 'images' | 'volumes' | 'networks';

/** Which resource lists an event makes stale. */
export function staleResources(ev: EngineEvent): Set<ResourceKind> {
  const out = new Set<ResourceKind>();
  if (ev.kind === 'reconnected') return new Set(['containers', 'images', 'volumes', 'networks']);
  if (ev.kind !== 'event') return out;
  const r = ev.event.resource;
  if (changesContainerList(ev)) out.add('containers');
  if (r === 'image') out.add('images');
  if (r === 'volume') out.add('volumes');
  if (r === 'network') out.add('networks');
  if (r === 'container' && (ev.event.action === 'create' || ev.event.action === 'destroy')) {
    out.add('images');
    out.add('volumes');
    out.add('networks');
  }
  return out;
}

/** Selection helper for bulk actions: toggles, keeps only ids still listed. */
export function pruneSelection(selected: Set<string>, list: ContainerSummary[]): Set<string> {
  const ids = new Set(list.map((c) => c.id));
  return new Set([...selected].filter((id) => ids.has(id)));
}

/** One line of the virtual container list: a compose group header or a container. */
export type ListItem =
  | { kind: 'group'; key: string; top: number; group: ContainerGroup }
  | { kind: 'row'; key: string; top: number; container: ContainerSummary; group: ContainerGroup };

export const ROW_HEIGHT = 48;
export const GROUP_HEIGHT = 34;

/** Positions every line; compose projects get a header line. */
export function layoutList(groups: ContainerGroup[]): { items: ListItem[]; height: number } {
  const items: ListItem[] = [];
  let top = 0;
  for (const g of groups) {
    if (g.project) {
      items.push({ kind: 'group', key: `g:${g.project}`, top, group: g });
      top += GROUP_HEIGHT;
    }
    for (const c of g.containers) {
      items.push({ kind: 'row', key: c.id, top, container: c, group: g });
      top += ROW_HEIGHT;
    }
  }
  return { items, height: top };
}

/** The lines intersecting [scrollTop, scrollTop + viewport), plus `overscan` pixels each side. */
export function visibleItems(items: ListItem[], scrollTop: number, viewport: number, overscan = 400): ListItem[] {
  const from = scrollTop - overscan;
  const to = scrollTop + viewport + overscan;
  // Binary search for the first line ending after `from`.
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const end = items[mid].top + (items[mid].kind === 'group' ? GROUP_HEIGHT : ROW_HEIGHT);
    if (end <= from) lo = mid + 1;
    else hi = mid;
  }
  const out: ListItem[] = [];
  for (let i = lo; i < items.length && items[i].top < to; i++) out.push(items[i]);
  return out;
}

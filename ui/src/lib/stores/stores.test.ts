import { describe, expect, it } from 'vitest';
import type { ContainerSummary } from '../bindings/ContainerSummary';
import type { EngineEvent } from '../bindings/EngineEvent';
import { changesContainerList, groupContainers, matches, pruneSelection, staleResources } from './containers';
import { CUT_SUFFIX, LogBuffer, visibleRange } from './logs';
import { StatsHistory, sparkline } from './stats';
import { Timeline, toEntry } from './events';
import { toApiError } from '../ipc';

function c(name: string, state: ContainerSummary['state'], project: string | null = null, port?: number): ContainerSummary {
  return {
    id: `${name}-id`, name, image: 'busybox:latest', image_id: 'sha256:1', command: 'sh', created: 0, state, status: '',
    ports: port ? [{ host_ip: '0.0.0.0', host_port: port, container_port: 80, protocol: 'tcp' }] : [],
    labels: {}, compose_project: project, compose_service: project ? name : null, networks: [], mounts: [], size_rw: null,
  };
}

function ev(resource: string, action: string): EngineEvent {
  return { kind: 'event', event: { resource, action, id: 'x', name: 'web', attributes: {}, time: 100, time_nano: 0 }, description: `${resource} web ${action}` };
}

describe('containers store', () => {
  const list = [c('web', 'running', 'shop', 8080), c('db', 'exited', 'shop'), c('solo', 'running'), c('old', 'exited')];
  it('groups by compose project, standalone last, names sorted', () => {
    const g = groupContainers(list);
    expect(g.map((x) => x.project)).toEqual(['shop', null]);
    expect(g[0].containers.map((x) => x.name)).toEqual(['db', 'web']);
    expect(g[0].running).toBe(1);
    expect(g[1].containers.map((x) => x.name)).toEqual(['old', 'solo']);
  });
  it('filters by state and searches name, image, project and port', () => {
    expect(groupContainers(list, '', 'running').flatMap((g) => g.containers.map((x) => x.name))).toEqual(['web', 'solo']);
    expect(groupContainers(list, '', 'stopped').flatMap((g) => g.containers.map((x) => x.name))).toEqual(['db', 'old']);
    expect(matches(list[0], '8080', 'all')).toBe(true);
    expect(matches(list[0], 'SHOP', 'all')).toBe(true);
    expect(matches(list[2], 'nothing', 'all')).toBe(false);
  });
  it('knows which events make lists stale', () => {
    expect(changesContainerList(ev('container', 'start'))).toBe(true);
    expect(changesContainerList(ev('container', 'exec_start: sh'))).toBe(false);
    expect([...staleResources(ev('volume', 'create'))]).toEqual(['volumes']);
    expect(staleResources(ev('container', 'destroy')).has('images')).toBe(true);
    expect(staleResources({ kind: 'reconnected', attempt: 1 }).size).toBe(4);
  });
  it('drops selected ids that left the list', () => {
    expect([...pruneSelection(new Set(['web-id', 'gone']), list)]).toEqual(['web-id']);
  });
});

describe('log buffer', () => {
  // No timing assertion (it failed on a loaded 2-core CI machine): speed is measured by the UI benchmark.
  it('appends, caps and searches 100,000 lines', () => {
    const b = new LogBuffer(150_000);
    const batch = Array.from({ length: 100_000 }, (_, i) => ({ stream: (i % 10 === 0 ? 'stderr' : 'stdout') as 'stderr' | 'stdout', timestamp: null, text: `line ${i}` }));
    b.append(batch);
    const hits = b.search('line 9999');
    expect(b.length).toBe(100_000);
    expect(hits).toEqual([9999, 99990, 99991, 99992, 99993, 99994, 99995, 99996, 99997, 99998, 99999]);
    b.append(batch);
    expect(b.length).toBe(150_000);
    expect(b.dropped).toBe(50_000);
    expect(b.text[0]).toBe('line 50000');
  });
  it('exports text with optional timestamps', () => {
    const b = new LogBuffer();
    b.append([{ stream: 'stdout', timestamp: '2026-01-01T00:00:00Z', text: 'hi' }]);
    expect(b.toText(false)).toBe('hi\n');
    expect(b.toText(true)).toBe('2026-01-01T00:00:00Z hi\n');
  });
  it('remembers which lines the engine cut, through drops, and marks them in the download', () => {
    const b = new LogBuffer(3);
    const line = (text: string, truncated = false) => ({ stream: 'stdout' as const, timestamp: null, text, truncated });
    b.append([line('a'), line('long', true), line('b')]);
    expect([...b.cut]).toEqual([1]);
    b.append([line('c'), line('huge', true)]);
    expect(b.text).toEqual(['b', 'c', 'huge']);
    expect([...b.cut]).toEqual([2]);
    expect(b.toText(false)).toBe(`b\nc\nhuge${CUT_SUFFIX}\n`);
    b.clear();
    expect(b.cut.size).toBe(0);
  });
  it('computes the visible window of a virtual list', () => {
    expect(visibleRange(0, 180, 18, 100_000, 5)).toEqual({ first: 0, last: 15 });
    expect(visibleRange(18 * 1000, 180, 18, 100_000, 5)).toEqual({ first: 995, last: 1015 });
    expect(visibleRange(18 * 99_995, 180, 18, 100_000, 5)).toEqual({ first: 99_990, last: 100_000 });
  });
});

describe('stats history', () => {
  const sample = (sec: number, cpu: number, rx: number) => ({
    read: new Date(sec * 1000).toISOString(), cpu_percent: cpu, memory_used: 1000, memory_limit: 2000, memory_percent: 50,
    net_rx: rx, net_tx: 0, block_read: 0, block_write: 0, pids: 1,
  });
  it('keeps a window of history and derives network rates', () => {
    const h = new StatsHistory(10);
    h.push(sample(100, 5, 0));
    h.push(sample(101, 10, 2000));
    expect(h.netRx).toEqual([{ t: 101, v: 2000 }]);
    h.push(sample(115, 1, 2000));
    expect(h.cpu.map((p) => p.t)).toEqual([115]);
    expect(h.last?.cpu_percent).toBe(1);
  });
  it('draws sparklines scaled to the box', () => {
    expect(sparkline([], 100, 10)).toBe('');
    expect(sparkline([{ t: 0, v: 0 }, { t: 1, v: 10 }], 100, 10)).toBe('0.0,10.0 100.0,0.0');
  });
});

describe('events timeline', () => {
  it('puts the newest first and filters', () => {
    const t = new Timeline(3);
    t.add([ev('container', 'create'), ev('container', 'start')]);
    t.add([ev('volume', 'create')]);
    expect(t.entries.map((e) => e.action)).toEqual(['create', 'start', 'create']);
    expect(t.filtered('container', 'start').map((e) => e.text)).toEqual(['container web start']);
    t.add([ev('image', 'pull')]);
    expect(t.entries).toHaveLength(3);
  });
  it('describes connection news', () => {
    expect(toEntry({ kind: 'disconnected', reason: 'gone', attempt: 1, retry_in_ms: 500 }, 5).text).toContain('retrying in 0.5 s');
  });
});

describe('api errors', () => {
  it('keeps structured errors and wraps anything else', () => {
    expect(toApiError({ code: 'not_found', message: 'm', hint: 'h', fields: [] }).code).toBe('not_found');
    const e = toApiError(new Error('boom'));
    expect(e.code).toBe('ui');
    expect(e.message).toBe('boom');
  });
});

import { layoutList, visibleItems, ROW_HEIGHT, GROUP_HEIGHT } from './containers';

describe('virtual container list', () => {
  it('lays out group headers and rows and shows only what is in view', () => {
    const many = Array.from({ length: 1000 }, (_, i) => c(`c${String(i).padStart(4, '0')}`, 'exited'));
    const groups = groupContainers([c('web', 'running', 'shop'), ...many]);
    const { items, height } = layoutList(groups);
    expect(items).toHaveLength(1002);
    expect(height).toBe(GROUP_HEIGHT + 1001 * ROW_HEIGHT);
    expect(items[0].kind).toBe('group');
    const top = visibleItems(items, 0, 480, 0);
    expect(top[0].kind).toBe('group');
    expect(top.length).toBeLessThanOrEqual(12);
    const mid = visibleItems(items, 500 * ROW_HEIGHT, 480, 0);
    expect(mid[0].kind === 'row' && mid[0].container.name).toBe('c0498');
    expect(mid.length).toBeLessThanOrEqual(12);
  });
});

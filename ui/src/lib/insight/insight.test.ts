// The see-inside views' logic on canned data (the real data comes from the engine in the
// gantry-core and desktop e2e tests).
import { describe, expect, it } from 'vitest';
import type { TreeNode } from '../bindings/TreeNode';
import type { Finding } from '../bindings/Finding';
import type { Topology } from '../bindings/Topology';
import type { Package } from '../bindings/Package';
import type { VulnerabilityMatch } from '../bindings/VulnerabilityMatch';
import type { ExplainedEvent } from '../bindings/ExplainedEvent';
import { openChanged, readPercent, share, visibleRows } from './layers';
import { annotatedLines, countBySeverity, diffLines, fixable } from './lint';
import { clickTarget, layout, neighbourhood, NODE_H, ROW } from './topology';
import { countByEcosystem, filterPackages, sbomFileName, severityWord, sortVulnerabilities } from './contents';
import { containerNews, explanationOf, rawEvent, subjectOf, worthExplaining } from './events';

function node(path: string, change: TreeNode['change'], size: number, children: TreeNode[] = []): TreeNode {
  const name = path.split('/').pop() ?? '';
  const total = size + children.reduce((n, c) => n + c.total_bytes, 0);
  return { name, path, kind: children.length ? 'dir' : 'file', change, size_bytes: size, total_bytes: total, link: null, opaque: false, children };
}

const tree = node('/', 'unchanged', 0, [
  node('/etc', 'unchanged', 0, [node('/etc/passwd', 'changed', 900)]),
  node('/usr', 'unchanged', 0, [node('/usr/bin', 'unchanged', 0, [node('/usr/bin/big', 'added', 5000), node('/usr/bin/small', 'added', 10)])]),
  node('/big.bin', 'removed', 200000),
  node('/tmp', 'changed', 0, [node('/tmp/cache', 'added', 10)]),
]);

describe('layers', () => {
  it('shows the top level, then what is opened', () => {
    expect(visibleRows(tree, new Set()).rows.map((r) => r.node.path)).toEqual(['/etc', '/usr', '/big.bin', '/tmp']);
    const open = visibleRows(tree, new Set(['/usr', '/usr/bin'])).rows;
    expect(open.map((r) => [r.node.path, r.depth])).toEqual([['/etc', 0], ['/usr', 0], ['/usr/bin', 1], ['/usr/bin/big', 2], ['/usr/bin/small', 2], ['/big.bin', 0], ['/tmp', 0]]);
  });
  it('orders by size and finds by path, opening the way', () => {
    expect(visibleRows(tree, new Set(), 'size').rows.map((r) => r.node.name)).toEqual(['big.bin', 'usr', 'etc', 'tmp']);
    expect(visibleRows(tree, new Set(), 'name', 'SMALL').rows.map((r) => r.node.path)).toEqual(['/usr', '/usr/bin', '/usr/bin/small']);
  });
  it('caps the rows and says how many are hidden', () => {
    const { rows, hidden } = visibleRows(tree, new Set(['/usr', '/usr/bin', '/etc']), 'name', '', 3);
    expect(rows.length).toBe(3);
    expect(hidden).toBe(5);
  });
  it('opens the folders that hold changes', () => {
    // A changed folder opens too when something in it changed (here /tmp).
    expect([...openChanged(tree)].sort()).toEqual(['/etc', '/tmp', '/usr', '/usr/bin']);
  });
  it('never says 100% before the report', () => {
    expect(readPercent(0, 0)).toBe(0);
    expect(readPercent(50, 200)).toBe(25);
    expect(readPercent(300, 200)).toBe(99);
    expect(share(1, 3)).toBe(33.3);
  });
});

function finding(rule: string, line: number, severity: Finding['severity'], fix = false): Finding {
  return { rule, also: [], source: 'hadolint', severity, line, end_line: line, message: rule, why: 'why', fix: fix ? { title: 'fix', edits: [] } : null, docs_url: '' };
}

describe('lint', () => {
  const findings = [finding('DL3007', 1, 'warning', true), finding('DL3059', 2, 'info'), finding('JSONArgsRecommended', 3, 'warning', true)];
  it('counts and picks the fixable ones', () => {
    expect(countBySeverity(findings)).toEqual({ error: 0, warning: 2, info: 1, style: 0 });
    expect(fixable(findings)).toEqual([0, 2]);
  });
  it('reads a unified diff', () => {
    const lines = diffLines('--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1,2 +1,2 @@\n-FROM debian:latest\n+FROM debian:12\n RUN true\n');
    expect(lines.map((l) => l.kind)).toEqual(['file', 'file', 'hunk', 'del', 'add', 'same']);
    expect(lines[4].text).toBe('FROM debian:12');
  });
  it('marks each line with its findings', () => {
    const lines = annotatedLines('FROM debian:latest\nRUN a\nCMD x\n', findings);
    expect(lines.map((l) => l.findings)).toEqual([[0], [1], [2]]);
  });
});

describe('topology', () => {
  const containers = Array.from({ length: 50 }, (_, i) => ({ id: `container:c${i}`, kind: 'container' as const, label: `c${i}`, detail: 'busybox', state: 'running' as const, group: i < 10 ? 'shop' : null }));
  const picture: Topology = {
    nodes: [
      ...containers,
      { id: 'network:bridge', kind: 'network', label: 'bridge', detail: 'bridge', state: null, group: null },
      { id: 'network:shop_default', kind: 'network', label: 'shop_default', detail: 'bridge', state: null, group: null },
      { id: 'volume:data', kind: 'volume', label: 'data', detail: '', state: null, group: null },
      { id: 'port:127.0.0.1:8080/tcp', kind: 'host_port', label: '127.0.0.1:8080', detail: 'tcp', state: null, group: null },
      { id: 'port:127.0.0.1:5353/udp', kind: 'host_port', label: '127.0.0.1:5353', detail: 'udp', state: null, group: null },
    ],
    edges: [
      ...containers.map((c, i) => ({ from: c.id, to: i < 10 ? 'network:shop_default' : 'network:bridge', kind: 'joins' as const, label: '' })),
      { from: 'port:127.0.0.1:8080/tcp', to: 'container:c3', kind: 'publishes', label: '80/tcp' },
      { from: 'volume:data', to: 'container:c40', kind: 'mounts', label: '' },
    ],
  };
  const placed = layout(picture);
  it('puts ports, containers and the rest in three columns without overlaps, with 50 containers', () => {
    for (const column of [0, 1, 2]) {
      const ys = placed.nodes.filter((n) => n.column === column).map((n) => n.y).sort((a, b) => a - b);
      for (let i = 1; i < ys.length; i++) expect(ys[i] - ys[i - 1]).toBeGreaterThanOrEqual(ROW);
    }
    expect(placed.nodes.find((n) => n.node.kind === 'host_port')!.column).toBe(0);
    expect(placed.height).toBeGreaterThanOrEqual(50 * ROW);
    expect(ROW).toBeGreaterThan(NODE_H);
  });
  it('keeps a compose project together and a port beside its container', () => {
    const at = (id: string) => placed.nodes.find((n) => n.node.id === id)!.y;
    const shop = containers.slice(0, 10).map((c) => at(c.id));
    expect(Math.max(...shop) - Math.min(...shop)).toBe(9 * ROW);
    expect(at('port:127.0.0.1:8080/tcp')).toBe(at('container:c3'));
    expect(at('volume:data')).toBeGreaterThanOrEqual(at('container:c40') - ROW);
    expect(placed.edges).toHaveLength(picture.edges.length);
  });
  it('puts running containers before stopped ones', () => {
    const stopped = { ...containers[20], id: 'container:stopped', label: 'a-stopped', state: 'exited' as const };
    const order = layout({ nodes: [stopped, containers[21]], edges: [] }).nodes.sort((a, b) => a.y - b.y).map((n) => n.node.label);
    expect(order).toEqual(['c21', 'a-stopped']);
  });
  it('highlights what a node touches and opens what is clicked', () => {
    expect([...neighbourhood('container:c3', picture.edges)].sort()).toEqual(['container:c3', 'network:shop_default', 'port:127.0.0.1:8080/tcp']);
    expect(clickTarget(containers[3])).toEqual({ kind: 'container', id: 'c3' });
    expect(clickTarget(picture.nodes[52])).toEqual({ kind: 'panel', panel: 'volumes' });
    expect(clickTarget(picture.nodes[53])).toEqual({ kind: 'url', url: 'http://localhost:8080' });
    expect(clickTarget(picture.nodes[54])).toBeNull();
  });
});

function pkg(name: string, ecosystem: Package['ecosystem'], layer: number | null): Package {
  return { name, version: '1.0', ecosystem, source: null, source_version: null, arch: null, license: 'MIT', purl: `pkg:x/${name}`, location: '/x', layer };
}

describe('contents', () => {
  const packages = [pkg('zlib', 'debian', 0), pkg('lodash', 'npm', 2), pkg('bash', 'debian', 0)];
  it('filters, sorts and counts packages', () => {
    expect(filterPackages(packages, '', 'all', 'name').map((p) => p.name)).toEqual(['bash', 'lodash', 'zlib']);
    expect(filterPackages(packages, 'LOD', 'all', 'name').map((p) => p.name)).toEqual(['lodash']);
    expect(filterPackages(packages, '', 'debian', 'layer').map((p) => p.name)).toEqual(['bash', 'zlib']);
    expect(countByEcosystem(packages)).toEqual([['debian', 2], ['npm', 1]]);
  });
  it('puts the most severe first', () => {
    const m = (id: string, severity: string | null): VulnerabilityMatch => ({ id, aliases: [], summary: '', severity, package: 'p', version: '1', ecosystem: 'npm', fixed: null, url: null, location: '' });
    expect(sortVulnerabilities([m('a', 'LOW'), m('b', null), m('c', 'CRITICAL'), m('d', 'MODERATE')]).map((v) => v.id)).toEqual(['c', 'd', 'a', 'b']);
    expect(severityWord('Moderate')).toBe('medium');
    expect(severityWord('CVSS:3.1/AV:N')).toBe('unknown');
  });
  it('names the exported file safely', () => {
    expect(sbomFileName('registry.example:5000/team/nginx:1.27')).toBe('nginx_1.27.cdx.json');
  });
});

describe('events', () => {
  const diedEvent = { resource: 'container', action: 'die', id: 'abc', name: 'web', attributes: {}, time: 1, time_nano: 1e9 };
  const ev: ExplainedEvent = {
    kind: 'event',
    event: diedEvent,
    explanation: { situation: 'command_not_found', tone: 'problem', headline: 'web stopped: command not found', meaning: 'm', detail: null, exit_code: 127, lab: 'first-container' },
  };
  it('keeps the engine event for the lists and the explanation for the timeline', () => {
    expect(rawEvent(ev)).toMatchObject({ kind: 'event', description: 'web stopped: command not found' });
    expect(explanationOf(ev)?.exit_code).toBe(127);
    expect(worthExplaining(explanationOf(ev)!)).toBe(true);
    expect(rawEvent({ kind: 'reconnected', attempt: 2 })).toEqual({ kind: 'reconnected', attempt: 2 });
  });
  it('tells a container page its latest problem, until it starts again', () => {
    const died = { resource: 'container', subject: subjectOf(ev), explanation: explanationOf(ev) };
    const started = { resource: 'container', subject: 'abc', explanation: { ...explanationOf(ev)!, situation: 'container_started' as const, tone: 'good' as const } };
    const left = { resource: 'network', subject: 'abc', explanation: { ...explanationOf(ev)!, situation: 'network_disconnected' as const, tone: 'info' as const } };
    expect(containerNews([died], 'abc')?.exit_code).toBe(127);
    expect(containerNews([left, died], 'abc')?.exit_code).toBe(127);
    expect(containerNews([started, died], 'abc')).toBeNull();
    expect(containerNews([died], 'other')).toBeNull();
    const network: ExplainedEvent = { ...ev, event: { ...diedEvent, resource: 'network', id: 'net1', attributes: { container: 'abc' } } };
    expect(subjectOf(network)).toBe('abc');
  });
});

// The live picture's layout: host ports on the left, containers in the middle (grouped by compose
// project), networks, volumes and host folders on the right; each column ordered so that edges
// cross little (every node sits near the middle of what it connects to), nodes never overlap, and
// 50 containers stay readable (one row each, the picture scrolls).
import type { Edge } from '../bindings/Edge';
import type { Node } from '../bindings/Node';
import type { NodeKind } from '../bindings/NodeKind';
import type { Topology } from '../bindings/Topology';

export const ROW = 36;
export const NODE_H = 28;
export const COLUMN_X = [16, 250, 560] as const;
export const NODE_W = [170, 240, 230] as const;
const TOP = 40;

export interface PlacedNode {
  node: Node;
  column: 0 | 1 | 2;
  x: number;
  y: number;
  w: number;
}

export interface PlacedEdge {
  edge: Edge;
  /** SVG path from the left node's right side to the right node's left side. */
  path: string;
}

export interface Layout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

export function columnOf(kind: NodeKind): 0 | 1 | 2 {
  return kind === 'host_port' ? 0 : kind === 'container' ? 1 : 2;
}

const RIGHT_ORDER: Record<NodeKind, number> = { network: 0, volume: 1, host_folder: 2, container: 3, host_port: 3 };

/** Mean of the numbers, or `fallback` when there are none. */
function mean(values: number[], fallback: number): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : fallback;
}

/** Spreads wanted positions top to bottom so that no two are closer than `ROW`. */
function spread(wanted: { id: string; y: number }[]): Map<string, number> {
  const out = new Map<string, number>();
  let last = -Infinity;
  for (const w of [...wanted].sort((a, b) => a.y - b.y || a.id.localeCompare(b.id))) {
    const y = Math.max(w.y, last + ROW, TOP);
    out.set(w.id, y);
    last = y;
  }
  return out;
}

const running = (n: Node) => (n.state === 'running' ? 1 : 0);

/** Places every node of the picture: within a compose project (or none), running containers first. */
export function layout(topology: Topology): Layout {
  const byId = new Map(topology.nodes.map((n) => [n.id, n]));
  const links = new Map<string, string[]>();
  for (const e of topology.edges) {
    if (!byId.has(e.from) || !byId.has(e.to)) continue;
    links.set(e.from, [...(links.get(e.from) ?? []), e.to]);
    links.set(e.to, [...(links.get(e.to) ?? []), e.from]);
  }
  const neighbours = (id: string, column: number) => (links.get(id) ?? []).filter((n) => columnOf(byId.get(n)!.kind) === column);

  // Right column first, in a stable order (networks, volumes, folders), to sort containers by.
  const right = topology.nodes.filter((n) => columnOf(n.kind) === 2).sort((a, b) => RIGHT_ORDER[a.kind] - RIGHT_ORDER[b.kind] || a.label.localeCompare(b.label));
  const rightRank = new Map(right.map((n, i) => [n.id, i]));
  const containers = topology.nodes
    .filter((n) => n.kind === 'container')
    .map((n) => ({ n, key: mean(neighbours(n.id, 2).map((r) => rightRank.get(r)!), right.length) }))
    .sort((a, b) => (a.n.group ?? '\uffff').localeCompare(b.n.group ?? '\uffff') || running(b.n) - running(a.n) || a.key - b.key || a.n.label.localeCompare(b.n.label))
    .map((c) => c.n);

  const y = new Map<string, number>();
  containers.forEach((c, i) => y.set(c.id, TOP + i * ROW));
  // Ports and right-hand nodes sit near the middle of their containers.
  const near = (n: Node, fallback: number) => ({ id: n.id, y: mean(neighbours(n.id, 1).map((c) => y.get(c)!), fallback) });
  const ports = topology.nodes.filter((n) => n.kind === 'host_port');
  for (const [id, at] of spread(ports.map((p) => near(p, TOP + containers.length * ROW)))) y.set(id, at);
  for (const [id, at] of spread(right.map((r, i) => near(r, TOP + (containers.length + i) * ROW)))) y.set(id, at);

  const nodes: PlacedNode[] = topology.nodes.map((node) => {
    const column = columnOf(node.kind);
    return { node, column, x: COLUMN_X[column], y: y.get(node.id) ?? TOP, w: NODE_W[column] };
  });
  const placed = new Map(nodes.map((p) => [p.node.id, p]));
  const edges: PlacedEdge[] = topology.edges.flatMap((edge) => {
    const a = placed.get(edge.from);
    const b = placed.get(edge.to);
    if (!a || !b) return [];
    const [l, r] = a.column <= b.column ? [a, b] : [b, a];
    const x1 = l.x + l.w;
    const y1 = l.y + NODE_H / 2;
    const x2 = r.x;
    const y2 = r.y + NODE_H / 2;
    const mid = (x1 + x2) / 2;
    return [{ edge, path: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` }];
  });
  const height = Math.max(TOP, ...nodes.map((n) => n.y)) + ROW + 8;
  return { nodes, edges, width: COLUMN_X[2] + NODE_W[2] + 16, height };
}

/** The nodes one edge away from `id` (and `id` itself), to highlight what a node touches. */
export function neighbourhood(id: string | null, edges: readonly Edge[]): Set<string> {
  const out = new Set<string>();
  if (!id) return out;
  out.add(id);
  for (const e of edges) {
    if (e.from === id) out.add(e.to);
    if (e.to === id) out.add(e.from);
  }
  return out;
}

/** What a click on a node opens: a container's detail, the panel of a network or volume, a port's page. */
export type Target = { kind: 'container'; id: string } | { kind: 'panel'; panel: 'networks' | 'volumes' } | { kind: 'url'; url: string } | null;

export function clickTarget(node: Node): Target {
  switch (node.kind) {
    case 'container':
      return { kind: 'container', id: node.id.replace(/^container:/, '') };
    case 'network':
      return { kind: 'panel', panel: 'networks' };
    case 'volume':
      return { kind: 'panel', panel: 'volumes' };
    case 'host_port': {
      // port:<ip>:<port>/<protocol>; only TCP ports open in a browser.
      const m = /^port:(.*):(\d+)\/tcp$/.exec(node.id);
      if (!m) return null;
      return { kind: 'url', url: `http://localhost:${m[2]}` };
    }
    default:
      return null;
  }
}

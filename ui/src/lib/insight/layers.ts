// The layer view's logic: progress of a read, a layer's file tree as the rows on screen
// (expanded folders, a search that opens the way to what it finds, a row limit), the share of an
// image a layer or file takes.
import type { TreeNode } from '../bindings/TreeNode';
import type { LayerReport } from '../bindings/LayerReport';

/** One row of the file tree on screen. */
export interface TreeRow {
  node: TreeNode;
  depth: number;
  /** A folder with entries under it. */
  folder: boolean;
  open: boolean;
}

export type TreeOrder = 'name' | 'size';

/** Percent of an image read so far; never 100 before the analysis arrives (the export's tar is a bit bigger than the image). */
export function readPercent(bytes: number, total: number): number {
  if (total <= 0) return 0;
  return Math.min(99, Math.floor((bytes / total) * 100));
}

/** True when `node` or something under it matches `query` (a part of its path, any case). */
function matches(node: TreeNode, query: string): boolean {
  if (node.path.toLowerCase().includes(query)) return true;
  return node.children.some((c) => matches(c, query));
}

function ordered(children: TreeNode[], order: TreeOrder): TreeNode[] {
  if (order === 'name') return children;
  return [...children].sort((a, b) => b.total_bytes - a.total_bytes || a.name.localeCompare(b.name));
}

/**
 * The rows to show: the root's children, and under each open folder its children. With a
 * `query`, only what matches (and the folders leading to it, opened) is shown. At most `limit`
 * rows; `hidden` says how many more there would be.
 */
export function visibleRows(root: TreeNode, open: ReadonlySet<string>, order: TreeOrder = 'name', query = '', limit = 1500): { rows: TreeRow[]; hidden: number } {
  const q = query.trim().toLowerCase();
  const rows: TreeRow[] = [];
  let hidden = 0;
  const walk = (node: TreeNode, depth: number) => {
    for (const child of ordered(node.children, order)) {
      if (q && !matches(child, q)) continue;
      const folder = child.children.length > 0;
      const isOpen = folder && (q ? true : open.has(child.path));
      if (rows.length >= limit) hidden++;
      else rows.push({ node: child, depth, folder, open: isOpen });
      if (isOpen) walk(child, depth + 1);
    }
  };
  walk(root, 0);
  return { rows, hidden };
}

/** Folders to open so that every changed entry of the tree is in view (up to `max` folders). */
export function openChanged(root: TreeNode, max = 200): Set<string> {
  const out = new Set<string>();
  const walk = (node: TreeNode): boolean => {
    let below = false;
    for (const child of node.children) {
      const inside = walk(child);
      below ||= inside || child.change !== 'unchanged';
    }
    if (below && node.path !== '/' && out.size < max) out.add(node.path);
    return below;
  };
  walk(root);
  return out;
}

/** A layer's share of the image's bytes, for its bar (0–100). */
export function share(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0;
}

/** The layer with the most wasted bytes, if any layer wastes some. */
export function worstLayer(report: LayerReport): number | null {
  let best: number | null = null;
  for (const l of report.layers) if (l.wasted_bytes > 0 && (best === null || l.wasted_bytes > report.layers[best].wasted_bytes)) best = l.index;
  return best;
}

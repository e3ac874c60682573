// The image contents view's logic: the package table filtered and sorted, counts per ecosystem,
// vulnerabilities ordered by severity, the file name of an exported SBOM.
import type { Package } from '../bindings/Package';
import type { VulnerabilityMatch } from '../bindings/VulnerabilityMatch';

export type PackageOrder = 'name' | 'ecosystem' | 'layer';

export function filterPackages(packages: readonly Package[], query: string, ecosystem: string, order: PackageOrder): Package[] {
  const q = query.trim().toLowerCase();
  const out = packages.filter((p) => (ecosystem === 'all' || p.ecosystem === ecosystem) && (!q || p.name.toLowerCase().includes(q) || p.version.toLowerCase().includes(q) || (p.license ?? '').toLowerCase().includes(q)));
  const byName = (a: Package, b: Package) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version);
  if (order === 'ecosystem') out.sort((a, b) => a.ecosystem.localeCompare(b.ecosystem) || byName(a, b));
  else if (order === 'layer') out.sort((a, b) => (a.layer ?? -1) - (b.layer ?? -1) || byName(a, b));
  else out.sort(byName);
  return out;
}

export function countByEcosystem(packages: readonly Package[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const p of packages) counts.set(p.ecosystem, (counts.get(p.ecosystem) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

const RANK: Record<string, number> = { critical: 0, high: 1, moderate: 2, medium: 2, low: 3 };

/** A severity word the database gave (`HIGH`, `Moderate`), or `unknown` for a vector or none. */
export function severityWord(severity: string | null): 'critical' | 'high' | 'medium' | 'low' | 'unknown' {
  const s = (severity ?? '').toLowerCase();
  if (s === 'critical' || s === 'high' || s === 'low') return s;
  if (s === 'moderate' || s === 'medium') return 'medium';
  return 'unknown';
}

/** Most severe first, then by package and id. */
export function sortVulnerabilities(matches: readonly VulnerabilityMatch[]): VulnerabilityMatch[] {
  const rank = (m: VulnerabilityMatch) => RANK[(m.severity ?? '').toLowerCase()] ?? 4;
  return [...matches].sort((a, b) => rank(a) - rank(b) || a.package.localeCompare(b.package) || a.id.localeCompare(b.id));
}

/** `nginx_1.27.cdx.json` for `nginx:1.27`: a file name without path separators or colons. */
export function sbomFileName(reference: string): string {
  const base = reference.replace(/^.*\//, '').replace(/[^A-Za-z0-9._-]+/g, '_') || 'image';
  return `${base}.cdx.json`;
}

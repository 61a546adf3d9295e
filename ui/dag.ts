/**
 * A pipeline run's DAG, drawn on the server as inline SVG (no script, no library): tasks in columns
 * by their depth (the longest chain of dependencies before them), in run order within a column,
 * edges from each dependency to its dependant. `layoutDag` is the pure layout; `dagSvg` draws it.
 */
import { esc, Html } from './markup.ts';

export interface DagInput {
  readonly id: string;
  readonly dependsOn: readonly string[];
}

export interface DagLayout {
  /** Column (depth) and row of each node, by id. */
  readonly at: ReadonlyMap<string, { readonly col: number; readonly row: number }>;
  readonly cols: number;
  readonly rows: number;
  /** Edges [from, to] between nodes that are both drawn. */
  readonly edges: readonly (readonly [string, string])[];
}

/**
 * Depth = 1 + the deepest dependency (0 without any); a dependency on a node that is not in the
 * list is ignored, and a cycle (which a valid pipeline never has) cannot loop: a node's depth is
 * computed once, and one met again while being computed counts as depth 0.
 */
export function layoutDag(nodes: readonly DagInput[]): DagLayout {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0;
    visiting.add(id);
    const deps = (byId.get(id)?.dependsOn ?? []).filter((d) => byId.has(d));
    const dd = deps.length ? 1 + Math.max(...deps.map(depthOf)) : 0;
    visiting.delete(id);
    depth.set(id, dd);
    return dd;
  };
  const at = new Map<string, { col: number; row: number }>();
  const perCol: number[] = [];
  for (const n of nodes) {
    const col = depthOf(n.id);
    const row = perCol[col] ?? 0;
    perCol[col] = row + 1;
    at.set(n.id, { col, row });
  }
  const edges = nodes.flatMap((n) => n.dependsOn.filter((d) => byId.has(d) && d !== n.id).map((d) => [d, n.id] as const));
  return { at, cols: perCol.length, rows: Math.max(0, ...perCol.map((x) => x ?? 0)), edges };
}

export interface DagNode extends DagInput {
  readonly state: string;
  /** Second line under the name (duration, cache hit, instances). */
  readonly note?: string;
}

const W = 168;
const H = 40;
const GX = 56;
const GY = 14;
const FILL: Record<string, string> = {
  Succeeded: '#d6f5df',
  Failed: '#fde0e0',
  Error: '#fde0e0',
  Running: '#fff1c7',
  Pending: '#eef0f3',
  Omitted: '#eef0f3',
  Skipped: '#eef0f3',
  Cancelled: '#fde0e0',
};

/** The DAG as an inline SVG; each node is a link to its row in the task table (`#task-<id>`). */
export function dagSvg(nodes: readonly DagNode[]): Html {
  if (nodes.length === 0) return new Html('');
  const l = layoutDag(nodes);
  const width = l.cols * (W + GX) - GX + 2;
  const height = l.rows * (H + GY) - GY + 2;
  const x = (id: string) => 1 + l.at.get(id)!.col * (W + GX);
  const y = (id: string) => 1 + l.at.get(id)!.row * (H + GY);
  const edges = l.edges.map(([a, b]) => {
    const x1 = x(a) + W;
    const y1 = y(a) + H / 2;
    const x2 = x(b);
    const y2 = y(b) + H / 2;
    const mx = (x1 + x2) / 2;
    return `<path d="M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 4},${y2}" fill="none" stroke="#8a93a6" stroke-width="1.2" marker-end="url(#arrow)"/>`;
  });
  const boxes = nodes.map((n) => {
    const name = n.id.length > 24 ? `${n.id.slice(0, 23)}…` : n.id;
    return `<a href="#task-${esc(encodeURIComponent(n.id))}"><g data-dag-node="${esc(n.id)}" data-state="${esc(n.state)}"><title>${esc(n.id)}: ${esc(n.state)}${n.note ? ` (${esc(n.note)})` : ''}</title><rect x="${x(n.id)}" y="${y(n.id)}" width="${W}" height="${H}" rx="6" fill="${FILL[n.state] ?? '#eef0f3'}" stroke="#8a93a6"/><text x="${x(n.id) + 8}" y="${y(n.id) + 16}" font-size="12" font-weight="600" fill="#1d2330">${esc(name)}</text><text x="${x(n.id) + 8}" y="${y(n.id) + 31}" font-size="11" fill="#4a5263">${esc(n.state)}${n.note ? ` · ${esc(n.note)}` : ''}</text></g></a>`;
  });
  return new Html(
    `<svg class="dag" role="img" aria-label="pipeline DAG" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg"><defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#8a93a6"/></marker></defs>${edges.join('')}${boxes.join('')}</svg>`,
  );
}

/**
 * Nodes of a report (INT8's skipped, FP16's kept) in one line: grouped by reason and op with a
 * count, the first few names of each group; a tree ensemble of hundreds of nodes reads as a few
 * groups, and the report file keeps every node.
 */
export function describeNodes(nodes: readonly { node: string; op: string; reason: string }[], namesPerGroup = 2): string {
  const groups = new Map<string, { op: string; reason: string; names: string[] }>();
  for (const n of nodes) {
    const key = `${n.reason}\u0000${n.op}`;
    const g = groups.get(key) ?? { op: n.op, reason: n.reason, names: [] };
    g.names.push(n.node);
    groups.set(key, g);
  }
  return [...groups.values()]
    .map((g) => {
      const shown = g.names.slice(0, namesPerGroup).map((x) => `'${x}'`);
      const more = g.names.length - shown.length;
      return `${g.names.length > 1 ? `${g.names.length} × ` : ''}${g.op} ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''} (${g.reason})`;
    })
    .join('; ');
}

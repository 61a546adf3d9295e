/**
 * Field-level differences between two JSON values, as flat paths ('spec.rollout.steps[1]').
 * Arrays whose elements all carry a distinct string `name` are keyed by that name
 * ('arguments.parameters[epochs].value'), so that reordering or inserting a parameter reads as what
 * it is. Pure.
 */

export interface FieldChange {
  readonly path: string;
  /** Absent when the field was added. */
  readonly before?: string;
  /** Absent when the field was removed. */
  readonly after?: string;
}

function scalar(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return '[]';
  if (v && typeof v === 'object') return '{}';
  return JSON.stringify(v);
}

function namedArray(a: readonly unknown[]): boolean {
  if (a.length === 0) return false;
  const names = new Set<string>();
  for (const x of a) {
    const n = (x as { name?: unknown } | null)?.name;
    if (typeof x !== 'object' || x === null || typeof n !== 'string' || names.has(n)) return false;
    names.add(n);
  }
  return true;
}

/** Flattens JSON data to path → printable scalar. Empty objects and arrays below the root are leaves. */
export function flatten(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(value)) {
    if (value.length === 0) {
      if (prefix) out.set(prefix, '[]');
    } else if (namedArray(value)) {
      // The name is the element's identity (it is in the path); its other fields are the leaves.
      for (const x of value) {
        const { name, ...rest } = x as { name: string };
        flatten(rest, `${prefix}[${name}]`, out);
      }
    } else value.forEach((x, i) => flatten(x, `${prefix}[${i}]`, out));
  } else if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0 && prefix) out.set(prefix, '{}');
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (value !== undefined) {
    out.set(prefix, scalar(value));
  }
  return out;
}

/** The leaves that differ, in the order they appear in `after` then `before`. */
export function diffFields(before: unknown, after: unknown, prefix = ''): FieldChange[] {
  const a = flatten(before, prefix);
  const b = flatten(after, prefix);
  const out: FieldChange[] = [];
  for (const [path, v] of b) {
    const old = a.get(path);
    if (old === undefined) out.push({ path, after: v });
    else if (old !== v) out.push({ path, before: old, after: v });
  }
  for (const [path, v] of a) if (!b.has(path)) out.push({ path, before: v });
  return out;
}

/** 'epochs 10 → 20', 'image added (x:1)', 'gpu removed (was 1)'. */
export function formatChange(label: string, c: FieldChange): string {
  if (c.before === undefined) return `${label} added (${c.after})`;
  if (c.after === undefined) return `${label} removed (was ${c.before})`;
  return `${label} ${c.before} → ${c.after}`;
}

/**
 * Sync stability: Argo CD compares what Git says (the synthesized object) with what the API server
 * stores. If the server rewrites a value we set (a quantity normalised, a default filled into a
 * list element, an unknown field pruned), the app sits OutOfSync forever. `unstableFields` lists
 * every field we set whose stored value differs; an empty list means the object is sync-stable.
 * Fields the server adds (defaults, status, metadata) are not differences. Pure.
 */

export interface FieldMismatch {
  readonly path: string;
  readonly desired: unknown;
  /** undefined when the server dropped the field (pruned: not in the schema). */
  readonly live: unknown;
}

export function unstableFields(desired: unknown, live: unknown, path = ''): FieldMismatch[] {
  if (desired === null || typeof desired !== 'object') {
    return desired === live ? [] : [{ path, desired, live }];
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) return [{ path, desired, live }];
    return desired.flatMap((d, i) => unstableFields(d, live[i], `${path}[${i}]`));
  }
  if (live === null || typeof live !== 'object' || Array.isArray(live)) return [{ path, desired, live }];
  const out: FieldMismatch[] = [];
  for (const [k, v] of Object.entries(desired as Record<string, unknown>)) {
    if (v === undefined) continue;
    out.push(...unstableFields(v, (live as Record<string, unknown>)[k], path ? `${path}.${k}` : k));
  }
  return out;
}

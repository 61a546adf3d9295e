/**
 * The point-in-time join, on plain arrays: for each entity row (key, time t), the feature row of the
 * same key with the latest event time at or before t, and not older than the TTL (t - ttl <= ts <= t,
 * both ends included, as Feast's offline stores filter). A row from the future is never chosen.
 *
 * When the view has a created timestamp (when the row was written), a row is usable only once it
 * was written: created <= t too, so a late-arriving correction never leaks into an earlier row (as
 * Feast's offline store cuts off by created time); a row without a created time is then never
 * usable. Ties on the event time go to the row with the later created time, then to the row that
 * comes later in the source. Rows whose key or event time is missing never match. Pure; no I/O.
 *
 * Cost: O(F log F) to index F feature rows (once per view), O(log g) per entity row (g = the rows
 * of its key; plus the rows written after t that are skipped), and 4 bytes per feature row of index.
 */

export interface PitRows {
  /** Encoded entity key per row (`encodeKeys`); null where a key is missing. */
  readonly keys: readonly (string | null)[];
  /** Event time per row, epoch milliseconds; NaN where missing. */
  readonly times: Float64Array;
  /** Created time per row (tie-breaker), epoch milliseconds; NaN where missing. */
  readonly created?: Float64Array;
}

/** Feature rows grouped by key, each group sorted ascending by (event time, created time, row). */
export interface PitIndex {
  readonly groups: ReadonlyMap<string, Int32Array>;
  readonly times: Float64Array;
  readonly created?: Float64Array;
}

export function buildPitIndex(rows: PitRows): PitIndex {
  const { keys, times, created } = rows;
  const lists = new Map<string, number[]>();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k === null || Number.isNaN(times[i])) continue;
    let l = lists.get(k);
    if (!l) lists.set(k, (l = []));
    l.push(i);
  }
  const cmp = (a: number, b: number): number => {
    const d = times[a] - times[b];
    if (d !== 0) return d;
    if (created) {
      // A row without a created time loses a tie to one with.
      const ca = created[a];
      const cb = created[b];
      const na = Number.isNaN(ca);
      const nb = Number.isNaN(cb);
      if (na !== nb) return na ? -1 : 1;
      if (!na && ca !== cb) return ca - cb;
    }
    return a - b;
  };
  const groups = new Map<string, Int32Array>();
  for (const [k, l] of lists) {
    // Sources are usually already in time order per key: check before sorting.
    let sorted = true;
    for (let j = 1; j < l.length && sorted; j++) if (cmp(l[j - 1], l[j]) > 0) sorted = false;
    if (!sorted) l.sort(cmp);
    groups.set(k, Int32Array.from(l));
  }
  return { groups, times, created };
}

/**
 * The feature row for one entity row: the index of the latest row of `key` with event time <= t and
 * >= t - ttlMs (ttlMs 0: no lower bound), or -1.
 */
export function pitLookup(index: PitIndex, key: string | null, t: number, ttlMs: number): number {
  if (key === null || Number.isNaN(t)) return -1;
  const g = index.groups.get(key);
  if (!g) return -1;
  const times = index.times;
  // Last position whose time is <= t.
  let lo = 0;
  let hi = g.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[g[mid]] <= t) lo = mid + 1;
    else hi = mid;
  }
  const created = index.created;
  // Back from there to the first row already written at t (usually the first one looked at).
  for (let p = lo - 1; p >= 0; p--) {
    const row = g[p];
    if (ttlMs > 0 && times[row] < t - ttlMs) return -1;
    if (!created || created[row] <= t) return row;
  }
  return -1;
}

/** pitLookup for every entity row: the chosen feature row per entity row (-1: none). */
export function pointInTimeJoin(entity: PitRows, features: PitRows, ttlMs: number): Int32Array {
  const index = buildPitIndex(features);
  const out = new Int32Array(entity.keys.length);
  for (let i = 0; i < out.length; i++) out[i] = pitLookup(index, entity.keys[i], entity.times[i], ttlMs);
  return out;
}

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

/**
 * Feature rows grouped by key: group g's rows are order[start[g] .. start[g + 1]), sorted ascending
 * by (event time, created time, row).
 */
export interface PitIndex {
  readonly groupOf: ReadonlyMap<string, number>;
  readonly start: Int32Array;
  readonly order: Int32Array;
  readonly times: Float64Array;
  readonly created?: Float64Array;
}

export function buildPitIndex(rows: PitRows): PitIndex {
  const { keys, times, created } = rows;
  const n = keys.length;
  // A counting sort by key (one Map lookup per row, no per-key arrays), then each group sorted by time.
  const groupOf = new Map<string, number>();
  const gid = new Int32Array(n);
  const counts: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    if (k === null || Number.isNaN(times[i])) {
      gid[i] = -1;
      continue;
    }
    let g = groupOf.get(k);
    if (g === undefined) {
      g = counts.length;
      groupOf.set(k, g);
      counts.push(0);
    }
    gid[i] = g;
    counts[g]++;
  }
  const start = new Int32Array(counts.length + 1);
  for (let g = 0; g < counts.length; g++) start[g + 1] = start[g] + counts[g];
  const fill = start.slice(0, counts.length);
  const order = new Int32Array(start[counts.length]);
  for (let i = 0; i < n; i++) if (gid[i] >= 0) order[fill[gid[i]]++] = i;
  const after = (a: number, b: number): boolean => {
    const d = times[a] - times[b];
    if (d !== 0) return d > 0;
    if (created) {
      // A row without a created time loses a tie to one with.
      const ca = created[a];
      const cb = created[b];
      const na = Number.isNaN(ca);
      const nb = Number.isNaN(cb);
      if (na !== nb) return nb;
      if (!na && ca !== cb) return ca > cb;
    }
    return a > b;
  };
  for (let g = 0; g < counts.length; g++) {
    const lo = start[g];
    const hi = start[g + 1];
    if (hi - lo <= 64) {
      // Insertion sort: groups are small, and sources are often in time order already.
      for (let p = lo + 1; p < hi; p++) {
        const x = order[p];
        let q = p - 1;
        while (q >= lo && after(order[q], x)) {
          order[q + 1] = order[q];
          q--;
        }
        order[q + 1] = x;
      }
    } else {
      order.subarray(lo, hi).sort((a, b) => (after(a, b) ? 1 : after(b, a) ? -1 : 0));
    }
  }
  return { groupOf, start, order, times, created };
}

/**
 * The feature row for one entity row: the index of the latest row of `key` with event time <= t and
 * >= t - ttlMs (ttlMs 0: no lower bound), or -1.
 */
export function pitLookup(index: PitIndex, key: string | null, t: number, ttlMs: number): number {
  if (key === null || Number.isNaN(t)) return -1;
  const g = index.groupOf.get(key);
  if (g === undefined) return -1;
  const { times, order } = index;
  const first = index.start[g];
  // Last position whose time is <= t.
  let lo = first;
  let hi = index.start[g + 1];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[order[mid]] <= t) lo = mid + 1;
    else hi = mid;
  }
  const created = index.created;
  // Back from there to the first row already written at t (usually the first one looked at).
  for (let p = lo - 1; p >= first; p--) {
    const row = order[p];
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

/**
 * What a DriftMonitor keeps in status for people to look at (the UI's drift page, `kubectl get -o
 * yaml`): per-feature histograms of the last check, made small enough for an object in etcd, and a
 * bounded history of checks. Pure.
 */
import { DRIFT_HISTOGRAM_MAX_BINS, DRIFT_HISTORY_MAX, type DriftCheckRecord, type DriftHistogram } from '../../api/crds/types.ts';

/** The drift detector's histogram (components/drift/types.ts ColumnHistogram), structurally. */
export interface HistogramInput {
  readonly kind: 'numeric' | 'categorical';
  readonly edges?: readonly number[];
  readonly categories?: readonly string[];
  readonly reference: readonly number[];
  readonly current: readonly number[];
}

const SHARE_DIGITS = 1e6;
const share = (x: number): number => Math.min(1, Math.max(0, Math.round((Number.isFinite(x) ? x : 0) * SHARE_DIGITS) / SHARE_DIGITS));

/**
 * At most `maxBins` bins: numeric bins are merged in runs of ceil(n / maxBins) adjacent bins (the
 * shares summed, the outer edges kept); categories are kept most frequent first (by the larger of
 * the two shares) and the rest summed into a last '(other)'. Shares are rounded to 1e-6.
 * Undefined for an input with mismatched lengths (nothing sensible to draw).
 */
export function compactHistogram(h: HistogramInput, maxBins = DRIFT_HISTOGRAM_MAX_BINS): DriftHistogram | undefined {
  const n = h.reference.length;
  if (n === 0 || h.current.length !== n || maxBins < 2) return undefined;
  if (h.kind === 'numeric') {
    if (!h.edges || h.edges.length !== n + 1) return undefined;
    const run = Math.ceil(n / maxBins);
    const edges: number[] = [];
    const reference: number[] = [];
    const current: number[] = [];
    for (let i = 0; i < n; i += run) {
      const end = Math.min(n, i + run);
      edges.push(h.edges[i]);
      let r = 0;
      let c = 0;
      for (let k = i; k < end; k++) {
        r += h.reference[k];
        c += h.current[k];
      }
      reference.push(share(r));
      current.push(share(c));
    }
    edges.push(h.edges[n]);
    return { kind: 'numeric', edges, reference, current };
  }
  if (!h.categories || h.categories.length !== n) return undefined;
  const order = [...Array(n).keys()].sort(
    (a, b) => Math.max(h.reference[b], h.current[b]) - Math.max(h.reference[a], h.current[a]) || h.categories![a].localeCompare(h.categories![b]),
  );
  const keep = n <= maxBins ? order : order.slice(0, maxBins - 1);
  const categories = keep.map((i) => h.categories![i]);
  const reference = keep.map((i) => share(h.reference[i]));
  const current = keep.map((i) => share(h.current[i]));
  if (keep.length < n) {
    const rest = order.slice(maxBins - 1);
    categories.push('(other)');
    reference.push(share(rest.reduce((s, i) => s + h.reference[i], 0)));
    current.push(share(rest.reduce((s, i) => s + h.current[i], 0)));
  }
  return { kind: 'categorical', categories, reference, current };
}

/** The history with one more check, newest last, at most `max` kept; a record for an already-kept time replaces it. */
export function appendDriftHistory(prev: readonly DriftCheckRecord[] | undefined, rec: DriftCheckRecord, max = DRIFT_HISTORY_MAX): DriftCheckRecord[] {
  const kept = (prev ?? []).filter((r) => r.time !== rec.time);
  kept.push(rec);
  kept.sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  return kept.slice(Math.max(0, kept.length - max));
}

/**
 * Online retrieval: a feature service's features for entity keys, read from an online store, with
 * the service's policy for a value that is missing or older than its view's TTL ('nan': null,
 * 'default': the declared default, 'reject': a FeatureLookupError the servers answer with 404).
 * Counts what was missing and stale, for metrics.
 */
import type { FeatureServiceSpec, FeatureViewSpec } from '../../api/crds/types.ts';
import type { Cell } from '../dataset/index.ts';
import { encodeKeyValues, FeaturesError, joinKeysOf } from './keys.ts';
import type { OnlineStore } from './materialize.ts';

/** A lookup that the service's policy refuses (a missing or stale value under onMissing 'reject'). */
export class FeatureLookupError extends FeaturesError {
  constructor(message: string) {
    super(message);
    this.name = 'FeatureLookupError';
  }
}

export interface ServiceDef {
  readonly name: string;
  readonly spec: FeatureServiceSpec;
  /** Every view the service reads, by name. */
  readonly views: ReadonlyMap<string, FeatureViewSpec>;
}

export interface OnlineResult {
  /** 'view:feature' in the service's order. */
  readonly features: string[];
  /** Per entity row: one value per feature, in `features` order. */
  readonly values: Cell[][];
  /** Per entity row and feature: 'present' | 'missing' | 'stale'. */
  readonly status: ('present' | 'missing' | 'stale')[][];
  readonly missing: number;
  readonly stale: number;
}

/** Checks that the service's views are all there; returns the refs in order. */
export function serviceRefs(svc: ServiceDef): string[] {
  const refs: string[] = [];
  for (const g of svc.spec.features) {
    if (!svc.views.has(g.featureView)) throw new FeaturesError(`feature service '${svc.name}': feature view '${g.featureView}' is not declared`);
    for (const f of g.features) refs.push(`${g.featureView}:${f}`);
  }
  return refs;
}

export async function getOnlineFeatures(
  store: OnlineStore,
  svc: ServiceDef,
  entityRows: readonly Readonly<Record<string, unknown>>[],
  opts: { now: number },
): Promise<OnlineResult> {
  const refs = serviceRefs(svc);
  const values: Cell[][] = entityRows.map(() => new Array<Cell>(refs.length).fill(null));
  const status: ('present' | 'missing' | 'stale')[][] = entityRows.map(() => new Array(refs.length).fill('missing'));
  let missing = 0;
  let stale = 0;
  let col = 0;
  // Every view's keys are checked first (a bad key is the caller's error, whichever view names it),
  // then all views are read at once: on Redis one pipelined round trip instead of one per view.
  const groups = svc.spec.features.map((g) => {
    const view = svc.views.get(g.featureView)!;
    const keys = joinKeysOf(view.entities);
    const encoded = entityRows.map((r, i) => encodeKeyValues(keys, r, entityRows.length > 1 ? `entities[${i}]` : 'entities'));
    return { g, view, keys, encoded };
  });
  const read = await Promise.all(groups.map(({ g, encoded }) => store.read(g.featureView, encoded, g.features)));
  for (let gi = 0; gi < groups.length; gi++) {
    const { g, view, keys } = groups[gi];
    const rows = read[gi];
    const ttlMs = view.ttlSeconds * 1000;
    for (let i = 0; i < entityRows.length; i++) {
      const row = rows[i];
      const isStale = row !== undefined && ttlMs > 0 && row.eventTime < opts.now - ttlMs;
      for (let j = 0; j < g.features.length; j++) {
        const ref = `${g.featureView}:${g.features[j]}`;
        const v = row?.values[g.features[j]];
        const present = row !== undefined && !isStale && v !== null && v !== undefined;
        if (present) {
          values[i][col + j] = v;
          status[i][col + j] = 'present';
          continue;
        }
        status[i][col + j] = isStale ? 'stale' : 'missing';
        if (isStale) stale++;
        else missing++;
        if (svc.spec.onMissing === 'reject') {
          const key = keys.map((k) => `${k.name}=${JSON.stringify(entityRows[i][k.name])}`).join(', ');
          throw new FeatureLookupError(
            isStale
              ? `'${ref}' for ${key} is stale: its value is from ${new Date(row.eventTime).toISOString()}, older than the view's TTL of ${view.ttlSeconds}s; materialize newer data`
              : `'${ref}' has no value for ${key}; the entity is unknown or its value was never materialized`,
          );
        }
        if (svc.spec.onMissing === 'default') values[i][col + j] = svc.spec.defaults?.[ref] ?? null;
      }
    }
    col += g.features.length;
  }
  return { features: refs, values, status, missing, stale };
}

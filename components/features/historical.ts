/**
 * Historical (training-set) retrieval: an entity dataframe (join keys + an event timestamp per row)
 * joined point-in-time correctly with feature views, as Feast's `get_historical_features` does.
 * The output keeps every entity row, in order, with its columns, and adds one column per requested
 * feature (`feature`, or `view__feature` with fullFeatureNames); a row with no usable value gets
 * null (NaN). Pure: the caller reads the sources (./sources.ts).
 */
import type { FeatureViewSpec } from '../../api/crds/types.ts';
import type { Column, Dataset } from '../dataset/index.ts';
import { encodeKeys, featureColumn, FeaturesError, joinKeysOf, timestampsOf } from './columns.ts';
import { buildPitIndex, pitLookup } from './pit.ts';

/** A feature view's declaration and its source data. */
export interface ViewData {
  readonly name: string;
  readonly spec: FeatureViewSpec;
  readonly data: Dataset;
}

/** `view:feature`, as Feast writes feature references. */
export type FeatureRef = string;

export interface HistoricalOptions {
  /** The entity dataframe's event-timestamp column. @default 'event_timestamp' */
  readonly timestampColumn?: string;
  /** Name output columns `view__feature` (Feast's full_feature_names). @default false */
  readonly fullFeatureNames?: boolean;
  /** Names the entity dataframe in errors. @default 'entity rows' */
  readonly where?: string;
}

export const DEFAULT_ENTITY_TIMESTAMP = 'event_timestamp';

export function parseFeatureRef(ref: FeatureRef, where = 'features'): { view: string; feature: string } {
  const m = /^([^:]+):([^:]+)$/.exec(ref);
  if (!m) throw new FeaturesError(`${where}: '${ref}' is not a feature reference; write 'view:feature', e.g. 'driver_stats:conv_rate'`);
  return { view: m[1], feature: m[2] };
}

/** Requested features grouped by view, in request order, checked against the declarations. */
export function resolveRefs(refs: readonly FeatureRef[], views: ReadonlyMap<string, Pick<ViewData, 'spec'>>, where = 'features'): Map<string, string[]> {
  if (refs.length === 0) throw new FeaturesError(`${where}: no features requested; name them as 'view:feature'`);
  const out = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const ref of refs) {
    const { view, feature } = parseFeatureRef(ref, where);
    const v = views.get(view);
    if (!v)
      throw new FeaturesError(`${where}: '${ref}' names feature view '${view}', which is not declared; declared: ${[...views.keys()].join(', ') || '(none)'}`);
    if (!v.spec.features.some((f) => f.name === feature))
      throw new FeaturesError(`${where}: '${ref}': view '${view}' has no feature '${feature}'; it has ${v.spec.features.map((f) => f.name).join(', ')}`);
    if (seen.has(ref)) throw new FeaturesError(`${where}: '${ref}' is requested twice; keep one`);
    seen.add(ref);
    const l = out.get(view) ?? [];
    l.push(feature);
    out.set(view, l);
  }
  return out;
}

/** Takes `rows[i]` of `c` for each entity row (-1: missing). */
export function gather(c: Column, rows: Int32Array, name: string): Column {
  const n = rows.length;
  switch (c.type) {
    case 'numeric': {
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) v[i] = rows[i] < 0 ? NaN : c.values[rows[i]];
      return { name, type: 'numeric', values: v };
    }
    case 'boolean': {
      const v = new Uint8Array(n);
      for (let i = 0; i < n; i++) v[i] = rows[i] < 0 ? 2 : c.values[rows[i]];
      return { name, type: 'boolean', values: v };
    }
    case 'categorical': {
      const v = new Int32Array(n);
      for (let i = 0; i < n; i++) v[i] = rows[i] < 0 ? -1 : c.codes[rows[i]];
      return { name, type: 'categorical', categories: c.categories, codes: v };
    }
    case 'string': {
      const v: (string | null)[] = new Array(n);
      for (let i = 0; i < n; i++) v[i] = rows[i] < 0 ? null : c.values[rows[i]];
      return { name, type: 'string', values: v };
    }
  }
}

/** The point-in-time correct training set: the entity rows plus the requested features. */
export function getHistoricalFeatures(entityRows: Dataset, views: readonly ViewData[], refs: readonly FeatureRef[], opts: HistoricalOptions = {}): Dataset {
  return historicalJoiner(views, refs, opts)(entityRows);
}

/**
 * The join prepared once (each view's point-in-time index and feature columns) for entity rows that
 * come a chunk at a time: memory is the views plus one chunk, not the whole training set, so the
 * get-historical-features step streams entity files of any length. `offset` is the chunk's first
 * row, so errors name the row in the whole file.
 */
export function historicalJoiner(
  views: readonly ViewData[],
  refs: readonly FeatureRef[],
  opts: HistoricalOptions = {},
): (entityRows: Dataset, offset?: number) => Dataset {
  const baseWhere = opts.where ?? 'entity rows';
  const byName = new Map(views.map((v) => [v.name, v]));
  const wanted = resolveRefs(refs, byName);
  const tsCol = opts.timestampColumn ?? DEFAULT_ENTITY_TIMESTAMP;
  const prepared = [...wanted].map(([viewName, features]) => {
    const view = byName.get(viewName)!;
    const src = `feature view '${viewName}'`;
    const keys = joinKeysOf(view.spec.entities);
    const index = buildPitIndex({
      keys: encodeKeys(view.data, keys, src),
      times: timestampsOf(view.data, view.spec.source.timestampField, src),
      created: view.spec.source.createdTimestampField ? timestampsOf(view.data, view.spec.source.createdTimestampField, src) : undefined,
    });
    const cols = features.map((f) => {
      const decl = view.spec.features.find((x) => x.name === f)!;
      return { out: opts.fullFeatureNames ? `${viewName}__${f}` : f, column: featureColumn(view.data, decl, src), src };
    });
    return { keys, keySig: JSON.stringify(keys), index, ttlMs: view.spec.ttlSeconds * 1000, cols };
  });
  return (entityRows, offset = 0) => {
    const where = offset > 0 ? `${baseWhere} (rows counted from ${offset})` : baseWhere;
    const times = timestampsOf(entityRows, tsCol, where);
    for (let i = 0; i < times.length; i++)
      if (Number.isNaN(times[i]))
        throw new FeaturesError(`${baseWhere}: row ${offset + i}: timestamp column '${tsCol}' is empty; every entity row needs its event time`);
    const columns: Column[] = [...entityRows.columns];
    const names = new Set(columns.map((c) => c.name));
    // Views keyed alike (the usual case) share the entity rows' encoded keys.
    const entityKeysBy = new Map<string, (string | null)[]>();
    for (const v of prepared) {
      let entityKeys = entityKeysBy.get(v.keySig);
      if (!entityKeys) entityKeysBy.set(v.keySig, (entityKeys = encodeKeys(entityRows, v.keys, where)));
      const picked = new Int32Array(entityRows.rows);
      for (let i = 0; i < picked.length; i++) picked[i] = pitLookup(v.index, entityKeys[i], times[i], v.ttlMs);
      for (const c of v.cols) {
        if (names.has(c.out))
          throw new FeaturesError(
            `${baseWhere}: output column '${c.out}' would appear twice (${c.src} and an earlier view or an entity column); set fullFeatureNames to name features view__feature`,
          );
        names.add(c.out);
        columns.push(gather(c.column, picked, c.out));
      }
    }
    return { rows: entityRows.rows, columns };
  };
}

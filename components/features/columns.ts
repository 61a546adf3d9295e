/**
 * Reading the columns a feature view names out of a dataset: event timestamps as epoch
 * milliseconds, entity keys checked against their declared type and encoded for lookup, and feature
 * columns checked against their declared value type. Every error names the dataset, the column and,
 * for a bad value, the row. Pure.
 */
import type { FeatureField, JoinKeyType } from '../../api/crds/types.ts';
import { cellAt, type Column, type Dataset } from '../dataset/index.ts';
import { FeaturesError, INT64_MAX } from './keys.ts';

export { FeaturesError, encodeKeyValues, joinKeysOf } from './keys.ts';

export function findColumn(ds: Dataset, name: string, where: string, role: string): Column {
  const c = ds.columns.find((x) => x.name === name);
  if (!c) throw new FeaturesError(`${where}: has no ${role} column '${name}'; its columns are: ${ds.columns.map((x) => x.name).join(', ') || '(none)'}`);
  return c;
}

/** RFC 3339 / ISO 8601 text (a date alone means midnight UTC) → epoch ms; NaN for an unparseable string. */
export function parseTimestamp(s: string): number {
  // Date.parse reads a date-time without an offset as local time; event times without one are UTC (as Feast assumes).
  const t = /[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s) ? Date.parse(s.replace(' ', 'T') + 'Z') : Date.parse(s);
  return t;
}

/** Numeric columns known to hold epoch milliseconds (read from a timestamp column of a file, parquet-fast.ts). */
const EPOCH_MS = new WeakSet<Column>();

/** A numeric column of epoch milliseconds that `timestampsOf` takes as times. */
export function epochMsColumn(name: string, values: Float64Array): Column {
  const c: Column = { name, type: 'numeric', values };
  EPOCH_MS.add(c);
  return c;
}

/** The timestamp column as epoch ms (NaN where missing). Text must be RFC 3339; other numbers are refused (seconds or ms is a guess). */
export function timestampsOf(ds: Dataset, name: string, where: string): Float64Array {
  const c = findColumn(ds, name, where, 'timestamp');
  if (c.type === 'numeric' && EPOCH_MS.has(c)) return c.values;
  const out = new Float64Array(ds.rows);
  if (c.type === 'string' || c.type === 'categorical') {
    const cache = new Map<string, number>();
    for (let i = 0; i < ds.rows; i++) {
      const v = cellAt(c, i) as string | null;
      if (v === null) {
        out[i] = NaN;
        continue;
      }
      let t = cache.get(v);
      if (t === undefined) {
        t = parseTimestamp(v);
        if (Number.isNaN(t))
          throw new FeaturesError(`${where}: row ${i}: timestamp column '${name}' holds '${v}', not an RFC 3339 time; write e.g. 2026-11-23T04:00:00Z`);
        if (cache.size < 100_000) cache.set(v, t);
      }
      out[i] = t;
    }
    return out;
  }
  throw new FeaturesError(
    `${where}: timestamp column '${name}' is ${c.type}, not a time; store event times as timestamps (pandas datetime64, Arrow timestamp) or RFC 3339 text`,
  );
}

/** Checks one key column against its declared type; returns its cell text per row (null where missing). */
export function keyColumn(ds: Dataset, key: { name: string; type: JoinKeyType }, where: string): (string | null)[] {
  const c = findColumn(ds, key.name, where, 'join key');
  const out: (string | null)[] = new Array(ds.rows);
  if (key.type === 'int64') {
    if (c.type !== 'numeric')
      throw new FeaturesError(
        `${where}: join key '${key.name}' is declared int64 but the column is ${c.type}; give whole numbers, or declare the key as string`,
      );
    for (let i = 0; i < ds.rows; i++) {
      const v = c.values[i];
      if (Number.isNaN(v)) out[i] = null;
      else if (!Number.isInteger(v) || Math.abs(v) > INT64_MAX)
        throw new FeaturesError(`${where}: row ${i}: join key '${key.name}' is ${v}, not a whole number (declared int64)`);
      else out[i] = String(v);
    }
    return out;
  }
  if (c.type !== 'string' && c.type !== 'categorical')
    throw new FeaturesError(`${where}: join key '${key.name}' is declared string but the column is ${c.type}; give text, or declare the key as int64`);
  for (let i = 0; i < ds.rows; i++) out[i] = cellAt(c, i) as string | null;
  return out;
}

/** One string per row identifying the entity (the join keys' values); null when any key is missing. */
export function encodeKeys(ds: Dataset, keys: readonly { name: string; type: JoinKeyType }[], where: string): (string | null)[] {
  const cols = keys.map((k) => keyColumn(ds, k, where));
  if (cols.length === 1) return cols[0];
  const out: (string | null)[] = new Array(ds.rows);
  for (let i = 0; i < ds.rows; i++) {
    let s = '';
    let missing = false;
    for (let j = 0; j < cols.length; j++) {
      const v = cols[j][i];
      if (v === null) {
        missing = true;
        break;
      }
      s += (j ? '\u001f' : '') + v;
    }
    out[i] = missing ? null : s;
  }
  return out;
}

/** Checks a feature column against its declared value type. */
export function featureColumn(ds: Dataset, f: FeatureField, where: string): Column {
  const c = findColumn(ds, f.name, where, 'feature');
  const ok =
    ((f.type === 'float64' || f.type === 'int64') && c.type === 'numeric') ||
    (f.type === 'string' && (c.type === 'string' || c.type === 'categorical')) ||
    (f.type === 'bool' && c.type === 'boolean');
  if (!ok) throw new FeaturesError(`${where}: feature '${f.name}' is declared ${f.type} but the column is ${c.type}; fix the declaration or the data`);
  if (f.type === 'int64' && c.type === 'numeric') {
    for (let i = 0; i < ds.rows; i++) {
      const v = c.values[i];
      if (!Number.isNaN(v) && !Number.isInteger(v))
        throw new FeaturesError(`${where}: row ${i}: feature '${f.name}' is ${v}, not a whole number (declared int64)`);
    }
  }
  return c;
}

/**
 * Reading a feature view's source into a dataset: a local file or an s3:// object (Parquet, CSV,
 * JSON Lines through ingest's readers; Arrow IPC through the dataset reader), typed by the view's
 * declaration (join keys, timestamps and features), keeping only the columns the view names. A
 * Parquet file of numbers and timestamps only is read through DuckDB (parquet-fast.ts).
 * Errors name the view and its source.
 */
import { isAbsolute, resolve } from 'node:path';
import type { FeatureViewSpec } from '../../api/crds/types.ts';
import { readDataset, type ColumnType, type Dataset } from '../dataset/index.ts';
import { ingestFile } from '../ingest/index.ts';
import { FeaturesError, findColumn, joinKeysOf } from './columns.ts';

const VALUE_COLUMN: Record<string, ColumnType> = { float64: 'numeric', int64: 'numeric', string: 'string', bool: 'boolean' };

/** The columns a view reads, with the dataset type each must have. */
export function viewColumns(spec: FeatureViewSpec): Record<string, ColumnType> {
  const types: Record<string, ColumnType> = {};
  for (const k of joinKeysOf(spec.entities)) types[k.name] = k.type === 'int64' ? 'numeric' : 'string';
  types[spec.source.timestampField] = 'string';
  if (spec.source.createdTimestampField) types[spec.source.createdTimestampField] = 'string';
  for (const f of spec.features) types[f.name] = VALUE_COLUMN[f.type];
  return types;
}

export interface SourceOptions {
  /** Relative file paths are read from here. @default process.cwd() */
  readonly baseDir?: string;
  /** Datasets of kind 'dataset' sources, by their `pipeline/task.output` reference: a local Arrow file. */
  readonly datasets?: Readonly<Record<string, string>>;
}

/**
 * A Parquet source whose declared columns are all numbers or timestamps, through DuckDB
 * (parquet-fast.ts); undefined when that does not apply or DuckDB is not installed.
 */
async function readFast(path: string, spec: FeatureViewSpec): Promise<Dataset | undefined> {
  const types = viewColumns(spec);
  const times = new Set([spec.source.timestampField, spec.source.createdTimestampField].filter((x): x is string => !!x));
  if (Object.entries(types).some(([c, t]) => !times.has(c) && t !== 'numeric')) return undefined;
  try {
    const { readParquetFast } = await import('./parquet-fast.ts');
    return await readParquetFast(
      path,
      Object.keys(types).map((name) => ({ name, kind: times.has(name) ? 'time' : 'number' })),
    );
  } catch {
    return undefined;
  }
}

/** Reads a view's source (see the module comment). */
export async function readViewSource(name: string, spec: FeatureViewSpec, opts: SourceOptions = {}): Promise<Dataset> {
  const src = spec.source;
  const where = `feature view '${name}'`;
  const types = viewColumns(spec);
  const columns = Object.keys(types);
  const checkColumns = (ds: Dataset, label: string): Dataset => {
    for (const c of columns) findColumn(ds, c, `${where} (${label})`, c === src.timestampField ? 'timestamp' : 'declared');
    return ds;
  };
  switch (src.kind) {
    case 'file':
    case 'uri': {
      const uri = src.uri!;
      if (/^https?:\/\//.test(uri))
        throw new FeaturesError(`${where}: source ${uri} is an http(s) URI, which get-historical-features does not download; copy it to s3:// or a file`);
      const path = /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) || isAbsolute(uri) ? uri : resolve(opts.baseDir ?? process.cwd(), uri);
      if (src.format === 'arrow') return checkColumns(await readDataset(path), uri);
      if (src.format === 'parquet' || (src.format === undefined && /\.(parquet|pq)$/i.test(path))) {
        const fast = await readFast(path, spec);
        if (fast) return fast;
      }
      // Columns the file lacks are reported with the view's name (ingest would name only the file).
      try {
        return await ingestFile(path, { format: src.format ?? 'auto', types, columns });
      } catch (err) {
        const m = (err as Error).message;
        const missing = /'(?:types|columns)' (?:declares|lists) (?:column )?'([^']+)', which the file doesn't have \(it has ([^)]*)\)/.exec(m);
        if (missing) {
          const role = missing[1] === src.timestampField ? 'timestamp' : missing[1] === src.createdTimestampField ? 'created-timestamp' : 'declared';
          throw new FeaturesError(
            `${where}: source ${uri} has no ${role} column '${missing[1]}'; its columns are ${missing[2]}. Fix the declaration or the file`,
          );
        }
        throw new FeaturesError(`${where}: source ${uri}: ${m}`);
      }
    }
    case 'dataset': {
      const path = opts.datasets?.[src.dataset!];
      if (!path)
        throw new FeaturesError(
          `${where}: its source is the dataset '${src.dataset}', which this step was not given; pass that task's output as this step's input`,
        );
      return checkColumns(await readDataset(path), src.dataset!);
    }
    case 'sql':
      throw new FeaturesError(
        `${where}: a SQL source cannot be read by get-historical-features here; write the query's result to a file and use FeatureSource.file`,
      );
  }
}

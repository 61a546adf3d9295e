/**
 * ingest: CSV, JSON Lines or Parquet → a typed dataset (an Apache Arrow IPC file, components/dataset).
 *
 * Params:
 *   path       the source, when it isn't given as the `source` input artifact: a local path,
 *              s3://BUCKET/KEY or s3://BUCKET/PREFIX/*.parquet, https://…, postgres://HOST/DB (with
 *              `query`) or kafka://BROKER/TOPIC (components/ingest/sources.ts; credentials only from
 *              the environment, in a pod from a Secret)
 *   query      postgres://: the SQL (run read-only)
 *   freshness  postgres://: how long a result may be reused from the step cache ('1h'); unset: never
 *   headers    https://: header → 'env:NAME'
 *   group      kafka://: the consumer group (default ghosteam-ingest-TOPIC)
 *   from       kafka://: 'committed' (default), 'earliest' or an ISO 8601 time
 *   offsets    kafka://: the exact range to read (the engine sets it from the source's identity)
 *   format     'auto' (by extension: .csv/.tsv, .jsonl/.ndjson, .parquet) | 'csv' | 'jsonl' | 'parquet'
 *   delimiter  CSV field delimiter (default ',' or tab for .tsv)
 *   types      declared column types, e.g. {"amount":"numeric","country":"categorical"}; others are inferred
 *   columns    keep only these columns (list)
 * Inference, per column over its non-missing values: all true/false → boolean; all numbers →
 * numeric; at most 100 distinct values and each seen twice on average → categorical; else string.
 * Missing in CSV: '', NA, N/A, null, NULL, NaN, nan.
 * Output params: rows, columns (count), digest ('sha256:…' of the dataset file).
 * A failed read writes no dataset: the output is written only once the whole source is parsed.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { defineComponent } from '../component.ts';
import { writeDataset, type ColumnType, type Dataset } from '../dataset/index.ts';
import { Params } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { downloadS3Object, parseS3Url } from './s3.ts';
import { IngestError, parseCsv, parseJsonl, tableFromObjects, typeTable, type RawTable, type TypeOptions } from './parse.ts';
import {
  concatTables,
  downloadHttp,
  isGlob,
  kafkaRange,
  listS3Glob,
  readKafka,
  readPostgres,
  redact,
  resolveHeaders,
  sourceKind,
  type KafkaRange,
  type SourceOptions,
} from './sources.ts';

export type SourceFormat = 'csv' | 'jsonl' | 'parquet';

export function formatOf(path: string, declared: string = 'auto'): SourceFormat {
  if (declared !== 'auto') return declared as SourceFormat;
  const ext = extname(path).toLowerCase();
  if (ext === '.csv' || ext === '.tsv' || ext === '.txt') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  throw new IngestError(`${path}: can't tell the format from the extension '${ext}'; set param format to csv, jsonl or parquet`);
}

async function readRaw(path: string, format: SourceFormat, delimiter?: string, label = path): Promise<RawTable> {
  if (format === 'parquet') {
    let file;
    try {
      file = await asyncBufferFromFile(path);
    } catch (err) {
      // Not an IngestError: whether a retry can read it depends on why (api/failure.ts reads the cause's code).
      throw new Error(`cannot read ${label}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    try {
      const metadata = await parquetMetadataAsync(file);
      const names = parquetSchema(metadata).children.map((c) => c.element.name);
      const rows = (await parquetReadObjects({ file, metadata })) as Record<string, unknown>[];
      return tableFromObjects(rows, names, label);
    } catch (err) {
      if (err instanceof IngestError) throw err;
      throw new IngestError(`${label}: not a readable Parquet file (${(err as Error).message})`);
    }
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    // Not an IngestError: whether a retry can read it depends on why (api/failure.ts reads the cause's code).
    throw new Error(`cannot read ${label}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  if (format === 'jsonl') return parseJsonl(text, label);
  return parseCsv(text, label, delimiter ?? (extname(path).toLowerCase() === '.tsv' ? '\t' : ','));
}

export type IngestOptions = TypeOptions & SourceOptions & { format?: string; delimiter?: string; kafkaRange?: KafkaRange };

/** Read a downloaded copy of a remote object, then remove it. */
async function readDownloaded(got: { file: string; cleanup: () => Promise<void> }, format: SourceFormat, delimiter: string | undefined, label: string) {
  try {
    return await readRaw(got.file, format, delimiter, label);
  } finally {
    await got.cleanup();
  }
}

/** Reads any source ingest knows (a local file or a URI: components/ingest/sources.ts) as a raw table. */
export async function readSource(path: string, opts: IngestOptions = {}): Promise<RawTable> {
  const env = opts.env ?? process.env;
  switch (sourceKind(path)) {
    case 'file':
      return readRaw(path, formatOf(path, opts.format), opts.delimiter);
    case 's3': {
      const format = formatOf(path, opts.format);
      const loc = parseS3Url(path);
      if (!isGlob(loc.key)) return readDownloaded(await downloadS3Object(path, env), format, opts.delimiter, path);
      const parts: RawTable[] = [];
      for (const o of await listS3Glob(path, loc, env)) {
        const url = `s3://${loc.bucket}/${o.key.split('/').map(encodeURIComponent).join('/')}`;
        parts.push(await readDownloaded(await downloadS3Object(url, env), format, opts.delimiter, `s3://${loc.bucket}/${o.key}`));
      }
      return concatTables(parts, path);
    }
    case 'https': {
      const format = formatOf(new URL(path).pathname, opts.format);
      const got = await downloadHttp(path, resolveHeaders(path, opts.headers, env));
      return readDownloaded(got, format, opts.delimiter, redact(path));
    }
    case 'postgres':
      return readPostgres(path, opts.query, env);
    case 'kafka':
      return readKafka(path, opts.kafkaRange ?? (await kafkaRange(path, opts)));
  }
}

/** Reads a source (file or URI) into a typed dataset (the library entry behind the component). */
export async function ingestFile(path: string, opts: IngestOptions = {}): Promise<Dataset> {
  return typeTable(await readSource(path, opts), opts);
}

export const ingest = defineComponent({
  name: 'ingest',
  version: '2',
  description: 'Reads CSV, JSON Lines or Parquet (a file, S3 objects or an HTTPS resource), a PostgreSQL query or a Kafka topic into a typed tabular dataset',
  inputs: [{ name: 'source', kind: 'file', optional: true, description: 'The source file (or use param path)' }],
  outputs: [{ name: 'dataset', kind: 'dataset', description: 'Apache Arrow IPC (Feather v2) dataset' }],
  outputParams: ['rows', 'columns', 'digest'],
  fileParams: ['path'],
  params: PARAMS.ingest,
  async run(ctx) {
    const p = new Params('ingest', ctx, PARAMS.ingest);
    const path = p.optionalInput('source') ?? p.string('path');
    const format = p.oneOf('format', ['auto', 'csv', 'jsonl', 'parquet'], 'auto');
    const types = p.json<Record<string, ColumnType>>('types', {});
    const columns = p.has('columns') ? p.list('columns') : undefined;
    const ds = await ingestFile(path, {
      format,
      types,
      columns,
      delimiter: p.string('delimiter', undefined),
      query: p.string('query', undefined),
      headers: p.json<Record<string, string>>('headers', {}),
      group: p.string('group', undefined),
      from: p.string('from', undefined),
      kafkaRange: p.has('offsets') ? p.json<KafkaRange>('offsets') : undefined,
    });
    const digest = await writeDataset(p.output('dataset'), ds);
    ctx.log(`read ${ds.rows} rows × ${ds.columns.length} columns from ${redact(path)}: ${ds.columns.map((c) => `${c.name}:${c.type}`).join(', ')}`);
    ctx.setOutput('rows', ds.rows);
    ctx.setOutput('columns', ds.columns.length);
    ctx.setOutput('digest', digest);
  },
});

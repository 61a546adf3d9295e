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
 *              (a param of another kind of source than `path` names is ignored, with a log line that
 *              says so: a pipeline may point ingest at a local file for a test run and keep its SQL)
 *   format     'auto' (by extension: .csv/.tsv, .jsonl/.ndjson, .parquet) | 'csv' | 'jsonl' | 'parquet'
 *   delimiter  CSV field delimiter (default ',' or tab for .tsv)
 *   types      declared column types, e.g. {"amount":"numeric","country":"categorical"}; others are inferred
 *   columns    keep only these columns (list)
 * Inference, per column over its non-missing values: all true/false → boolean; all numbers →
 * numeric; at most 100 distinct values and each seen twice on average → categorical; else string.
 * Missing in CSV: '', NA, N/A, null, NULL, NaN, nan.
 * Output params: rows, columns (count), digest ('sha256:…' of the dataset file), kafkaOffsets (kafka://:
 * the range read, as the `offsets` param takes it, for committing once the run succeeds — the
 * engine does, and in Argo the workflow's exit handler (pipelines/argo.ts); other sources: null).
 * A failed read writes no dataset: the output is written only once the whole source is parsed.
 */
import { extname } from 'node:path';
import { defineComponent } from '../component.ts';
import { DatasetWriter, concatDatasets, type ColumnType, type Dataset } from '../dataset/index.ts';
import { Params } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { downloadS3Object, parseS3Url } from './s3.ts';
import { IngestError, typeTable, type RawTable, type TypeOptions } from './parse.ts';
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
  unusedSourceParams,
  type KafkaRange,
  type SourceOptions,
} from './sources.ts';
import { ingestChunks, rawChunks, type ChunkSink, type SourceFormat } from './stream.ts';

export type { SourceFormat } from './stream.ts';

export function formatOf(path: string, declared: string = 'auto'): SourceFormat {
  if (declared !== 'auto') return declared as SourceFormat;
  const ext = extname(path).toLowerCase();
  if (ext === '.csv' || ext === '.tsv' || ext === '.txt') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  throw new IngestError(
    `${path}: can't tell the format from the extension '${ext}'; name it .csv, .tsv, .jsonl or .parquet, or give the format (csv, jsonl or parquet)`,
  );
}

export type IngestOptions = TypeOptions &
  SourceOptions & {
    format?: string;
    delimiter?: string;
    kafkaRange?: KafkaRange;
    /** Text bytes per streamed chunk (tests use small ones). */ chunkBytes?: number;
    /**
     * Who parses CSV and Parquet: 'auto' (default; env GHOSTEAM_INGEST_ENGINE) tries DuckDB and
     * reads with the JavaScript engine where DuckDB can't be exact (duckdb.ts); 'duckdb' fails
     * instead of falling back (tests); 'js' never uses DuckDB. The dataset's bytes are the same.
     */
    engine?: Engine;
  };

export type Engine = 'auto' | 'duckdb' | 'js';

/** What read a source: the engine, and why DuckDB did not when it fell back. */
export interface ReadInfo {
  rows: number;
  passes: number;
  engine: 'duckdb' | 'js';
  fallback?: string;
  /** kafka://: the offsets read. */
  kafka?: KafkaRange;
}

function engineOf(opts: IngestOptions, env: NodeJS.ProcessEnv): Engine {
  const e = opts.engine ?? env.GHOSTEAM_INGEST_ENGINE ?? 'auto';
  if (e !== 'auto' && e !== 'duckdb' && e !== 'js') throw new IngestError(`ingest engine '${e}' is not one of auto, duckdb, js (GHOSTEAM_INGEST_ENGINE)`);
  return e;
}

/** A local file into the sink: DuckDB for CSV and Parquet where it is exact, else the JavaScript engine. */
async function fileChunks(
  file: string,
  format: SourceFormat,
  opts: IngestOptions & { label?: string; delimiter?: string },
  sink: ChunkSink,
  env: NodeJS.ProcessEnv,
): Promise<ReadInfo> {
  const engine = engineOf(opts, env);
  let fallback: string | undefined;
  if (engine !== 'js' && format !== 'jsonl' && opts.chunkBytes === undefined) {
    try {
      const { ingestDuckdb } = await import('./duckdb.ts');
      const r = await ingestDuckdb(file, format, opts, sink);
      return { rows: r.rows, passes: r.passes, engine: 'duckdb' };
    } catch (err) {
      if (engine === 'duckdb') throw err;
      sink.reset();
      fallback = (err as Error).message.split('\n')[0];
    }
  }
  const r = await ingestChunks(file, format, opts, sink);
  return { rows: r.rows, passes: r.passes, engine: 'js', fallback };
}

/** The delimiter a source's name implies (tab for .tsv), when none is given. */
const delimiterFor = (name: string, given?: string): string | undefined => given ?? (extname(name).toLowerCase() === '.tsv' ? '\t' : undefined);

/** A whole file as one raw table (the chunks joined): for sources read whole (S3 globs). */
async function readRaw(path: string, format: SourceFormat, delimiter: string | undefined, label: string): Promise<RawTable> {
  const parts: RawTable[] = [];
  for await (const t of rawChunks(path, format, delimiterFor(label, delimiter), label)) parts.push(t);
  return concatTables(parts, label);
}

/** Read a downloaded copy of a remote object, then remove it. */
async function readDownloaded(got: { file: string; cleanup: () => Promise<void> }, format: SourceFormat, delimiter: string | undefined, label: string) {
  try {
    return await readRaw(got.file, format, delimiter, label);
  } finally {
    await got.cleanup();
  }
}

/**
 * Streams any source ingest knows into the sink. Files, single S3 objects and HTTPS resources are
 * read in chunks (components/ingest/stream.ts; a remote object is downloaded to a temp file first);
 * S3 globs, PostgreSQL results and Kafka batches are read whole and typed as one chunk.
 */
async function streamSource(path: string, opts: IngestOptions, sink: ChunkSink): Promise<ReadInfo> {
  const env = opts.env ?? process.env;
  const streamed = async (got: { file: string; cleanup: () => Promise<void> }, format: SourceFormat, label: string) => {
    try {
      return await fileChunks(got.file, format, { ...opts, delimiter: delimiterFor(label, opts.delimiter), label }, sink, env);
    } finally {
      await got.cleanup();
    }
  };
  const whole = (t: RawTable): ReadInfo => {
    const ds = typeTable(t, opts);
    sink.write(ds);
    return { rows: ds.rows, passes: 1, engine: 'js' };
  };
  switch (sourceKind(path)) {
    case 'file':
      return fileChunks(path, formatOf(path, opts.format), { ...opts, delimiter: delimiterFor(path, opts.delimiter) }, sink, env);
    case 's3': {
      const format = formatOf(path, opts.format);
      const loc = parseS3Url(path);
      if (!isGlob(loc.key)) return streamed(await downloadS3Object(path, env), format, path);
      const parts: RawTable[] = [];
      for (const o of await listS3Glob(path, loc, env)) {
        const url = `s3://${loc.bucket}/${o.key.split('/').map(encodeURIComponent).join('/')}`;
        parts.push(await readDownloaded(await downloadS3Object(url, env), format, opts.delimiter, `s3://${loc.bucket}/${o.key}`));
      }
      return whole(concatTables(parts, path));
    }
    case 'https': {
      const format = formatOf(new URL(path).pathname, opts.format);
      return streamed(await downloadHttp(path, resolveHeaders(path, opts.headers, env)), format, redact(path));
    }
    case 'postgres':
      return whole(await readPostgres(path, opts.query, env));
    case 'kafka': {
      const range = opts.kafkaRange ?? (await kafkaRange(path, opts));
      return { ...whole(await readKafka(path, range, opts.env ?? process.env)), kafka: range };
    }
  }
}

/** Reads a source (file or URI) into a typed dataset in memory (the library entry; the component streams to a file). */
export async function ingestFile(path: string, opts: IngestOptions = {}): Promise<Dataset> {
  let parts: Dataset[] = [];
  await streamSource(path, opts, { write: (c) => void parts.push(c), reset: () => void (parts = []) });
  return concatDatasets(parts);
}

/**
 * Streams a source into a dataset file at `out` (chunked: memory follows the chunk). The file
 * appears only when the whole source was read; on any error nothing is left at `out`.
 */
export async function ingestToFile(
  path: string,
  out: string,
  opts: IngestOptions = {},
): Promise<{
  rows: number;
  digest: string;
  schema: { name: string; type: ColumnType }[];
  passes: number;
  engine: 'duckdb' | 'js';
  fallback?: string;
  kafka?: KafkaRange;
}> {
  let w = new DatasetWriter(out);
  let schema: { name: string; type: ColumnType }[] = [];
  try {
    const r = await streamSource(path, opts, {
      write: (c) => {
        if (!schema.length) schema = c.columns.map((x) => ({ name: x.name, type: x.type }));
        w.write(c, true);
      },
      reset: () => {
        w.abort();
        w = new DatasetWriter(out);
        schema = [];
      },
    });
    const digest = await w.close();
    return { rows: r.rows, digest, schema, passes: r.passes, engine: r.engine, fallback: r.fallback, ...(r.kafka ? { kafka: r.kafka } : {}) };
  } catch (err) {
    w.abort();
    throw err;
  }
}

export const ingest = defineComponent({
  name: 'ingest',
  // 3: the kafkaOffsets output param.
  version: '3',
  description: 'Reads CSV, JSON Lines or Parquet (a file, S3 objects or an HTTPS resource), a PostgreSQL query or a Kafka topic into a typed tabular dataset',
  inputs: [{ name: 'source', kind: 'file', optional: true, description: 'The source file (or use param path)' }],
  outputs: [{ name: 'dataset', kind: 'dataset', description: 'Apache Arrow IPC (Feather v2) dataset' }],
  outputParams: ['rows', 'columns', 'digest', 'kafkaOffsets'],
  fileParams: ['path'],
  params: PARAMS.ingest,
  async run(ctx) {
    const p = new Params('ingest', ctx, PARAMS.ingest);
    const path = p.optionalInput('source') ?? p.string('path');
    const format = p.oneOf('format', ['auto', 'csv', 'jsonl', 'parquet'], 'auto');
    const types = p.json<Record<string, ColumnType>>('types', {});
    const columns = p.has('columns') ? p.list('columns') : undefined;
    for (const line of unusedSourceParams(sourceKind(path), (k) => p.has(k))) ctx.log(line);
    const t0 = performance.now();
    const { rows, digest, schema, passes, engine, fallback, kafka } = await ingestToFile(path, p.output('dataset'), {
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
    const secs = (performance.now() - t0) / 1000;
    ctx.log(
      `read ${rows} rows × ${schema.length} columns from ${redact(path)} in ${secs.toFixed(2)}s (${Math.round(rows / Math.max(secs, 1e-9))} rows/s, ${engine === 'duckdb' ? 'DuckDB' : fallback ? `the JavaScript engine (DuckDB could not be exact: ${fallback})` : 'the JavaScript engine'}${passes > 1 ? ', 2 passes: later rows changed an inferred type' : ''}): ${schema.map((c) => `${c.name}:${c.type}`).join(', ')}`,
    );
    ctx.setOutput('rows', rows);
    ctx.setOutput('columns', schema.length);
    ctx.setOutput('digest', digest);
    ctx.setOutput('kafkaOffsets', kafka ? JSON.stringify(kafka) : null);
  },
});

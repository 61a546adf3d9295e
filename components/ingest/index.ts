/**
 * ingest: CSV, JSON Lines or Parquet → a typed dataset (an Apache Arrow IPC file, components/dataset).
 *
 * Params:
 *   path       the source file, when it isn't given as the `source` input artifact: a local path or
 *              s3://BUCKET/KEY (AWS S3 or an S3-compatible store: components/ingest/s3.ts)
 *   format     'auto' (by extension: .csv/.tsv, .jsonl/.ndjson, .parquet) | 'csv' | 'jsonl' | 'parquet'
 *   delimiter  CSV field delimiter (default ',' or tab for .tsv)
 *   types      declared column types, e.g. {"amount":"numeric","country":"categorical"}; others are inferred
 *   columns    keep only these columns (list)
 * Inference, per column over its non-missing values: all true/false → boolean; all numbers →
 * numeric; at most 100 distinct values and each seen twice on average → categorical; else string.
 * Missing in CSV: '', NA, N/A, null, NULL, NaN, nan.
 * Output params: rows, columns (count), digest ('sha256:…' of the dataset file).
 */
import { extname } from 'node:path';
import { defineComponent } from '../component.ts';
import { DatasetWriter, concatDatasets, type ColumnType, type Dataset } from '../dataset/index.ts';
import { Params } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { downloadS3Object, isS3Url } from './s3.ts';
import { IngestError, type TypeOptions } from './parse.ts';
import { ingestChunks, type ChunkSink, type SourceFormat } from './stream.ts';

export type { SourceFormat } from './stream.ts';

export function formatOf(path: string, declared: string = 'auto'): SourceFormat {
  if (declared !== 'auto') return declared as SourceFormat;
  const ext = extname(path).toLowerCase();
  if (ext === '.csv' || ext === '.tsv' || ext === '.txt') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  throw new IngestError(`${path}: can't tell the format from the extension '${ext}'; set param format to csv, jsonl or parquet`);
}

export type IngestOptions = TypeOptions & { format?: string; delimiter?: string; chunkBytes?: number };

/** Streams a source (local path or s3://) into the sink; an s3:// object is downloaded to a temp file first. */
async function streamSource(path: string, opts: IngestOptions, sink: ChunkSink): Promise<{ rows: number; passes: number }> {
  const format = formatOf(path, opts.format);
  if (!isS3Url(path)) return ingestChunks(path, format, opts, sink);
  const { file, cleanup } = await downloadS3Object(path);
  try {
    // The delimiter default follows the key's extension, not the temp file's.
    const delimiter = opts.delimiter ?? (extname(path).toLowerCase() === '.tsv' ? '\t' : undefined);
    return await ingestChunks(file, format, { ...opts, delimiter, label: path }, sink);
  } finally {
    await cleanup();
  }
}

/** Reads a source file into a typed dataset in memory (the library entry; the component streams to a file). */
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
): Promise<{ rows: number; digest: string; schema: { name: string; type: ColumnType }[]; passes: number }> {
  let w = new DatasetWriter(out);
  let schema: { name: string; type: ColumnType }[] = [];
  try {
    const r = await streamSource(path, opts, {
      write: (c) => {
        if (!schema.length) schema = c.columns.map((x) => ({ name: x.name, type: x.type }));
        w.write(c);
      },
      reset: () => {
        w.abort();
        w = new DatasetWriter(out);
        schema = [];
      },
    });
    const digest = await w.close();
    return { rows: r.rows, digest, schema, passes: r.passes };
  } catch (err) {
    w.abort();
    throw err;
  }
}

export const ingest = defineComponent({
  name: 'ingest',
  version: '2',
  description: 'Reads CSV, JSON Lines or Parquet into a typed tabular dataset (types inferred or declared)',
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
    const t0 = performance.now();
    const { rows, digest, schema, passes } = await ingestToFile(path, p.output('dataset'), {
      format,
      types,
      columns,
      delimiter: p.string('delimiter', undefined),
    });
    const secs = (performance.now() - t0) / 1000;
    ctx.log(
      `read ${rows} rows × ${schema.length} columns from ${path} in ${secs.toFixed(2)}s (${Math.round(rows / Math.max(secs, 1e-9))} rows/s${passes > 1 ? ', 2 passes: later rows changed an inferred type' : ''}): ${schema.map((c) => `${c.name}:${c.type}`).join(', ')}`,
    );
    ctx.setOutput('rows', rows);
    ctx.setOutput('columns', schema.length);
    ctx.setOutput('digest', digest);
  },
});

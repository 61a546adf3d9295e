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
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { defineComponent } from '../component.ts';
import { writeDataset, type ColumnType, type Dataset } from '../dataset/index.ts';
import { Params } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { downloadS3Object, isS3Url } from './s3.ts';
import { IngestError, parseCsv, parseJsonl, tableFromObjects, typeTable, type RawTable, type TypeOptions } from './parse.ts';

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

/** Reads a source file into a typed dataset (the library entry behind the component). */
export async function ingestFile(path: string, opts: TypeOptions & { format?: string; delimiter?: string } = {}): Promise<Dataset> {
  const format = formatOf(path, opts.format);
  if (!isS3Url(path)) return typeTable(await readRaw(path, format, opts.delimiter), opts);
  const { file, cleanup } = await downloadS3Object(path);
  try {
    return typeTable(await readRaw(file, format, opts.delimiter, path), opts);
  } finally {
    await cleanup();
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
    const ds = await ingestFile(path, { format, types, columns, delimiter: p.string('delimiter', undefined) });
    const digest = await writeDataset(p.output('dataset'), ds);
    ctx.log(`read ${ds.rows} rows × ${ds.columns.length} columns from ${path}: ${ds.columns.map((c) => `${c.name}:${c.type}`).join(', ')}`);
    ctx.setOutput('rows', ds.rows);
    ctx.setOutput('columns', ds.columns.length);
    ctx.setOutput('digest', digest);
  },
});

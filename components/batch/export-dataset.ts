/**
 * A dataset (the Arrow IPC file steps pass between them) written out as CSV, TSV, JSON Lines,
 * Parquet or Arrow, a record batch at a time through batch prediction's writers (writers.ts): the
 * same atomic temporary file + rename, so an existing file is never half-replaced. Column types map
 * as: numeric → float64 (NaN is a missing value: empty in CSV, null elsewhere), boolean → bool,
 * categorical and string → text. Behind `ghosteam runs artifact RUN TASK.OUTPUT --out FILE`.
 */
import { access } from 'node:fs/promises';
import type { Column, Dataset } from '../dataset/types.ts';
import { readDatasetChunks } from '../dataset/stream.ts';
import { formatOfPath } from './plan.ts';
import { plainColumn } from './readers.ts';
import { openWriter, type ColumnKind, type ColumnSpec, type TableWriter } from './writers.ts';

const KIND: Record<Column['type'], ColumnKind> = { numeric: 'float64', boolean: 'bool', categorical: 'string', string: 'string' };

export function writerSpecs(ds: Dataset): ColumnSpec[] {
  return ds.columns.map((c) => ({ name: c.name, kind: KIND[c.type] }));
}

/** Refuses to replace an existing `to` unless `overwrite`. */
export async function refuseExisting(to: string, overwrite = false): Promise<void> {
  if (
    !overwrite &&
    (await access(to).then(
      () => true,
      () => false,
    ))
  )
    throw new Error(`${to} already exists; pass --overwrite to replace it`);
}

/** Writes the dataset file `from` to `to` (format from its extension); refuses an existing `to` unless `overwrite`. */
export async function exportDataset(from: string, to: string, opts: { overwrite?: boolean } = {}): Promise<{ rows: number; columns: number }> {
  const format = formatOfPath(to);
  await refuseExisting(to, opts.overwrite);
  let writer: TableWriter | undefined;
  let rows = 0;
  let columns = 0;
  try {
    for await (const chunk of readDatasetChunks(from)) {
      writer ??= await openWriter(to, format, writerSpecs(chunk));
      columns = chunk.columns.length;
      if (chunk.rows > 0) await writer.write({ rows: chunk.rows, values: chunk.columns.map(plainColumn) });
      rows += chunk.rows;
    }
    if (!writer) throw new Error(`${from}: no record batch and no schema`);
    await writer.finish({});
    await writer.commit();
  } catch (e) {
    await writer?.abort();
    throw e;
  }
  return { rows, columns };
}

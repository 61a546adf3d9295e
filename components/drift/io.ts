/**
 * File input for drift: CSV, JSON Lines and Parquet go through the ingest component's reader
 * (components/ingest), so drift and pipelines agree on parsing and type inference. The current file is
 * read with the reference's column types declared, so a column can't change type between the two.
 */
import { readFile } from 'node:fs/promises';
import type { Column, ColumnType as DatasetColumnType, Dataset } from '../dataset/index.ts';
import { ingestFile, type IngestOptions } from '../ingest/index.ts';
import { parseSummary, type ReferenceSummary } from './summary.ts';
import { DriftError, type ColumnData } from './types.ts';

/** A dataset column as drift input: numeric stays numeric; categorical, boolean and string become categories. */
export function columnData(c: Column): ColumnData {
  switch (c.type) {
    case 'numeric':
      return { name: c.name, type: 'numeric', values: c.values };
    case 'boolean': {
      const out = new Array<string | null>(c.values.length);
      for (let i = 0; i < c.values.length; i++) out[i] = c.values[i] === 2 ? null : c.values[i] === 1 ? 'true' : 'false';
      return { name: c.name, type: 'categorical', values: out };
    }
    case 'categorical': {
      const out = new Array<string | null>(c.codes.length);
      for (let i = 0; i < c.codes.length; i++) out[i] = c.codes[i] < 0 ? null : c.categories[c.codes[i]];
      return { name: c.name, type: 'categorical', values: out };
    }
    case 'string':
      return { name: c.name, type: 'categorical', values: c.values };
  }
}

export function datasetColumns(ds: Dataset): ColumnData[] {
  return ds.columns.map(columnData);
}

/** How both sources are read (ingest's params), and each one's SQL when it is a postgres:// database. */
export type ReadPairOptions = Pick<IngestOptions, 'format' | 'delimiter' | 'headers'> & {
  readonly referenceQuery?: string;
  readonly currentQuery?: string;
};

/** Ingest's options for one side: the shared ones, and that side's SQL as `query`. */
export function sideOptions(read: ReadPairOptions, side: 'reference' | 'current'): Pick<IngestOptions, 'format' | 'delimiter' | 'headers' | 'query'> {
  const { referenceQuery, currentQuery, ...both } = read;
  const query = side === 'reference' ? referenceQuery : currentQuery;
  return query !== undefined ? { ...both, query } : both;
}

/** Reads the reference and current files (types inferred on the reference, declared on the current). */
export async function readPair(
  referencePath: string,
  currentPath: string,
  columns?: readonly string[],
  read: ReadPairOptions = {},
): Promise<{ reference: Dataset; current: Dataset }> {
  const reference = await ingestFile(referencePath, { ...sideOptions(read, 'reference'), ...(columns ? { columns } : {}) });
  const types: Record<string, DatasetColumnType> = {};
  for (const c of reference.columns) types[c.name] = c.type;
  let current: Dataset;
  try {
    current = await ingestFile(currentPath, { ...sideOptions(read, 'current'), types, columns: reference.columns.map((c) => c.name) });
  } catch (err) {
    throw new DriftError(
      `${(err as Error).message} (the current data must have the reference's columns: ${reference.columns.map((c) => c.name).join(', ')})`,
      currentPath,
    );
  }
  return { reference, current };
}

/** Reads a reference summary written by `ghosteam drift summarize` or buildReferenceSummary. */
export async function readReferenceSummary(path: string): Promise<ReferenceSummary> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new DriftError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, path);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DriftError(`${path}: not valid JSON (${(err as Error).message})`, path);
  }
  return parseSummary(json, 'reference', path);
}

/**
 * The tabular dataset artifact every component reads and writes: an Apache Arrow IPC file, the
 * format pandas calls Feather v2 (`pd.read_feather(path)`, `pyarrow.feather.read_table`,
 * `polars.read_ipc`, DuckDB through pyarrow). Any tool that reads Arrow opens what a step wrote,
 * and a step written in Python hands the built-ins a dataset with `df.to_feather(path)`.
 *
 * Why Arrow IPC and not Parquet: measured in the same run on 1M rows × 20 columns (`npm run
 * bench:engine`), Arrow IPC writes about as fast as the GTDS format it replaces and reads 5-15×
 * faster (its buffers are the column arrays), while Parquet through hyparquet-writer/hyparquet
 * (pure JS: encoding, dictionary pages, snappy) took 20-40× longer both ways. Parquet stays an
 * input format of `ingest`.
 *
 * Column mapping (what we write; reading also takes what pandas/pyarrow/polars write):
 *   numeric      float64, null where missing        (read: any int/float width; int64 → number)
 *   boolean      bool, null where missing
 *   categorical  dictionary<int32, utf8>, unordered → a pandas `category` with the same categories
 *   string       utf8, null where missing            (read: large_utf8 too; dates → ISO strings)
 *
 * The bytes are a pure function of the data: no timestamps, fixed dictionary ids, canonical NaN,
 * record batches of a fixed BATCH_ROWS rows (one for small datasets), one dictionary per column,
 * uncompressed. Steps read and write them a batch at a time (stream.ts: DatasetWriter,
 * readDatasetChunks), so memory follows the batch, not the dataset. So the file's sha256 (`datasetDigest`) identifies the content and
 * the engine's content-addressed store can use it. Compressed IPC files (pyarrow writes LZ4 frames by
 * default; ZSTD on request) are read too (`codecs.ts`).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ARROW_MAGIC, decodeArrow, encodeArrow } from './arrow.ts';
import { DatasetWriter } from './stream.ts';

export {
  BATCH_ROWS,
  DatasetWriter,
  concatColumns,
  concatDatasets,
  readDatasetChunks,
  schemaOf,
  sliceColumn,
  sliceDataset,
  writeDatasetChunks,
  type ColumnSchema,
} from './stream.ts';

export {
  BOOLEAN_NULL,
  DatasetError,
  type BooleanColumn,
  type CategoricalColumn,
  type Cell,
  type Column,
  type ColumnType,
  type Dataset,
  type NumericColumn,
  type StringColumn,
} from './types.ts';
import { BOOLEAN_NULL, DatasetError, type Cell, type Column, type ColumnType, type Dataset } from './types.ts';

/** Checks that every column has `rows` values and that names are unique; returns the dataset. */
export function checkDataset(ds: Dataset): Dataset {
  const seen = new Set<string>();
  for (const c of ds.columns) {
    if (seen.has(c.name)) throw new DatasetError(`dataset has two columns named '${c.name}'; column names must be unique`);
    seen.add(c.name);
    const n = c.type === 'categorical' ? c.codes.length : c.values.length;
    if (n !== ds.rows) throw new DatasetError(`column '${c.name}' has ${n} values but the dataset has ${ds.rows} rows`);
    if (c.type === 'categorical') {
      for (let i = 0; i < n; i++) {
        const k = c.codes[i];
        if (k < -1 || k >= c.categories.length)
          throw new DatasetError(`column '${c.name}' row ${i}: category code ${k} is out of range (${c.categories.length} categories)`);
      }
    }
  }
  return ds;
}

export function getColumn(ds: Dataset, name: string): Column {
  const c = ds.columns.find((x) => x.name === name);
  if (!c) throw new DatasetError(`dataset has no column '${name}'; its columns are: ${ds.columns.map((x) => x.name).join(', ')}`);
  return c;
}

export function cellAt(c: Column, row: number): Cell {
  switch (c.type) {
    case 'numeric': {
      const v = c.values[row];
      return Number.isNaN(v) ? null : v;
    }
    case 'boolean': {
      const v = c.values[row];
      return v === BOOLEAN_NULL ? null : v === 1;
    }
    case 'categorical': {
      const k = c.codes[row];
      return k < 0 ? null : c.categories[k];
    }
    case 'string':
      return c.values[row];
  }
}

export function isNull(c: Column, row: number): boolean {
  return cellAt(c, row) === null;
}

/** Row `i` as an object (for reports and small data; use columns for bulk work). */
export function rowObject(ds: Dataset, i: number): Record<string, Cell> {
  const o: Record<string, Cell> = {};
  for (const c of ds.columns) o[c.name] = cellAt(c, i);
  return o;
}

/** A new dataset holding the given rows (in that order). */
export function takeRows(ds: Dataset, idx: ArrayLike<number>): Dataset {
  const n = idx.length;
  const columns = ds.columns.map((c): Column => {
    switch (c.type) {
      case 'numeric': {
        const v = new Float64Array(n);
        for (let i = 0; i < n; i++) v[i] = c.values[idx[i]];
        return { name: c.name, type: 'numeric', values: v };
      }
      case 'boolean': {
        const v = new Uint8Array(n);
        for (let i = 0; i < n; i++) v[i] = c.values[idx[i]];
        return { name: c.name, type: 'boolean', values: v };
      }
      case 'categorical': {
        const v = new Int32Array(n);
        for (let i = 0; i < n; i++) v[i] = c.codes[idx[i]];
        return { name: c.name, type: 'categorical', categories: c.categories, codes: v };
      }
      case 'string': {
        const v: (string | null)[] = new Array(n);
        for (let i = 0; i < n; i++) v[i] = c.values[idx[i]];
        return { name: c.name, type: 'string', values: v };
      }
    }
  });
  return { rows: n, columns };
}

/** Builds a column of `type` from plain cells (null = missing). Throws on a value that doesn't fit. */
export function columnFromCells(name: string, type: ColumnType, cells: readonly Cell[], categories?: readonly string[]): Column {
  const n = cells.length;
  switch (type) {
    case 'numeric': {
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const x = cells[i];
        if (x === null) v[i] = NaN;
        else if (typeof x === 'number') v[i] = x;
        else if (typeof x === 'boolean') v[i] = x ? 1 : 0;
        else throw new DatasetError(`column '${name}' row ${i}: '${x}' is not a number`);
      }
      return { name, type, values: v };
    }
    case 'boolean': {
      const v = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const x = cells[i];
        if (x === null) v[i] = BOOLEAN_NULL;
        else if (typeof x === 'boolean') v[i] = x ? 1 : 0;
        else if (x === 0 || x === 1) v[i] = x;
        else throw new DatasetError(`column '${name}' row ${i}: '${String(x)}' is not a boolean`);
      }
      return { name, type, values: v };
    }
    case 'categorical': {
      const cats = categories ? [...categories] : [...new Set(cells.filter((x) => x !== null).map(String))].sort();
      const index = new Map(cats.map((c, i) => [c, i]));
      const codes = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const x = cells[i];
        if (x === null) codes[i] = -1;
        else {
          const k = index.get(String(x));
          if (k === undefined) throw new DatasetError(`column '${name}' row ${i}: '${String(x)}' is not one of its categories (${cats.join(', ')})`);
          codes[i] = k;
        }
      }
      return { name, type, categories: cats, codes };
    }
    case 'string':
      return { name, type, values: cells.map((x) => (x === null ? null : String(x))) };
  }
}

/** Serialises a dataset to Arrow IPC file bytes (deterministic: equal datasets give equal bytes). */
export function encodeDataset(ds: Dataset): Uint8Array {
  return encodeArrow(checkDataset(ds));
}

const GTDS_MAGIC = Buffer.from('GTDS');

/** Parses Arrow IPC (file or stream) bytes. `where` names the file in error messages. */
export function decodeDataset(buf: Uint8Array, where = 'dataset'): Dataset {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.subarray(0, 4).equals(GTDS_MAGIC)) {
    throw new DatasetError(
      `${where}: is a GTDS dataset, the format ghosteam used before Apache Arrow; re-run the step that wrote it (its component version changed, so \`ghosteam run\` does) or convert the source data with the ingest component`,
      where,
    );
  }
  const isFile = b.length >= 8 && b.subarray(0, 6).equals(ARROW_MAGIC);
  const isStream = b.length >= 8 && b.readUInt32LE(0) === 0xffffffff;
  if (!isFile && !isStream) {
    throw new DatasetError(
      `${where}: not an Apache Arrow IPC (Feather v2) file; produce it with the ingest component, writeDataset(), or pandas' df.to_feather(path)`,
      where,
    );
  }
  return checkDataset(decodeArrow(b, where));
}
export async function readDataset(path: string): Promise<Dataset> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new DatasetError(`cannot read dataset ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, path, { cause: err });
  }
  return decodeDataset(buf, path);
}

/**
 * Writes atomically (temp file + rename) and returns the content digest 'sha256:<hex>'. The file
 * is cut into record batches of BATCH_ROWS rows, as the streaming writer cuts it (stream.ts), so a
 * dataset has the same bytes however it was produced; up to BATCH_ROWS rows, `encodeDataset`'s.
 */
export async function writeDataset(path: string, ds: Dataset): Promise<string> {
  checkDataset(ds);
  const w = new DatasetWriter(path);
  try {
    w.write(ds);
  } catch (err) {
    w.abort();
    throw err;
  }
  return w.close();
}

export async function datasetDigest(path: string): Promise<string> {
  return (
    'sha256:' +
    createHash('sha256')
      .update(await readFile(path))
      .digest('hex')
  );
}

/** The schema as plain data (names, types, categories): what reports and the drift monitor compare. */
export function datasetSchema(ds: Dataset): { name: string; type: ColumnType; categories?: string[] }[] {
  return ds.columns.map((c) => (c.type === 'categorical' ? { name: c.name, type: c.type, categories: [...c.categories] } : { name: c.name, type: c.type }));
}

/** Builds a dataset from row objects, inferring each column's type (see ingest's rules). */
export function datasetFromColumns(cols: Record<string, { type: ColumnType; cells: readonly Cell[]; categories?: readonly string[] }>): Dataset {
  const entries = Object.entries(cols);
  const rows = entries.length ? entries[0][1].cells.length : 0;
  return checkDataset({ rows, columns: entries.map(([name, c]) => columnFromCells(name, c.type, c.cells, c.categories)) });
}

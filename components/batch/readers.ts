/**
 * Streaming table readers for batch prediction: CSV, JSON Lines, Parquet and Arrow IPC (Feather v2)
 * read a chunk of rows at a time, so memory follows the batch size, not the file size. They reuse
 * the ingest component's CSV parser (RFC 4180; quoted newlines), hyparquet (one row group at a time)
 * and apache-arrow's file reader with the dataset module's column decoding (one record batch at a
 * time). A chunk is columns of plain values (number, string, boolean, null) or typed arrays.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { RecordBatchReader, type AsyncRecordBatchFileReader, type AsyncRecordBatchStreamReader, type RecordBatch } from 'apache-arrow';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { readColumn } from '../dataset/arrow.ts';
import { registerArrowCodecs } from '../dataset/codecs.ts';
import { BOOLEAN_NULL, type Column } from '../dataset/types.ts';
import { IngestError, parseCsv } from '../ingest/parse.ts';
import { BatchPredictError, type TableFormat } from './plan.ts';

export interface Chunk {
  readonly rows: number;
  readonly columns: ReadonlyMap<string, ArrayLike<unknown>>;
  /** Names row r of this chunk in errors: `in.csv:17` (line) or `in.parquet row 17`. */
  where(r: number): string;
}

export interface TableReader {
  readonly format: TableFormat;
  readonly columns: readonly string[];
  /** Rows in the file when the format says so up front (Parquet). */
  readonly totalRows?: number;
  /** How far through the file the reader is, 0–1, for progress. */
  progress(): number;
  chunks(): AsyncGenerator<Chunk>;
  /**
   * Takes back the buffer of a typed array a chunk carried (its matrix, a numeric column) once
   * nothing refers to it any more, to fill a later chunk instead of allocating one. Readers that
   * allocate per chunk leave it out.
   */
  recycle?(buffer: ArrayBufferLike): void;
  close(): Promise<void>;
}

export interface ReaderOptions {
  /** Rows per chunk (a Parquet row group or an Arrow record batch larger than this is sliced). */
  readonly batchRows: number;
  /** CSV field delimiter. @default ',' (tab for .tsv) */
  readonly delimiter?: string;
}

function cannotRead(path: string, err: unknown): BatchPredictError {
  return new BatchPredictError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
}

export async function openReader(path: string, format: TableFormat, opts: ReaderOptions): Promise<TableReader> {
  const st = await stat(path).catch((e: unknown) => {
    throw cannotRead(path, e);
  });
  if (!st.isFile()) throw new BatchPredictError(`${path} is not a file`);
  switch (format) {
    case 'csv':
      return csvReader(path, st.size, opts.delimiter ?? (/\.tsv$/i.test(path) ? '\t' : ','), opts.batchRows);
    case 'jsonl':
      return jsonlReader(path, st.size, opts.batchRows);
    case 'parquet':
      return parquetReader(path, opts.batchRows);
    case 'arrow':
      return arrowReader(path, opts.batchRows);
  }
}

/** Lines of a text file, with the byte count read so far. */
async function* textChunks(path: string, onBytes: (n: number) => void): AsyncGenerator<string> {
  const dec = new StringDecoder('utf8');
  try {
    for await (const buf of createReadStream(path, { highWaterMark: 1 << 20 })) {
      onBytes((buf as Buffer).length);
      yield dec.write(buf as Buffer);
    }
  } catch (e) {
    throw cannotRead(path, e);
  }
  const rest = dec.end();
  if (rest) yield rest;
}

/**
 * Where the first `want` whole records of `text` (from `from`) end: the index after the newline
 * closing the last of them, or -1 when the text holds fewer. A newline inside a quoted field does
 * not end a record (quotes toggle; a doubled quote toggles twice).
 */
export function recordsEnd(text: string, from: number, want: number): { end: number; records: number } {
  let n = 0;
  let end = -1;
  if (text.indexOf('"', from) < 0) {
    let i = text.indexOf('\n', from);
    while (i >= 0 && n < want) {
      n++;
      end = i + 1;
      i = text.indexOf('\n', end);
    }
    return { end, records: n };
  }
  let quoted = false;
  for (let i = from; i < text.length && n < want; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) quoted = !quoted;
    else if (c === 10 && !quoted) {
      n++;
      end = i + 1;
    }
  }
  return { end, records: n };
}

function countLines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

async function csvReader(path: string, size: number, delimiter: string, batchRows: number): Promise<TableReader> {
  let read = 0;
  const source = textChunks(path, (n) => (read += n));
  // The header: the first record.
  let text = '';
  let headerEnd = -1;
  while (headerEnd < 0) {
    const r = await source.next();
    if (r.done) {
      headerEnd = text.length;
      break;
    }
    text += r.value;
    headerEnd = recordsEnd(text, 0, 1).end;
  }
  if (text.charCodeAt(0) === 0xfeff) {
    text = text.slice(1);
    headerEnd--;
  }
  if (text.trim() === '') throw new BatchPredictError(`${path}: the file is empty; a CSV needs a header line`);
  let header: string[];
  try {
    header = parseCsv(text.slice(0, headerEnd), path, delimiter).names;
  } catch (e) {
    throw new BatchPredictError((e as Error).message, { cause: e });
  }
  let line = 2 + countLines(text, 0, headerEnd) - 1;
  text = text.slice(headerEnd);
  let done = false;
  async function* chunks(): AsyncGenerator<Chunk> {
    for (;;) {
      let cut = recordsEnd(text, 0, batchRows);
      while (cut.records < batchRows && !done) {
        const r = await source.next();
        if (r.done) done = true;
        else {
          text += r.value;
          cut = recordsEnd(text, 0, batchRows);
        }
      }
      let part: string;
      if (cut.records >= batchRows) {
        part = text.slice(0, cut.end);
        text = text.slice(cut.end);
      } else {
        part = text;
        text = '';
      }
      if (part.trim() === '') return;
      let table;
      try {
        table = parseCsv(part, path, delimiter, { header, firstLine: line });
      } catch (e) {
        if (e instanceof IngestError) throw new BatchPredictError(e.message, { cause: e });
        throw e;
      }
      line += countLines(part, 0, part.length);
      const columns = new Map<string, ArrayLike<unknown>>(header.map((h, c) => [h, table.columns[c]]));
      const rows = table.columns.length ? table.columns[0].length : 0;
      if (rows > 0) yield { rows, columns, where: (r) => table.where(r, 0).replace(/:\d+$/, '') };
      if (text === '' && done) return;
    }
  }
  return { format: 'csv', columns: header, progress: () => (size ? read / size : 1), chunks, close: async () => void (await source.return(undefined)) };
}

async function jsonlReader(path: string, size: number, batchRows: number): Promise<TableReader> {
  let read = 0;
  const source = textChunks(path, (n) => (read += n));
  let pending = '';
  let lineNo = 0;
  let ended = false;
  /** The next `n` non-blank lines, parsed, with their line numbers. */
  async function take(n: number): Promise<{ objs: Record<string, unknown>[]; lines: number[] }> {
    const objs: Record<string, unknown>[] = [];
    const lines: number[] = [];
    while (objs.length < n) {
      let nl = pending.indexOf('\n');
      while (nl < 0 && !ended) {
        const r = await source.next();
        if (r.done) ended = true;
        else pending += r.value;
        nl = pending.indexOf('\n');
      }
      if (nl < 0 && pending === '') break;
      const s = (nl < 0 ? pending : pending.slice(0, nl)).trim();
      pending = nl < 0 ? '' : pending.slice(nl + 1);
      lineNo++;
      if (s === '') continue;
      let v: unknown;
      try {
        v = JSON.parse(s);
      } catch (err) {
        throw new BatchPredictError(`${path}:${lineNo}: not valid JSON (${(err as Error).message})`);
      }
      if (v === null || typeof v !== 'object' || Array.isArray(v))
        throw new BatchPredictError(`${path}:${lineNo}: each line must be a JSON object ({"column": value, ...})`);
      objs.push(v as Record<string, unknown>);
      lines.push(lineNo);
    }
    return { objs, lines };
  }
  // The columns: the keys of the first batch's records, in first-seen order.
  const first = await take(batchRows);
  const names: string[] = [];
  const known = new Set<string>();
  for (const o of first.objs)
    for (const k of Object.keys(o))
      if (!known.has(k)) {
        known.add(k);
        names.push(k);
      }
  if (first.objs.length === 0) throw new BatchPredictError(`${path}: the file has no records; JSON Lines needs one JSON object per line`);
  const toChunk = ({ objs, lines }: { objs: Record<string, unknown>[]; lines: number[] }): Chunk => {
    const cols = names.map(() => new Array<unknown>(objs.length));
    for (let r = 0; r < objs.length; r++) {
      const o = objs[r];
      for (const k in o)
        if (!known.has(k))
          throw new BatchPredictError(
            `${path}:${lines[r]}: key '${k}' is not among the columns of the first ${first.objs.length} records (${names.join(', ')}); give every record the same keys`,
          );
      for (let c = 0; c < names.length; c++) {
        const x = o[names[c]];
        if (x !== null && typeof x === 'object')
          throw new BatchPredictError(
            `${path}:${lines[r]}, column '${names[c]}': nested ${Array.isArray(x) ? 'array' : 'object'} values are not supported; flatten it into scalar columns`,
          );
        cols[c][r] = x === undefined ? null : x;
      }
    }
    return { rows: objs.length, columns: new Map(names.map((n, c) => [n, cols[c]])), where: (r) => `${path}:${lines[r]}` };
  };
  async function* chunks(): AsyncGenerator<Chunk> {
    yield toChunk(first);
    for (;;) {
      const next = await take(batchRows);
      if (next.objs.length === 0) return;
      yield toChunk(next);
    }
  }
  return { format: 'jsonl', columns: names, progress: () => (size ? read / size : 1), chunks, close: async () => void (await source.return(undefined)) };
}

async function parquetReader(path: string, batchRows: number): Promise<TableReader> {
  let file: AsyncBuffer;
  let metadata: FileMetaData;
  try {
    file = await asyncBufferFromFile(path);
    metadata = await parquetMetadataAsync(file);
  } catch (e) {
    throw new BatchPredictError(`${path}: not a readable Parquet file (${(e as Error).message})`, { cause: e });
  }
  const names = parquetSchema(metadata)
    .children.filter((c) => c.children.length === 0)
    .map((c) => c.element.name);
  const total = Number(metadata.num_rows);
  let done = 0;
  async function* chunks(): AsyncGenerator<Chunk> {
    let groupStart = 0;
    for (const rg of metadata.row_groups) {
      const n = Number(rg.num_rows);
      // One column at a time, each packed into a typed array where it is numeric without nulls:
      // hyparquet decodes an OPTIONAL column (pyarrow's default) into a boxed JS array, so reading
      // the whole row group at once held every column boxed (~5x the file's bytes for 1M-row groups).
      const cols = new Map<string, ArrayLike<unknown>>();
      for (const name of names) {
        const list: { at: number; data: ArrayLike<unknown> }[] = [];
        try {
          await parquetRead({
            file,
            metadata,
            columns: [name],
            rowStart: groupStart,
            rowEnd: groupStart + n,
            onChunk: (c) => list.push({ at: c.rowStart, data: c.columnData as ArrayLike<unknown> }),
          });
        } catch (e) {
          throw new BatchPredictError(`${path}: row group at row ${groupStart + 1} can't be read (${(e as Error).message})`, { cause: e });
        }
        cols.set(name, packColumn(list, groupStart, n));
      }
      for (let s = 0; s < n; s += batchRows) {
        const e = Math.min(n, s + batchRows);
        const base = groupStart + s;
        const slice = new Map<string, ArrayLike<unknown>>();
        for (const [k, v] of cols) slice.set(k, s === 0 && e === n ? v : sliceOf(v, s, e));
        done = base + (e - s);
        yield { rows: e - s, columns: slice, where: (r) => `${path} row ${base + r + 1}` };
      }
      groupStart += n;
    }
  }
  return { format: 'parquet', columns: names, totalRows: total, progress: () => (total ? done / total : 1), chunks, close: async () => {} };
}

/**
 * The pieces of one column of a row group as one array: a Float64Array when every value is a
 * number, a BigInt64Array when every value is a bigint (INT64), else a plain array with null for
 * missing values (which the feature filler reads as NaN for float inputs).
 */
export function packColumn(list: readonly { at: number; data: ArrayLike<unknown> }[], groupStart: number, n: number): ArrayLike<unknown> {
  if (list.length === 1 && list[0].at === groupStart && list[0].data.length === n && isTyped(list[0].data)) return list[0].data;
  const covered = list.reduce((a, p) => a + p.data.length, 0) === n;
  const first = list.find((p) => p.data.length > 0)?.data[0];
  // One pass, assuming the kind of the first value; the first value of another kind falls back to a plain array.
  if (covered && (typeof first === 'number' || typeof first === 'bigint')) {
    const nums = typeof first === 'number' ? new Float64Array(n) : undefined;
    const bigs = nums ? undefined : new BigInt64Array(n);
    let ok = true;
    for (const p of list) {
      const d = p.data;
      const base = p.at - groupStart;
      if (nums) {
        for (let i = 0; i < d.length; i++) {
          const v = d[i];
          if (typeof v !== 'number') {
            ok = false;
            break;
          }
          nums[base + i] = v;
        }
      } else
        for (let i = 0; i < d.length; i++) {
          const v = d[i];
          if (typeof v !== 'bigint') {
            ok = false;
            break;
          }
          bigs![base + i] = v;
        }
      if (!ok) break;
    }
    if (ok) return nums ?? bigs!;
  }
  const plain = new Array<unknown>(n).fill(null);
  for (const p of list)
    for (let i = 0; i < p.data.length; i++) {
      const r = p.at + i - groupStart;
      if (r >= 0 && r < n) plain[r] = p.data[i];
    }
  return plain;
}

type Sliceable = ArrayLike<unknown> & { subarray(s: number, e: number): ArrayLike<unknown> };
const isTyped = (v: ArrayLike<unknown>): v is Sliceable => ArrayBuffer.isView(v) && !(v instanceof DataView);

function sliceOf(v: ArrayLike<unknown>, s: number, e: number): ArrayLike<unknown> {
  if (isTyped(v)) return v.subarray(s, e);
  return Array.prototype.slice.call(v, s, e) as unknown[];
}

/** A decoded dataset column as plain values: numbers (NaN = null) stay a Float64Array; booleans and categories become values or null. */
export function plainColumn(c: Column): ArrayLike<unknown> {
  switch (c.type) {
    case 'numeric':
      return c.values;
    case 'boolean':
      return Array.from(c.values, (v) => (v === BOOLEAN_NULL ? null : v === 1));
    case 'categorical':
      return Array.from(c.codes, (k) => (k < 0 ? null : c.categories[k]));
    case 'string':
      return c.values;
  }
}

async function arrowReader(path: string, batchRows: number): Promise<TableReader> {
  registerArrowCodecs();
  const fh = await open(path, 'r').catch((e: unknown) => {
    throw cannotRead(path, e);
  });
  let reader: AsyncRecordBatchFileReader | AsyncRecordBatchStreamReader;
  try {
    reader = await RecordBatchReader.from(fh);
    await reader.open();
  } catch (e) {
    await fh.close().catch(() => {});
    throw new BatchPredictError(`${path}: not an Apache Arrow IPC (Feather v2) file, or a corrupt one (${(e as Error).message})`, { cause: e });
  }
  const fields = reader.schema.fields;
  const names = fields.map((f) => f.name);
  const count = reader.isFile() ? reader.numRecordBatches : 0;
  let batches = 0;
  let row = 0;
  async function* chunks(): AsyncGenerator<Chunk> {
    for await (const batch of reader as AsyncIterable<RecordBatch>) {
      batches++;
      const n = batch.numRows;
      const cols = new Map<string, ArrayLike<unknown>>();
      fields.forEach((f, j) => {
        const child = batch.getChildAt(j);
        cols.set(f.name, plainColumn(readColumn(f.name, f.type, child ? child.data : [], n, path)));
      });
      for (let s = 0; s < n; s += batchRows) {
        const e = Math.min(n, s + batchRows);
        const base = row + s;
        const slice = new Map<string, ArrayLike<unknown>>();
        for (const [k, v] of cols) slice.set(k, s === 0 && e === n ? v : sliceOf(v, s, e));
        yield { rows: e - s, columns: slice, where: (r) => `${path} row ${base + r + 1}` };
      }
      row += n;
    }
  }
  return {
    format: 'arrow',
    columns: names,
    progress: () => (count ? batches / count : 0),
    chunks,
    close: async () => {
      await reader.cancel().catch(() => {});
      await fh.close().catch(() => {});
    },
  };
}

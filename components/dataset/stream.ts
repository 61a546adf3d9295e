/**
 * The dataset in chunks: a writer that streams record batches into an Arrow IPC file and a reader
 * that yields one record batch at a time, so a step's memory is a batch, not the table.
 *
 * Batching is canonical: the writer re-cuts whatever chunks it is given into batches of exactly
 * BATCH_ROWS rows (the last one shorter), so the bytes depend on the data only, not on how a reader
 * happened to chunk its input. A dataset of at most BATCH_ROWS rows is one batch and has the very
 * bytes `encodeDataset` writes (index.ts). Categorical columns keep one dictionary for the whole
 * file (written once); every chunk must carry the same categories.
 *
 * The file is written to a temporary sibling and renamed on `close()`; `abort()` (or an error)
 * removes it, so a failed step never leaves a half-written dataset under the output name.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  AsyncByteQueue,
  Field,
  RecordBatch,
  RecordBatchFileWriter,
  RecordBatchReader,
  Schema,
  type AsyncRecordBatchFileReader,
  type AsyncRecordBatchStreamReader,
  Struct,
  makeData,
  type Vector,
} from 'apache-arrow';
import { columnVector, encodeArrow, readColumn } from './arrow.ts';
import { registerArrowCodecs } from './codecs.ts';
import { DatasetError, type Column, type ColumnType, type Dataset } from './types.ts';

/** Rows per record batch in files ghosteam writes. */
export const BATCH_ROWS = 65_536;

/** A byte sink that writes synchronously to a file descriptor and hashes what it writes. */
class FileSink extends AsyncByteQueue {
  bytes = 0;
  constructor(
    private readonly fd: number,
    private readonly hash: Hash,
  ) {
    super();
  }
  override write(value: ArrayBufferView | ArrayBuffer | string | ArrayLike<number>): void {
    const b = value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer);
    if (b.byteLength === 0) return;
    let off = 0;
    while (off < b.byteLength) off += writeSync(this.fd, b, off, b.byteLength - off);
    this.hash.update(b);
    this.bytes += b.byteLength;
  }
}

/** Rows [start, end) of a column (shares typed-array memory where it can). */
export function sliceColumn(c: Column, start: number, end: number): Column {
  switch (c.type) {
    case 'numeric':
      return { name: c.name, type: 'numeric', values: c.values.subarray(start, end) };
    case 'boolean':
      return { name: c.name, type: 'boolean', values: c.values.subarray(start, end) };
    case 'categorical':
      return { name: c.name, type: 'categorical', categories: c.categories, codes: c.codes.subarray(start, end) };
    case 'string':
      return { name: c.name, type: 'string', values: c.values.slice(start, end) };
  }
}

export function sliceDataset(ds: Dataset, start: number, end: number): Dataset {
  return { rows: end - start, columns: ds.columns.map((c) => sliceColumn(c, start, end)) };
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a === b || (a.length === b.length && a.every((x, i) => x === b[i]));

/** Concatenates chunks of one column; categorical codes are mapped into the first chunk's categories, new ones appended. */
export function concatColumns(parts: readonly Column[]): Column {
  const first = parts[0];
  const n = parts.reduce((a, c) => a + (c.type === 'categorical' ? c.codes.length : c.values.length), 0);
  if (parts.length === 1) return first;
  switch (first.type) {
    case 'numeric':
    case 'boolean': {
      const v = first.type === 'numeric' ? new Float64Array(n) : new Uint8Array(n);
      let r = 0;
      for (const c of parts) {
        const src = (c as typeof first).values;
        v.set(src, r);
        r += src.length;
      }
      return { name: first.name, type: first.type, values: v } as Column;
    }
    case 'categorical': {
      const categories = [...first.categories];
      const index = new Map(categories.map((s, i) => [s, i]));
      const codes = new Int32Array(n);
      let r = 0;
      for (const c of parts) {
        const cc = c as typeof first;
        if (sameList(cc.categories, first.categories)) codes.set(cc.codes, r);
        else {
          const map = cc.categories.map((s) => {
            let k = index.get(s);
            if (k === undefined) index.set(s, (k = categories.push(s) - 1));
            return k;
          });
          for (let i = 0; i < cc.codes.length; i++) codes[r + i] = cc.codes[i] < 0 ? -1 : map[cc.codes[i]];
        }
        r += cc.codes.length;
      }
      return { name: first.name, type: 'categorical', categories, codes };
    }
    case 'string': {
      const values: (string | null)[] = new Array(n);
      let r = 0;
      for (const c of parts) for (const x of (c as typeof first).values) values[r++] = x;
      return { name: first.name, type: 'string', values };
    }
  }
}

export function concatDatasets(parts: readonly Dataset[]): Dataset {
  if (parts.length === 1) return parts[0];
  if (parts.length === 0) return { rows: 0, columns: [] };
  return {
    rows: parts.reduce((a, p) => a + p.rows, 0),
    columns: parts[0].columns.map((_, j) => concatColumns(parts.map((p) => p.columns[j]))),
  };
}

export interface ColumnSchema {
  readonly name: string;
  readonly type: ColumnType;
  readonly categories?: readonly string[];
}

export function schemaOf(ds: Dataset): ColumnSchema[] {
  return ds.columns.map((c) => (c.type === 'categorical' ? { name: c.name, type: c.type, categories: c.categories } : { name: c.name, type: c.type }));
}

/**
 * Streams chunks into an Arrow IPC dataset file. `write` takes chunks of any size with the same
 * columns; `close` returns the content digest ('sha256:…') once the file is in place.
 */
export class DatasetWriter {
  private readonly tmp: string;
  private readonly fd: number;
  private readonly hash = createHash('sha256');
  private readonly sink: FileSink;
  private writer: RecordBatchFileWriter | undefined;
  private schema: ColumnSchema[] | undefined;
  private arrowSchema: Schema | undefined;
  private readonly dictionaries = new Map<number, Vector>();
  private pending: Dataset[] = [];
  private pendingRows = 0;
  private done = false;
  /** Rows written so far (pending ones included). */
  rows = 0;

  constructor(
    readonly path: string,
    private readonly batchRows = BATCH_ROWS,
  ) {
    this.tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
    this.fd = openSync(this.tmp, 'w');
    this.sink = new FileSink(this.fd, this.hash);
  }

  write(chunk: Dataset): void {
    if (this.done) throw new DatasetError(`${this.path}: write after close`, this.path);
    if (!this.schema) this.schema = schemaOf(chunk);
    else this.checkChunk(chunk);
    if (chunk.rows === 0) return;
    this.rows += chunk.rows;
    this.pending.push(chunk);
    this.pendingRows += chunk.rows;
    while (this.pendingRows >= this.batchRows) this.flush(this.batchRows);
  }

  private checkChunk(chunk: Dataset): void {
    const s = this.schema!;
    const bad = chunk.columns.length !== s.length || chunk.columns.some((c, j) => c.name !== s[j].name || c.type !== s[j].type);
    if (bad)
      throw new DatasetError(
        `${this.path}: a chunk's columns (${chunk.columns.map((c) => `${c.name}:${c.type}`).join(', ')}) differ from the first chunk's (${s.map((c) => `${c.name}:${c.type}`).join(', ')})`,
        this.path,
      );
    chunk.columns.forEach((c, j) => {
      if (c.type === 'categorical' && !sameList(c.categories, s[j].categories!))
        throw new DatasetError(
          `${this.path}: column '${c.name}' changes its categories between chunks; a dataset file has one dictionary per column`,
          this.path,
        );
    });
  }

  /** Writes one batch of the first `n` pending rows. */
  private flush(n: number): void {
    const parts: Dataset[] = [];
    let need = n;
    while (need > 0) {
      const head = this.pending[0];
      if (head.rows <= need) {
        parts.push(head);
        this.pending.shift();
        need -= head.rows;
      } else {
        parts.push(sliceDataset(head, 0, need));
        this.pending[0] = sliceDataset(head, need, head.rows);
        need = 0;
      }
    }
    this.pendingRows -= n;
    const batch = concatDatasets(parts);
    const vectors = batch.columns.map((c, j) => {
      const v = columnVector(c, j, n, this.dictionaries.get(j));
      if (c.type === 'categorical' && !this.dictionaries.has(j)) this.dictionaries.set(j, v.data[0].dictionary!);
      return v;
    });
    if (!this.arrowSchema) this.arrowSchema = new Schema(batch.columns.map((c, j) => new Field(c.name, vectors[j].type, true)));
    if (!this.writer) {
      this.writer = new RecordBatchFileWriter();
      this.writer.reset(this.sink, this.arrowSchema);
    }
    const data = makeData({ type: new Struct(this.arrowSchema.fields), length: n, nullCount: 0, children: vectors.map((v) => v.data[0]) });
    this.writer.write(new RecordBatch(this.arrowSchema, data));
  }

  /** Finishes the file, moves it into place and returns its digest. */
  async close(): Promise<string> {
    if (this.done) throw new DatasetError(`${this.path}: closed twice`, this.path);
    try {
      if (this.pendingRows > 0) this.flush(this.pendingRows);
      if (!this.writer) {
        // No rows: the same bytes encodeDataset writes for an empty dataset.
        const empty: Dataset = { rows: 0, columns: (this.schema ?? []).map((c) => emptyColumn(c)) };
        this.sink.write(encodeArrow(empty));
      } else this.writer.close();
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.done = true;
      renameSync(this.tmp, this.path);
    } catch (err) {
      this.abort();
      throw err;
    }
    return 'sha256:' + this.hash.digest('hex');
  }

  /** Drops the temporary file; the output path is left as it was. */
  abort(): void {
    if (!this.done) {
      this.done = true;
      try {
        closeSync(this.fd);
      } catch {
        /* already closed */
      }
    }
    rmSync(this.tmp, { force: true });
  }
}

function emptyColumn(c: ColumnSchema): Column {
  switch (c.type) {
    case 'numeric':
      return { name: c.name, type: 'numeric', values: new Float64Array(0) };
    case 'boolean':
      return { name: c.name, type: 'boolean', values: new Uint8Array(0) };
    case 'categorical':
      return { name: c.name, type: 'categorical', categories: c.categories ?? [], codes: new Int32Array(0) };
    case 'string':
      return { name: c.name, type: 'string', values: [] };
  }
}

/** Writes chunks (sync or async iterable) to `path`; on any error the output is not created. */
export async function writeDatasetChunks(path: string, chunks: Iterable<Dataset> | AsyncIterable<Dataset>): Promise<{ digest: string; rows: number }> {
  const w = new DatasetWriter(path);
  try {
    for await (const c of chunks) w.write(c);
  } catch (err) {
    w.abort();
    throw err;
  }
  const digest = await w.close();
  return { digest, rows: w.rows };
}

/**
 * Reads a dataset file one record batch at a time (Arrow IPC file or stream, as pandas/pyarrow
 * write them too). Each chunk is a Dataset of that batch's rows; `offset` is its first row.
 */
export async function* readDatasetChunks(path: string, opts: { columns?: readonly string[] } = {}): AsyncGenerator<Dataset & { offset: number }> {
  registerArrowCodecs();
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new DatasetError(`cannot read dataset ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, path, { cause: err });
  }
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await handle.read(head, 0, 8, 0);
    if (bytesRead >= 4 && head.subarray(0, 4).toString('latin1') === 'GTDS')
      throw new DatasetError(
        `${path}: is a GTDS dataset, the format ghosteam used before Apache Arrow; re-run the step that wrote it or convert the source data with the ingest component`,
        path,
      );
    const isFile = bytesRead >= 6 && head.subarray(0, 6).toString('latin1') === 'ARROW1';
    const isStream = bytesRead >= 4 && head.readUInt32LE(0) === 0xffffffff;
    if (!isFile && !isStream)
      throw new DatasetError(
        `${path}: not an Apache Arrow IPC (Feather v2) file; produce it with the ingest component, writeDataset(), or pandas' df.to_feather(path)`,
        path,
      );
    let reader: AsyncRecordBatchFileReader | AsyncRecordBatchStreamReader;
    try {
      reader = (await (RecordBatchReader.from as (x: unknown) => Promise<unknown>)(handle)) as AsyncRecordBatchFileReader | AsyncRecordBatchStreamReader;
      await reader.open();
    } catch (err) {
      throw new DatasetError(`${path}: the Arrow file is corrupt or truncated (${(err as Error).message})`, path, { cause: err });
    }
    const fields = reader.schema.fields;
    const keep = opts.columns
      ? opts.columns.map((n) => {
          const j = fields.findIndex((f) => f.name === n);
          if (j < 0) throw new DatasetError(`${path}: has no column '${n}'; its columns are: ${fields.map((f) => f.name).join(', ')}`, path);
          return j;
        })
      : fields.map((_, j) => j);
    let offset = 0;
    const it = reader[Symbol.asyncIterator]();
    for (;;) {
      let r;
      try {
        r = await it.next();
      } catch (err) {
        const msg = (err as Error).message;
        throw new DatasetError(
          /compression|codec/i.test(msg)
            ? `${path}: the Arrow file is compressed with a codec ghosteam cannot read (${msg}); write it uncompressed, LZ4 or ZSTD`
            : `${path}: the Arrow file is corrupt or truncated after row ${offset} (${msg})`,
          path,
          { cause: err },
        );
      }
      if (r.done) break;
      const batch = r.value;
      const n = batch.numRows;
      const columns = keep.map((j) => readColumn(fields[j].name, fields[j].type, [batch.data.children[j]], n, path));
      yield { rows: n, columns, offset };
      offset += n;
    }
    // No batches (an empty dataset): one empty chunk, so readers still see the columns.
    if (offset === 0) yield { rows: 0, columns: keep.map((j) => readColumn(fields[j].name, fields[j].type, [], 0, path)), offset: 0 };
  } finally {
    await handle.close();
  }
}

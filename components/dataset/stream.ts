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
import { closeSync, fdatasync, fsync, openSync, renameSync, rmSync, writeSync, writev } from 'node:fs';
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
import { batchBuffers } from './pool.ts';
import { DatasetError, type Column, type ColumnType, type Dataset } from './types.ts';

/** Rows per record batch in files ghosteam writes. */
export const BATCH_ROWS = 65_536;

/** Bytes queued before a write is issued to the file (one writev). */
const ISSUE_BYTES = 4 << 20;
/** Bytes queued beyond the write in flight before `write` writes them itself, synchronously (bounds memory). */
const HIGH_WATER_BYTES = 32 << 20;
/** Bytes written between background fdatasyncs, so the disk works while the data is produced and the last fsync is short. */
const SYNC_EVERY_BYTES = 256 << 20;
/** Pieces smaller than this are copied when queued (the Arrow writer's small metadata buffers); larger ones are the batch's own fresh arrays. */
const COPY_BELOW = 64 << 10;
/** The most buffers one writev takes (IOV_MAX on Linux). */
const MAX_IOV = 1024;
/**
 * The most bytes one write system call takes. A buffered write lets the kernel put the file's new
 * page-cache memory in folios as large as the write (Linux 6.x, ext4/xfs large folios); in VMs
 * whose freed high-order memory goes back to the host (virtio-balloon free page reporting, as
 * Firecracker does), each such folio's first touch is a host fault. Measured on this project's CI
 * VM (Linux 6.18, ext4), a new 1.4 GB file: 4 MiB writes cost 9–13 s of kernel CPU, 1 MiB writes
 * 3.1–3.6 s, 64–512 KiB writes 0.42–0.49 s. Elsewhere the cap costs a few thousand more syscalls
 * per GB, a few milliseconds.
 */
export const WRITE_SYSCALL_BYTES = 512 << 10;

/**
 * Splits buffers into writev groups in order: each group at most `maxBytes` bytes and `maxIov`
 * buffers, a buffer larger than the space left cut into views. Concatenated, the groups are the
 * input's bytes.
 */
export function writeGroups(bufs: readonly Uint8Array[], maxBytes = WRITE_SYSCALL_BYTES, maxIov = MAX_IOV): Uint8Array[][] {
  const groups: Uint8Array[][] = [];
  let group: Uint8Array[] = [];
  let room = maxBytes;
  for (const b of bufs) {
    let off = 0;
    while (off < b.byteLength) {
      if (room === 0 || group.length === maxIov) {
        groups.push(group);
        group = [];
        room = maxBytes;
      }
      const take = Math.min(room, b.byteLength - off);
      group.push(off === 0 && take === b.byteLength ? b : b.subarray(off, off + take));
      off += take;
      room -= take;
    }
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * A byte sink that hashes what it is given in order and writes it to the file off the main thread:
 * pieces are queued and written with positioned writevs on libuv's thread pool (one in flight),
 * fdatasync runs in the background every SYNC_EVERY_BYTES, so building the next record batch
 * overlaps writing the last. When more than HIGH_WATER_BYTES wait, `write` writes them
 * synchronously (positioned, so the order of bytes in the file is the order given). The bytes and
 * the digest are the same as writing synchronously. A written piece that is a whole buffer of the
 * batch pool (pool.ts; ingest's column arrays) goes back to the pool for the next batch.
 */
class FileSink extends AsyncByteQueue {
  /** Bytes given so far (the file's length once flushed). */
  bytes = 0;
  private queue: Uint8Array[] = [];
  private queued = 0;
  /** File position of the first queued byte. */
  private queueAt = 0;
  /** Operations on the fd in flight (a writev, an fdatasync). */
  private pending = 0;
  private writing = false;
  private syncing = false;
  private syncedUpTo = 0;
  private written = 0;
  private failed: Error | undefined;
  private idle: (() => void)[] = [];
  private closeWhenIdle = false;
  constructor(
    private readonly fd: number,
    private readonly hash: Hash,
  ) {
    super();
  }
  override write(value: ArrayBufferView | ArrayBuffer | string | ArrayLike<number>): void {
    if (this.failed) throw this.failed;
    let b =
      value instanceof Uint8Array
        ? value
        : ArrayBuffer.isView(value)
          ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
          : new Uint8Array(value as ArrayBuffer);
    if (b.byteLength === 0) return;
    this.hash.update(b);
    if (b.byteLength < COPY_BELOW) b = Uint8Array.prototype.slice.call(b);
    this.queue.push(b);
    this.queued += b.byteLength;
    this.bytes += b.byteLength;
    if (this.queued >= HIGH_WATER_BYTES) this.writeQueuedSync();
    else if (this.queued >= ISSUE_BYTES) this.issue();
  }
  /** Takes the queue: its buffers and the file position they go to. */
  private take(): { bufs: Uint8Array[]; at: number; n: number } {
    const bufs = this.queue;
    const at = this.queueAt;
    const n = this.queued;
    this.queue = [];
    this.queueAt += n;
    this.queued = 0;
    return { bufs, at, n };
  }
  private writeQueuedSync(): void {
    let { bufs, at } = this.take();
    for (const b of bufs) {
      let off = 0;
      while (off < b.byteLength) off += writeSync(this.fd, b, off, Math.min(b.byteLength - off, WRITE_SYSCALL_BYTES), at + off);
      at += b.byteLength;
    }
    recycle(bufs);
  }
  private issue(): void {
    if (this.writing || this.queued === 0 || this.failed) return;
    const { bufs, at, n } = this.take();
    const groups = writeGroups(bufs);
    this.writing = true;
    this.pending++;
    const step = (i: number, pos: number): void => {
      const part = groups[i];
      writev(this.fd, part, pos, (err, wrote) => {
        const want = part.reduce((x, y) => x + y.byteLength, 0);
        if (!err && wrote < want) {
          // A short write (rare for a regular file): the rest synchronously, in place.
          try {
            let skip = wrote;
            let p = pos + wrote;
            for (const buf of part) {
              if (skip >= buf.byteLength) {
                skip -= buf.byteLength;
                continue;
              }
              const rest = buf.subarray(skip);
              skip = 0;
              let off = 0;
              while (off < rest.byteLength) off += writeSync(this.fd, rest, off, rest.byteLength - off, p + off);
              p += rest.byteLength;
            }
          } catch (e) {
            err = e as NodeJS.ErrnoException;
          }
        }
        if (!err && i + 1 < groups.length && !this.closeWhenIdle) return step(i + 1, pos + want);
        if (err) this.failed ??= err;
        else {
          this.written += n;
          recycle(bufs);
        }
        this.writing = false;
        this.settle();
        if (this.closeWhenIdle) return;
        this.backgroundSync();
        this.issue();
      });
    };
    step(0, at);
  }
  private backgroundSync(): void {
    if (this.syncing || this.failed || this.written - this.syncedUpTo < SYNC_EVERY_BYTES) return;
    const upTo = this.written;
    this.syncing = true;
    this.pending++;
    fdatasync(this.fd, (err) => {
      if (err) this.failed ??= err;
      else this.syncedUpTo = upTo;
      this.syncing = false;
      this.settle();
    });
  }
  /** One operation ended: wakes `flush`, or closes the fd of an aborted writer. */
  private settle(): void {
    this.pending--;
    if (this.pending > 0) return;
    if (this.closeWhenIdle) {
      try {
        closeSync(this.fd);
      } catch {
        /* already closed */
      }
    }
    for (const f of this.idle.splice(0)) f();
  }
  /** Writes everything given and waits for it (not fsynced); rejects with the first write error. */
  async flush(): Promise<void> {
    for (;;) {
      if (this.failed) throw this.failed;
      if (this.pending === 0 && this.queued === 0) return;
      if (this.pending === 0) this.issue();
      await new Promise<void>((resolve) => this.idle.push(resolve));
    }
  }
  /**
   * Stops writing; closes the fd now, or once the operation in flight ends (closing earlier could
   * let a new file reuse the number under it).
   */
  discard(): void {
    this.queue = [];
    this.queued = 0;
    this.failed ??= new Error('the dataset writer was aborted');
    this.closeWhenIdle = true;
    if (this.pending === 0) {
      this.pending = 1;
      this.settle();
    }
  }
}

/** Written pieces that are whole buffers of the batch pool go back to it (pool.ts). */
function recycle(bufs: readonly Uint8Array[]): void {
  for (const b of bufs) if (b.byteLength >= COPY_BELOW && batchBuffers.owns(b)) batchBuffers.give(b.buffer);
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
  /** Per pending chunk: handed over by the caller (its arrays may be rewritten in place). */
  private owned: boolean[] = [];
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

  /**
   * Takes a chunk. `give`: the chunk is the writer's from now on (the caller never reads or writes
   * its arrays again), so the writer turns them into the file's buffers without copying.
   */
  write(chunk: Dataset, give = false): void {
    if (this.done) throw new DatasetError(`${this.path}: write after close`, this.path);
    if (!this.schema) this.schema = schemaOf(chunk);
    else this.checkChunk(chunk);
    if (chunk.rows === 0) return;
    this.rows += chunk.rows;
    this.pending.push(chunk);
    this.owned.push(give);
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
    let owned = true;
    while (need > 0) {
      const head = this.pending[0];
      owned &&= this.owned[0];
      if (head.rows <= need) {
        parts.push(head);
        this.pending.shift();
        this.owned.shift();
        need -= head.rows;
      } else {
        parts.push(sliceDataset(head, 0, need));
        this.pending[0] = sliceDataset(head, need, head.rows);
        need = 0;
      }
    }
    this.pendingRows -= n;
    const batch = concatDatasets(parts);
    // Concatenated columns are new arrays: the writer's own.
    const inPlace = owned || parts.length > 1;
    const vectors = batch.columns.map((c, j) => {
      const v = columnVector(c, j, n, this.dictionaries.get(j), inPlace);
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
      await this.sink.flush();
      await new Promise<void>((resolve, reject) => fsync(this.fd, (err) => (err ? reject(err) : resolve())));
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
      this.sink.discard();
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

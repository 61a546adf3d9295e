/**
 * Streaming table writers for batch prediction (CSV, JSON Lines, Parquet through hyparquet-writer,
 * Arrow IPC file through apache-arrow), each writing a chunk at a time into a temporary file beside
 * the output. `commit()` fsyncs it and renames it over the output (atomic on one file system);
 * `abort()` removes it. So the output path holds either nothing (or the previous file, with
 * --overwrite) or the whole new file: never a half-written one, whether the run fails or is killed.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import {
  Bool,
  Field,
  Float32,
  Float64,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  RecordBatchFileWriter,
  Schema,
  Struct,
  Utf8,
  vectorFromArray,
  type Data,
  type DataType,
} from 'apache-arrow';
import { fileWriter, ParquetWriter, schemaFromColumnData } from 'hyparquet-writer';
import type { TableFormat } from './plan.ts';
import { recordsEnd } from './readers.ts';

/** The value kind of an output column, fixed at the first chunk. */
export type ColumnKind = 'float32' | 'float64' | 'int32' | 'int64' | 'bool' | 'string';

export interface ColumnSpec {
  readonly name: string;
  readonly kind: ColumnKind;
}

/** Rows to write: one values array per column, in the specs' order. */
export interface OutChunk {
  readonly rows: number;
  readonly values: readonly ArrayLike<unknown>[];
}

export interface TableWriter {
  /** The temporary file being written. */
  readonly tempPath: string;
  write(chunk: OutChunk): Promise<void>;
  /**
   * Text formats (CSV, JSON Lines): appends a file this writer's format wrote before (a resumable
   * run's finished chunk), without its header line. Bytes are copied as they are.
   */
  appendFile?(path: string): Promise<void>;
  /** Finishes the file (lineage goes into Parquet key-value metadata) and fsyncs it; the caller then calls commit(). */
  finish(metadata: Readonly<Record<string, string>>): Promise<void>;
  /** Renames the finished temporary file over the output. */
  commit(): Promise<void>;
  /** Removes the temporary file (idempotent). */
  abort(): Promise<void>;
}

/** A fresh temporary name beside `path` (same directory, so the rename is atomic). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

/** The kind of a kept input column from its values (typed arrays and the first non-null value). */
export function kindOf(values: ArrayLike<unknown>): ColumnKind {
  if (values instanceof Float64Array) return 'float64';
  if (values instanceof Float32Array) return 'float32';
  if (values instanceof BigInt64Array) return 'int64';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    if (typeof v === 'number') return 'float64';
    if (typeof v === 'boolean') return 'bool';
    if (typeof v === 'bigint') return 'int64';
    return 'string';
  }
  return 'string';
}

function csvCell(v: unknown, delimiter: string): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return v === v ? (v === Infinity ? 'inf' : v === -Infinity ? '-inf' : String(v)) : '';
  if (typeof v === 'string') {
    if (v.includes('"') || v.includes(delimiter) || v.includes('\n') || v.includes('\r')) return `"${v.replace(/"/g, '""')}"`;
    return v;
  }
  return String(v);
}

function jsonCell(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return v === v && v !== Infinity && v !== -Infinity ? String(v) : 'null';
  if (typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v);
}

/** Row-oriented text (CSV, JSON Lines) through one file handle. */
async function textWriter(
  path: string,
  specs: readonly ColumnSpec[],
  head: string,
  headerRecords: number,
  line: (values: readonly ArrayLike<unknown>[], r: number, specs: readonly ColumnSpec[]) => string,
): Promise<TableWriter> {
  const tempPath = tempPathFor(path);
  const fh: FileHandle = await open(tempPath, 'wx', 0o644);
  let closed = false;
  if (head) await fh.write(head);
  return {
    tempPath,
    async write(chunk) {
      const parts: string[] = [];
      let s = '';
      for (let r = 0; r < chunk.rows; r++) {
        s += line(chunk.values, r, specs);
        if (s.length > 1 << 20) {
          parts.push(s);
          s = '';
        }
      }
      parts.push(s);
      for (const p of parts) await fh.write(p);
    },
    async appendFile(from) {
      let skip = headerRecords;
      let head = Buffer.alloc(0);
      for await (const buf of createReadStream(from, { highWaterMark: 1 << 20 })) {
        if (skip === 0) {
          await fh.write(buf as Buffer);
          continue;
        }
        head = Buffer.concat([head, buf as Buffer]);
        const text = head.toString('utf8');
        const cut = recordsEnd(text, 0, skip);
        if (cut.records < skip) continue;
        skip = 0;
        // The header ends at a newline, so the bytes before it are whole characters.
        await fh.write(head.subarray(Buffer.byteLength(text.slice(0, cut.end))));
      }
      if (skip !== 0) throw new Error(`${from} ends inside its header`);
    },
    async finish() {
      await fh.datasync();
      await fh.close();
      closed = true;
    },
    commit: () => rename(tempPath, path),
    async abort() {
      if (!closed) await fh.close().catch(() => {});
      closed = true;
      await unlink(tempPath).catch(() => {});
    },
  };
}

function csvWriter(path: string, specs: readonly ColumnSpec[], delimiter: string): Promise<TableWriter> {
  const head = specs.map((s) => csvCell(s.name, delimiter)).join(delimiter) + '\n';
  return textWriter(path, specs, head, 1, (values, r) => {
    let s = '';
    for (let c = 0; c < values.length; c++) s += (c ? delimiter : '') + csvCell(values[c][r], delimiter);
    return s + '\n';
  });
}

function jsonlWriter(path: string, specs: readonly ColumnSpec[]): Promise<TableWriter> {
  const keys = specs.map((s, c) => (c ? ',' : '{') + JSON.stringify(s.name) + ':');
  return textWriter(path, specs, '', 0, (values, r) => {
    let s = '';
    for (let c = 0; c < values.length; c++) s += keys[c] + jsonCell(values[c][r]);
    return s + '}\n';
  });
}

const PARQUET_TYPE: Record<ColumnKind, 'FLOAT' | 'DOUBLE' | 'INT32' | 'INT64' | 'BOOLEAN' | 'STRING'> = {
  float32: 'FLOAT',
  float64: 'DOUBLE',
  int32: 'INT32',
  int64: 'INT64',
  bool: 'BOOLEAN',
  string: 'STRING',
};

/** Values as hyparquet-writer takes them: NaN and undefined become null (a missing value). */
function parquetValues(kind: ColumnKind, v: ArrayLike<unknown>, rows: number): unknown[] | ArrayLike<unknown> {
  // Typed arrays without missing values go as they are (no boxed copy).
  if (kind === 'int64' && v instanceof BigInt64Array) return v.length === rows ? v : v.subarray(0, rows);
  if ((kind === 'float64' && v instanceof Float64Array) || (kind === 'float32' && v instanceof Float32Array)) {
    const t = v.length === rows ? v : v.subarray(0, rows);
    let nan = false;
    for (let i = 0; i < rows; i++)
      if (t[i] !== t[i]) {
        nan = true;
        break;
      }
    if (!nan) return t;
  }
  if (kind === 'float32' || kind === 'float64') {
    const out = new Array<number | null>(rows);
    for (let i = 0; i < rows; i++) {
      const x = v[i] as number | null | undefined;
      out[i] = typeof x === 'number' && x === x ? x : null;
    }
    return out;
  }
  if (kind === 'int64') return Array.from({ length: rows }, (_, i) => (v[i] === null || v[i] === undefined ? null : BigInt(v[i] as number | bigint)));
  if (kind === 'int32') return Array.from({ length: rows }, (_, i) => (v[i] === null || v[i] === undefined ? null : Number(v[i])));
  if (kind === 'bool') return Array.from({ length: rows }, (_, i) => (v[i] === null || v[i] === undefined ? null : Boolean(v[i])));
  if (Array.isArray(v) && v.length === rows) {
    let plain = true;
    for (let i = 0; i < rows && plain; i++) plain = typeof v[i] === 'string' || v[i] === null;
    if (plain) return v;
  }
  return Array.from({ length: rows }, (_, i) => (v[i] === null || v[i] === undefined ? null : String(v[i])));
}

async function parquetWriter(path: string, specs: readonly ColumnSpec[]): Promise<TableWriter> {
  const tempPath = tempPathFor(path);
  // Create it exclusively first (a clash with another run's temp file is an error, not a shared file).
  await (await open(tempPath, 'wx', 0o644)).close();
  const schema = schemaFromColumnData({ columnData: specs.map((s) => ({ name: s.name, data: [], type: PARQUET_TYPE[s.kind], nullable: true })) });
  const pw = new ParquetWriter({ writer: fileWriter(tempPath), schema, createdBy: 'ghosteam predict' });
  return {
    tempPath,
    async write(chunk) {
      await pw.write({
        columnData: specs.map((s, c) => ({
          name: s.name,
          data: parquetValues(s.kind, chunk.values[c], chunk.rows) as unknown[],
          // Numbers go uncompressed: model outputs are close to random bits and ids are distinct, so
          // snappy (in JavaScript) saves little and cost a third of the writer's time; float outputs'
          // min/max statistics prune nothing either. Strings (labels) keep snappy and dictionaries.
          ...(s.kind === 'float32' || s.kind === 'float64'
            ? { codec: 'UNCOMPRESSED' as const, statistics: false }
            : s.kind === 'int64' || s.kind === 'int32'
              ? { codec: 'UNCOMPRESSED' as const }
              : {}),
        })),
        rowGroupSize: chunk.rows || 1,
      });
    },
    async finish(metadata) {
      pw.kvMetadata = Object.entries(metadata).map(([key, value]) => ({ key, value }));
      await pw.finish();
      const fh = await open(tempPath, 'r+');
      await fh.datasync();
      await fh.close();
    },
    commit: () => rename(tempPath, path),
    abort: () => unlink(tempPath).catch(() => {}),
  };
}

const ARROW_TYPE: Record<ColumnKind, () => DataType> = {
  float32: () => new Float32(),
  float64: () => new Float64(),
  int32: () => new Int32(),
  int64: () => new Int64(),
  bool: () => new Bool(),
  string: () => new Utf8(),
};

function arrowData(kind: ColumnKind, type: DataType, v: ArrayLike<unknown>, rows: number): Data {
  if (kind === 'float32' || kind === 'float64') {
    const data = kind === 'float32' ? new Float32Array(rows) : new Float64Array(rows);
    const bitmap = new Uint8Array((rows + 7) >> 3);
    let nulls = 0;
    for (let i = 0; i < rows; i++) {
      const x = v[i] as number | null;
      if (typeof x === 'number' && x === x) {
        data[i] = x;
        bitmap[i >> 3] |= 1 << (i & 7);
      } else nulls++;
    }
    return makeData({ type: type as Float64, length: rows, nullCount: nulls, nullBitmap: nulls ? bitmap : undefined, data: data as Float64Array });
  }
  if (kind === 'int64' && v instanceof BigInt64Array) return makeData({ type: type as Int64, length: rows, data: v.subarray(0, rows) });
  const arr = parquetValues(kind, v, rows) as unknown[];
  return vectorFromArray(arr, type).data[0];
}

async function arrowWriter(path: string, specs: readonly ColumnSpec[], metadata: ReadonlyMap<string, string>): Promise<TableWriter> {
  const tempPath = tempPathFor(path);
  const out = createWriteStream(tempPath, { flags: 'wx', mode: 0o644 });
  await new Promise<void>((resolve, reject) => {
    out.once('open', () => resolve());
    out.once('error', reject);
  });
  const schema = new Schema(
    specs.map((s) => new Field(s.name, ARROW_TYPE[s.kind](), true)),
    new Map(metadata),
  );
  const w = new RecordBatchFileWriter();
  const piped = pipeline(w.toNodeStream(), out);
  piped.catch(() => {}); // awaited in finish; abort doesn't care
  w.reset(undefined, schema);
  return {
    tempPath,
    async write(chunk) {
      const children = specs.map((s, c) => arrowData(s.kind, schema.fields[c].type, chunk.values[c], chunk.rows));
      w.write(new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: chunk.rows, nullCount: 0, children })));
      // Let the bytes drain to the file before the next chunk (bounded memory).
      if (out.writableLength > 1 << 24) await new Promise<void>((r) => out.once('drain', () => r()));
    },
    async finish() {
      w.finish();
      await piped;
      const fh = await open(tempPath, 'r+');
      await fh.datasync();
      await fh.close();
    },
    commit: () => rename(tempPath, path),
    async abort() {
      // Finish the stream rather than destroy it under apache-arrow's writer (whose reader then
      // rejects with a premature close nobody awaits); the file is removed either way.
      try {
        w.finish();
        await piped;
      } catch {
        out.destroy();
      }
      await unlink(tempPath).catch(() => {});
    },
  };
}

/**
 * Opens a writer for `format` into a temporary file beside `path`. `metadata` goes into an Arrow
 * file's schema up front; Parquet gets its metadata at finish (it sits in the footer).
 */
export function openWriter(
  path: string,
  format: TableFormat,
  specs: readonly ColumnSpec[],
  opts: { delimiter?: string; metadata?: ReadonlyMap<string, string> } = {},
): Promise<TableWriter> {
  switch (format) {
    case 'csv':
      return csvWriter(path, specs, opts.delimiter ?? (/\.tsv$/i.test(path) ? '\t' : ','));
    case 'jsonl':
      return jsonlWriter(path, specs);
    case 'parquet':
      return parquetWriter(path, specs);
    case 'arrow':
      return arrowWriter(path, specs, opts.metadata ?? new Map());
  }
}

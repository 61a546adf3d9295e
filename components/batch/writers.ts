/**
 * Streaming table writers for batch prediction (CSV, JSON Lines, Parquet through DuckDB, Arrow IPC
 * file through apache-arrow), each writing a chunk at a time into a temporary file beside
 * the output. `commit()` fsyncs it and renames it over the output (atomic on one file system);
 * `abort()` removes it. So the output path holds either nothing (or the previous file, with
 * --overwrite) or the whole new file: never a half-written one, whether the run fails or is killed.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
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
import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  DuckDBDataChunk,
  DuckDBInstance,
  FLOAT,
  INTEGER,
  VARCHAR,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBType,
} from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import type { TableFormat } from './plan.ts';
import { recordsEnd } from './readers.ts';

/** The value kind of an output column, fixed at the first chunk. */
export type ColumnKind = 'float32' | 'float64' | 'int32' | 'int64' | 'bool' | 'string';

export interface ColumnSpec {
  readonly name: string;
  readonly kind: ColumnKind;
  /**
   * A string column's closed set of values (a classifier's class labels): the Parquet writer keeps
   * each value as its index while it appends (DuckDB's ENUM) and writes the strings.
   */
  readonly labels?: readonly string[];
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

/**
 * A float32 value as the shortest decimal that reads back as the same float32 (as numpy and DuckDB
 * print a float32: 1.0000001, not the float64 widening 1.0000001192092896). Digits are tried from
 * one up: the value rounded to p significant digits by scaling with an exact power of ten (one
 * correctly rounded multiply or divide gives the double nearest that decimal, which String prints
 * with those digits), kept at the first p that reads back; about 1.5× String(v), where the same
 * search through toPrecision costs 4×. Far from 1 (a power of ten past 10^22 is inexact) it
 * searches with toPrecision, down from 8 digits: a correctly rounded decimal of more digits is never
 * further away.
 */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
export function float32Text(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 16777216) return String(v);
  const a = Math.abs(v);
  const e = Math.floor(Math.log10(a));
  for (let p = 1; p <= 9; p++) {
    const k = p - 1 - e;
    if (k > 22 || k < -22) break;
    const d = k >= 0 ? Math.round(a * POW10[k]) / POW10[k] : Math.round(a / POW10[-k]) * POW10[-k];
    if (Math.fround(d) === a) return v < 0 ? `-${String(d)}` : String(d);
  }
  let s = v.toPrecision(8);
  if (Math.fround(Number(s)) !== v) return String(Number(v.toPrecision(9)));
  for (let p = 7; p >= 1; p--) {
    const t = v.toPrecision(p);
    if (Math.fround(Number(t)) !== v) break;
    s = t;
  }
  return String(Number(s));
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
    for (let c = 0; c < values.length; c++) {
      const col = values[c];
      s += (c ? delimiter : '') + (col instanceof Float32Array && Number.isFinite(col[r]) ? float32Text(col[r]) : csvCell(col[r], delimiter));
    }
    return s + '\n';
  });
}

function jsonlWriter(path: string, specs: readonly ColumnSpec[]): Promise<TableWriter> {
  const keys = specs.map((s, c) => (c ? ',' : '{') + JSON.stringify(s.name) + ':');
  return textWriter(path, specs, '', 0, (values, r) => {
    let s = '';
    for (let c = 0; c < values.length; c++) {
      const col = values[c];
      s += keys[c] + (col instanceof Float32Array && Number.isFinite(col[r]) ? float32Text(col[r]) : jsonCell(col[r]));
    }
    return s + '}\n';
  });
}

/** Values as apache-arrow's vectorFromArray takes them: NaN and undefined become null (a missing value). */
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

const DUCK_TYPE: Record<ColumnKind, DuckDBType> = {
  float32: FLOAT,
  float64: DOUBLE,
  int32: INTEGER,
  int64: BIGINT,
  bool: BOOLEAN,
  string: VARCHAR,
};

/** DuckDB's vector size: the rows of one appended data chunk. */
const VECTOR_ROWS = 2048;

/** Bytes per value of a fixed-width kind in a DuckDB vector. */
const WIDTH: Record<Exclude<ColumnKind, 'string'>, number> = { float32: 4, float64: 8, int32: 4, int64: 8, bool: 1 };

/**
 * Fills `vec` (a DuckDB vector of `kind`) with rows [at, at + n) of `v`. Typed arrays of the
 * column's own type without missing values are copied as they are; anything else goes through a
 * scratch array with a validity mask (NaN, null and undefined are missing values).
 */
function fillVector(kind: ColumnKind, vec: duckdb.Vector, v: ArrayLike<unknown>, at: number, n: number, scratch: Scratch, codes?: Codes): void {
  if (codes) {
    // Codes already (labelCodesApply): copied as they are.
    if (ArrayBuffer.isView(v) && v.constructor === codes.scratch.constructor) {
      const t = v as Uint8Array | Uint16Array | Uint32Array;
      duckdb.copy_data_to_vector(vec, 0, t.buffer as ArrayBuffer, t.byteOffset + at * t.BYTES_PER_ELEMENT, n * t.BYTES_PER_ELEMENT);
      return;
    }
    const valid = scratch.valid.fill(0xff);
    let missing = false;
    const out = codes.scratch;
    for (let i = 0; i < n; i++) {
      const x = v[at + i];
      if (x === null || x === undefined) {
        valid[i >> 3] &= ~(1 << (i & 7));
        missing = true;
        continue;
      }
      const code = codes.index.get(x as string);
      if (code === undefined) throw new Error(`'${String(x)}' is not one of the column's labels (${[...codes.index.keys()].join(', ')})`);
      out[i] = code;
    }
    duckdb.copy_data_to_vector(vec, 0, out.buffer as ArrayBuffer, 0, n * out.BYTES_PER_ELEMENT);
    if (missing) {
      duckdb.vector_ensure_validity_writable(vec);
      duckdb.copy_data_to_vector_validity(vec, 0, valid.buffer as ArrayBuffer, 0, valid.byteLength);
    }
    return;
  }
  if (kind === 'string') {
    const valid = scratch.valid.fill(0xff);
    let missing = false;
    for (let i = 0; i < n; i++) {
      const x = v[at + i];
      if (x === null || x === undefined) {
        valid[i >> 3] &= ~(1 << (i & 7));
        missing = true;
      } else duckdb.vector_assign_string_element(vec, i, typeof x === 'string' ? x : String(x));
    }
    if (missing) {
      duckdb.vector_ensure_validity_writable(vec);
      duckdb.copy_data_to_vector_validity(vec, 0, valid.buffer as ArrayBuffer, 0, valid.byteLength);
    }
    return;
  }
  const w = WIDTH[kind];
  const same =
    (kind === 'float32' && v instanceof Float32Array) ||
    (kind === 'float64' && v instanceof Float64Array) ||
    (kind === 'int64' && v instanceof BigInt64Array) ||
    (kind === 'int32' && v instanceof Int32Array);
  if (same) {
    const t = v;
    let missing = false;
    if (kind === 'float32' || kind === 'float64')
      for (let i = at; i < at + n; i++)
        if (t[i] !== t[i]) {
          missing = true;
          break;
        }
    if (!missing) {
      duckdb.copy_data_to_vector(vec, 0, t.buffer as ArrayBuffer, t.byteOffset + at * w, n * w);
      return;
    }
  }
  const valid = scratch.valid.fill(0xff);
  let missing = false;
  const out = scratch[kind];
  for (let i = 0; i < n; i++) {
    const x = v[at + i];
    if (x === null || x === undefined || (typeof x === 'number' && x !== x)) {
      valid[i >> 3] &= ~(1 << (i & 7));
      missing = true;
      continue;
    }
    if (kind === 'int64') (out as BigInt64Array)[i] = typeof x === 'bigint' ? x : BigInt(x as number);
    else if (kind === 'bool') (out as Uint8Array)[i] = x ? 1 : 0;
    else (out as Float32Array)[i] = Number(x);
  }
  duckdb.copy_data_to_vector(vec, 0, out.buffer as ArrayBuffer, 0, n * w);
  if (missing) {
    duckdb.vector_ensure_validity_writable(vec);
    duckdb.copy_data_to_vector_validity(vec, 0, valid.buffer as ArrayBuffer, 0, valid.byteLength);
  }
}

/** A labelled string column's codes: DuckDB's ENUM vectors hold uint8, uint16 or uint32 indexes. */
interface Codes {
  readonly index: ReadonlyMap<string, number>;
  readonly scratch: Uint8Array | Uint16Array | Uint32Array;
}

/**
 * Whether a Parquet writer takes this column's values as codes (indexes into `labels`, in a
 * Uint8Array, Uint16Array or Uint32Array as labelCodeArray makes them) besides strings: then no
 * string is made per row only to be looked up again.
 */
export function labelCodesApply(format: TableFormat, spec: ColumnSpec): boolean {
  return format === 'parquet' && codesFor(spec) !== undefined;
}

/** An array for `rows` codes into `labels` labels, of the width the Parquet writer's ENUM takes. */
export function labelCodeArray(labels: number, rows: number): Uint8Array | Uint16Array | Uint32Array {
  return labels <= 0xff ? new Uint8Array(rows) : labels <= 0xffff ? new Uint16Array(rows) : new Uint32Array(rows);
}

/** The codes of a column whose labels can be an ENUM (distinct, at least one), else undefined. */
function codesFor(spec: ColumnSpec): Codes | undefined {
  const labels = spec.labels;
  if (spec.kind !== 'string' || !labels?.length || new Set(labels).size !== labels.length) return undefined;
  const scratch = labels.length <= 0xff ? new Uint8Array(VECTOR_ROWS) : labels.length <= 0xffff ? new Uint16Array(VECTOR_ROWS) : new Uint32Array(VECTOR_ROWS);
  return { index: new Map(labels.map((l, i) => [l, i])), scratch };
}

interface Scratch {
  readonly valid: Uint8Array;
  readonly float32: Float32Array;
  readonly float64: Float64Array;
  readonly int32: Int32Array;
  readonly int64: BigInt64Array;
  readonly bool: Uint8Array;
}

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
const sqlIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** Memory DuckDB may hold of a Parquet output's rows before it spills them to its temporary folder. */
const PARQUET_MEMORY_LIMIT = '256MB';

/**
 * Parquet through DuckDB (@duckdb/node-api, native): each chunk is appended into an in-memory
 * table a vector at a time (typed arrays copied as they are, labels as their indexes into an ENUM:
 * no call into DuckDB per value), and finish()
 * writes the table with COPY … TO (FORMAT parquet, KV_METADATA) on DuckDB's threads. DuckDB holds
 * at most PARQUET_MEMORY_LIMIT of rows and spills the rest to a folder beside the temporary file
 * (removed with it), so memory stays bounded whatever the row count.
 */
async function parquetWriter(path: string, specs: readonly ColumnSpec[]): Promise<TableWriter> {
  const tempPath = tempPathFor(path);
  // Create it exclusively first (a clash with another run's temp file is an error, not a shared file).
  await (await open(tempPath, 'wx', 0o644)).close();
  const spill = `${tempPath}.spill`;
  let instance: DuckDBInstance | undefined;
  let con: DuckDBConnection | undefined;
  let appender: DuckDBAppender | undefined;
  const codes = specs.map(codesFor);
  const release = () => {
    try {
      appender?.closeSync();
    } catch {
      // already closed, or the append failed
    }
    appender = undefined;
    con?.closeSync();
    con = undefined;
    instance?.closeSync();
    instance = undefined;
  };
  const cleanup = async () => {
    release();
    await rm(spill, { recursive: true, force: true });
  };
  try {
    instance = await DuckDBInstance.create(':memory:', { memory_limit: PARQUET_MEMORY_LIMIT, temp_directory: spill, preserve_insertion_order: 'true' });
    con = await instance.connect();
    const type = (s: ColumnSpec, i: number) => (codes[i] ? `ENUM(${s.labels!.map(sqlString).join(', ')})` : DUCK_TYPE[s.kind].toString());
    await con.run(`CREATE TABLE rows (${specs.map((s, i) => `c${i} ${type(s, i)}`).join(', ')})`);
    appender = await con.createAppender('rows');
  } catch (e) {
    await cleanup();
    await unlink(tempPath).catch(() => {});
    throw e;
  }
  const chunk = DuckDBDataChunk.create(specs.map((_, i) => appender!.columnType(i)));
  const scratch: Scratch = {
    valid: new Uint8Array(VECTOR_ROWS / 8),
    float32: new Float32Array(VECTOR_ROWS),
    float64: new Float64Array(VECTOR_ROWS),
    int32: new Int32Array(VECTOR_ROWS),
    int64: new BigInt64Array(VECTOR_ROWS),
    bool: new Uint8Array(VECTOR_ROWS),
  };
  return {
    tempPath,
    async write(out) {
      for (let at = 0; at < out.rows; at += VECTOR_ROWS) {
        const n = Math.min(VECTOR_ROWS, out.rows - at);
        chunk.reset();
        chunk.rowCount = n;
        specs.forEach((s, c) => fillVector(s.kind, duckdb.data_chunk_get_vector(chunk.chunk, c), out.values[c], at, n, scratch, codes[c]));
        appender!.appendDataChunk(chunk);
      }
    },
    async finish(metadata) {
      appender!.closeSync();
      appender = undefined;
      const kv = Object.entries(metadata);
      const options = ['FORMAT parquet', ...(kv.length ? [`KV_METADATA {${kv.map(([k, v]) => `${sqlString(k)}: ${sqlString(v)}`).join(', ')}}`] : [])];
      try {
        const column = (s: ColumnSpec, i: number) => `${codes[i] ? `CAST(c${i} AS VARCHAR)` : `c${i}`} AS ${sqlIdent(s.name)}`;
        await con!.run(`COPY (SELECT ${specs.map(column).join(', ')} FROM rows) TO ${sqlString(tempPath)} (${options.join(', ')})`);
      } finally {
        await cleanup();
      }
      const fh = await open(tempPath, 'r+');
      await fh.datasync();
      await fh.close();
    },
    commit: () => rename(tempPath, path),
    async abort() {
      await cleanup();
      await unlink(tempPath).catch(() => {});
    },
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

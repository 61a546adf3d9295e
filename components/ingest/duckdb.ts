/**
 * ingest's fast engine for CSV and Parquet: DuckDB (@duckdb/node-api, a native library inside the
 * npm package) parses the file on its own threads and hands over 2,048-row vectors; numbers are
 * copied out as Float64Arrays, text as strings, and the same inference, plan and conversion as the
 * JavaScript engine (stream.ts) turn them into the same typed chunks. So the dataset's bytes do not
 * depend on which engine read the file (test/components/ingest-duckdb.test.ts compares digests).
 *
 * Exact or not at all: where DuckDB's reading could differ from the reference (stream.ts + parse.ts)
 * this engine gives up and the caller reads the file with the JavaScript engine, which also gives
 * every error its file, line or byte (a ragged row, bad UTF-8, a truncated Parquet file — DuckDB's
 * own message names neither in our terms). It gives up when DuckDB cannot read the file, when the
 * header it reads is not the one parseCsv reads, when a column has a type it does not map (dates,
 * decimals, nested), when a CSV number is one DuckDB's cast accepts but ingest's rule does not
 * ('1_000', '+-1', 'inf', 'nan' — fuzzed against the rule over 400k strings), and when a value
 * does not fit a declared type (the message needs the line). A file that gives up is read twice.
 *
 * CSV columns that DuckDB's sniffer (on a sample) types DOUBLE are read as text and cast in SQL,
 * strictly: a later value that is not a number fails the cast and the file goes to the JavaScript
 * engine, whose two-pass inference handles it. Other columns come over as text and are inferred
 * in JavaScript exactly as the reference does.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBDataChunk, type DuckDBResult } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import { open } from 'node:fs/promises';
import { BATCH_ROWS, BOOLEAN_NULL, columnFromCells, type Column, type Dataset } from '../dataset/index.ts';
import { batchBuffers } from '../dataset/pool.ts';
import { convertCell, IngestError, NULL_TOKENS, parseCsv, type RawCell, type TypeOptions } from './parse.ts';
import { Inference, PlanMismatch, samePlan, type ChunkSink, type Plan } from './stream.ts';

/** How far DuckDB may produce a streamed result ahead of the reader (see ingestDuckdb). */
const STREAMING_BUFFER = '128MB';

/** Why the DuckDB engine did not read a file (the caller reads it with the JavaScript engine). */
export class NotForDuckdb extends Error {}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** Parquet column types read as numbers: the integer and float widths hyparquet gives as numbers or bigints. */
const PARQUET_NUMBERS = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'FLOAT', 'DOUBLE']);

/** How a column comes over: parsed numbers (a DOUBLE vector) or raw cells (strings, booleans). */
type Kind = 'number' | 'cells';

interface Source {
  /** SQL of the table function reading the file. */
  readonly from: string;
  readonly names: string[];
  readonly kinds: Kind[];
  /** SQL select expression per column. */
  readonly select: string[];
  /** CSV: a parsed number must be finite (DuckDB also parses 'inf' and 'nan', the rule does not). */
  readonly finiteOnly: boolean;
  /** Columns that are BOOLEAN (Parquet); other 'cells' columns are VARCHAR. */
  readonly bools: boolean[];
  /** CSV: the reader records lines it can't read in reject_errors (checked after the stream). */
  readonly rejects?: boolean;
  /** CSV read as text: the query's last column is a flag set on rows with a value that is not a number to ingest. */
  readonly flag?: boolean;
}

/**
 * A text or boolean column of one chunk, dictionary-coded: `codes[r]` indexes `values` (the chunk's
 * distinct values in the order they first appear), -1 where missing. Inference and conversion work
 * on the few distinct values, not on a JavaScript value per row.
 */
export interface Coded {
  readonly codes: Int32Array;
  readonly values: RawCell[];
  nonNull: number;
}

/** Codes from the batch pool: they go to the dataset writer in place (categorical) or back to the pool. */
const freshCoded = (rows: number): Coded => ({ codes: batchBuffers.int32(rows), values: [], nonNull: 0 });

/**
 * VARCHAR vectors into chunk-local codes, straight from DuckDB's 16-byte string_t slots (length,
 * then the bytes inline up to 12, else a prefix and a pointer). A short string seen recently in the
 * same column is found in a small cache keyed by its slot — its string, and its code in the chunk
 * being filled — so a categorical column decodes each value once and looks up no string per row.
 */
class StringReader {
  private static readonly SIZE = 1024;
  private readonly keys: Uint32Array[];
  private readonly strings: (string | undefined)[][];
  /** Per cache slot: the code in the current chunk, valid when its epoch is the chunk's. */
  private readonly codes: Int32Array[];
  private readonly epochs: Int32Array[];
  private readonly epoch: number[];
  private readonly index: Map<string, number>[];
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  constructor(columns: number) {
    this.keys = Array.from({ length: columns }, () => new Uint32Array(StringReader.SIZE * 4));
    this.strings = Array.from({ length: columns }, () => new Array<string | undefined>(StringReader.SIZE));
    this.codes = Array.from({ length: columns }, () => new Int32Array(StringReader.SIZE));
    this.epochs = Array.from({ length: columns }, () => new Int32Array(StringReader.SIZE));
    this.epoch = new Array<number>(columns).fill(0);
    this.index = Array.from({ length: columns }, () => new Map());
  }
  /** Column j starts a new chunk (its codes start again from 0). */
  next(j: number): void {
    this.epoch[j]++;
    this.index[j].clear();
  }
  private codeOf(j: number, s: string, dst: Coded): number {
    let k = this.index[j].get(s);
    if (k === undefined) {
      k = dst.values.push(s) - 1;
      this.index[j].set(s, k);
    }
    return k;
  }
  read(j: number, vec: duckdb.Vector, n: number, at: number, take: number, dst: Coded, base: number): void {
    const bytes = duckdb.vector_get_data(vec, n * 16);
    const valid = duckdb.vector_get_validity(vec, Math.ceil(n / 64) * 8);
    const aligned = bytes.byteOffset % 4 === 0;
    const words = aligned ? new Uint32Array(bytes.buffer, bytes.byteOffset, n * 4) : new Uint32Array(bytes.slice().buffer, 0, n * 4);
    const keys = this.keys[j];
    const strings = this.strings[j];
    const codes = this.codes[j];
    const epochs = this.epochs[j];
    const epoch = this.epoch[j];
    const out = dst.codes;
    let present = 0;
    for (let r = 0; r < take; r++) {
      const i = at + r;
      if (valid && (valid[i >> 3] & (1 << (i & 7))) === 0) {
        out[base + r] = -1;
        continue;
      }
      present++;
      const w = i * 4;
      const len = words[w];
      if (len > 12) {
        out[base + r] = this.codeOf(j, this.decoder.decode(duckdb.get_data_from_pointer(bytes.buffer as ArrayBuffer, bytes.byteOffset + i * 16 + 8, len)), dst);
        continue;
      }
      // The inline bytes past the length are not part of the string: mask them out of the key.
      const a = words[w + 1] & mask(len, 0);
      const b = words[w + 2] & mask(len, 1);
      const c = words[w + 3] & mask(len, 2);
      const h = (Math.imul(len ^ a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b) ^ Math.imul(c, 0xc2b2ae35)) >>> 22;
      const kk = h * 4;
      const s = strings[h];
      if (s === undefined || keys[kk] !== len || keys[kk + 1] !== a || keys[kk + 2] !== b || keys[kk + 3] !== c) {
        const v = this.decoder.decode(bytes.subarray(i * 16 + 4, i * 16 + 4 + len));
        strings[h] = v;
        keys[kk] = len;
        keys[kk + 1] = a;
        keys[kk + 2] = b;
        keys[kk + 3] = c;
        epochs[h] = epoch;
        out[base + r] = codes[h] = this.codeOf(j, v, dst);
      } else if (epochs[h] === epoch) out[base + r] = codes[h];
      else {
        epochs[h] = epoch;
        out[base + r] = codes[h] = this.codeOf(j, s, dst);
      }
    }
    dst.nonNull += present;
  }
}

/** The bits of inline word `word` (4 bytes) that belong to a string of `len` bytes. */
function mask(len: number, word: number): number {
  const k = len - word * 4;
  return k >= 4 ? 0xffffffff : k <= 0 ? 0 : (1 << (8 * k)) - 1;
}

const csvOptions = (delimiter: string) =>
  [
    'header=true',
    `delim=${literal(delimiter)}`,
    `quote='"'`,
    `escape='"'`,
    `comment=''`,
    'skip=0',
    `nullstr=[${[...NULL_TOKENS].map(literal).join(', ')}]`,
    'strict_mode=true',
    `encoding='utf-8'`,
  ].join(', ');

/** The header as parseCsv reads it (trimmed names, duplicates and empty names refused). */
async function csvHeader(path: string, delimiter: string): Promise<string[]> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString('utf8');
    const nl = text.indexOf('\n');
    const line = nl < 0 ? text : text.slice(0, nl + 1);
    if (nl < 0 || line.includes('"')) throw new NotForDuckdb('the header line is quoted or not within the first MiB');
    return parseCsv(line, path, delimiter).names;
  } finally {
    await fh.close();
  }
}

async function describe(con: DuckDBConnection, from: string): Promise<{ name: string; type: string }[]> {
  const r = await con.runAndReadAll(`DESCRIBE SELECT * FROM ${from}`);
  return (r.getRowObjects() as { column_name: unknown; column_type: unknown }[]).map((x) => ({ name: String(x.column_name), type: String(x.column_type) }));
}

async function csvSource(con: DuckDBConnection, path: string, delimiter: string, opts: TypeOptions): Promise<Source> {
  const header = await csvHeader(path, delimiter);
  if (header.length < 2) throw new NotForDuckdb('one column: a blank line is a missing value to DuckDB, skipped by ingest');
  const sniffed = await describe(con, `read_csv(${literal(path)}, ${csvOptions(delimiter)}, auto_type_candidates=['DOUBLE', 'VARCHAR'])`);
  if (sniffed.length !== header.length || sniffed.some((c, i) => c.name !== header[i]))
    throw new NotForDuckdb(`DuckDB reads the header as ${sniffed.map((c) => c.name).join(',')}`);
  const names = keep(header, opts);
  const kinds: Kind[] = names.map((n) => {
    const declared = opts.types?.[n];
    const t = sniffed.find((c) => c.name === n)!.type;
    return t === 'DOUBLE' && (declared === undefined || declared === 'numeric') ? 'number' : 'cells';
  });
  // A number as ingest's rule reads it. DuckDB's number parsing also takes '_' separators and
  // '+-1', and parses 'inf'/'nan' (non-finite values are refused while copying). When the file has
  // no '_', '+-' or '-+' anywhere (one memchr-speed scan), DuckDB's CSV reader parses the numbers
  // itself (a value it can't parse is a rejected line: checked after the stream); otherwise every
  // column is read as text and the numbers cast in SQL with a flag for the odd ones. Nothing in the
  // query may fail: a streamed result that fails ends like one that is done (DuckDB's C API returns
  // no chunk either way, duckdb/duckdb-rs#664).
  const numbers = names.filter((_, j) => kinds[j] === 'number');
  const plain = numbers.length === 0 || !(await fileContains(path, ['_', '+-', '-+']));
  const select = names.map((n, j) => (kinds[j] === 'number' && !plain ? `TRY_CAST(${ident(n)} AS DOUBLE)` : ident(n)));
  let flag = false;
  if (!plain) {
    flag = true;
    const bad = numbers
      .map(
        (n) =>
          `(${ident(n)} IS NOT NULL AND (contains(${ident(n)}, '_') OR contains(${ident(n)}, '+-') OR contains(${ident(n)}, '-+') OR TRY_CAST(${ident(n)} AS DOUBLE) IS NULL))`,
      )
      .join(' OR ');
    select.push(`(${bad}) AS "__bad"`);
  }
  const types = plain ? `types={${header.map((n) => `${literal(n)}: '${numbers.includes(n) ? 'DOUBLE' : 'VARCHAR'}'`).join(', ')}}` : 'all_varchar=true';
  return {
    // store_rejects: the reader's own errors (a ragged row, bad UTF-8, a value that is not a DOUBLE) are recorded, not a failed stream.
    from: `read_csv(${literal(path)}, ${csvOptions(delimiter)}, ${types}, store_rejects=true)`,
    names,
    kinds,
    select,
    finiteOnly: true,
    bools: names.map(() => false),
    rejects: true,
    flag,
  };
}

/** Whether the file holds any of `needles` (ASCII) anywhere. */
async function fileContains(path: string, needles: string[]): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(8 << 20);
    let pos = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) return false;
      const b = buf.subarray(0, bytesRead);
      if (needles.some((x) => b.includes(x))) return true;
      if (bytesRead < buf.length) return false;
      pos += bytesRead - 1; // a two-byte needle across the boundary
    }
  } finally {
    await fh.close();
  }
}

/** After the stream: the reader recorded no error (CSV), or every row arrived (Parquet: the footer's count). */
async function checkComplete(con: DuckDBConnection, src: Source, rows: number): Promise<void> {
  if (src.rejects) {
    const rejects = Number((await con.runAndReadAll('SELECT count(*) FROM reject_errors')).getRows()[0][0]);
    if (rejects > 0) throw new NotForDuckdb(`DuckDB's reader rejected ${rejects} line(s)`);
  } else {
    const total = Number((await con.runAndReadAll(`SELECT count(*) FROM ${src.from}`)).getRows()[0][0]);
    if (total !== rows) throw new NotForDuckdb(`DuckDB's stream ended after ${rows} of ${total} rows`);
  }
}

async function parquetSource(con: DuckDBConnection, path: string, opts: TypeOptions): Promise<Source> {
  const from = `read_parquet(${literal(path)})`;
  const cols = await describe(con, from);
  const names = keep(
    cols.map((c) => c.name),
    opts,
  );
  const kinds: Kind[] = [];
  const select: string[] = [];
  const bools: boolean[] = [];
  for (const n of names) {
    const t = cols.find((c) => c.name === n)!.type;
    const declared = opts.types?.[n];
    if (PARQUET_NUMBERS.has(t)) {
      // As text, a number would be DuckDB's rendering, not hyparquet's: only as a number.
      if (declared !== undefined && declared !== 'numeric') throw new NotForDuckdb(`column '${n}' (${t}) is declared ${declared}`);
      kinds.push('number');
      select.push(t === 'DOUBLE' ? ident(n) : `CAST(${ident(n)} AS DOUBLE)`);
      bools.push(false);
    } else if (t === 'VARCHAR' || t === 'BOOLEAN') {
      kinds.push('cells');
      select.push(ident(n));
      bools.push(t === 'BOOLEAN');
    } else throw new NotForDuckdb(`column '${n}' has type ${t}`);
  }
  return { from, names, kinds, select, finiteOnly: false, bools };
}

function keep(names: string[], opts: TypeOptions): string[] {
  if (!opts.columns) return names;
  for (const n of opts.columns) if (!names.includes(n)) throw new NotForDuckdb(`no column '${n}'`);
  return [...opts.columns];
}

/** One chunk as it came over, before conversion under a plan. */
interface TypedChunk {
  rows: number;
  numbers: (Float64Array | undefined)[];
  nonNull: number[];
  coded: (Coded | undefined)[];
}

/** Reads the query's result in chunks of `batchRows` rows. */
async function* typedChunks(result: DuckDBResult, src: Source, batchRows: number): AsyncGenerator<TypedChunk> {
  const k = src.names.length;
  const fresh = (): TypedChunk => ({
    rows: 0,
    numbers: src.kinds.map((kind) => (kind === 'number' ? batchBuffers.float64(batchRows) : undefined)),
    nonNull: new Array<number>(k).fill(0),
    coded: src.kinds.map((kind) => (kind === 'cells' ? freshCoded(batchRows) : undefined)),
  });
  const strings = new StringReader(k);
  const start = (): TypedChunk => {
    for (let j = 0; j < k; j++) strings.next(j);
    return fresh();
  };
  let pending = start();
  // One fetch ahead: DuckDB decodes the next chunk on its threads while this one is copied.
  let next: Promise<DuckDBDataChunk | null> = result.fetchChunk();
  for (;;) {
    const chunk = await next;
    if (!chunk || chunk.rowCount === 0) break;
    next = result.fetchChunk();
    const n = chunk.rowCount;
    let at = 0;
    while (at < n) {
      const take = Math.min(n - at, batchRows - pending.rows);
      for (let j = 0; j < k; j++) {
        const base = pending.rows;
        if (src.kinds[j] === 'number') {
          const vec = duckdb.data_chunk_get_vector(chunk.chunk, j);
          const bytes = duckdb.vector_get_data(vec, n * 8);
          const data = new Float64Array(bytes.buffer, bytes.byteOffset, n);
          const valid = duckdb.vector_get_validity(vec, Math.ceil(n / 64) * 8);
          const dst = pending.numbers[j]!;
          // A CSV number DuckDB parsed but ingest's rule does not ('inf', 'nan'): only in a present
          // slot (a missing one holds whatever DuckDB left there). Checked before the copy, where a
          // NaN that was in the file still differs from a missing value.
          if (src.finiteOnly)
            for (let r = 0; r < take; r++) {
              const i = at + r;
              const x = data[i];
              if (x - x !== 0 && !(valid && (valid[i >> 3] & (1 << (i & 7))) === 0)) throw new NotForDuckdb(`column '${src.names[j]}': a non-finite number`);
            }
          // Copied whole, then missing slots set to NaN (skipping 8 rows at a time where the
          // validity byte says all are present), then the values that are not NaN counted: fewer
          // branches per row than testing each row's bit while copying (the same values).
          dst.set(at === 0 && take === n ? data : data.subarray(at, at + take), base);
          if (valid)
            for (let r = 0; r < take;) {
              const i = at + r;
              if ((i & 7) === 0 && r + 8 <= take && valid[i >> 3] === 0xff) {
                r += 8;
                continue;
              }
              if ((valid[i >> 3] & (1 << (i & 7))) === 0) dst[base + r] = NaN;
              r++;
            }
          let present = 0;
          for (let r = base, end = base + take; r < end; r++) if (dst[r] === dst[r]) present++;
          pending.nonNull[j] += present;
        } else if (src.bools[j]) {
          const vec = duckdb.data_chunk_get_vector(chunk.chunk, j);
          const data = duckdb.vector_get_data(vec, n);
          const valid = duckdb.vector_get_validity(vec, Math.ceil(n / 64) * 8);
          const dst = pending.coded[j]!;
          const out = dst.codes;
          // Codes for false and true in the order they first appear in the chunk (-1: not yet).
          let f = dst.values.indexOf(false);
          let t = dst.values.indexOf(true);
          let present = 0;
          for (let r = 0; r < take; r++) {
            const i = at + r;
            if (valid && (valid[i >> 3] & (1 << (i & 7))) === 0) {
              out[base + r] = -1;
              continue;
            }
            present++;
            if (data[i] !== 0) out[base + r] = t >= 0 ? t : (t = dst.values.push(true) - 1);
            else out[base + r] = f >= 0 ? f : (f = dst.values.push(false) - 1);
          }
          dst.nonNull += present;
        } else strings.read(j, duckdb.data_chunk_get_vector(chunk.chunk, j), n, at, take, pending.coded[j]!, base);
      }
      if (src.flag) {
        const flags = duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk.chunk, k), n);
        for (let r = 0; r < take; r++) if (flags[at + r]) throw new NotForDuckdb(`a value that is not a number to ingest in a column DuckDB read as numbers`);
      }
      pending.rows += take;
      at += take;
      if (pending.rows === batchRows) {
        yield pending;
        pending = start();
      }
    }
  }
  if (pending.rows > 0) yield pending;
}

/** The chunk's columns as distinct values or counts, for inference. */
const inferenceColumns = (c: TypedChunk) => c.coded.map((coded, j) => (coded ? { distinct: coded.values, nonNull: coded.nonNull } : { nonNull: c.nonNull[j] }));

/** Per plan, per categorical column: category → its code. */
const categoryIndex = new WeakMap<Plan, (Map<string, number> | undefined)[]>();

/**
 * Converts a coded column under column j of a plan: each distinct value once, then the codes. The
 * same result and the same errors as convertRawColumn on the column's cells.
 */
function convertCoded(plan: Plan, j: number, c: Coded, rows: number, where: (row: number) => string): Column {
  const name = plan.names[j];
  const type = plan.types[j];
  const codes = c.codes;
  if (type === 'categorical') {
    let byPlan = categoryIndex.get(plan);
    if (!byPlan) categoryIndex.set(plan, (byPlan = []));
    const index = (byPlan[j] ??= new Map(plan.categories[j]!.map((x, i) => [x, i])));
    const map = Int32Array.from(c.values, (x) => index.get(String(x)) ?? -2);
    // A value outside the plan's categories changes the plan (as columnFromCells refusing it does).
    if (map.includes(-2)) throw new PlanMismatch();
    // In place: the chunk's codes become the column's (each slot is read before it is written).
    const out = codes.length === rows ? codes : codes.subarray(0, rows);
    for (let r = 0; r < rows; r++) {
      const k = codes[r];
      out[r] = k < 0 ? -1 : map[k];
    }
    return { name, type, categories: plan.categories[j]!, codes: out };
  }
  if (type === 'string') {
    const strings = c.values.map(String);
    const values = new Array<string | null>(rows);
    for (let r = 0; r < rows; r++) {
      const k = codes[r];
      values[r] = k < 0 ? null : strings[k];
    }
    batchBuffers.give(codes.buffer);
    return { name, type, values };
  }
  const converted = c.values.map((x, k) => {
    const v = convertCell(x, type);
    if (v !== undefined) return v;
    if (!plan.declared[j]) throw new PlanMismatch();
    const r = codes.indexOf(k);
    throw new IngestError(
      `${where(r)}: '${String(x)}' is not ${type === 'numeric' ? 'a number' : 'a boolean (true/false/1/0)'}, but column '${name}' is declared ${type}`,
    );
  });
  if (type === 'numeric') {
    const numbers = Float64Array.from(converted, (v) => (typeof v === 'number' ? v : v ? 1 : 0));
    const values = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const k = codes[r];
      values[r] = k < 0 ? NaN : numbers[k];
    }
    batchBuffers.give(codes.buffer);
    return { name, type, values };
  }
  const bits = Uint8Array.from(converted, (v) => (v === true || v === 1 ? 1 : 0));
  const values = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    const k = codes[r];
    values[r] = k < 0 ? BOOLEAN_NULL : bits[k];
  }
  batchBuffers.give(codes.buffer);
  return { name, type, values };
}

function convert(c: TypedChunk, plan: Plan, label: string): Dataset {
  const columns: Column[] = plan.names.map((name, j) => {
    const numbers = c.numbers[j];
    if (numbers) {
      // A whole batch goes to the writer as it is (and from there back to the pool); a shorter last one as a view.
      const values = c.rows < numbers.length ? numbers.subarray(0, c.rows) : numbers;
      if (plan.types[j] === 'numeric') return { name, type: 'numeric', values };
      // A column with no value yet is planned as text; numbers in it change the plan.
      if (c.nonNull[j] > 0) throw new PlanMismatch();
      return columnFromCells(name, plan.types[j], new Array(c.rows).fill(null), plan.categories[j]);
    }
    return convertCoded(plan, j, c.coded[j]!, c.rows, (r) => `${label} (column '${name}', row ${r + 1} of a chunk)`);
  });
  return { rows: c.rows, columns };
}

/**
 * Reads `path` (CSV or Parquet) with DuckDB into the sink, under the same optimistic single pass
 * as ingestChunks (a second pass when later rows change an inferred type). Throws NotForDuckdb (or
 * any error) when the JavaScript engine must read the file instead; the caller resets the sink.
 */
export async function ingestDuckdb(
  path: string,
  format: 'csv' | 'parquet',
  opts: TypeOptions & { delimiter?: string; label?: string; batchRows?: number },
  sink: ChunkSink,
): Promise<{ rows: number; passes: number; plan: Plan }> {
  const label = opts.label ?? path;
  const batchRows = opts.batchRows ?? BATCH_ROWS;
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    // A streamed result is produced only as far as this buffer ahead of the reader (default
    // ~1 MB, a few chunks): with 128 MB DuckDB's threads parse ahead while this thread converts
    // and writes, instead of taking turns with it. Measured on 10M rows × 20 columns, same
    // session (bench:data's files, 2 vCPUs): CSV ingest 22.1–24.5 s → 13.8–15.8 s, Parquet
    // 10.6–12.8 s → 9.0–11.1 s; peak RSS +100–200 MB (16–64 MB buffers gained less).
    await con.run(`SET streaming_buffer_size = '${STREAMING_BUFFER}'`);
    const src = format === 'csv' ? await csvSource(con, path, opts.delimiter ?? ',', opts) : await parquetSource(con, path, opts);
    const query = `SELECT ${src.select.join(', ')} FROM ${src.from}`;
    const inference = new Inference({ ...opts, columns: undefined });
    let assumed: Plan | undefined;
    let ok = true;
    let rows = 0;
    for await (const c of typedChunks(await con.stream(query), src, batchRows)) {
      inference.addTyped(src.names, inferenceColumns(c));
      rows += c.rows;
      if (!ok) continue;
      assumed ??= inference.plan(label);
      try {
        sink.write(convert(c, assumed, label));
      } catch (err) {
        if (!(err instanceof PlanMismatch)) throw err;
        ok = false;
      }
    }
    await checkComplete(con, src, rows);
    if (rows === 0)
      inference.addTyped(
        src.names,
        src.kinds.map(() => []),
      );
    const final = inference.plan(label);
    if (ok && assumed && samePlan(assumed, final)) return { rows, passes: 1, plan: final };
    sink.reset();
    let again = 0;
    for await (const c of typedChunks(await con.stream(query), src, batchRows)) {
      sink.write(convert(c, final, label));
      again += c.rows;
    }
    if (again !== rows) throw new NotForDuckdb(`the second pass read ${again} rows, the first ${rows}`);
    await checkComplete(con, src, rows);
    if (rows === 0)
      sink.write(convert({ rows: 0, numbers: src.kinds.map(() => undefined), nonNull: [], coded: src.kinds.map(() => freshCoded(0)) }, final, label));
    return { rows, passes: 2, plan: final };
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

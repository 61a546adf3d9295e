/**
 * Streaming ingest: a source file is read in chunks (a few MiB of CSV/JSON Lines text, or one
 * Parquet row group, one column at a time), typed, and handed on as dataset chunks, so memory
 * follows the chunk, not the file (10M rows × 20 columns stay under 1 GiB; `npm run bench:data`).
 *
 * Types are inferred over the whole column (the rule in parse.ts), which a single pass cannot know
 * until the end. So the pass is optimistic: the first chunk's inferred types (and categories) are
 * assumed, chunks are converted and written under them, and the whole-file inference is kept
 * alongside. When the file ends with the same types and categories, that one pass is the result;
 * when a later chunk disagrees (a 'numeric' column gets 'n/a', a categorical column a new value),
 * the written output is dropped and a second pass converts under the final types. Either way the
 * result is the one whole-file inference gives (and what `typeTable` gives in memory).
 *
 * Bad input names the place: the file and line (CSV, JSON Lines), the row (Parquet), the byte
 * offset of an invalid UTF-8 sequence, or the byte length of a Parquet file whose footer is missing.
 */
import { open } from 'node:fs/promises';
import { extname } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { columnFromCells, DatasetError, type Column, type ColumnType, type Dataset } from '../dataset/index.ts';
import { IngestError, parseCsv, parseJsonl, rawCellOf, type RawCell, type RawTable, type TypeOptions } from './parse.ts';
import { ColumnInference, convertCell, TYPES } from './parse.ts';

export type SourceFormat = 'csv' | 'jsonl' | 'parquet';

/** Bytes of text read per CSV/JSON Lines chunk. */
export const TEXT_CHUNK_BYTES = 8 << 20;

function cannotRead(label: string, err: unknown): Error {
  // Not an IngestError: whether a retry can read it depends on why (api/failure.ts reads the cause's code).
  return new Error(`cannot read ${label}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
}

/** Offset of the first byte that does not continue a valid UTF-8 sequence in `b`, or -1. */
export function firstInvalidUtf8(b: Uint8Array, from = 0): number {
  let i = from;
  const n = b.length;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let len: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) ((len = 2), (min = 0x80));
    else if (c >= 0xe0 && c <= 0xef) ((len = 3), (min = 0x800));
    else if (c >= 0xf0 && c <= 0xf4) ((len = 4), (min = 0x10000));
    else return i;
    if (i + len > n) return i; // cut off at the end
    let cp = c & (0xff >> (len + 1));
    for (let k = 1; k < len; k++) {
      const d = b[i + k];
      if ((d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += len;
  }
  return -1;
}

/**
 * A text file as decoded UTF-8 pieces of about TEXT_CHUNK_BYTES; a byte that is not UTF-8 is an
 * IngestError naming its offset and line.
 */
async function* textPieces(path: string, label: string, chunkBytes: number): AsyncGenerator<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw cannotRead(label, err);
  }
  const dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const buf = Buffer.alloc(chunkBytes);
  let pos = 0;
  let lines = 0;
  try {
    for (;;) {
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, 0, buf.length, pos));
      } catch (err) {
        throw cannotRead(label, err);
      }
      const bytes = buf.subarray(0, n);
      let text: string;
      try {
        text = dec.decode(bytes, { stream: n > 0 });
      } catch {
        // Where: re-check this block (a sequence cut at the previous block's end shows at its start).
        const at = Math.max(0, firstInvalidUtf8(bytes));
        let line = lines + 1;
        for (let i = 0; i < at; i++) if (bytes[i] === 10) line++;
        const bad = n > at ? `0x${bytes[at].toString(16).padStart(2, '0')}` : 'the end of the file';
        throw new IngestError(
          `${label}: byte ${pos + at} (line ${line}): ${n > at ? `${bad} is not valid UTF-8` : 'a UTF-8 sequence is cut off at the end of the file'}; save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)`,
        );
      }
      for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) lines++;
      pos += n;
      if (text) yield text;
      if (n === 0) return;
    }
  } finally {
    await fh.close();
  }
}

/** Index just past the last newline in `text` that ends a CSV record (outside quotes), or -1. */
function lastRecordEnd(text: string): number {
  if (text.indexOf('"') < 0) return text.lastIndexOf('\n') + 1 || -1;
  let quoted = false;
  let end = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) quoted = !quoted;
    else if (c === 10 && !quoted) end = i + 1;
  }
  return end;
}

/** Line breaks as parseCsv counts them: \n, \r\n and a lone \r. */
function lineBreaks(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) n++;
    else if (c === 13 && text.charCodeAt(i + 1) !== 10) n++;
  }
  return n;
}

async function* csvChunks(path: string, label: string, delimiter: string, chunkBytes: number): AsyncGenerator<RawTable> {
  let header: string[] | undefined;
  let line = 1;
  let text = '';
  const parse = (part: string): RawTable => {
    const t = header ? parseCsv(part, label, delimiter, { header, firstLine: line }) : parseCsv(part, label, delimiter);
    if (!header) header = t.names;
    line += lineBreaks(part);
    return t;
  };
  for await (const piece of textPieces(path, label, chunkBytes)) {
    text += piece;
    if (text.length < chunkBytes / 2) continue;
    const end = lastRecordEnd(text);
    if (end < 0) continue;
    const part = text.slice(0, end);
    text = text.slice(end);
    yield parse(part);
  }
  if (text !== '' || !header) yield parse(text);
}

async function* jsonlChunks(path: string, label: string, chunkBytes: number): AsyncGenerator<RawTable> {
  let line = 1;
  let text = '';
  for await (const piece of textPieces(path, label, chunkBytes)) {
    text += piece;
    if (text.length < chunkBytes / 2) continue;
    const end = text.lastIndexOf('\n') + 1;
    if (end <= 0) continue;
    const part = text.slice(0, end);
    text = text.slice(end);
    yield parseJsonl(part, label, line);
    line += lineBreaks(part);
  }
  yield parseJsonl(text, label, line);
}

/** Parquet: one row group at a time, one column at a time (hyparquet). */
async function* parquetChunks(path: string, label: string): AsyncGenerator<RawTable> {
  let file: AsyncBuffer;
  try {
    file = await asyncBufferFromFile(path);
  } catch (err) {
    throw cannotRead(label, err);
  }
  const tail = new Uint8Array(await file.slice(Math.max(0, file.byteLength - 4), file.byteLength));
  const head = new Uint8Array(await file.slice(0, Math.min(4, file.byteLength)));
  const magic = (b: Uint8Array) => b.length === 4 && String.fromCharCode(...b) === 'PAR1';
  if (!magic(head))
    throw new IngestError(`${label}: not a readable Parquet file (it does not start with the magic 'PAR1'); check the path, or give the format it is in`);
  if (!magic(tail))
    throw new IngestError(
      `${label}: not a readable Parquet file (truncated: its ${file.byteLength} bytes do not end with the footer magic 'PAR1' at byte ${Math.max(0, file.byteLength - 4)}); copy or download it again`,
    );
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    throw new IngestError(`${label}: not a readable Parquet file (its footer metadata is corrupt: ${(err as Error).message})`);
  }
  const names = parquetSchema(metadata).children.map((c) => c.element.name);
  let groupStart = 0;
  for (const rg of metadata.row_groups) {
    const n = Number(rg.num_rows);
    const columns: RawCell[][] = [];
    for (const name of names) {
      const col = new Array<RawCell>(n).fill(null);
      // hyparquet calls onChunk from a promise it does not return: an error thrown there would
      // escape as an uncaught exception (a crash), so the first one is kept and thrown here.
      let bad: unknown;
      try {
        await parquetRead({
          file,
          metadata,
          columns: [name],
          rowStart: groupStart,
          rowEnd: groupStart + n,
          onChunk: (c) => {
            if (bad !== undefined) return;
            try {
              const d = c.columnData as ArrayLike<unknown>;
              const base = c.rowStart - groupStart;
              for (let i = 0; i < d.length; i++) {
                const r = base + i;
                if (r < 0 || r >= n) continue;
                col[r] = rawCellOf(d[i], () => `${label} row ${groupStart + r + 1} (column '${name}')`);
              }
            } catch (err) {
              bad = err;
            }
          },
        });
        if (bad !== undefined) throw bad;
      } catch (err) {
        if (err instanceof IngestError) throw err;
        throw new IngestError(
          `${label}: rows ${groupStart + 1}–${groupStart + n} (row group ${metadata.row_groups.indexOf(rg) + 1}), column '${name}' can't be read (${(err as Error).message}); the file is corrupt`,
        );
      }
      columns.push(col);
    }
    const at = groupStart;
    yield { file: label, names, columns, where: (row, c) => `${label} row ${at + row + 1} (column '${names[c]}')` };
    groupStart += n;
  }
  if (metadata.row_groups.length === 0)
    yield { file: label, names, columns: names.map(() => []), where: (row, c) => `${label} row ${row + 1} (column '${names[c]}')` };
}

export function rawChunks(
  path: string,
  format: SourceFormat,
  delimiter: string | undefined,
  label = path,
  chunkBytes = TEXT_CHUNK_BYTES,
): AsyncGenerator<RawTable> {
  if (format === 'parquet') return parquetChunks(path, label);
  if (format === 'jsonl') return jsonlChunks(path, label, chunkBytes);
  return csvChunks(path, label, delimiter ?? (extname(path).toLowerCase() === '.tsv' ? '\t' : ','), chunkBytes);
}

/** Column names, types and categories a pass converts under. */
export interface Plan {
  readonly names: readonly string[];
  readonly types: readonly ColumnType[];
  readonly declared: readonly boolean[];
  readonly categories: readonly (readonly string[] | undefined)[];
}

export const samePlan = (a: Plan, b: Plan): boolean =>
  a.names.length === b.names.length &&
  a.names.every((n, i) => n === b.names[i] && a.types[i] === b.types[i] && (a.categories[i] ?? []).join('\u0000') === (b.categories[i] ?? []).join('\u0000'));

/** Whole-file inference state, fed chunk by chunk. */
export class Inference {
  readonly names: string[] = [];
  private readonly byName = new Map<string, ColumnInference>();
  constructor(private readonly opts: TypeOptions) {}
  /** `name`'s inference state (created on first sight, in file order), or undefined when its type is not inferred (declared, or not kept). */
  private inferred(name: string): ColumnInference | undefined {
    let s = this.byName.get(name);
    if (!s) {
      this.names.push(name);
      s = new ColumnInference(this.opts.maxCategories, this.opts.types?.[name] === 'categorical');
      this.byName.set(name, s);
    }
    if (this.opts.columns && !this.opts.columns.includes(name)) return undefined;
    const d = this.opts.types?.[name];
    return d && d !== 'categorical' ? undefined : s;
  }
  add(t: RawTable): void {
    t.names.forEach((name, c) => this.inferred(name)?.add(t.columns[c]));
  }
  /**
   * Adds a chunk whose columns are raw cells, distinct values (`distinct`, in the order they first
   * appear, `nonNull` values in all) or numbers already parsed (DuckDB's DOUBLE vectors: `nonNull`
   * of them present). Numbers infer exactly as their text would: numeric, never boolean
   * (components/ingest/duckdb.ts keeps columns declared otherwise as text).
   */
  addTyped(
    names: readonly string[],
    columns: readonly (readonly RawCell[] | { readonly distinct: readonly RawCell[]; readonly nonNull: number } | { readonly nonNull: number })[],
  ): void {
    names.forEach((name, c) => {
      const s = this.inferred(name);
      if (!s) return;
      const col = columns[c];
      if (Array.isArray(col)) s.add(col as readonly RawCell[]);
      else if ('distinct' in col) s.addDistinct(col.distinct, col.nonNull);
      else s.addNumbers((col as { readonly nonNull: number }).nonNull);
    });
  }
  /** The plan this state gives (checks declared types and `columns` against the file's names). */
  plan(file: string): Plan {
    for (const [name, type] of Object.entries(this.opts.types ?? {})) {
      if (!this.names.includes(name))
        throw new IngestError(`${file}: 'types' declares column '${name}', which the file doesn't have (it has ${this.names.join(', ')})`);
      if (!TYPES.includes(type)) throw new IngestError(`'types.${name}' is '${String(type)}'; use one of ${TYPES.join(', ')}`);
    }
    const keep = this.opts.columns ?? this.names;
    for (const name of keep)
      if (!this.byName.has(name)) throw new IngestError(`${file}: 'columns' lists '${name}', which the file doesn't have (it has ${this.names.join(', ')})`);
    const types = keep.map((n) => this.opts.types?.[n] ?? this.byName.get(n)!.type());
    return {
      names: [...keep],
      types,
      declared: keep.map((n) => this.opts.types?.[n] !== undefined),
      categories: keep.map((n, i) => (types[i] === 'categorical' ? this.byName.get(n)!.categories() : undefined)),
    };
  }
}

/** Thrown inside a pass when a chunk does not fit the assumed (inferred-so-far) types. */
export class PlanMismatch extends Error {}

/**
 * Converts one column of raw cells under column j of a plan. Declared types that don't fit are
 * IngestErrors (`where` names the cell); inferred ones a PlanMismatch.
 */
export function convertRawColumn(plan: Plan, j: number, raw: readonly RawCell[], rows: number, where: (row: number) => string): Column {
  const name = plan.names[j];
  const type = plan.types[j];
  const cells = new Array(rows);
  const fast = !plan.declared[j] && type === 'numeric';
  for (let r = 0; r < rows; r++) {
    const x = raw[r];
    if (fast && (typeof x === 'string' || x === null)) {
      cells[r] = x === null ? null : Number(x);
      continue;
    }
    const v = convertCell(x, type);
    if (v === undefined) {
      if (!plan.declared[j]) throw new PlanMismatch();
      throw new IngestError(
        `${where(r)}: '${String(x)}' is not ${type === 'numeric' ? 'a number' : 'a boolean (true/false/1/0)'}, but column '${name}' is declared ${type}`,
      );
    }
    cells[r] = v;
  }
  try {
    return columnFromCells(name, type, cells, plan.categories[j]);
  } catch (err) {
    if (err instanceof DatasetError) throw new PlanMismatch();
    throw err;
  }
}

/** Converts one raw chunk under a plan (convertRawColumn for each column). */
function convertChunk(t: RawTable, plan: Plan): Dataset {
  const rows = t.columns.length ? t.columns[0].length : 0;
  const index = new Map(t.names.map((n, i) => [n, i]));
  const columns: Column[] = plan.names.map((name, j) => {
    const c = index.get(name);
    const raw: readonly RawCell[] = c === undefined ? new Array<RawCell>(rows).fill(null) : t.columns[c];
    return convertRawColumn(plan, j, raw, rows, (r) => t.where(r, c!));
  });
  return { rows, columns };
}

export interface ChunkSink {
  write(chunk: Dataset): void;
  /** Drops what was written (the pass is redone). */
  reset(): void;
}

/**
 * Reads a source file in chunks and writes typed chunks to the sink (see the module comment for the
 * optimistic single pass). Returns the schema and the row count.
 */
export async function ingestChunks(
  path: string,
  format: SourceFormat,
  opts: TypeOptions & { delimiter?: string; label?: string; /** Text bytes per chunk (tests use small ones). */ chunkBytes?: number },
  sink: ChunkSink,
): Promise<{ rows: number; passes: number; plan: Plan }> {
  const label = opts.label ?? path;
  const inference = new Inference(opts);
  let assumed: Plan | undefined;
  let ok = true;
  let rows = 0;
  for await (const t of rawChunks(path, format, opts.delimiter, label, opts.chunkBytes)) {
    inference.add(t);
    rows += t.columns.length ? t.columns[0].length : 0;
    if (!ok) continue;
    if (!assumed) {
      try {
        assumed = inference.plan(label);
      } catch (err) {
        // A column that `types`/`columns` names may only appear later (JSON Lines): decide at the end.
        if (format !== 'jsonl') throw err;
        ok = false;
        continue;
      }
    }
    try {
      sink.write(convertChunk(t, assumed));
    } catch (err) {
      if (!(err instanceof PlanMismatch)) throw err;
      ok = false;
    }
  }
  const final = inference.plan(label);
  if (ok && assumed && samePlan(assumed, final)) return { rows, passes: 1, plan: final };
  sink.reset();
  for await (const t of rawChunks(path, format, opts.delimiter, label, opts.chunkBytes)) {
    try {
      sink.write(convertChunk(t, final));
    } catch (err) {
      if (err instanceof PlanMismatch) throw new Error(`ingest: ${label} changed while it was read (a second pass found values the first did not)`);
      throw err;
    }
  }
  return { rows, passes: 2, plan: final };
}

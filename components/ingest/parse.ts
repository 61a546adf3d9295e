/**
 * Pure parsing and type inference for ingest: text (CSV, JSON Lines) or decoded rows (Parquet) in,
 * a typed Dataset out. Every error names the file, the line (or row) and the column.
 */
import { TerminalFailure } from '../../api/failure.ts';
import { columnFromCells, type Cell, type Column, type ColumnType, type Dataset } from '../dataset/index.ts';

/** The data cannot be read as given (a parse error, a missing column): terminal, a retry reads the same bytes (api/failure.ts). */
export class IngestError extends TerminalFailure {
  constructor(message: string) {
    super('InvalidInput', message);
    this.name = 'IngestError';
  }
}

/** Raw cells as read: strings from CSV, JSON scalars from JSON Lines and Parquet. */
export type RawCell = string | number | boolean | null;

export interface RawTable {
  readonly file: string;
  readonly names: string[];
  /** columns[c][r] */
  readonly columns: RawCell[][];
  /** Where row r came from, for messages: e.g. 'data.csv:17' or 'data.parquet row 17'. */
  readonly where: (row: number, col: number) => string;
}

/** Strings read as missing in CSV. */
export const NULL_TOKENS = new Set(['', 'NA', 'N/A', 'null', 'NULL', 'NaN', 'nan']);
const TRUE = new Set(['true', 'True', 'TRUE']);
const FALSE = new Set(['false', 'False', 'FALSE']);
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** A slice of a CSV file that holds whole records only: the file's header and the slice's first line number. */
export interface CsvPart {
  readonly header: readonly string[];
  readonly firstLine: number;
}

/**
 * RFC 4180 CSV: quoted fields may hold the delimiter, doubled quotes and newlines; CRLF or LF.
 * The first record is the header.
 */
export function parseCsv(text: string, file: string, delimiter = ',', part?: CsvPart): RawTable {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records: string[][] = [];
  const lines: number[] = [];
  let field = '';
  let record: string[] = [];
  let line = part?.firstLine ?? 1;
  let recordLine = line;
  let i = 0;
  let quoted = false;
  let fieldStarted = false;
  const n = text.length;
  const endRecord = (): void => {
    record.push(field);
    // A blank line (one empty unquoted field) is skipped.
    if (!(record.length === 1 && record[0] === '' && !fieldStarted)) {
      records.push(record);
      lines.push(recordLine);
    }
    record = [];
    field = '';
    fieldStarted = false;
  };
  while (i < n) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        const next = text[i];
        if (i < n && next !== delimiter && next !== '\n' && next !== '\r') {
          throw new IngestError(`${file}:${line}:${record.length + 1}: unexpected '${next}' after a closing quote; double a quote inside a quoted field ("")`);
        }
        continue;
      }
      // A quoted run: copy up to the next quote in one slice, counting newlines.
      let j = text.indexOf('"', i);
      if (j < 0) j = n;
      for (let q = i; q < j; q++) if (text.charCodeAt(q) === 10) line++;
      field += text.slice(i, j);
      i = j;
      continue;
    }
    if (ch === '"' && field === '') {
      quoted = true;
      fieldStarted = true;
      i++;
      continue;
    }
    if (ch === delimiter) {
      record.push(field);
      field = '';
      fieldStarted = true;
      i++;
      continue;
    }
    if (ch === '\r' || ch === '\n') {
      endRecord();
      if (ch === '\r' && text[i + 1] === '\n') i++;
      i++;
      line++;
      recordLine = line;
      continue;
    }
    // An unquoted run: copy up to the next delimiter or line end in one slice.
    let j = i + 1;
    while (j < n) {
      const c = text[j];
      if (c === delimiter || c === '\n' || c === '\r') break;
      j++;
    }
    field += text.slice(i, j);
    i = j;
  }
  if (quoted) throw new IngestError(`${file}:${recordLine}:${record.length + 1}: a quoted field is never closed; add the closing '"'`);
  if (field !== '' || record.length > 0 || fieldStarted) endRecord();
  if (part) {
    // A slice of a larger file (streaming): every record is data, under the file's header.
    records.unshift([...part.header]);
    lines.unshift(0);
  }
  if (records.length === 0) throw new IngestError(`${file}: the file is empty; a CSV needs a header line`);
  const names = part ? [...part.header] : records[0].map((h) => h.trim());
  if (!part) checkNames(names, (c) => `${file}:${lines[0]}:${c + 1}`);
  const columns: RawCell[][] = names.map(() => new Array<RawCell>(records.length - 1));
  for (let r = 1; r < records.length; r++) {
    const rec = records[r];
    if (rec.length !== names.length) {
      throw new IngestError(`${file}:${lines[r]}: expected ${names.length} fields (as in the header) but found ${rec.length}`);
    }
    for (let c = 0; c < names.length; c++) {
      const v = rec[c];
      columns[c][r - 1] = NULL_TOKENS.has(v) ? null : v;
    }
  }
  const dataLines = lines.slice(1);
  return { file, names, columns, where: (row, col) => `${file}:${dataLines[row]}:${col + 1}` };
}

function checkNames(names: string[], at: (c: number) => string): void {
  const seen = new Map<string, number>();
  names.forEach((h, c) => {
    if (h === '') throw new IngestError(`${at(c)}: column ${c + 1} has no name; give every column a header`);
    if (seen.has(h)) throw new IngestError(`${at(c)}: column name '${h}' appears twice (also column ${seen.get(h)! + 1}); rename one`);
    seen.set(h, c);
  });
}

/** JSON Lines: one JSON object per line; keys are columns (the union over all lines, in first-seen order). */
export function parseJsonl(text: string, file: string, firstLine = 1): RawTable {
  const rows: Record<string, unknown>[] = [];
  const lines: number[] = [];
  const names: string[] = [];
  const known = new Set<string>();
  const src = text.split('\n');
  for (let l = 0; l < src.length; l++) {
    const s = src[l].trim();
    if (s === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch (err) {
      throw new IngestError(`${file}:${l + firstLine}: not valid JSON (${(err as Error).message})`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      throw new IngestError(`${file}:${l + firstLine}: each line must be a JSON object ({"column": value, ...})`);
    for (const k of Object.keys(v)) {
      if (!known.has(k)) {
        known.add(k);
        names.push(k);
      }
    }
    rows.push(v as Record<string, unknown>);
    lines.push(l + firstLine);
  }
  const columns: RawCell[][] = names.map((name) =>
    rows.map((row, r) => {
      const x = row[name];
      if (x === undefined || x === null) return null;
      if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'string') return x;
      throw new IngestError(
        `${file}:${lines[r]} (column '${name}'): nested ${Array.isArray(x) ? 'array' : 'object'} values are not supported; flatten it into scalar columns`,
      );
    }),
  );
  return { file, names, columns, where: (row, col) => `${file}:${lines[row]} (column '${names[col]}')` };
}

/** A value decoded from Parquet as a raw cell: bigint becomes number, Date an ISO string, NaN missing. */
export function rawCellOf(x: unknown, where: () => string): RawCell {
  if (x === undefined || x === null) return null;
  if (typeof x === 'number') return Number.isNaN(x) ? null : x;
  if (typeof x === 'boolean' || typeof x === 'string') return x;
  if (typeof x === 'bigint') return Number(x);
  if (x instanceof Date) return x.toISOString();
  throw new IngestError(`${where()}: nested values are not supported; flatten it into scalar columns`);
}

/** Rows decoded from Parquet (hyparquet objects). bigint becomes number, Date an ISO string. */
export function tableFromObjects(rows: readonly Record<string, unknown>[], names: string[], file: string): RawTable {
  const columns: RawCell[][] = names.map((name) => rows.map((row, r) => rawCellOf(row[name], () => `${file} row ${r + 1} (column '${name}')`)));
  return { file, names, columns, where: (row, col) => `${file} row ${row + 1} (column '${names[col]}')` };
}

const isBool = (x: RawCell): boolean => typeof x === 'boolean' || (typeof x === 'string' && (TRUE.has(x) || FALSE.has(x)));
const isNum = (x: RawCell): boolean => typeof x === 'number' || (typeof x === 'string' && NUMBER.test(x.trim()));

/** The inference rule, documented in components/ingest: boolean, then numeric, then categorical (few distinct values), else string. */
export function inferType(cells: readonly RawCell[], maxCategories = 100): ColumnType {
  const s = new ColumnInference(maxCategories);
  s.add(cells);
  return s.type();
}

/** inferType's state, fed a column chunk at a time (streaming ingest gives the whole-column answer). */
export class ColumnInference {
  nonNull = 0;
  allBool = true;
  allNum = true;
  readonly distinct = new Set<string>();
  constructor(
    readonly maxCategories = 100,
    /** Keep every distinct value (a declared categorical column needs them all). */
    readonly collectAll = false,
  ) {}
  add(cells: readonly RawCell[]): void {
    const max = this.collectAll ? Infinity : this.maxCategories;
    for (const x of cells) {
      if (x === null) continue;
      this.nonNull++;
      if (this.allBool && !isBool(x)) this.allBool = false;
      if (this.allNum && !isNum(x)) this.allNum = false;
      if (this.distinct.size <= max) this.distinct.add(String(x));
    }
  }
  /**
   * `nonNull` present values whose distinct ones are `distinct`, in the order they first appear:
   * the same state as `add` over the values themselves.
   */
  addDistinct(distinct: readonly RawCell[], nonNull: number): void {
    this.add(distinct);
    this.nonNull += nonNull - distinct.length;
  }
  /** `n` present values that are numbers (parsed already): never boolean, always numeric. */
  addNumbers(n: number): void {
    if (n === 0) return;
    this.nonNull += n;
    this.allBool = false;
  }
  type(): ColumnType {
    if (this.nonNull === 0) return 'string';
    if (this.allBool) return 'boolean';
    if (this.allNum) return 'numeric';
    if (this.distinct.size <= this.maxCategories && this.distinct.size * 2 <= this.nonNull) return 'categorical';
    return 'string';
  }
  /** The categories a categorical column gets: its distinct values, sorted (as columnFromCells sorts them). */
  categories(): string[] {
    return [...this.distinct].sort();
  }
}

/** A raw cell as a value of `type`, or undefined when it doesn't fit. */
export function convertCell(x: RawCell, type: ColumnType): Cell | undefined {
  if (x === null) return null;
  switch (type) {
    case 'numeric':
      if (typeof x === 'number') return x;
      if (typeof x === 'boolean') return x ? 1 : 0;
      return NUMBER.test(x.trim()) ? Number(x) : undefined;
    case 'boolean':
      if (typeof x === 'boolean') return x;
      if (x === 1 || x === 0) return x === 1;
      if (typeof x === 'string') {
        if (TRUE.has(x) || x === '1') return true;
        if (FALSE.has(x) || x === '0') return false;
      }
      return undefined;
    case 'categorical':
    case 'string':
      return String(x);
  }
}

export interface TypeOptions {
  /** Declared types by column name; the others are inferred. */
  readonly types?: Readonly<Record<string, ColumnType>>;
  /** Keep only these columns, in this order. */
  readonly columns?: readonly string[];
  readonly maxCategories?: number;
}

export const TYPES: readonly ColumnType[] = ['numeric', 'categorical', 'boolean', 'string'];

export function typeTable(t: RawTable, opts: TypeOptions = {}): Dataset {
  for (const [name, type] of Object.entries(opts.types ?? {})) {
    if (!t.names.includes(name))
      throw new IngestError(`${t.file}: 'types' declares column '${name}', which the file doesn't have (it has ${t.names.join(', ')})`);
    if (!TYPES.includes(type)) throw new IngestError(`'types.${name}' is '${String(type)}'; use one of ${TYPES.join(', ')}`);
  }
  let keep = t.names.map((_, i) => i);
  if (opts.columns) {
    keep = opts.columns.map((name) => {
      const i = t.names.indexOf(name);
      if (i < 0) throw new IngestError(`${t.file}: 'columns' lists '${name}', which the file doesn't have (it has ${t.names.join(', ')})`);
      return i;
    });
  }
  const rows = t.columns.length ? t.columns[0].length : 0;
  const columns: Column[] = keep.map((c) => {
    const name = t.names[c];
    const raw = t.columns[c];
    const declared = opts.types?.[name];
    const type = declared ?? inferType(raw, opts.maxCategories);
    const cells: Cell[] = new Array(raw.length);
    // Inferred numeric columns already passed the number check: parse directly.
    const fast = !declared && type === 'numeric';
    for (let r = 0; r < raw.length; r++) {
      const x = raw[r];
      const v = fast ? (x === null ? null : Number(x)) : convertCell(x, type);
      if (v === undefined) {
        throw new IngestError(
          `${t.where(r, c)}: '${String(raw[r])}' is not ${type === 'numeric' ? 'a number' : 'a boolean (true/false/1/0)'}, but column '${name}' is ${declared ? 'declared' : 'inferred as'} ${type}`,
        );
      }
      cells[r] = v;
    }
    return columnFromCells(name, type, cells);
  });
  return { rows, columns };
}

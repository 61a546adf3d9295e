/**
 * The fast Parquet path of batch prediction: DuckDB (@duckdb/node-api, a native library shipped in
 * the npm package) decodes the file on its own threads, off the JavaScript thread, and casts the
 * feature columns to one FLOAT[k] array column, whose child vector is already the row-major
 * [rows, k] float32 matrix the model takes: a batch is filled by copying DuckDB's 2,048-row vectors
 * into a Float32Array, with no per-row JavaScript values. Kept columns (ids) come out as typed
 * arrays too (BIGINT → BigInt64Array, other numbers → Float64Array; strings as strings).
 *
 * It applies when the model has one float32 [N, k] input fed from numeric columns and every kept
 * column is a number or a string; otherwise (and for other formats) the streaming readers in
 * readers.ts are used, whose per-row conversion names a bad value's row and column.
 * Missing feature values are NaN, as readers.ts + fillColumn make them.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBResult } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import { BufferPool } from '../dataset/pool.ts';
import { BatchPredictError } from './plan.ts';
import type { Chunk, TableReader } from './readers.ts';

/** DuckDB column types read as numbers (Float64Array) or, for BIGINT, as BigInt64Array. */
const NUMERIC = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'FLOAT', 'DOUBLE', 'HUGEINT', 'UBIGINT']);
/** Kept column types read as the generic reader reads them (hyparquet: INT64 → bigint, other numbers → number). */
const KEEPABLE = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'FLOAT', 'DOUBLE', 'VARCHAR']);
const isDecimal = (t: string) => /^DECIMAL\(/.test(t);

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** A Chunk whose single [N, k] float32 model input is already built. */
export interface MatrixChunk extends Chunk {
  readonly matrix?: Float32Array;
}

export interface FastParquetPlan {
  readonly features: readonly string[];
  readonly keep: readonly string[];
}

/** The file's columns and their DuckDB types, or undefined when DuckDB can't read it (the caller falls back). */
export async function parquetColumnTypes(path: string): Promise<Map<string, string> | undefined> {
  let instance: DuckDBInstance | undefined;
  try {
    instance = await DuckDBInstance.create(':memory:');
    const con = await instance.connect();
    const r = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${literal(path)})`);
    const rows = r.getRowObjects() as { column_name: string; column_type: string }[];
    con.closeSync();
    return new Map(rows.map((x) => [String(x.column_name), String(x.column_type)]));
  } catch {
    return undefined;
  } finally {
    instance?.closeSync();
  }
}

/** Rows of the file, and throws FastPathNulls when one of `nonNull` has a missing value. */
async function countRows(con: DuckDBConnection, path: string, nonNull: readonly string[]): Promise<number> {
  const sql = `SELECT ${['count(*)::BIGINT', ...nonNull.map((c) => `count(${ident(c)})::BIGINT`)].join(', ')} FROM read_parquet(${literal(path)})`;
  const row = (await con.runAndReadAll(sql)).getRows()[0].map(Number);
  const bad = nonNull.findIndex((_, j) => row[j + 1] !== row[0]);
  if (bad >= 0) throw new FastPathNulls(nonNull[bad]);
  return row[0];
}

/** Thrown when a kept numeric column has missing values (a typed array can't hold them): predict then reads the file with the generic reader. */
export class FastPathNulls extends Error {
  constructor(readonly column: string) {
    super(`kept column '${column}' has missing values`);
  }
}

/** Whether the fast path reads this plan: numeric features, numeric or string kept columns. */
export function fastPathApplies(types: ReadonlyMap<string, string>, plan: FastParquetPlan): boolean {
  const numeric = (c: string) => {
    const t = types.get(c);
    return t !== undefined && (NUMERIC.has(t) || isDecimal(t));
  };
  return plan.features.length > 0 && plan.features.every(numeric) && plan.keep.every((c) => KEEPABLE.has(types.get(c) ?? ''));
}

/**
 * Opens `path` through DuckDB for `plan`. Chunks of `batchRows` rows carry the kept columns in
 * `columns` and the features as `matrix` (row-major [rows, k] float32). `threads`: DuckDB's.
 */
export async function openFastParquet(
  path: string,
  types: ReadonlyMap<string, string>,
  plan: FastParquetPlan,
  batchRows: number,
  threads: number,
): Promise<TableReader> {
  const instance = await DuckDBInstance.create(':memory:', { threads: String(Math.max(1, threads)) });
  let con: DuckDBConnection | undefined;
  let result: DuckDBResult;
  const k = plan.features.length;
  const keepSql = plan.keep.map((c) => {
    const t = types.get(c)!;
    return t === 'BIGINT' || t === 'VARCHAR' ? ident(c) : `CAST(${ident(c)} AS DOUBLE) AS ${ident(c)}`;
  });
  const x = `[${plan.features.map((c) => `ifnull(CAST(${ident(c)} AS FLOAT), 'NaN'::FLOAT)`).join(', ')}]::FLOAT[${k}] AS "__ghosteam_features"`;
  let total = 0;
  try {
    con = await instance.connect();
    total = await countRows(
      con,
      path,
      plan.keep.filter((c) => types.get(c) !== 'VARCHAR'),
    );
    // preserve_insertion_order (the default) keeps the file's row order across DuckDB's threads.
    result = await con.stream(`SELECT ${[...keepSql, x].join(', ')} FROM read_parquet(${literal(path)})`);
  } catch (e) {
    con?.closeSync();
    instance.closeSync();
    if (e instanceof FastPathNulls) throw e;
    throw new BatchPredictError(`${path}: not a readable Parquet file (${(e as Error).message})`, { cause: e });
  }
  const keepKinds = plan.keep.map((c) => (types.get(c) === 'BIGINT' ? 'int64' : types.get(c) === 'VARCHAR' ? 'string' : 'float64'));
  let done = 0;
  let closed = false;
  // A batch's matrix and its 8-byte kept columns come from a pool and go back to it (recycle):
  // the few batches in flight are cycled instead of fresh memory per batch (../dataset/pool.ts).
  const pool = new BufferPool(8 * batchRows * (k * 4 + 8 * plan.keep.length));
  const take = (bytes: number): ArrayBuffer => pool.take(bytes);

  async function* chunks(): AsyncGenerator<MatrixChunk> {
    let pending: { rows: number; matrix: Float32Array; keep: (Float64Array | BigInt64Array | (string | null)[])[] } | undefined;
    // Every element up to `rows` is written before a chunk is emitted, so a recycled buffer needs no clearing.
    const fresh = () => ({
      rows: 0,
      matrix: new Float32Array(take(batchRows * k * 4)),
      keep: keepKinds.map((kind) =>
        kind === 'int64'
          ? new BigInt64Array(take(batchRows * 8))
          : kind === 'float64'
            ? new Float64Array(take(batchRows * 8))
            : new Array<string | null>(batchRows),
      ),
    });
    const emit = (p: NonNullable<typeof pending>): MatrixChunk => {
      const base = done;
      done += p.rows;
      const columns = new Map<string, ArrayLike<unknown>>();
      plan.keep.forEach((c, j) => {
        let v: ArrayLike<unknown> = p.keep[j];
        if (!Array.isArray(v) && p.rows < batchRows) v = (v as Float64Array | BigInt64Array).subarray(0, p.rows);
        else if (Array.isArray(v) && p.rows < batchRows) v = v.slice(0, p.rows);
        columns.set(c, v);
      });
      return {
        rows: p.rows,
        columns,
        matrix: p.rows < batchRows ? p.matrix.subarray(0, p.rows * k) : p.matrix,
        where: (r) => `${path} row ${base + r + 1}`,
      };
    };
    while (!closed) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const n = chunk.rowCount;
      const raw = chunk.chunk;
      const xv = duckdb.data_chunk_get_vector(raw, plan.keep.length);
      const child = duckdb.array_vector_get_child(xv);
      const data = duckdb.vector_get_data(child, n * k * 4);
      const floats = new Float32Array(data.buffer, data.byteOffset, n * k);
      let at = 0;
      while (at < n) {
        pending ??= fresh();
        const take = Math.min(n - at, batchRows - pending.rows);
        pending.matrix.set(floats.subarray(at * k, (at + take) * k), pending.rows * k);
        for (let j = 0; j < plan.keep.length; j++) {
          const kind = keepKinds[j];
          const vec = duckdb.data_chunk_get_vector(raw, j);
          if (kind === 'string') {
            const values = chunk.getColumnVector(j);
            const dst = pending.keep[j] as (string | null)[];
            for (let r = 0; r < take; r++) {
              const v = values.getItem(at + r);
              dst[pending.rows + r] = v === null ? null : String(v);
            }
            continue;
          }
          const bytes = duckdb.vector_get_data(vec, n * 8);
          const dst = pending.keep[j] as Float64Array | BigInt64Array;
          const src = kind === 'int64' ? new BigInt64Array(bytes.buffer, bytes.byteOffset, n) : new Float64Array(bytes.buffer, bytes.byteOffset, n);
          (dst as Float64Array).set(src.subarray(at, at + take) as Float64Array, pending.rows);
        }
        pending.rows += take;
        at += take;
        if (pending.rows === batchRows) {
          yield emit(pending);
          pending = undefined;
        }
      }
    }
    if (pending && pending.rows > 0) yield emit(pending);
  }
  return {
    format: 'parquet',
    columns: [...types.keys()],
    totalRows: total,
    progress: () => (total ? done / total : 1),
    chunks,
    recycle(buffer) {
      // A kept column's buffer is the one lent; a matrix went to the model's worker thread and back.
      if (buffer instanceof ArrayBuffer && buffer.byteLength === batchRows * k * 4) pool.giveMoved(buffer, batchRows * k * 4);
      else pool.give(buffer);
    },
    close: async () => {
      closed = true;
      con?.closeSync();
      instance.closeSync();
    },
  };
}

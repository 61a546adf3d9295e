/**
 * The fast Parquet path for feature sources and entity rows: DuckDB (@duckdb/node-api, the native
 * library batch prediction already reads Parquet with) decodes the file on its own threads and hands
 * back each needed column as 8-byte numbers: numbers as float64 (NaN where missing), timestamps as
 * epoch milliseconds (a column marked with `epochMsColumn`, which `timestampsOf` reads as is). No
 * per-cell JavaScript value is made; hyparquet's row assembly and the RFC 3339 text round trip of
 * timestamps were most of a join's time (bench:features).
 *
 * It applies when every column asked for is a number or a timestamp in the file; otherwise (strings,
 * booleans, a timestamp stored as text) the caller reads the file with ingest's reader, whose errors
 * name the row.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import type { Column, Dataset } from '../dataset/index.ts';
import { epochMsColumn } from './columns.ts';

const NUMERIC = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'FLOAT', 'DOUBLE']);
const TIME = /^TIMESTAMP( WITH TIME ZONE|_S|_MS|_NS)?$/;
const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

export interface FastColumn {
  readonly name: string;
  readonly kind: 'number' | 'time';
}

/** The columns, read through DuckDB; undefined when the fast path does not apply (see the module comment). */
export async function readParquetFast(path: string, columns: readonly FastColumn[]): Promise<Dataset | undefined> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) return undefined; // s3:// and the like: ingest's reader
  let instance: DuckDBInstance | undefined;
  try {
    instance = await DuckDBInstance.create(':memory:');
    const con = await instance.connect();
    try {
      const described = (await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${literal(path)})`)).getRowObjects() as {
        column_name: string;
        column_type: string;
      }[];
      const types = new Map(described.map((x) => [String(x.column_name), String(x.column_type)]));
      for (const c of columns) {
        const t = types.get(c.name);
        if (t === undefined || !(c.kind === 'number' ? NUMERIC.has(t) : TIME.test(t))) return undefined;
      }
      const total = Number((await con.runAndReadAll(`SELECT count(*)::BIGINT FROM read_parquet(${literal(path)})`)).getRows()[0][0]);
      const select = columns.map((c) =>
        c.kind === 'number'
          ? `ifnull(CAST(${ident(c.name)} AS DOUBLE), 'NaN'::DOUBLE)`
          : `ifnull(CAST(epoch_us(${ident(c.name)}) AS DOUBLE) / 1000, 'NaN'::DOUBLE)`,
      );
      const out = columns.map(() => new Float64Array(total));
      const result = await con.stream(`SELECT ${select.join(', ')} FROM read_parquet(${literal(path)})`);
      let at = 0;
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        const n = chunk.rowCount;
        for (let j = 0; j < columns.length; j++) {
          const bytes = duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk.chunk, j), n * 8);
          out[j].set(new Float64Array(bytes.buffer, bytes.byteOffset, n), at);
        }
        at += n;
      }
      if (at !== total) throw new Error(`read ${at} rows of ${total}`);
      const cols: Column[] = columns.map((c, j) => (c.kind === 'time' ? epochMsColumn(c.name, out[j]) : { name: c.name, type: 'numeric', values: out[j] }));
      return { rows: total, columns: cols };
    } finally {
      con.closeSync();
    }
  } catch {
    return undefined; // not readable by DuckDB: ingest's reader says what is wrong
  } finally {
    instance?.closeSync();
  }
}

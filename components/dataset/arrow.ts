/**
 * Dataset ⇄ Apache Arrow IPC file (Feather v2), on the maintained `apache-arrow` library. Writing is
 * canonical (see index.ts); reading accepts what pandas, pyarrow and polars write: several record
 * batches, any integer or float width, large strings, dictionaries of any index width, dates and
 * timestamps (as ISO strings), and compressed buffers when a codec is registered.
 */
import {
  Bool,
  type Data,
  Dictionary,
  Field,
  Float64,
  Int32,
  makeData,
  makeVector,
  Schema,
  Table,
  tableFromIPC,
  tableToIPC,
  Type,
  Utf8,
  vectorFromArray,
  type DataType,
  type Vector,
} from 'apache-arrow';
import { registerArrowCodecs } from './codecs.ts';
import { BOOLEAN_NULL, DatasetError, type Column, type Dataset } from './types.ts';

/** The first six bytes of an Arrow IPC file ("ARROW1"). */
export const ARROW_MAGIC = Buffer.from('ARROW1');

function validity(n: number, isValid: (i: number) => boolean): { bitmap: Uint8Array; nulls: number } {
  const bitmap = new Uint8Array((n + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    if (isValid(i)) bitmap[i >> 3] |= 1 << (i & 7);
    else nulls++;
  }
  return { bitmap, nulls };
}

/**
 * One column as an Arrow vector; `dictionary` reuses a categorical column's dictionary (streamed
 * files write it once). `inPlace`: the column's arrays are the caller's to give away, and are
 * rewritten into Arrow's buffers (canonical null slots) instead of copied.
 */
export function columnVector(c: Column, id: number, rows: number, dictionary?: Vector, inPlace = false): Vector {
  switch (c.type) {
    case 'numeric': {
      // Canonical values in null slots (0), so equal data gives equal bytes whatever NaN payload came in.
      const src = c.values;
      const own = inPlace && src.length >= rows;
      const v = own ? src.subarray(0, rows) : new Float64Array(rows);
      if (!own) v.set(src.subarray(0, rows));
      // One pass: each byte of the bitmap from 8 values; only null slots are written (v holds the values already).
      const bitmap = new Uint8Array((rows + 7) >> 3);
      let nulls = 0;
      for (let i = 0; i < rows; i += 8) {
        const end = Math.min(rows, i + 8);
        let bits = 0;
        for (let k = i; k < end; k++) {
          const x = v[k];
          if (x === x) bits |= 1 << (k - i);
          else {
            v[k] = 0;
            nulls++;
          }
        }
        bitmap[i >> 3] = bits;
      }
      return makeVector(makeData({ type: new Float64(), length: rows, nullCount: nulls, nullBitmap: nulls ? bitmap : undefined, data: v }));
    }
    case 'boolean': {
      const bits = new Uint8Array((rows + 7) >> 3);
      for (let i = 0; i < rows; i++) if (c.values[i] === 1) bits[i >> 3] |= 1 << (i & 7);
      const { bitmap, nulls } = validity(rows, (i) => c.values[i] !== BOOLEAN_NULL);
      return makeVector(makeData({ type: new Bool(), length: rows, nullCount: nulls, nullBitmap: nulls ? bitmap : undefined, data: bits }));
    }
    case 'categorical': {
      const src = c.codes;
      const own = inPlace && src.length >= rows;
      const codes = own ? src.subarray(0, rows) : new Int32Array(rows);
      if (!own) codes.set(src.subarray(0, rows));
      // As for numbers: a bitmap byte per 8 codes; only null slots (code < 0) are rewritten, to 0.
      const bitmap = new Uint8Array((rows + 7) >> 3);
      let nulls = 0;
      for (let i = 0; i < rows; i += 8) {
        const end = Math.min(rows, i + 8);
        let bits = 0;
        for (let j = i; j < end; j++) {
          if (codes[j] >= 0) bits |= 1 << (j - i);
          else {
            codes[j] = 0;
            nulls++;
          }
        }
        bitmap[i >> 3] = bits;
      }
      // A fixed dictionary id per column: apache-arrow otherwise numbers dictionaries from a
      // process-wide counter, and the id is in the bytes.
      const type = new Dictionary(new Utf8(), new Int32(), id, false);
      return makeVector(
        makeData({
          type,
          length: rows,
          nullCount: nulls,
          nullBitmap: nulls ? bitmap : undefined,
          data: codes,
          dictionary: dictionary ?? vectorFromArray([...c.categories], new Utf8()),
        }),
      );
    }
    case 'string':
      return vectorFromArray(c.values as (string | null)[], new Utf8());
  }
}

export function encodeArrow(ds: Dataset): Uint8Array {
  const vectors = ds.columns.map((c, i) => columnVector(c, i, ds.rows));
  const schema = new Schema(ds.columns.map((c, i) => new Field(c.name, vectors[i].type, true)));
  const table = ds.columns.length ? new Table(schema, Object.fromEntries(ds.columns.map((c, i) => [c.name, vectors[i]]))) : new Table(schema);
  return tableToIPC(table, 'file');
}

/** The chunk's validity bits, or undefined when every value is valid. */
function validBits(d: Data): Uint8Array | undefined {
  return d.nullCount > 0 && d.nullBitmap && d.nullBitmap.length > 0 ? d.nullBitmap : undefined;
}
const bitAt = (bits: Uint8Array, j: number): boolean => (bits[j >> 3] & (1 << (j & 7))) !== 0;

function typeName(t: DataType): string {
  return String(t);
}

/** Decodes one column (all its chunks) into our column type (also one record batch at a time, for streaming readers). */
export function readColumn(name: string, type: DataType, chunks: readonly Data[], rows: number, where: string): Column {
  const unsupported = (): never => {
    throw new DatasetError(
      `${where}: column '${name}' has Arrow type ${typeName(type)}, which a ghosteam dataset does not hold; cast it to float64, int64, bool, string or category before writing (pandas: df['${name}'].astype(...))`,
      where,
    );
  };
  switch (type.typeId) {
    case Type.Int:
    case Type.Float: {
      if (type.typeId === Type.Float && (type as unknown as { precision: number }).precision === 0) unsupported(); // float16
      const v = new Float64Array(rows);
      let r = 0;
      for (const d of chunks) {
        const src = d.values as Float64Array | Float32Array | Int32Array | BigInt64Array;
        const off = d.offset;
        const n = d.length;
        // The common cases are one typed-array copy; only 64-bit integers need a per-value Number().
        if (src instanceof BigInt64Array || src instanceof BigUint64Array) for (let i = 0; i < n; i++) v[r + i] = Number(src[off + i]);
        else v.set(src.subarray(off, off + n), r);
        const bits = validBits(d);
        if (bits) {
          // Walk the validity bitmap a byte at a time: a byte of all-valid values (0xff) is skipped.
          for (let i = 0; i < n;) {
            const j = off + i;
            if ((j & 7) === 0 && i + 8 <= n && bits[j >> 3] === 0xff) {
              i += 8;
              continue;
            }
            if (!bitAt(bits, j)) v[r + i] = NaN;
            i++;
          }
        }
        r += n;
      }
      return { name, type: 'numeric', values: v };
    }
    case Type.Bool: {
      const v = new Uint8Array(rows);
      let r = 0;
      for (const d of chunks) {
        const bits = d.values as Uint8Array;
        const valid = validBits(d);
        for (let i = 0; i < d.length; i++, r++) {
          const j = d.offset + i;
          v[r] = valid && !bitAt(valid, j) ? BOOLEAN_NULL : (bits[j >> 3] >> (j & 7)) & 1;
        }
      }
      return { name, type: 'boolean', values: v };
    }
    case Type.Dictionary: {
      const categories: string[] = [];
      const index = new Map<string, number>();
      const codes = new Int32Array(rows);
      let r = 0;
      for (const d of chunks) {
        const dict = d.dictionary;
        if (!dict) throw new DatasetError(`${where}: column '${name}' is a dictionary without its dictionary batch (truncated file?)`, where);
        // Map this chunk's dictionary into the column's categories (first appearance order).
        const map = new Int32Array(dict.length);
        for (let k = 0; k < dict.length; k++) {
          const value = dict.get(k);
          const s = value === null ? null : String(value);
          if (s === null) {
            map[k] = -1;
            continue;
          }
          let at = index.get(s);
          if (at === undefined) {
            at = categories.length;
            categories.push(s);
            index.set(s, at);
          }
          map[k] = at;
        }
        const src = d.values as ArrayLike<number | bigint>;
        const valid = validBits(d);
        for (let i = 0; i < d.length; i++, r++) codes[r] = valid && !bitAt(valid, d.offset + i) ? -1 : map[Number(src[d.offset + i])];
      }
      return { name, type: 'categorical', categories, codes };
    }
    case Type.Utf8:
    case Type.LargeUtf8:
    case Type.Utf8View:
    case Type.Date:
    case Type.Timestamp: {
      const values: (string | null)[] = new Array(rows);
      const isTime = type.typeId === Type.Date || type.typeId === Type.Timestamp;
      let r = 0;
      for (const d of chunks) {
        const vec = makeVector(d);
        for (let i = 0; i < d.length; i++, r++) {
          const x = vec.get(i) as unknown;
          values[r] = x === null || x === undefined ? null : isTime ? new Date(Number(x)).toISOString() : String(x);
        }
      }
      return { name, type: 'string', values };
    }
    default:
      return unsupported();
  }
}

export function decodeArrow(buf: Uint8Array, where: string): Dataset {
  registerArrowCodecs();
  let table: Table;
  try {
    table = tableFromIPC(buf);
  } catch (err) {
    const msg = (err as Error).message;
    const codec = /compression|codec/i.test(msg);
    throw new DatasetError(
      codec
        ? `${where}: the Arrow file is compressed with a codec ghosteam cannot read (${msg}); write it uncompressed, LZ4 or ZSTD (pandas: df.to_feather(path, compression='uncompressed'))`
        : `${where}: the Arrow file is corrupt or truncated (${msg})`,
      where,
      { cause: err },
    );
  }
  const rows = table.numRows;
  const columns = table.schema.fields.map((f, j) => {
    const vec = table.getChildAt(j);
    return readColumn(f.name, f.type, vec ? vec.data : [], rows, where);
  });
  return { rows, columns };
}

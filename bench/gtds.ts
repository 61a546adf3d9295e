/**
 * GTDS ("ghosteam tabular dataset"), the format datasets passed between steps in before Apache
 * Arrow IPC replaced it (components/dataset). Kept here ONLY as the same-run baseline of
 * `npm run bench:engine`; nothing in the product reads or writes it.
 *
 * Layout (little-endian): magic "GTDS\x00\x01\x00\x00", uint32 header length, JSON header
 * { rows, columns: [{ name, type, categories?, offset, length }] }, then 8-byte-aligned column
 * blocks (numeric Float64, boolean Uint8, categorical Int32 codes, string JSON).
 */
import type { Column, ColumnType, Dataset } from '../components/dataset/index.ts';

const MAGIC = Buffer.from([0x47, 0x54, 0x44, 0x53, 0x00, 0x01, 0x00, 0x00]);

interface HeaderColumn {
  name: string;
  type: ColumnType;
  categories?: string[];
  offset: number;
  length: number;
}

const align8 = (n: number): number => (n + 7) & ~7;

/** Serialises a dataset to GTDS bytes (deterministic: equal datasets give equal bytes). */
export function encodeGtds(ds: Dataset): Buffer {
  const blocks: Buffer[] = ds.columns.map((c) => {
    switch (c.type) {
      case 'numeric': {
        // Copy (canonicalising NaN payloads, so equal data gives equal bytes). x86 and arm are LE.
        const v = new Float64Array(c.values.length);
        for (let i = 0; i < v.length; i++) {
          const x = c.values[i];
          v[i] = x === x ? x : NaN;
        }
        return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      }
      case 'boolean':
        return Buffer.from(c.values.buffer, c.values.byteOffset, c.values.byteLength);
      case 'categorical': {
        const v = new Int32Array(c.codes);
        return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      }
      case 'string':
        return Buffer.from(JSON.stringify(c.values), 'utf8');
    }
  });
  // The header holds offsets, which depend on the header's own length: iterate until stable.
  let headerLen = 0;
  let header = '';
  for (let pass = 0; pass < 4; pass++) {
    let off = align8(12 + headerLen);
    const cols: HeaderColumn[] = ds.columns.map((c, i) => {
      const h: HeaderColumn = { name: c.name, type: c.type, offset: off, length: blocks[i].length };
      if (c.type === 'categorical') h.categories = [...c.categories];
      off = align8(off + blocks[i].length);
      return h;
    });
    header = JSON.stringify({ rows: ds.rows, columns: cols });
    const len = Buffer.byteLength(header);
    if (len === headerLen) break;
    headerLen = len;
  }
  const hb = Buffer.from(header, 'utf8');
  let total = align8(12 + hb.length);
  for (const b of blocks) total = align8(total + b.length);
  const out = Buffer.alloc(total);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(hb.length, 8);
  hb.copy(out, 12);
  let off = align8(12 + hb.length);
  for (const b of blocks) {
    b.copy(out, off);
    off = align8(off + b.length);
  }
  return out;
}

/** Parses GTDS bytes. `where` names the file in error messages. */
export function decodeGtds(buf: Uint8Array, where = 'dataset'): Dataset {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 12 || !b.subarray(0, 8).equals(MAGIC)) {
    throw new Error(`${where}: not a GTDS v1 file`);
  }
  const hlen = b.readUInt32LE(8);
  let header: { rows: number; columns: HeaderColumn[] };
  try {
    header = JSON.parse(b.subarray(12, 12 + hlen).toString('utf8'));
  } catch (err) {
    throw new Error(`${where}: the GTDS header is corrupt`, { cause: err });
  }
  const rows = header.rows;
  const columns = header.columns.map((h): Column => {
    if (h.offset + h.length > b.length) throw new Error(`${where}: column '${h.name}' runs past the end of the file`);
    const block = b.subarray(h.offset, h.offset + h.length);
    switch (h.type) {
      case 'numeric': {
        // Copy into an aligned buffer: the source Buffer may come from a pool at any offset.
        const v = new Float64Array(rows);
        new Uint8Array(v.buffer).set(block);
        return { name: h.name, type: 'numeric', values: v };
      }
      case 'boolean':
        return { name: h.name, type: 'boolean', values: new Uint8Array(block) };
      case 'categorical': {
        const v = new Int32Array(rows);
        new Uint8Array(v.buffer).set(block);
        return { name: h.name, type: 'categorical', categories: h.categories ?? [], codes: v };
      }
      case 'string':
        return { name: h.name, type: 'string', values: JSON.parse(block.toString('utf8')) as (string | null)[] };
      default:
        throw new Error(`${where}: column '${h.name}' has an unknown type`);
    }
  });
  return { rows, columns };
}

/**
 * Dataset artifact write/read on 1M rows × 20 columns (18 float columns with 1% missing, one
 * categorical with 5 categories, one boolean): the Apache Arrow IPC file the components exchange
 * (components/dataset) against GTDS, the format it replaced (bench/gtds.ts), measured in the same
 * run on the same data. Write = encode + atomic write to disk; read = read from disk + decode into
 * the columns the components use. Median of 3. Part of `npm run bench:engine`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { decodeDataset, encodeDataset, type Column, type Dataset } from '../components/dataset/index.ts';
import { mulberry32 } from '../components/random.ts';
import { decodeGtds, encodeGtds } from './gtds.ts';

export interface DatasetBench {
  rows: number;
  columns: number;
  arrowWriteMs: number;
  arrowReadMs: number;
  arrowBytes: number;
  gtdsWriteMs: number;
  gtdsReadMs: number;
  gtdsBytes: number;
}

export function benchDataset(rows: number): Dataset {
  const r = mulberry32(5);
  const columns: Column[] = [];
  for (let c = 0; c < 18; c++) {
    const v = new Float64Array(rows);
    for (let i = 0; i < rows; i++) v[i] = r() < 0.01 ? NaN : r() * 100 - 50;
    columns.push({ name: `f${c}`, type: 'numeric', values: v });
  }
  const codes = new Int32Array(rows);
  for (let i = 0; i < rows; i++) codes[i] = Math.floor(r() * 5);
  columns.push({ name: 'segment', type: 'categorical', categories: ['a', 'b', 'c', 'd', 'e'], codes });
  const flags = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) flags[i] = r() < 0.5 ? 1 : 0;
  columns.push({ name: 'flag', type: 'boolean', values: flags });
  return { rows, columns };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function runDatasetBench(dir: string, rows = 1_000_000, reps = 3): Promise<DatasetBench> {
  const ds = benchDataset(rows);
  const formats = {
    arrow: { encode: (d: Dataset) => encodeDataset(d), decode: (b: Buffer) => decodeDataset(b) },
    gtds: { encode: (d: Dataset) => encodeGtds(d), decode: (b: Buffer) => decodeGtds(b) },
  };
  // Warm both codecs up (JIT) on a small dataset first, untimed.
  const warm = benchDataset(50_000);
  for (const f of Object.values(formats)) f.decode(Buffer.from(f.encode(warm)));
  const out: Record<string, { write: number[]; read: number[]; bytes: number }> = {
    arrow: { write: [], read: [], bytes: 0 },
    gtds: { write: [], read: [], bytes: 0 },
  };
  for (let rep = 0; rep < reps; rep++) {
    // Interleaved, so machine noise hits both formats alike.
    for (const [name, f] of Object.entries(formats)) {
      const path = join(dir, `bench.${name}`);
      let t = performance.now();
      const bytes = f.encode(ds);
      await writeFileAtomic(path, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      out[name].write.push(performance.now() - t);
      out[name].bytes = bytes.byteLength;
      t = performance.now();
      const back = f.decode(await readFile(path));
      out[name].read.push(performance.now() - t);
      if (back.rows !== rows || back.columns.length !== 20) throw new Error(`${name}: read back ${back.rows} × ${back.columns.length}`);
    }
  }
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    rows,
    columns: ds.columns.length,
    arrowWriteMs: round(median(out.arrow.write)),
    arrowReadMs: round(median(out.arrow.read)),
    arrowBytes: out.arrow.bytes,
    gtdsWriteMs: round(median(out.gtds.write)),
    gtdsReadMs: round(median(out.gtds.read)),
    gtdsBytes: out.gtds.bytes,
  };
}

/**
 * split: a seeded train/test split, stratified by a column when asked.
 *
 * Params:
 *   testFraction  share of rows for the test set, (0, 1) (default 0.2)
 *   seed          PRNG seed (default 42); the same seed and data give the same split
 *   stratify      column whose class proportions both sets keep (usually the label); optional
 * Rows keep their original order inside each output. Missing values in the stratify column form
 * their own group.
 * Output params: trainRows, testRows.
 *
 * Streamed in two passes over the record batches: the first reads only the stratify column (a
 * group id per row: 4 bytes a row), the second copies each batch's rows to the train or test
 * file. The split is the one `splitIndices` gives in memory, row for row.
 */
import { defineComponent } from '../component.ts';
import { cellAt, DatasetWriter, getColumn, readDatasetChunks, takeRows, type Dataset } from '../dataset/index.ts';
import { Params } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { mulberry32, shuffleInPlace } from '../random.ts';

export interface SplitOptions {
  readonly testFraction: number;
  readonly seed: number;
  readonly stratify?: string;
}

/** Pure: row indices of the train and test sets (each ascending). */
export function splitIndices(ds: Dataset, opts: SplitOptions): { train: number[]; test: number[] } {
  const col = opts.stratify ? getColumn(ds, opts.stratify) : undefined;
  const groups = new Grouping();
  groups.add(ds.rows, col ? (i) => JSON.stringify(cellAt(col, i)) : undefined);
  const isTest = groups.assign(opts);
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < ds.rows; i++) (isTest[i] ? test : train).push(i);
  return { train, test };
}

/** Group ids per row (by the stratify key), fed chunk by chunk; `assign` draws the split. */
class Grouping {
  private ids = new Int32Array(1024);
  rows = 0;
  private readonly keys = new Map<string, number>();
  add(n: number, key?: (i: number) => string): void {
    if (this.rows + n > this.ids.length) {
      const b = new Int32Array(Math.max(this.ids.length * 2, this.rows + n));
      b.set(this.ids.subarray(0, this.rows));
      this.ids = b;
    }
    for (let i = 0; i < n; i++) {
      const k = key ? key(i) : '';
      let g = this.keys.get(k);
      if (g === undefined) this.keys.set(k, (g = this.keys.size));
      this.ids[this.rows + i] = g;
    }
    this.rows += n;
  }
  /** 1 where the row goes to the test set. Same draws as shuffling each group's row list in key order. */
  assign(opts: SplitOptions): Uint8Array {
    if (!(opts.testFraction > 0 && opts.testFraction < 1)) throw new Error(`split: testFraction must be between 0 and 1 (exclusive), got ${opts.testFraction}`);
    const n = this.rows;
    const G = this.keys.size;
    const sizes = new Int32Array(G);
    for (let i = 0; i < n; i++) sizes[this.ids[i]]++;
    const start = new Int32Array(G + 1);
    for (let g = 0; g < G; g++) start[g + 1] = start[g] + sizes[g];
    const members = new Int32Array(n);
    const fill = start.slice(0, G);
    for (let i = 0; i < n; i++) members[fill[this.ids[i]]++] = i;
    const rand = mulberry32(opts.seed);
    const isTest = new Uint8Array(n);
    for (const key of [...this.keys.keys()].sort()) {
      const g = this.keys.get(key)!;
      const list = members.subarray(start[g], start[g + 1]);
      shuffleInPlace(list, rand);
      const nTest = Math.round(list.length * opts.testFraction);
      for (let k = 0; k < nTest; k++) isTest[list[k]] = 1;
    }
    return isTest;
  }
}

/** Splits a dataset file into train and test files, streaming (see the module comment). */
export async function splitFile(
  input: string,
  trainPath: string,
  testPath: string,
  opts: SplitOptions,
): Promise<{ trainRows: number; testRows: number; rows: number }> {
  if (!(opts.testFraction > 0 && opts.testFraction < 1)) throw new Error(`split: testFraction must be between 0 and 1 (exclusive), got ${opts.testFraction}`);
  const groups = new Grouping();
  for await (const chunk of readDatasetChunks(input, { columns: opts.stratify ? [opts.stratify] : [] })) {
    const col = chunk.columns[0];
    groups.add(chunk.rows, col ? (i) => JSON.stringify(cellAt(col, i)) : undefined);
  }
  const isTest = groups.assign(opts);
  const train = new DatasetWriter(trainPath);
  const test = new DatasetWriter(testPath);
  try {
    for await (const chunk of readDatasetChunks(input)) {
      const a: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < chunk.rows; i++) (isTest[chunk.offset + i] ? b : a).push(i);
      train.write(takeRows(chunk, a));
      test.write(takeRows(chunk, b));
    }
  } catch (err) {
    train.abort();
    test.abort();
    throw err;
  }
  await train.close();
  await test.close();
  return { trainRows: train.rows, testRows: test.rows, rows: groups.rows };
}

export const split = defineComponent({
  name: 'split',
  version: '2',
  description: 'Seeded train/test split, optionally stratified by a column',
  inputs: [{ name: 'dataset', kind: 'dataset' }],
  outputs: [
    { name: 'train', kind: 'dataset' },
    { name: 'test', kind: 'dataset' },
  ],
  outputParams: ['trainRows', 'testRows'],
  params: PARAMS.split,
  async run(ctx) {
    const p = new Params('split', ctx, PARAMS.split);
    const t0 = performance.now();
    const r = await splitFile(p.input('dataset'), p.output('train'), p.output('test'), {
      testFraction: p.number('testFraction', 0.2, { min: 0, max: 1 }),
      seed: p.number('seed', 42, { integer: true }),
      stratify: p.string('stratify', undefined),
    });
    const secs = (performance.now() - t0) / 1000;
    ctx.log(
      `split ${r.rows} rows into ${r.trainRows} train and ${r.testRows} test in ${secs.toFixed(2)}s (${Math.round(r.rows / Math.max(secs, 1e-9))} rows/s)`,
    );
    ctx.setOutput('trainRows', r.trainRows);
    ctx.setOutput('testRows', r.testRows);
  },
});

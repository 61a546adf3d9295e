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
 */
import { defineComponent } from '../component.ts';
import { cellAt, getColumn, readDataset, takeRows, writeDataset, type Dataset } from '../dataset/index.ts';
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
  if (!(opts.testFraction > 0 && opts.testFraction < 1)) throw new Error(`split: testFraction must be between 0 and 1 (exclusive), got ${opts.testFraction}`);
  const groups = new Map<string, number[]>();
  const col = opts.stratify ? getColumn(ds, opts.stratify) : undefined;
  for (let i = 0; i < ds.rows; i++) {
    const key = col ? JSON.stringify(cellAt(col, i)) : '';
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(i);
  }
  const rand = mulberry32(opts.seed);
  const train: number[] = [];
  const test: number[] = [];
  for (const key of [...groups.keys()].sort()) {
    const g = groups.get(key)!;
    shuffleInPlace(g, rand);
    const nTest = Math.round(g.length * opts.testFraction);
    test.push(...g.slice(0, nTest));
    train.push(...g.slice(nTest));
  }
  train.sort((a, b) => a - b);
  test.sort((a, b) => a - b);
  return { train, test };
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
    const ds = await readDataset(p.input('dataset'));
    const { train, test } = splitIndices(ds, {
      testFraction: p.number('testFraction', 0.2, { min: 0, max: 1 }),
      seed: p.number('seed', 42, { integer: true }),
      stratify: p.string('stratify', undefined),
    });
    await writeDataset(p.output('train'), takeRows(ds, train));
    await writeDataset(p.output('test'), takeRows(ds, test));
    ctx.log(`split ${ds.rows} rows into ${train.length} train and ${test.length} test`);
    ctx.setOutput('trainRows', train.length);
    ctx.setOutput('testRows', test.length);
  },
});

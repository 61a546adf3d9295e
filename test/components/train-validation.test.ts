/**
 * train-tabular's validation slice: with `validationFraction` (a seeded draw of the train rows, never
 * trained on) or a `validation` input, every epoch's progress carries 'valLoss', the held-out loss
 * that a sweep's early stopping judges. The reported value is checked against the loss recomputed
 * from the trained model's predictions on exactly the held-out rows (TensorFlow.js, wasm).
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { ComponentContext, ParamValue, ProgressEvent } from '../../components/component.ts';
import { cellAt, datasetFromColumns, getColumn, writeDataset, type Cell, type Dataset } from '../../components/dataset/index.ts';
import { mulberry32 } from '../../components/random.ts';
import { featureMatrix, heldOutRows, predictWithTf, readModel, trainTabular } from '../../components/train-tabular/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'ghosteam-train-val-'));
after(() => rm(dir, { recursive: true, force: true }));

function data(rows: number, seed: number): Dataset {
  const r = mulberry32(seed);
  const cols: Record<string, Cell[]> = { a: [], b: [], y: [] };
  for (let i = 0; i < rows; i++) {
    const [a, b] = [r() * 4 - 2, r() * 10];
    cols.a.push(a);
    cols.b.push(b);
    cols.y.push(r() < 1 / (1 + Math.exp(-(2 * a - b / 5 + 1))));
  }
  return datasetFromColumns({ a: { type: 'numeric', cells: cols.a }, b: { type: 'numeric', cells: cols.b }, y: { type: 'boolean', cells: cols.y } });
}

async function run(params: Record<string, ParamValue>, inputs: Record<string, string>, model: string) {
  const out: Record<string, ParamValue> = {};
  const progress: ProgressEvent[] = [];
  const ctx: ComponentContext = {
    params: { label: 'y', epochs: 6, learningRate: 0.05, batchSize: 64, backend: 'wasm', seed: 5, ...params },
    inputs,
    outputs: { model },
    workDir: dir,
    signal: new AbortController().signal,
    log: () => {},
    progress: (e) => progress.push(e),
    setOutput: (k, v) => (out[k] = v),
  };
  await trainTabular.run(ctx);
  return { out, progress };
}

/** Mean binary cross-entropy of the model on `rows` of `ds` (the held-out loss, recomputed). */
async function bce(modelPath: string, ds: Dataset, rows: readonly number[]): Promise<number> {
  const m = await readModel(modelPath);
  const x = featureMatrix(ds, m.net.featureNames, 'test');
  const k = m.net.featureNames.length;
  const sub = new Float32Array(rows.length * k);
  rows.forEach((i, n) => sub.set(x.subarray(i * k, (i + 1) * k), n * k));
  const p = await predictWithTf(m.net, sub, rows.length, 'wasm');
  const y = getColumn(ds, 'y');
  let s = 0;
  rows.forEach((i, n) => {
    const q = Math.min(Math.max(p[n], 1e-7), 1 - 1e-7);
    s += cellAt(y, i) ? -Math.log(q) : -Math.log(1 - q);
  });
  return s / rows.length;
}

describe('train-tabular validation slice', async () => {
  const trainDs = data(1200, 1);
  const valDs = data(300, 2);
  const train = join(dir, 'train.arrow');
  const validation = join(dir, 'validation.arrow');
  await writeDataset(train, trainDs);
  await writeDataset(validation, valDs);

  test("validationFraction: holds out a seeded share, reports 'valLoss' every epoch, equal to the held-out loss of the model", async () => {
    const model = join(dir, 'frac.json');
    const { out, progress } = await run({ validationFraction: 0.25 }, { train }, model);
    const held = heldOutRows(1200, 0.25, 5);
    assert.equal(held.length, 300);
    assert.equal(out.rows, 900, 'the held-out rows are not trained on');
    assert.deepEqual(
      progress.map((e) => e.epoch),
      [1, 2, 3, 4, 5, 6],
    );
    const vals = progress.map((e) => e.valLoss);
    assert.ok(
      vals.every((v) => typeof v === 'number' && Number.isFinite(v)),
      JSON.stringify(vals),
    );
    assert.notDeepEqual(
      vals,
      progress.map((e) => e.loss),
      'the held-out loss is not the training loss',
    );
    assert.equal(out.valLoss, vals[5]);
    const recomputed = await bce(model, trainDs, held);
    assert.ok(Math.abs(recomputed - vals[5]!) < 1e-4, `reported ${vals[5]}, recomputed ${recomputed}`);
    const m = await readModel(model);
    assert.equal(m.training.rows, 900);
    assert.equal(m.training.validationRows, 300);
    assert.deepEqual(m.training.valLosses, vals);
    // The same seed holds out the same rows: a second run reports the same curve.
    const again = await run({ validationFraction: 0.25 }, { train }, join(dir, 'frac2.json'));
    assert.deepEqual(
      again.progress.map((e) => e.valLoss),
      vals,
    );
  });

  test("the validation input: 'valLoss' is the loss on that dataset; every train row is trained on", async () => {
    const model = join(dir, 'input.json');
    const { out, progress } = await run({}, { train, validation }, model);
    assert.equal(out.rows, 1200);
    const last = progress[progress.length - 1].valLoss!;
    const recomputed = await bce(
      model,
      valDs,
      Array.from({ length: 300 }, (_, i) => i),
    );
    assert.ok(Math.abs(recomputed - last) < 1e-4, `reported ${last}, recomputed ${recomputed}`);
  });

  test("without a slice: no 'valLoss', valLoss null, every row trained on", async () => {
    const { out, progress } = await run({}, { train }, join(dir, 'none.json'));
    assert.ok(progress.every((e) => !('valLoss' in e)));
    assert.equal(out.valLoss, null);
    assert.equal(out.rows, 1200);
  });

  test('bad input: both sources, a share of 1, a share that leaves no row', async () => {
    const model = join(dir, 'bad.json');
    await assert.rejects(run({ validationFraction: 0.2 }, { train, validation }, model), {
      message: "train-tabular: both the 'validation' input and param 'validationFraction' are given; use one source of held-out rows",
    });
    await assert.rejects(run({ validationFraction: 1 }, { train }, model), {
      message: "train-tabular: param 'validationFraction' is 1; give a share below 1 (e.g. 0.2), or 0 for no validation slice",
    });
    await assert.rejects(run({ validationFraction: 0.0001 }, { train }, model), {
      message: "train-tabular: param 'validationFraction' 0.0001 of 1200 rows holds out 0; give a share that leaves rows on both sides",
    });
  });
});

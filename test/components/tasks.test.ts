/**
 * train-tabular beyond binary: each task trains through the real component (tfjs, wasm), is
 * evaluated with its task's metrics, exports to ONNX, and is served by the real model server on
 * onnxruntime-node, whose answers match TensorFlow.js on the same rows.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { ComponentContext, ParamValue } from '../../components/component.ts';
import { datasetFromColumns, writeDataset, type Cell, type Dataset } from '../../components/dataset/index.ts';
import { evaluate } from '../../components/evaluate/index.ts';
import { exportOnnx } from '../../components/export-onnx/index.ts';
import { startModelServer, type ModelServer } from '../../components/model-server/index.ts';
import { mulberry32 } from '../../components/random.ts';
import { featureMatrix, inferTask, predictWithTf, readModel, trainTabular } from '../../components/train-tabular/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'ghosteam-tasks-'));

/** 4 features; labels for every task derived from a noisy score. */
function data(rows: number, seed: number): Dataset {
  const r = mulberry32(seed);
  const cols: Record<string, Cell[]> = { a: [], b: [], c: [], d: [], cls: [], species: [], y: [], fraud: [] };
  for (let i = 0; i < rows; i++) {
    const [a, b, c] = [r() * 4 - 2, r() * 10, r() - 0.5];
    const anomaly = r() < 0.05;
    const d = anomaly ? 8 + r() * 4 : a * 2 + c + (r() - 0.5) * 0.1;
    const z = a + b / 5 - 1 + (r() - 0.5) * 0.4;
    const k = z < -0.5 ? 0 : z < 0.8 ? 1 : 2;
    cols.a.push(a);
    cols.b.push(b);
    cols.c.push(c);
    cols.d.push(d);
    cols.cls.push(k);
    cols.species.push(['setosa', 'versicolor', 'virginica'][k]);
    cols.y.push(3 * a - 0.5 * b + 10 + (r() - 0.5));
    cols.fraud.push(anomaly);
  }
  return datasetFromColumns({
    a: { type: 'numeric', cells: cols.a },
    b: { type: 'numeric', cells: cols.b },
    c: { type: 'numeric', cells: cols.c },
    d: { type: 'numeric', cells: cols.d },
    cls: { type: 'numeric', cells: cols.cls },
    species: { type: 'categorical', cells: cols.species },
    y: { type: 'numeric', cells: cols.y },
    fraud: { type: 'boolean', cells: cols.fraud },
  });
}

async function run(
  component: { run(ctx: ComponentContext): Promise<void> },
  params: Record<string, ParamValue>,
  inputs: Record<string, string>,
  outputs: Record<string, string>,
) {
  const out: Record<string, ParamValue> = {};
  const logs: string[] = [];
  await component.run({
    params,
    inputs,
    outputs,
    workDir: dir,
    signal: new AbortController().signal,
    log: (l) => logs.push(l),
    progress() {},
    setOutput: (k, v) => (out[k] = v),
  });
  return { out, logs };
}

describe('train-tabular tasks', async () => {
  const train = join(dir, 'train.arrow');
  const testPath = join(dir, 'test.arrow');
  const trainDs = data(1500, 1);
  const testDs = data(400, 2);
  await writeDataset(train, trainDs);
  await writeDataset(testPath, testDs);
  const servers: ModelServer[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  test('infers the task from the label', () => {
    const ds = data(50, 3);
    assert.deepEqual(inferTask(ds, undefined), { task: 'anomaly', why: 'no label column is given' });
    assert.deepEqual(inferTask(ds, 'fraud'), { task: 'binary', why: "label 'fraud' is boolean" });
    assert.deepEqual(inferTask(ds, 'cls'), { task: 'multiclass', why: "label 'cls' holds 3 integer values (0, 1, 2)" });
    assert.deepEqual(inferTask(ds, 'species'), { task: 'multiclass', why: "label 'species' has 3 categories" });
    assert.deepEqual(inferTask(ds, 'y'), { task: 'regression', why: "label 'y' is numeric with fractional values" });
  });

  const cases: { name: string; params: Record<string, ParamValue>; metrics: (m: Record<string, ParamValue>) => void; output: string; width: number }[] = [
    {
      name: 'multiclass (inferred from 3 integer labels)',
      params: { label: 'cls', model: 'mlp', hidden: '16', epochs: 25, learningRate: 0.02 },
      output: 'probabilities',
      width: 3,
      metrics: (m) => {
        assert.equal(m.task, 'multiclass');
        assert.ok((m.accuracy as number) > 0.8, `accuracy ${m.accuracy}`);
        assert.ok((m.macroF1 as number) > 0.75, `macroF1 ${m.macroF1}`);
        assert.ok((m.logLoss as number) < 0.6, `logLoss ${m.logLoss}`);
        assert.equal(m.rmse, null);
      },
    },
    {
      name: 'multiclass on a categorical label',
      params: { task: 'multiclass', label: 'species', features: 'a,b,c,d', epochs: 25, learningRate: 0.05 },
      output: 'probabilities',
      width: 3,
      metrics: (m) => assert.ok((m.accuracy as number) > 0.8),
    },
    {
      name: 'regression',
      params: { task: 'regression', label: 'y', features: 'a,b,c,d', epochs: 30, learningRate: 0.05 },
      output: 'prediction',
      width: 1,
      metrics: (m) => {
        assert.equal(m.task, 'regression');
        assert.ok((m.r2 as number) > 0.95, `r2 ${m.r2}`);
        assert.ok((m.rmse as number) < 1.5 && (m.mae as number) < 1.2, `rmse ${m.rmse} mae ${m.mae}`);
        assert.equal(m.accuracy, null);
      },
    },
    {
      name: 'anomaly (autoencoder, no label; AUC against the label column evaluate is given)',
      params: { task: 'anomaly', features: 'a,b,c,d', epochs: 30, learningRate: 0.02 },
      output: 'score',
      width: 1,
      metrics: (m) => {
        assert.equal(m.task, 'anomaly');
        assert.ok((m.scoreP50 as number) <= (m.scoreP90 as number) && (m.scoreP90 as number) <= (m.scoreP99 as number));
        assert.ok((m.rocAuc as number) > 0.9, `rocAuc ${m.rocAuc}`);
      },
    },
  ];
  for (const [i, c] of cases.entries()) {
    test(`${c.name}: trains, evaluates, exports ONNX and serves; onnxruntime matches tfjs`, async () => {
      const model = join(dir, `m${i}.json`);
      const t = await run(trainTabular, { ...c.params, backend: 'wasm', seed: 7 }, { train }, { model });
      const m = await readModel(model);
      const metricsPath = join(dir, `metrics${i}.json`);
      const ev = await run(evaluate, c.params.task === 'anomaly' ? { label: 'fraud' } : {}, { model, test: testPath }, { metrics: metricsPath });
      c.metrics(ev.out);
      const doc = JSON.parse(await readFile(metricsPath, 'utf8'));
      assert.equal(doc.task, t.out.task);
      if (t.out.task === 'multiclass') {
        assert.equal(doc.confusion.length, 3);
        assert.equal(
          doc.confusion.flat().reduce((a: number, b: number) => a + b, 0),
          400,
        );
      }
      const onnx = join(dir, `m${i}.onnx`);
      await run(exportOnnx, {}, { model }, { onnx });
      const s = await startModelServer({ port: 0, processMetrics: false, models: [{ name: `m${i}`, path: onnx }] });
      servers.push(s);
      const meta = (await (await fetch(`${s.url}/v2/models/m${i}`)).json()) as { outputs: { name: string; shape: number[] }[] };
      assert.deepEqual(
        meta.outputs.map((o) => [o.name, o.shape]),
        [[c.output, [-1, c.width]]],
      );
      const n = 50;
      const x = featureMatrix(testDs, m.net.featureNames, 'test', m.net.normalize?.mean).subarray(0, n * m.net.featureNames.length);
      const res = await fetch(`${s.url}/v2/models/m${i}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'input', shape: [n, m.net.featureNames.length], datatype: 'FP32', data: Array.from(x) }] }),
      });
      assert.equal(res.status, 200);
      const served = ((await res.json()) as { outputs: { data: number[]; shape: number[] }[] }).outputs[0];
      assert.deepEqual(served.shape, [n, c.width]);
      const tf = await predictWithTf(m.net, Float32Array.from(x), n, 'wasm');
      assert.equal(tf.length, n * c.width);
      for (let j = 0; j < tf.length; j++)
        assert.ok(Math.abs(served.data[j] - tf[j]) <= 1e-4 * Math.max(1, Math.abs(tf[j])), `output ${j}: served ${served.data[j]}, tfjs ${tf[j]}`);
    });
  }

  test('clear errors: a label on a regression that is not numeric, no label for a supervised task, a linear anomaly model', async () => {
    const model = join(dir, 'bad.json');
    await assert.rejects(run(trainTabular, { task: 'regression', label: 'species', backend: 'cpu' }, { train }, { model }), {
      message: "train-tabular: label 'species' is categorical; regression needs a numeric label (or set task to 'binary' or 'multiclass')",
    });
    await assert.rejects(run(trainTabular, { task: 'multiclass', backend: 'cpu' }, { train }, { model }), {
      message: "train-tabular: param 'label' is required for task 'multiclass'; name the label column, or use task 'anomaly' to train without labels",
    });
    await assert.rejects(run(trainTabular, { task: 'anomaly', model: 'linear', backend: 'cpu' }, { train }, { model }), {
      message: "train-tabular: task 'anomaly' trains an autoencoder, which needs hidden layers; set model to 'mlp' (or leave it out)",
    });
  });
});

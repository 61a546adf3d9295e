import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { denseNetToOnnx } from '../../components/onnx/index.ts';
import { mulberry32 } from '../../components/random.ts';
import { loadTf, predictDenseNet, predictWithTf, trainDenseNet, type TrainOptions } from '../../components/train-tabular/index.ts';

/** y depends on a noisy linear score of k features with different scales. */
function synthetic(rows: number, k: number, seed: number) {
  const r = mulberry32(seed);
  const x = new Float32Array(rows * k);
  const y = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    let z = 0;
    for (let j = 0; j < k; j++) {
      const v = r() * 4 - 2;
      x[i * k + j] = v * (j + 1) * 10 + j;
      z += ((j % 3) - 1) * v;
    }
    y[i] = r() < 1 / (1 + Math.exp(-3 * z)) ? 1 : 0;
  }
  return { x, y, names: Array.from({ length: k }, (_, j) => `f${j}`) };
}

const base: TrainOptions = { kind: 'logistic', epochs: 5, batchSize: 128, learningRate: 0.05, seed: 3, backend: 'wasm' };

describe('train-tabular', () => {
  const d = synthetic(3000, 6, 1);

  test('auto picks the wasm backend when tfjs-node-gpu is not installed', async () => {
    const require = createRequire(import.meta.url);
    const hasNode = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'].some((p) => {
      try {
        require.resolve(p);
        return true;
      } catch {
        return false;
      }
    });
    const { backend } = await loadTf('auto');
    assert.equal(backend, hasNode ? 'tensorflow' : 'wasm');
  });

  for (const backend of ['wasm', 'cpu'] as const) {
    test(`is deterministic for a seed on ${backend}, and the seed matters`, async () => {
      const a = await trainDenseNet(d.x, d.y, 3000, d.names, { ...base, kind: 'mlp', hidden: [8], backend });
      const b = await trainDenseNet(d.x, d.y, 3000, d.names, { ...base, kind: 'mlp', hidden: [8], backend });
      assert.equal(a.backend, backend);
      assert.deepEqual(a.net, b.net);
      assert.deepEqual(a.losses, b.losses);
      const c = await trainDenseNet(d.x, d.y, 3000, d.names, { ...base, kind: 'mlp', hidden: [8], backend, seed: 4 });
      assert.notDeepEqual(c.net.layers[0].weights, a.net.layers[0].weights);
    });
  }

  test('reports a falling loss per epoch and learns the task', async () => {
    const events: [number, number, number][] = [];
    const r = await trainDenseNet(d.x, d.y, 3000, d.names, { ...base, epochs: 8, onEpoch: (e, n, l) => events.push([e, n, l]) });
    assert.deepEqual(
      events.map((e) => [e[0], e[1]]),
      Array.from({ length: 8 }, (_, i) => [i + 1, 8]),
    );
    assert.ok(events[7][2] < events[0][2], `loss ${events[0][2]} → ${events[7][2]}`);
    const p = predictDenseNet(r.net, d.x, 3000);
    let correct = 0;
    for (let i = 0; i < 3000; i++) if ((p[i] >= 0.5 ? 1 : 0) === d.y[i]) correct++;
    assert.ok(correct / 3000 > 0.85, `accuracy ${correct / 3000}`);
    assert.equal(r.net.kind, 'logistic');
    assert.equal(r.net.layers.length, 1);
    assert.equal(r.net.layers[0].activation, 'sigmoid');
    assert.deepEqual(r.net.featureNames, d.names);
  });

  test('stops between epochs when aborted', async () => {
    const ctl = new AbortController();
    await assert.rejects(trainDenseNet(d.x, d.y, 3000, d.names, { ...base, epochs: 50, signal: ctl.signal, onEpoch: (e) => e === 2 && ctl.abort() }), {
      message: 'train-tabular: cancelled',
    });
  });
});

describe('ONNX export matches TensorFlow.js', () => {
  const train = synthetic(4000, 8, 2);
  const holdout = synthetic(1000, 8, 99);
  for (const kind of ['logistic', 'mlp'] as const) {
    test(`${kind}: onnxruntime-node equals tfjs to 1e-5 on 1,000 rows`, async () => {
      const r = await trainDenseNet(train.x, train.y, 4000, train.names, { ...base, kind, hidden: [16, 8], epochs: 4 });
      const tfP = await predictWithTf(r.net, holdout.x, 1000, 'wasm');
      const session = await ort.InferenceSession.create(denseNetToOnnx(r.net));
      const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', holdout.x, [1000, 8]) });
      const onnxP = out[session.outputNames[0]].data as Float32Array;
      assert.equal(onnxP.length, 1000);
      let maxDiff = 0;
      let spread = 0;
      for (let i = 0; i < 1000; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(onnxP[i] - tfP[i]));
        spread = Math.max(spread, Math.abs(tfP[i] - tfP[0]));
      }
      assert.ok(maxDiff <= 1e-5, `max |onnx - tfjs| = ${maxDiff}`);
      // Non-trivial predictions (not a constant), so the comparison means something.
      assert.ok(spread > 0.1, `spread ${spread}`);
      const js = predictDenseNet(r.net, holdout.x, 1000);
      for (let i = 0; i < 1000; i++) assert.ok(Math.abs(js[i] - tfP[i]) <= 1e-5, `row ${i}: js ${js[i]} tfjs ${tfP[i]}`);
    });
  }
});

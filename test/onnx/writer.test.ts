import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { denseNetToOnnx, denseNetForward, validateDenseNet, ONNX_OPSET, ONNX_IR_VERSION, type DenseNet } from '../../components/onnx/index.ts';
import { randomDenseNet, seededRandom } from '../../components/onnx/random.ts';

function randomRows(n: number, k: number, seed: number): number[][] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => Array.from({ length: k }, () => r() * 20 - 5));
}

async function runOnnx(
  bytes: Uint8Array,
  rows: number[][],
  inputName = 'input',
  outputName = 'probability',
): Promise<{ data: number[]; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  const k = rows[0].length;
  const t = new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, k]);
  const out = await session.run({ [inputName]: t });
  const o = out[outputName];
  await session.release();
  return { data: Array.from(o.data as Float32Array), dims: o.dims };
}

// onnxruntime computes in float32; the reference in float64 on float32-rounded weights and inputs.
function f32(net: DenseNet): DenseNet {
  const r = (v: number) => Math.fround(v);
  return {
    ...net,
    normalize: net.normalize && { mean: net.normalize.mean.map(r), std: net.normalize.std.map(r) },
    layers: net.layers.map((l) => ({ ...l, weights: l.weights.map((row) => row.map(r)), bias: l.bias.map(r) })),
  };
}

describe('denseNetToOnnx', () => {
  const cases: Array<[string, DenseNet]> = [
    ['logistic without normalisation', randomDenseNet([5, 1], 3, { normalize: false })],
    ['fraud MLP 16→64→64→1 with normalisation', randomDenseNet([16, 64, 64, 1], 7)],
    ['tanh hidden layer, linear output', randomDenseNet([4, 8, 1], 11, { hidden: 'tanh', last: 'linear' })],
    ['softmax over 2 classes → positive class', randomDenseNet([6, 10, 2], 13, { last: 'softmax' })],
  ];
  for (const [name, net] of cases) {
    test(`${name}: onnxruntime matches the JS forward pass to 1e-6`, async () => {
      const rows = randomRows(257, net.featureNames.length, 99).map((r) => r.map(Math.fround));
      const got = await runOnnx(denseNetToOnnx(net), rows);
      assert.deepEqual(got.dims, [257, 1]);
      const want = denseNetForward(f32(net), rows);
      let maxErr = 0;
      for (let i = 0; i < want.length; i++) maxErr = Math.max(maxErr, Math.abs(got.data[i] - want[i]));
      assert.ok(maxErr < 1e-6, `max abs error ${maxErr}`);
      // the outputs are not all the same (the net really computes something)
      assert.ok(new Set(got.data.map((v) => v.toFixed(4))).size > 10);
    });
  }

  test('declares opset, IR version, symbolic batch dim and custom tensor names', async () => {
    const net = { ...randomDenseNet([3, 1], 1), inputName: 'features', outputName: 'score' };
    const bytes = denseNetToOnnx(net, { modelName: 'fraud', producer: 'test' });
    const m = onnxProto.onnx.ModelProto.decode(bytes);
    assert.equal(Number(m.irVersion), ONNX_IR_VERSION);
    assert.equal(Number(m.opsetImport[0].version), ONNX_OPSET);
    assert.equal(m.graph!.name, 'fraud');
    assert.equal(m.producerName, 'test');
    const dims = m.graph!.input![0].type!.tensorType!.shape!.dim!;
    assert.equal(dims[0].dimParam, 'N');
    assert.equal(Number(dims[1].dimValue), 3);
    const session = await ort.InferenceSession.create(bytes);
    assert.deepEqual(session.inputNames, ['features']);
    assert.deepEqual(session.outputNames, ['score']);
    const meta = Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value]));
    assert.deepEqual(JSON.parse(meta['ghosteam.featureNames']), ['f0', 'f1', 'f2']);
    await session.release();
  });

  test('a zero std (constant feature) is treated as 1, in the graph and in the reference', async () => {
    const net: DenseNet = {
      kind: 'logistic',
      featureNames: ['a', 'b'],
      normalize: { mean: [1, 2], std: [0, 2] },
      layers: [{ weights: [[1], [1]], bias: [0], activation: 'linear' }],
    };
    const got = await runOnnx(denseNetToOnnx(net), [[3, 6]]);
    assert.equal(got.data[0], (3 - 1) / 1 + (6 - 2) / 2);
    assert.deepEqual(denseNetForward(net, [[3, 6]]), [4]);
  });

  test('survives a JSON round trip (the training step writes it as JSON)', async () => {
    const net = randomDenseNet([4, 3, 1], 5);
    const again = JSON.parse(JSON.stringify(net)) as DenseNet;
    assert.deepEqual(denseNetToOnnx(again), denseNetToOnnx(net));
  });

  const bad: Array<[string, (n: DenseNet) => unknown, string]> = [
    ['unknown kind', (n) => ((n as { kind: string }).kind = 'tree'), `kind: is "tree"; expected 'logistic', 'linear' or 'mlp'`],
    ['no features', (n) => (n.featureNames = []), 'featureNames: expected a non-empty array of feature names'],
    [
      'wrong number of weight rows',
      (n) => n.layers[1].weights.pop(),
      "layers[1].weights: has 3 rows; expected 4 (the previous layer's output size); weights are [in][out]",
    ],
    ['ragged weights', (n) => n.layers[0].weights[2].push(1), 'layers[0].weights[2]: has 5 values; expected 4 (one per output unit)'],
    ['NaN bias', (n) => (n.layers[0].bias[1] = NaN), 'layers[0].bias[1]: is NaN; expected a finite number'],
    [
      'bad activation',
      (n) => ((n.layers[0] as { activation: string }).activation = 'gelu'),
      'layers[0].activation: is "gelu"; expected one of linear, relu, sigmoid, tanh, softmax',
    ],
    [
      'wide output',
      (n) => n.layers.pop(),
      'layers[0]: has 4 outputs; the last layer must have 1 output (or 2 with softmax, of which the second is the probability)',
    ],
    ['negative std', (n) => (n.normalize!.std[0] = -1), "normalize.std[0]: is -1; a standard deviation can't be negative"],
    ['short mean', (n) => n.normalize!.mean.pop(), 'normalize.mean: has 2 values; expected 3 (one per feature)'],
    [
      'same input and output name',
      (n) => {
        n.inputName = 'x';
        n.outputName = 'x';
      },
      'outputName: must differ from inputName',
    ],
  ];
  for (const [name, mutate, message] of bad) {
    test(`rejects ${name} with a message naming the field`, () => {
      const net = randomDenseNet([3, 4, 1], 2);
      mutate(net);
      assert.throws(() => denseNetToOnnx(net), { name: 'DenseNetError', message });
    });
  }

  test('logistic with two layers is rejected', () => {
    const net = randomDenseNet([3, 4, 1], 2);
    net.kind = 'logistic';
    assert.throws(() => validateDenseNet(net), { message: "layers: a logistic model has exactly one layer; got 2 (use kind 'mlp')" });
  });
});

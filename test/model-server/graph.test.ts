// graph.ts (pure): which outputs carry the batch rows, proved op by op, and the ZipMap rewrite.
// The graphs are built with onnx-proto; the real converters' graphs are in frameworks.test.ts.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { planGraph } from '../../components/model-server/graph.ts';
import { pythonJsonNumbers } from '../../components/model-server/server.ts';

const { onnx } = onnxProto;
const F = onnx.TensorProto.DataType.FLOAT;
const I64 = onnx.TensorProto.DataType.INT64;
type Dim = number | string;
const vi = (name: string, elemType: number, dims: readonly Dim[]) => ({
  name,
  type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
});
const ml = (opType: string, input: string[], output: string[], attribute: object[] = []) => ({ opType, domain: 'ai.onnx.ml', input, output, attribute });
const model = (graph: object) =>
  onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [
        { domain: '', version: 15 },
        { domain: 'ai.onnx.ml', version: 3 },
      ],
      graph,
    }),
  ).finish();
const ints = (name: string, v: number[]) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
const floats = (name: string, v: number[]) => ({ name, type: onnx.AttributeProto.AttributeType.FLOATS, floats: v });
const str = (name: string, v: string) => ({ name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v) });
const strs = (name: string, v: string[]) => ({ name, type: onnx.AttributeProto.AttributeType.STRINGS, strings: v.map((x) => new TextEncoder().encode(x)) });

/** A LinearClassifier over [N, 2] with string classes, its probabilities through a ZipMap, its label declared [1]. */
function classifier(labelDims: Dim[] = [1]): Uint8Array {
  return model({
    name: 'clf',
    input: [vi('X', F, ['N', 2])],
    output: [
      vi('label', onnx.TensorProto.DataType.STRING, labelDims),
      {
        name: 'probs',
        type: { sequenceType: { elemType: { mapType: { keyType: onnx.TensorProto.DataType.STRING, valueType: { tensorType: { elemType: F } } } } } },
      },
    ],
    node: [
      ml(
        'LinearClassifier',
        ['X'],
        ['label', 'scores'],
        [strs('classlabels_strings', ['no', 'yes']), floats('coefficients', [1, 0, -1, 0]), floats('intercepts', [0, 0]), str('post_transform', 'SOFTMAX')],
      ),
      ml('ZipMap', ['scores'], ['probs'], [strs('classlabels_strings', ['no', 'yes'])]),
    ],
  });
}

describe('graph plan (pure)', () => {
  test('a ZipMap output becomes its input tensor under the same name, with the labels; a fixed [1] label is proved to carry rows', async () => {
    const p = planGraph(classifier());
    assert.deepEqual(p.problems, []);
    assert.deepEqual([...p.labels], [['probs', ['no', 'yes']]]);
    assert.equal(p.batchRows, true);
    // onnxruntime runs the rewritten graph: 3 rows in, 3 labels and a [3, 2] tensor out.
    const s = await ort.InferenceSession.create(p.bytes!);
    assert.deepEqual(
      s.outputMetadata.map((m) => [m.name, m.isTensor && m.shape]),
      [
        ['label', ['N']],
        ['probs', ['N', 2]],
      ],
    );
    const out = await s.run({ X: new ort.Tensor('float32', Float32Array.from([2, 0, -2, 0, 0, 0]), [3, 2]) });
    assert.deepEqual(out.label.data, ['no', 'yes', 'no']); // class 'no' scores x0, 'yes' scores -x0; a tie goes to the first
    assert.deepEqual(out.probs.dims, [3, 2]);
    const pr = Array.from(out.probs.data as Float32Array);
    assert.ok(Math.abs(pr[0] + pr[1] - 1) < 1e-6 && pr[0] > pr[1] && pr[3] > pr[2] && pr[4] === pr[5]);
    await s.release();
  });

  test('outputs that do not follow the rows, unknown operators and map inputs, as the analysis reads them', () => {
    // Shape of the input: a constant per batch, not a row per request.
    const shaped = planGraph(
      model({ name: 's', input: [vi('X', F, ['N', 2])], output: [vi('y', I64, [2])], node: [{ opType: 'Shape', input: ['X'], output: ['y'] }] }),
    );
    assert.deepEqual([shaped.batchRows, shaped.batchReason], [undefined, 'Shape']);
    // A reduction over the row axis.
    const summed = planGraph(
      model({
        name: 'r',
        input: [vi('X', F, ['N', 2])],
        output: [vi('y', F, [1, 2])],
        node: [{ opType: 'ReduceSum', input: ['X'], output: ['y'], attribute: [ints('axes', [0])] }],
      }),
    );
    assert.deepEqual([summed.batchRows, summed.batchReason], [undefined, 'ReduceSum over the row axis']);
    // Gemm with an initializer: rows proved.
    const W = { name: 'W', dataType: F, dims: [2, 3], floatData: [1, 2, 3, 4, 5, 6] };
    const gemm = planGraph(
      model({
        name: 'g',
        input: [vi('X', F, [1, 2])],
        initializer: [W],
        output: [vi('y', F, [1, 3])],
        node: [{ opType: 'Gemm', input: ['X', 'W'], output: ['y'] }],
      }),
    );
    assert.equal(gemm.batchRows, true);
    // ... and the fixed [1] batch dims became N, so onnxruntime takes any row count.
    const dims = onnx.ModelProto.decode(gemm.bytes!).graph!;
    assert.deepEqual([dims.input![0].type!.tensorType!.shape!.dim![0].dimParam, dims.output![0].type!.tensorType!.shape!.dim![0].dimParam], ['N', 'N']);
    // A seq(map) made by anything but a ZipMap can't be served: the model is refused with why.
    const other = planGraph(
      model({
        name: 'o',
        input: [vi('X', F, ['N', 2])],
        output: [{ name: 'm', type: { sequenceType: { elemType: { mapType: { keyType: I64, valueType: { tensorType: { elemType: F } } } } } } }],
        node: [{ opType: 'SequenceConstruct', input: ['X'], output: ['m'] }],
      }),
    );
    assert.deepEqual(other.problems, [
      "output 'm' is seq(map(7, a tensor)) (made by SequenceConstruct); the Open Inference Protocol carries tensors only, and only a ZipMap's seq(map) is turned back into one; export it without that output or with zipmap=False",
    ]);
  });

  test("Python's NaN and Infinity in a JSON body: null and ±1e999 outside strings, strings untouched", () => {
    assert.equal(
      pythonJsonNumbers('{"data": [1.0, NaN, Infinity, -Infinity], "s": "NaN \\"Infinity\\""}'),
      '{"data": [1.0, null, 1e999, -1e999], "s": "NaN \\"Infinity\\""}',
    );
    assert.equal(pythonJsonNumbers('{"data": [1, 2]}'), undefined);
    assert.deepEqual(JSON.parse(pythonJsonNumbers('[NaN,-Infinity]')!), [null, -Infinity]);
  });
});

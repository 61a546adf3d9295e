// graph.ts (pure): which outputs carry the batch rows, proved op by op, and the ZipMap rewrite.
// The graphs are built with onnx-proto; the real converters' graphs are in frameworks.test.ts.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { planGraph } from '../../components/model-server/graph.ts';
import { loadOrtModel } from '../../components/model-server/models.ts';
import { writeFileSync } from 'node:fs';
import { tempDir } from './fixtures.ts';
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
    assert.deepEqual([shaped.batchRows, shaped.batchReason], [false, "output 'y' does not depend on the batch rows"]);
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

// Reshape, Flatten, Gather, Concat, Squeeze/Unsqueeze and the shape arithmetic PyTorch writes
// (`x.view(x.size(0), -1)`: Shape → Gather → Unsqueeze → Concat → Reshape). Each graph takes
// X [N, 2, 3] (or [N, 6]); `want` is the verdict, and every graph proved to carry rows is run by
// onnxruntime on 3 rows at once and on each row alone: the answers must be the same rows.
describe('graph plan: the batch proof past Reshape (table)', () => {
  const i64 = (name: string, dims: number[], v: number[]) => ({ name, dataType: I64, dims, int64Data: v });
  const f32 = (name: string, dims: number[], v: number[]) => ({ name, dataType: F, dims, floatData: v });
  const W6x2 = f32('W', [6, 2], [1, 0, 0, 1, 1, 1, -1, 0, 0, -1, 2, 3]);
  const node = (opType: string, input: string[], output: string[], attribute: object[] = []) => ({ opType, input, output, attribute });
  const int = (name: string, v: number) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });
  // x.view(x.size(0), -1): the target shape's first element is the batch size itself.
  const torchView = [
    node('Shape', ['X'], ['s']),
    node('Gather', ['s', 'zero'], ['n'], [int('axis', 0)]),
    node('Unsqueeze', ['n', 'axes0'], ['n1']),
    node('Concat', ['n1', 'minus1'], ['target'], [int('axis', 0)]),
    node('Reshape', ['X', 'target'], ['flat']),
  ];
  const torchInits = [i64('zero', [], [0]), i64('axes0', [1], [0]), i64('minus1', [1], [-1])];
  const cases: Array<{ name: string; x?: Dim[]; init: object[]; nodes: object[]; out?: string; want: [boolean | undefined, string | RegExp] }> = [
    {
      name: 'torch view(x.size(0), -1) then Gemm',
      init: [...torchInits, W6x2],
      nodes: [...torchView, node('Gemm', ['flat', 'W'], ['y'])],
      want: [true, 'every output carries the batch rows'],
    },
    { name: 'Reshape [0, -1] (0 copies the rows)', init: [i64('t', [2], [0, -1])], nodes: [node('Reshape', ['X', 't'], ['y'])], want: [true, /every output/] },
    { name: 'Reshape [-1, 6] of rows of 2×3', init: [i64('t', [2], [-1, 6])], nodes: [node('Reshape', ['X', 't'], ['y'])], want: [true, /every output/] },
    {
      name: 'Reshape [-1, 3] of rows of 6 moves rows',
      init: [i64('t', [2], [-1, 3])],
      nodes: [node('Reshape', ['X', 't'], ['y'])],
      want: [undefined, 'Reshape with -1 first to rows of 3 elements from rows of 6'],
    },
    {
      name: 'Reshape [-1, 2] after Gemm: the row size comes from the weights',
      init: [i64('t6', [2], [0, 6]), W6x2, i64('t', [2], [-1, 2])],
      nodes: [node('Reshape', ['X', 't6'], ['f']), node('Gemm', ['f', 'W'], ['g']), node('Reshape', ['g', 't'], ['y'])],
      want: [true, /every output/],
    },
    {
      name: 'Flatten then Reshape [-1, 6]',
      init: [i64('t', [2], [-1, 6])],
      nodes: [node('Flatten', ['X'], ['f']), node('Reshape', ['f', 't'], ['y'])],
      want: [true, /every output/],
    },
    { name: 'Flatten at axis 2', init: [], nodes: [node('Flatten', ['X'], ['y'], [int('axis', 2)])], want: [undefined, 'Flatten at an axis other than 1'] },
    {
      name: 'Gather along axis 2, Unsqueeze and Squeeze at axis 1, Concat along axis 1',
      init: [i64('idx', [2], [2, 0]), i64('ax1', [1], [1])],
      nodes: [
        node('Gather', ['X', 'idx'], ['g'], [int('axis', 2)]),
        node('Unsqueeze', ['g', 'ax1'], ['u']),
        node('Squeeze', ['u', 'ax1'], ['q']),
        node('Concat', ['q', 'X'], ['y'], [int('axis', 2)]),
      ],
      want: [true, /every output/],
    },
    {
      name: 'Gather along the row axis',
      init: [i64('idx', [1], [0])],
      nodes: [node('Gather', ['X', 'idx'], ['y'])],
      want: [undefined, 'Gather along the row axis'],
    },
    {
      name: 'Concat along the row axis',
      init: [],
      nodes: [node('Concat', ['X', 'X'], ['y'], [int('axis', 0)])],
      want: [undefined, 'Concat along the row axis'],
    },
    {
      name: 'Unsqueeze at the row axis',
      init: [i64('ax0', [1], [0])],
      nodes: [node('Unsqueeze', ['X', 'ax0'], ['y'])],
      want: [undefined, 'Unsqueeze at the row axis'],
    },
    {
      name: 'x * batch size: the answer would change with the rows merged',
      init: [i64('zero', [], [0])],
      nodes: [
        node('Shape', ['X'], ['s']),
        node('Gather', ['s', 'zero'], ['n'], [int('axis', 0)]),
        node('Cast', ['n'], ['nf'], [int('to', F)]),
        node('Mul', ['X', 'nf'], ['y']),
      ],
      want: [undefined, 'Mul uses the batch size'],
    },
    {
      name: 'Reshape to a shape taken from the input itself',
      x: ['N', 6],
      init: [],
      nodes: [
        node('Cast', ['X'], ['xi'], [int('to', I64)]),
        node('ReduceMax', ['xi'], ['m'], [ints('axes', [0]), int('keepdims', 0)]),
        node('Reshape', ['X', 'm'], ['y']),
      ],
      want: [undefined, 'ReduceMax over the row axis'],
    },
    {
      name: 'Shape start=1: the per-row dims only, no batch size',
      init: [i64('one', [1], [-1])],
      nodes: [node('Shape', ['X'], ['s'], [int('start', 1)]), node('Concat', ['one', 's'], ['t'], [int('axis', 0)]), node('Reshape', ['X', 't'], ['y'])],
      want: [undefined, 'Reshape to a shape the graph computes at run time'],
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const x = c.x ?? ['N', 2, 3];
      const bytes = model({
        name: 'g',
        input: [vi('X', F, x)],
        initializer: c.init,
        output: [{ name: c.out ?? 'y', type: { tensorType: { elemType: F } } }],
        node: c.nodes,
      });
      const p = planGraph(bytes);
      assert.equal(p.batchRows, c.want[0], p.batchReason);
      if (typeof c.want[1] === 'string') assert.equal(p.batchReason, c.want[1]);
      else assert.match(p.batchReason, c.want[1]);
      if (p.batchRows !== true) return;
      // The oracle: onnxruntime on 3 rows at once equals each row run alone.
      const s = await ort.InferenceSession.create(p.bytes ?? bytes);
      const per = x.slice(1).reduce<number>((a, d) => a * Number(d), 1);
      const rows = [0, 1, 2].map((r) => Float32Array.from({ length: per }, (_, k) => r * 10 + k - 3));
      const all = (await s.run({ X: new ort.Tensor('float32', Float32Array.from(rows.flatMap((r) => [...r])), [3, ...x.slice(1).map(Number)]) })).y;
      const alone = await Promise.all(rows.map(async (r) => (await s.run({ X: new ort.Tensor('float32', r, [1, ...x.slice(1).map(Number)]) })).y));
      assert.equal(all.dims[0], 3);
      assert.deepEqual(
        Array.from(all.data as Float32Array),
        alone.flatMap((t) => Array.from(t.data as Float32Array)),
      );
      await s.release();
    });
  }

  test('the server merges requests only for a proved graph, and says where an unproved one stopped', async () => {
    const dir = tempDir();
    const path = `${dir}/moved.onnx`;
    writeFileSync(
      path,
      model({
        name: 'g',
        input: [vi('X', F, ['N', 2, 3])],
        initializer: [i64('t', [2], [-1, 3])],
        output: [{ name: 'y', type: { tensorType: { elemType: F } } }],
        node: [node('Reshape', ['X', 't'], ['y'])],
      }),
    );
    const m = await loadOrtModel(path);
    assert.equal(m.batchable, false);
    assert.equal(m.batchReason, 'not proved: the analysis stops at Reshape with -1 first to rows of 3 elements from rows of 6; each request runs alone');
    await m.release();
    const okPath = `${dir}/view.onnx`;
    writeFileSync(
      okPath,
      model({
        name: 'g',
        input: [vi('X', F, ['N', 2, 3])],
        initializer: [...torchInits, W6x2],
        output: [{ name: 'y', type: { tensorType: { elemType: F } } }],
        node: [...torchView, node('Gemm', ['flat', 'W'], ['y'])],
      }),
    );
    const ok = await loadOrtModel(okPath);
    assert.deepEqual([ok.batchable, ok.batchReason], [true, 'every output carries the batch rows']);
    await ok.release();
  });
});

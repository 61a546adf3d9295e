// KServe V1 predict: rows for single-input models, rows keyed by input name and columns for any
// model (a real two-input ONNX model), with 400s that name the instance and the input.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startModelServer, type ModelServer } from '../../components/model-server/index.ts';
import { decodeV1Request, v1Answer, v1AnswerText, v1Shape } from '../../components/model-server/v1.ts';
import { RequestError, type TensorSpec } from '../../components/model-server/tensors.ts';
import { denseNetForward } from '../../components/onnx/index.ts';
import { tempDir, writeFraudModel, rows, post, get } from './fixtures.ts';
import { writeTwoInputModel } from './graphs.ts';

const TWO: TensorSpec[] = [
  { name: 'features', datatype: 'FP32', shape: [-1, 2] },
  { name: 'offset', datatype: 'INT64', shape: [-1, 1] },
];
const ONE: TensorSpec[] = [{ name: 'input', datatype: 'FP32', shape: [-1, 3] }];

function throws400(body: Record<string, unknown>, specs: TensorSpec[], message: string): void {
  assert.throws(
    () => decodeV1Request(body, specs, 'm'),
    (e: unknown) => e instanceof RequestError && e.status === 400 && e.message === message,
    message,
  );
}

describe('V1 request decoding (pure)', () => {
  test("named rows and columns give the same tensors, in the model's input order", () => {
    const a = decodeV1Request(
      {
        instances: [
          { offset: [1], features: [0.5, 1] },
          { features: [2, 3], offset: [-4] },
        ],
      },
      TWO,
      'm',
    );
    const b = decodeV1Request(
      {
        inputs: {
          offset: [[1], [-4]],
          features: [
            [0.5, 1],
            [2, 3],
          ],
        },
      },
      TWO,
      'm',
    );
    for (const d of [a, b]) {
      assert.equal(d.rows, 2);
      assert.deepEqual(
        d.inputs.map((t) => [t.name, t.shape]),
        [
          ['features', [2, 2]],
          ['offset', [2, 1]],
        ],
      );
      assert.deepEqual(Array.from(d.inputs[0].typed as Float32Array), [0.5, 1, 2, 3]);
      assert.deepEqual(Array.from(d.inputs[1].typed as BigInt64Array), [1n, -4n]);
    }
    const c = decodeV1Request({ inputs: [[1, 2, 3]] }, ONE, 'm');
    assert.deepEqual([c.rows, c.inputs[0].shape], [1, [1, 3]]);
    const r = decodeV1Request({ instances: [{ input: [1, 2, 3] }] }, ONE, 'm');
    assert.deepEqual(Array.from(r.inputs[0].typed as Float32Array), [1, 2, 3]);
  });

  test('errors name the instance and the input', () => {
    throws400(
      {
        instances: [
          [1, 2],
          [3, 4],
        ],
      },
      TWO,
      `model 'm' has 2 inputs ('features', 'offset'); each instance must be an object keyed by input name, e.g. {"instances": [{"features": ..., "offset": ...}]}, or send columns: {"inputs": {"features": [...], "offset": [...]}}`,
    );
    throws400(
      { instances: [{ features: [1, 2], offset: [1] }, { features: [1, 2] }] },
      TWO,
      "instances[1]: missing input 'offset'; every instance needs 'features', 'offset'",
    );
    throws400(
      { instances: [{ features: [1, 2], offset: [1], extra: 1 }] },
      TWO,
      "instances[0]: the model has no input named 'extra'; its inputs are 'features', 'offset'",
    );
    throws400(
      { instances: [{ features: [1, 2], offset: [1] }, [1, 2]] },
      TWO,
      "instances[1] is an array; instances[0] is an object, so every instance must be an object keyed by input name ('features', 'offset')",
    );
    throws400(
      { instances: [{ features: [1, 2, 3], offset: [1] }] },
      TWO,
      "instances[0].features: shape is [3]; input 'features' takes [2] per instance (the model's input is [-1, 2], -1 = any size)",
    );
    throws400(
      {
        instances: [
          { features: [1, 2], offset: [1] },
          { features: [[1, 2]], offset: [1] },
        ],
      },
      TWO,
      'instances[1].features: shape is [1, 2]; instances[0].features is [2]; every instance must have the same shape',
    );
    throws400(
      {
        instances: [
          { features: [1, 2], offset: [1] },
          { features: [1, 2], offset: [1.5] },
        ],
      },
      TWO,
      'instances[1].offset: element 0 is 1.5; expected an integer in [-9007199254740991, 9007199254740991] for datatype INT64',
    );
    throws400(
      {
        instances: [
          { features: [1, 2], offset: [1] },
          { features: [1, 'x'], offset: [2] },
        ],
      },
      TWO,
      'instances[1].features: element 1 is "x"; expected a number (or null for a missing value) for datatype FP32',
    );
    throws400(
      {
        instances: [
          [1, 2, 3],
          [4, 5],
        ],
      },
      ONE,
      'instances[1]: shape is [2]; instances[0] is [3]; every instance must have the same shape',
    );
    throws400(
      { instances: [{ features: [1, 2], offset: [null] }] },
      TWO,
      'instances[0].offset: element 0 is null; expected an integer in [-9007199254740991, 9007199254740991] for datatype INT64 (null means a missing value only for FP16, BF16, FP32 and FP64 inputs)',
    );
    throws400({ instances: [[1, 2]] }, ONE, "instances[0]: shape is [2]; input 'input' takes [3] per instance (the model's input is [-1, 3], -1 = any size)");
    throws400(
      {
        instances: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      },
      [{ name: 'input', datatype: 'FP32', shape: [1, 3] }],
      'instances: shape is [2, 3]; the model expects [1, 3] (-1 = any size)',
    );
    throws400(
      {
        instances: [
          [
            [1, 2, 3],
            [4, 5],
          ],
        ],
      },
      [{ name: 'input', datatype: 'FP32', shape: [-1, 2, 3] }],
      'instances: the rows are ragged: data has 5 elements; shape [1, 2, 3] needs 6',
    );
    const proto: TensorSpec[] = [
      { name: 'toString', datatype: 'FP32', shape: [-1] },
      { name: 'b', datatype: 'FP32', shape: [-1] },
    ];
    throws400({ instances: [{ b: 1 }] }, proto, "instances[0]: missing input 'toString'; every instance needs 'toString', 'b'"); // not found on Object.prototype
    throws400({ inputs: { b: [1] } }, proto, "inputs: missing 'toString'; the model's inputs are 'toString', 'b'");
    throws400({ instances: [], inputs: {} }, TWO, "send either 'instances' (rows) or 'inputs' (columns), not both");
    throws400({ instances: [] }, TWO, `'instances' must be a non-empty array of rows, e.g. {"instances": [[0.1, 0.2, ...]]}`);
    throws400({ inputs: { features: [[1, 2]] } }, TWO, "inputs: missing 'offset'; the model's inputs are 'features', 'offset'");
    throws400({ inputs: { features: [[1, 2]], offset: [[1]], x: [] } }, TWO, "inputs: the model has no input named 'x'; its inputs are 'features', 'offset'");
    throws400(
      {
        inputs: {
          features: [
            [1, 2],
            [3, 4],
          ],
          offset: [[1]],
        },
      },
      TWO,
      'inputs.offset has 1 rows; inputs.features has 2; every input needs one row per instance',
    );
    throws400(
      {
        inputs: {
          features: [
            [1, 2],
            [3, 4],
          ],
          offset: [[1], [true]],
        },
      },
      TWO,
      'inputs.offset[1]: element 0 is true; expected an integer in [-9007199254740991, 9007199254740991] for datatype INT64',
    );
    throws400(
      { inputs: { features: [[1, 2, 3]], offset: [[1]] } },
      TWO,
      "inputs.features[0]: shape is [3]; input 'features' takes [2] per instance (the model's input is [-1, 2], -1 = any size)",
    );
    throws400(
      { inputs: [[1, 2]] },
      TWO,
      `'inputs' is an array, which feeds a single-input model; this model has 2 inputs, so send an object keyed by input name: {"inputs": {"features": [...], "offset": [...]}}`,
    );
    throws400({ inputs: 'x' }, TWO, "'inputs' must be an object keyed by input name ('features', 'offset'), each a batch of rows");
    throws400(
      { instances: [1] },
      [{ name: 's', datatype: 'FP32', shape: [] }],
      "instances[0]: input 's' is a scalar with no batch dimension; V1 rows can't feed it, use POST /v2/models/{name}/infer",
    );
  });

  test('predictions: one per row; a one-value row is a scalar; rank-3 outputs keep their nesting', () => {
    const outs: TensorSpec[] = [
      { name: 'p', datatype: 'FP32', shape: [-1, 1] },
      { name: 'm', datatype: 'INT64', shape: [-1, 2, 2] },
    ];
    const out = {
      p: { data: Float32Array.from([0.5, 0.25]), dims: [2, 1] },
      m: { data: BigInt64Array.from([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]), dims: [2, 2, 2] },
    };
    assert.deepEqual(v1Answer(out, outs, 2, 'detailed'), {
      predictions: [
        {
          p: 0.5,
          m: [
            [1, 2],
            [3, 4],
          ],
        },
        {
          p: 0.25,
          m: [
            [5, 6],
            [7, 8],
          ],
        },
      ],
    });
    assert.deepEqual(v1Answer(out, outs, 2, 'predict'), { predictions: [0.5, 0.25] });
    assert.deepEqual(v1Answer(out, [outs[1]], 2, 'predict'), {
      predictions: [
        [
          [1, 2],
          [3, 4],
        ],
        [
          [5, 6],
          [7, 8],
        ],
      ],
    });
  });

  test('a classifier answers labels as KServe sklearn does, probabilities when asked, ZipMap maps when detailed', () => {
    const outs: TensorSpec[] = [
      { name: 'output_label', datatype: 'BYTES', shape: [-1] },
      { name: 'output_probability', datatype: 'FP32', shape: [-1, 2], parameters: { labels: ['no', 'yes'] } },
    ];
    const out = { output_label: { data: ['yes', 'no'], dims: [2] }, output_probability: { data: Float32Array.from([0.25, 0.75, 0.5, 0.5]), dims: [2, 2] } };
    assert.deepEqual(v1Answer(out, outs, 2, v1Shape({})), { predictions: ['yes', 'no'] });
    assert.deepEqual(v1Answer(out, outs, 2, v1Shape({ parameters: { predict_proba: true } })), {
      predictions: [
        [0.25, 0.75],
        [0.5, 0.5],
      ],
      class_labels: ['no', 'yes'],
    });
    assert.deepEqual(v1Answer(out, outs, 2, v1Shape({}, 'predict_proba')), {
      predictions: [
        [0.25, 0.75],
        [0.5, 0.5],
      ],
      class_labels: ['no', 'yes'],
    });
    assert.deepEqual(v1Answer(out, outs, 2, v1Shape({ parameters: { predict_proba: false } }, 'predict_proba')), { predictions: ['yes', 'no'] });
    assert.deepEqual(v1Answer(out, outs, 2, v1Shape({ parameters: { detailed: true } })), {
      predictions: [
        { output_label: 'yes', output_probability: { no: 0.25, yes: 0.75 } },
        { output_label: 'no', output_probability: { no: 0.5, yes: 0.5 } },
      ],
    });
    // Without ZipMap labels (zipmap=False, XGBoost): a float [N, C] output beside a label output.
    const plain: TensorSpec[] = [
      { name: 'label', datatype: 'INT64', shape: [-1] },
      { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] },
    ];
    assert.deepEqual(
      v1Answer(
        { label: { data: BigInt64Array.from([1n]), dims: [1] }, probabilities: { data: Float32Array.from([0.25, 0.75]), dims: [1, 2] } },
        plain,
        1,
        'predict_proba',
      ),
      { predictions: [[0.25, 0.75]] },
    );
    assert.throws(() => v1Answer({}, [plain[1]], 1, 'predict_proba'), /this model has no class-probability output/);
    assert.throws(() => v1Shape({ parameters: { predict_proba: 'yes' } }), /parameters.predict_proba must be true or false/);
    assert.throws(() => v1Shape({ parameters: [] }), /'parameters' must be an object/);
  });

  test('the answer text written from typed arrays is exactly JSON.stringify of the answer, for every shape and datatype', () => {
    const f32 = Float32Array.from([0.1, 0.9, NaN, Infinity, -0.3333333, 1e-8]);
    const cases: Array<[Record<string, { data: ArrayLike<unknown>; dims: number[] }>, TensorSpec[], number]> = [
      // XGBoost/LightGBM zipmap=False: INT64 labels [N] beside FP32 probabilities [N, 2]
      [
        { label: { data: BigInt64Array.from([1n, 0n, 1n]), dims: [3] }, probabilities: { data: f32, dims: [3, 2] } },
        [
          { name: 'label', datatype: 'INT64', shape: [-1] },
          { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] },
        ],
        3,
      ],
      // ZipMap served as a tensor with labels; string labels (BYTES) take the general path
      [
        { output_label: { data: ['b', 'a'], dims: [2] }, output_probability: { data: Float64Array.from([0.5, 0.5, 0.25, 0.75]), dims: [2, 2] } },
        [
          { name: 'output_label', datatype: 'BYTES', shape: [-1] },
          { name: 'output_probability', datatype: 'FP64', shape: [-1, 2], parameters: { labels: ['a', 'b'] } },
        ],
        2,
      ],
      // a regressor [N, 1], FP16 bits, a label declared [1] for one row, rank-3 rows
      [{ variable: { data: Float32Array.from([1.5, -2.25]), dims: [2, 1] } }, [{ name: 'variable', datatype: 'FP32', shape: [-1, 1] }], 2],
      [{ y: { data: Uint16Array.from([0x3c00, 0x7e00]), dims: [2] } }, [{ name: 'y', datatype: 'FP16', shape: [-1] }], 2],
      [{ label: { data: BigInt64Array.from([7n]), dims: [1] } }, [{ name: 'label', datatype: 'INT64', shape: [1] }], 1],
      [{ m: { data: Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), dims: [2, 2, 2] } }, [{ name: 'm', datatype: 'INT32', shape: [-1, 2, 2] }], 2],
      [{ ok: { data: [true, false], dims: [2] } }, [{ name: 'ok', datatype: 'BOOL', shape: [-1] }], 2],
    ];
    let fast = 0;
    for (const [out, specs, rows] of cases) {
      for (const shape of ['predict', 'predict_proba', 'detailed'] as const) {
        let want: string | Error;
        try {
          want = JSON.stringify(v1Answer(out, specs, rows, shape));
        } catch (e) {
          want = e as Error;
        }
        if (want instanceof Error) assert.throws(() => v1AnswerText(out, specs, rows, shape), { message: want.message });
        else {
          assert.equal(v1AnswerText(out, specs, rows, shape), want, `${specs.map((x) => x.name).join(',')} ${shape}`);
          fast++;
        }
      }
    }
    assert.ok(fast >= 14, `${fast} answers compared`);
  });

  test('per-column scalars: [N, 1] inputs take a scalar per instance; a single [N, F] input takes F named columns in order', () => {
    const cols: TensorSpec[] = [
      { name: 'age', datatype: 'FP32', shape: [-1, 1] },
      { name: 'city', datatype: 'BYTES', shape: [-1, 1] },
    ];
    const d = decodeV1Request(
      {
        instances: [
          { age: 30, city: 'Oslo' },
          { age: null, city: 'Rome' },
        ],
      },
      cols,
      'm',
    );
    assert.deepEqual(
      d.inputs.map((t) => t.shape),
      [
        [2, 1],
        [2, 1],
      ],
    );
    assert.ok(Number.isNaN((d.inputs[0].typed as Float32Array)[1]));
    assert.deepEqual(d.inputs[1].typed, ['Oslo', 'Rome']);
    const f = decodeV1Request(
      {
        instances: [
          { a: 1, b: 2, c: null },
          { a: 4, b: 5, c: 6 },
        ],
      },
      ONE,
      'm',
    );
    assert.deepEqual([f.rows, f.inputs[0].shape], [2, [2, 3]]);
    assert.deepEqual(Array.from(f.inputs[0].typed as Float32Array), [1, 2, NaN, 4, 5, 6]);
    throws400(
      { instances: [{ a: 1, b: 2 }] },
      ONE,
      "instances[0] has 2 columns ('a', 'b'); input 'input' takes 3 values per instance, one per feature in training order",
    );
    throws400(
      {
        instances: [
          { a: 1, b: 2, c: 3 },
          { b: 1, a: 2, c: 3 },
        ],
      },
      ONE,
      "instances[1]: columns are 'b', 'a', 'c'; instances[0] has 'a', 'b', 'c'; every instance must name the same columns in the same order (they become the input's columns in that order)",
    );
    throws400({ instances: [{ a: 1, b: 'x', c: 3 }] }, ONE, 'instances[0].b: is "x"; expected a number (or null for a missing value) for datatype FP32');
  });
});

describe('V1 predict over HTTP: a real two-input model, and single-input rows as before', () => {
  const dir = tempDir();
  const fraud = writeFraudModel(dir, 3);
  let s: ModelServer;
  before(async () => {
    s = await startModelServer({
      port: 0,
      processMetrics: false,
      models: [
        { name: 'two', path: writeTwoInputModel(dir) },
        { name: 'fraud', path: fraud.path },
      ],
    });
  });
  after(() => s.close());

  test('rows keyed by input name and columns give shifted = features + offset and doubled = 2 * offset', async () => {
    const instances = [
      { features: [0.5, 1], offset: [1] },
      { features: [2, -3], offset: [-4] },
      { offset: [10], features: [0, 0] },
    ];
    const want = [
      { shifted: [1.5, 2], doubled: [2] },
      { shifted: [-2, -7], doubled: [-8] },
      { shifted: [10, 10], doubled: [20] },
    ];
    const r = await post(`${s.url}/v1/models/two:predict`, JSON.stringify({ instances }));
    assert.deepEqual({ status: r.status, json: r.json }, { status: 200, json: { predictions: want.map((w) => w.shifted) } });
    const d = await post(`${s.url}/v1/models/two:predict`, JSON.stringify({ instances, parameters: { detailed: true } }));
    assert.deepEqual(
      { status: d.status, json: d.json },
      { status: 200, json: { predictions: want.map((w) => ({ shifted: w.shifted, doubled: w.doubled[0] })) } },
    );
    const c = await post(
      `${s.url}/v1/models/two:predict`,
      JSON.stringify({ inputs: { features: instances.map((i) => i.features), offset: instances.map((i) => i.offset) } }),
    );
    assert.deepEqual(c.json, r.json);
    assert.equal(r.headers.get('x-ghosteam-version'), '1');
  });

  test('a bad instance is a 400 naming it and the input; the model answers the next request', async () => {
    const r = await post(
      `${s.url}/v1/models/two:predict`,
      JSON.stringify({
        instances: [
          { features: [1, 2], offset: [1] },
          { features: [1, 2], offset: ['7'] },
        ],
      }),
    );
    assert.deepEqual(
      { status: r.status, json: r.json },
      {
        status: 400,
        json: { error: 'instances[1].offset: element 0 is "7"; expected an integer in [-9007199254740991, 9007199254740991] for datatype INT64' },
      },
    );
    const m = await post(`${s.url}/v1/models/two:predict`, JSON.stringify({ instances: [[1, 2]] }));
    assert.equal(m.status, 400);
    assert.match(m.json.error, /^model 'two' has 2 inputs \('features', 'offset'\); each instance must be an object keyed by input name/);
    assert.equal((await post(`${s.url}/v1/models/two:predict`, JSON.stringify({ instances: [{ features: [1, 2], offset: [1] }] }))).status, 200);
  });

  test('single-input models keep taking plain rows (and columns, and named rows)', async () => {
    const x = rows(4, 8);
    const want = denseNetForward(fraud.net, x);
    for (const body of [{ instances: x }, { inputs: x }, { inputs: { input: x } }, { instances: x.map((input) => ({ input })) }]) {
      const r = await post(`${s.url}/v1/models/fraud:predict`, JSON.stringify(body));
      assert.equal(r.status, 200, JSON.stringify(r.json));
      (r.json.predictions as number[]).forEach((p, i) => assert.ok(Math.abs(p - want[i]) < 1e-5, `${Object.keys(body)[0]} row ${i}`));
    }
  });

  test('KServe V1 liveness at / and the model list at /v1/models', async () => {
    assert.deepEqual(await get(`${s.url}/`), { status: 200, json: { status: 'alive' } });
    assert.deepEqual(await get(`${s.url}/v1/models`), { status: 200, json: { models: ['two', 'fraud'] } });
    const r = await post(`${s.url}/v1/models`, '{}');
    assert.deepEqual({ status: r.status, json: r.json }, { status: 405, json: { error: 'POST is not allowed on /v1/models; use GET' } });
  });
});

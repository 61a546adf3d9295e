// Every OIP datatype the server claims, over JSON and the binary extension: FP16 and BF16
// conversions (exhaustive over all 65,536 bit patterns of each), real FP16 and BF16 ONNX models
// checked to their precision, exact 400s for out-of-range values, and the precise error for types
// onnxruntime-node 1.30 can't pass at all (float8).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startModelServer, type ModelServer } from '../../components/model-server/index.ts';
import {
  decodeInput,
  jsonArrayText,
  toPlain,
  toHalfBits,
  fromHalfBits,
  toBf16Bits,
  fromBf16Bits,
  RequestError,
} from '../../components/model-server/tensors.ts';
import { decodeBinary, encodeBinary } from '../../components/model-server/binary.ts';
import { recordJson } from '../../components/model-server/payload-log.ts';
import { tempDir, writeIdentityModel, post, get, IDENTITY_TYPES } from './fixtures.ts';
import { writeFp16Model, writeBf16Model, writeFloat8Model, FP16_W, FP16_B, BF16_W } from './graphs.ts';
import { seededRandom } from '../../components/onnx/random.ts';

const half = (v: number) => fromHalfBits(toHalfBits(v));

describe('16-bit float conversion (pure)', () => {
  test('every half bit pattern converts to a number and back to the same bits (NaNs stay NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const v = fromHalfBits(h);
      if (Number.isNaN(v)) {
        assert.ok((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0, `bits ${h}`);
        continue;
      }
      assert.equal(toHalfBits(v), h, `bits 0x${h.toString(16)} = ${v}`);
    }
  });
  test('rounding to half: nearest, ties to even, subnormals, overflow to infinity', () => {
    assert.equal(toHalfBits(1), 0x3c00);
    assert.equal(toHalfBits(-2), 0xc000);
    assert.equal(toHalfBits(0.1), 0x2e66); // 0.0999755859375
    assert.equal(toHalfBits(1 + 2 ** -11), 0x3c00); // tie between 1 and 1+2^-10 → even (1)
    assert.equal(toHalfBits(1 + 3 * 2 ** -11), 0x3c02); // tie → even (1+2^-9)
    assert.equal(toHalfBits(2 ** -24), 0x0001); // smallest subnormal
    assert.equal(toHalfBits(2 ** -25), 0x0000); // half of it: tie → even (0)
    assert.equal(toHalfBits(3 * 2 ** -25), 0x0002); // 1.5 subnormal steps → 2
    assert.equal(toHalfBits(65504), 0x7bff);
    assert.equal(toHalfBits(65519.99), 0x7bff);
    assert.equal(toHalfBits(65520), 0x7c00);
    assert.equal(toHalfBits(-1e9), 0xfc00);
    assert.equal(toHalfBits(-0), 0x8000);
  });
  test('every bfloat16 bit pattern converts to a number and back to the same bits; rounding to nearest even', () => {
    for (let b = 0; b < 65536; b++) {
      const v = fromBf16Bits(b);
      if (Number.isNaN(v)) continue;
      assert.equal(toBf16Bits(v), b, `bits 0x${b.toString(16)} = ${v}`);
    }
    assert.equal(toBf16Bits(1 + 2 ** -8), 0x3f80); // tie → even
    assert.equal(toBf16Bits(1 + 3 * 2 ** -8), 0x3f82);
    assert.equal(fromBf16Bits(toBf16Bits(3.14159)), 3.140625);
  });
});

describe('FP16 tensors and range errors (pure)', () => {
  const spec = (datatype: string) => ({ name: 'x', datatype: datatype as 'FP16', shape: [-1] });
  const dec = (datatype: string, data: unknown[]) => decodeInput({ name: 'x', datatype, shape: [data.length], data }, spec(datatype), 0);
  test('FP16 JSON numbers become half bits; the JSON and plain forms give the half values back', () => {
    const t = dec('FP16', [1, 0.1, -65504, 2 ** -24]);
    assert.ok(t.typed instanceof Uint16Array);
    assert.deepEqual(Array.from(t.typed), [0x3c00, 0x2e66, 0xfbff, 0x0001]);
    assert.equal(jsonArrayText(t.typed, 'FP16'), '[1,0.0999755859375,-65504,5.960464477539063e-8]');
    assert.deepEqual(toPlain(Uint16Array.from([0x3c00, 0x7c00]), 'FP16'), [1, Infinity]);
    assert.equal(jsonArrayText(Uint16Array.from([0x7c00, 0x7e00]), 'FP16'), '[null,null]');
  });
  test('out-of-range and wrongly typed values are 400s naming the element and the range', () => {
    const cases: Array<[string, unknown[], string]> = [
      ['FP16', [1, 70000], "inputs[0] ('x'): data[1] is 70000, beyond FP16's largest finite value ±65504; scale it or use a model with an FP32 input"],
      ['FP16', [-65520], "inputs[0] ('x'): data[0] is -65520, beyond FP16's largest finite value ±65504; scale it or use a model with an FP32 input"],
      ['FP16', ['1'], `inputs[0] ('x'): data[0] is "1"; expected a number (or null for a missing value) for datatype FP16`],
      ['UINT8', [300], "inputs[0] ('x'): data[0] is 300; expected an integer in [0, 255] for datatype UINT8"],
      ['UINT8', [-1], "inputs[0] ('x'): data[0] is -1; expected an integer in [0, 255] for datatype UINT8"],
      ['INT8', [128], "inputs[0] ('x'): data[0] is 128; expected an integer in [-128, 127] for datatype INT8"],
      ['UINT16', [65536], "inputs[0] ('x'): data[0] is 65536; expected an integer in [0, 65535] for datatype UINT16"],
      ['INT16', [-32769], "inputs[0] ('x'): data[0] is -32769; expected an integer in [-32768, 32767] for datatype INT16"],
      ['UINT32', [4294967296], "inputs[0] ('x'): data[0] is 4294967296; expected an integer in [0, 4294967295] for datatype UINT32"],
      ['INT32', [0, 1.5], "inputs[0] ('x'): data[1] is 1.5; expected an integer in [-2147483648, 2147483647] for datatype INT32"],
      ['UINT64', [-3], "inputs[0] ('x'): data[0] is -3; expected an integer in [0, 9007199254740991] for datatype UINT64"],
      ['INT64', [2 ** 60], "inputs[0] ('x'): data[0] is 1152921504606847000; expected an integer in [-9007199254740991, 9007199254740991] for datatype INT64"],
      ['BOOL', [1], "inputs[0] ('x'): data[0] is 1; expected true or false for datatype BOOL"],
      [
        'INT32',
        [null],
        "inputs[0] ('x'): data[0] is null; expected an integer in [-2147483648, 2147483647] for datatype INT32 (null means a missing value only for FP16, BF16, FP32 and FP64 inputs)",
      ],
      ['BYTES', [7], "inputs[0] ('x'): data[0] is 7; expected a string for datatype BYTES"],
      [
        'BYTES',
        ['ok', 'a\u0000b'],
        `inputs[0] ('x'): data[1] is "a\\u0000b"; expected a string without NUL characters (onnxruntime string tensors end at NUL) for datatype BYTES`,
      ],
    ];
    for (const [dt, data, message] of cases) {
      assert.throws(
        () => dec(dt, data),
        (e: unknown) => e instanceof RequestError && e.status === 400 && e.message === message,
        `${dt} ${JSON.stringify(data)}`,
      );
    }
  });
  test('FP16 binary blocks are half bits, in and out; the decoded tensor logs numbers', () => {
    const bytes = Buffer.from([0x00, 0x3c, 0x66, 0x2e, 0xff, 0xfb]);
    const typed = decodeBinary(bytes, 'FP16', 'inputs[0]');
    assert.deepEqual(Array.from(typed as Uint16Array), [0x3c00, 0x2e66, 0xfbff]);
    assert.deepEqual(encodeBinary(typed as Uint16Array, 'FP16'), bytes);
    const t = decodeInput({ name: 'x', datatype: 'FP16', shape: [3], data: typed }, spec('FP16'), 0);
    // What the payload log writes for it: the half values as numbers (decoded once, at log time).
    const logged = JSON.parse(
      recordJson({ ts: 't', model: 'm', version: '1', id: 'i', inputs: { x: { shape: t.shape, datatype: t.datatype, data: t.json } }, outputs: {} }),
    );
    assert.deepEqual(logged.inputs.x.data, [1, 0.0999755859375, -65504]);
    assert.throws(() => decodeBinary(bytes.subarray(0, 5), 'FP16', 'inputs[0]'), {
      message: 'inputs[0]: binary_data_size 5 is not a multiple of 2 bytes (FP16)',
    });
    const nul = Buffer.from([1, 0, 0, 0, 0x61, 2, 0, 0, 0, 0x62, 0]);
    assert.throws(() => decodeBinary(nul, 'BYTES', 'inputs[0]'), {
      message: 'inputs[0]: BYTES element 1 contains a NUL byte; expected a string without NUL characters (onnxruntime string tensors end at NUL)',
    });
    assert.deepEqual(decodeBinary(nul.subarray(0, 5), 'BYTES', 'inputs[0]'), ['a']);
  });
});

/** Values at the edges of each datatype's range, two rows of two. */
const EDGES: Record<string, unknown[]> = {
  BOOL: [true, false, false, true],
  UINT8: [0, 255, 7, 128],
  UINT16: [0, 65535, 1, 300],
  UINT32: [0, 4294967295, 1, 65536],
  UINT64: [0, Number.MAX_SAFE_INTEGER, 1, 2 ** 40],
  INT8: [-128, 127, 0, -1],
  INT16: [-32768, 32767, 0, -1],
  INT32: [-2147483648, 2147483647, 0, -1],
  INT64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 0, -(2 ** 40)],
  FP16: [65504, -(2 ** -24), 0.5, -1024],
  FP32: [Math.fround(3.4e38), -Math.fround(1e-38), 0.5, -1],
  FP64: [1.7976931348623157e308, -5e-324, 0.1, -1],
  BYTES: ['', 'héllo', 'a"b', '☃\n'],
};
const BINARY_CTORS: Record<string, { from(a: ArrayLike<unknown>): ArrayBufferView }> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP32: Float32Array,
  FP64: Float64Array,
};

function toBinary(dt: string, values: unknown[]): Buffer {
  if (dt === 'BYTES')
    return Buffer.concat(
      (values as string[]).flatMap((v) => {
        const b = Buffer.from(v);
        const l = Buffer.alloc(4);
        l.writeUInt32LE(b.length);
        return [l, b];
      }),
    );
  if (dt === 'FP16') return Buffer.from(Uint16Array.from(values as number[], toHalfBits).buffer);
  const conv = dt.endsWith('64') && dt !== 'FP64' ? (values as number[]).map((v) => BigInt(v)) : dt === 'BOOL' ? values.map((v) => (v ? 1 : 0)) : values;
  const t = BINARY_CTORS[dt].from(conv);
  return Buffer.from(t.buffer, t.byteOffset, t.byteLength);
}

async function binaryInfer(url: string, header: object, blocks: Buffer[]): Promise<{ status: number; head: any; rest: Buffer }> {
  const h = Buffer.from(JSON.stringify(header));
  const res = await fetch(url, { method: 'POST', headers: { 'inference-header-content-length': String(h.length) }, body: Buffer.concat([h, ...blocks]) });
  const buf = Buffer.from(await res.arrayBuffer());
  const n = Number(res.headers.get('inference-header-content-length') ?? buf.length);
  return { status: res.status, head: JSON.parse(buf.subarray(0, n).toString()), rest: buf.subarray(n) };
}

describe('model server: every datatype through real ONNX models', () => {
  const dir = tempDir();
  const types = [...Object.keys(IDENTITY_TYPES)];
  let s: ModelServer;
  before(async () => {
    s = await startModelServer({
      port: 0,
      processMetrics: false,
      models: [...types.map((d) => ({ name: `id-${d.toLowerCase()}`, path: writeIdentityModel(dir, d) })), { name: 'affine16', path: writeFp16Model(dir) }],
    });
  });
  after(() => s.close());

  test('each datatype round-trips its range edges over JSON and over the binary extension', async () => {
    for (const dt of [...types, 'FP16']) {
      const name = dt === 'FP16' ? 'affine16' : `id-${dt.toLowerCase()}`;
      const outName = dt === 'FP16' ? 'x32' : 'y';
      // The FP16 model's input is [N, 3]: send three of the edge values, read them back from x32.
      const values = EDGES[dt];
      const shape = dt === 'FP16' ? [1, 3] : [2, 2];
      const sent = dt === 'FP16' ? values.slice(0, 3) : values;
      const r = await post(
        `${s.url}/v2/models/${name}/infer`,
        JSON.stringify({ inputs: [{ name: 'x', datatype: dt, shape, data: sent }], outputs: [{ name: outName }] }),
      );
      assert.equal(r.status, 200, `${dt}: ${JSON.stringify(r.json)}`);
      assert.deepEqual(r.json.outputs[0].data, sent, `${dt} JSON`);
      assert.deepEqual(r.json.outputs[0].shape, shape);
      // Binary in, binary out: the bytes come back unchanged (for FP16: x32 is the exact value of the half sent).
      const b = await binaryInfer(
        `${s.url}/v2/models/${name}/infer`,
        {
          inputs: [{ name: 'x', datatype: dt, shape, parameters: { binary_data_size: toBinary(dt, sent).length } }],
          outputs: [{ name: outName, parameters: { binary_data: dt !== 'FP16' } }],
        },
        [toBinary(dt, sent)],
      );
      assert.equal(b.status, 200, `${dt} binary: ${JSON.stringify(b.head)}`);
      if (dt === 'FP16') assert.deepEqual(b.head.outputs[0].data, sent, 'FP16 binary in');
      else assert.deepEqual(b.rest, toBinary(dt, values), `${dt} binary`);
    }
  });

  test('out-of-range values are 400s over HTTP, and the server keeps serving', async () => {
    const r = await post(`${s.url}/v2/models/id-uint8/infer`, JSON.stringify({ inputs: [{ name: 'x', datatype: 'UINT8', shape: [1, 2], data: [1, 300] }] }));
    assert.deepEqual(
      { status: r.status, json: r.json },
      { status: 400, json: { error: "inputs[0] ('x'): data[1] is 300; expected an integer in [0, 255] for datatype UINT8" } },
    );
    const f = await post(`${s.url}/v2/models/affine16/infer`, JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP16', shape: [1, 3], data: [1, 2, 1e6] }] }));
    assert.deepEqual(
      { status: f.status, json: f.json },
      {
        status: 400,
        json: { error: "inputs[0] ('x'): data[2] is 1000000, beyond FP16's largest finite value ±65504; scale it or use a model with an FP32 input" },
      },
    );
    const wrong = await post(
      `${s.url}/v2/models/affine16/infer`,
      JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }),
    );
    assert.deepEqual(wrong.json, { error: `inputs[0] ('x'): datatype is "FP32"; the model expects "FP16"` });
    assert.equal((await get(`${s.url}/v2/health/live`)).status, 200);
  });

  test('FP16 model: metadata says FP16; y = x*w + b to FP16 precision; y over JSON equals its exact FP32 cast', async () => {
    const meta = (await get(`${s.url}/v2/models/affine16`)).json;
    assert.deepEqual(meta.inputs, [{ name: 'x', datatype: 'FP16', shape: [-1, 3] }]);
    assert.deepEqual(
      meta.outputs.map((o: { datatype: string }) => o.datatype),
      ['FP16', 'FP32', 'FP32'],
    );
    const rnd = seededRandom(5);
    const n = 40;
    const x = Array.from({ length: n * 3 }, () => (rnd() - 0.5) * 200);
    const r = await post(`${s.url}/v2/models/affine16/infer`, JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP16', shape: [n, 3], data: x }] }));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const [y, x32, y32] = r.json.outputs;
    assert.equal(y.datatype, 'FP16');
    assert.deepEqual(y.shape, [n, 3]);
    assert.deepEqual(x32.data, x.map(half)); // the server rounded each number to the nearest half
    assert.deepEqual(y.data, y32.data); // half bits → number is exact
    // onnxruntime's CPU provider has no FP16 Mul/Add kernels: it computes them in float32 between
    // inserted Casts and rounds once at the end. Either way the answer must be within one half ulp.
    for (let i = 0; i < x.length; i++) {
      const want = half(Math.fround(half(x[i]) * FP16_W[i % 3] + half(FP16_B[i % 3])));
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(want) || 2 ** -14)) - 10);
      assert.ok(Math.abs(y.data[i] - want) <= ulp, `y[${i}] = ${y.data[i]}, want ${want} (±${ulp})`);
    }
    // The same rows over the binary extension, both ways: y's bytes are the halves of the JSON answer.
    const blk = Buffer.from(Uint16Array.from(x, toHalfBits).buffer);
    const b = await binaryInfer(
      `${s.url}/v2/models/affine16/infer`,
      {
        inputs: [{ name: 'x', datatype: 'FP16', shape: [n, 3], parameters: { binary_data_size: blk.length } }],
        outputs: [{ name: 'y', parameters: { binary_data: true } }],
      },
      [blk],
    );
    assert.deepEqual(b.head.outputs[0], { name: 'y', datatype: 'FP16', shape: [n, 3], parameters: { binary_data_size: n * 6 } });
    const bits = new Uint16Array(b.rest.buffer.slice(b.rest.byteOffset, b.rest.byteOffset + b.rest.length));
    assert.deepEqual(Array.from(bits, fromHalfBits), y.data);
    // A result past FP16's range is infinity, which JSON carries as null (65504 * 1.25 - 7).
    const inf = await post(
      `${s.url}/v2/models/affine16/infer`,
      JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP16', shape: [1, 3], data: [0, 0, 65504] }], outputs: [{ name: 'y' }] }),
    );
    assert.deepEqual(inf.json.outputs[0].data, [0.0999755859375, 2, null]);
  });

  test('FP16 under dynamic batching: 24 concurrent callers each get exactly their own rows', async () => {
    const bodies = Array.from({ length: 24 }, (_, k) => Array.from({ length: 3 * (1 + (k % 3)) }, (_, j) => k * 10 + j * 0.25));
    const res = await Promise.all(
      bodies.map((x) =>
        post(
          `${s.url}/v2/models/affine16/infer`,
          JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP16', shape: [x.length / 3, 3], data: x }], outputs: [{ name: 'x32' }] }),
        ),
      ),
    );
    res.forEach((r, k) => assert.deepEqual(r.json.outputs[0].data, bodies[k].map(half), `caller ${k}`));
  });

  test('FP16 through KServe V1 predict: numbers in, numbers out', async () => {
    const r = await post(
      `${s.url}/v1/models/affine16:predict`,
      JSON.stringify({
        instances: [
          [1, 2, 3],
          [0.1, 0.2, 0.3],
        ],
        parameters: { detailed: true },
      }),
    );
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(
      r.json.predictions.map((p: { x32: number[] }) => p.x32),
      [[1, 2, 3], [0.1, 0.2, 0.3].map(half)],
    );
    assert.deepEqual(r.json.predictions[0].y, [half(0.5 + half(0.1)), -4, half(3.75 - 7)]);
  });
});

describe('BF16: a model with bfloat16 edges, loaded with float32 Casts around them', () => {
  const dir = tempDir();
  const bf = (v: number) => fromBf16Bits(toBf16Bits(v));
  let s: ModelServer;
  before(async () => {
    s = await startModelServer({ port: 0, processMetrics: false, models: [{ name: 'scale16', path: writeBf16Model(dir) }] });
  });
  after(() => s.close());

  test('metadata says BF16; JSON numbers are rounded to bfloat16; y = x * w rounded to bfloat16', async () => {
    const meta = (await get(`${s.url}/v2/models/scale16`)).json;
    assert.deepEqual(meta.inputs, [{ name: 'x', datatype: 'BF16', shape: [-1, 2] }]);
    assert.deepEqual(meta.outputs, [
      { name: 'y', datatype: 'BF16', shape: [-1, 2] },
      { name: 'x32', datatype: 'FP32', shape: [-1, 2] },
    ]);
    const rnd = seededRandom(9);
    const x = Array.from({ length: 40 }, () => (rnd() - 0.5) * 10 ** Math.floor(rnd() * 12 - 4));
    const r = await post(`${s.url}/v2/models/scale16/infer`, JSON.stringify({ inputs: [{ name: 'x', datatype: 'BF16', shape: [20, 2], data: x }] }));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const [y, x32] = r.json.outputs;
    assert.equal(y.datatype, 'BF16');
    assert.deepEqual(x32.data, x.map(bf));
    assert.deepEqual(
      y.data,
      x.map((v, i) => bf(Math.fround(bf(v) * BF16_W[i % 2]))),
    );
    const big = await post(`${s.url}/v2/models/scale16/infer`, JSON.stringify({ inputs: [{ name: 'x', datatype: 'BF16', shape: [1, 2], data: [1, 3.4e38] }] }));
    assert.deepEqual(big.json, { error: "inputs[0] ('x'): data[1] is 3.4e+38, beyond BF16's largest finite value ±3.3895313892515355e+38; scale it" });
  });

  test('BF16 over the binary extension: bfloat16 bits in, bfloat16 bits out, V1 numbers', async () => {
    const x = [1.5, -0.1, 300, 2 ** -100];
    const blk = Buffer.from(Uint16Array.from(x, toBf16Bits).buffer);
    const b = await binaryInfer(
      `${s.url}/v2/models/scale16/infer`,
      {
        inputs: [{ name: 'x', datatype: 'BF16', shape: [2, 2], parameters: { binary_data_size: 8 } }],
        outputs: [{ name: 'y', parameters: { binary_data: true } }],
      },
      [blk],
    );
    assert.deepEqual(b.head.outputs[0], { name: 'y', datatype: 'BF16', shape: [2, 2], parameters: { binary_data_size: 8 } });
    const bits = Array.from({ length: 4 }, (_, i) => b.rest.readUInt16LE(i * 2));
    assert.deepEqual(
      bits,
      x.map((v, i) => toBf16Bits(bf(v) * BF16_W[i % 2])),
    );
    const v1 = await post(`${s.url}/v1/models/scale16:predict`, JSON.stringify({ instances: [[1.5, -0.1]], parameters: { detailed: true } }));
    assert.deepEqual(v1.json, { predictions: [{ y: [0.75, bf(bf(-0.1) * -3)], x32: [1.5, bf(-0.1)] }] });
  });

  test('pure: BF16 decoding and binary blocks', () => {
    const t = decodeInput({ name: 'x', datatype: 'BF16', shape: [2], data: [3.14159, -1e-3] }, { name: 'x', datatype: 'BF16', shape: [-1] }, 0);
    assert.ok(t.typed instanceof Float32Array);
    assert.deepEqual(Array.from(t.typed), [3.140625, bf(-1e-3)]);
    const bytes = Buffer.from([0x49, 0x40, 0x80, 0xbf]); // 0x4049 = 3.140625, 0xbf80 = -1
    assert.deepEqual(Array.from(decodeBinary(bytes, 'BF16', 'inputs[0]') as Float32Array), [3.140625, -1]);
    assert.deepEqual(encodeBinary(Float32Array.from([3.140625, -1]), 'BF16'), bytes);
  });
});

describe('types onnxruntime-node 1.30 cannot pass at all (float8): the error says so precisely', () => {
  test('starting with such a model fails with the message; loading one through the admin API is a 400', async () => {
    const dir = tempDir();
    const path = writeFloat8Model(dir);
    const message = `can't load ONNX model ${path}: input 'x', output 'y' have element type float8e4m3fn (ONNX TensorProto 17), which onnxruntime-node 1.30 can't pass into or out of a session (its Tensor has no float8e4m3fn type); add a Cast to float32 or float16 at the graph's inputs and outputs`;
    await assert.rejects(startModelServer({ port: 0, processMetrics: false, models: [{ name: 'f8', path }] }), { message });
    const s = await startModelServer({ port: 0, processMetrics: false });
    try {
      const r = await post(`${s.url}/admin/models`, JSON.stringify({ name: 'f8', path }));
      assert.deepEqual({ status: r.status, json: r.json }, { status: 400, json: { error: message } });
    } finally {
      await s.close();
    }
  });
});

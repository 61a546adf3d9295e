import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { route, parseTrafficSplit } from '../../components/model-server/traffic.ts';
import { decodeInputs, jsonArrayText, type RequestError } from '../../components/model-server/tensors.ts';
import { Batcher, type BatchInput, type RawOutput } from '../../components/model-server/batcher.ts';
import { parseModelSpec } from '../../components/model-server/models.ts';
import { PayloadLogger, type PayloadRecord } from '../../components/model-server/payload-log.ts';
import { decodeBinary, encodeBinary, attachBinaryInputs } from '../../components/model-server/binary.ts';
import { tempDir } from './fixtures.ts';

describe('traffic routing (pure)', () => {
  const loaded = new Set(['1', '2']);
  const split = { stable: '1', canary: '2', canaryPercent: 25, shadow: false };
  test('draw below the percentage goes to canary, above to stable', () => {
    assert.deepEqual(route(split, loaded, undefined, 0.2499), { version: '2', reason: 'canary' });
    assert.deepEqual(route(split, loaded, undefined, 0.25), { version: '1', reason: 'stable' });
  });
  test('shadow answers from stable and copies to canary', () => {
    assert.deepEqual(route({ ...split, shadow: true }, loaded, undefined, 0.1), { version: '1', shadow: '2', reason: 'shadow' });
    assert.deepEqual(route({ ...split, shadow: true }, loaded, undefined, 0.9), { version: '1', reason: 'stable' });
  });
  test('pin wins; unknown pin is an error string', () => {
    assert.deepEqual(route(split, loaded, '2', 0.99), { version: '2', reason: 'pinned' });
    assert.equal(route(split, loaded, '3', 0.5), "version '3' (from the pinning header) is not loaded; loaded: 1, 2");
  });
  test('the split is validated against loaded versions', () => {
    assert.deepEqual(parseTrafficSplit({ stable: 1, canary: 2, canaryPercent: 10 }, ['1', '2'], 'fraud'), {
      stable: '1',
      canary: '2',
      canaryPercent: 10,
      shadow: false,
    });
    assert.deepEqual(parseTrafficSplit({ stable: '2', canary: null }, ['1', '2'], 'fraud'), {
      stable: '2',
      canary: undefined,
      canaryPercent: 0,
      shadow: false,
    });
    assert.equal(parseTrafficSplit({ stable: '1', weight: 3 }, ['1'], 'f'), "traffic: unknown field 'weight'; allowed: stable, canary, canaryPercent, shadow");
    assert.equal(parseTrafficSplit({ stable: '1', canary: '1', canaryPercent: 5 }, ['1'], 'f'), "traffic.canary must differ from traffic.stable ('1')");
    assert.equal(parseTrafficSplit({ stable: '1', canaryPercent: 5 }, ['1'], 'f'), 'traffic.canaryPercent is 5 but no canary version is set');
    assert.equal(parseTrafficSplit({ stable: '1', canary: '2', canaryPercent: 5, shadow: 'yes' }, ['1', '2'], 'f'), 'traffic.shadow must be true or false');
    assert.equal(parseTrafficSplit('x', ['1'], 'f'), 'traffic must be an object like {"stable":"1","canary":"2","canaryPercent":10,"shadow":false}');
  });
});

describe('tensor decoding (pure)', () => {
  const specs = [
    { name: 'a', datatype: 'INT64' as const, shape: [-1, 2] },
    { name: 'b', datatype: 'FP32' as const, shape: [-1] },
  ];
  test("inputs are returned in the model's order, whatever the request order", () => {
    const d = decodeInputs(
      [
        { name: 'b', shape: [2], datatype: 'FP32', data: [1, 2] },
        {
          name: 'a',
          shape: [2, 2],
          datatype: 'INT64',
          data: [
            [1, 2],
            [3, 4],
          ],
        },
      ],
      specs,
    );
    assert.deepEqual(
      d.map((t) => t.name),
      ['a', 'b'],
    );
    assert.deepEqual(Array.from(d[0].typed as BigInt64Array), [1n, 2n, 3n, 4n]);
  });
  test('a missing input lists what the model expects', () => {
    assert.throws(
      () => decodeInputs([{ name: 'b', shape: [1], datatype: 'FP32', data: [1] }], specs),
      (e: RequestError) => e.status === 400 && e.message === "missing input 'a'; the model expects 'a' INT64 [-1, 2], 'b' FP32 [-1]",
    );
  });
  test('a non-integer for INT64 names the element', () => {
    assert.throws(
      () =>
        decodeInputs(
          [
            { name: 'a', shape: [1, 2], datatype: 'INT64', data: [1, 2.5] },
            { name: 'b', shape: [1], datatype: 'FP32', data: [1] },
          ],
          specs,
        ),
      { message: `inputs[0] ('a'): data[1] is 2.5; expected an integer in [-9007199254740991, 9007199254740991] for datatype INT64` },
    );
  });
  test('JSON output text: numbers, non-finite as null, bools, strings', () => {
    assert.equal(jsonArrayText(Float32Array.from([0.5, NaN, Infinity]), 'FP32'), '[0.5,null,null]');
    assert.equal(jsonArrayText(Uint8Array.from([1, 0]), 'BOOL'), '[true,false]');
    assert.equal(jsonArrayText(['a"b'], 'BYTES'), '["a\\"b"]');
    assert.equal(jsonArrayText(BigInt64Array.from([5n]), 'INT64'), '[5]');
  });
});

describe('batcher (injected run)', () => {
  const outputs = [{ name: 'y', datatype: 'FP32' as const, shape: [-1, 2] }];
  // y[r] = [x[r] * 10, x[r] * 10 + 1]
  function fakeRun(calls: number[]) {
    return async (inputs: readonly BatchInput[]): Promise<Record<string, RawOutput>> => {
      const x = inputs[0].typed as Float32Array;
      calls.push(inputs[0].shape[0]);
      const y = new Float32Array(x.length * 2);
      x.forEach((v, i) => {
        y[2 * i] = v * 10;
        y[2 * i + 1] = v * 10 + 1;
      });
      await new Promise((r) => setTimeout(r, 2));
      return { y: { data: y, dims: [x.length, 2] } };
    };
  }
  const job = (vals: number[]): BatchInput[] => [{ name: 'x', datatype: 'FP32', shape: [vals.length, 1], typed: Float32Array.from(vals) }];

  test('merges concurrent jobs up to maxBatchSize and splits rows back', async () => {
    const calls: number[] = [];
    const b = new Batcher(fakeRun(calls), outputs, { maxBatchSize: 8, maxQueueDelayMs: 50 });
    const jobs = Array.from({ length: 20 }, (_, i) => Array.from({ length: 1 + (i % 2) }, (_, k) => i * 100 + k));
    const out = await Promise.all(jobs.map((j) => b.submit(job(j))));
    out.forEach((o, i) => {
      const want = jobs[i].flatMap((v) => [v * 10, v * 10 + 1]);
      assert.deepEqual(Array.from(o.y.data as Float32Array), want);
      assert.deepEqual(o.y.dims, [jobs[i].length, 2]);
    });
    assert.equal(
      calls.reduce((a, c) => a + c, 0),
      30,
    );
    assert.ok(
      calls.every((c) => c <= 8),
      calls.join(','),
    );
    assert.ok(calls.length <= 6, `runs: ${calls.join(',')}`);
  });

  test('a job larger than maxBatchSize runs alone; a failing run rejects only its jobs', async () => {
    const calls: number[] = [];
    const b = new Batcher(fakeRun(calls), outputs, { maxBatchSize: 2 });
    const big = await b.submit(job([1, 2, 3, 4, 5]));
    assert.equal(big.y.dims[0], 5);
    let n = 0;
    const flaky = new Batcher(
      async (i) => {
        if (n++ === 0) throw new Error('boom');
        return fakeRun([])(i);
      },
      outputs,
      {},
    );
    await assert.rejects(flaky.submit(job([1])), { message: 'boom' });
    assert.deepEqual(Array.from((await flaky.submit(job([2]))).y.data as Float32Array), [20, 21]);
  });

  test('options are validated', () => {
    assert.throws(() => new Batcher(fakeRun([]), outputs, { maxBatchSize: 0 }), { message: 'batching.maxBatchSize must be an integer ≥ 1; got 0' });
  });
});

describe('model specs', () => {
  test('parses registry refs, paths and NAME[:V]=PATH', () => {
    assert.deepEqual(parseModelSpec('fraud@champion'), { ref: 'fraud@champion' });
    assert.deepEqual(parseModelSpec('fraud:3'), { ref: 'fraud:3' });
    assert.deepEqual(parseModelSpec('./models/fraud.onnx'), { name: 'fraud', path: './models/fraud.onnx' });
    assert.deepEqual(parseModelSpec('fraud:2=/m/x.onnx'), { name: 'fraud', version: '2', path: '/m/x.onnx' });
    assert.throws(() => parseModelSpec('bad name!'), {
      message:
        "'bad name!' is not a model reference; write NAME, NAME@ALIAS or NAME@VERSION (e.g. fraud@champion), or an MLflow URI (models:/fraud@champion, models:/fraud/3)",
    });
    assert.throws(() => parseModelSpec('a b=/x.onnx'), { message: "model spec 'a b=/x.onnx': 'a b' is not NAME or NAME:VERSION (e.g. fraud:2=./model.onnx)" });
  });
});

describe('payload logger', () => {
  const rec = (i: number): PayloadRecord => ({
    ts: new Date(0).toISOString(),
    model: 'fraud',
    version: '1',
    id: `r${i}`,
    inputs: { input: { shape: [1, 2], datatype: 'FP32', data: [i, i + 0.5] } },
    outputs: { probability: { shape: [1, 1], datatype: 'FP32', data: Float32Array.from([0.25]) } },
  });

  test('writes JSON Lines, rotates past maxBytes, and drops+counts when the buffer is full', async () => {
    const dir = tempDir();
    const file = join(dir, 'logs', 'p.jsonl');
    let dropped = 0;
    const log = new PayloadLogger({ file, bufferSize: 5, maxBytes: 600, maxFiles: 2, flushIntervalMs: 60_000 }, (n) => (dropped += n));
    for (let i = 0; i < 8; i++) log.push(rec(i));
    assert.equal(dropped, 3);
    await log.flush();
    for (let i = 8; i < 12; i++) log.push(rec(i));
    await log.close();
    const first = JSON.parse(readFileSync(`${file}.1`, 'utf8').split('\n')[0]);
    assert.deepEqual(first, {
      ts: '1970-01-01T00:00:00.000Z',
      model: 'fraud',
      version: '1',
      id: 'r0',
      inputs: { input: { shape: [1, 2], datatype: 'FP32', data: [0, 0.5] } },
      outputs: { probability: { shape: [1, 1], datatype: 'FP32', data: [0.25] } },
    });
    assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 4);
    assert.ok(!existsSync(`${file}.3`));
    assert.equal(log.written, 9);
  });

  test('posts CloudEvents batches to an HTTP sink; a failing sink counts drops', async () => {
    const got: Array<{ ct: string | undefined; body: any }> = [];
    let fail = false;
    const sink = createServer((req, res) => {
      let b = '';
      req.on('data', (c) => (b += c));
      req.on('end', () => {
        got.push({ ct: req.headers['content-type'], body: JSON.parse(b) });
        res.statusCode = fail ? 500 : 202;
        res.end();
      });
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    try {
      const log = new PayloadLogger({ sinkUrl: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/`, flushIntervalMs: 60_000 });
      log.push(rec(1));
      log.push(rec(2));
      await log.flush();
      assert.equal(got[0].ct, 'application/cloudevents-batch+json');
      assert.equal(got[0].body.length, 2);
      assert.equal(got[0].body[0].specversion, '1.0');
      assert.equal(got[0].body[0].type, 'io.ghosteam.inference.payload');
      assert.equal(got[0].body[0].subject, 'fraud/1');
      assert.deepEqual(got[0].body[1].data.inputs.input.data, [2, 2.5]);
      fail = true;
      log.push(rec(3));
      await log.flush();
      assert.equal(log.dropped, 1);
      assert.match(log.lastError!, /answered 500$/);
      await log.close();
    } finally {
      sink.close();
    }
  });
});

describe('binary tensor extension (pure)', () => {
  test('BYTES and INT64 round-trip through encode/decode', () => {
    const strs = ['a', '', 'héllo'];
    assert.deepEqual(decodeBinary(encodeBinary(strs, 'BYTES'), 'BYTES', 'x'), strs);
    const ints = BigInt64Array.from([1n, -2n, 9007199254740991n]);
    assert.deepEqual(Array.from(decodeBinary(encodeBinary(ints, 'INT64'), 'INT64', 'x') as BigInt64Array), [1n, -2n, 9007199254740991n]);
    assert.deepEqual(Array.from(decodeBinary(encodeBinary([true, false], 'BOOL'), 'BOOL', 'x') as Uint8Array), [1, 0]);
  });
  test('bad framing is a 400 naming the tensor', () => {
    assert.throws(() => decodeBinary(Buffer.alloc(6), 'FP32', "inputs[0] ('x')"), {
      message: "inputs[0] ('x'): binary_data_size 6 is not a multiple of 4 bytes (FP32)",
    });
    assert.throws(() => decodeBinary(Buffer.from([2]), 'BOOL', 'b'), { message: 'b: BOOL byte 0 is 2; expected 0 or 1' });
    assert.throws(() => decodeBinary(Buffer.from([9, 0, 0, 0, 65]), 'BYTES', 's'), { message: 's: a BYTES element of 9 bytes runs past its binary_data_size' });
    const specs = [{ name: 'x', datatype: 'FP32' as const, shape: [-1] }];
    assert.throws(() => attachBinaryInputs([{ name: 'x', shape: [1], datatype: 'FP32', parameters: { binary_data_size: 4 } }], Buffer.alloc(8), specs), {
      message: "the body has 4 bytes of binary data that no input's binary_data_size accounts for",
    });
  });
});

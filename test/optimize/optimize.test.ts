// `ghosteam optimize` against onnxruntime's own tools, in the peers' Python:
// - INT8: onnxruntime.quantization.quantize_dynamic on the same scikit-learn MLP (skl2onnx export,
//   MatMul + Add + ZipMap) writes the same int8 weights and scales, bit for bit, and onnxruntime
//   Python scores both models the same on a held-out set: ghosteam's metric delta is theirs.
// - FP16: onnx.checker passes, float16 weights, float32 inputs/outputs, and onnxruntime Python's
//   probabilities within float16 rounding of the original's (onnxconverter-common is not among the
//   peers: adding it re-keys the shared venv; its algorithm is what fp16.ts follows).
// - ghosteam's own Gemm MLP: every Gemm quantized (onnxruntime's quantizer skips Gemm), loads in
//   onnxruntime Python, onnx.checker passes; the report's figures are the ones Python computes.
// - Bad input: an existing --out, a metric drop past --max-metric-drop, a dynamic dim it can't size,
//   a model with nothing to quantize: clear errors and nothing written.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { usePeers } from '../peers/index.ts';
import { optimizeModel, quantizeWeight, inputShapes, OptimizeError, reportPathFor, describeNodes } from '../../components/optimize/index.ts';
import { denseNetToOnnx } from '../../components/onnx/index.ts';
import { randomDenseNet } from '../../components/onnx/random.ts';
import { openRegistry } from '../../components/registry/index.ts';
import { tempDir } from '../model-server/fixtures.ts';

const run = promisify(execFile);
const peers = await usePeers(['python']);
const BIN = join(import.meta.dirname, '../../bin/ghosteam.mjs');
const ORACLE = join(import.meta.dirname, 'py/oracle.py');

async function py<T>(...args: string[]): Promise<T> {
  const { stdout } = await run(peers.python, [ORACLE, ...args], { timeout: 300_000, maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as T;
}

interface Weights {
  int8: Record<string, { dims: number[]; values: number[] }>;
  scalars: Record<string, number>;
  ops: string[];
  initializerTypes: Record<string, number>;
  io: Record<string, number>;
}
interface Scored {
  p: number[];
  auc: number;
}

const FEATURES = Array.from({ length: 20 }, (_, i) => `f${i}`);
const maxDiff = (a: number[], b: number[]) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

describe('quantizeWeight (table)', () => {
  const cases: { w: number[]; scale: number; q: number[] }[] = [
    // absmax 1.27 → scale 0.01; 0.005 / 0.01 = 0.5 rounds to even (0), 0.015 → 1.5 → 2
    { w: [1.27, -0.635, 0.005, 0.015, 0], scale: Math.fround(0.01), q: [127, -64, 0, 2, 0] },
    // all zeros: scale 1 (onnxruntime: a range below float32's tiny)
    { w: [0, 0], scale: 1, q: [0, 0] },
    // negative extreme is symmetric too
    { w: [-2.54, 1], scale: Math.fround(0.02), q: [-127, 50] },
  ];
  for (const c of cases)
    test(`[${c.w.join(', ')}]`, () => {
      const r = quantizeWeight(Float32Array.from(c.w), 'w');
      assert.equal(r.scale, c.scale);
      assert.deepEqual([...r.q], c.q);
    });
  test('a NaN weight is an error naming it', () => {
    assert.throws(() => quantizeWeight(Float32Array.of(1, NaN), "'dense'"), /weight 'dense'\[1\] is NaN/);
  });
});

describe('inputShapes (table)', () => {
  const meta = (shape: (number | string)[]) => [{ name: 'x', isTensor: true as const, type: 'float32' as const, shape }];
  test('the symbolic first dimension is the batch', () => assert.deepEqual(inputShapes(meta(['N', 4]), 64, {}), [[64, 4]]));
  test('another symbolic dimension comes from --dim', () => assert.deepEqual(inputShapes(meta(['N', 'seq', 8]), 1, { seq: 16 }), [[1, 16, 8]]));
  test('without it, the error says which flag to pass', () =>
    assert.throws(() => inputShapes(meta(['N', 'seq', 8]), 1, {}), /input 'x' has a dynamic dimension 'seq' besides the batch.*--dim seq=<size>/));
});

describe('ghosteam optimize against onnxruntime.quantization and onnxruntime Python', { skip: peers.skip }, () => {
  const dir = tempDir('ghosteam-optimize-');
  const mlp = join(dir, 'mlp.onnx');
  const valid = join(dir, 'valid.csv');
  let lr: { lrCoef: number[]; lrIntercept: number };
  before(async () => (lr = await py('make', dir)), { timeout: 300_000 });

  test('INT8: the same int8 weights and scales as quantize_dynamic, the same scores, the same metric delta', { timeout: 300_000 }, async () => {
    const out = join(dir, 'mlp.int8.onnx');
    const { stdout } = await run(
      process.execPath,
      [BIN, 'optimize', '--model', mlp, '--out', out, '--int8', '--validation', valid, '--label', 'y', '--features', FEATURES.join(','), '--json'],
      { timeout: 240_000 },
    );
    const report = JSON.parse(stdout) as Awaited<ReturnType<typeof optimizeModel>>;
    const [ours, theirs] = [await py<Weights>('weights', out), await py<Weights>('weights', join(dir, 'mlp.ort-int8.onnx'))];
    // Three MatMuls (two hidden layers and the output layer), each weight identical.
    const names = Object.keys(theirs.int8).filter((k) => k.endsWith('_quantized'));
    assert.equal(names.length, 3, `onnxruntime quantized ${names.join(', ')}`);
    for (const k of names) {
      const mine = Object.entries(ours.int8).find(([, v]) => v.values.length === theirs.int8[k].values.length && v.dims.join() === theirs.int8[k].dims.join());
      assert.ok(mine, `no int8 weight shaped [${theirs.int8[k].dims.join(', ')}] in ghosteam's model`);
      assert.deepEqual(mine[1].values, theirs.int8[k].values, `int8 values of ${k}`);
      const scale = k.replace(/_quantized$/, '_scale');
      assert.ok(
        Object.values(ours.scalars).includes(theirs.scalars[scale]),
        `scale ${scale} = ${theirs.scalars[scale]} not among ghosteam's ${JSON.stringify(ours.scalars)}`,
      );
    }
    assert.equal(ours.ops.filter((o) => o === 'MatMulInteger').length, 3);
    assert.equal(ours.ops.filter((o) => o === 'DynamicQuantizeLinear').length, 3);
    // Scored by onnxruntime Python: the same probabilities, so the same metric delta.
    const [base, a, b] = [
      await py<Scored>('score', mlp, valid),
      await py<Scored>('score', out, valid),
      await py<Scored>('score', join(dir, 'mlp.ort-int8.onnx'), valid),
    ];
    assert.ok(maxDiff(a.p, b.p) <= 1e-6, `ghosteam's and onnxruntime's INT8 models disagree by ${maxDiff(a.p, b.p)}`);
    const v = report.validation!;
    assert.equal(v.metric, 'roc_auc');
    assert.equal(v.rows, 2000);
    assert.ok(Math.abs(v.original! - base.auc) < 1e-9, `original AUC ${v.original} vs scikit-learn on onnxruntime's ${base.auc}`);
    assert.ok(Math.abs(v.optimized! - a.auc) < 1e-9, `optimized AUC ${v.optimized} vs scikit-learn on onnxruntime's ${a.auc}`);
    assert.ok(v.drop! <= base.auc - b.auc + 1e-9, `ghosteam's drop ${v.drop} exceeds onnxruntime's ${base.auc - b.auc}`);
    assert.ok(Math.abs(v.drop!) < 0.01, `INT8 moved AUC by ${v.drop}`);
    assert.ok(v.maxAbsDiff.output_probability > 0, 'quantization changed nothing?');
    const theirSize = statSync(join(dir, 'mlp.ort-int8.onnx')).size;
    assert.ok(report.sizeBytes.optimized <= theirSize * 1.05, `INT8 file ${report.sizeBytes.optimized} bytes vs onnxruntime's ${theirSize}`);
    assert.ok(report.sizeBytes.optimized < report.sizeBytes.original * 0.6, `INT8 file ${report.sizeBytes.optimized} bytes vs ${report.sizeBytes.original}`);
    assert.ok(report.latencyMs!.optimized.batch64 > 0 && report.latencyMs!.original.batch1 > 0);
    assert.deepEqual(JSON.parse(readFileSync(reportPathFor(out), 'utf8')), report);
  });

  test('FP16: float16 weights, float32 io, probabilities within float16 rounding of the original', { timeout: 300_000 }, async () => {
    const out = join(dir, 'mlp.fp16.onnx');
    const r = await optimizeModel({ model: mlp, out, fp16: true, validation: { file: valid, label: 'y', features: FEATURES }, noLatency: true });
    const w = await py<Weights>('weights', out);
    const floats = Object.entries(w.initializerTypes).filter(([, t]) => t === 1 || t === 10);
    assert.ok(floats.length >= 6 && floats.every(([, t]) => t === 10), `initializer types ${JSON.stringify(w.initializerTypes)}`);
    assert.equal(w.io.X, 1, 'the input stays float32');
    const [base, a] = [await py<Scored>('score', mlp, valid), await py<Scored>('score', out, valid)];
    assert.ok(maxDiff(a.p, base.p) <= 5e-3, `FP16 moved probabilities by ${maxDiff(a.p, base.p)}`);
    assert.ok(Math.abs(r.validation!.optimized! - a.auc) < 1e-9);
    assert.ok(Math.abs(r.validation!.drop! - (base.auc - a.auc)) < 1e-9);
    assert.ok(r.sizeBytes.optimized < r.sizeBytes.original * 0.6);
  });

  test("ghosteam's Gemm MLP: every Gemm quantized, checker-valid, loads in onnxruntime Python", { timeout: 300_000 }, async () => {
    const net = { ...randomDenseNet([20, 32, 16, 1], 11), featureNames: FEATURES };
    const model = join(dir, 'gemm.onnx');
    writeFileSync(model, denseNetToOnnx(net));
    const out = join(dir, 'gemm.int8.onnx');
    const r = await optimizeModel({ model, out, int8: true, validation: { file: valid, label: 'y' }, noLatency: true });
    assert.equal(r.int8!.quantized.length, 3);
    assert.deepEqual(r.int8!.skipped, []);
    const w = await py<Weights>('weights', out);
    assert.ok(!w.ops.includes('Gemm') && w.ops.filter((o) => o === 'MatMulInteger').length === 3, w.ops.join(' '));
    const [base, a] = [await py<Scored>('score', model, valid), await py<Scored>('score', out, valid)];
    assert.ok(Math.abs(r.validation!.original! - base.auc) < 1e-9 && Math.abs(r.validation!.optimized! - a.auc) < 1e-9);
    assert.ok(maxDiff(a.p, base.p) < 0.05, `INT8 moved probabilities by ${maxDiff(a.p, base.p)}`);
    assert.ok(Math.abs(r.validation!.maxAbsDiff.probability - maxDiff(a.p, base.p)) < 1e-6);
  });

  test('a metric drop past --max-metric-drop is refused: exit 1, the figures printed, nothing written', { timeout: 240_000 }, async () => {
    // The logistic regression's coefficients, but a weight of 1000 on f19, which the scaler squashes
    // to ~0: the float model is (nearly) the regression, but INT8's one scale per tensor (1000/127)
    // rounds every real coefficient to 0, so the quantized model can't rank the rows.
    const model = join(dir, 'outlier.onnx');
    writeFileSync(
      model,
      denseNetToOnnx({
        kind: 'logistic',
        featureNames: FEATURES,
        normalize: { mean: Array(20).fill(0), std: [...Array(19).fill(1), 1e6] },
        layers: [{ weights: [...lr.lrCoef.slice(0, 19).map((c) => [c]), [1000]], bias: [lr.lrIntercept], activation: 'sigmoid' }],
      }),
    );
    const out = join(dir, 'refused.onnx');
    const args = [BIN, 'optimize', '-m', model, '-o', out, '--int8', '--validation', valid, '--label', 'y', '--max-metric-drop', '0.05', '--no-latency'];
    const e = await run(process.execPath, args, { timeout: 240_000 }).then(
      () => assert.fail('optimize accepted a model whose AUC fell to chance'),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    assert.equal(e.code, 1);
    assert.match(
      e.stderr,
      /refused: roc_auc 0\.\d+ → 0\.\d+ on .*valid\.csv \(2000 rows\) drops 0\.\d+, more than --max-metric-drop 0\.05; nothing was written/,
    );
    assert.match(e.stdout, /roc_auc/);
    assert.ok(!existsSync(out) && !existsSync(reportPathFor(out)));
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('refused')),
      [],
    );
    // The same model without the tolerance is written, with the drop in its report.
    const { stdout } = await run(process.execPath, [...args.filter((a) => a !== '--max-metric-drop' && a !== '0.05'), '--json'], { timeout: 240_000 });
    const r = JSON.parse(stdout) as { validation: { drop: number; original: number } };
    assert.ok(r.validation.original > 0.7 && r.validation.drop > 0.05, JSON.stringify(r.validation));
  });
});

describe('ghosteam optimize --register', () => {
  const dir = tempDir('ghosteam-optimize-register-');
  const model = join(dir, 'm.onnx');
  writeFileSync(model, denseNetToOnnx({ ...randomDenseNet([4, 16, 1], 5), featureNames: ['a', 'b', 'c', 'd'] }));
  const registryDir = join(dir, 'registry');
  const cli = (...args: string[]) => run(process.execPath, [BIN, 'optimize', '--registry-dir', registryDir, '--no-latency', ...args], { timeout: 240_000 });

  test('registers the optimized file as a version with lineage to the original, and moves the alias', async () => {
    const out = join(dir, 'm.int8.onnx');
    const { stdout } = await cli('-m', model, '-o', out, '--int8', '--register', 'scorer', '--alias', 'challenger');
    assert.match(stdout, /registered scorer version 1 \(from .*m\.onnx\); @challenger points at it/);
    const reg = openRegistry({ dir: registryDir });
    const v1 = await reg.resolve('scorer', 'challenger');
    assert.equal(v1.version, 1);
    assert.equal(v1.lineage.derivedFrom, model);
    assert.equal(v1.lineage.derivedFromDigest, `sha256:${createHash('sha256').update(readFileSync(model)).digest('hex')}`);
    assert.equal(v1.params.optimize, 'graph:basic+int8:dynamic');
    assert.ok(v1.metrics.sizeBytes > 0 && v1.metrics.sizeRatio > 0);
    // From the registered version (a registry reference): lineage names it as name@version.
    const { stdout: j } = await cli('-m', 'scorer@challenger', '-o', join(dir, 'm.ext.onnx'), '--level', 'extended', '--register', 'scorer', '--json');
    const r = JSON.parse(j) as { registered: { name: string; version: number; derivedFrom: string; reused: boolean } };
    assert.deepEqual(r.registered, { name: 'scorer', version: 2, derivedFrom: 'scorer@1', reused: false });
    assert.equal((await reg.getVersion('scorer', 2)).lineage.derivedFrom, 'scorer@1');
    // The same bytes again: the version already there.
    const again = await cli('-m', model, '-o', join(dir, 'm.int8.again.onnx'), '--int8', '--register', 'scorer');
    assert.match(again.stdout, /scorer version 1 already holds this model/);
  });

  test('a bad name or alias, or --alias without --register, is refused before any work', async () => {
    for (const [args, msg] of [
      [['--register', 'bad name'], /--register: 'bad name' is not a valid model name/],
      [['--register', 'ok', '--alias', 'latest'], /--alias: 'latest' is not a valid alias/],
      [['--alias', 'challenger'], /--alias points an alias at the registered version; pass --register NAME too/],
    ] as const) {
      const out = join(dir, 'refused.onnx');
      const e = await cli('-m', model, '-o', out, ...args).then(
        () => assert.fail(`accepted ${args.join(' ')}`),
        (err: { code: number; stderr: string }) => err,
      );
      assert.equal(e.code, 1);
      assert.match(e.stderr, msg);
      assert.ok(!existsSync(out));
    }
  });
});

describe('ghosteam optimize: bad input', () => {
  const dir = tempDir('ghosteam-optimize-bad-');
  const model = join(dir, 'm.onnx');
  writeFileSync(model, denseNetToOnnx({ ...randomDenseNet([4, 8, 1], 3), featureNames: ['a', 'b', 'c', 'd'] }));

  test('an existing --out is refused and left alone', async () => {
    const out = join(dir, 'exists.onnx');
    writeFileSync(out, 'keep me');
    await assert.rejects(optimizeModel({ model, out, int8: true, noLatency: true }), /exists\.onnx already exists; pass --overwrite/);
    assert.equal(readFileSync(out, 'utf8'), 'keep me');
  });
  test('--out naming the model itself is refused', async () => {
    await assert.rejects(optimizeModel({ model, out: model, overwrite: true, noLatency: true }), /is the model itself/);
  });
  test('--fp16 with --int8 is refused', async () => {
    await assert.rejects(optimizeModel({ model, out: join(dir, 'x.onnx'), fp16: true, int8: true }), /alternatives/);
  });
  test('--max-metric-drop without a labelled validation table is refused', async () => {
    await assert.rejects(optimizeModel({ model, out: join(dir, 'x.onnx'), int8: true, maxMetricDrop: 0.01 }), /needs a validation table with a label column/);
  });
  test('a file that is not ONNX is an error naming it', async () => {
    const bad = join(dir, 'bad.onnx');
    writeFileSync(bad, 'not a model at all, just text');
    await assert.rejects(optimizeModel({ model: bad, out: join(dir, 'y.onnx'), noLatency: true }), OptimizeError);
  });
  test('a validation table without the label column names the columns', async () => {
    const csv = join(dir, 'v.csv');
    writeFileSync(csv, 'a,b,c,d\n1,2,3,4\n');
    await assert.rejects(
      optimizeModel({ model, out: join(dir, 'z.onnx'), int8: true, noLatency: true, validation: { file: csv, label: 'y' } }),
      /v\.csv has no label column 'y'; its columns are 'a', 'b', 'c', 'd'/,
    );
    await assert.rejects(
      optimizeModel({ model, out: join(dir, 'z.onnx'), int8: true, noLatency: true, validation: { file: csv, label: 'y', features: ['a', 'b', 'q', 'd'] } }),
    );
    assert.ok(!existsSync(join(dir, 'z.onnx')));
  });
  test('a model with a dynamic dim besides the batch asks for --dim', async () => {
    const onnxProto = (await import('onnx-proto')).default;
    const { onnx } = onnxProto;
    const m = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'g',
        node: [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'] }],
        initializer: [{ name: 'w', dims: [8, 2], dataType: 1, rawData: new Uint8Array(new Float32Array(16).fill(0.5).buffer) }],
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimParam: 'seq' }, { dimValue: 8 }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimParam: 'seq' }, { dimValue: 2 }] } } } }],
      },
    });
    const path = join(dir, 'seq.onnx');
    writeFileSync(path, onnx.ModelProto.encode(m).finish());
    await assert.rejects(
      optimizeModel({ model: path, out: join(dir, 'seq.int8.onnx'), int8: true }),
      /input 'x' has a dynamic dimension 'seq' besides the batch.*--dim seq=<size>/,
    );
    assert.ok(!existsSync(join(dir, 'seq.int8.onnx')));
    const r = await optimizeModel({ model: path, out: join(dir, 'seq.int8.onnx'), int8: true, dims: { seq: 5 }, latencyRuns: 3 });
    assert.deepEqual(r.int8!.quantized.length, 1);
  });
  test('a model without MatMul or Gemm weights has nothing to quantize', async () => {
    const onnxProto = (await import('onnx-proto')).default;
    const { onnx } = onnxProto;
    const m = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'g',
        node: [{ opType: 'Relu', input: ['x'], output: ['y'] }],
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 3 }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 3 }] } } } }],
      },
    });
    const path = join(dir, 'relu.onnx');
    writeFileSync(path, onnx.ModelProto.encode(m).finish());
    await assert.rejects(optimizeModel({ model: path, out: join(dir, 'relu.int8.onnx'), int8: true }), /INT8: nothing to quantize/);
  });
  test('a model whose every float node stays float32 has nothing to convert to FP16, and nothing is written', async () => {
    const onnxProto = (await import('onnx-proto')).default;
    const { onnx } = onnxProto;
    // An ai.onnx.ml Scaler (as skl2onnx exports a StandardScaler): onnxruntime runs it in float32 only.
    const m = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [
        { domain: '', version: 17 },
        { domain: 'ai.onnx.ml', version: 3 },
      ],
      graph: {
        name: 'g',
        node: [
          {
            name: 'scale',
            opType: 'Scaler',
            domain: 'ai.onnx.ml',
            input: ['x'],
            output: ['y'],
            attribute: [
              { name: 'offset', type: onnx.AttributeProto.AttributeType.FLOATS, floats: [1, 2, 3] },
              { name: 'scale', type: onnx.AttributeProto.AttributeType.FLOATS, floats: [0.5, 0.5, 0.5] },
            ],
          },
        ],
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 3 }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 3 }] } } } }],
      },
    });
    const path = join(dir, 'scaler.onnx');
    writeFileSync(path, onnx.ModelProto.encode(m).finish());
    const out = join(dir, 'scaler.fp16.onnx');
    await assert.rejects(
      optimizeModel({ model: path, out, fp16: true, noLatency: true }),
      /FP16: nothing to convert.*Scaler 'scale' \(ai\.onnx\.ml op\).*without --fp16/,
    );
    assert.ok(!existsSync(out) && !existsSync(reportPathFor(out)));
  });
  test('report nodes are grouped by reason and op, with a count and the first names', () => {
    const nodes = [
      ...Array.from({ length: 5 }, (_, i) => ({ node: `tree${i}`, op: 'TreeEnsembleRegressor', reason: 'ai.onnx.ml op' })),
      { node: 'm', op: 'Max', reason: 'on the FP16 block list' },
      { node: 'c', op: 'Cast', reason: 'casts to another type' },
      { node: 'c2', op: 'Cast', reason: 'casts to another type' },
    ];
    assert.equal(
      describeNodes(nodes),
      "5 × TreeEnsembleRegressor 'tree0', 'tree1' and 3 more (ai.onnx.ml op); Max 'm' (on the FP16 block list); 2 × Cast 'c', 'c2' (casts to another type)",
    );
    assert.equal(describeNodes([]), '');
  });
});

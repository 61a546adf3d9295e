import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Autoscaling, DriftMonitor, Feature, Model, PayloadLogging, payloadSinkUrl, Retrain, Rollout } from '../../charts/index.ts';
import { readModelsLock } from '../../api/lock.ts';
import { BUILTIN_COMPONENTS } from '../../pipelines/catalog.ts';
import { Pipeline, Resources, Schedule } from '../../pipelines/index.ts';
import { chart, find, issuesOf, synth } from './helpers.ts';

describe('Model', () => {
  const build = (opts: { lockDir?: string } = {}) => {
    const { app, chart: c } = chart('serving');
    const m = new Model(c, 'fraud', {
      registry: 'fraud@champion',
      resources: Resources.of({ cpu: '1', memory: '1Gi' }),
      autoscaling: Autoscaling.of({ minReplicas: 2, maxReplicas: 6, targetConcurrency: 12 }),
      rollout: Rollout.canary({ steps: [10, 50], interval: '90s', maxErrorRate: 0.02, maxP99LatencyMs: 80, maxPredictionDrift: 0.15 }),
      payloadLogging: PayloadLogging.enabled({ mode: 'request', url: 'http://logger.ml.svc/events', sampleRate: 0.5 }),
    });
    return { app, m, result: synth(app, { appDir: opts.lockDir }) };
  };

  test("PayloadLogging.toPayloadSink points the KServe logger at the operator's payload sink", () => {
    const { app, chart: c } = chart('serving');
    new Model(c, 'fraud', { registry: 'fraud', payloadLogging: PayloadLogging.toPayloadSink({ mode: 'request' }) });
    new Model(c, 'churn', { registry: 'churn', payloadLogging: PayloadLogging.toPayloadSink({ operatorNamespace: 'ml-ops' }) });
    const objects = synth(app, {}).objects;
    assert.deepEqual(find(objects, 'InferenceService', 'fraud').spec.predictor.logger, {
      mode: 'request',
      url: 'http://ghosteam-payload-sink.ghosteam-system.svc.cluster.local/',
    });
    assert.deepEqual(find(objects, 'InferenceService', 'churn').spec.predictor.logger, {
      mode: 'all',
      url: 'http://ghosteam-payload-sink.ml-ops.svc.cluster.local/',
    });
    assert.equal(payloadSinkUrl('ml-ops'), 'http://ghosteam-payload-sink.ml-ops.svc.cluster.local/');
  });

  test('InferenceService: predictor on the ghosteam runtime, autoscaling, logger, security', () => {
    const isvc = find(build().result.objects, 'InferenceService', 'fraud');
    const p = isvc.spec.predictor;
    assert.equal(p.minReplicas, 2);
    assert.equal(p.maxReplicas, 6);
    assert.equal(p.scaleMetric, 'concurrency');
    assert.equal(p.scaleTarget, 12);
    assert.deepEqual(p.logger, { mode: 'request', url: 'http://logger.ml.svc/events' });
    assert.deepEqual(p.model.modelFormat, { name: 'onnx' });
    assert.equal(p.model.runtime, 'ghosteam-onnx');
    assert.equal(p.model.protocolVersion, 'v2');
    assert.deepEqual(p.model.env, [
      { name: 'GHOSTEAM_MODEL_NAME', value: 'fraud' },
      { name: 'GHOSTEAM_MODEL_VERSION', value: 'champion' },
    ]);
    assert.deepEqual(p.model.resources, { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } });
    assert.equal(p.securityContext.runAsNonRoot, true);
    assert.equal(p.model.securityContext.readOnlyRootFilesystem, true);
    assert.equal(isvc.metadata.annotations['ghosteam.io/construct-path'], 'test/fraud');
    assert.equal((isvc.metadata as { namespace?: string }).namespace, 'serving');
  });

  test('Model CR holds the rollout policy; ServingRuntime runs the ghosteam server image', () => {
    const objs = build().result.objects;
    const m = find(objs, 'Model', 'fraud');
    assert.deepEqual(m.spec.modelRef, { name: 'fraud', alias: 'champion' });
    assert.deepEqual(m.spec.rollout, {
      strategy: 'canary',
      steps: [10, 50, 100],
      intervalSeconds: 90,
      thresholds: { maxErrorRate: 0.02, maxP99LatencyMs: 80, maxPredictionDrift: 0.15 },
    });
    assert.deepEqual(m.spec.payloadLogging, { enabled: true, mode: 'request', url: 'http://logger.ml.svc/events', sampleRate: 0.5 });
    assert.equal(m.spec.inferenceService, 'fraud');
    const sr = find(objs, 'ServingRuntime', 'ghosteam-onnx');
    assert.equal(sr.spec.containers[0].image, 'ghcr.io/ghosteam/model-server:0.1.0');
    assert.deepEqual(sr.spec.containers[0].args, ['--port', '8080', '--model', '{{.Name}}=/mnt/models', '--unauthenticated']);
    assert.deepEqual(sr.spec.supportedModelFormats, [{ name: 'onnx', version: '1', autoSelect: true, priority: 1 }]);
    assert.equal(sr.metadata.annotations['ghosteam.io/gpu-capable'], 'false');
  });

  test('two models share one runtime per chart', () => {
    const { app, chart: c } = chart();
    new Model(c, 'a', { registry: 'a' });
    new Model(c, 'b', { registry: 'b@2' });
    const objs = synth(app).objects;
    assert.equal(objs.filter((o) => o.kind === 'ServingRuntime').length, 1);
    assert.deepEqual(find(objs, 'Model', 'b').spec.modelRef, { name: 'b', version: 2 });
    assert.deepEqual(find(objs, 'Model', 'a').spec.modelRef, { name: 'a', alias: 'latest' });
  });

  test('MLflow model URIs name the registered model: models:/NAME@ALIAS and models:/NAME/VERSION', () => {
    const { app, chart: c } = chart();
    new Model(c, 'a', { registry: 'models:/fraud@champion', useLockFile: false });
    new Model(c, 'b', { registry: 'models:/churn/4' });
    const objs = synth(app).objects;
    assert.deepEqual(find(objs, 'Model', 'a').spec.modelRef, { name: 'fraud', alias: 'champion' });
    assert.deepEqual(find(objs, 'Model', 'b').spec.modelRef, { name: 'churn', version: 4 });
    assert.deepEqual(find(objs, 'ServingRuntime').spec.protocolVersions, ['v2', 'v1']);
  });

  test('models.lock.json next to the app pins the version', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-lock-'));
    try {
      writeFileSync(join(dir, 'models.lock.json'), JSON.stringify({ models: { fraud: { version: 7, promotedAt: '2026-11-23T04:00:00Z' } } }));
      const objs = build({ lockDir: dir }).result.objects;
      assert.deepEqual(find(objs, 'Model').spec.modelRef, { name: 'fraud', alias: 'champion', version: 7 });
      assert.deepEqual(find(objs, 'InferenceService').spec.predictor.model.env[1], { name: 'GHOSTEAM_MODEL_VERSION', value: '7' });
      writeFileSync(join(dir, 'models.lock.json'), JSON.stringify({ models: { fraud: { version: 'seven' } } }));
      assert.deepEqual(
        issuesOf(() => readModelsLock(dir)),
        [`${join(dir, 'models.lock.json')}: 'models.fraud.version' must be a whole number >= 1, got "seven"`],
      );
      writeFileSync(join(dir, 'models.lock.json'), '{');
      assert.match(issuesOf(() => readModelsLock(dir))[0], /models\.lock\.json: is not valid JSON \(.*\); fix or delete the file$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // No lock file: the alias stays.
    assert.deepEqual(find(build({ lockDir: tmpdir() }).result.objects, 'Model').spec.modelRef, { name: 'fraud', alias: 'champion' });
  });

  test('a lock pin keeps the followed alias (default latest); a fixed version wins over the pin', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-lock-'));
    try {
      writeFileSync(
        join(dir, 'models.lock.json'),
        JSON.stringify({
          models: {
            a: { version: 7, promotedAt: '2026-11-23T04:00:00Z' },
            b: { version: 7, promotedAt: '2026-11-23T04:00:00Z' },
            c: { version: 7, promotedAt: '2026-11-23T04:00:00Z' },
            d: { version: 7, promotedAt: '2026-11-23T04:00:00Z' },
            e: { version: 7, promotedAt: '2026-11-23T04:00:00Z' },
          },
        }),
      );
      const { app, chart: c } = chart();
      new Model(c, 'a', { registry: 'a' });
      new Model(c, 'b', { registry: 'b@latest' });
      new Model(c, 'c', { registry: 'c@2' });
      new Model(c, 'd', { registry: { name: 'd', version: 2 } });
      new Model(c, 'e', { registry: { name: 'e' } });
      new Model(c, 'f', { registry: 'f@staging' });
      new Model(c, 'g', { registry: 'g', useLockFile: false });
      const objs = synth(app, { appDir: dir }).objects;
      const ref = (n: string) => find(objs, 'Model', n).spec.modelRef;
      assert.deepEqual(ref('a'), { name: 'a', version: 7, alias: 'latest' });
      assert.deepEqual(ref('b'), { name: 'b', version: 7, alias: 'latest' });
      assert.deepEqual(ref('c'), { name: 'c', version: 2 });
      assert.deepEqual(ref('d'), { name: 'd', version: 2 });
      assert.deepEqual(ref('e'), { name: 'e', version: 7, alias: 'latest' });
      // Not in the lock file, or the lock file off: the alias alone.
      assert.deepEqual(ref('f'), { name: 'f', alias: 'staging' });
      assert.deepEqual(ref('g'), { name: 'g', alias: 'latest' });
      assert.deepEqual(find(objs, 'InferenceService', 'c').spec.predictor.model.env[1], { name: 'GHOSTEAM_MODEL_VERSION', value: '2' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bad registry references name the field', () => {
    const { chart: c } = chart();
    assert.deepEqual(
      issuesOf(() => new Model(c, 'x', { registry: 'fraud@@1' })),
      [
        "test/x: 'registry' 'fraud@@1' is not a model reference; write NAME, NAME@ALIAS or NAME@VERSION (e.g. fraud@champion), or an MLflow URI (models:/fraud@champion, models:/fraud/3)",
      ],
    );
  });
});

describe('DriftMonitor', () => {
  test('synthesizes the CR with features, tests, thresholds, window, schedule and retrain action', () => {
    const { app, chart: c } = chart();
    const p = new Pipeline(c, 'retrain');
    p.param('epochs', { type: 'number', default: 10 });
    p.task('t', { image: 'x:1' });
    const m = new Model(c, 'fraud', { registry: 'fraud' });
    new DriftMonitor(c, 'drift', {
      model: m,
      reference: 's3://bucket/ref.parquet',
      features: [Feature.numerical('amount', { test: 'wasserstein', threshold: 0.2 }), Feature.categorical('country')],
      test: 'psi',
      featureThreshold: 0.1,
      driftShare: 0.4,
      window: '30m',
      minSamples: 200,
      schedule: Schedule.cron('*/5 * * * *'),
      retrain: Retrain.withPipeline(p, { cooldown: '2h', params: { epochs: '5' } }),
    });
    const dm = find(synth(app).objects, 'DriftMonitor', 'drift');
    assert.deepEqual(dm.spec, {
      model: 'fraud',
      reference: { uri: 's3://bucket/ref.parquet', format: 'parquet' },
      features: [
        { name: 'amount', type: 'numerical', test: 'wasserstein', threshold: 0.2 },
        { name: 'country', type: 'categorical' },
      ],
      test: 'psi',
      thresholds: { feature: 0.1, driftShare: 0.4 },
      window: { seconds: 1800, minSamples: 200 },
      schedule: '*/5 * * * *',
      action: { retrain: { pipeline: 'retrain', params: { epochs: '5' }, cooldownSeconds: 7200 } },
    });
  });

  test('errors name the field and the fix', () => {
    const { chart: c } = chart();
    assert.deepEqual(
      issuesOf(() => new DriftMonitor(c, 'drift', { model: 'fraud', reference: 'ref.bin', features: [], driftShare: 2, window: 'soon' })),
      [
        "test/drift: 'referenceFormat' can't be told from 'ref.bin'; name a .parquet, .csv or .jsonl file or set referenceFormat",
        "test/drift: 'features' is empty; list the features to monitor, e.g. [Feature.numerical('amount')]",
        "test/drift: 'driftShare' 2 must be in (0, 1]; e.g. 0.3 means 30% of features",
        "test/drift: 'window' 'soon' is not a duration; write e.g. '30s', '5m', '1h30m' or '7d'",
      ],
    );
    assert.throws(() => Feature.categorical('country', { test: 'ks' }), {
      message: "Feature.categorical('country'): test 'ks' needs numbers; use chi2, psi or jensen-shannon for a categorical feature",
    });
  });
});

describe('built-in component catalog', () => {
  test('matches the real components (name, version, inputs, outputs, output params, file params, params)', async () => {
    const { listComponents } = await import('../../components/index.ts');
    const shape = (c: {
      name: string;
      version: string;
      inputs: readonly { name: string; kind: string; optional?: boolean }[];
      outputs: readonly { name: string; kind: string }[];
      outputParams?: readonly string[];
      fileParams?: readonly string[];
      params?: Readonly<Record<string, unknown>>;
    }) => ({
      name: c.name,
      version: c.version,
      inputs: c.inputs.map((i) => ({ name: i.name, kind: i.kind, optional: i.optional ?? false })),
      outputs: c.outputs.map((o) => ({ name: o.name, kind: o.kind })),
      outputParams: [...(c.outputParams ?? [])],
      fileParams: [...(c.fileParams ?? [])],
      params: c.params ?? 'none declared',
    });
    const real = Object.fromEntries(listComponents().map((c) => [c.name, shape(c)]));
    const ours = Object.fromEntries(Object.values(BUILTIN_COMPONENTS).map((c) => [c.name, shape(c)]));
    assert.deepEqual(ours, real);
  });
});

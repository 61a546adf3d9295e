/**
 * Quality from delayed labels through the embedded default's reconcilers, end to end on real parts:
 * a real model server (onnxruntime, HTTP) serves two registered versions, real answers get labels
 * through POST /v2/models/fraud/feedback, and the local operator reads quality from the server's
 * stats: the canary that is worse on ground truth is rolled back (QualityTooLow), the Model's status
 * shows the stable version's accuracy, and a DriftMonitor whose spec.quality breaches starts one
 * TrainingRun with reason 'performance'. The same reconcilers run in the cluster operator, where the
 * quality comes from Prometheus (PrometheusMetrics.versionQuality, tested against the real peer in
 * test/controllers/prometheus-quality.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { LocalRegistry } from '../../components/registry/local.ts';
import { startModelServer } from '../../components/model-server/server.ts';
import { ModelServerAdminClient } from '../../components/model-server/admin-client.ts';
import { startLocalOperator } from '../../controllers/local.ts';
import type { DriftMonitorStatus, ModelStatus, TrainingRunSpec } from '../../api/crds/index.ts';
import { modelObject } from './fakes.ts';
import { inferBody, post, rows, tempDir, writeFraudModel } from '../model-server/fixtures.ts';

test('a canary worse on ground truth is rolled back; a stable version that stays bad starts one performance run', async () => {
  const dir = tempDir('gt-quality-');
  const server = await startModelServer({ port: 0 });
  const registry = new LocalRegistry({ dir: join(dir, 'registry') });
  let op: Awaited<ReturnType<typeof startLocalOperator>> | undefined;
  try {
    await registry.registerVersion('fraud', { artifactPath: writeFraudModel(dir, 1).path });
    op = await startLocalOperator({
      stateDir: join(dir, 'state'),
      registry,
      modelServer: new ModelServerAdminClient(server.url),
      modelServerUrl: server.url,
      // The drift half of the DriftMonitor is not under test here (it has its own, local-drift.test.ts): no drift.
      driftCheck: async (_m, w) => ({
        features: [],
        share: 0,
        drifted: false,
        rows: 0,
        windowStart: new Date(w.startMs).toISOString(),
        windowEnd: new Date(w.endMs).toISOString(),
      }),
      resyncMs: 200,
    });
    const model = modelObject('fraud', { steps: [50, 100], intervalSeconds: 3, minRequests: 10 });
    model.spec.rollout.thresholds = { ...model.spec.rollout.thresholds, quality: { metric: 'accuracy', threshold: 0.8, minSamples: 20 } } as never;
    await op.apply(model);
    await op.waitFor('Model', 'default', 'fraud', (m) => (m.status as ModelStatus | undefined)?.phase === 'Ready');

    // Labels: version 1 is always right, the canary always wrong (the label is the opposite class).
    const label = async (n: number, seed: number, wrongFor: (version: string) => boolean) => {
      let feedback: Array<{ id: string; label: number }> = [];
      const versions = new Map<string, number>();
      // Labels go out in batches of 20 as outcomes become known, as a labelling job would send them.
      const send = async () => {
        const fb = await post(`${server.url}/v2/models/fraud/feedback`, JSON.stringify(feedback));
        assert.equal(fb.status, 200, JSON.stringify(fb.json));
        assert.equal(fb.json.matched, feedback.length);
        feedback = [];
      };
      for (const [i, row] of rows(n, seed).entries()) {
        const r = await post(`${server.url}/v2/models/fraud/infer`, inferBody([row], { id: `s${seed}-${i}` }));
        assert.equal(r.status, 200, JSON.stringify(r.json));
        const predicted = (r.json.outputs[0].data[0] as number) >= 0.5 ? 1 : 0;
        versions.set(r.json.model_version, (versions.get(r.json.model_version) ?? 0) + 1);
        feedback.push({ id: r.json.id, label: wrongFor(r.json.model_version) ? 1 - predicted : predicted });
        if (feedback.length === 20) await send();
      }
      if (feedback.length) await send();
      return versions;
    };
    await label(60, 1, () => false);
    const withQuality = await op.waitFor('Model', 'default', 'fraud', (m) => (m.status as ModelStatus).quality?.stable?.samples === 60);
    assert.deepEqual((withQuality.status as ModelStatus).quality?.stable, {
      version: 1,
      task: 'binary',
      samples: 60,
      windowSeconds: 3600,
      ...pick((withQuality.status as ModelStatus).quality!.stable!),
      accuracy: 1,
    });

    await registry.registerVersion('fraud', { artifactPath: writeFraudModel(dir, 2).path });
    await op.waitFor('Model', 'default', 'fraud', (m) => (m.status as ModelStatus).canaryVersion === 2 && (m.status as ModelStatus).trafficPercent === 50);
    const split = await label(120, 2, (v) => v === '2');
    assert.ok((split.get('2') ?? 0) >= 20 && (split.get('1') ?? 0) >= 20, `both versions answered: ${JSON.stringify([...split])}`);
    const rolledBack = await op.waitFor('Model', 'default', 'fraud', (m) => (m.status as ModelStatus).phase === 'RolledBack', 30_000);
    const st = rolledBack.status as ModelStatus;
    assert.equal(st.rollout?.reason, 'QualityTooLow');
    assert.equal(st.stableVersion, 1);
    assert.equal(st.lastFailedVersion, 2);
    const failed = st.analysis!.at(-1)!;
    assert.equal(failed.passed, false);
    assert.equal(failed.quality, 0);
    // The analysis may run before the last labels arrive: it saw at least its minimum (20), at most every labelled canary answer.
    assert.ok(
      failed.qualitySamples! >= 20 && failed.qualitySamples! <= split.get('2')!,
      `quality judged on ${failed.qualitySamples} of ${split.get('2')} labelled canary answers`,
    );
    assert.equal(failed.message, `canary accuracy 0 is below 0.8 on ${failed.qualitySamples} labelled predictions at step 1 (50%)`);

    // Version 1 now goes wrong: 300 more answers, all labelled the other way (accuracy (60 + n1) / (360 + n1) < 0.8).
    await label(300, 3, () => true);
    await op.waitFor('Model', 'default', 'fraud', (m) => ((m.status as ModelStatus).quality?.stable?.accuracy ?? 1) < 0.5);
    await op.apply({
      apiVersion: 'ghosteam.io/v1alpha1',
      kind: 'DriftMonitor',
      metadata: { name: 'fraud-watch', namespace: 'default' },
      spec: {
        model: 'fraud',
        reference: { uri: join(dir, 'reference.json'), format: 'jsonl' },
        features: [{ name: 'amount', type: 'numerical' }],
        test: 'auto',
        thresholds: { driftShare: 0.5 },
        window: { seconds: 3600, minSamples: 10 },
        schedule: '*/5 * * * *',
        quality: { metric: 'accuracy', threshold: 0.8, forSeconds: 0, minSamples: 50 },
        action: { retrain: { pipeline: 'fraud-train', cooldownSeconds: 3600 } },
      },
    });
    const mon = await op.waitFor('DriftMonitor', 'default', 'fraud-watch', (m) => !!(m.status as DriftMonitorStatus | undefined)?.quality?.incidentRun);
    const q = (mon.status as DriftMonitorStatus).quality!;
    assert.equal(q.breached, true);
    assert.equal(q.version, 1);
    assert.ok(q.value! < 0.8);
    const run = await op.get('TrainingRun', 'default', q.incidentRun!);
    assert.ok(run, `TrainingRun ${q.incidentRun} exists`);
    assert.equal((run.spec as TrainingRunSpec).reason, 'performance');
    assert.equal(run.metadata.labels?.['ghosteam.io/reason'], 'performance');
    assert.equal((run.spec as TrainingRunSpec).driftMonitor, 'fraud-watch');
    const degraded = (mon.status as DriftMonitorStatus).conditions?.find((c) => c.type === 'Degraded');
    assert.equal(degraded?.reason, 'QualityBreached');
  } finally {
    await op?.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The metric fields other than accuracy, as reported (their values are sklearn-checked in test/model-server/feedback.test.ts). */
function pick(q: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['precision', 'recall', 'f1', 'rocAuc', 'calibrationError']) if (k in q) out[k] = q[k];
  return out;
}

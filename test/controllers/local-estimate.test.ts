/**
 * Retraining on CBPE's estimate (spec.quality.source 'estimate') through the embedded default's
 * reconcilers, on real parts: a real model server answers, only some answers get labels (which say
 * its scores are no better than a coin), the rest wait for theirs; the server's CBPE estimate of the
 * waiting ones is low, and the DriftMonitor starts exactly one TrainingRun (reason performance) for
 * it, recording the estimate the server reported. The cluster's source of the same figure is
 * PrometheusMetrics.versionQualityEstimate (test/controllers/prometheus-quality.test.ts).
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

test('a stable version whose estimated accuracy (CBPE) stays low starts one performance run before its labels arrive', async () => {
  const dir = tempDir('gt-estimate-');
  const server = await startModelServer({ port: 0 });
  const admin = new ModelServerAdminClient(server.url);
  const registry = new LocalRegistry({ dir: join(dir, 'registry') });
  let op: Awaited<ReturnType<typeof startLocalOperator>> | undefined;
  try {
    await registry.registerVersion('fraud', { artifactPath: writeFraudModel(dir, 1).path });
    op = await startLocalOperator({
      stateDir: join(dir, 'state'),
      registry,
      modelServer: admin,
      modelServerUrl: server.url,
      // Drift is not under test here (local-drift.test.ts): no drift.
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
    await op.apply(modelObject('fraud', { steps: [50, 100], intervalSeconds: 3, minRequests: 10 }));
    await op.waitFor('Model', 'default', 'fraud', (m) => (m.status as ModelStatus | undefined)?.phase === 'Ready');

    // 60 answers: 40 get labels that alternate whatever the score said (a coin), 20 wait for theirs.
    const feedback: Array<{ id: string; label: number }> = [];
    for (const [i, row] of rows(60, 7).entries()) {
      const r = await post(`${server.url}/v2/models/fraud/infer`, inferBody([row], { id: `e-${i}` }));
      assert.equal(r.status, 200, JSON.stringify(r.json));
      if (i < 40) feedback.push({ id: r.json.id, label: i % 2 });
    }
    assert.equal((await post(`${server.url}/v2/models/fraud/feedback`, JSON.stringify(feedback))).status, 200);
    const stats = (await admin.stats('fraud')).versions['1'];
    assert.ok(stats.qualityEstimate, `the server estimates the 20 waiting answers: ${JSON.stringify(stats)}`);
    assert.equal(stats.qualityEstimate.samples, 20);
    const estimated = stats.qualityEstimate.metrics.accuracy!.value;
    assert.ok(estimated < 0.85, `estimated accuracy ${estimated}`);

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
        quality: { metric: 'accuracy', threshold: 0.85, forSeconds: 0, minSamples: 15, source: 'estimate' },
        action: { retrain: { pipeline: 'fraud-train', cooldownSeconds: 3600 } },
      },
    });
    const mon = await op.waitFor('DriftMonitor', 'default', 'fraud-watch', (m) => !!(m.status as DriftMonitorStatus | undefined)?.quality?.incidentRun);
    const q = (mon.status as DriftMonitorStatus).quality!;
    assert.deepEqual(
      { source: q.source, version: q.version, samples: q.samples, breached: q.breached },
      { source: 'estimate', version: 1, samples: 20, breached: true },
    );
    assert.ok(Math.abs(q.value! - estimated) < 1e-12, `status ${q.value} is the server's estimate ${estimated}`);
    const degraded = (mon.status as DriftMonitorStatus).conditions!.find((c) => c.type === 'Degraded')!;
    assert.equal(degraded.reason, 'QualityBreached');
    // Reconciles between checks keep the check's message.
    await new Promise((r) => setTimeout(r, 600));
    const later = (await op.get('DriftMonitor', 'default', 'fraud-watch'))!.status as DriftMonitorStatus;
    assert.match(
      later.conditions!.find((c) => c.type === 'Degraded')!.message,
      /estimated accuracy \(CBPE\) [0-9.]+ on 20 unlabelled predictions of version 1 is below 0\.85/,
    );
    const runs = (await op.list('TrainingRun', 'default')).filter((r) => r.metadata.labels?.['ghosteam.io/reason'] === 'performance');
    assert.equal(runs.length, 1, 'one run for the incident');
    assert.equal((runs[0].spec as TrainingRunSpec).reason, 'performance');
    assert.equal(runs[0].metadata.name, q.incidentRun);
  } finally {
    await op?.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

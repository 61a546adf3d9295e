/**
 * The operator's status series (controllers/runtime/status-metrics.ts): the canary's step and traffic
 * per Model and the last drift check per feature, read from the objects at scrape time. Checked
 * pure, on the embedded operator's own /metrics, and with a real Prometheus scraping them and running
 * the dashboard's canary and drift panels (charts/dashboard.ts) on them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { registerStatusMetrics, statusSamples } from '../../controllers/runtime/status-metrics.ts';
import { Dashboard } from '../../charts/dashboard.ts';
import { startLocalOperator } from '../../controllers/local.ts';
import { LocalRegistry } from '../../components/registry/local.ts';
import { startModelServer } from '../../components/model-server/server.ts';
import { ModelServerAdminClient } from '../../components/model-server/admin-client.ts';
import type { K8sObject } from '../../api/objects.ts';
import { eventually, promQuery, startTestPrometheus, usePeers, type TestPrometheus } from '../peers/index.ts';
import { modelObject } from './fakes.ts';
import { tempDir, writeFraudModel } from '../model-server/fixtures.ts';

const peers = await usePeers(['prometheus']);

const model: K8sObject = {
  apiVersion: 'ghosteam.io/v1alpha1',
  kind: 'Model',
  metadata: { name: 'fraud-api', namespace: 'ml' },
  spec: { modelRef: { name: 'fraud' } },
  status: { stableVersion: 4, canaryVersion: 5, stepIndex: 1, trafficPercent: 50 },
};
const idle: K8sObject = { ...model, metadata: { name: 'other', namespace: 'ml' }, spec: { modelRef: { name: 'other' } }, status: { stableVersion: 2 } };
const monitor: K8sObject = {
  apiVersion: 'ghosteam.io/v1alpha1',
  kind: 'DriftMonitor',
  metadata: { name: 'fraud-drift', namespace: 'ml' },
  spec: { model: 'fraud-api' },
  status: {
    driftShare: 0.5,
    datasetDrift: true,
    features: [
      { name: 'amount', test: 'ks', statistic: 0.31, threshold: 0.05, drifted: true },
      { name: 'hour', test: 'psi', statistic: 0.02, threshold: 0.1, drifted: false },
    ],
  },
};

describe('the operator status series', () => {
  test('canary step and traffic, versions, drift share and per-feature statistics, from the statuses', () => {
    const s = statusSamples([model, idle], [monitor, { ...monitor, metadata: { name: 'unchecked', namespace: 'ml' }, status: {} }]);
    const line = (x: (typeof s)[number]) => `${x.name}{${Object.entries(x.labels).map(([k, v]) => `${k}=${v}`)}} ${x.value}`;
    assert.deepEqual(s.map(line), [
      'ghosteam_model_canary_step{namespace=ml,model_resource=fraud-api,model=fraud} 2',
      'ghosteam_model_canary_traffic_percent{namespace=ml,model_resource=fraud-api,model=fraud} 50',
      'ghosteam_model_served_version{namespace=ml,model_resource=fraud-api,model=fraud,role=stable} 4',
      'ghosteam_model_served_version{namespace=ml,model_resource=fraud-api,model=fraud,role=canary} 5',
      'ghosteam_model_canary_step{namespace=ml,model_resource=other,model=other} 0',
      'ghosteam_model_canary_traffic_percent{namespace=ml,model_resource=other,model=other} 0',
      'ghosteam_model_served_version{namespace=ml,model_resource=other,model=other,role=stable} 2',
      'ghosteam_drift_share{namespace=ml,monitor=fraud-drift,model_resource=fraud-api} 0.5',
      'ghosteam_drift_dataset_drift{namespace=ml,monitor=fraud-drift,model_resource=fraud-api} 1',
      'ghosteam_drift_feature_statistic{namespace=ml,monitor=fraud-drift,model_resource=fraud-api,feature=amount,test=ks} 0.31',
      'ghosteam_drift_feature_drifted{namespace=ml,monitor=fraud-drift,model_resource=fraud-api,feature=amount} 1',
      'ghosteam_drift_feature_statistic{namespace=ml,monitor=fraud-drift,model_resource=fraud-api,feature=hour,test=psi} 0.02',
      'ghosteam_drift_feature_drifted{namespace=ml,monitor=fraud-drift,model_resource=fraud-api,feature=hour} 0',
    ]);
  });

  test("the embedded operator's /metrics carries them for the Models it reconciles", async () => {
    const dir = tempDir('gt-status-metrics-');
    const server = await startModelServer({ port: 0 });
    const registry = new LocalRegistry({ dir: join(dir, 'registry') });
    let op: Awaited<ReturnType<typeof startLocalOperator>> | undefined;
    try {
      await registry.registerVersion('fraud', { artifactPath: writeFraudModel(dir, 1).path });
      op = await startLocalOperator({
        registry,
        modelServer: new ModelServerAdminClient(server.url),
        modelServerUrl: server.url,
        healthPort: 0,
        resyncMs: 200,
      });
      await op.apply(modelObject('fraud'));
      const port = op.operator.manager.healthPort!;
      const text = await eventually(
        'the stable version on /metrics',
        async () => {
          const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          return /ghosteam_model_served_version\{[^}]*role="stable"\} 1/.test(t) ? t : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      assert.match(text, /ghosteam_model_canary_step\{namespace="default",model_resource="fraud",model="fraud"\} 0/);
    } finally {
      await op?.stop();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the dashboard's canary and drift panels on a real Prometheus scraping the status series", { skip: peers.skip }, () => {
  let http: Server;
  let prom: TestPrometheus | undefined;
  before(async () => {
    const reg = new Registry();
    registerStatusMetrics(reg, { models: () => [model, idle], monitors: () => [monitor] });
    http = createServer(async (_req, res) => {
      res.writeHead(200, { 'content-type': reg.contentType }).end(await reg.metrics());
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    prom = await startTestPrometheus({ scrape: [{ job: 'operator', targets: [`127.0.0.1:${(http.address() as { port: number }).port}`] }] });
  });
  after(async () => {
    await prom?.stop();
    http?.close();
  });

  test('each panel shows what the statuses say', async () => {
    const panels = Dashboard.panels('fraud', 'fraud-api');
    const run = async (title: string) => {
      const p = panels.find((x) => x.title === title);
      assert.ok(p, `panel ${title}`);
      return Promise.all(p.targets.map((t) => promQuery(prom!.url, t.expr.replaceAll('$__rate_interval', '1m'))));
    };
    // The first scrape can take a while on a busy machine.
    const [step, traffic, versions] = await eventually(
      'scraped',
      async () => {
        const r = await run('Canary step and traffic');
        return r[0].length > 0 ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    assert.deepEqual([step.map((x) => x.value[1]), traffic.map((x) => x.value[1])], [['2'], ['50']]);
    assert.deepEqual(versions.map((x) => [x.metric.role, x.value[1]]).sort(), [
      ['canary', '5'],
      ['stable', '4'],
    ]);
    const [share, dataset] = await run('Drift share (last check)');
    assert.deepEqual([share.map((x) => [x.metric.monitor, x.value[1]]), dataset.map((x) => x.value[1])], [[['fraud-drift', '0.5']], ['1']]);
    const [stats] = await run('Drift statistic per feature (last check)');
    assert.deepEqual(stats.map((x) => [x.metric.feature, x.metric.test, x.value[1]]).sort(), [
      ['amount', 'ks', '0.31'],
      ['hour', 'psi', '0.02'],
    ]);
    const [drifted] = await run('Drifted features');
    assert.deepEqual(
      drifted.map((x) => x.metric.feature),
      ['amount'],
    );
  });
});

/**
 * The cluster operator's quality source: PrometheusMetrics.versionQuality over the model server's
 * real series, scraped by a real Prometheus (the peer's binary). Two replicas of the same version
 * each hold the labels that reached them; the operator sees their accuracy weighted by labels,
 * which is the accuracy over all labels (checked against the labels themselves).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startModelServer, type ModelServer } from '../../components/model-server/server.ts';
import { ModelServerAdminClient } from '../../components/model-server/admin-client.ts';
import { PrometheusMetrics } from '../../controllers/backends/metrics.ts';
import { eventually, startTestPrometheus, usePeers, type TestPrometheus } from '../peers/index.ts';
import { inferBody, post, rows, tempDir, writeFraudModel } from '../model-server/fixtures.ts';

const peers = await usePeers(['prometheus']);

describe('PrometheusMetrics.versionQuality on a real Prometheus', { skip: peers.skip }, () => {
  const dir = tempDir('gt-promq-');
  const servers: ModelServer[] = [];
  let prom: TestPrometheus | undefined;
  before(async () => {
    const model = writeFraudModel(dir, 4).path;
    for (let i = 0; i < 2; i++) {
      const s = await startModelServer({ port: 0 });
      await new ModelServerAdminClient(s.url).load({ name: 'fraud', version: '3', path: model, stable: true });
      servers.push(s);
    }
    prom = await startTestPrometheus({ scrape: [{ job: 'ms', targets: servers.map((s) => new URL(s.url).host) }] });
  });
  after(async () => {
    await prom?.stop();
    for (const s of servers) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the accuracy over both replicas, weighted by their labels', async () => {
    // Replica 0: 30 labels, 30 right. Replica 1: 10 labels, 0 right. Overall: 30 / 40.
    const plan: Array<[number, number, boolean]> = [
      [0, 30, true],
      [1, 10, false],
    ];
    for (const [i, n, right] of plan) {
      const feedback = [];
      for (const [j, row] of rows(n, 10 + i).entries()) {
        const r = await post(`${servers[i].url}/v2/models/fraud/infer`, inferBody([row], { id: `r${i}-${j}` }));
        const predicted = (r.json.outputs[0].data[0] as number) >= 0.5 ? 1 : 0;
        feedback.push({ id: r.json.id, label: right ? predicted : 1 - predicted });
      }
      assert.equal((await post(`${servers[i].url}/v2/models/fraud/feedback`, JSON.stringify(feedback))).status, 200);
    }
    const source = new PrometheusMetrics(prom!.url);
    const m = { metadata: { name: 'fraud' }, spec: { modelRef: { name: 'fraud' } } } as Parameters<PrometheusMetrics['versionQuality']>[0];
    const q = await eventually(
      'both replicas scraped with their labels',
      async () => {
        const v = await source.versionQuality(m, 3, Date.now());
        return v?.samples === 40 ? v : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    assert.equal(q.task, 'binary');
    assert.ok(Math.abs(q.metrics.accuracy! - 0.75) < 1e-9, `accuracy ${q.metrics.accuracy}`);
    assert.equal(await source.versionQuality(m, 9, Date.now()), undefined, 'a version without labels has no quality');
  });

  test("CBPE's estimate of the answers still waiting for labels, over both replicas, weighted by the answers each covers", async () => {
    // After the first test's labels, 20 more answers per replica that get none yet.
    for (const [i, s] of servers.entries())
      for (const [j, row] of rows(20, 30 + i).entries())
        assert.equal((await post(`${s.url}/v2/models/fraud/infer`, inferBody([row], { id: `u${i}-${j}` }))).status, 200);
    const own = await Promise.all(servers.map(async (s) => (await new ModelServerAdminClient(s.url).stats('fraud')).versions['3'].qualityEstimate));
    const covered = own.filter((e) => e !== undefined);
    assert.ok(covered.length >= 1, `replica 0 (labels of both classes) has an estimate: ${JSON.stringify(own)}`);
    const n = covered.reduce((a, e) => a + e.samples, 0);
    const expected = covered.reduce((a, e) => a + e.samples * e.metrics.accuracy!.value, 0) / n;
    const source = new PrometheusMetrics(prom!.url);
    const m = { metadata: { name: 'fraud' }, spec: { modelRef: { name: 'fraud' } } } as Parameters<PrometheusMetrics['versionQuality']>[0];
    const e = await eventually(
      'the estimates scraped',
      async () => {
        const v = await source.versionQualityEstimate(m, 3, Date.now());
        return v?.samples === n ? v : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    assert.ok(Math.abs(e.metrics.accuracy! - expected) < 1e-9, `estimated accuracy ${e.metrics.accuracy} vs ${expected}`);
    assert.equal(await source.versionQualityEstimate(m, 9, Date.now()), undefined, 'a version without predictions has no estimate');
  });
});

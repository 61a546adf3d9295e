/**
 * Local mode end to end: the real reconcilers over the file-backed LocalStore and the real local
 * registry; the model server is an in-memory double (so the test sets the canary's metrics).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRegistry } from '../../components/registry/local.ts';
import { startLocalOperator, type LocalOperator } from '../../controllers/local.ts';
import { FakeModelServer, modelObject } from './fakes.ts';
import type { ModelStatus } from '../../api/crds/index.ts';
import type { K8sObject } from '../../api/objects.ts';

const cond = (o: K8sObject, type: string) => ((o.status as ModelStatus | undefined)?.conditions ?? []).find((c) => c.type === type);

describe('local operator: canary rollouts', () => {
  let dir: string;
  let registry: LocalRegistry;
  let server: FakeModelServer;
  let op: LocalOperator;
  const register = async (name: string, tag: string) => {
    const f = join(dir, `${name}-${tag}.onnx`);
    writeFileSync(f, `model ${name} ${tag}`);
    return registry.registerVersion(name, { artifactPath: f, lineage: { reason: 'manual' } });
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gt-localop-'));
    registry = new LocalRegistry({ dir: join(dir, 'registry') });
    server = new FakeModelServer();
    op = await startLocalOperator({ stateDir: join(dir, 'state'), registry, modelServer: server });
  });
  after(async () => {
    await op.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('first version is deployed, a new one is canaried, analysed and promoted; the alias moves', async () => {
    await register('fraud', 'a');
    await op.apply(modelObject('fraud'));
    const ready = await op.waitFor('Model', 'default', 'fraud', (m) => cond(m, 'Ready')?.status === 'True');
    assert.equal((ready.status as ModelStatus).stableVersion, 1);
    assert.equal((await registry.resolve('fraud', 'champion')).version, 1);
    server.setStats('fraud', 2, { requests: 200, errors: 1, p99: 40 });
    await register('fraud', 'b');
    // A new registry version is noticed on the next reconcile: poke the object (as a resync would).
    await op.apply({ ...modelObject('fraud'), metadata: { name: 'fraud', namespace: 'default', annotations: { touch: '1' } } });
    const progressing = await op.waitFor(
      'Model',
      'default',
      'fraud',
      (m) => (m.status as ModelStatus).canaryVersion === 2 && (m.status as ModelStatus).trafficPercent === 25,
    );
    assert.equal(cond(progressing, 'Progressing')?.status, 'True');
    const done = await op.waitFor(
      'Model',
      'default',
      'fraud',
      (m) => (m.status as ModelStatus).stableVersion === 2 && (m.status as ModelStatus).canaryVersion === undefined,
      15_000,
    );
    const st = done.status as ModelStatus;
    assert.equal(st.analysis?.length, 1);
    assert.equal(st.analysis?.[0].passed, true);
    assert.equal(st.analysis?.[0].version, 2);
    // The alias and traffic follow the committed status (applied right after the status write).
    const end = Date.now() + 5_000;
    while ((await registry.resolve('fraud', 'champion')).version !== 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await registry.resolve('fraud', 'champion')).version, 2);
    assert.deepEqual(server.models.get('fraud')?.traffic, { stable: '2', canaryPercent: 0 });
    assert.ok(server.calls.includes('traffic fraud 1/2/25'), server.calls.join('\n'));
  });

  test('a canary with a high error rate is rolled back; the alias stays; the reason is in status', async () => {
    await register('churn', 'a');
    await op.apply(modelObject('churn'));
    await op.waitFor('Model', 'default', 'churn', (m) => cond(m, 'Ready')?.status === 'True');
    server.setStats('churn', 2, { requests: 100, errors: 30, p99: 40 });
    await register('churn', 'b');
    await op.apply({ ...modelObject('churn'), metadata: { name: 'churn', namespace: 'default', annotations: { touch: '1' } } });
    const rolled = await op.waitFor('Model', 'default', 'churn', (m) => (m.status as ModelStatus).phase === 'RolledBack', 15_000);
    const st = rolled.status as ModelStatus;
    assert.equal(st.stableVersion, 1);
    assert.equal(st.lastFailedVersion, 2);
    assert.equal(cond(rolled, 'Degraded')?.reason, 'ErrorRateTooHigh');
    assert.equal(cond(rolled, 'Degraded')?.message, 'canary error rate 0.3 exceeds 0.05 at step 1 (25%)');
    assert.equal((await registry.resolve('churn', 'champion')).version, 1);
    assert.deepEqual(server.models.get('churn')?.traffic, { stable: '1', canaryPercent: 0 });
  });

  test('an invalid object is refused with the field named', async () => {
    const bad = modelObject('x');
    (bad.spec as Record<string, unknown>).format = 'pickle';
    await assert.rejects(op.apply(bad), /^Error: Model default\/x: .*format/);
  });
});

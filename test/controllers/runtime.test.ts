/** The runtime over the LocalStore: leader election on a Lease, informer re-list on 410, health and metrics endpoints. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalStore } from '../../controllers/runtime/local-store.ts';
import { LeaderElector } from '../../controllers/runtime/leader.ts';
import { Informer } from '../../controllers/runtime/informer.ts';
import { Manager } from '../../controllers/runtime/manager.ts';
import { TerminalError } from '../../controllers/runtime/reconcile.ts';
import { TYPES } from '../../controllers/runtime/store.ts';
import { silentLogger } from '../../controllers/runtime/log.ts';
import type { K8sObject } from '../../api/objects.ts';

const run = (name: string): K8sObject => ({ apiVersion: 'ghosteam.io/v1alpha1', kind: 'TrainingRun', metadata: { name, namespace: 'ml' }, spec: {} });

test('leader election: one holder at a time; a released Lease is taken over', async () => {
  const store = await LocalStore.open();
  const a = new LeaderElector(store, { namespace: 'ghosteam-system', name: 'op', identity: 'a', leaseDurationMs: 2000 }, silentLogger);
  const b = new LeaderElector(store, { namespace: 'ghosteam-system', name: 'op', identity: 'b', leaseDurationMs: 2000 }, silentLogger);
  await a.acquire();
  assert.equal(a.isLeader, true);
  let bLeads = false;
  const bDone = b.acquire().then(() => {
    bLeads = true;
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(bLeads, false);
  const lease = await store.get(TYPES.Lease, 'ghosteam-system', 'op');
  assert.equal((lease?.spec as { holderIdentity: string }).holderIdentity, 'a');
  await a.release();
  await bDone;
  assert.equal(bLeads, true);
  const after = await store.get(TYPES.Lease, 'ghosteam-system', 'op');
  assert.equal((after?.spec as { holderIdentity: string; leaseTransitions: number }).holderIdentity, 'b');
  assert.equal((after?.spec as { leaseTransitions: number }).leaseTransitions, 1);
  await b.release();
  store.close();
});

test('informer: a watch that expires with 410 Gone re-lists and keeps the cache right', async () => {
  const store = await LocalStore.open({ historySize: 3 });
  await store.create(TYPES.TrainingRun, run('r0'));
  const seen: string[] = [];
  const inf = new Informer(store, TYPES.TrainingRun, [(type, o) => seen.push(`${type} ${o.metadata.name}`)], silentLogger);
  await inf.start();
  assert.deepEqual(seen, ['ADDED r0']);
  // Force the next watch to start from a version older than the retained history.
  inf.stop();
  for (let i = 1; i <= 6; i++) await store.create(TYPES.TrainingRun, run(`r${i}`));
  await store.delete(TYPES.TrainingRun, 'ml', 'r0');
  const inf2 = new Informer(store, TYPES.TrainingRun, [], silentLogger);
  (inf2 as unknown as { rv: string }).rv = '1';
  await (inf2 as unknown as { startWatch(): Promise<void> }).startWatch();
  const end = Date.now() + 3000;
  while (inf2.relists < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.equal(inf2.relists, 1);
  assert.deepEqual(
    inf2
      .list()
      .map((o) => o.metadata.name)
      .sort(),
    ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'],
  );
  inf2.stop();
  store.close();
});

test('manager: /healthz, /readyz and Prometheus /metrics with reconcile count, errors, duration and queue depth', async () => {
  const store = await LocalStore.open();
  const manager = new Manager({ store, log: silentLogger, workers: 2, healthPort: 0 });
  let calls = 0;
  manager.add({
    name: 'runs',
    type: TYPES.TrainingRun,
    reconcile: async (req) => {
      calls++;
      if (req.name === 'bad') throw new Error('boom');
      return {};
    },
  });
  await store.create(TYPES.TrainingRun, run('good'));
  await store.create(TYPES.TrainingRun, run('bad'));
  await manager.start();
  const base = `http://127.0.0.1:${manager.healthPort}`;
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  const end = Date.now() + 3000;
  while (calls < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  const text = await (await fetch(`${base}/metrics`)).text();
  assert.match(text, /ghosteam_reconcile_total\{controller="runs",result="success"\} 1/);
  assert.match(text, /ghosteam_reconcile_errors_total\{controller="runs"\} [1-9]/);
  assert.match(text, /ghosteam_reconcile_duration_seconds_count\{controller="runs"\} [2-9]/);
  assert.match(text, /ghosteam_workqueue_depth\{controller="runs"\} \d/);
  assert.equal((await fetch(`${base}/nope`)).status, 404);
  await manager.stop();
  store.close();
});

test('manager: a TerminalError is not retried; an ordinary error is, with backoff; a change to the object reconciles it again', async () => {
  const store = await LocalStore.open();
  const manager = new Manager({ store, log: silentLogger, workers: 1 });
  const calls = new Map<string, number>();
  manager.add({
    name: 'runs',
    type: TYPES.TrainingRun,
    reconcile: async (req) => {
      calls.set(req.name, (calls.get(req.name) ?? 0) + 1);
      if (req.name === 'never') throw new TerminalError('spec.pipeline names no pipeline; fix the spec');
      if (req.name === 'flaky') throw new Error('the API server is busy');
      return {};
    },
  });
  await store.create(TYPES.TrainingRun, run('never'));
  await store.create(TYPES.TrainingRun, run('flaky'));
  await manager.start();
  const end = Date.now() + 5000;
  while ((calls.get('flaky') ?? 0) < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  assert.ok((calls.get('flaky') ?? 0) >= 3, `an ordinary error is retried (${calls.get('flaky')} calls)`);
  assert.equal(calls.get('never'), 1, 'a TerminalError is reconciled once');
  // The next change to the object (here a label) brings it back once.
  const cur = (await store.get(TYPES.TrainingRun, 'ml', 'never'))!;
  await store.replace(TYPES.TrainingRun, { ...cur, metadata: { ...cur.metadata, labels: { fixed: 'yes' } } });
  const end2 = Date.now() + 3000;
  while ((calls.get('never') ?? 0) < 2 && Date.now() < end2) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(calls.get('never'), 2);
  await manager.stop();
  store.close();
});

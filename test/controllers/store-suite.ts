/**
 * One suite for both ObjectStore implementations (LocalStore and KubeStore against the real API
 * server): the semantics the reconcilers rely on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, TYPES, type ObjectStore, type WatchEvent } from '../../controllers/runtime/store.ts';
import type { K8sObject } from '../../api/objects.ts';

const model = (ns: string, name: string, version = 1): K8sObject => ({
  apiVersion: 'ghosteam.io/v1alpha1',
  kind: 'Model',
  metadata: { name, namespace: ns },
  spec: {
    modelRef: { name: 'fraud', version },
    format: 'onnx',
    inferenceService: name,
    runtime: 'ghosteam-onnx',
    resources: { cpu: '100m', memory: '128Mi' },
    autoscaling: { minReplicas: 1, maxReplicas: 1, targetConcurrency: 4 },
    rollout: { strategy: 'direct', steps: [100], intervalSeconds: 1, thresholds: {} },
    payloadLogging: { enabled: false, mode: 'all' },
  },
});

export function runStoreSuite(make: () => Promise<{ store: ObjectStore; ns: string; done?: () => Promise<void> }>): void {
  test('create, get, 409 AlreadyExists, 404', async () => {
    const { store, ns, done } = await make();
    try {
      const c = await store.create(TYPES.Model, model(ns, 'a'));
      assert.ok(c.metadata.uid);
      assert.equal(c.metadata.generation, 1);
      const g = await store.get(TYPES.Model, ns, 'a');
      assert.equal(g?.metadata.resourceVersion, c.metadata.resourceVersion);
      await assert.rejects(store.create(TYPES.Model, model(ns, 'a')), (e: unknown) => e instanceof ApiError && e.code === 409 && e.reason === 'AlreadyExists');
      assert.equal(await store.get(TYPES.Model, ns, 'missing'), undefined);
      await assert.rejects(
        store.replace(TYPES.Model, { ...model(ns, 'missing'), metadata: { name: 'missing', namespace: ns, resourceVersion: '1' } }),
        (e: unknown) => e instanceof ApiError && e.code === 404,
      );
    } finally {
      await done?.();
    }
  });

  test('a stale resourceVersion is a 409 Conflict; spec changes bump generation, status writes do not', async () => {
    const { store, ns, done } = await make();
    try {
      const c = await store.create(TYPES.Model, model(ns, 'b'));
      const u = await store.replace(TYPES.Model, { ...c, spec: model(ns, 'b', 2).spec });
      assert.equal(u.metadata.generation, 2);
      assert.notEqual(u.metadata.resourceVersion, c.metadata.resourceVersion);
      await assert.rejects(
        store.replace(TYPES.Model, { ...c, spec: model(ns, 'b', 3).spec }),
        (e: unknown) => e instanceof ApiError && e.code === 409 && e.reason === 'Conflict',
      );
      const s = await store.replaceStatus(TYPES.Model, { ...u, status: { phase: 'Ready', stableVersion: 2 } });
      assert.equal(s.metadata.generation, 2);
      assert.deepEqual((s.status as { stableVersion: number }).stableVersion, 2);
      await assert.rejects(store.replaceStatus(TYPES.Model, { ...u, status: { phase: 'Pending' } }), (e: unknown) => e instanceof ApiError && e.code === 409);
      // replace ignores status (status subresource)
      const r = await store.replace(TYPES.Model, { ...s, status: { phase: 'Failed' }, metadata: { ...s.metadata, labels: { x: 'y' } } });
      assert.equal((r.status as { phase: string }).phase, 'Ready');
    } finally {
      await done?.();
    }
  });

  test('finalizers hold deletion until removed', async () => {
    const { store, ns, done } = await make();
    try {
      const c = await store.create(TYPES.Model, { ...model(ns, 'c'), metadata: { name: 'c', namespace: ns, finalizers: ['ghosteam.io/finalizer'] } });
      await store.delete(TYPES.Model, ns, 'c');
      const d = await store.get(TYPES.Model, ns, 'c');
      assert.ok(d?.metadata.deletionTimestamp);
      await store.replace(TYPES.Model, { ...d, metadata: { ...d.metadata, finalizers: [] } });
      assert.equal(await store.get(TYPES.Model, ns, 'c'), undefined);
      assert.ok(c.metadata.uid);
    } finally {
      await done?.();
    }
  });

  test('watch streams changes after a resourceVersion; list gives a version to start from', async () => {
    const { store, ns, done } = await make();
    try {
      const l = await store.list(TYPES.Model, ns);
      const events: WatchEvent[] = [];
      const w = await store.watch(
        TYPES.Model,
        ns,
        l.resourceVersion,
        (e) => events.push(e),
        () => {},
      );
      const c = await store.create(TYPES.Model, model(ns, 'd'));
      await store.replace(TYPES.Model, { ...c, spec: model(ns, 'd', 5).spec });
      await store.delete(TYPES.Model, ns, 'd');
      const end = Date.now() + 10_000;
      while (events.filter((e) => e.object.metadata.name === 'd').length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      w.stop();
      assert.deepEqual(
        events.filter((e) => e.object.metadata.name === 'd').map((e) => e.type),
        ['ADDED', 'MODIFIED', 'DELETED'],
      );
    } finally {
      await done?.();
    }
  });
}

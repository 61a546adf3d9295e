/**
 * The CRDs carry validate's semantic checks as CEL (api/crds/semantics.ts → x-kubernetes-validations):
 * the REAL kube-apiserver from the peers harness refuses exactly the Models `ghosteam validate`
 * refuses (canary steps not increasing or not ending at 100, minReplicas above maxReplicas), and
 * accepts the ones it accepts. Before, the CRD let [50, 10] and minReplicas 9 / maxReplicas 4 in.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { uniqueName, usePeers } from '../peers/index.ts';
import { ghosteamCrdObjects, installCrds } from '../peers/crds.ts';
import { KubeStore, loadKubeConfig } from '../../controllers/runtime/kube-store.ts';
import { ApiError, TYPES } from '../../controllers/runtime/store.ts';
import { validateGhosteamObject } from '../../api/crds/validate.ts';
import { ghosteamCrds } from '../../api/crds/index.ts';
import { ROLLOUT_CEL_RULES } from '../../api/crds/semantics.ts';
import { createNamespace } from './kube-helpers.ts';
import { modelObject } from './fakes.ts';

const peers = await usePeers(['kube']);

test('the CRD schema carries the CEL rules from api/crds/semantics.ts (one source)', () => {
  const model = ghosteamCrds().find((c) => c.spec.names.kind === 'Model')!;
  const spec = (model.spec.versions[0].schema.openAPIV3Schema as { properties: { spec: { properties: Record<string, Record<string, unknown>> } } }).properties
    .spec;
  assert.deepEqual(spec.properties.rollout['x-kubernetes-validations'], ROLLOUT_CEL_RULES);
  assert.equal((spec.properties.autoscaling['x-kubernetes-validations'] as unknown[]).length, 1);
});

describe('the real kube-apiserver refuses what validate refuses', { skip: peers.skip }, () => {
  let store: KubeStore;
  let ns: string;
  before(async () => {
    store = new KubeStore(loadKubeConfig(peers.kubeconfig));
    await installCrds(peers.kubeconfig, await ghosteamCrdObjects());
    ns = uniqueName('cel');
    await createNamespace(store, ns);
  });

  const cases: Array<{ name: string; steps?: number[]; strategy?: 'canary' | 'direct'; replicas?: [number, number]; apiserver?: RegExp }> = [
    { name: 'steps [10, 50, 100]', steps: [10, 50, 100] },
    { name: 'steps [100]', steps: [100] },
    { name: 'direct with steps [50, 10] (steps unused)', steps: [50, 10], strategy: 'direct' },
    { name: 'steps [50, 10]', steps: [50, 10], apiserver: /spec\.rollout\.steps: Invalid value: .*must strictly increase/ },
    { name: 'steps [10, 10, 100]', steps: [10, 10, 100], apiserver: /spec\.rollout\.steps: Invalid value: .*must strictly increase/ },
    { name: 'steps [10, 50]', steps: [10, 50], apiserver: /spec\.rollout\.steps: Invalid value: .*must end at 100/ },
    { name: 'steps []', steps: [], apiserver: /spec\.rollout\.steps: Invalid value: .*is empty/ },
    { name: 'minReplicas 9, maxReplicas 4', replicas: [9, 4], apiserver: /spec\.autoscaling\.maxReplicas: Invalid value: .*is below minReplicas/ },
    { name: 'minReplicas 4, maxReplicas 4', replicas: [4, 4] },
  ];
  for (const c of cases) {
    test(`${c.name}: ${c.apiserver ? 'refused' : 'accepted'} by both`, async () => {
      const m = modelObject(uniqueName('m'), { namespace: ns, ...(c.steps ? { steps: c.steps } : {}), ...(c.strategy ? { strategy: c.strategy } : {}) });
      if (c.replicas) m.spec.autoscaling = { ...m.spec.autoscaling, minReplicas: c.replicas[0], maxReplicas: c.replicas[1] };
      const local = validateGhosteamObject(m);
      let remote: ApiError | undefined;
      try {
        await store.create(TYPES.Model, m);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        remote = e;
      }
      if (c.apiserver) {
        assert.ok(local.length > 0, 'validate refuses it');
        assert.equal(remote?.code, 422, `the apiserver refuses it too (got ${remote?.message ?? 'created'})`);
        assert.match(remote.message, c.apiserver);
      } else {
        assert.deepEqual(local, []);
        assert.equal(remote, undefined, remote?.message);
      }
    });
  }
});

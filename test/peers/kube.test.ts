// Proof that the kube peer is a real API server with the real upstream CRDs: @kubernetes/client-node
// creates, watches and conflicts exactly as against a cluster, and the server validates custom
// resources against the upstream openAPIV3Schema.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException, ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import { UPSTREAM_CRD_FILES, upstreamCrds } from './crds.ts';
import { eventually, kubeConfig, uniqueName, usePeers } from './index.ts';

const peers = await usePeers(['kube']);

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

const WF = { group: 'argoproj.io', version: 'v1alpha1', plural: 'workflows' } as const;
const ISVC = { group: 'serving.kserve.io', version: 'v1beta1', plural: 'inferenceservices' } as const;

function workflow(name: string, namespace: string): Obj {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Workflow',
    metadata: { name, namespace },
    spec: {
      entrypoint: 'main',
      templates: [{ name: 'main', container: { image: 'busybox:1.36', command: ['echo', 'hello'] } }],
    },
  };
}

function inferenceService(name: string, namespace: string, minReplicas: unknown = 1): Obj {
  return {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name, namespace },
    spec: { predictor: { minReplicas, model: { modelFormat: { name: 'onnx' }, storageUri: 'pvc://models/fraud/1' } } },
  };
}

/** Watch a namespaced collection and collect `PHASE name` events. */
async function watchEvents(kc: KubeConfig, path: string): Promise<{ events: string[]; stop: () => void }> {
  const events: string[] = [];
  const ctl = await new Watch(kc).watch(
    path,
    {},
    (phase, obj: Obj) => events.push(`${phase} ${obj.metadata.name}`),
    () => {},
  );
  return { events, stop: () => ctl.abort() };
}

describe('kube peer (kube-apiserver + etcd)', { skip: peers.skip }, () => {
  let kc: KubeConfig;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let ns: string;

  before(async () => {
    kc = kubeConfig(peers);
    core = kc.makeApiClient(CoreV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
    ns = uniqueName('peers-kube');
    await core.createNamespace({ body: { metadata: { name: ns } } });
  });

  after(async () => {
    // No namespace controller runs, so the namespace stays Terminating; its name is unique anyway.
    await core?.deleteNamespace({ name: ns }).catch(() => {});
  });

  test('a created Namespace reads back Active', async () => {
    const got = await core.readNamespace({ name: ns });
    assert.equal(got.metadata?.name, ns);
    assert.equal(got.status?.phase, 'Active');
  });

  test('every upstream CRD and the ghosteam CRDs are Established', async () => {
    const list = await kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
    const established = new Set(
      list.items.filter((c) => c.status?.conditions?.some((k) => k.type === 'Established' && k.status === 'True')).map((c) => c.metadata?.name),
    );
    const expected = upstreamCrds().map((c) => c.metadata?.name);
    assert.equal(expected.length, UPSTREAM_CRD_FILES.length);
    for (const name of [...expected, 'workflowtemplates.argoproj.io', 'cronworkflows.argoproj.io', 'applications.argoproj.io']) {
      assert.ok(established.has(name), `${name} is not Established`);
    }
    const ghosteam = list.items.filter((c) => c.spec.group === 'ghosteam.io');
    assert.ok(ghosteam.length >= 3, `expected the ghosteam.io CRDs, found ${ghosteam.map((c) => c.metadata?.name).join(', ') || 'none'}`);
  });

  test('creates an Argo Workflow and a KServe InferenceService and watches them', async () => {
    const wfWatch = await watchEvents(kc, `/apis/argoproj.io/v1alpha1/namespaces/${ns}/workflows`);
    const isvcWatch = await watchEvents(kc, `/apis/serving.kserve.io/v1beta1/namespaces/${ns}/inferenceservices`);
    try {
      const wf = (await custom.createNamespacedCustomObject({ ...WF, namespace: ns, body: workflow('hello', ns) })) as Obj;
      assert.equal(wf.metadata.name, 'hello');
      assert.match(wf.metadata.resourceVersion ?? '', /^\d+$/);
      const isvc = (await custom.createNamespacedCustomObject({ ...ISVC, namespace: ns, body: inferenceService('fraud', ns) })) as Obj;
      assert.equal((isvc.spec?.predictor as { minReplicas: number }).minReplicas, 1);

      await eventually('the ADDED events', () => wfWatch.events.includes('ADDED hello') && isvcWatch.events.includes('ADDED fraud'), { timeoutMs: 30_000 });

      // Play the controller's part: write status through the status subresource.
      const current = (await custom.getNamespacedCustomObject({ ...ISVC, namespace: ns, name: 'fraud' })) as Obj;
      current.status = { url: 'http://fraud.example', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() }] };
      const updated = (await custom.replaceNamespacedCustomObjectStatus({ ...ISVC, namespace: ns, name: 'fraud', body: current })) as Obj;
      assert.equal(updated.status?.url, 'http://fraud.example');
      await eventually('the MODIFIED event', () => isvcWatch.events.includes('MODIFIED fraud'), { timeoutMs: 30_000 });
    } finally {
      wfWatch.stop();
      isvcWatch.stop();
    }
  });

  test('an update with a stale resourceVersion gets 409 Conflict', async () => {
    const created = (await custom.createNamespacedCustomObject({ ...WF, namespace: ns, body: workflow('stale', ns) })) as Obj;
    const fresh = structuredClone(created);
    fresh.metadata.labels = { step: 'first' };
    const first = (await custom.replaceNamespacedCustomObject({ ...WF, namespace: ns, name: 'stale', body: fresh })) as Obj;
    assert.notEqual(first.metadata.resourceVersion, created.metadata.resourceVersion);

    created.metadata.labels = { step: 'second' };
    await assert.rejects(custom.replaceNamespacedCustomObject({ ...WF, namespace: ns, name: 'stale', body: created }), (err: unknown) => {
      assert.ok(err instanceof ApiException, String(err));
      assert.equal(err.code, 409);
      const body = JSON.parse(err.body as string) as { reason: string; message: string };
      assert.equal(body.reason, 'Conflict');
      assert.match(body.message, /the object has been modified; please apply your changes to the latest version and try again/);
      return true;
    });
  });

  test('the server rejects an InferenceService that violates the upstream CRD schema', async () => {
    await assert.rejects(custom.createNamespacedCustomObject({ ...ISVC, namespace: ns, body: inferenceService('bad', ns, 'two') }), (err: unknown) => {
      assert.ok(err instanceof ApiException, String(err));
      assert.equal(err.code, 422);
      const body = JSON.parse(err.body as string) as { reason: string; details: { causes: { field: string; message: string }[] } };
      assert.equal(body.reason, 'Invalid');
      const cause = body.details.causes.find((c) => c.field === 'spec.predictor.minReplicas');
      assert.ok(cause, JSON.stringify(body.details.causes));
      assert.match(cause.message, /must be of type integer/);
      return true;
    });
    await assert.rejects(
      custom.getNamespacedCustomObject({ ...ISVC, namespace: ns, name: 'bad' }),
      (err: unknown) => err instanceof ApiException && err.code === 404,
    );
  });
});

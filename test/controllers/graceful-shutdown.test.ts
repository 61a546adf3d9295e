// Graceful shutdown in what ghosteam emits for a cluster (#25).
//
// - The operator's Deployment, when it hosts the payload sink, sleeps in a preStop hook while the
//   sink Service's endpoints drop the pod, and its grace period covers that sleep and the sink's
//   stop; the real kube-apiserver (peers) accepts the Deployment (server-side apply, dryRun=All).
// - KServe's InferenceService and ServingRuntime carry neither a preStop hook nor a grace period on
//   purpose: ghosteam's canary uses canaryTrafficPercent, which is KServe's Knative (serverless)
//   mode, and Knative refuses both fields in a revision (knative/serving#687, #16463: "unknown field
//   spec.template.spec.containers[0].lifecycle"; terminationGracePeriodSeconds is outside its pod
//   spec mask). There, Knative's queue-proxy drains the pod before the model server gets SIGTERM
//   (its own preStop on the user container) and the grace period is the revision's timeoutSeconds
//   (300 s by default), which the server's drain fits. Checked against the upstream CRDs, and that
//   nothing ghosteam emits for KServe sets either field.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { App, Chart } from 'cdk8s';
import { operatorInstallManifests, OPERATOR_SHUTDOWN } from '../../charts/operator-install.ts';
import { Model } from '../../charts/index.ts';
import { desiredInferenceService } from '../../controllers/backends/kserve.ts';
import { SERVER_DEFAULTS } from '../../components/model-server/index.ts';
import { usePeers, rawKube, type KubeObject } from '../peers/index.ts';
import { upstreamErrors } from '../constructs/upstream.ts';
import { synth } from '../constructs/helpers.ts';
import { modelObject } from './fakes.ts';

type Pod = {
  terminationGracePeriodSeconds?: number;
  containers: Array<{ name: string; lifecycle?: { preStop?: { sleep?: { seconds: number } } } }>;
};
const peers = await usePeers(['kube']);
const podOf = (objs: readonly { kind: string }[]) =>
  (objs.find((o) => o.kind === 'Deployment') as unknown as { spec: { template: { spec: Pod } } }).spec.template.spec;

describe('the operator Deployment with the payload sink', () => {
  test('sleeps in preStop while endpoints drop the pod; the grace period covers the sleep and the stop', () => {
    const pod = podOf(operatorInstallManifests({ namespace: 'default', replicas: 1, payloadSink: {} }));
    assert.deepEqual(pod.containers[0].lifecycle, { preStop: { sleep: { seconds: OPERATOR_SHUTDOWN.preStopSleepSeconds } } });
    assert.equal(pod.terminationGracePeriodSeconds, OPERATOR_SHUTDOWN.terminationGracePeriodSeconds);
    // After the sleep, at least 20 s for the sink to finish its requests and flush, and the lease.
    assert.ok(OPERATOR_SHUTDOWN.terminationGracePeriodSeconds - OPERATOR_SHUTDOWN.preStopSleepSeconds >= 20);
    // Without the sink nothing serves traffic through a Service: no sleep to delay a leader handover.
    const plain = podOf(operatorInstallManifests({ namespace: 'default' }));
    assert.equal(plain.containers[0].lifecycle, undefined);
    assert.equal(plain.terminationGracePeriodSeconds, OPERATOR_SHUTDOWN.terminationGracePeriodSeconds);
  });

  test('the real API server accepts the Deployment with its preStop sleep action', { skip: peers.skip }, async () => {
    const kube = rawKube(peers.kubeconfig);
    const dep = operatorInstallManifests({ namespace: 'default', replicas: 1, payloadSink: {} }).find((o) => o.kind === 'Deployment')!;
    const applied = await kube.apply<KubeObject & { spec: { template: { spec: Pod } } }>(dep as KubeObject, { dryRun: true, fieldManager: 'ghosteam-test' });
    const pod = applied.spec.template.spec;
    assert.deepEqual(pod.containers[0].lifecycle, { preStop: { sleep: { seconds: OPERATOR_SHUTDOWN.preStopSleepSeconds } } });
    assert.equal(pod.terminationGracePeriodSeconds, OPERATOR_SHUTDOWN.terminationGracePeriodSeconds);
  });
});

describe('KServe (Knative mode) manifests leave shutdown to Knative', () => {
  test('neither the synthesized nor the operator-written InferenceService, nor the ServingRuntime, sets lifecycle or a grace period', () => {
    const app = new App();
    const c = new Chart(app, 'serving', { namespace: 'ml' });
    new Model(c, 'fraud', { registry: 'fraud@champion' });
    const objects = synth(app).objects;
    const m = { ...modelObject('fraud', { namespace: 'ml' }), metadata: { name: 'fraud', namespace: 'ml', uid: '0b1c' } } as never;
    const written = desiredInferenceService({
      model: m,
      stable: { version: 1, source: 's3://m/1' },
      canary: { version: 2, source: 's3://m/2' },
      canaryPercent: 10,
    });
    const kserve = [...objects.filter((o) => o.kind === 'InferenceService' || o.kind === 'ServingRuntime'), written];
    assert.equal(kserve.length, 3);
    for (const o of kserve) {
      assert.deepEqual(upstreamErrors(o), []);
      const text = JSON.stringify(o);
      assert.doesNotMatch(text, /"lifecycle"|terminationGracePeriodSeconds/, `${o.kind}: Knative refuses these fields`);
    }
    // The canary ghosteam runs is KServe's Knative-mode traffic split.
    assert.equal((written.spec as { predictor: { canaryTrafficPercent: number } }).predictor.canaryTrafficPercent, 10);
    // Knative's grace period is the revision timeout (300 s by default): the server's drain fits it.
    assert.ok(SERVER_DEFAULTS.drainTimeoutMs + SERVER_DEFAULTS.keepAliveGraceMs < 300_000);
  });
});

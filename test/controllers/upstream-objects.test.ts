/** What the operator writes (InferenceService, Workflow) validates strictly against the real upstream CRDs (../shared/upstream). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { upstreamErrors, upstreamValidator } from '../constructs/upstream.ts';
import { desiredInferenceService } from '../../controllers/backends/kserve.ts';
import { workflowFor } from '../../controllers/backends/argo.ts';
import { modelObject } from './fakes.ts';

const owner = { apiVersion: 'ghosteam.io/v1alpha1', kind: 'Model', metadata: { name: 'fraud', namespace: 'ml', uid: '0b1c' } };

test('InferenceService: stable only, canary split, GPU placement and payload logger are valid v1beta1', () => {
  const m = { ...modelObject('fraud', { namespace: 'ml' }), metadata: { name: 'fraud', namespace: 'ml', uid: '0b1c' } } as never;
  const affinity = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In' as const, values: ['gpu-a'] }] }],
      },
    },
  };
  const cases = [
    desiredInferenceService({ model: m, stable: { version: 1, source: 's3://m/1' }, canaryPercent: 0 }),
    desiredInferenceService({
      model: m,
      stable: { version: 1, source: 's3://m/1' },
      canary: { version: 2, source: 's3://m/2' },
      canaryPercent: 10,
      placement: { affinity, tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] },
    }),
  ];
  const gpuModel = JSON.parse(JSON.stringify(m));
  gpuModel.spec.resources.gpu = { count: 1 };
  gpuModel.spec.payloadLogging = { enabled: true, mode: 'all', url: 'http://sink.ml.svc/events' };
  cases.push(desiredInferenceService({ model: gpuModel, stable: { version: 3, source: 'pvc://m/3' }, canaryPercent: 0 }));
  for (const c of cases) assert.deepEqual(upstreamErrors(c), []);
  const canary = cases[1].spec as { predictor: { canaryTrafficPercent: number; model: { storageUri: string } } };
  assert.equal(canary.predictor.canaryTrafficPercent, 10);
  assert.equal(canary.predictor.model.storageUri, 's3://m/2');
  assert.equal(cases[1].metadata.annotations?.['ghosteam.io/canary-version'], '2');
  assert.deepEqual((cases[2].spec as { predictor: { model: { resources: unknown } } }).predictor.model.resources, {
    requests: { cpu: '100m', memory: '256Mi', 'nvidia.com/gpu': '1' },
    limits: { cpu: '100m', memory: '256Mi', 'nvidia.com/gpu': '1' },
  });
});

test('Workflow from a WorkflowTemplate is a valid argoproj.io/v1alpha1 Workflow', () => {
  const wf = workflowFor(
    {
      name: 'r1',
      namespace: 'ml',
      template: 'fraud-train',
      parameters: { epochs: '3', lr: '0.1' },
      labels: { 'ghosteam.io/reason': 'drift' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists' }],
    },
    owner,
  );
  const v = upstreamValidator('argo-workflows/argoproj.io_workflows.yaml', 'v1alpha1', wf);
  assert.equal(v(wf), true, JSON.stringify(v.errors));
  assert.deepEqual((wf.spec as { arguments: unknown }).arguments, {
    parameters: [
      { name: 'epochs', value: '3' },
      { name: 'lr', value: '0.1' },
    ],
  });
  assert.equal(wf.metadata.ownerReferences?.[0].uid, '0b1c');
});

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  planTrainingRun,
  modelSourceFromWorkflow,
  gateFromWorkflow,
  gitChangeRunName,
  type TrainingRunObserved,
} from '../../controllers/planners/training-run.ts';

const T0 = Date.parse('2026-11-23T04:00:00Z');
const obs = (over: Partial<TrainingRunObserved>): TrainingRunObserved => ({
  namespace: 'ml',
  name: 'fraud-drift-1',
  model: 'fraud',
  pipeline: 'fraud-train',
  reason: 'drift',
  gitCommit: 'abc123',
  parameters: { epochs: '5' },
  state: { phase: 'Pending' },
  templateFound: true,
  gpu: { kind: 'none' },
  ...over,
});
const labels = { 'ghosteam.io/training-run': 'fraud-drift-1', 'ghosteam.io/model': 'fraud', 'ghosteam.io/reason': 'drift' };

describe('planTrainingRun', () => {
  test('submits one Workflow named after the run', () => {
    const p = planTrainingRun(obs({}), T0);
    assert.deepEqual(p.actions, [
      { type: 'submit', workflow: { name: 'fraud-drift-1', namespace: 'ml', template: 'fraud-train', parameters: { epochs: '5' }, labels } },
      { type: 'event', eventType: 'Normal', reason: 'Submitted', message: 'Workflow fraud-drift-1 submitted from WorkflowTemplate fraud-train (reason drift)' },
    ]);
    assert.deepEqual(p.status, {
      phase: 'Running',
      workflowName: 'fraud-drift-1',
      startedAt: '2026-11-23T04:00:00Z',
      message: 'Workflow fraud-drift-1 submitted',
    });
  });

  test('a missing template waits', () => {
    const p = planTrainingRun(obs({ templateFound: false }), T0);
    assert.deepEqual(p.actions, []);
    assert.equal(p.status.message, 'WorkflowTemplate ml/fraud-train not found; waiting for it to be synced');
    assert.equal(p.requeueAfterMs, 30_000);
  });

  test('GPU placement goes into the Workflow; queued work is not submitted', () => {
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In' as const, values: ['gpu-a'] }] }],
        },
      },
    };
    const placed = planTrainingRun(obs({ gpu: { kind: 'placed', node: 'gpu-a', affinity, tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists' }] } }), T0);
    const submit = placed.actions[0];
    assert.ok(submit.type === 'submit');
    assert.deepEqual(submit.workflow.affinity, affinity);
    assert.equal(placed.status.node, 'gpu-a');
    const queued = planTrainingRun(
      obs({ gpu: { kind: 'queued', position: 2, reason: '2 × nvidia-a100 requested; the largest free block is 1 on node gpu-a' } }),
      T0,
    );
    assert.deepEqual(queued.actions, [
      { type: 'event', eventType: 'Normal', reason: 'Queued', message: '2 × nvidia-a100 requested; the largest free block is 1 on node gpu-a' },
    ]);
    assert.deepEqual(queued.status, { phase: 'Queued', queuePosition: 2, message: '2 × nvidia-a100 requested; the largest free block is 1 on node gpu-a' });
    const again = planTrainingRun(obs({ state: queued.status, gpu: { kind: 'queued', position: 1, reason: 'r' } }), T0);
    assert.deepEqual(again.actions, []);
    const kueue = planTrainingRun(obs({ gpu: { kind: 'kueue', labels: { 'kueue.x-k8s.io/queue-name': 'q' } } }), T0);
    assert.ok(kueue.actions[0].type === 'submit' && kueue.actions[0].workflow.labels['kueue.x-k8s.io/queue-name'] === 'q');
  });

  test('follows the phase; a vanished Workflow is submitted again under the same name', () => {
    const running = { phase: 'Running' as const, workflowName: 'fraud-drift-1', startedAt: '2026-11-23T04:00:00Z' };
    assert.deepEqual(planTrainingRun(obs({ state: running, workflow: { phase: 'Running' } }), T0).actions, []);
    const gone = planTrainingRun(obs({ state: running }), T0);
    assert.deepEqual(
      gone.actions.map((a) => a.type === 'submit' && a.workflow.name),
      ['fraud-drift-1'],
    );
  });

  test('success registers with lineage, once', () => {
    const running = { phase: 'Running' as const, workflowName: 'fraud-drift-1' };
    const p = planTrainingRun(
      obs({ state: running, workflow: { phase: 'Succeeded', modelSource: 's3://models/fraud/7/model.onnx', finishedAt: '2026-11-23T04:10:00Z' } }),
      T0,
    );
    assert.deepEqual(p.actions, [
      {
        type: 'register',
        model: 'fraud',
        source: 's3://models/fraud/7/model.onnx',
        lineage: { runId: 'fraud-drift-1', pipeline: 'fraud-train', reason: 'drift', gitCommit: 'abc123' },
      },
    ]);
    assert.equal(p.status.phase, 'Registering');
    // The registration is found by lineage on the next pass: no second register.
    const done = planTrainingRun(
      obs({ state: p.status, workflow: { phase: 'Succeeded', modelSource: 's3://x', finishedAt: '2026-11-23T04:10:00Z' }, registeredVersion: 7 }),
      T0,
    );
    assert.deepEqual(done.actions, [{ type: 'event', eventType: 'Normal', reason: 'Registered', message: 'version 7 of fraud registered from fraud-drift-1' }]);
    assert.equal(done.status.phase, 'Succeeded');
    assert.equal(done.status.registeredVersion, 7);
    assert.deepEqual(planTrainingRun(obs({ state: done.status }), T0).actions, []);
  });

  test('failure and missing model artifact fail the run with a clear message', () => {
    const running = { phase: 'Running' as const, workflowName: 'fraud-drift-1' };
    const f = planTrainingRun(obs({ state: running, workflow: { phase: 'Failed', message: 'child train failed' } }), T0);
    assert.equal(f.status.message, 'Workflow fraud-drift-1 failed: child train failed');
    assert.equal(f.status.phase, 'Failed');
    const n = planTrainingRun(obs({ state: running, workflow: { phase: 'Succeeded' } }), T0);
    assert.equal(
      n.status.message,
      "Workflow fraud-drift-1 succeeded but produced no model artifact; give the pipeline an ONNX output artifact named 'onnx' (export-onnx) or a register step",
    );
  });

  test('a model the gate rejected is never registered, whatever artifacts the run left', () => {
    const running = { phase: 'Running' as const, workflowName: 'fraud-drift-1' };
    const r = planTrainingRun(
      obs({
        state: running,
        workflow: { phase: 'Succeeded', modelSource: '/store/model.onnx', gate: { passed: false, reasons: ['rocAuc is 0.808827; needs >= 0.9'] } },
      }),
      T0,
    );
    assert.deepEqual(r.actions, [
      {
        type: 'event',
        eventType: 'Warning',
        reason: 'GateRejected',
        message: 'gate rejected the model: rocAuc is 0.808827; needs >= 0.9; nothing was registered',
      },
    ]);
    assert.equal(r.status.phase, 'Succeeded');
    assert.deepEqual(r.status.gate, { passed: false, reasons: ['rocAuc is 0.808827; needs >= 0.9'] });
    assert.equal(r.status.registeredVersion, undefined);
    // Done: the next pass does nothing (no second event, no register).
    assert.deepEqual(
      planTrainingRun(obs({ state: r.status, workflow: { phase: 'Succeeded', modelSource: '/store/model.onnx', gate: { passed: false, reasons: [] } } }), T0)
        .actions,
      [],
    );
    // A gate that passed does not stop registration.
    const ok = planTrainingRun(
      obs({ state: running, workflow: { phase: 'Succeeded', modelSource: '/store/model.onnx', gate: { passed: true, reasons: [] } } }),
      T0,
    );
    assert.equal(ok.actions[0]?.type, 'register');
  });

  test('the gate from Argo status: a node output parameter passed=false rejects', () => {
    assert.deepEqual(
      gateFromWorkflow({
        nodes: {
          a: { outputs: { parameters: [{ name: 'passed', value: 'true' }] } },
          g: {
            outputs: {
              parameters: [
                { name: 'passed', value: 'false' },
                { name: 'reasons', value: '["rocAuc is 0.8; needs >= 0.9"]' },
              ],
            },
          },
        },
      }),
      { passed: false, reasons: ['rocAuc is 0.8; needs >= 0.9'] },
    );
    assert.deepEqual(gateFromWorkflow({ nodes: { g: { outputs: { parameters: [{ name: 'passed', value: 'true' }] } } } }), { passed: true, reasons: [] });
    assert.equal(gateFromWorkflow({ nodes: {} }), undefined);
  });

  test('model source from Argo status: artifact or parameter', () => {
    assert.equal(
      modelSourceFromWorkflow({ nodes: { b: { outputs: { artifacts: [{ name: 'model', s3: { bucket: 'm', key: 'fraud/model.onnx' } }] } } } }),
      's3://m/fraud/model.onnx',
    );
    // export-onnx's 'onnx' wins over a train step's 'model' (TensorFlow.js JSON), whatever the node order.
    assert.equal(
      modelSourceFromWorkflow({
        nodes: {
          a: { outputs: { artifacts: [{ name: 'model', s3: { bucket: 'm', key: 'train/model.json' } }] } },
          z: { outputs: { artifacts: [{ name: 'onnx', s3: { bucket: 'm', key: 'export/model.onnx' } }] } },
        },
      }),
      's3://m/export/model.onnx',
    );
    assert.equal(modelSourceFromWorkflow({ outputs: { parameters: [{ name: 'model-uri', value: 'gs://x/y' }] } }), 'gs://x/y');
    assert.equal(modelSourceFromWorkflow({ nodes: {} }), undefined);
  });

  test('git-change names are per hash', () => {
    assert.equal(gitChangeRunName('fraud-train', 'sha256:0123456789abcdef'), 'fraud-train-git-0123456789ab');
  });
});

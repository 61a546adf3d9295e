// TrainingRun status: GPU placement is a status field (status.gpu); the GpuAdmitted and Progressing
// conditions report it. A status written before status.gpu existed (conditions only) still reads back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainingRunStatus } from '../../controllers/reconcilers/training-run.ts';
import { admittedNode } from '../../controllers/reconcilers/gpu.ts';
import type { TrainingRunStatus } from '../../api/crds/index.ts';
import type { TrainingRunState, GpuDecision } from '../../controllers/planners/training-run.ts';

const T0 = Date.parse('2026-12-02T01:00:00Z');
const none: GpuDecision = { kind: 'none' };
const placed: GpuDecision = { kind: 'placed', node: 'gpu-a', affinity: {} as never, tolerations: [] };
const cond = (s: TrainingRunStatus, type: string) => s.conditions?.find((c) => c.type === type);

test('status.gpu follows the run: queued, admitted, carried while running, gone when done', () => {
  const cases: Array<[string, TrainingRunStatus | undefined, TrainingRunState, GpuDecision, TrainingRunStatus['gpu'], string]> = [
    ['queued', undefined, { phase: 'Queued', queuePosition: 2, message: 'no free block' }, none, { queuePosition: 2, queueReason: 'no free block' }, 'Pending'],
    ['admitted on submit', undefined, { phase: 'Running', workflowName: 'r' }, placed, { admittedNode: 'gpu-a' }, 'Running'],
    ['no GPUs at all', undefined, { phase: 'Running', workflowName: 'r' }, none, undefined, 'Running'],
    [
      'admission carried while running',
      { phase: 'Running', gpu: { admittedNode: 'gpu-b' } },
      { phase: 'Running', workflowName: 'r' },
      none,
      { admittedNode: 'gpu-b' },
      'Running',
    ],
    [
      'released when it succeeds',
      { phase: 'Running', gpu: { admittedNode: 'gpu-b' } },
      { phase: 'Succeeded', workflowName: 'r' },
      none,
      undefined,
      'Succeeded',
    ],
    ['released when it fails', { phase: 'Running', gpu: { admittedNode: 'gpu-b' } }, { phase: 'Failed', workflowName: 'r' }, placed, undefined, 'Failed'],
  ];
  for (const [name, prev, state, gpu, want, phase] of cases) {
    const st = trainingRunStatus(prev, state, gpu, 1, T0);
    assert.deepEqual(st.gpu, want, name);
    assert.equal(st.phase, phase, name);
  }
});

test('the conditions report the same placement', () => {
  const q = trainingRunStatus(undefined, { phase: 'Queued', queuePosition: 1, message: 'waiting' }, none, 1, T0);
  assert.deepEqual([cond(q, 'Progressing')?.reason, cond(q, 'Progressing')?.message], ['Queued', 'waiting']);
  const p = trainingRunStatus(undefined, { phase: 'Running', workflowName: 'r' }, placed, 1, T0);
  assert.deepEqual([cond(p, 'GpuAdmitted')?.status, cond(p, 'GpuAdmitted')?.message], ['True', 'gpu-a']);
  const done = trainingRunStatus(p, { phase: 'Succeeded', workflowName: 'r' }, none, 1, T0);
  assert.deepEqual([cond(done, 'GpuAdmitted')?.status, cond(done, 'GpuAdmitted')?.reason, done.gpu], ['False', 'Released', undefined]);
});

test('a status written before status.gpu existed still gives its admitted node', () => {
  const old: TrainingRunStatus = {
    phase: 'Running',
    conditions: [{ type: 'GpuAdmitted', status: 'True', reason: 'Placed', message: 'gpu-old', lastTransitionTime: '2026-12-01T00:00:00Z' }],
  };
  assert.equal(admittedNode(old), 'gpu-old');
  assert.deepEqual(trainingRunStatus(old, { phase: 'Running', workflowName: 'r' }, none, 1, T0).gpu, { admittedNode: 'gpu-old' });
  const released: TrainingRunStatus = { ...old, conditions: [{ ...old.conditions![0], status: 'False', reason: 'Released', message: '' }] };
  assert.equal(admittedNode(released), undefined);
  // status.gpu wins over an old condition once written.
  assert.equal(admittedNode({ ...old, gpu: { queuePosition: 3 } }), undefined);
  assert.equal(admittedNode(undefined), undefined);
});

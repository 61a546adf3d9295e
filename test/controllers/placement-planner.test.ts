import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { planPlacement, nodeMismatch, type GpuNode, type GpuRequest, type PlacementObserved } from '../../controllers/planners/placement.ts';

const A100 = 'NVIDIA-A100-SXM4-40GB';
const node = (name: string, gpus: number, used = 0, over: Partial<GpuNode> = {}): GpuNode => ({
  name,
  allocatable: { 'nvidia.com/gpu': gpus },
  requested: { 'nvidia.com/gpu': used },
  product: A100,
  memoryMiB: 40960,
  taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }],
  ...over,
});
let seq = 0;
const req = (key: string, count: number, over: Partial<GpuRequest> = {}): GpuRequest => ({
  key,
  namespace: 'ml',
  count,
  createdAt: `2026-11-23T04:00:${String(seq++ % 60).padStart(2, '0')}Z`,
  ...over,
});
const plan = (o: Partial<PlacementObserved>) => planPlacement({ nodes: [], requests: [], quotas: {}, ...o });

describe('planPlacement', () => {
  test('best fit picks the node left with the fewest free GPUs, with affinity and the GPU toleration', () => {
    const p = plan({ nodes: [node('gpu-a', 8, 2), node('gpu-b', 4, 1), node('gpu-c', 4, 3)], requests: [req('t1', 2, { product: 'nvidia-a100' })] });
    assert.deepEqual(p.placements, [
      {
        key: 't1',
        node: 'gpu-b',
        resource: 'nvidia.com/gpu',
        count: 2,
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['gpu-b'] }] }],
            },
          },
        },
        tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      },
    ]);
    assert.deepEqual(p.queued, []);
  });

  test('fragmentation: 2 requested, 1 free on each node → queued with the largest free block', () => {
    const p = plan({ nodes: [node('gpu-a', 2, 1), node('gpu-b', 2, 1)], requests: [req('t1', 2, { product: 'nvidia-a100' })] });
    assert.deepEqual(p.placements, []);
    assert.deepEqual(p.queued, [{ key: 't1', position: 1, reason: '2 × nvidia-a100 requested; the largest free block is 1 on node gpu-a' }]);
  });

  test('requests fill nodes in priority order; a blocked request holds the ones behind it', () => {
    const p = plan({
      nodes: [node('gpu-a', 4)],
      requests: [req('low', 1, { priority: 0 }), req('big', 4, { priority: 10 }), req('mid', 1, { priority: 5 })],
    });
    assert.deepEqual(
      p.placements.map((x) => x.key),
      ['big'],
    );
    assert.deepEqual(p.queued, [
      { key: 'mid', position: 1, reason: '1 × GPU requested; the largest free block is 0 on node gpu-a' },
      { key: 'low', position: 2, reason: '1 × GPU requested; waiting behind mid (priority 5)' },
    ]);
  });

  test('an admitted request keeps its node even when another would fit better', () => {
    const p = plan({ nodes: [node('gpu-a', 8), node('gpu-b', 1)], requests: [req('old', 1, { admittedNode: 'gpu-a' }), req('new', 1)] });
    assert.deepEqual(
      p.placements.map((x) => [x.key, x.node]),
      [
        ['old', 'gpu-a'],
        ['new', 'gpu-b'],
      ],
    );
  });

  test('admitted-but-not-running requests consume capacity; running ones are already counted', () => {
    const notRunning = plan({ nodes: [node('gpu-a', 2)], requests: [req('old', 2, { admittedNode: 'gpu-a' }), req('new', 1)] });
    assert.deepEqual(
      notRunning.queued.map((q) => q.key),
      ['new'],
    );
    const running = plan({ nodes: [node('gpu-a', 2, 1)], requests: [req('old', 1, { admittedNode: 'gpu-a', running: true }), req('new', 1)] });
    assert.deepEqual(
      running.placements.map((x) => x.key),
      ['old', 'new'],
    );
  });

  test('MIG requests use the MIG resource only', () => {
    const mig = node('gpu-m', 0, 0, { allocatable: { 'nvidia.com/mig-1g.10gb': 7, 'nvidia.com/gpu': 0 }, requested: { 'nvidia.com/mig-1g.10gb': 5 } });
    const p = plan({ nodes: [node('gpu-a', 8), mig], requests: [req('m', 2, { mig: '1g.10gb' }), req('m2', 1, { mig: '1g.10gb' })] });
    assert.deepEqual(
      p.placements.map((x) => [x.key, x.node, x.resource]),
      [['m', 'gpu-m', 'nvidia.com/mig-1g.10gb']],
    );
    assert.equal(p.queued[0].reason, '1 × nvidia.com/mig-1g.10gb requested; the largest free block is 0 on node gpu-m');
  });

  test('taints other than the GPU taint need an explicit toleration', () => {
    const tainted = node('gpu-t', 4, 0, { taints: [{ key: 'team', value: 'research', effect: 'NoSchedule' }] });
    const p = plan({ nodes: [tainted], requests: [req('t', 1)] });
    assert.equal(
      p.queued[0].reason,
      '1 × GPU requested; no node can take it (node gpu-t has taint team=research:NoSchedule that the request does not tolerate)',
    );
    const ok = plan({
      nodes: [tainted],
      requests: [req('t', 1, { tolerations: [{ key: 'team', operator: 'Equal', value: 'research', effect: 'NoSchedule' }] })],
    });
    assert.deepEqual(ok.placements[0].tolerations, [{ key: 'team', operator: 'Equal', value: 'research', effect: 'NoSchedule' }]);
  });

  test('product and memory mismatches are explained', () => {
    const t4 = node('gpu-t4', 4, 0, { product: 'Tesla-T4', memoryMiB: 15360 });
    assert.equal(nodeMismatch(t4, req('x', 1, { product: 'nvidia-a100' })), 'node gpu-t4 has Tesla-T4, not nvidia-a100');
    assert.equal(nodeMismatch(t4, req('x', 1, { minMemoryMiB: 40000 })), 'node gpu-t4 has 15360 MiB per GPU, under 40000 MiB');
    assert.equal(nodeMismatch({ ...t4, unschedulable: true }, req('x', 1)), 'node gpu-t4 is cordoned');
    assert.equal(nodeMismatch(node('cpu', 0, 0, { allocatable: {} }), req('x', 1)), 'node cpu has no nvidia.com/gpu');
    const p = plan({ nodes: [t4], requests: [req('x', 1, { product: 'nvidia-a100' })] });
    assert.equal(p.queued[0].reason, '1 × nvidia-a100 requested; no node can take it (node gpu-t4 has Tesla-T4, not nvidia-a100)');
    assert.equal(plan({ requests: [req('x', 1)] }).queued[0].reason, '1 × GPU requested; no node can take it (no GPU nodes)');
  });

  test('quota: a request over its namespace quota is queued without blocking others', () => {
    const p = plan({
      nodes: [node('gpu-a', 8)],
      quotas: { ml: 3 },
      namespaceUsage: { ml: 1 },
      requests: [req('a', 2, { priority: 9 }), req('b', 1, { priority: 8 }), req('c', 2, { namespace: 'other', priority: 1 })],
    });
    assert.deepEqual(
      p.placements.map((x) => x.key),
      ['a', 'c'],
    );
    assert.deepEqual(p.queued, [{ key: 'b', position: 1, reason: '1 × GPU requested; namespace ml has used 3 of its GPU quota of 3' }]);
  });

  test('quota exactly reached is allowed', () => {
    const p = plan({ nodes: [node('gpu-a', 8)], quotas: { ml: 2 }, requests: [req('a', 2)] });
    assert.deepEqual(
      p.placements.map((x) => x.key),
      ['a'],
    );
  });

  test('with Kueue installed, work in a namespace with a LocalQueue is handed to it; other namespaces use the built-in queue', () => {
    const p = plan({ nodes: [node('gpu-a', 1)], kueue: { queues: { ml: 'team-ml' } }, requests: [req('a', 4), req('b', 1, { namespace: 'x' })] });
    assert.deepEqual(p.kueue, [{ key: 'a', queueName: 'team-ml', labels: { 'kueue.x-k8s.io/queue-name': 'team-ml' } }]);
    assert.deepEqual(
      p.placements.map((x) => [x.key, x.node]),
      [['b', 'gpu-a']],
    );
    assert.deepEqual(p.queued, []);
  });

  test('queued work starts when capacity frees up', () => {
    const r = [req('a', 2)];
    assert.equal(plan({ nodes: [node('gpu-a', 2, 1)], requests: r }).placements.length, 0);
    assert.equal(plan({ nodes: [node('gpu-a', 2, 0)], requests: r }).placements[0].node, 'gpu-a');
  });
});

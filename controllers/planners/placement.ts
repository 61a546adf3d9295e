/**
 * GPU placement: pure best-fit bin-packing of GPU requests (training tasks, predictors) onto Nodes,
 * with per-namespace quotas, a priority queue and a Kueue hand-off. The inventory is gathered from
 * Nodes (allocatable `nvidia.com/gpu` and `nvidia.com/mig-*`, labels `nvidia.com/gpu.product` and
 * `nvidia.com/gpu.memory`, taints) and the GPUs already requested by running pods.
 *
 * Rules, in order:
 *  - Requests are taken by priority (high first), then age, then key. Admitted requests stay where
 *    they are (placement is sticky).
 *  - A request over its namespace's quota is queued (reason says so) without blocking others.
 *  - A request that fits nowhere is queued; the requests behind it (lower priority) are queued too
 *    ("waiting behind ..."): no backfill, so a large request is not starved by small ones.
 *  - Best fit: the node left with the fewest free units of the requested resource; ties by name.
 *  - With Kueue installed, requests in namespaces that have a LocalQueue are handed to Kueue
 *    (label kueue.x-k8s.io/queue-name) instead.
 */

export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface Toleration {
  readonly key?: string;
  readonly operator?: 'Exists' | 'Equal';
  readonly value?: string;
  readonly effect?: string;
}

export interface GpuNode {
  readonly name: string;
  /** Allocatable extended resources: 'nvidia.com/gpu', 'nvidia.com/mig-1g.10gb', ... */
  readonly allocatable: Readonly<Record<string, number>>;
  /** Units of those resources requested by pods already bound to the node. */
  readonly requested: Readonly<Record<string, number>>;
  /** Label nvidia.com/gpu.product, e.g. 'NVIDIA-A100-SXM4-40GB'. */
  readonly product?: string;
  /** Label nvidia.com/gpu.memory, MiB per device. */
  readonly memoryMiB?: number;
  readonly taints: readonly Taint[];
  readonly unschedulable?: boolean;
}

export interface GpuRequest {
  /** Unique key of the requesting object: 'TrainingRun/ml/fraud-7'. */
  readonly key: string;
  readonly namespace: string;
  /** GPUs (or MIG slices) requested. */
  readonly count: number;
  /** Wanted product; matched case-insensitively as a substring of the node label, so 'nvidia-a100' matches 'NVIDIA-A100-SXM4-40GB'. */
  readonly product?: string;
  readonly minMemoryMiB?: number;
  /** MIG profile, e.g. '1g.10gb' → resource 'nvidia.com/mig-1g.10gb'. */
  readonly mig?: string;
  /** Higher first. @default 0 */
  readonly priority?: number;
  /** RFC 3339; older first among equal priorities. */
  readonly createdAt: string;
  readonly tolerations?: readonly Toleration[];
  /** Set when the request was admitted earlier (from status): it stays on this node. */
  readonly admittedNode?: string;
  /** True when its pods are running, so their GPUs are already in the node's `requested`. */
  readonly running?: boolean;
}

export interface PlacementObserved {
  readonly nodes: readonly GpuNode[];
  readonly requests: readonly GpuRequest[];
  /** Per-namespace GPU quota (units of any GPU resource); absent means unlimited. */
  readonly quotas: Readonly<Record<string, number>>;
  /** GPUs used in each namespace by workloads that are NOT in `requests` (other pods). */
  readonly namespaceUsage?: Readonly<Record<string, number>>;
  /** When Kueue's CRDs are installed: the LocalQueue name per namespace ('*' for any); namespaces without one use the built-in queue. */
  readonly kueue?: { readonly queues: Readonly<Record<string, string>> };
}

export interface Placement {
  readonly key: string;
  readonly node: string;
  readonly resource: string;
  readonly count: number;
  readonly affinity: NodeAffinity;
  readonly tolerations: Toleration[];
}

export interface NodeAffinity {
  readonly nodeAffinity: {
    readonly requiredDuringSchedulingIgnoredDuringExecution: {
      readonly nodeSelectorTerms: Array<{ readonly matchExpressions: Array<{ readonly key: string; readonly operator: 'In'; readonly values: string[] }> }>;
    };
  };
}

export interface QueuedRequest {
  readonly key: string;
  /** 1-based position in the queue. */
  readonly position: number;
  readonly reason: string;
}

export interface KueueHandoff {
  readonly key: string;
  readonly queueName: string;
  readonly labels: Record<string, string>;
}

export interface PlacementPlan {
  readonly placements: Placement[];
  readonly queued: QueuedRequest[];
  readonly kueue: KueueHandoff[];
}

export const GPU_RESOURCE = 'nvidia.com/gpu';
export const KUEUE_QUEUE_LABEL = 'kueue.x-k8s.io/queue-name';

export function resourceOf(r: Pick<GpuRequest, 'mig'>): string {
  return r.mig ? `nvidia.com/mig-${r.mig}` : GPU_RESOURCE;
}

export function describeRequest(r: GpuRequest): string {
  const what = r.mig ? `nvidia.com/mig-${r.mig}` : (r.product ?? 'GPU');
  return `${r.count} × ${what}${r.minMemoryMiB ? ` (≥ ${r.minMemoryMiB} MiB)` : ''} requested`;
}

function tolerates(tols: readonly Toleration[], t: Taint): boolean {
  return tols.some((x) => {
    if (x.effect && x.effect !== t.effect) return false;
    if (x.operator === 'Exists') return x.key === undefined || x.key === t.key;
    return x.key === t.key && (x.value ?? '') === (t.value ?? '');
  });
}

/** The toleration emitted for the usual GPU taint (`nvidia.com/gpu`), so GPU work lands on GPU nodes. */
function gpuTolerations(node: GpuNode, req: GpuRequest): Toleration[] {
  const out: Toleration[] = [...(req.tolerations ?? [])];
  for (const t of node.taints) {
    if (t.effect === 'PreferNoSchedule') continue;
    if (t.key.startsWith('nvidia.com/') && !tolerates(out, t)) out.push({ key: t.key, operator: 'Exists', effect: t.effect });
  }
  return out;
}

/** Why `node` cannot take `req` ignoring free capacity; undefined when it can. */
export function nodeMismatch(node: GpuNode, req: GpuRequest): string | undefined {
  const res = resourceOf(req);
  if (node.unschedulable) return `node ${node.name} is cordoned`;
  if (!(node.allocatable[res] > 0)) return `node ${node.name} has no ${res}`;
  if (req.product && !(node.product ?? '').toLowerCase().includes(req.product.toLowerCase()))
    return `node ${node.name} has ${node.product ?? 'unlabelled GPUs'}, not ${req.product}`;
  if (req.minMemoryMiB && !((node.memoryMiB ?? 0) >= req.minMemoryMiB))
    return `node ${node.name} has ${node.memoryMiB ?? 'unknown'} MiB per GPU, under ${req.minMemoryMiB} MiB`;
  const tols = gpuTolerations(node, req);
  const blocking = node.taints.find((t) => t.effect !== 'PreferNoSchedule' && !tolerates(tols, t));
  if (blocking)
    return `node ${node.name} has taint ${blocking.key}${blocking.value ? `=${blocking.value}` : ''}:${blocking.effect} that the request does not tolerate`;
  return undefined;
}

function affinityFor(node: string): NodeAffinity {
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }],
      },
    },
  };
}

export function queueOrder(a: GpuRequest, b: GpuRequest): number {
  return (b.priority ?? 0) - (a.priority ?? 0) || a.createdAt.localeCompare(b.createdAt) || a.key.localeCompare(b.key);
}

export function planPlacement(o: PlacementObserved): PlacementPlan {
  const placements: Placement[] = [];
  const queued: QueuedRequest[] = [];
  const kueue: KueueHandoff[] = [];
  const sorted = [...o.requests].sort(queueOrder);

  // Kueue hand-off: namespaces with a LocalQueue are Kueue's to schedule; the rest stay with us.
  let requests = sorted;
  if (o.kueue) {
    const ours: GpuRequest[] = [];
    for (const r of sorted) {
      const queueName = o.kueue.queues[r.namespace] ?? o.kueue.queues['*'];
      if (queueName) kueue.push({ key: r.key, queueName, labels: { [KUEUE_QUEUE_LABEL]: queueName } });
      else ours.push(r);
    }
    requests = ours;
  }

  // Free capacity per node and resource; usage per namespace.
  const free = new Map<string, Record<string, number>>();
  for (const n of o.nodes) {
    const f: Record<string, number> = {};
    for (const [res, alloc] of Object.entries(n.allocatable)) f[res] = alloc - (n.requested[res] ?? 0);
    free.set(n.name, f);
  }
  const used: Record<string, number> = { ...(o.namespaceUsage ?? {}) };
  const admit = (r: GpuRequest, node: GpuNode) => {
    const res = resourceOf(r);
    const f = free.get(node.name)!;
    if (!r.running) f[res] = (f[res] ?? 0) - r.count;
    used[r.namespace] = (used[r.namespace] ?? 0) + r.count;
    placements.push({ key: r.key, node: node.name, resource: res, count: r.count, affinity: affinityFor(node.name), tolerations: gpuTolerations(node, r) });
  };

  // Sticky: already-admitted requests keep their node, before anything new is placed.
  const fresh: GpuRequest[] = [];
  for (const r of requests) {
    const node = r.admittedNode ? o.nodes.find((n) => n.name === r.admittedNode) : undefined;
    if (node) admit(r, node);
    else fresh.push(r);
  }

  let blockedBy: GpuRequest | undefined;
  for (const r of fresh) {
    const quota = o.quotas[r.namespace];
    if (quota !== undefined && (used[r.namespace] ?? 0) + r.count > quota) {
      queued.push({
        key: r.key,
        position: queued.length + 1,
        reason: `${describeRequest(r)}; namespace ${r.namespace} has used ${used[r.namespace] ?? 0} of its GPU quota of ${quota}`,
      });
      continue;
    }
    if (blockedBy) {
      queued.push({
        key: r.key,
        position: queued.length + 1,
        reason: `${describeRequest(r)}; waiting behind ${blockedBy.key} (priority ${blockedBy.priority ?? 0})`,
      });
      continue;
    }
    const res = resourceOf(r);
    let best: { node: GpuNode; left: number } | undefined;
    let largest: { node: string; free: number } | undefined;
    const mismatches: string[] = [];
    for (const n of [...o.nodes].sort((a, b) => a.name.localeCompare(b.name))) {
      const why = nodeMismatch(n, r);
      if (why) {
        mismatches.push(why);
        continue;
      }
      const f = free.get(n.name)![res] ?? 0;
      if (!largest || f > largest.free) largest = { node: n.name, free: f };
      if (f >= r.count && (!best || f - r.count < best.left)) best = { node: n, left: f - r.count };
    }
    if (best) {
      admit(r, best.node);
      continue;
    }
    const reason = largest
      ? `${describeRequest(r)}; the largest free block is ${Math.max(0, largest.free)} on node ${largest.node}`
      : `${describeRequest(r)}; no node can take it (${mismatches.length ? mismatches.join('; ') : 'no GPU nodes'})`;
    queued.push({ key: r.key, position: queued.length + 1, reason });
    blockedBy = r;
  }
  return { placements, queued, kueue };
}

/**
 * Gathers the GPU inventory and the pending GPU requests from the informer caches (Nodes, Pods,
 * TrainingRuns, Models, ResourceQuotas, Kueue LocalQueues) and asks planPlacement for one request's
 * decision. The whole plan is recomputed from the caches each time, so every worker sees the same
 * queue order; admissions are serialized in-process.
 */
import { planPlacement, type GpuNode, type GpuRequest, type PlacementObserved, type Taint } from '../planners/placement.ts';
import type { GpuDecision } from '../planners/training-run.ts';
import { getCondition } from '../planners/conditions.ts';
import type { K8sObject } from '../../api/objects.ts';
import type { TrainingRunStatus } from '../../api/crds/index.ts';

export const PRIORITY_ANNOTATION = 'ghosteam.io/priority';
export const ADMITTED_CONDITION = 'GpuAdmitted';

/** The node a run's GPUs are reserved on: status.gpu, or (status written before it existed) the GpuAdmitted condition. */
export function admittedNode(st: TrainingRunStatus | undefined): string | undefined {
  if (st?.gpu) return st.gpu.admittedNode;
  const c = getCondition(st?.conditions, ADMITTED_CONDITION);
  return c?.status === 'True' ? c.message : undefined;
}

export interface GpuSpecLike {
  readonly count: number;
  readonly product?: string;
  readonly minMemoryMiB?: number;
  readonly mig?: string;
}

export interface GpuSources {
  readonly nodes: () => K8sObject[];
  readonly pods: () => K8sObject[];
  readonly trainingRuns: () => K8sObject[];
  readonly models: () => K8sObject[];
  /** The GPU request of a TrainingRun (from its pipeline), if any. */
  readonly runGpu: (run: K8sObject) => GpuSpecLike | undefined;
  readonly resourceQuotas?: () => K8sObject[];
  /** LocalQueues when Kueue's CRDs are installed; undefined otherwise. */
  readonly localQueues?: () => K8sObject[] | undefined;
}

const num = (v: unknown): number => {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return 0;
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
};

function podGpus(pod: K8sObject): Record<string, number> {
  const out: Record<string, number> = {};
  const spec = pod.spec as { containers?: Array<{ resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }> } | undefined;
  for (const c of spec?.containers ?? []) {
    const r = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
    for (const [k, v] of Object.entries(r)) if (k.startsWith('nvidia.com/')) out[k] = (out[k] ?? 0) + num(v);
  }
  return out;
}

const activePod = (p: K8sObject) => {
  const phase = (p.status as { phase?: string } | undefined)?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed';
};

export function inventory(nodes: K8sObject[], pods: K8sObject[]): GpuNode[] {
  const used = new Map<string, Record<string, number>>();
  for (const p of pods) {
    const n = (p.spec as { nodeName?: string } | undefined)?.nodeName;
    if (!n || !activePod(p)) continue;
    const u = used.get(n) ?? {};
    for (const [k, v] of Object.entries(podGpus(p))) u[k] = (u[k] ?? 0) + v;
    used.set(n, u);
  }
  return nodes
    .map((n) => {
      const alloc = (n.status as { allocatable?: Record<string, string> } | undefined)?.allocatable ?? {};
      const allocatable: Record<string, number> = {};
      for (const [k, v] of Object.entries(alloc)) if (k.startsWith('nvidia.com/')) allocatable[k] = num(v);
      const labels = n.metadata.labels ?? {};
      const spec = (n.spec ?? {}) as { taints?: Taint[]; unschedulable?: boolean };
      return {
        name: n.metadata.name,
        allocatable,
        requested: used.get(n.metadata.name) ?? {},
        ...(labels['nvidia.com/gpu.product'] ? { product: labels['nvidia.com/gpu.product'] } : {}),
        ...(labels['nvidia.com/gpu.memory'] ? { memoryMiB: num(labels['nvidia.com/gpu.memory']) } : {}),
        taints: spec.taints ?? [],
        ...(spec.unschedulable ? { unschedulable: true } : {}),
      };
    })
    .filter((n) => Object.keys(n.allocatable).length > 0);
}

export const requestKey = (o: K8sObject) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;

export class GpuScheduler {
  private chain: Promise<unknown> = Promise.resolve();
  constructor(private readonly s: GpuSources) {}

  /** The observed state for planPlacement (exported for tests and `ghosteam operator --explain`). */
  observe(): PlacementObserved {
    const pods = this.s.pods();
    const requests: GpuRequest[] = [];
    const ours = new Set<string>();
    const add = (o: K8sObject, gpu: GpuSpecLike, podMatch: (p: K8sObject) => boolean) => {
      const node = o.kind === 'TrainingRun' ? admittedNode(o.status as TrainingRunStatus | undefined) : undefined;
      const mine = pods.filter((p) => activePod(p) && podMatch(p));
      for (const p of mine) ours.add(`${p.metadata.namespace}/${p.metadata.name}`);
      requests.push({
        key: requestKey(o),
        namespace: o.metadata.namespace!,
        count: gpu.count,
        ...(gpu.product ? { product: gpu.product } : {}),
        ...(gpu.minMemoryMiB ? { minMemoryMiB: gpu.minMemoryMiB } : {}),
        ...(gpu.mig ? { mig: gpu.mig } : {}),
        priority: num(o.metadata.annotations?.[PRIORITY_ANNOTATION]),
        createdAt: o.metadata.creationTimestamp ?? '',
        ...(node !== undefined ? { admittedNode: node } : {}),
        running: mine.some((p) => (p.spec as { nodeName?: string }).nodeName),
      });
    };
    for (const r of this.s.trainingRuns()) {
      const phase = (r.status as { phase?: string } | undefined)?.phase;
      if (phase === 'Succeeded' || phase === 'Failed' || r.metadata.deletionTimestamp) continue;
      const gpu = this.s.runGpu(r);
      if (gpu) add(r, gpu, (p) => p.metadata.labels?.['workflows.argoproj.io/workflow'] === r.metadata.name && p.metadata.namespace === r.metadata.namespace);
    }
    for (const m of this.s.models()) {
      const gpu = (m.spec as { resources?: { gpu?: GpuSpecLike } } | undefined)?.resources?.gpu;
      const isvc = (m.spec as { inferenceService?: string }).inferenceService;
      if (gpu && !m.metadata.deletionTimestamp)
        add(m, gpu, (p) => p.metadata.labels?.['serving.kserve.io/inferenceservice'] === isvc && p.metadata.namespace === m.metadata.namespace);
    }
    const quotas: Record<string, number> = {};
    for (const q of this.s.resourceQuotas?.() ?? []) {
      const hard = (q.spec as { hard?: Record<string, string> } | undefined)?.hard ?? {};
      const v = hard['requests.nvidia.com/gpu'] ?? hard['nvidia.com/gpu'];
      if (v !== undefined) quotas[q.metadata.namespace!] = Math.min(quotas[q.metadata.namespace!] ?? Infinity, num(v));
    }
    const namespaceUsage: Record<string, number> = {};
    for (const p of pods) {
      if (!activePod(p) || ours.has(`${p.metadata.namespace}/${p.metadata.name}`)) continue;
      const g = Object.values(podGpus(p)).reduce((a, b) => a + b, 0);
      if (g) namespaceUsage[p.metadata.namespace!] = (namespaceUsage[p.metadata.namespace!] ?? 0) + g;
    }
    const lqs = this.s.localQueues?.();
    const kueue = lqs
      ? {
          queues: Object.fromEntries(
            [...lqs].sort((a, b) => b.metadata.name.localeCompare(a.metadata.name)).map((q) => [q.metadata.namespace!, q.metadata.name]),
          ),
        }
      : undefined;
    return { nodes: inventory(this.s.nodes(), pods), requests, quotas, namespaceUsage, ...(kueue ? { kueue } : {}) };
  }

  /** The decision for one object (serialized so two workers never admit into the same free block). */
  decide(o: K8sObject): Promise<GpuDecision> {
    const run = this.chain.then((): GpuDecision => {
      const plan = planPlacement(this.observe());
      const key = requestKey(o);
      const k = plan.kueue.find((x) => x.key === key);
      if (k) return { kind: 'kueue', labels: k.labels };
      const p = plan.placements.find((x) => x.key === key);
      if (p) return { kind: 'placed', node: p.node, affinity: p.affinity, tolerations: p.tolerations };
      const q = plan.queued.find((x) => x.key === key);
      if (q) return { kind: 'queued', position: q.position, reason: q.reason };
      return { kind: 'none' };
    });
    this.chain = run.catch(() => undefined);
    return run;
  }
}

/** The GPU request of an Argo WorkflowTemplate: the largest per-pod GPU request of its templates. */
export function gpuOfWorkflowTemplate(wt: K8sObject | undefined): GpuSpecLike | undefined {
  const templates =
    (
      wt?.spec as
        | {
            templates?: Array<{
              container?: { resources?: { limits?: Record<string, string>; requests?: Record<string, string> } };
              nodeSelector?: Record<string, string>;
            }>;
          }
        | undefined
    )?.templates ?? [];
  let best: GpuSpecLike | undefined;
  for (const t of templates) {
    const r = { ...(t.container?.resources?.limits ?? {}), ...(t.container?.resources?.requests ?? {}) };
    for (const [k, v] of Object.entries(r)) {
      if (!k.startsWith('nvidia.com/')) continue;
      const count = num(v);
      if (!best || count > best.count) {
        const product = t.nodeSelector?.['nvidia.com/gpu.product'];
        best = { count, ...(k.startsWith('nvidia.com/mig-') ? { mig: k.slice('nvidia.com/mig-'.length) } : {}), ...(product ? { product } : {}) };
      }
    }
  }
  return best;
}

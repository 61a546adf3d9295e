/**
 * Assembles the operator: the Model, TrainingRun, DriftMonitor and git-change controllers on a
 * Manager, over any ObjectStore (the API server or the local state store) with the backends of
 * that mode. `startOperator` is the Kubernetes entry; controllers/local.ts is local mode.
 */
import type { HealthSecurity } from './runtime/health.ts';
import type { ModelRegistry } from '../components/registry/types.ts';
import { Manager, type Controller } from './runtime/manager.ts';
import { registerStatusMetrics } from './runtime/status-metrics.ts';
import { objectKey, TYPES, type ObjectStore } from './runtime/store.ts';
import { KubeStore, loadKubeConfig } from './runtime/kube-store.ts';
import { eventRecorder, type EventRecorder } from './runtime/events.ts';
import { auditingRecorder } from './runtime/audit.ts';
import type { AuditLog } from '../components/security/audit.ts';
import { createLogger, type Logger } from './runtime/log.ts';
import type { LeaderOptions } from './runtime/leader.ts';
import type { MetricsSource, PipelineBackend, ServingBackend } from './backends/types.ts';
import { KServeBackend } from './backends/kserve.ts';
import { ArgoBackend } from './backends/argo.ts';
import { PrometheusMetrics } from './backends/metrics.ts';
import { reconcileModel, type ModelObject } from './reconcilers/model.ts';
import { reconcileTrainingRun, type TrainingRunObject } from './reconcilers/training-run.ts';
import { reconcileDriftMonitor, type DriftChecker } from './reconcilers/drift-monitor.ts';
import { reconcileGitChange } from './reconcilers/git-change.ts';
import { gitPinWriter, reconcileWriteBack, type GitWriteBackOptions } from './reconcilers/writeback.ts';
import { planWriteBack } from './planners/writeback.ts';
import { payloadDriftChecker } from './backends/drift-check.ts';
import { GpuScheduler, gpuOfWorkflowTemplate, type GpuSpecLike } from './reconcilers/gpu.ts';
import type { K8sObject } from '../api/objects.ts';

/** Where the operator's decisions are audited, and as whom. */
export interface OperatorAudit {
  readonly log: AuditLog;
  /** The operator instance (`ghosteam-operator@<pod>`): the audit lines' `who`. */
  readonly who: string;
}

export interface OperatorDeps {
  readonly store: ObjectStore;
  /** Audit every promote, rollback, traffic change, pause/resume, retrain and write-back. @default - none (Events only) */
  readonly audit?: OperatorAudit;
  readonly serving: ServingBackend;
  readonly pipelines: PipelineBackend;
  readonly registry?: ModelRegistry;
  readonly metrics?: MetricsSource;
  readonly driftCheck?: DriftChecker;
  readonly log?: Logger;
  readonly now?: () => number;
  readonly workers?: number;
  readonly healthPort?: number;
  readonly healthHost?: string;
  /** Auth (the `metrics` permission on /metrics) and TLS for the health/metrics server. */
  readonly healthSecurity?: HealthSecurity;
  readonly leaderElection?: LeaderOptions;
  readonly namespace?: string;
  readonly resyncMs?: number;
  /** Schedule GPU work with the built-in placement planner (needs Node/Pod watch rights). @default true on kube */
  readonly gpuScheduling?: boolean;
  /** GPU request of a TrainingRun when not derivable from a WorkflowTemplate (local mode). */
  readonly runGpu?: (run: K8sObject) => GpuSpecLike | undefined;
  /** Commit promoted versions to a lock file in Git (controllers/reconcilers/writeback.ts). @default - off */
  readonly gitWriteBack?: GitWriteBackOptions;
}

export interface RunningOperator {
  readonly manager: Manager;
  stop(): Promise<void>;
}

const noDriftChecker: DriftChecker = async () => {
  throw new Error('no payload-log reader is configured for drift checks in this operator');
};

export function buildControllers(
  d: OperatorDeps,
  manager: Manager,
  events: EventRecorder = eventRecorder(d.store, 'ghosteam-operator', d.log ?? createLogger(), d.now ?? Date.now),
): Controller[] {
  const log = d.log ?? createLogger();
  const now = d.now ?? Date.now;
  const ctx = { store: d.store, events, log, now };
  const cache = (t: (typeof TYPES)[keyof typeof TYPES]) => () => manager.informer(t)?.list() ?? [];
  let gpu: GpuScheduler | undefined;
  if (d.gpuScheduling) {
    gpu = new GpuScheduler({
      nodes: cache(TYPES.Node),
      pods: cache(TYPES.Pod),
      trainingRuns: cache(TYPES.TrainingRun),
      models: cache(TYPES.Model),
      resourceQuotas: cache(TYPES.ResourceQuota),
      localQueues: () => (manager.informer(TYPES.LocalQueue)?.hasSynced ? manager.informer(TYPES.LocalQueue)!.list() : undefined),
      runGpu:
        d.runGpu ??
        ((run) => gpuOfWorkflowTemplate(manager.informer(TYPES.WorkflowTemplate)?.get(run.metadata.namespace, (run.spec as { pipeline: string }).pipeline))),
    });
  }
  // resourceVersions of our own Model writes that the informer has not delivered yet: until it does,
  // the cached copy is older than what we wrote. Once the watch delivers that version, the cache is
  // current again (events arrive in order) and reconciles read it instead of GETting the Model.
  const written = new Map<string, string>();
  const requeueGpuWork = () => {
    manager.enqueueAll('trainingrun');
    manager.enqueueAll('model');
  };
  const models: Controller = {
    name: 'model',
    type: TYPES.Model,
    watches: [{ type: TYPES.InferenceService }],
    observe: (type, o) => {
      const k = objectKey(o);
      if (type === 'DELETED' || (written.size && written.get(k) === o.metadata.resourceVersion)) written.delete(k);
    },
    reconcile: (req) =>
      reconcileModel(
        {
          ...ctx,
          serving: d.serving,
          registry: d.registry,
          metrics: d.metrics,
          cached: (ns, name) => manager.informer(TYPES.Model)?.get(ns, name),
          written,
          ...(gpu ? { gpu: (m: ModelObject) => gpu.decide(m) } : {}),
        },
        req,
      ),
  };
  const runs: Controller = {
    name: 'trainingrun',
    type: TYPES.TrainingRun,
    watches: d.store.kind === 'kube' ? [{ type: TYPES.Workflow }] : [],
    reconcile: (req) =>
      reconcileTrainingRun(
        {
          ...ctx,
          pipelines: d.pipelines,
          registry: d.registry,
          onRegistered: () => manager.enqueueAll('model'),
          ...(gpu ? { gpu: (r: TrainingRunObject) => gpu.decide(r) } : {}),
        },
        req,
      ),
  };
  const monitors: Controller = {
    name: 'driftmonitor',
    type: TYPES.DriftMonitor,
    reconcile: (req) =>
      reconcileDriftMonitor({ ...ctx, check: d.driftCheck ?? noDriftChecker, specHash: d.pipelines.specHash?.bind(d.pipelines), metrics: d.metrics }, req),
  };
  const out = [models, runs, monitors];
  if (d.gitWriteBack) {
    const writer = gitPinWriter(d.gitWriteBack, (line) => log.debug(line));
    const backoff = d.gitWriteBack.backoff;
    out.push({
      name: 'writeback',
      type: TYPES.Model,
      // A promotion is a status-only change, which the manager's predicate drops: enqueue it here.
      observe: (type, o) => {
        if (type !== 'DELETED' && planWriteBack((o as ModelObject).status, now(), backoff).kind !== 'none') manager.queue('writeback')?.add(objectKey(o));
      },
      reconcile: (req) => reconcileWriteBack({ ...ctx, writer, registry: d.registry, ...(backoff ? { backoff } : {}) }, req),
    });
  }
  if (d.store.kind === 'kube') {
    out.push({ name: 'gitchange', type: TYPES.WorkflowTemplate, reconcile: (req) => reconcileGitChange(ctx, req) });
  }
  if (gpu) {
    // Capacity changes (a pod finishing, a node joining) re-run queued GPU work.
    out.push({
      name: 'gpu-capacity',
      type: TYPES.Node,
      watches: [
        {
          type: TYPES.Pod,
          map: (p) =>
            (p.status as { phase?: string } | undefined)?.phase === 'Succeeded' || (p.status as { phase?: string } | undefined)?.phase === 'Failed'
              ? ['capacity']
              : [],
        },
      ],
      reconcile: async () => {
        requeueGpuWork();
        return {};
      },
    });
  }
  return out;
}

export async function startControllers(d: OperatorDeps): Promise<RunningOperator> {
  const log = d.log ?? createLogger();
  const manager = new Manager({
    store: d.store,
    log,
    workers: d.workers,
    healthPort: d.healthPort,
    healthHost: d.healthHost,
    healthSecurity: d.healthSecurity,
    leaderElection: d.leaderElection,
    namespace: d.namespace,
    resyncMs: d.resyncMs,
    extraTypes: d.gpuScheduling ? [TYPES.Pod, TYPES.ResourceQuota, TYPES.LocalQueue, TYPES.WorkflowTemplate] : [],
  });
  const recorder = eventRecorder(d.store, 'ghosteam-operator', log, d.now ?? Date.now);
  const events = d.audit ? auditingRecorder(recorder, d.audit.log, d.audit.who, log) : recorder;
  for (const c of buildControllers(d, manager, events)) manager.add(c);
  registerStatusMetrics(manager.metrics.registry, {
    models: () => manager.informer(TYPES.Model)?.list() ?? [],
    monitors: () => manager.informer(TYPES.DriftMonitor)?.list() ?? [],
  });
  await manager.start();
  return {
    manager,
    stop: async () => {
      await manager.stop();
      await events.flush();
    },
  };
}

export interface KubeOperatorOptions {
  readonly kubeconfig?: string;
  readonly registry?: ModelRegistry;
  readonly prometheusUrl?: string;
  readonly metrics?: MetricsSource;
  readonly driftCheck?: DriftChecker;
  /** A payload log (JSON Lines) the DriftMonitors read when no driftCheck is given. */
  readonly payloadLog?: string;
  readonly workers?: number;
  readonly healthPort?: number;
  readonly healthHost?: string;
  /** Auth (the `metrics` permission on /metrics) and TLS for the health/metrics server. */
  readonly healthSecurity?: HealthSecurity;
  /** Lease namespace/name; undefined disables leader election. */
  readonly leaderElection?: { namespace: string; name?: string; identity?: string; leaseDurationMs?: number; renewMs?: number };
  readonly namespace?: string;
  readonly log?: Logger;
  readonly gpuScheduling?: boolean;
  readonly now?: () => number;
  /** Commit promoted versions to a lock file in Git. @default - off */
  readonly gitWriteBack?: GitWriteBackOptions;
  /** Audit the operator's decisions. @default - none */
  readonly audit?: OperatorAudit;
}

/** Runs the operator against the Kubernetes API server (KUBECONFIG or in-cluster). */
export async function startOperator(o: KubeOperatorOptions = {}): Promise<RunningOperator & { store: KubeStore }> {
  const store = new KubeStore(loadKubeConfig(o.kubeconfig));
  let manager: Manager | undefined;
  const serving = new KServeBackend(store, (ns, name) => {
    const inf = manager?.informer(TYPES.InferenceService);
    return inf?.hasSynced ? inf.get(ns, name) : null;
  });
  const running = await startControllers({
    store,
    serving,
    pipelines: new ArgoBackend(store),
    registry: o.registry,
    metrics: o.metrics ?? (o.prometheusUrl ? new PrometheusMetrics(o.prometheusUrl) : undefined),
    driftCheck: o.driftCheck ?? (o.payloadLog ? payloadDriftChecker({ payloadLog: () => o.payloadLog! }) : undefined),
    log: o.log,
    workers: o.workers,
    healthPort: o.healthPort,
    healthHost: o.healthHost,
    healthSecurity: o.healthSecurity,
    namespace: o.namespace,
    gpuScheduling: o.gpuScheduling ?? true,
    now: o.now,
    ...(o.gitWriteBack ? { gitWriteBack: o.gitWriteBack } : {}),
    ...(o.audit ? { audit: o.audit } : {}),
    ...(o.leaderElection
      ? {
          leaderElection: {
            namespace: o.leaderElection.namespace,
            name: o.leaderElection.name ?? 'ghosteam-operator',
            identity: o.leaderElection.identity ?? `${process.env.HOSTNAME ?? 'local'}-${process.pid}`,
            leaseDurationMs: o.leaderElection.leaseDurationMs,
            renewMs: o.leaderElection.renewMs,
          },
        }
      : {}),
  });
  manager = running.manager;
  return { ...running, store };
}

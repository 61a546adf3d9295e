/**
 * Local mode (the embedded default): the same controllers and planners over a file-backed state
 * store (`.ghosteam/state`), driving the local pipeline engine, the local registry and the local
 * model server's traffic split.
 *
 * ```ts
 * const op = await startLocalOperator({ stateDir: '.ghosteam/state', registry, modelServer: admin, engine: { run: runPipeline, pipelines } });
 * await op.apply(modelObject);                       // like kubectl apply
 * await op.waitFor('Model', 'default', 'fraud', (m) => m.status?.phase === 'Ready');
 * await op.stop();
 * ```
 */
import type { HealthSecurity } from './runtime/health.ts';
import type { ModelRegistry } from '../components/registry/types.ts';
import { validateGhosteamObject } from '../api/crds/validate.ts';
import { LocalStore } from './runtime/local-store.ts';
import { isNotFound, TYPES, type ResourceType } from './runtime/store.ts';
import { createLogger, type Logger } from './runtime/log.ts';
import { startControllers, type OperatorAudit, type RunningOperator } from './operator.ts';
import { ModelServerBackend } from './backends/model-server.ts';
import { ModelServerMetrics, type ModelServerAdmin } from './backends/metrics.ts';
import { LocalPipelineBackend, type LocalPipeline, type RunPipeline } from './backends/local-pipelines.ts';
import type { DriftChecker } from './reconcilers/drift-monitor.ts';
import { payloadDriftChecker, payloadPredictionDrift } from './backends/drift-check.ts';
import type { MetricsSource } from './backends/types.ts';
import type { GitWriteBackOptions } from './reconcilers/writeback.ts';
import type { K8sObject } from '../api/objects.ts';
import { annotate } from './actions.ts';
import { LocalAlertEvaluator, type LocalAlertsOptions } from './alerts-local.ts';

export interface LocalOperatorOptions {
  /** Where objects are kept. undefined: in memory only. @default - in memory */
  readonly stateDir?: string;
  readonly registry: ModelRegistry;
  /** The local model server's admin client (ModelServerAdminClient). */
  readonly modelServer: ModelServerAdmin;
  /** Base URL of the model server, for status.url. */
  readonly modelServerUrl?: string;
  /** The local pipeline engine and the pipelines it may run (by name). */
  readonly engine?: {
    readonly run: RunPipeline;
    readonly pipelines: ReadonlyMap<string, LocalPipeline> | (() => ReadonlyMap<string, LocalPipeline>);
    readonly storeDir?: string;
    readonly cwd?: string;
  };
  /** Reads the payload log and runs the drift library for a DriftMonitor. @default - over `payloadLog` when given */
  readonly driftCheck?: DriftChecker;
  /** The model server's payload log (JSON Lines): DriftMonitor checks and canary prediction drift read it. */
  readonly payloadLog?: string;
  /** Overrides the canary metrics (default: the model server's per-version stats). */
  readonly metrics?: MetricsSource;
  readonly clock?: () => number;
  readonly log?: Logger;
  /** @default 2 */
  readonly workers?: number;
  /** Serve /healthz, /readyz and /metrics on this port (0: any free port). @default - none */
  readonly healthPort?: number;
  /** @default '127.0.0.1' */
  readonly healthHost?: string;
  /** Auth (the `metrics` permission on /metrics) and TLS for the health/metrics server. */
  readonly healthSecurity?: HealthSecurity;
  /** Every object is reconciled again this often (picks up new registry versions). @default 10000 */
  readonly resyncMs?: number;
  /** Commit promoted versions to a lock file in Git, as the cluster operator does with --git-repo. @default - off */
  readonly gitWriteBack?: GitWriteBackOptions;
  /** Audit the operator's decisions (promote, rollback, traffic, pause/resume, retrain, write-back). @default - none */
  readonly audit?: OperatorAudit;
  /**
   * Evaluate the Models' alert rules (the PrometheusRule objects synth emits for `Alerts.of`) over the
   * model server's series, as Prometheus would, and send what fires or resolves to the log (warn), a
   * webhook (Alertmanager's payload) and `onChange` (controllers/alerts-local.ts). @default - none
   */
  readonly alerts?: Omit<LocalAlertsOptions, 'modelServer' | 'samples' | 'log' | 'now'>;
}

const KIND_TYPES: Record<string, ResourceType> = { Model: TYPES.Model, DriftMonitor: TYPES.DriftMonitor, TrainingRun: TYPES.TrainingRun };

export interface LocalOperator {
  readonly store: LocalStore;
  readonly operator: RunningOperator;
  /** The alert evaluator, when `alerts` was given. */
  readonly alerts?: LocalAlertEvaluator;
  /** Creates or updates (spec, labels, annotations) a ghosteam object; validates it against its CRD schema first. */
  apply(obj: K8sObject): Promise<K8sObject>;
  /** Sets (null: removes) annotations on an existing object, leaving its spec as it is (`kubectl annotate`). */
  annotate(kind: 'Model' | 'DriftMonitor' | 'TrainingRun', namespace: string, name: string, set: Readonly<Record<string, string | null>>): Promise<K8sObject>;
  get(kind: 'Model' | 'DriftMonitor' | 'TrainingRun', namespace: string, name: string): Promise<K8sObject | undefined>;
  list(kind: 'Model' | 'DriftMonitor' | 'TrainingRun', namespace?: string): Promise<K8sObject[]>;
  delete(kind: 'Model' | 'DriftMonitor' | 'TrainingRun', namespace: string, name: string): Promise<void>;
  /** Polls until `pred` holds for the object (or throws after timeoutMs with the last status). */
  waitFor(
    kind: 'Model' | 'DriftMonitor' | 'TrainingRun',
    namespace: string,
    name: string,
    pred: (o: K8sObject) => boolean,
    timeoutMs?: number,
  ): Promise<K8sObject>;
  stop(): Promise<void>;
}

export async function startLocalOperator(o: LocalOperatorOptions): Promise<LocalOperator> {
  const log = o.log ?? createLogger({ level: 'warn' });
  // Bad rules are refused before anything starts.
  const alerts = o.alerts
    ? new LocalAlertEvaluator({
        ...o.alerts,
        modelServer: o.modelServer,
        log,
        ...(o.stateDir ? { stateDir: o.stateDir } : {}),
        ...(o.clock ? { now: o.clock } : {}),
      })
    : undefined;
  const store = await LocalStore.open({ stateDir: o.stateDir, now: o.clock });
  const pipelinesMap = () => (typeof o.engine?.pipelines === 'function' ? o.engine.pipelines() : (o.engine?.pipelines ?? new Map()));
  let operator: RunningOperator | undefined;
  const pipelines = new LocalPipelineBackend({
    pipelines: pipelinesMap,
    run:
      o.engine?.run ??
      (async () => {
        throw new Error('no local pipeline engine configured');
      }),
    storeDir: o.engine?.storeDir,
    cwd: o.engine?.cwd,
    log,
    onFinished: (ns, name) => operator?.manager.queue('trainingrun')?.add(`${ns}/${name}`),
  });
  try {
    operator = await startControllers({
      store,
      serving: new ModelServerBackend(o.modelServer, o.modelServerUrl),
      pipelines,
      registry: o.registry,
      metrics:
        o.metrics ??
        new ModelServerMetrics(
          o.modelServer,
          o.payloadLog
            ? payloadPredictionDrift({
                payloadLog: () => o.payloadLog!,
                onSkipped: (n, first) => log.warn(`prediction drift: skipped ${n} unreadable line(s) of the payload log (first: ${first})`),
              })
            : undefined,
        ),
      driftCheck: o.driftCheck ?? (o.payloadLog ? payloadDriftChecker({ payloadLog: () => o.payloadLog! }) : undefined),
      log,
      now: o.clock,
      workers: o.workers ?? 2,
      gpuScheduling: false,
      healthPort: o.healthPort,
      healthHost: o.healthHost,
      healthSecurity: o.healthSecurity,
      resyncMs: o.resyncMs ?? 10_000,
      ...(o.gitWriteBack ? { gitWriteBack: o.gitWriteBack } : {}),
      ...(o.audit ? { audit: o.audit } : {}),
    });
  } catch (e) {
    store.close();
    throw e;
  }
  const typeOf = (kind: string) => {
    const t = KIND_TYPES[kind];
    if (!t) throw new Error(`kind ${kind} is not a ghosteam resource; use Model, DriftMonitor or TrainingRun`);
    return t;
  };
  alerts?.start();
  const api: LocalOperator = {
    store,
    operator,
    ...(alerts ? { alerts } : {}),
    async apply(obj) {
      const t = typeOf(obj.kind);
      const errors = validateGhosteamObject(obj);
      if (errors.length)
        throw new Error(
          `${obj.kind} ${obj.metadata?.namespace ?? 'default'}/${obj.metadata?.name}: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
        );
      const ns = obj.metadata.namespace ?? 'default';
      const cur = await store.get(t, ns, obj.metadata.name);
      const next = { ...obj, metadata: { ...obj.metadata, namespace: ns } };
      if (!cur) return store.create(t, next);
      return store.replace(t, {
        ...cur,
        ...next,
        metadata: { ...cur.metadata, labels: next.metadata.labels ?? cur.metadata.labels, annotations: next.metadata.annotations ?? cur.metadata.annotations },
        status: cur.status,
      });
    },
    annotate: (kind, ns, name, set) => annotate(store, typeOf(kind), ns, name, set),
    get: (kind, ns, name) => store.get(typeOf(kind), ns, name),
    list: async (kind, ns) => (await store.list(typeOf(kind), ns)).items,
    delete: (kind, ns, name) =>
      store.delete(typeOf(kind), ns, name).catch((e) => {
        if (!isNotFound(e)) throw e;
      }),
    async waitFor(kind, ns, name, pred, timeoutMs = 30_000) {
      const end = Date.now() + timeoutMs;
      let last: K8sObject | undefined;
      while (Date.now() < end) {
        last = await store.get(typeOf(kind), ns, name);
        if (last && pred(last)) return last;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${kind} ${ns}/${name}; last status: ${JSON.stringify(last?.status ?? null)}`);
    },
    async stop() {
      await alerts?.stop();
      await operator.stop();
      await pipelines.drain();
      store.close();
    },
  };
  return api;
}

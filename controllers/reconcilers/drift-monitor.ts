/**
 * The DriftMonitor reconciler: on its schedule, reads the payload-log window of its model, compares
 * it with the reference with the drift library, writes per-feature results and the verdict, and
 * creates exactly one TrainingRun when drift holds and the cooldown has passed.
 */
import { DRIFT_TESTS, type DriftMonitorSpec, type DriftMonitorStatus } from '../../api/crds/index.ts';
import {
  driftCheckDue,
  planDriftMonitor,
  validateDriftPolicy,
  type DriftCheckResult,
  type DriftMonitorState,
  type DriftPolicy,
  type QualityCheckResult,
} from '../planners/drift.ts';
import type { MetricsSource } from '../backends/types.ts';
import type { ModelObject } from './model.ts';
import { setConditions } from '../planners/conditions.ts';
import { isAlreadyExists, TYPES } from '../runtime/store.ts';
import { ownerRef } from '../backends/kserve.ts';
import { coords, writeStatus, type ReconcileContext } from './common.ts';
import { clean } from '../../api/json.ts';
import { appendDriftHistory } from '../planners/drift-history.ts';
import { DRIFT_MONITOR_LABEL, type K8sObject, MODEL_LABEL, REASON_LABEL } from '../../api/objects.ts';
import { ConditionType, Reason } from '../../api/conditions.ts';
import type { ReconcileResult, Request } from '../runtime/reconcile.ts';

export type DriftMonitorObject = K8sObject & { spec: DriftMonitorSpec; status?: DriftMonitorStatus };

/** Runs one drift check over the window ending at `now` (payload log vs reference, drift library). */
export type DriftChecker = (monitor: DriftMonitorObject, window: { startMs: number; endMs: number }) => Promise<DriftCheckResult>;

export interface DriftMonitorDeps extends ReconcileContext {
  readonly check: DriftChecker;
  /** The pipeline's current spec hash (WorkflowTemplate annotation), recorded on the TrainingRun. */
  readonly specHash?: (namespace: string, pipeline: string) => Promise<string | undefined>;
  /** Where spec.quality reads the Model's quality from delayed labels (the model server's stats, or Prometheus). */
  readonly metrics?: MetricsSource;
}

export function driftPolicyOf(spec: DriftMonitorSpec): DriftPolicy {
  // An object stored before a test was dropped from the CRD (mmd) still carries it: say so, never swap it.
  const runnable = (t: string | undefined, field: string) => {
    if (t !== undefined && !(DRIFT_TESTS as readonly string[]).includes(t))
      throw new Error(`${field} '${t}' cannot be run per feature by a DriftMonitor; use one of ${DRIFT_TESTS.join(', ')}`);
  };
  runnable(spec.test, 'spec.test');
  spec.features.forEach((f, i) => runnable(f.test, `spec.features[${i}].test`));
  const p: DriftPolicy = {
    cron: spec.schedule,
    cooldownMs: (spec.action.retrain?.cooldownSeconds ?? 0) * 1000,
    consecutive: 1,
    minRows: spec.window.minSamples,
    ...(spec.quality
      ? {
          quality: {
            metric: spec.quality.metric,
            threshold: spec.quality.threshold,
            forMs: spec.quality.forSeconds * 1000,
            minSamples: spec.quality.minSamples,
            ...(spec.quality.source ? { source: spec.quality.source } : {}),
          },
        }
      : {}),
  };
  const err = validateDriftPolicy(p);
  if (err) throw new Error(err);
  return p;
}

function stateOf(st: DriftMonitorStatus | undefined): DriftMonitorState {
  if (!st) return { consecutiveDrifted: 0 };
  const lastResult: DriftCheckResult | undefined = st.features
    ? {
        features: st.features.map((f) =>
          clean({ feature: f.name, method: f.test, statistic: f.statistic, threshold: f.threshold, drifted: f.drifted, pValue: f.pValue }),
        ),
        share: st.driftShare ?? 0,
        drifted: !!st.datasetDrift,
        rows: st.samples ?? 0,
        ...(st.skippedLines ? { skippedLines: st.skippedLines } : {}),
        windowStart: '',
        windowEnd: st.lastCheckTime ?? '',
      }
    : undefined;
  // The last check's message (Ready's, unless that check failed): a reconcile between checks keeps it.
  const ready = st.conditions?.find((c) => c.type === 'Ready');
  return clean({
    message: ready && ready.reason !== 'CheckFailed' && ready.message ? ready.message : undefined,
    lastCheckAt: st.lastCheckTime,
    nextCheckAt: st.nextCheckTime,
    consecutiveDrifted: 0,
    lastTriggeredAt: st.lastTriggeredAt,
    lastTrainingRun: st.lastTriggeredRun,
    lastResult,
    quality: st.quality
      ? clean({
          version: st.quality.version,
          value: st.quality.value,
          samples: st.quality.samples,
          breached: st.quality.breached,
          breachedSince: st.quality.breachedSince,
          incidentRun: st.quality.incidentRun,
        })
      : undefined,
  });
}

/**
 * The stable version's quality of the monitored Model: measured on labels, or (source estimate) CBPE's
 * estimate over its unlabelled predictions. undefined: no Model, nothing stable yet, no labels or no estimate.
 */
async function checkQuality(d: DriftMonitorDeps, m: DriftMonitorObject, now: number): Promise<QualityCheckResult | undefined> {
  const q = m.spec.quality;
  const estimated = q?.source === 'estimate';
  if (!q || !(estimated ? d.metrics?.versionQualityEstimate : d.metrics?.versionQuality)) return undefined;
  const model = (await d.store.get(TYPES.Model, m.metadata.namespace, m.spec.model)) as ModelObject | undefined;
  const version = model?.status?.stableVersion;
  if (!model || version === undefined) return undefined;
  if (estimated) {
    const e = await d.metrics!.versionQualityEstimate!(model, version, now);
    return e ? clean({ version, samples: e.samples, value: e.metrics[q.metric as keyof typeof e.metrics] }) : undefined;
  }
  const observed = await d.metrics!.versionQuality!(model, version, now);
  return observed ? clean({ version, samples: observed.samples, value: observed.metrics[q.metric] }) : undefined;
}

const SPEC_HASH_FALLBACK = `sha256:${'0'.repeat(64)}`;

export async function reconcileDriftMonitor(d: DriftMonitorDeps, req: Request): Promise<ReconcileResult> {
  const t = TYPES.DriftMonitor;
  let obj = (await d.store.get(t, req.namespace, req.name)) as DriftMonitorObject | undefined;
  if (!obj || obj.metadata.deletionTimestamp) return {};
  const log = d.log.with(coords(obj));
  const now = d.now();
  const gen = obj.metadata.generation ?? 1;
  let policy: DriftPolicy;
  try {
    policy = driftPolicyOf(obj.spec);
  } catch (e) {
    const conditions = setConditions(
      obj.status?.conditions,
      [{ type: ConditionType.Ready, status: 'False', reason: Reason.InvalidSpec, message: (e as Error).message }],
      now,
      gen,
    );
    await writeStatus(d.store, t, obj, { ...(obj.status ?? {}), observedGeneration: gen, conditions });
    return {};
  }
  const state = stateOf(obj.status);
  let result: DriftCheckResult | undefined;
  let quality: QualityCheckResult | undefined;
  let checkError: string | undefined;
  if (driftCheckDue(state, now)) {
    const [drift, q] = await Promise.allSettled([d.check(obj, { startMs: now - obj.spec.window.seconds * 1000, endMs: now }), checkQuality(d, obj, now)]);
    if (drift.status === 'fulfilled') result = drift.value;
    else checkError = (drift.reason as Error).message;
    if (q.status === 'fulfilled') quality = q.value;
    else checkError = [checkError, `quality: ${(q.reason as Error).message}`].filter(Boolean).join('; ');
  }
  const retrain = obj.spec.action.retrain;
  const plan = planDriftMonitor(
    {
      namespace: obj.metadata.namespace!,
      name: obj.metadata.name,
      model: obj.spec.model,
      pipeline: retrain?.pipeline ?? '',
      policy: retrain ? policy : { ...policy, cooldownMs: Number.POSITIVE_INFINITY },
      state,
      ...(result ? { result } : {}),
      ...(quality ? { quality } : {}),
    },
    now,
  );
  const s = plan.status;
  const r = s.lastResult;
  const message = checkError ? `drift check failed: ${checkError}` : (s.message ?? '');
  const conditions = setConditions(
    obj.status?.conditions,
    [
      { type: 'Ready', status: checkError ? 'False' : 'True', reason: checkError ? 'CheckFailed' : r ? 'Checked' : 'Scheduled', message },
      r?.drifted
        ? { type: 'Degraded', status: 'True', reason: 'DriftDetected', message }
        : s.quality?.breached
          ? { type: 'Degraded', status: 'True', reason: 'QualityBreached', message }
          : { type: 'Degraded', status: 'False', reason: 'NoDrift', message: '' },
    ],
    now,
    gen,
  );
  const status: DriftMonitorStatus = clean({
    observedGeneration: gen,
    lastCheckTime: s.lastCheckAt,
    nextCheckTime: s.nextCheckAt,
    samples: r?.rows,
    skippedLines: r?.skippedLines,
    features: r?.features.map((f) =>
      clean({ name: f.feature, test: f.method, statistic: f.statistic, pValue: f.pValue, threshold: f.threshold, drifted: f.drifted, histogram: f.histogram }),
    ),
    datasetDrift: r?.drifted,
    driftShare: r?.share,
    // A check ran now (drift, quality or both): one more point in the history people look at.
    history:
      result || quality
        ? appendDriftHistory(
            obj.status?.history,
            clean({
              time: s.lastCheckAt ?? new Date(now).toISOString(),
              samples: result?.rows ?? 0,
              driftShare: result?.share,
              datasetDrift: result?.drifted,
              quality: quality?.value,
              qualityBreached: quality ? s.quality?.breached : undefined,
            }),
          )
        : obj.status?.history,
    lastTriggeredRun: s.lastTrainingRun,
    lastTriggeredAt: s.lastTriggeredAt,
    quality:
      s.quality && obj.spec.quality
        ? clean({ metric: obj.spec.quality.metric, source: obj.spec.quality.source, threshold: obj.spec.quality.threshold, ...s.quality })
        : undefined,
    conditions,
  });
  // The status write is the commit point: only the writer that wins it creates the run.
  obj = (await writeStatus(d.store, t, obj, status)).obj as DriftMonitorObject;
  for (const a of plan.actions) {
    if (a.type === 'event') await d.events.record(obj, a.eventType, a.reason, a.message);
    else if (a.type === 'createTrainingRun' && retrain) {
      const specHash = (await d.specHash?.(a.run.namespace, a.run.pipeline)) ?? SPEC_HASH_FALLBACK;
      try {
        await d.store.create(TYPES.TrainingRun, {
          apiVersion: 'ghosteam.io/v1alpha1',
          kind: 'TrainingRun',
          metadata: {
            name: a.run.name,
            namespace: a.run.namespace,
            labels: { [MODEL_LABEL]: a.run.model, [REASON_LABEL]: a.run.reason, [DRIFT_MONITOR_LABEL]: obj.metadata.name },
            ownerReferences: [{ ...ownerRef(obj), blockOwnerDeletion: false }],
          },
          spec: {
            pipeline: a.run.pipeline,
            reason: a.run.reason,
            model: a.run.model,
            specHash,
            driftMonitor: obj.metadata.name,
            ...(retrain.params ? { params: retrain.params } : {}),
          },
        });
        log.info(`TrainingRun ${a.run.namespace}/${a.run.name} has been created (${a.run.reason})`);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    }
  }
  return { requeueAfterMs: checkError ? Math.min(plan.requeueAfterMs, 60_000) : plan.requeueAfterMs };
}

/**
 * The Model reconciler: keeps the serving layer (KServe InferenceService, or the local model server)
 * in step with the Model's spec and the registry, and runs canary rollouts through planCanary.
 * Level-triggered: re-read, gather observed state once, plan, write status (the commit point),
 * then apply the actions idempotently.
 */
import type { ModelRegistry } from '../../components/registry/types.ts';
import { ConditionType, Reason } from '../../api/conditions.ts';
import { ROLLOUT_DEFAULTS, type ModelSpec, type ModelStatus, type AnalysisResult, type RolloutState, type VersionQualityStatus } from '../../api/crds/index.ts';
import {
  desiredServing,
  planCanary,
  sameServing,
  validateCanaryPolicy,
  type CanaryMetrics,
  type CanaryPolicy,
  type ManualAction,
  type RolloutStatus,
  type StepAnalysis,
} from '../planners/canary.ts';
import { getCondition, rfc3339, setConditions, type ConditionInput } from '../planners/conditions.ts';
import { decideTarget, followedAlias } from '../planners/model-target.ts';
import { storedRollout } from '../planners/rollout-state.ts';
import type { GpuDecision } from '../planners/training-run.ts';
import { TYPES } from '../runtime/store.ts';
import type { MetricsSource, ServingBackend, VersionQualityObserved } from '../backends/types.ts';
import { QUALITY_MIN_SAMPLES } from '../../api/quality.ts';
import { coords, ensureFinalizer, logApplied, removeFinalizer, writeStatus, type ReconcileContext } from './common.ts';
import { clean } from '../../api/json.ts';
import type { K8sObject } from '../../api/objects.ts';
import type { ReconcileResult, Request } from '../runtime/reconcile.ts';

export const ROLLOUT_ANNOTATION = 'ghosteam.io/rollout';
const ACTIONS: readonly ManualAction[] = ['pause', 'resume', 'promote', 'abort'];

export type ModelObject = K8sObject & { spec: ModelSpec; status?: ModelStatus };

export interface ModelDeps extends ReconcileContext {
  readonly serving: ServingBackend;
  readonly registry?: ModelRegistry;
  readonly metrics?: MetricsSource;
  /** GPU decision for a predictor with spec.resources.gpu. */
  readonly gpu?: (model: ModelObject) => Promise<GpuDecision> | GpuDecision;
  /** Cached read of the Model (informer); undefined falls back to the store. */
  readonly cached?: (namespace: string, name: string) => K8sObject | undefined;
  /** resourceVersions this operator last wrote, by key: a cached copy older than that is not trusted. */
  readonly written?: Map<string, string>;
}

/** The canary policy of a Model's spec; undefined for a direct rollout. Throws with a message naming the field. */
export function policyOf(spec: ModelSpec): CanaryPolicy | undefined {
  const r = spec.rollout;
  if (!r || r.strategy === 'direct') return undefined;
  const steps = r.steps.filter((s) => s < 100);
  if (steps.length === 0) return undefined;
  const policy: CanaryPolicy = {
    steps,
    stepDurationMs: r.intervalSeconds * 1000,
    maxErrorRate: r.thresholds?.maxErrorRate ?? ROLLOUT_DEFAULTS.maxErrorRate,
    maxP99LatencyMs: r.thresholds?.maxP99LatencyMs ?? ROLLOUT_DEFAULTS.maxP99LatencyMs,
    maxPredictionDrift: r.thresholds?.maxPredictionDrift ?? ROLLOUT_DEFAULTS.maxPredictionDrift,
    minRequests: r.minRequests ?? ROLLOUT_DEFAULTS.minRequests,
    ...(r.thresholds?.quality
      ? {
          quality: clean({
            metric: r.thresholds.quality.metric,
            threshold: r.thresholds.quality.threshold,
            maxDegradation: r.thresholds.quality.maxDegradation,
            minSamples: r.thresholds.quality.minSamples ?? QUALITY_MIN_SAMPLES,
          }),
        }
      : {}),
  };
  const err = validateCanaryPolicy(policy, 'spec.rollout');
  if (err) throw new Error(err);
  return policy;
}

export function manualAction(o: K8sObject): ManualAction | undefined {
  const v = o.metadata.annotations?.[ROLLOUT_ANNOTATION];
  return v && (ACTIONS as readonly string[]).includes(v) ? (v as ManualAction) : undefined;
}

/** Reads the rollout state back from a Model's status (what a restarted operator plans from). */
export function rolloutFromStatus(st: ModelStatus | undefined): RolloutStatus {
  if (!st) return { phase: 'Idle', analyses: [] };
  const stored = storedRollout(st);
  const inRollout = st.canaryVersion !== undefined;
  return clean<RolloutStatus>({
    phase: stored.phase,
    stableVersion: st.stableVersion,
    canaryVersion: st.canaryVersion,
    stepIndex: inRollout ? (st.stepIndex ?? 0) : undefined,
    stepStartedAt: inRollout ? st.stepStartedAt : undefined,
    analyses: (st.analysis ?? []).map((a): StepAnalysis => ({
      step: a.step + 1,
      version: a.version,
      percent: a.trafficPercent,
      verdict: a.passed ? 'Passed' : 'Failed',
      requests: a.requests ?? 0,
      errorRate: a.errorRate ?? null,
      p99LatencyMs: a.p99LatencyMs ?? null,
      predictionDrift: a.predictionDrift ?? null,
      ...(a.quality !== undefined ? { quality: clean({ canary: a.quality, stable: a.stableQuality, samples: a.qualitySamples ?? 0 }) } : {}),
      at: a.checkedAt,
      message: a.message ?? '',
    })),
    rejectedVersion: st.lastFailedVersion,
    promotedFrom: stored.phase === 'Promoted' ? st.promotedFrom : undefined,
    reason: stored.reason,
    message: stored.message,
    handledAction: stored.handledAction,
  });
}

function analysisOut(a: StepAnalysis, fallbackVersion: number): AnalysisResult {
  return clean<AnalysisResult>({
    step: a.step - 1,
    version: a.version ?? fallbackVersion,
    trafficPercent: a.percent,
    checkedAt: a.at,
    passed: a.verdict === 'Passed',
    requests: a.requests,
    errorRate: a.errorRate ?? undefined,
    p99LatencyMs: a.p99LatencyMs ?? undefined,
    predictionDrift: a.predictionDrift ?? undefined,
    quality: a.quality?.canary,
    stableQuality: a.quality?.stable,
    qualitySamples: a.quality?.samples,
    message: a.message,
  });
}

/** How often a Model whose versions have labels is looked at again to refresh status.quality. */
export const QUALITY_REFRESH_MS = 60_000;

/** A version's quality as Model status shows it. Pure. */
export function qualityStatus(version: number, q: VersionQualityObserved): VersionQualityStatus {
  return clean({ version, task: q.task, samples: q.samples, windowSeconds: q.windowSeconds, ...q.metrics });
}

/** The Model status for a rollout state plus what the serving layer reports. Pure. */
export function modelStatus(
  prev: ModelStatus | undefined,
  r: RolloutStatus,
  policy: CanaryPolicy | undefined,
  ready: { ok: boolean; reason: string; message: string },
  generation: number,
  now: number,
  url?: string,
): ModelStatus {
  const want = desiredServing(r, policy);
  const inRollout = r.phase === 'Progressing' || r.phase === 'Paused';
  const conds: ConditionInput[] = [
    { type: ConditionType.Ready, status: ready.ok ? 'True' : 'False', reason: ready.reason, message: ready.message },
    inRollout
      ? {
          type: ConditionType.Progressing,
          status: 'True',
          reason: r.phase === 'Paused' ? Reason.Paused : Reason.CanaryProgressing,
          message: r.message ?? `canary ${r.canaryVersion} at ${want?.canaryPercent ?? 0}%`,
        }
      : {
          type: ConditionType.Progressing,
          status: 'False',
          reason: r.phase === 'Promoted' ? Reason.Promoted : Reason.Idle,
          message: r.stableVersion !== undefined ? `version ${r.stableVersion} serves all traffic` : 'nothing to serve yet',
        },
    r.phase === 'RolledBack'
      ? {
          type: ConditionType.Degraded,
          status: 'True',
          reason: r.reason ?? Reason.RolledBack,
          message: r.message ?? `version ${r.rejectedVersion} was rolled back`,
        }
      : { type: ConditionType.Degraded, status: 'False', reason: Reason.AsExpected, message: '' },
  ];
  // Once reported, RolloutAction stays (False when no action is pending), as conditions do.
  if (r.handledAction || getCondition(prev?.conditions, ConditionType.RolloutAction)) {
    conds.push(
      r.handledAction
        ? {
            type: ConditionType.RolloutAction,
            status: 'True',
            reason: r.handledAction === 'abort' ? Reason.Aborted : Reason.Promoted,
            message: r.handledAction,
          }
        : { type: ConditionType.RolloutAction, status: 'False', reason: Reason.None, message: '' },
    );
  }
  const before = prev ? storedRollout(prev) : undefined;
  const rollout: RolloutState = clean<RolloutState>({
    phase: r.phase,
    reason: r.reason,
    message: r.message,
    handledAction: r.handledAction,
    promotedAt: r.phase === 'Promoted' ? (before?.phase === 'Promoted' && before.promotedAt ? before.promotedAt : rfc3339(now)) : undefined,
  });
  const conditions = setConditions(prev?.conditions, conds, now, generation);
  const phase: ModelStatus['phase'] =
    ready.reason === Reason.InvalidSpec ? 'Failed' : inRollout ? 'Progressing' : r.phase === 'RolledBack' ? 'RolledBack' : ready.ok ? 'Ready' : 'Pending';
  const fallback = r.canaryVersion ?? r.rejectedVersion ?? r.stableVersion ?? 1;
  return clean<ModelStatus>({
    phase,
    rollout,
    observedGeneration: generation,
    stableVersion: r.stableVersion,
    canaryVersion: inRollout ? r.canaryVersion : undefined,
    stepIndex: inRollout ? r.stepIndex : undefined,
    stepStartedAt: inRollout ? r.stepStartedAt : undefined,
    trafficPercent: want?.canaryPercent ?? 0,
    analysis: r.analyses.length ? r.analyses.map((a) => analysisOut(a, fallback)) : undefined,
    lastFailedVersion: r.rejectedVersion,
    promotedFrom: r.phase === 'Promoted' ? r.promotedFrom : undefined,
    url: url ?? prev?.url,
    writeBack: prev?.writeBack,
    conditions,
  });
}

export async function reconcileModel(d: ModelDeps, req: Request): Promise<ReconcileResult> {
  const t = TYPES.Model;
  const key = `${req.namespace}/${req.name}`;
  const hit = d.cached?.(req.namespace!, req.name);
  const trusted = hit && d.written && (!d.written.has(key) || d.written.get(key) === hit.metadata.resourceVersion);
  let obj = (trusted ? hit : await d.store.get(t, req.namespace, req.name)) as ModelObject | undefined;
  if (!obj) return {};
  const log = d.log.with(coords(obj));
  if (obj.metadata.deletionTimestamp) {
    if (d.serving.needsFinalizer) await d.serving.remove(obj);
    await removeFinalizer(d.store, t, obj);
    log.info(`Model ${req.namespace}/${req.name} cleaned up`);
    return {};
  }
  if (d.serving.needsFinalizer) obj = (await ensureFinalizer(d.store, t, obj)) as ModelObject;
  const now = d.now();
  const gen = obj.metadata.generation ?? 1;
  const spec = obj.spec;

  let policy: CanaryPolicy | undefined;
  try {
    policy = policyOf(spec);
  } catch (e) {
    const st = modelStatus(
      obj.status,
      rolloutFromStatus(obj.status),
      undefined,
      { ok: false, reason: Reason.InvalidSpec, message: (e as Error).message },
      gen,
      now,
    );
    await writeStatus(d.store, t, obj, st);
    return {};
  }

  // Gather the observed state once.
  const name = spec.modelRef.name;
  // The alias the spec follows for new versions (none for a fixed version); decideTarget picks the
  // target from it, the pin and the rollout so far (planners/model-target.ts).
  const follow = followedAlias(spec.modelRef);
  const pinned = spec.modelRef.version !== undefined;
  let aliasVersion: number | undefined;
  let targetProblem: string | undefined;
  if (follow !== undefined && !d.registry) {
    if (!pinned)
      targetProblem = `spec.modelRef has no version and no model registry is configured; pin spec.modelRef.version or start the operator with a registry`;
  } else if (follow !== undefined) {
    try {
      aliasVersion = (await d.registry!.resolve(name, follow)).version;
    } catch (e) {
      // Pinned: the pin still says what to serve, so an unresolvable alias is no error.
      if (pinned) log.debug(`alias ${name}@${follow} not resolved (${(e as Error).message}); keeping pinned version ${spec.modelRef.version}`);
      else targetProblem = (e as Error).message;
    }
  }
  const decision = decideTarget(spec.modelRef, aliasVersion, obj.status);
  const target = decision.target;
  const manageAlias = !!d.registry && decision.manageAlias;
  let champion: number | undefined;
  if (manageAlias)
    champion = await d.registry.resolve(name, 'champion').then(
      (v) => v.version,
      () => undefined,
    );
  const served = await d.serving.observe(obj);
  const rollout = rolloutFromStatus(obj.status);
  // Quality from delayed labels of the versions serving (status.quality, and canary analysis).
  const qualityOf = async (v: number | undefined) =>
    v !== undefined && d.metrics?.versionQuality ? await d.metrics.versionQuality(obj, v, now).catch(() => undefined) : undefined;
  const inRolloutNow = rollout.phase === 'Progressing' || rollout.phase === 'Paused';
  const [stableQuality, canaryQuality] = await Promise.all([qualityOf(rollout.stableVersion), inRolloutNow ? qualityOf(rollout.canaryVersion) : undefined]);
  let metrics: CanaryMetrics | undefined;
  if (
    d.metrics &&
    rollout.phase === 'Progressing' &&
    rollout.stepStartedAt &&
    policy &&
    rollout.canaryVersion !== undefined &&
    rollout.stableVersion !== undefined
  ) {
    const since = Date.parse(rollout.stepStartedAt);
    if (now >= since + policy.stepDurationMs) {
      const [canary, stable, drift] = await Promise.all([
        d.metrics.versionMetrics(obj, rollout.canaryVersion, since, now),
        d.metrics.versionMetrics(obj, rollout.stableVersion, since, now),
        d.metrics.predictionDrift ? d.metrics.predictionDrift(obj, rollout.stableVersion, rollout.canaryVersion, since, now) : Promise.resolve(null),
      ]);
      const q = policy.quality;
      const pick = (o: VersionQualityObserved | undefined) => (o ? clean({ samples: o.samples, value: o.metrics[q!.metric] }) : undefined);
      metrics = clean({ canary, stable, predictionDrift: drift, quality: q ? clean({ canary: pick(canaryQuality), stable: pick(stableQuality) }) : undefined });
    }
  }
  let gpu: GpuDecision = { kind: 'none' };
  if (spec.resources.gpu && d.gpu) gpu = await d.gpu(obj);

  // Plan.
  const plan = planCanary(
    {
      model: `${req.namespace}/${req.name}`,
      targetVersion: target,
      policy,
      rollout,
      serving: served.serving,
      champion,
      manageAlias,
      action: manualAction(obj),
      metrics,
    },
    now,
  );

  const want = desiredServing(plan.status, policy);
  const inPlace = served.ready && sameServing(served.serving, want);
  const readiness = (exists: boolean) =>
    gpu.kind === 'queued'
      ? { ok: false, reason: 'Queued', message: gpu.reason }
      : target === undefined && plan.status.stableVersion === undefined
        ? { ok: false, reason: 'NoVersion', message: targetProblem ?? 'no version to serve' }
        : inPlace
          ? {
              ok: true,
              reason: 'Serving',
              message:
                want?.canaryVersion !== undefined && want.canaryPercent > 0
                  ? `version ${want.stableVersion} stable, version ${want.canaryVersion} canary at ${want.canaryPercent}%`
                  : `version ${want?.stableVersion} serving`,
            }
          : {
              ok: false,
              reason: exists ? 'Deploying' : 'Creating',
              message: `waiting for ${d.serving.names.waitingFor} ${req.namespace}/${spec.inferenceService} to serve ${want?.canaryVersion !== undefined && want.canaryPercent > 0 ? `versions ${want.stableVersion} and ${want.canaryVersion}` : `version ${want?.stableVersion}`}${served.message ? ` (${served.message})` : ''}`,
            };
  // Quality of the versions serving after this plan (a rolled-back canary's is not shown).
  const inRolloutAfter = plan.status.phase === 'Progressing' || plan.status.phase === 'Paused';
  const quality = clean({
    stable: stableQuality && plan.status.stableVersion === rollout.stableVersion ? qualityStatus(rollout.stableVersion!, stableQuality) : undefined,
    canary:
      canaryQuality && inRolloutAfter && plan.status.canaryVersion === rollout.canaryVersion ? qualityStatus(rollout.canaryVersion!, canaryQuality) : undefined,
  });
  const withQuality = (st: ModelStatus): ModelStatus => (quality.stable || quality.canary ? { ...st, quality } : st);
  let status = withQuality(modelStatus(obj.status, plan.status, policy, readiness(served.exists), gen, now, served.url));

  // Commit the decision, then act on it.
  const observed = obj;
  let latest: ModelObject = obj;
  let created = false;
  const commit = async () => {
    if (created && !served.exists) status = withQuality(modelStatus(observed.status, plan.status, policy, readiness(true), gen, now, served.url));
    const prevReady = getCondition(observed.status?.conditions, ConditionType.Ready);
    const w = await writeStatus(d.store, t, observed, status);
    const stored = (latest = w.obj as ModelObject);
    if (w.result === 'updated' && stored.metadata.resourceVersion) d.written?.set(key, stored.metadata.resourceVersion);
    const newReady = getCondition(status.conditions, ConditionType.Ready)!;
    if (prevReady && prevReady.status !== newReady.status)
      await d.events.record(
        stored,
        newReady.status === 'True' ? 'Normal' : 'Warning',
        newReady.status === 'True' ? 'Ready' : newReady.reason,
        newReady.message,
      );
  };

  let requeueAfterMs = plan.requeueAfterMs;
  // Spec fields other than the version (resources, autoscaling, runtime, logging) also reach the
  // serving layer: when the plan has no serve action, re-assert the committed split (diff-then-write).
  const actions = [...plan.actions];
  if (want && !actions.some((a) => a.type === 'serve')) {
    actions.push({
      type: 'serve',
      stableVersion: want.stableVersion!,
      ...(want.canaryPercent > 0 ? { canaryVersion: want.canaryVersion } : {}),
      canaryPercent: want.canaryPercent,
    });
  }
  const act = async () => {
    for (const a of actions) {
      if (a.type === 'event') await d.events.record(latest, a.eventType, a.reason, a.message);
      else if (a.type === 'setAlias') {
        await d.registry!.setAlias(name, a.alias, a.version);
        log.info(`alias ${name}@${a.alias} has been moved to version ${a.version}`);
      } else if (a.type === 'serve') {
        if (gpu.kind === 'queued') continue;
        const source = async (v: number) => (d.registry ? (await d.registry.getVersion(name, v)).source : `${name}/${v}`);
        const result = await d.serving.serve({
          model: latest,
          stable: { version: a.stableVersion, source: await source(a.stableVersion) },
          ...(a.canaryVersion !== undefined ? { canary: { version: a.canaryVersion, source: await source(a.canaryVersion) } } : {}),
          canaryPercent: a.canaryPercent,
          ...(gpu.kind === 'placed' ? { placement: { affinity: gpu.affinity, tolerations: gpu.tolerations } } : {}),
        });
        logApplied(log, `${d.serving.names.applied} ${req.namespace}/${spec.inferenceService}`, result, latest);
        // Look again soon to see the change land, unless the serving layer sends an event for it.
        if (result === 'created') created = true;
        if (result !== 'unchanged' && !d.serving.notifies) requeueAfterMs = Math.min(requeueAfterMs ?? 500, 500);
      }
    }
  };
  // A plan that moves the rollout (serve a new split, move an alias) is committed to status first,
  // so a restart resumes at the same step. A plan that moves nothing only re-asserts the committed
  // split (e.g. a spec change that keeps the version): nothing to resume, so the status write and
  // the serving update go out together instead of one after the other.
  // The first deploy of a Model is the exception: with no stable version there is no step to
  // resume or skip (a restart plans the same deploy again, and serve is idempotent), so it creates
  // the serving object first and the one status write already says Deploying, not Creating.
  if (
    observed.status?.stableVersion === undefined &&
    plan.status.phase === 'Idle' &&
    plan.status.stableVersion !== undefined &&
    !plan.actions.some((a) => a.type === 'setAlias')
  ) {
    await act();
    await commit();
  } else if (plan.actions.some((a) => a.type === 'serve' || a.type === 'setAlias')) {
    await commit();
    await act();
  } else {
    await Promise.all([commit(), act()]);
  }
  if (targetProblem && requeueAfterMs === undefined) requeueAfterMs = 30_000;
  if (gpu.kind === 'queued') requeueAfterMs = Math.min(requeueAfterMs ?? 30_000, 30_000);
  // Labels keep arriving with nothing else changing: look again to keep status.quality current.
  if (stableQuality || canaryQuality) requeueAfterMs = Math.min(requeueAfterMs ?? QUALITY_REFRESH_MS, QUALITY_REFRESH_MS);
  return requeueAfterMs !== undefined ? { requeueAfterMs } : {};
}

export { rfc3339 };

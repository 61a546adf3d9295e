/**
 * The canary planner: given what the Model reconciler observed (the rollout state kept in status,
 * what is being served, the target version, metrics of the current step), decide the next rollout
 * state and the actions that bring the serving layer to it. Pure: the clock is a parameter.
 *
 * Crash safety. The rollout state lives in the Model's status, and the reconciler writes that status
 * BEFORE it applies the actions (status is the commit point). The traffic to serve is a function of
 * the status alone (`desiredServing`), so an operator restarted at any point either finds the
 * traffic already applied or re-applies the same split: it neither repeats nor skips a step. A step's
 * clock (`stepStartedAt`) starts only once the step's traffic is observed in place, and promotion
 * (100% to the canary) happens only after the last step's analysis passed, or on a manual promote.
 */
import type { HandledAction, RolloutPhase } from '../../api/crds/types.ts';
import { clean } from '../../api/json.ts';
import { crossing, worseBy, worseThan, type QualityMetric } from '../../api/quality.ts';
import { rfc3339 } from './conditions.ts';

export interface CanaryPolicy {
  /** Canary traffic percentages, strictly ascending, each in 1..99 (e.g. [10, 50]). */
  readonly steps: readonly number[];
  /** How long each step runs before it is analysed. */
  readonly stepDurationMs: number;
  /** Highest acceptable canary error rate (errors / requests), in [0, 1]. */
  readonly maxErrorRate: number;
  /** Highest acceptable canary p99 latency. */
  readonly maxP99LatencyMs: number;
  /** Highest acceptable prediction drift between canary and stable outputs (e.g. PSI). */
  readonly maxPredictionDrift: number;
  /** Fewest canary requests in a step for the analysis to be conclusive. */
  readonly minRequests: number;
  /** Quality from delayed labels: judged once the canary has minSamples labelled predictions; not judged before. */
  readonly quality?: QualityPolicy;
}

export interface QualityPolicy {
  readonly metric: QualityMetric;
  /** The worst acceptable canary value (a floor, or a ceiling for error-like metrics). */
  readonly threshold?: number;
  /** How much worse than the stable version the canary may be. */
  readonly maxDegradation?: number;
  readonly minSamples: number;
}

/** One version's value of the policy's quality metric, from its labelled predictions in the quality window. */
export interface QualityObservation {
  /** Labelled predictions in the window. */
  readonly samples: number;
  /** undefined when the metric is undefined on the window (e.g. ROC AUC with one class). */
  readonly value?: number;
}

export interface VersionMetrics {
  readonly requests: number;
  readonly errors: number;
  /** null when the version served no request in the window. */
  readonly p99LatencyMs: number | null;
}

/** Metrics of the canary (and stable) over the current step's window. */
export interface CanaryMetrics {
  readonly canary?: VersionMetrics;
  readonly stable?: VersionMetrics;
  /** Drift between canary and stable prediction distributions; null when unknown. */
  readonly predictionDrift?: number | null;
  /** The quality metric of the policy per version; absent when no labels are known. */
  readonly quality?: { readonly canary?: QualityObservation; readonly stable?: QualityObservation };
}

/** What is being served, as observed on the InferenceService or the local model server. */
export interface ServingState {
  readonly stableVersion?: number;
  readonly canaryVersion?: number;
  /** Share of traffic sent to the canary, 0..100. */
  readonly canaryPercent: number;
}

export interface StepAnalysis {
  /** 1-based step number. */
  readonly step: number;
  /** The canary version analysed. */
  readonly version?: number;
  readonly percent: number;
  readonly verdict: 'Passed' | 'Failed';
  readonly requests: number;
  readonly errorRate: number | null;
  readonly p99LatencyMs: number | null;
  readonly predictionDrift: number | null;
  /** The canary's (and stable's) quality metric when it was judged. */
  readonly quality?: { readonly canary: number; readonly stable?: number; readonly samples: number };
  readonly at: string;
  readonly message: string;
}

/** The rollout state the planner works on; the Model stores it in status (`status.rollout`, `stepIndex`, `analysis`, ...). */
export interface RolloutStatus {
  readonly phase: RolloutPhase;
  readonly stableVersion?: number;
  readonly canaryVersion?: number;
  /** Index into policy.steps of the step in progress. */
  readonly stepIndex?: number;
  /** Set once the step's traffic split is observed in place; the step ends stepDurationMs later. */
  readonly stepStartedAt?: string;
  /** Analyses of the rollout in progress (or of the last one). */
  readonly analyses: readonly StepAnalysis[];
  /** The last rolled-back version: not rolled out again until the target moves on. */
  readonly rejectedVersion?: number;
  /** After a promotion: the stable version it replaced. */
  readonly promotedFrom?: number;
  /** PascalCase reason of the last outcome (AnalysisPassed, ErrorRateTooHigh, Aborted, ...). */
  readonly reason?: string;
  readonly message?: string;
  /** The one-shot manual action (promote/abort) already handled, so a lingering annotation acts once. */
  readonly handledAction?: HandledAction;
}

export type ManualAction = 'pause' | 'resume' | 'promote' | 'abort';

export interface CanaryObserved {
  /** `namespace/name`, for messages. */
  readonly model: string;
  /** The version the spec and registry say should serve; undefined when none can be resolved. */
  readonly targetVersion?: number;
  /** undefined: no canary, a new version replaces the stable one at once. */
  readonly policy?: CanaryPolicy;
  readonly rollout: RolloutStatus;
  /** undefined when nothing is served yet (no InferenceService). */
  readonly serving?: ServingState;
  /** The registry's `champion` alias; undefined when unset. */
  readonly champion?: number;
  /** Whether the operator moves the champion alias: decideTarget's manageAlias (false for a fixed version or when the spec follows champion itself). */
  readonly manageAlias: boolean;
  /** From the spec (`spec.rollout.paused`) or the `ghosteam.io/rollout` annotation. */
  readonly action?: ManualAction;
  /** Metrics over the current step's window (since stepStartedAt); undefined when not gathered. */
  readonly metrics?: CanaryMetrics;
}

export type CanaryAction =
  | { readonly type: 'serve'; readonly stableVersion: number; readonly canaryVersion?: number; readonly canaryPercent: number }
  | { readonly type: 'setAlias'; readonly alias: 'champion'; readonly version: number }
  | { readonly type: 'event'; readonly eventType: 'Normal' | 'Warning'; readonly reason: string; readonly message: string };

export interface CanaryPlan {
  readonly actions: CanaryAction[];
  readonly status: RolloutStatus;
  /** Milliseconds until the next deadline (end of a step); undefined when nothing is pending. */
  readonly requeueAfterMs?: number;
}

export const INITIAL_ROLLOUT: RolloutStatus = { phase: 'Idle', analyses: [] };

/** How often to look again while waiting for the serving layer to apply a split. */
export const TRAFFIC_POLL_MS = 2_000;

/** Validates a policy; returns a message naming the field, or undefined when valid. */
export function validateCanaryPolicy(p: CanaryPolicy, path = 'spec.rollout'): string | undefined {
  if (p.steps.length === 0) return `${path}.steps is empty; give at least one canary percentage, e.g. [10, 50]`;
  for (let i = 0; i < p.steps.length; i++) {
    const s = p.steps[i];
    if (!Number.isInteger(s) || s < 1 || s > 99) return `${path}.steps[${i}] (${s}) must be an integer percentage from 1 to 99`;
    if (i > 0 && s <= p.steps[i - 1]) return `${path}.steps[${i}] (${s}) must be greater than the step before it (${p.steps[i - 1]})`;
  }
  // The fields as the Model spec names them (spec.rollout: intervalSeconds, thresholds.*, minRequests).
  if (!(p.stepDurationMs > 0)) return `${path}.intervalSeconds (${p.stepDurationMs / 1000}) must be positive`;
  if (!(p.maxErrorRate >= 0 && p.maxErrorRate <= 1)) return `${path}.thresholds.maxErrorRate (${p.maxErrorRate}) must be between 0 and 1`;
  if (!(p.maxP99LatencyMs > 0)) return `${path}.thresholds.maxP99LatencyMs (${p.maxP99LatencyMs}) must be positive`;
  if (!(p.maxPredictionDrift >= 0)) return `${path}.thresholds.maxPredictionDrift (${p.maxPredictionDrift}) must be zero or more`;
  if (!(p.minRequests >= 0)) return `${path}.minRequests (${p.minRequests}) must be zero or more`;
  const q = p.quality;
  if (q) {
    if (q.threshold === undefined && q.maxDegradation === undefined)
      return `${path}.thresholds.quality: give a threshold (e.g. 0.85 for accuracy) or a maxDegradation against the stable version (e.g. 0.02), or both`;
    if (q.threshold !== undefined && !Number.isFinite(q.threshold)) return `${path}.thresholds.quality.threshold (${q.threshold}) must be a number`;
    if (q.maxDegradation !== undefined && !(q.maxDegradation >= 0))
      return `${path}.thresholds.quality.maxDegradation (${q.maxDegradation}) must be zero or more`;
    if (!(Number.isInteger(q.minSamples) && q.minSamples >= 1)) return `${path}.thresholds.quality.minSamples (${q.minSamples}) must be an integer ≥ 1`;
  }
  return undefined;
}

/** The traffic split a rollout status calls for. */
export function desiredServing(r: RolloutStatus, policy: CanaryPolicy | undefined): ServingState | undefined {
  if (r.stableVersion === undefined) return undefined;
  if ((r.phase === 'Progressing' || r.phase === 'Paused') && r.canaryVersion !== undefined && policy && r.stepIndex !== undefined) {
    return { stableVersion: r.stableVersion, canaryVersion: r.canaryVersion, canaryPercent: policy.steps[r.stepIndex] };
  }
  return { stableVersion: r.stableVersion, canaryPercent: 0 };
}

export function sameServing(a: ServingState | undefined, b: ServingState | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.stableVersion !== b.stableVersion) return false;
  const ac = a.canaryPercent > 0 ? a.canaryVersion : undefined;
  const bc = b.canaryPercent > 0 ? b.canaryVersion : undefined;
  return ac === bc && (ac === undefined || a.canaryPercent === b.canaryPercent);
}

type Verdict = { kind: 'pass'; analysis: StepAnalysis } | { kind: 'fail'; reason: string; analysis: StepAnalysis } | { kind: 'wait'; message: string };

/**
 * Judges one step's metrics against the policy's thresholds. Labels arrive late: with a quality
 * policy and too few labelled canary predictions the step waits for them, and on its `lastChance`
 * (one step duration after the step's end) it is decided on the other checks, quality not judged.
 */
export function analyseStep(policy: CanaryPolicy, stepIndex: number, metrics: CanaryMetrics | undefined, now: number, lastChance = false): Verdict {
  const percent = policy.steps[stepIndex];
  const c = metrics?.canary;
  const requests = c?.requests ?? 0;
  if (!c || requests < policy.minRequests || requests === 0) {
    return {
      kind: 'wait',
      message: `step ${stepIndex + 1} (${percent}%): ${requests} canary requests so far; the analysis needs ${Math.max(policy.minRequests, 1)}`,
    };
  }
  const errorRate = c.errors / requests;
  const drift = metrics?.predictionDrift ?? null;
  const base = { step: stepIndex + 1, percent, requests, errorRate, p99LatencyMs: c.p99LatencyMs, predictionDrift: drift, at: rfc3339(now) };
  const where = `at step ${stepIndex + 1} (${percent}%)`;
  if (errorRate > policy.maxErrorRate) {
    const message = `canary error rate ${fmt(errorRate)} exceeds ${fmt(policy.maxErrorRate)} ${where}`;
    return { kind: 'fail', reason: 'ErrorRateTooHigh', analysis: { ...base, verdict: 'Failed', message } };
  }
  if (c.p99LatencyMs !== null && c.p99LatencyMs > policy.maxP99LatencyMs) {
    const message = `canary p99 latency ${fmt(c.p99LatencyMs)} ms exceeds ${fmt(policy.maxP99LatencyMs)} ms ${where}`;
    return { kind: 'fail', reason: 'LatencyTooHigh', analysis: { ...base, verdict: 'Failed', message } };
  }
  if (drift !== null && drift > policy.maxPredictionDrift) {
    const message = `prediction drift between canary and stable ${fmt(drift)} exceeds ${fmt(policy.maxPredictionDrift)} ${where}`;
    return { kind: 'fail', reason: 'PredictionDrift', analysis: { ...base, verdict: 'Failed', message } };
  }
  let quality = '';
  const q = policy.quality;
  if (q) {
    const cq = metrics?.quality?.canary;
    const sq = metrics?.quality?.stable;
    if (!cq || cq.samples < q.minSamples || cq.value === undefined) {
      const short = `${cq?.samples ?? 0} labelled canary predictions; needs ${q.minSamples}`;
      if (!lastChance) return { kind: 'wait', message: `step ${stepIndex + 1} (${percent}%): waiting for labels (${short})` };
      quality = `, ${q.metric} not judged (${short})`;
    } else {
      const stableKnown = sq !== undefined && sq.samples >= q.minSamples && sq.value !== undefined;
      const judged = { ...base, quality: clean({ canary: cq.value, stable: stableKnown ? sq.value : undefined, samples: cq.samples }) };
      if (q.threshold !== undefined && worseThan(q.metric, cq.value, q.threshold)) {
        const message = `canary ${q.metric} ${fmt(cq.value)} is ${crossing(q.metric)} ${fmt(q.threshold)} on ${cq.samples} labelled predictions ${where}`;
        return { kind: 'fail', reason: 'QualityTooLow', analysis: { ...judged, verdict: 'Failed', message } };
      }
      if (q.maxDegradation !== undefined && stableKnown && worseBy(q.metric, cq.value, sq.value) > q.maxDegradation) {
        const message = `canary ${q.metric} ${fmt(cq.value)} is worse than the stable version's ${fmt(sq.value)} by more than ${fmt(q.maxDegradation)} ${where}`;
        return { kind: 'fail', reason: 'QualityWorseThanStable', analysis: { ...judged, verdict: 'Failed', message } };
      }
      quality = `, ${q.metric} ${fmt(cq.value)}${stableKnown ? ` (stable ${fmt(sq.value)})` : ''}`;
      const message = `step ${stepIndex + 1} (${percent}%) passed: error rate ${fmt(errorRate)}, p99 ${c.p99LatencyMs === null ? 'n/a' : `${fmt(c.p99LatencyMs)} ms`}, drift ${drift === null ? 'n/a' : fmt(drift)}${quality}`;
      return { kind: 'pass', analysis: { ...judged, verdict: 'Passed', message } };
    }
  }
  const message = `step ${stepIndex + 1} (${percent}%) passed: error rate ${fmt(errorRate)}, p99 ${c.p99LatencyMs === null ? 'n/a' : `${fmt(c.p99LatencyMs)} ms`}, drift ${drift === null ? 'n/a' : fmt(drift)}${quality}`;
  return { kind: 'pass', analysis: { ...base, verdict: 'Passed', message } };
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(3)));
}

export function planCanary(o: CanaryObserved, now: number): CanaryPlan {
  const actions: CanaryAction[] = [];
  const event = (eventType: 'Normal' | 'Warning', reason: string, message: string) => actions.push({ type: 'event', eventType, reason, message });
  let r: RolloutStatus = o.rollout;
  let requeueAfterMs: number | undefined;
  const target = o.targetVersion;
  const inRollout = () => r.phase === 'Progressing' || r.phase === 'Paused';

  const rollback = (reason: string, message: string, analysis?: StepAnalysis) => {
    event('Warning', 'RolledBack', `version ${r.canaryVersion} rolled back: ${message}; version ${r.stableVersion} keeps serving`);
    r = {
      phase: 'RolledBack',
      stableVersion: r.stableVersion,
      rejectedVersion: r.canaryVersion,
      analyses: analysis ? [...r.analyses, { ...analysis, version: r.canaryVersion }] : r.analyses,
      reason,
      message,
      handledAction: r.handledAction,
    };
  };
  const promote = (reason: string, message: string, analysis?: StepAnalysis) => {
    event('Normal', 'Promoted', `version ${r.canaryVersion} promoted: ${message}`);
    r = {
      phase: 'Promoted',
      stableVersion: r.canaryVersion,
      analyses: analysis ? [...r.analyses, { ...analysis, version: r.canaryVersion }] : r.analyses,
      reason,
      message,
      handledAction: r.handledAction,
      ...(r.stableVersion !== undefined ? { promotedFrom: r.stableVersion } : {}),
      ...(r.rejectedVersion !== undefined && r.rejectedVersion !== r.canaryVersion ? { rejectedVersion: r.rejectedVersion } : {}),
    };
  };

  // 1. Start, supersede or cancel a rollout when the target moves.
  if (target !== undefined) {
    if (r.stableVersion === undefined) {
      r = {
        ...INITIAL_ROLLOUT,
        phase: 'Idle',
        stableVersion: target,
        reason: 'InitialDeploy',
        message: `version ${target} deployed`,
        handledAction: r.handledAction,
      };
      event('Normal', 'Deployed', `version ${target} deployed`);
    } else if (inRollout()) {
      if (target === r.stableVersion) {
        event('Normal', 'RolloutCancelled', `target returned to the stable version ${target}; canary ${r.canaryVersion} withdrawn`);
        r = {
          phase: 'Idle',
          stableVersion: r.stableVersion,
          analyses: r.analyses,
          reason: 'TargetReverted',
          message: `canary ${r.canaryVersion} withdrawn`,
          handledAction: r.handledAction,
        };
      } else if (target !== r.canaryVersion) {
        event('Normal', 'RolloutSuperseded', `version ${target} supersedes canary ${r.canaryVersion}; restarting at step 1`);
        r = {
          ...r,
          canaryVersion: target,
          stepIndex: 0,
          stepStartedAt: undefined,
          analyses: [],
          reason: 'Superseded',
          message: `version ${target} supersedes canary`,
        };
      }
    } else if (target !== r.stableVersion && target !== r.rejectedVersion) {
      if (!o.policy) {
        event('Normal', 'Deployed', `version ${target} replaces ${r.stableVersion} (no canary policy)`);
        r = {
          phase: 'Idle',
          stableVersion: target,
          analyses: [],
          reason: 'Replaced',
          message: `version ${target} replaced ${r.stableVersion}`,
          handledAction: r.handledAction,
        };
      } else {
        event('Normal', 'RolloutStarted', `canary of version ${target} against ${r.stableVersion} started at ${o.policy.steps[0]}%`);
        r = {
          phase: 'Progressing',
          stableVersion: r.stableVersion,
          canaryVersion: target,
          stepIndex: 0,
          analyses: [],
          reason: 'RolloutStarted',
          message: `canary ${target} at step 1 (${o.policy.steps[0]}%)`,
          handledAction: r.handledAction,
          ...(r.rejectedVersion !== undefined ? { rejectedVersion: r.rejectedVersion } : {}),
        };
      }
    }
  }

  // 2. Manual control. promote/abort are one-shot per canary version.
  // A one-shot annotation is handled once; removing it clears the record so it can be given again.
  if (r.handledAction !== undefined && o.action !== 'abort' && o.action !== 'promote') r = { ...r, handledAction: undefined };
  if (inRollout() && o.action) {
    const key = o.action;
    if ((o.action === 'abort' || o.action === 'promote') && r.handledAction !== key) {
      r = { ...r, handledAction: o.action };
      if (o.action === 'abort') rollback('Aborted', 'aborted by a manual abort');
      else promote('ManualPromote', 'promoted by a manual promote');
    } else if (o.action === 'pause' && r.phase === 'Progressing') {
      r = { ...r, phase: 'Paused', reason: 'Paused', message: `paused at step ${(r.stepIndex ?? 0) + 1}` };
      event('Normal', 'Paused', `canary ${r.canaryVersion} paused at step ${(r.stepIndex ?? 0) + 1}`);
    }
  }
  if (r.phase === 'Paused' && o.action !== 'pause') {
    r = { ...r, phase: 'Progressing', reason: 'Resumed', message: `resumed at step ${(r.stepIndex ?? 0) + 1}` };
    event('Normal', 'Resumed', `canary ${r.canaryVersion} resumed at step ${(r.stepIndex ?? 0) + 1}`);
  }

  // 3. Progress the step in hand.
  if (r.phase === 'Progressing' && o.policy && r.stepIndex !== undefined) {
    const policy = o.policy;
    const want = desiredServing(r, policy);
    if (!sameServing(o.serving, want)) {
      // The split for this step is not in place (yet): its clock does not run.
      if (r.stepStartedAt !== undefined) r = { ...r, stepStartedAt: undefined };
      requeueAfterMs = TRAFFIC_POLL_MS;
    } else if (r.stepStartedAt === undefined) {
      r = { ...r, stepStartedAt: rfc3339(now), message: `canary ${r.canaryVersion} at step ${r.stepIndex + 1} (${policy.steps[r.stepIndex]}%)` };
      requeueAfterMs = policy.stepDurationMs;
    } else {
      const started = Date.parse(r.stepStartedAt);
      const deadline = started + policy.stepDurationMs;
      if (now < deadline) {
        requeueAfterMs = deadline - now;
      } else {
        const giveUp = deadline + policy.stepDurationMs;
        const v = analyseStep(policy, r.stepIndex, o.metrics, now, now >= giveUp);
        if (v.kind === 'fail') {
          rollback(v.reason, v.analysis.message, v.analysis);
        } else if (v.kind === 'pass') {
          if (r.stepIndex + 1 < policy.steps.length) {
            const next = r.stepIndex + 1;
            event('Normal', 'StepPassed', `${v.analysis.message}; moving to ${policy.steps[next]}%`);
            r = {
              ...r,
              stepIndex: next,
              stepStartedAt: undefined,
              analyses: [...r.analyses, { ...v.analysis, version: r.canaryVersion }],
              reason: 'StepPassed',
              message: `canary ${r.canaryVersion} at step ${next + 1} (${policy.steps[next]}%)`,
            };
            requeueAfterMs = TRAFFIC_POLL_MS;
          } else {
            promote('AnalysisPassed', `all ${policy.steps.length} steps passed`, v.analysis);
          }
        } else {
          // Inconclusive: wait up to one more step duration for enough traffic, then give up.
          if (now >= giveUp) rollback('InconclusiveAnalysis', v.message);
          else {
            r = { ...r, message: v.message };
            requeueAfterMs = Math.min(giveUp - now, Math.max(1_000, Math.floor(policy.stepDurationMs / 4)));
          }
        }
      }
    }
  }

  // 4. Bring serving and the alias to what the (new) status calls for.
  const want = desiredServing(r, o.policy);
  if (want && !sameServing(o.serving, want)) {
    actions.push({
      type: 'serve',
      stableVersion: want.stableVersion!,
      ...(want.canaryPercent > 0 ? { canaryVersion: want.canaryVersion } : {}),
      canaryPercent: want.canaryPercent,
    });
  }
  if (o.manageAlias && r.stableVersion !== undefined && o.champion !== r.stableVersion) {
    actions.push({ type: 'setAlias', alias: 'champion', version: r.stableVersion });
  }
  return { actions, status: clean(r), ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}) };
}

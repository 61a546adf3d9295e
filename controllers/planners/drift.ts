/**
 * DriftMonitor planning: when the next check is due, what the check's result means, and whether it
 * starts a retraining run. Exactly one TrainingRun per triggering check: its name is derived from the
 * monitor and the check's scheduled slot, and the status (the commit point) records it before the
 * run is created, so restarts and concurrent workers converge on the same single object.
 */
import { CronExpressionParser } from 'cron-parser';
import { clean } from '../../api/json.ts';
import { rfc3339 } from './conditions.ts';
import { compactTime, dnsName } from './names.ts';
import type { DriftHistogram, DriftTest } from '../../api/crds/types.ts';
import { crossing, ESTIMATED_QUALITY_METRICS, worseThan, type QualityMetric, type QualitySource } from '../../api/quality.ts';

export interface FeatureDrift {
  readonly feature: string;
  /** The test that ran, by its CRD name. */
  readonly method: DriftTest;
  readonly statistic: number;
  readonly threshold: number;
  readonly drifted: boolean;
  readonly pValue?: number;
  /** Reference vs current shares for charts (compacted for status; controllers/planners/drift-history.ts). */
  readonly histogram?: DriftHistogram;
}

export interface DriftCheckResult {
  readonly features: readonly FeatureDrift[];
  /** Share of features drifted. */
  readonly share: number;
  /** The dataset verdict (share ≥ the monitor's threshold share). */
  readonly drifted: boolean;
  /** Rows in the payload-log window. */
  readonly rows: number;
  /** Unreadable payload-log lines the check skipped (torn or corrupt records); it used the rest. */
  readonly skippedLines?: number;
  readonly windowStart: string;
  readonly windowEnd: string;
}

/** The Model's stable version's quality at a check (spec.quality's metric). */
export interface QualityCheckResult {
  readonly version: number;
  /** Labelled predictions in the model server's quality window (with source estimate: the predictions the estimate covers). */
  readonly samples: number;
  /** undefined when the metric is undefined on the window. */
  readonly value?: number;
}

/** The quality trigger's state: the last check, and the breach in progress. */
export interface QualityState {
  readonly version?: number;
  readonly value?: number;
  readonly samples: number;
  readonly breached: boolean;
  /** The scheduled slot of the first check that found the breach in progress. */
  readonly breachedSince?: string;
  /** The TrainingRun started for the breach in progress (one per incident). */
  readonly incidentRun?: string;
}

export interface QualityPolicy {
  readonly metric: QualityMetric;
  /** A floor for accuracy-like metrics, a ceiling for rmse, mae and calibrationError. */
  readonly threshold: number;
  /** How long a breach must last before a run starts. */
  readonly forMs: number;
  readonly minSamples: number;
  /** Measured on delayed labels, or CBPE's estimate before they arrive. @default 'labels' */
  readonly source?: QualitySource;
}

export interface DriftMonitorState {
  /** The scheduled slot of the last check. */
  readonly lastCheckAt?: string;
  readonly nextCheckAt?: string;
  readonly consecutiveDrifted: number;
  readonly lastTriggeredAt?: string;
  readonly lastTrainingRun?: string;
  readonly lastResult?: DriftCheckResult;
  readonly message?: string;
  readonly quality?: QualityState;
}

export interface DriftPolicy {
  /** Cron expression (5 fields) or an interval. Exactly one. */
  readonly cron?: string;
  readonly intervalMs?: number;
  readonly cooldownMs: number;
  /** Checks in a row that must find drift before retraining. @default 1 */
  readonly consecutive: number;
  /** Minimum rows in the window for a verdict. */
  readonly minRows: number;
  /** Retrain on quality from delayed labels too (reason 'performance'). */
  readonly quality?: QualityPolicy;
}

export interface DriftObserved {
  readonly namespace: string;
  readonly name: string;
  readonly model: string;
  /** The pipeline (WorkflowTemplate) a retraining run submits. */
  readonly pipeline: string;
  readonly policy: DriftPolicy;
  readonly state: DriftMonitorState;
  /** The check made this reconcile (only when `driftCheckDue`); undefined otherwise. */
  readonly result?: DriftCheckResult;
  /** The stable version's quality, read with the check (only when due and the policy has quality); undefined when no labels are known. */
  readonly quality?: QualityCheckResult;
}

export interface TrainingRunToCreate {
  readonly name: string;
  readonly namespace: string;
  readonly model: string;
  readonly pipeline: string;
  readonly reason: 'drift' | 'performance';
  readonly triggeredBy: string;
  readonly message: string;
}

export type DriftAction =
  | { readonly type: 'createTrainingRun'; readonly run: TrainingRunToCreate }
  | { readonly type: 'event'; readonly eventType: 'Normal' | 'Warning'; readonly reason: string; readonly message: string };

export interface DriftPlan {
  readonly actions: DriftAction[];
  readonly status: DriftMonitorState;
  readonly requeueAfterMs: number;
}

export const INITIAL_DRIFT_STATE: DriftMonitorState = { consecutiveDrifted: 0 };

export function validateDriftPolicy(p: DriftPolicy, path = 'spec'): string | undefined {
  if ((p.cron === undefined) === (p.intervalMs === undefined)) return `${path}.schedule: give exactly one of a cron expression or an interval`;
  if (p.cron !== undefined) {
    try {
      CronExpressionParser.parse(p.cron, { tz: 'UTC' });
    } catch (e) {
      return `${path}.schedule '${p.cron}' is not a valid cron expression (${(e as Error).message}); write five fields, e.g. '*/15 * * * *'`;
    }
  }
  if (p.intervalMs !== undefined && !(p.intervalMs >= 1000)) return `${path}.schedule interval must be at least 1s`;
  if (!(p.cooldownMs >= 0)) return `${path}.cooldown must be zero or more`;
  if (!(Number.isInteger(p.consecutive) && p.consecutive >= 1)) return `${path}.consecutive (${p.consecutive}) must be an integer ≥ 1`;
  if (p.quality) {
    if (!Number.isFinite(p.quality.threshold)) return `${path}.quality.threshold (${p.quality.threshold}) must be a number`;
    if (!(p.quality.forMs >= 0)) return `${path}.quality.forSeconds must be zero or more`;
    if (!(Number.isInteger(p.quality.minSamples) && p.quality.minSamples >= 1))
      return `${path}.quality.minSamples (${p.quality.minSamples}) must be an integer ≥ 1`;
    if (p.quality.source === 'estimate' && !(ESTIMATED_QUALITY_METRICS as readonly string[]).includes(p.quality.metric))
      return `${path}.quality.metric '${p.quality.metric}' has no estimate (CBPE estimates ${ESTIMATED_QUALITY_METRICS.join(', ')} of binary classifiers); use one of them or source 'labels'`;
  }
  return undefined;
}

/** The first scheduled slot strictly after `afterMs`. */
export function nextSlot(p: DriftPolicy, afterMs: number): number {
  if (p.intervalMs !== undefined) return (Math.floor(afterMs / p.intervalMs) + 1) * p.intervalMs;
  const it = CronExpressionParser.parse(p.cron!, { currentDate: new Date(afterMs), tz: 'UTC' });
  return it.next().getTime();
}

/** Whether a check is due now; the reconciler reads the payload window only then. */
export function driftCheckDue(state: DriftMonitorState, now: number): boolean {
  return state.nextCheckAt === undefined || Date.parse(state.nextCheckAt) <= now;
}

export function retrainRunName(monitor: string, slot: string, reason: 'drift' | 'performance' = 'drift'): string {
  return dnsName([monitor, reason, compactTime(slot)]);
}

export function planDriftMonitor(o: DriftObserved, now: number): DriftPlan {
  const drift = planDrift(o, now);
  if (!o.policy.quality || !driftCheckDue(o.state, now)) return drift;
  return planQuality(o, o.policy.quality, drift, now);
}

/**
 * The quality trigger, after the drift verdict of the same check. A breach is the stable version's
 * metric worse than the threshold on at least minSamples labels; it lasts while checks keep finding
 * it for that version. Once it has lasted `forMs`, one TrainingRun (reason 'performance') starts,
 * named by the monitor and the slot like a drift run and committed in status first, and it is
 * the breach's only run: a new one needs the breach to end, or a new stable version to breach.
 * Cooldown is shared with drift (lastTriggeredAt), and a check that already started a drift run
 * starts no other.
 */
function planQuality(o: DriftObserved, p: QualityPolicy, drift: DriftPlan, now: number): DriftPlan {
  const before = o.state.quality;
  const q = o.quality;
  const slot = o.state.nextCheckAt ?? rfc3339(now);
  const judged = q !== undefined && q.samples >= p.minSamples && q.value !== undefined;
  const breached = judged && worseThan(p.metric, q.value, p.threshold);
  const sameIncident = breached && before?.breached === true && before.version === q.version;
  let state: QualityState = clean({
    version: q?.version,
    value: q?.value,
    samples: q?.samples ?? 0,
    breached,
    breachedSince: breached ? (sameIncident ? before.breachedSince : slot) : undefined,
    incidentRun: sameIncident ? before.incidentRun : undefined,
  });
  const estimated = p.source === 'estimate';
  const what =
    q === undefined
      ? estimated
        ? `no quality estimate of the stable version`
        : `no labelled predictions of the stable version`
      : estimated
        ? `estimated ${p.metric} (CBPE) ${judged ? fmtNum(q.value) : 'n/a'} on ${q.samples} unlabelled predictions of version ${q.version}`
        : `${p.metric} ${judged ? fmtNum(q.value) : 'n/a'} on ${q.samples} labels of version ${q.version}`;
  let message: string;
  const actions = [...drift.actions];
  let status: DriftMonitorState = drift.status;
  if (!judged) message = `${what}; quality is judged from ${p.minSamples}`;
  else if (!breached) message = `${what}, not ${crossing(p.metric)} ${fmtNum(p.threshold)}`;
  else {
    const since = Date.parse(state.breachedSince!);
    message = `${what} is ${crossing(p.metric)} ${fmtNum(p.threshold)} since ${state.breachedSince}`;
    const cooldownEnd = status.lastTriggeredAt ? Date.parse(status.lastTriggeredAt) + o.policy.cooldownMs : -Infinity;
    if (state.incidentRun) message += `; TrainingRun ${state.incidentRun} was started for it`;
    else if (now - since < p.forMs) message += `; retraining after ${fmtNum(p.forMs / 1000)}s of it`;
    else if (!o.pipeline) message += '; report only (spec.action.retrain is not set)';
    else if (actions.some((a) => a.type === 'createTrainingRun')) message += '; this check already started a drift run';
    else if (now < cooldownEnd) message += `; in cooldown until ${rfc3339(cooldownEnd)} after ${status.lastTrainingRun}`;
    else {
      const name = retrainRunName(o.name, slot, 'performance');
      message += `; started TrainingRun ${name}`;
      state = { ...state, incidentRun: name };
      status = { ...status, lastTriggeredAt: rfc3339(now), lastTrainingRun: name };
      actions.push({
        type: 'createTrainingRun',
        run: {
          name,
          namespace: o.namespace,
          model: o.model,
          pipeline: o.pipeline,
          reason: 'performance',
          triggeredBy: `DriftMonitor/${o.name}`,
          message: `${estimated ? 'estimated ' : ''}${p.metric} of version ${q.version} ${crossing(p.metric)} ${fmtNum(p.threshold)} since ${state.breachedSince}`,
        },
      });
      actions.push({ type: 'event', eventType: 'Warning', reason: 'RetrainTriggered', message: `${what}; TrainingRun ${name} created (performance)` });
    }
  }
  return {
    actions,
    status: clean({ ...status, quality: state, message: [status.message, message].filter(Boolean).join('; ') }),
    requeueAfterMs: drift.requeueAfterMs,
  };
}

function fmtNum(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(3)));
}

function planDrift(o: DriftObserved, now: number): DriftPlan {
  const actions: DriftAction[] = [];
  const s = o.state;
  if (!driftCheckDue(s, now)) {
    return { actions, status: s, requeueAfterMs: Date.parse(s.nextCheckAt!) - now };
  }
  // The slot being checked: the scheduled time that fell due (or now, for the very first check).
  const slot = s.nextCheckAt ?? rfc3339(now);
  const next = nextSlot(o.policy, now);
  const base = { lastCheckAt: slot, nextCheckAt: rfc3339(next), lastTriggeredAt: s.lastTriggeredAt, lastTrainingRun: s.lastTrainingRun };
  const r = o.result;
  if (!r || r.rows < o.policy.minRows) {
    const message = `${r?.rows ?? 0} rows in the payload-log window; a verdict needs ${o.policy.minRows}`;
    return { actions, status: clean({ ...base, consecutiveDrifted: s.consecutiveDrifted, lastResult: s.lastResult, message }), requeueAfterMs: next - now };
  }
  const consecutive = r.drifted ? s.consecutiveDrifted + 1 : 0;
  const drifted = r.features.filter((f) => f.drifted).map((f) => f.feature);
  let message = r.drifted
    ? `drift in ${drifted.length} of ${r.features.length} features (${drifted.join(', ')}); ${consecutive} check(s) in a row`
    : `no dataset drift (${drifted.length} of ${r.features.length} features drifted)`;
  let status: DriftMonitorState = { ...base, consecutiveDrifted: consecutive, lastResult: r, message };
  if (r.drifted) {
    const cooldownEnd = s.lastTriggeredAt ? Date.parse(s.lastTriggeredAt) + o.policy.cooldownMs : -Infinity;
    if (consecutive < o.policy.consecutive) {
      message += `; retraining needs ${o.policy.consecutive}`;
    } else if (now < cooldownEnd) {
      message += `; in cooldown until ${rfc3339(cooldownEnd)} after ${s.lastTrainingRun}`;
    } else {
      const name = retrainRunName(o.name, slot);
      message += `; started TrainingRun ${name}`;
      status = { ...status, lastTriggeredAt: rfc3339(now), lastTrainingRun: name, consecutiveDrifted: 0 };
      actions.push({
        type: 'createTrainingRun',
        run: {
          name,
          namespace: o.namespace,
          model: o.model,
          pipeline: o.pipeline,
          reason: 'drift',
          triggeredBy: `DriftMonitor/${o.name}`,
          message: `drift in ${drifted.join(', ')} at ${slot}`,
        },
      });
      actions.push({ type: 'event', eventType: 'Warning', reason: 'RetrainTriggered', message: `drift in ${drifted.join(', ')}; TrainingRun ${name} created` });
    }
    status = { ...status, message };
  }
  return { actions, status: clean(status), requeueAfterMs: next - now };
}

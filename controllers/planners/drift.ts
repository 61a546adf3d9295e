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
import type { DriftTest } from '../../api/crds/types.ts';

export interface FeatureDrift {
  readonly feature: string;
  /** The test that ran, by its CRD name. */
  readonly method: DriftTest;
  readonly statistic: number;
  readonly threshold: number;
  readonly drifted: boolean;
  readonly pValue?: number;
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

export interface DriftMonitorState {
  /** The scheduled slot of the last check. */
  readonly lastCheckAt?: string;
  readonly nextCheckAt?: string;
  readonly consecutiveDrifted: number;
  readonly lastTriggeredAt?: string;
  readonly lastTrainingRun?: string;
  readonly lastResult?: DriftCheckResult;
  readonly message?: string;
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
}

export interface TrainingRunToCreate {
  readonly name: string;
  readonly namespace: string;
  readonly model: string;
  readonly pipeline: string;
  readonly reason: 'drift';
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

export function retrainRunName(monitor: string, slot: string): string {
  return dnsName([monitor, 'drift', compactTime(slot)]);
}

export function planDriftMonitor(o: DriftObserved, now: number): DriftPlan {
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

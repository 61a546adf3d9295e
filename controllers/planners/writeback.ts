/**
 * The write-back planner: when a Model's promoted stable version differs from the version last
 * written back for it, commit the pin to the lock file in Git (gitops/writeback.ts does the I/O).
 * Pure: the clock is a parameter.
 *
 * Where "last written back" lives: `status.writeBack.version` on the Model. It is only a fast
 * path; the lock file at the remote is the ground truth, because writeBack re-reads it and reports
 * `unchanged` when the version is already pinned. So an operator killed after the push and before
 * the status write finds the pin on its next attempt and records it without a second commit, and a
 * second replica racing the leader (or a human pinning by hand) cannot make a duplicate commit
 * either. A newer pin at the remote is never downgraded (`superseded`).
 *
 * Only a promotion is written back (`status.rollout.phase` Promoted: a canary that passed
 * its analysis, or a manual promote): the first deploy of a Model, a rollback and a withdrawn
 * canary leave Git alone. A failed attempt counts in `status.writeBack.failures` and the next one
 * waits an exponential backoff from `lastAttemptTime`, so retries survive a restart and never hold
 * up the Model's own reconciler (write-back is a controller of its own).
 */
import type { Condition, ModelStatus, ModelWriteBack } from '../../api/crds/index.ts';
import { getCondition, rfc3339, setConditions, type ConditionInput } from './conditions.ts';
import { storedRollout } from './rollout-state.ts';

export const WRITTEN_BACK = 'WrittenBack';

export interface WriteBackBackoff {
  /** Delay after the first failure; it doubles with every further one. @default 5000 */
  readonly baseMs: number;
  /** @default 300000 (5 min) */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: WriteBackBackoff = { baseMs: 5_000, maxMs: 300_000 };

/** The delay before attempt `failures + 1`. */
export function backoffMs(failures: number, b: WriteBackBackoff = DEFAULT_BACKOFF): number {
  if (failures <= 0) return 0;
  return Math.min(b.maxMs, b.baseMs * 2 ** Math.min(failures - 1, 30));
}

export type WriteBackPlan =
  | { readonly kind: 'none'; readonly why: string }
  /** In backoff after a failure: look again then. */
  | { readonly kind: 'wait'; readonly version: number; readonly requeueAfterMs: number }
  /** Pin `version`, promoted at `promotedAt` (ISO-8601). */
  | { readonly kind: 'write'; readonly version: number; readonly promotedAt: string };

/** What to do for a Model with this status. */
export function planWriteBack(status: ModelStatus | undefined, now: number, backoff: WriteBackBackoff = DEFAULT_BACKOFF): WriteBackPlan {
  const stable = status?.stableVersion;
  if (stable === undefined) return { kind: 'none', why: 'no version is served yet' };
  if (status!.canaryVersion !== undefined) return { kind: 'none', why: `canary ${status!.canaryVersion} is in progress` };
  const rollout = storedRollout(status);
  if (rollout.phase !== 'Promoted') return { kind: 'none', why: `version ${stable} was not promoted (rollout phase ${rollout.phase})` };
  const wb = status!.writeBack;
  if (wb?.version === stable) return { kind: 'none', why: `version ${stable} is already written back` };
  const failures = wb?.failures ?? 0;
  if (failures > 0 && wb?.lastAttemptTime) {
    const due = Date.parse(wb.lastAttemptTime) + backoffMs(failures, backoff);
    if (due > now) return { kind: 'wait', version: stable, requeueAfterMs: due - now };
  }
  return { kind: 'write', version: stable, promotedAt: new Date((rollout.promotedAt && Date.parse(rollout.promotedAt)) || now).toISOString() };
}

/** What writeBack reported, or the error it threw (already redacted). */
export type WriteBackOutcome =
  | { readonly kind: 'pushed'; readonly commit: string; readonly previous?: number }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'superseded'; readonly pinned: number }
  | { readonly kind: 'failed'; readonly error: string };

export interface WriteBackTarget {
  /** The repository as shown to users (credentials redacted). */
  readonly repo: string;
  readonly branch: string;
  readonly lockFile: string;
}

export interface WriteBackStatusUpdate {
  readonly writeBack: ModelWriteBack;
  readonly conditions: Condition[];
  /** An Event to record (only when the condition changes, so a long outage is one Warning). */
  readonly event?: { readonly type: 'Normal' | 'Warning'; readonly reason: string; readonly message: string };
  readonly requeueAfterMs?: number;
}

/** The status after an attempt to write `version` back. */
export function writeBackStatus(
  prev: ModelStatus | undefined,
  version: number,
  outcome: WriteBackOutcome,
  t: WriteBackTarget,
  now: number,
  generation: number,
  backoff: WriteBackBackoff = DEFAULT_BACKOFF,
): WriteBackStatusUpdate {
  const at = rfc3339(now);
  const where = `${t.lockFile} on ${t.repo} ${t.branch}`;
  let writeBack: ModelWriteBack;
  let cond: ConditionInput;
  let requeueAfterMs: number | undefined;
  switch (outcome.kind) {
    case 'pushed':
      writeBack = { version, commit: outcome.commit, lastAttemptTime: at };
      cond = { type: WRITTEN_BACK, status: 'True', reason: 'Pushed', message: `version ${version} pinned in ${where} (commit ${outcome.commit.slice(0, 7)})` };
      break;
    case 'unchanged':
      writeBack = { version, lastAttemptTime: at };
      cond = { type: WRITTEN_BACK, status: 'True', reason: 'AlreadyPinned', message: `version ${version} was already pinned in ${where}` };
      break;
    case 'superseded':
      writeBack = { version, supersededBy: outcome.pinned, lastAttemptTime: at };
      cond = {
        type: WRITTEN_BACK,
        status: 'True',
        reason: 'Superseded',
        message: `${where} pins version ${outcome.pinned}, newer than ${version}; not downgrading`,
      };
      break;
    case 'failed': {
      const failures = (prev?.writeBack?.failures ?? 0) + 1;
      const old = prev?.writeBack;
      writeBack = {
        ...(old?.version !== undefined ? { version: old.version } : {}),
        ...(old?.commit ? { commit: old.commit } : {}),
        failures,
        lastAttemptTime: at,
      };
      requeueAfterMs = backoffMs(failures, backoff);
      cond = {
        type: WRITTEN_BACK,
        status: 'False',
        reason: 'PushFailed',
        message: `writing version ${version} to ${where} failed (attempt ${failures}, next in ${Math.round(requeueAfterMs / 1000)} s): ${outcome.error}`,
      };
      break;
    }
  }
  const before = getCondition(prev?.conditions, WRITTEN_BACK);
  const conditions = setConditions(prev?.conditions, [cond], now, generation);
  const changed = !before || before.status !== cond.status || before.reason !== cond.reason;
  // Every push is a commit worth an Event; a failure only when it starts (one Warning per outage).
  const event =
    outcome.kind === 'pushed'
      ? { type: 'Normal' as const, reason: 'WrittenBack', message: cond.message }
      : outcome.kind === 'failed' && changed
        ? { type: 'Warning' as const, reason: 'WriteBackFailed', message: cond.message }
        : undefined;
  return { writeBack, conditions, ...(event ? { event } : {}), ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}) };
}

/**
 * The rollout state stored in a Model's status (`status.rollout`, the step in `status.stepIndex`).
 * Conditions report it; nothing decides from a condition's reason or message, except this one
 * reader for a status written by an operator from before `status.rollout` existed: there the phase
 * was in the Progressing/Degraded reasons and the handled action in RolloutAction's message. Such a
 * Model keeps reconciling, and its next status write stores `status.rollout`. Pure.
 */
import { ConditionType, Reason } from '../../api/conditions.ts';
import type { HandledAction, ModelStatus, RolloutState } from '../../api/crds/types.ts';
import { clean } from '../../api/json.ts';
import { getCondition } from './conditions.ts';

export function storedRollout(st: ModelStatus | undefined): RolloutState {
  if (st?.rollout) return st.rollout;
  return legacyRollout(st);
}

/** Today's shape before `status.rollout`: read once from the conditions the operator wrote then. */
function legacyRollout(st: ModelStatus | undefined): RolloutState {
  if (!st) return { phase: 'Idle' };
  const prog = getCondition(st.conditions, ConditionType.Progressing);
  const deg = getCondition(st.conditions, ConditionType.Degraded);
  const act = getCondition(st.conditions, ConditionType.RolloutAction);
  const inRollout = st.canaryVersion !== undefined;
  const phase: RolloutState['phase'] = inRollout
    ? prog?.reason === Reason.Paused
      ? 'Paused'
      : 'Progressing'
    : st.phase === 'RolledBack'
      ? 'RolledBack'
      : prog?.reason === Reason.Promoted
        ? 'Promoted'
        : 'Idle';
  const src = phase === 'RolledBack' ? deg : prog;
  const handled: HandledAction | undefined = act?.status === 'True' && (act.message === 'promote' || act.message === 'abort') ? act.message : undefined;
  return clean({
    phase,
    reason: src?.reason,
    message: src?.message,
    handledAction: handled,
    promotedAt: phase === 'Promoted' ? prog?.lastTransitionTime : undefined,
  });
}

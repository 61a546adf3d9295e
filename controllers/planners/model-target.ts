/**
 * Which version a Model rolls out: the Model reconciler resolves the alias its spec follows, then
 * asks `decideTarget`. Pure; the table in test/controllers/model-target.test.ts covers every case.
 *
 * `spec.modelRef` has three shapes:
 * - fixed (`version`, no `alias`; the construct's `registry: 'fraud@2'`): exactly that version.
 *   This is how a human forces a version, older ones included. The champion alias is left alone.
 * - following (`alias`, no `version`; 'fraud@champion', or 'fraud' = 'latest'): the alias's version.
 * - pinned and following (both; what the construct emits once models.lock.json pins the model): the
 *   pin is the promoted baseline, the alias is where new candidates come from. The alias's version
 *   is the target when it is newer than the baseline and has not failed its canary; otherwise the
 *   baseline. The baseline is the pin, or the version already serving when that is newer (a pin
 *   behind what serves, because the write-back is still pending or a human reverted it in Git,
 *   never rolls the Model back: only a fixed reference does). Nothing served yet: the pin, so a
 *   fresh cluster starts from the promoted version and canaries anything newer against it. The
 *   alias unresolvable (registry down, alias deleted): no new information, so the baseline, or the
 *   canary already in flight; never an error, never a withdrawn canary.
 *
 * A version that failed its canary (status.lastFailedVersion) is not retried: for a pinned Model
 * it is never chosen here; for the other shapes the canary planner does not start a rollout of its
 * `rejectedVersion` until the target moves on (planners/canary.ts, step 1).
 */
import type { ModelRef, ModelStatus } from '../../api/crds/types.ts';

export type TargetRule = 'fixed' | 'alias' | 'pin' | 'serving' | 'canary';

export interface TargetDecision {
  /** The version to roll out; undefined when none is known (an alias not resolved, no pin). */
  readonly target?: number;
  /** Whether promotions move the registry's `champion` alias (the spec follows another alias). */
  readonly manageAlias: boolean;
  /** Which rule chose the target, for logs and tests. */
  readonly rule: TargetRule;
}

/** The alias a spec follows for new versions; undefined for a fixed version. */
export function followedAlias(ref: ModelRef): string | undefined {
  return ref.version === undefined ? (ref.alias ?? 'latest') : ref.alias;
}

/**
 * @param ref the Model's spec.modelRef
 * @param aliasVersion what the registry resolved `followedAlias(ref)` to; undefined when it could not
 * @param status the rollout state so far (stable, canary in flight, last failed version)
 */
export function decideTarget(
  ref: ModelRef,
  aliasVersion: number | undefined,
  status: Pick<ModelStatus, 'stableVersion' | 'canaryVersion' | 'lastFailedVersion'> = {},
): TargetDecision {
  const alias = followedAlias(ref);
  if (alias === undefined) return { target: ref.version, manageAlias: false, rule: 'fixed' };
  const manageAlias = alias !== 'champion';
  const pin = ref.version;
  if (pin === undefined) return { target: aliasVersion, manageAlias, rule: 'alias' };
  const stable = status.stableVersion;
  if (stable === undefined) return { target: pin, manageAlias, rule: 'pin' };
  const base: TargetDecision = stable > pin ? { target: stable, manageAlias, rule: 'serving' } : { target: pin, manageAlias, rule: 'pin' };
  if (aliasVersion === undefined) {
    const canary = status.canaryVersion;
    return canary !== undefined && canary > base.target! ? { target: canary, manageAlias, rule: 'canary' } : base;
  }
  if (aliasVersion > base.target! && aliasVersion !== status.lastFailedVersion) return { target: aliasVersion, manageAlias, rule: 'alias' };
  return base;
}

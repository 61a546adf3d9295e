/**
 * Kubernetes-style status conditions, computed purely. `lastTransitionTime` changes only when a
 * condition's status flips; reason and message updates keep the old time.
 */
import type { Condition, ConditionStatus } from '../../api/crds/types.ts';

export interface ConditionInput {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
}

/** RFC 3339 with second precision, as the API server stores metav1.Time. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Returns `existing` with `inputs` merged in (by type, in the order: existing types first, then new
 * ones). A condition keeps its lastTransitionTime unless its status changes.
 */
export function setConditions(
  existing: readonly Condition[] | undefined,
  inputs: readonly ConditionInput[],
  now: number,
  observedGeneration?: number,
): Condition[] {
  const out: Condition[] = [...(existing ?? [])];
  for (const c of inputs) {
    const i = out.findIndex((o) => o.type === c.type);
    const prev = i >= 0 ? out[i] : undefined;
    const next: Condition = {
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
      lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : rfc3339(now),
      ...(observedGeneration !== undefined ? { observedGeneration } : {}),
    };
    if (i >= 0) out[i] = next;
    else out.push(next);
  }
  return out;
}

export function getCondition(conds: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conds?.find((c) => c.type === type);
}

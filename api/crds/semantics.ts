/**
 * Checks of a ghosteam object that its JSON Schema cannot state (the order of canary steps, replica
 * bounds against each other). validateGhosteamObject runs them after the schema, so `ghosteam synth`,
 * `ghosteam validate` and the operator refuse the same objects with the same words: nothing valid in
 * Git is refused later. Pure.
 */
import type { FieldError } from './validate.ts';

type Rollout = { strategy?: unknown; steps?: unknown };
type Autoscaling = { minReplicas?: unknown; maxReplicas?: unknown };

/** Problems of `spec.rollout.steps`: whole percents from 1 to 100, strictly increasing, the last 100 (a canary ends with all traffic on it). */
export function rolloutStepErrors(rollout: Rollout | undefined, field = 'spec.rollout'): FieldError[] {
  if (!rollout || rollout.strategy !== 'canary' || !Array.isArray(rollout.steps)) return [];
  const steps = rollout.steps as unknown[];
  if (steps.length === 0) return [{ field: `${field}.steps`, message: 'is empty; give the canary percentages ending at 100, e.g. [10, 50, 100]' }];
  const out: FieldError[] = [];
  for (const [i, s] of steps.entries()) {
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > 100) {
      out.push({ field: `${field}.steps[${i}]`, message: `(${String(s)}) must be a whole percent from 1 to 100` });
      continue;
    }
    const prev = steps[i - 1];
    if (i > 0 && typeof prev === 'number' && s <= prev)
      out.push({
        field: `${field}.steps[${i}]`,
        message: `(${s}) is not above the step before it (${prev}); canary steps must strictly increase, e.g. [10, 50, 100]`,
      });
  }
  const last = steps[steps.length - 1];
  if (out.length === 0 && last !== 100)
    out.push({
      field: `${field}.steps[${steps.length - 1}]`,
      message: `(${String(last)}) is the last step, but a canary ends at 100; append 100 (e.g. [${[...steps, 100].join(', ')}])`,
    });
  return out;
}

/** Problems of `spec.autoscaling` the schema's per-field bounds cannot see: minReplicas above maxReplicas. */
export function replicaBoundErrors(a: Autoscaling | undefined, field = 'spec.autoscaling'): FieldError[] {
  if (!a || typeof a.minReplicas !== 'number' || typeof a.maxReplicas !== 'number') return [];
  if (a.minReplicas > a.maxReplicas)
    return [
      {
        field: `${field}.maxReplicas`,
        message: `(${a.maxReplicas}) is below minReplicas (${a.minReplicas}); raise maxReplicas to at least ${a.minReplicas} or lower minReplicas`,
      },
    ];
  return [];
}

/** Every check of this file for one object that already passed its schema. */
export function semanticErrors(obj: { kind?: unknown; spec?: unknown }): FieldError[] {
  if (obj.kind !== 'Model') return [];
  const spec = (obj.spec ?? {}) as { rollout?: Rollout; autoscaling?: Autoscaling };
  return [...rolloutStepErrors(spec.rollout), ...replicaBoundErrors(spec.autoscaling)];
}

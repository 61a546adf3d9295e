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

/** A Kubernetes CRD validation rule (x-kubernetes-validations): CEL, run by the kube-apiserver itself. */
export interface CelRule {
  readonly rule: string;
  readonly message: string;
  readonly fieldPath?: string;
  readonly reason?: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueForbidden' | 'FieldValueDuplicate';
}

/**
 * The checks above as CEL, on `spec.rollout` (self = the rollout): the CRD carries them
 * (types.ts attaches them, api/crds/structural.ts keeps them), so the real kube-apiserver refuses
 * what `validate`, `synth` and the operator refuse. test/controllers/crd-cel.test.ts holds the
 * two to the same verdicts on the same objects.
 */
export const ROLLOUT_CEL_RULES: readonly CelRule[] = [
  {
    rule: "self.strategy != 'canary' || size(self.steps) > 0",
    message: 'is empty; give the canary percentages ending at 100, e.g. [10, 50, 100]',
    fieldPath: '.steps',
    reason: 'FieldValueInvalid',
  },
  {
    // Strictly increasing = sorted (Kubernetes' CEL list library) and no value twice.
    rule: "self.strategy != 'canary' || (self.steps.isSorted() && self.steps.all(s, self.steps.exists_one(t, t == s)))",
    message: 'must strictly increase, e.g. [10, 50, 100]',
    fieldPath: '.steps',
    reason: 'FieldValueInvalid',
  },
  {
    rule: "self.strategy != 'canary' || size(self.steps) == 0 || self.steps[size(self.steps) - 1] == 100",
    message: 'must end at 100: a canary ends with all traffic on it; append 100',
    fieldPath: '.steps',
    reason: 'FieldValueInvalid',
  },
];

/** replicaBoundErrors as CEL, on `spec.autoscaling` (self = the autoscaling). */
export const AUTOSCALING_CEL_RULES: readonly CelRule[] = [
  {
    rule: 'self.minReplicas <= self.maxReplicas',
    message: 'is below minReplicas; raise maxReplicas to at least minReplicas or lower minReplicas',
    fieldPath: '.maxReplicas',
    reason: 'FieldValueInvalid',
  },
];

/** A canary quality check needs a limit: an absolute threshold, a maxDegradation against the stable version, or both. */
export function rolloutQualityErrors(
  rollout: { thresholds?: { quality?: { threshold?: unknown; maxDegradation?: unknown } } } | undefined,
  field = 'spec.rollout',
): FieldError[] {
  const q = rollout?.thresholds?.quality;
  if (!q || q.threshold !== undefined || q.maxDegradation !== undefined) return [];
  return [
    {
      field: `${field}.thresholds.quality`,
      message: 'has no limit; give a threshold (e.g. 0.85 for accuracy) or a maxDegradation against the stable version (e.g. 0.02), or both',
    },
  ];
}

/** Every check of this file for one object that already passed its schema. */
export function semanticErrors(obj: { kind?: unknown; spec?: unknown }): FieldError[] {
  if (obj.kind !== 'Model') return [];
  const spec = (obj.spec ?? {}) as { rollout?: Rollout & Parameters<typeof rolloutQualityErrors>[0]; autoscaling?: Autoscaling };
  return [...rolloutStepErrors(spec.rollout), ...rolloutQualityErrors(spec.rollout), ...replicaBoundErrors(spec.autoscaling)];
}

/**
 * Early stopping on intermediate values (a trial's per-epoch training loss, or any metric it
 * reports per step): pure rules that decide, when a trial reports `value` at `step`, whether it
 * stops. Two rules, as Optuna defines them:
 *  - ASHA (asynchronous successive halving, Li et al. 2020, the stopping variant): rungs at
 *    minResource · η^(s+k) steps; at a rung a trial goes on only while its value is among the best
 *    1/η of the values recorded at that rung (its own included), so a lone or early trial goes on;
 *  - Hyperband (Li et al. 2018, as Optuna's HyperbandPruner): ASHA in several brackets that trade how
 *    many trials are tried against how early they are judged; bracket b has its first rung at
 *    minResource · η^b, there are ⌊log_η(maxResource/minResource)⌋ + 1 brackets, and a trial is only
 *    compared with the trials of its own bracket. Trials go to brackets in turn (trial n to bracket
 *    n mod brackets), where Optuna draws a bracket from a hash weighted by the brackets' budgets;
 *  - median stopping: after `startupTrials` complete trials and `warmupSteps` steps, a trial stops
 *    when its best value so far is worse than the median of the complete trials' values at that step.
 * Each decision comes with a sentence that says why.
 */
import type { Direction, TrialView } from './samplers.ts';

export type EarlyStoppingSpec =
  | {
      readonly kind: 'asha';
      /** Steps (epochs) before the first rung. @default 1 */
      readonly minResource: number;
      /** η: the share kept at each rung is 1/η. @default 3 */
      readonly reductionFactor: number;
      /** s: the first rung is at minResource · η^s. @default 0 */
      readonly minEarlyStoppingRate: number;
      readonly metric: string;
      readonly direction: Direction;
    }
  | {
      readonly kind: 'hyperband';
      /** Steps before the first rung of the most aggressive bracket. @default 1 */
      readonly minResource: number;
      /** The steps a trial trains for in full (the task's epochs). */
      readonly maxResource: number;
      /** η. @default 3 */
      readonly reductionFactor: number;
      readonly metric: string;
      readonly direction: Direction;
    }
  | {
      readonly kind: 'median';
      /** Complete trials needed before any trial is stopped. @default 5 */
      readonly startupTrials: number;
      /** Steps a trial always gets. @default 0 */
      readonly warmupSteps: number;
      readonly metric: string;
      readonly direction: Direction;
    };

/** The intermediate metric a training task reports per epoch (train-tabular's progress `loss`). */
export const DEFAULT_INTERMEDIATE = { metric: 'loss', direction: 'minimize' } as const;

export interface PruneDecision {
  readonly prune: boolean;
  /** Why, in a sentence (also when it goes on). */
  readonly reason: string;
}

/** The rung index of `step` (1-based steps), or -1 when step is no rung. */
export function ashaRung(step: number, minResource: number, eta: number, s: number): number {
  for (let k = 0; k < 64; k++) {
    const r = minResource * Math.pow(eta, s + k);
    if (Math.abs(r - step) < 1e-9) return k;
    if (r > step) return -1;
  }
  return -1;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}

/** The number of Hyperband brackets: ⌊log_η(maxResource/minResource)⌋ + 1. */
export function hyperbandBrackets(minResource: number, maxResource: number, eta: number): number {
  return Math.floor(Math.log(maxResource / minResource) / Math.log(eta) + 1e-9) + 1;
}

/** The Hyperband bracket of trial `number` (also its first rung's exponent). */
export function hyperbandBracket(number: number, brackets: number): number {
  return number % brackets;
}

/**
 * Whether the trial stops at `step` with `value`. `others`: the trials the decision may see (not the
 * trial itself), with their intermediate values.
 */
export function decidePrune(rule: EarlyStoppingSpec, step: number, value: number, trial: TrialView, others: readonly TrialView[]): PruneDecision {
  const better = (a: number, b: number): boolean => (rule.direction === 'minimize' ? a < b : a > b);
  if (!Number.isFinite(value)) return { prune: true, reason: `${rule.metric} is ${value} at step ${step}` };
  if (rule.kind === 'hyperband') {
    const n = hyperbandBrackets(rule.minResource, rule.maxResource, rule.reductionFactor);
    const b = hyperbandBracket(trial.number, n);
    // A trial that trained in full is judged by its objective, not stopped (the last bracket never stops one).
    if (step >= rule.maxResource) return { prune: false, reason: `bracket ${b} of ${n}, step ${step} is the full budget` };
    const d = decidePrune(
      {
        kind: 'asha',
        minResource: rule.minResource,
        reductionFactor: rule.reductionFactor,
        minEarlyStoppingRate: b,
        metric: rule.metric,
        direction: rule.direction,
      },
      step,
      value,
      trial,
      others.filter((t) => hyperbandBracket(t.number, n) === b),
    );
    return { prune: d.prune, reason: `bracket ${b} of ${n}, ${d.reason}` };
  }
  if (rule.kind === 'asha') {
    const k = ashaRung(step, rule.minResource, rule.reductionFactor, rule.minEarlyStoppingRate);
    if (k < 0) return { prune: false, reason: `step ${step} is no rung` };
    const at = others.map((t) => t.intermediate?.[String(step)]).filter((v): v is number => v !== undefined && Number.isFinite(v));
    const competing = [...at, value].sort((a, b) => (rule.direction === 'minimize' ? a - b : b - a));
    const keep = Math.max(1, Math.floor(competing.length / rule.reductionFactor));
    const cut = competing[keep - 1];
    const goesOn = !better(cut, value);
    return {
      prune: !goesOn,
      reason: `rung ${k} (step ${step}): ${rule.metric} ${fmt(value)} ${goesOn ? 'is' : 'is not'} among the best ${keep} of ${competing.length} (cut ${fmt(cut)})`,
    };
  }
  if (step <= rule.warmupSteps) return { prune: false, reason: `warm-up (step ${step} of ${rule.warmupSteps})` };
  const complete = others.filter((t) => t.state === 'Complete');
  if (complete.length < rule.startupTrials) return { prune: false, reason: `${complete.length} of ${rule.startupTrials} start-up trials complete` };
  const at = complete
    .map((t) => t.intermediate?.[String(step)])
    .filter((v): v is number => v !== undefined && Number.isFinite(v))
    .sort((a, b) => a - b);
  if (at.length === 0) return { prune: false, reason: `no complete trial reached step ${step}` };
  const median = at.length % 2 ? at[(at.length - 1) / 2] : (at[at.length / 2 - 1] + at[at.length / 2]) / 2;
  const own = Object.entries(trial.intermediate ?? {})
    .filter(([s]) => Number(s) <= step)
    .map(([, v]) => v)
    .concat(value);
  const best = own.reduce((a, b) => (better(b, a) ? b : a));
  const worse = better(median, best);
  return {
    prune: worse,
    reason: `step ${step}: best ${rule.metric} so far ${fmt(best)} is ${worse ? 'worse than' : 'no worse than'} the median ${fmt(median)} of ${at.length} complete trials`,
  };
}

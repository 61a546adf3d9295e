/**
 * The sweep controller of a cluster sweep (pipelines/tuning/argo-sweep.ts): the step that runs
 * between rounds of trials, reads the last round's results, decides which trials stop, and proposes
 * the next round. Pure: its whole state travels as JSON through the workflow (an Argo parameter), so
 * a step that is retried computes the same answer.
 *
 * Rounds. Without early stopping, a round proposes up to `parallelism` new trials from every trial
 * finished so far (the same samplers as the local engine, components/tuning/samplers.ts); the sweep
 * ends when the budget of trials is spent or the grid is exhausted.
 * With ASHA (Hyperband: the same in each bracket, components/tuning/pruners.ts), the rounds are the rungs of successive halving, run synchronously (Argo cannot stop a
 * running pod on another pod's result, so a rung is a round): round 0 trains every trial for
 * minResource·η^s epochs; each next round trains the best ⌊n/η⌋ of the last rung (by the
 * intermediate metric the trial task reports as an output param, e.g. valLoss) for η times as many
 * epochs, up to the task's own epochs, where the objective decides. The others are Pruned at their
 * rung. A trial of a later rung trains from the start again (no checkpoint is carried between pods):
 * the compute is Σ rungs n_k·r_k, still a fraction of training every trial to the end.
 *
 * Epoch budget (`budget.epochs`, components/tuning/budget.ts). Every epoch a round's pods train is
 * charged when the round is proposed (a failed trial's too: what it trained is not known). Without
 * early stopping a trial (its full epochs) starts only when it fits; with ASHA, round 0 starts as
 * many trials as successive halving can take to the end within the budget (plannedEpochs), and a
 * trial is promoted only when its next rung fits (else Pruned, the message says the budget).
 *
 * Failures. A trial whose pods fail returns no result (the round's step continues on failure); the
 * controller records it as Failed and proposes on without it (a sampler sees it as failed, a rung
 * promotes among the trials that reported). Only when no trial completes does the step fail, with
 * the counts and the first failure (`noneCompleted`), and the sweep with it.
 */
import type { ParamValue } from '../component.ts';
import { propose, type TrialView } from './samplers.ts';
import { hyperbandBracket, hyperbandBrackets, type EarlyStoppingSpec } from './pruners.ts';
import type { AlgorithmSpec, Direction } from './samplers.ts';
import type { SpaceSpec } from './space.ts';

/** The parts of the sweep IR (pipelines/tuning/sweep.ts SweepSpec) the controller reads. */
export interface ControllerSweep {
  readonly path: string;
  readonly space: SpaceSpec;
  readonly objective: { readonly metric: string; readonly direction: Direction };
  readonly algorithm: AlgorithmSpec;
  readonly earlyStopping?: EarlyStoppingSpec;
  readonly budget: { readonly trials: number; readonly parallelism: number; readonly epochs?: number };
}

/** What the controller needs beyond the sweep: how a trial's compute is bounded and read. */
export interface ControllerSpec {
  readonly sweep: ControllerSweep;
  /** With early stopping or an epoch budget: the trial task's param that bounds its epochs, and its full value. */
  readonly resource?: { readonly param: string; readonly max: number };
  /** The trial task's own value of each swept param, for a conditional one that is inactive (a loop item has every key). */
  readonly defaults?: Readonly<Record<string, ParamValue>>;
}

export interface ControllerTrial {
  readonly number: number;
  readonly params: Record<string, ParamValue>;
  state: 'Running' | 'Complete' | 'Pruned' | 'Failed';
  /** The rung (ASHA, Hyperband) the trial is at, its bracket (Hyperband), and the epochs it trains for there. */
  rung: number;
  bracket?: number;
  epochs?: number;
  value?: number;
  /** Intermediate value at each rung reached (ASHA). */
  rungValues: number[];
  message?: string;
}

export interface ControllerState {
  readonly version: 1;
  round: number;
  trials: ControllerTrial[];
  /** The trial numbers of the round now running, in the order of its items (Argo keeps it for the results). */
  running: number[];
  exhausted: boolean;
  /** With an epoch budget: the epochs the rounds proposed so far train (a later rung from the start), never above the budget. */
  epochsSpent?: number;
}

/** One trial of a round, as the workflow's loop item: the swept params, the trial number, the epochs. */
export type RoundItem = Record<string, ParamValue>;

export interface ControllerOutput {
  readonly state: ControllerState;
  /** The next round's items (empty when done). */
  readonly items: RoundItem[];
  readonly done: boolean;
  /** When done: the best trial's params, as a one-item list (the final run's loop). A sweep none of whose trials completed is an error instead. */
  readonly final: RoundItem[];
  readonly best?: { readonly number: number; readonly value: number; readonly params: Record<string, ParamValue> };
  /** With an epoch budget: the budget and the epochs spent, the next round's included. */
  readonly budget?: { readonly epochs: number; readonly spent: number };
}

/** Output params of a trial, as Argo aggregates them (`{{steps.trial.outputs.parameters}}`): strings. */
export type RoundResult = Readonly<Record<string, string | number | null | undefined>>;

export const TRIAL_NUMBER_ITEM = 'trial';
export const RESULT_VALUE = 'value';
export const RESULT_INTERMEDIATE = 'intermediate';
/** The trial number a result carries back (the trial's own input), so a failed trial's missing result is seen. */
export const RESULT_TRIAL = TRIAL_NUMBER_ITEM;

const num = (v: string | number | null | undefined): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};

function rungEpochs(spec: ControllerSpec, rung: number, bracket: number): number {
  const es = spec.sweep.earlyStopping!;
  if (es.kind === 'median') throw new Error(`${spec.sweep.path}: the cluster controller stops early with ASHA or Hyperband only`);
  const s0 = es.kind === 'asha' ? es.minEarlyStoppingRate : bracket;
  const r = es.minResource * Math.pow(es.reductionFactor, s0 + rung);
  return Math.min(spec.resource!.max, Math.round(r));
}

/** The bracket of trial n: Hyperband's in turn (components/tuning/pruners.ts), ASHA's only one. */
function bracketOf(spec: ControllerSpec, n: number): number {
  const es = spec.sweep.earlyStopping;
  return es?.kind === 'hyperband' ? hyperbandBracket(n, hyperbandBrackets(es.minResource, es.maxResource, es.reductionFactor)) : 0;
}

/**
 * The epochs synchronous successive halving spends when it starts `n` trials: per bracket, the m_k
 * trials of rung k train rungEpochs(k) each (from the start), m_0 the bracket's trials and
 * m_(k+1) = max(1, ⌊m_k/η⌋), until a rung trains the full epochs. Failures only make it less.
 */
export function plannedEpochs(spec: ControllerSpec, n: number): number {
  const es = spec.sweep.earlyStopping!;
  if (es.kind === 'median') throw new Error(`${spec.sweep.path}: the cluster controller stops early with ASHA or Hyperband only`);
  const perBracket = new Map<number, number>();
  for (let i = 0; i < n; i++) perBracket.set(bracketOf(spec, i), (perBracket.get(bracketOf(spec, i)) ?? 0) + 1);
  let total = 0;
  for (const [bracket, m0] of perBracket) {
    let m = m0;
    for (let rung = 0; ; rung++) {
      const e = rungEpochs(spec, rung, bracket);
      total += m * e;
      if (e >= spec.resource!.max) break;
      m = Math.max(1, Math.floor(m / es.reductionFactor));
    }
  }
  return total;
}

function item(spec: ControllerSpec, t: ControllerTrial): RoundItem {
  return {
    ...spec.defaults,
    ...t.params,
    [TRIAL_NUMBER_ITEM]: t.number,
    ...(spec.resource && t.epochs !== undefined ? { [spec.resource.param]: t.epochs } : {}),
  };
}

function bestOf(trials: readonly ControllerTrial[], direction: 'minimize' | 'maximize'): ControllerTrial | undefined {
  let best: ControllerTrial | undefined;
  for (const t of trials)
    if (t.state === 'Complete' && t.value !== undefined && (!best || (direction === 'minimize' ? t.value < best.value! : t.value > best.value!))) best = t;
  return best;
}

/** Why a sweep whose trials all ended without a value fails: the counts and the first failure's reason. */
export function noneCompleted(path: string, trials: readonly { readonly number: number; readonly state: string; readonly message?: string }[]): string {
  const failed = trials.filter((t) => t.state === 'Failed');
  const pruned = trials.filter((t) => t.state === 'Pruned').length;
  if (trials.length > 0 && failed.length === trials.length)
    return `${path}: every trial failed (${trials.length} of ${trials.length}), so there is no best model; trial ${failed[0].number}: ${failed[0].message ?? 'failed'}`;
  return `${path}: no trial completed (${trials.length} ran: ${failed.length} failed, ${pruned} pruned), so there is no best model${failed.length ? `; trial ${failed[0].number}: ${failed[0].message ?? 'failed'}` : ''}`;
}

/** How many of the first trials failing the same way, with none complete, stop a local sweep. */
export const SAME_FAILURE_TRIALS = 3;

/**
 * Why a sweep should stop rather than go on failing: no trial has completed or been pruned, and its
 * first `k` trials (numbers 0 … k−1) have all finished, all failed, and with the same message — a bug in the trial task or its setup, which
 * every later trial would repeat (a failure that depends on the params says so in its message, e.g.
 * the value that diverged, and does not stop the sweep); failures in a step every trial shares are
 * left to their own rule (`inSharedStep`). Undefined while that is not so.
 */
export function sameFailure(
  path: string,
  trials: readonly { readonly number: number; readonly state: string; readonly message?: string; readonly inSharedStep?: boolean }[],
  k = SAME_FAILURE_TRIALS,
): string | undefined {
  if (trials.some((t) => t.state === 'Complete' || t.state === 'Pruned')) return undefined;
  const first = Array.from({ length: k }, (_, n) => trials.find((t) => t.number === n));
  // A failure in a step every trial runs unchanged (ingest, split) has its own rule: it stops the
  // sweep when a retry cannot fix it, and a transient one may pass for the next trial.
  if (first.some((t) => t?.state !== 'Failed' || t.inSharedStep)) return undefined;
  const message = first[0]!.message ?? '';
  if (!message || first.some((t) => t!.message !== message)) return undefined;
  return `${path}: the first ${k} trials all failed the same way and none completed, so the sweep stopped rather than fail every trial alike; fix the trial task and run the sweep again: ${message}`;
}

/** One controller step: apply the last round's results, then propose the next round. */
export function controllerStep(spec: ControllerSpec, prev: ControllerState | null, results: readonly RoundResult[]): ControllerOutput {
  const s = spec.sweep;
  const state: ControllerState = prev ? structuredClone(prev) : { version: 1, round: -1, trials: [], running: [], exhausted: false };
  const es = s.earlyStopping;
  if (es?.kind === 'median') throw new Error(`${s.path}: the cluster controller stops early with ASHA or Hyperband only; use EarlyStopping.asha()`);
  if (es && !spec.resource) throw new Error(`${s.path}: ASHA on a cluster needs the trial task's epochs param (resource)`);
  const budget = s.budget.epochs;
  if (budget !== undefined && !spec.resource) throw new Error(`${s.path}: an epoch budget on a cluster needs the trial task's epochs param (resource)`);
  if (budget !== undefined) state.epochsSpent ??= 0;
  /** Charges `epochs` to the budget when they fit; false (nothing charged) when they do not. */
  const charge = (epochs: number): boolean => {
    if (budget === undefined) return true;
    if (state.epochsSpent! + epochs > budget) return false;
    state.epochsSpent! += epochs;
    return true;
  };
  const byNumber = new Map(state.trials.map((t) => [t.number, t]));
  const ran = state.running.map((n) => byNumber.get(n)!);
  // A failed trial leaves no outputs (Argo aggregates only the succeeded ones): each result names
  // its trial, and a trial of the round without one failed. The sweep goes on without it.
  const resultOf = new Map<number, RoundResult>();
  for (const r of results) {
    const n = num(r[RESULT_TRIAL]);
    if (n === undefined || !state.running.includes(n))
      throw new Error(
        `${s.path}: round ${state.round} ran trials ${state.running.join(', ') || 'none'}, but a result names trial ${JSON.stringify(r[RESULT_TRIAL] ?? null)}`,
      );
    resultOf.set(n, r);
  }
  ran.forEach((t) => {
    const r = resultOf.get(t.number);
    if (!r) {
      t.state = 'Failed';
      t.message = `failed at ${t.epochs !== undefined ? `${t.epochs} epochs` : 'its run'}: the trial gave no result (its pods failed; the workflow's trial node says why)`;
      return;
    }
    if (!es) {
      const v = num(r[RESULT_VALUE]);
      if (v === undefined) {
        t.state = 'Failed';
        t.message = `objective '${s.objective.metric}' came back as ${JSON.stringify(r[RESULT_VALUE] ?? null)}, not a number`;
      } else {
        t.state = 'Complete';
        t.value = v;
      }
      return;
    }
    const v = num(r[RESULT_INTERMEDIATE]);
    if (v === undefined) {
      t.state = 'Failed';
      t.message = `intermediate '${es.metric}' came back as ${JSON.stringify(r[RESULT_INTERMEDIATE] ?? null)}, not a number`;
      return;
    }
    t.rungValues[t.rung] = v;
    if (t.epochs! >= spec.resource!.max) {
      const o = num(r[RESULT_VALUE]);
      if (o === undefined) {
        t.state = 'Failed';
        t.message = `objective '${s.objective.metric}' came back as ${JSON.stringify(r[RESULT_VALUE] ?? null)}, not a number`;
      } else {
        t.state = 'Complete';
        t.value = o;
      }
    }
  });
  state.round++;
  state.running = [];
  const items: ControllerTrial[] = [];
  if (!es) {
    const finished = (): TrialView[] =>
      state.trials
        .filter((t) => t.state !== 'Running')
        .map((t) => ({ number: t.number, params: t.params, state: t.state, ...(t.value !== undefined ? { value: t.value } : {}) }));
    const history = finished();
    while (!state.exhausted && state.trials.length < s.budget.trials && items.length < s.budget.parallelism) {
      const n = state.trials.length;
      // Every trial trains in full; one that does not fit the epochs left is not started.
      if (!charge(spec.resource?.max ?? 0)) break;
      const params = propose(s.algorithm, s.space, history, n, s.objective.direction);
      if (!params) {
        state.exhausted = true;
        break;
      }
      const t: ControllerTrial = { number: n, params, state: 'Running', rung: 0, rungValues: [] };
      state.trials.push(t);
      items.push(t);
    }
  } else if (state.round === 0) {
    // Rung 0: every trial of the budget, proposed up front (a sampler learns nothing within a rung);
    // with an epoch budget, as many as successive halving can take to the end within it.
    let count = s.budget.trials;
    if (budget !== undefined) {
      // The planned epochs grow with the trials: the most that fit, by bisection.
      let lo = 0;
      let hi = count;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (plannedEpochs(spec, mid) <= budget) lo = mid;
        else hi = mid - 1;
      }
      count = lo;
    }
    for (let n = 0; n < count; n++) {
      const params = propose(s.algorithm, s.space, [], n, s.objective.direction);
      if (!params) break;
      const bracket = bracketOf(spec, n);
      const t: ControllerTrial = { number: n, params, state: 'Running', rung: 0, bracket, epochs: rungEpochs(spec, 0, bracket), rungValues: [] };
      if (!charge(t.epochs!)) break;
      state.trials.push(t);
      items.push(t);
    }
  } else {
    // Promote the best 1/η of the rung just run, within each bracket; the rest stop there.
    const groups = new Map<number, ControllerTrial[]>();
    for (const t of ran.filter((x) => x.state === 'Running')) groups.set(t.bracket ?? 0, [...(groups.get(t.bracket ?? 0) ?? []), t]);
    const eta = es.reductionFactor;
    for (const rung of groups.values()) {
      const better = (a: number, b: number): number => (es.direction === 'minimize' ? a - b : b - a);
      const sorted = [...rung].sort((a, b) => better(a.rungValues[a.rung], b.rungValues[b.rung]) || a.number - b.number);
      const keep = Math.max(1, Math.floor(sorted.length / eta));
      const cut = sorted[keep - 1].rungValues[sorted[keep - 1].rung];
      const where = es.kind === 'hyperband' ? `bracket ${rung[0].bracket ?? 0}, ` : '';
      sorted.forEach((t, i) => {
        const at = t.epochs!;
        const up = rungEpochs(spec, t.rung + 1, t.bracket ?? 0);
        if (i < keep && !charge(up)) {
          // A later rung trains from the start: it needs all its epochs from the budget.
          t.state = 'Pruned';
          t.message = `stopped at step ${at}: ${where}rung ${t.rung} passed, but the epoch budget has ${budget! - state.epochsSpent!} of ${budget} epochs left and the next rung trains ${up}`;
        } else if (i < keep) {
          t.rung++;
          t.epochs = up;
          items.push(t);
        } else {
          t.state = 'Pruned';
          t.message = `pruned at step ${at}: ${where}rung ${t.rung} (step ${at}): ${es.metric} ${t.rungValues[t.rung]} is not among the best ${keep} of ${sorted.length} (cut ${cut})`;
        }
      });
    }
    items.sort((a, b) => a.number - b.number);
  }
  state.running = items.map((t) => t.number);
  const done = items.length === 0;
  const best = bestOf(state.trials, s.objective.direction);
  if (done && !best) throw new Error(noneCompleted(s.path, state.trials));
  return {
    state,
    items: items.map((t) => item(spec, t)),
    done,
    final: done && best ? [{ ...spec.defaults, ...best.params, ...(spec.resource ? { [spec.resource.param]: spec.resource.max } : {}) }] : [],
    ...(best ? { best: { number: best.number, value: best.value!, params: best.params } } : {}),
    ...(budget !== undefined ? { budget: { epochs: budget, spent: state.epochsSpent! } } : {}),
  };
}

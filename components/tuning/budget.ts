/**
 * A sweep's budget of epochs (`budget: { epochs: N }`): the total training a sweep may spend, as
 * ASHA and Hyperband are usually run — they keep proposing trials until the budget is spent rather
 * than stopping after a fixed count. Pure: the rung schedule of a trial, and a ledger that never
 * lets the epochs spent plus the epochs promised to running trials go over the budget.
 *
 * A trial is promised epochs a rung at a time: it starts only when its first rung fits (no early
 * stopping, or median stopping: its full epochs), and at each rung it passes it goes on only when
 * the next rung fits; otherwise it stops there (Pruned, the message says the budget). A trial that
 * ends before its promise (stopped early, failed, a step-cache hit) gives the rest back.
 * The local engine (pipelines/local/sweep.ts) charges the epochs a trial reports; the cluster
 * controller (controller.ts) charges every epoch a round's pods train, a later rung from the start.
 */
import type { EarlyStoppingSpec } from './pruners.ts';
import { hyperbandBracket, hyperbandBrackets } from './pruners.ts';
import { TRAIN_TABULAR_DEFAULT_EPOCHS } from '../param-decls.ts';

/** The trial task's param that bounds its compute (ASHA's resource, the budget's unit). */
export const RESOURCE_PARAM = 'epochs';

/** The epochs a trial trains for in full: the task's literal `epochs`, or train-tabular's default. */
export function fullResource(t: {
  readonly params: Readonly<Record<string, { readonly kind: string; readonly value?: unknown }>>;
  readonly component?: { readonly name: string };
}): number | undefined {
  const r = t.params[RESOURCE_PARAM];
  if (r?.kind === 'literal' && typeof r.value === 'number') return r.value;
  if (r === undefined && t.component?.name === 'train-tabular') return TRAIN_TABULAR_DEFAULT_EPOCHS;
  return undefined;
}

/**
 * The steps at which trial `number` is judged and may be stopped, ascending, the last its full
 * epochs `max`: ASHA's rungs minResource·η^(s+k) below max (Hyperband's of the trial's bracket);
 * without early stopping, or with median stopping (which may stop a trial at any step), just [max].
 */
export function rungSteps(es: EarlyStoppingSpec | undefined, max: number, number: number): number[] {
  if (!es || es.kind === 'median') return [max];
  const s = es.kind === 'asha' ? es.minEarlyStoppingRate : hyperbandBracket(number, hyperbandBrackets(es.minResource, es.maxResource, es.reductionFactor));
  const out: number[] = [];
  for (let k = 0; k < 64; k++) {
    const r = Math.round(es.minResource * Math.pow(es.reductionFactor, s + k));
    if (r >= max) break;
    out.push(r);
  }
  out.push(max);
  return out;
}

/** The next rung after `step`, or undefined at or past the last. */
export function nextRung(rungs: readonly number[], step: number): number | undefined {
  return rungs.find((r) => r > step);
}

/** What a sweep's status says of its budget. */
export interface BudgetStatus {
  /** The budget, in epochs. */
  readonly epochs: number;
  /** Epochs trained so far. */
  readonly spent: number;
  /** Epochs promised to running trials beyond what they trained. */
  readonly reserved: number;
}

/**
 * The ledger: per trial, the epochs trained and the epochs promised (its cap). Committed =
 * Σ max(cap, trained) over running trials + Σ trained over finished ones; a promise is made only
 * when it keeps committed ≤ the budget.
 */
export class EpochLedger {
  private readonly trials = new Map<number, { cap: number; trained: number; running: boolean }>();
  constructor(readonly total: number) {
    if (!(Number.isInteger(total) && total >= 1)) throw new Error(`an epoch budget must be a whole number of epochs, at least 1 (got ${total})`);
  }

  /** Epochs that may still be promised. */
  left(): number {
    return this.total - this.committed();
  }

  private committed(): number {
    let c = 0;
    for (const t of this.trials.values()) c += t.running ? Math.max(t.cap, t.trained) : t.trained;
    return c;
  }

  /** Promises trial `n` its first `epochs`; false (nothing changes) when they do not fit. */
  start(n: number, epochs: number): boolean {
    if (this.trials.has(n)) throw new Error(`trial ${n} was already started`);
    if (epochs > this.left()) return false;
    this.trials.set(n, { cap: epochs, trained: 0, running: true });
    return true;
  }

  /** Raises trial `n`'s promise to `cap` epochs (its next rung); false (nothing changes) when the extra does not fit. */
  extend(n: number, cap: number): boolean {
    const t = this.get(n);
    const extra = cap - Math.max(t.cap, t.trained);
    if (extra > this.left()) return false;
    if (cap > t.cap) t.cap = cap;
    return true;
  }

  /** Records that trial `n` has trained `epochs` in all. */
  trained(n: number, epochs: number): void {
    const t = this.get(n);
    t.trained = Math.max(t.trained, epochs);
  }

  /** The epochs trial `n` was promised. */
  cap(n: number): number {
    return this.get(n).cap;
  }

  /** Trial `n` ended after `epochs` in all: the rest of its promise is given back. */
  finish(n: number, epochs: number): void {
    const t = this.get(n);
    t.trained = Math.max(t.trained, epochs);
    t.running = false;
  }

  /** Records a trial that ran before (a resumed sweep): `epochs` trained, finished. */
  record(n: number, epochs: number): void {
    this.trials.set(n, { cap: epochs, trained: epochs, running: false });
  }

  status(): BudgetStatus {
    let spent = 0;
    let reserved = 0;
    for (const t of this.trials.values()) {
      spent += t.trained;
      if (t.running) reserved += Math.max(0, t.cap - t.trained);
    }
    return { epochs: this.total, spent, reserved };
  }

  private get(n: number): { cap: number; trained: number; running: boolean } {
    const t = this.trials.get(n);
    if (!t) throw new Error(`trial ${n} was never started`);
    return t;
  }
}

/** The most trials an epoch budget can start: each costs at least its first rung. */
export function trialsWithin(epochs: number, es: EarlyStoppingSpec | undefined, max: number): number {
  // First rungs repeat with the trial number's bracket (Hyperband), else they are all the same.
  const period = es?.kind === 'hyperband' ? hyperbandBrackets(es.minResource, es.maxResource, es.reductionFactor) : 1;
  const firsts = Array.from({ length: period }, (_, n) => rungSteps(es, max, n)[0]);
  const cycle = firsts.reduce((a, b) => a + b, 0);
  let n = Math.floor(epochs / cycle) * period;
  let left = epochs - (n / period) * cycle;
  for (const f of firsts) {
    if (f > left) break;
    left -= f;
    n++;
  }
  return n;
}

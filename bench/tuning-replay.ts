/**
 * npm run bench:tuning-replay — how often ASHA sampling the space at random reaches grid search's best
 * within a quarter of its epochs on bench:tuning's task, over many seeds, and what another rule would
 * do. bench:tuning runs three seeds live; this replays many on recorded learning curves:
 *  1. Records the curves: the grid's 36 points and, per seed (BENCH_REPLAY_SEEDS, default 0–9), its
 *     first 150 random proposals, each trained in full (27 epochs), the held-out valLoss after every
 *     epoch (the engine's progress events). Training is seeded and deterministic and random proposals
 *     depend only on the seed and the trial number, so a curve is what that trial reports under any rule.
 *  2. Replays, per seed, under a budget of a quarter of the grid's epochs:
 *     - ASHA as ghosteam runs it: the stopping variant (Optuna's), η = 3, rungs 1/3/9/27, with the
 *       engine's own rule (pruners.ts decidePrune) and budget ledger (budget.ts); checked against a live
 *       sweep of the first seed (the same trials and best value, or the bench fails);
 *     - ASHA as Li et al. (2020) define it, the promotion variant: a trial pauses at its rung and is
 *       promoted (trains on from a checkpoint) once it is among the best 1/η there; ghosteam does not
 *       run it (its trial tasks do not checkpoint), so this is a simulation on the same curves;
 *     - the promotion variant restarting a promoted trial from scratch (what it costs without checkpoints).
 *  3. The first proposal of each seed that beats the grid's best: no rule that samples at random can
 *     find the grid's best before it has started that trial.
 * Prints a line per variant with the seeds that reached the grid's best; the last line is JSON:
 * seeds, gridBest, budgetEpochs, reached (stopping, promotionResumed, promotionRestarted: count, seeds,
 * epochsToGridBest and trials per seed), firstBeating (per seed).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSweep } from '../pipelines/local/sweep.ts';
import type { EngineEvent } from '../pipelines/local/types.ts';
import { decidePrune, type EarlyStoppingSpec } from '../components/tuning/pruners.ts';
import { EpochLedger, nextRung, rungSteps } from '../components/tuning/budget.ts';
import type { TrialView } from '../components/tuning/samplers.ts';
import { ASHA_BUDGET_SHARE, EPOCHS, FIRST_BEATING_CAP, fraudTuning, timedSweep } from './tuning-task.ts';

const SEEDS = (process.env.BENCH_REPLAY_SEEDS ?? '0,1,2,3,4,5,6,7,8,9').split(',').map(Number);
if (SEEDS.some((s) => !Number.isInteger(s) || s < 0))
  throw new Error(`BENCH_REPLAY_SEEDS='${process.env.BENCH_REPLAY_SEEDS}': give whole numbers ≥ 0, comma-separated`);
const log = (s: string): void => console.log(s);
const load = (): string => loadavg()[0].toFixed(1);

/** A trial's held-out loss after epochs 1 … EPOCHS (index e − 1). */
type Curve = readonly number[];
interface Outcome {
  readonly best: number;
  readonly trials: number;
  /** Epochs spent when a trial that beats the grid's best first finished its full training. */
  readonly epochsToGridBest: number | null;
}

/** Per-epoch valLoss of each trial of a sweep, from the engine's progress events, by trial number. */
function curveRecorder(): { onEvent: (e: EngineEvent) => void; curves: Map<number, number[]> } {
  const curves = new Map<number, number[]>();
  return {
    curves,
    onEvent: (e) => {
      if (e.type !== 'progress' || e.node !== 'train' || e.epoch === undefined) return;
      const v = e.valLoss;
      const n = Number(/-t(\d+)$/.exec(e.runId)?.[1]);
      if (typeof v !== 'number' || !Number.isInteger(n)) return;
      const c = curves.get(n) ?? [];
      c[e.epoch - 1] = v;
      curves.set(n, c);
    },
  };
}

/** ASHA as the local engine runs it, trials one at a time: the engine's prune rule and budget ledger on recorded curves. */
function replayStopping(curves: readonly Curve[], es: EarlyStoppingSpec, budget: number, target: number): Outcome {
  const ledger = new EpochLedger(budget);
  const seen: TrialView[] = [];
  let best = Infinity;
  let at: number | null = null;
  let n = 0;
  for (; n < curves.length; n++) {
    if (!ledger.start(n, rungSteps(es, EPOCHS, n)[0])) break;
    const t: TrialView & { intermediate: Record<string, number> } = { number: n, params: {}, state: 'Running', intermediate: {} };
    let steps = 0;
    for (let e = 1; e <= EPOCHS; e++) {
      steps = e;
      ledger.trained(n, e);
      const v = curves[n][e - 1];
      const stop = decidePrune(es, e, v, t, seen).prune;
      t.intermediate[String(e)] = v;
      if (stop) break;
      // At the end of its promise the trial goes on only when the next rung fits.
      if (e === ledger.cap(n) && e < EPOCHS && !ledger.extend(n, nextRung(rungSteps(es, EPOCHS, n), e) ?? EPOCHS)) break;
    }
    ledger.finish(n, steps);
    const complete = steps === EPOCHS;
    seen.push({ ...t, state: complete ? 'Complete' : 'Pruned', ...(complete ? { value: curves[n][EPOCHS - 1] } : {}) });
    if (complete) {
      best = Math.min(best, curves[n][EPOCHS - 1]);
      if (at === null && curves[n][EPOCHS - 1] <= target + 1e-9) at = ledger.status().spent;
    }
  }
  return { best, trials: n, epochsToGridBest: at };
}

/**
 * The promotion variant (Li et al. 2020, Algorithm 2), one worker: each job promotes the best
 * not-yet-promoted trial of the highest rung that has one among its best ⌊n/η⌋, else starts a new
 * trial at the first rung; a promoted trial trains from its rung on (`resume`) or from scratch.
 */
function replayPromotion(curves: readonly Curve[], rungs: readonly number[], eta: number, budget: number, target: number, resume: boolean): Outcome {
  const trials: { curve: Curve; steps: number }[] = [];
  let spent = 0;
  let best = Infinity;
  let at: number | null = null;
  for (;;) {
    let job: { trial: number; to: number } | undefined;
    for (let k = rungs.length - 2; k >= 0 && !job; k--) {
      const reached = trials.map((t, i) => ({ t, i })).filter((x) => x.t.steps >= rungs[k]);
      const top = reached.sort((a, b) => a.t.curve[rungs[k] - 1] - b.t.curve[rungs[k] - 1] || a.i - b.i).slice(0, Math.floor(reached.length / eta));
      const c = top.find((x) => x.t.steps === rungs[k]);
      const cost = resume ? rungs[k + 1] - rungs[k] : rungs[k + 1];
      if (c && cost <= budget - spent) job = { trial: c.i, to: k + 1 };
    }
    if (!job) {
      if (trials.length >= curves.length || rungs[0] > budget - spent) break;
      trials.push({ curve: curves[trials.length], steps: 0 });
      job = { trial: trials.length - 1, to: 0 };
    }
    const t = trials[job.trial];
    spent += resume ? rungs[job.to] - t.steps : rungs[job.to];
    t.steps = rungs[job.to];
    if (t.steps === EPOCHS) {
      best = Math.min(best, t.curve[EPOCHS - 1]);
      if (at === null && t.curve[EPOCHS - 1] <= target + 1e-9) at = spent;
    }
  }
  return { best, trials: trials.length, epochsToGridBest: at };
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'ghosteam-bench-tuning-replay-'));
  process.env.GHOSTEAM_REGISTRY_DIR = join(root, 'registry');
  delete process.env.MLFLOW_TRACKING_URI;
  try {
    const t = await fraudTuning(root, SEEDS.slice(0, 1));
    log(`bench:tuning-replay — seeds ${SEEDS.join(',')}, ${FIRST_BEATING_CAP} random proposals each, trained in full   [load ${load()}]`);
    const gridRec = curveRecorder();
    const grid = await timedSweep(root, t.pipeline, t.grid, { onEvent: gridRec.onEvent });
    const target = grid.rec.best!.value;
    const budget = Math.floor(grid.epochs * ASHA_BUDGET_SHARE);
    log(`  grid search: ${grid.rec.trials.length} trials, ${grid.epochs} epochs, best valLoss ${target.toFixed(5)}; budget for ASHA ${budget} epochs`);
    const es = t.asha.earlyStopping!;
    if (es.kind !== 'asha') throw new Error('bench:tuning-replay replays ASHA');
    const rungs = rungSteps(es, EPOCHS, 0);
    const curves = new Map<number, Curve[]>();
    const firstBeating: Record<string, number | null> = {};
    for (const seed of SEEDS) {
      const rec = curveRecorder();
      const t0 = performance.now();
      const r = await runSweep(t.pipeline, t.plain(seed), {
        cwd: root,
        storeDir: join(root, `plain-${seed}`),
        gitCommit: null,
        final: false,
        onEvent: rec.onEvent,
      });
      const list = [...r.trials].sort((a, b) => a.number - b.number).map((x) => rec.curves.get(x.number) ?? []);
      list.forEach((c, n) => {
        if (c.length !== EPOCHS || c.some((v) => typeof v !== 'number') || Math.abs(c[EPOCHS - 1] - r.trials[n].value!) > 1e-12)
          throw new Error(`seed ${seed} trial ${n}: the recorded curve does not end at the trial's objective`);
      });
      curves.set(seed, list);
      const k = list.findIndex((c) => c[EPOCHS - 1] <= target + 1e-9);
      firstBeating[String(seed)] = k < 0 ? null : k;
      log(
        `  seed ${seed}: ${list.length} proposals in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${list.filter((c) => c[EPOCHS - 1] <= target + 1e-9).length} beat the grid's best, the first is number ${k < 0 ? '—' : k}   [load ${load()}]`,
      );
    }
    // The replay of ghosteam's ASHA must give what a live sweep gives, or it proves nothing.
    const live = await timedSweep(root, t.pipeline, t.sampled(budget).random[0]);
    const replayed = replayStopping(curves.get(SEEDS[0])!, es, budget, target);
    if (live.rec.trials.length !== replayed.trials || Math.abs(live.rec.best!.value - replayed.best) > 1e-12)
      throw new Error(
        `the replay of seed ${SEEDS[0]} gave ${replayed.trials} trials, best ${replayed.best}; the live sweep ${live.rec.trials.length}, best ${live.rec.best!.value}`,
      );
    log(`  replay checked against a live ASHA sweep of seed ${SEEDS[0]}: ${live.rec.trials.length} trials, best ${live.rec.best!.value.toFixed(5)} in both`);
    const variants: [key: string, label: string, run: (c: Curve[]) => Outcome][] = [
      ['stopping', 'stopping (ghosteam, Optuna)', (c) => replayStopping(c, es, budget, target)],
      ['promotionResumed', 'promotion, resumed (Li et al.)', (c) => replayPromotion(c, rungs, es.reductionFactor, budget, target, true)],
      ['promotionRestarted', 'promotion, restarted', (c) => replayPromotion(c, rungs, es.reductionFactor, budget, target, false)],
    ];
    const reached: Record<string, { count: number; seeds: number[]; epochsToGridBest: (number | null)[]; trials: number[] }> = {};
    for (const [key, label, run] of variants) {
      const out = SEEDS.map((s) => ({ s, ...run(curves.get(s)!) }));
      const ok = out.filter((o) => o.best <= target + 1e-9);
      reached[key] = { count: ok.length, seeds: ok.map((o) => o.s), epochsToGridBest: out.map((o) => o.epochsToGridBest), trials: out.map((o) => o.trials) };
      log(
        `  ASHA ${label.padEnd(31)} reached the grid's best in ${ok.length}/${SEEDS.length} seeds (seed@epochs: ${ok.map((o) => `${o.s}@${o.epochsToGridBest}`).join(' ')}); trials started ${out.map((o) => o.trials).join('/')}`,
      );
    }
    console.log(
      JSON.stringify({
        bench: 'tuning-replay',
        seeds: SEEDS,
        gridBest: target,
        budgetEpochs: budget,
        gridEpochs: grid.epochs,
        reached,
        firstBeating,
        load1: Number(load()),
      }),
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();

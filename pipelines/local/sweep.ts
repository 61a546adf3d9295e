/**
 * Runs a sweep (pipelines/tuning/sweep.ts) on this machine with the local engine.
 *
 * A trial is a run of the pipeline cut down to the objective's task and what it depends on, with the
 * trial task's swept params set to the proposal (literals); it is a child run of the sweep
 * (`parent`), and its steps go through the step cache, so a repeated trial — or the data steps every
 * trial shares — are cache hits. Intermediate values (the trial task's per-epoch progress) feed the
 * early-stopping rule; a stopped trial's run is cancelled and the trial is Pruned.
 *
 * Reproducibility: trial k is proposed from the trials numbered at most k − P (P: the declared
 * parallelism), and it starts only once those have finished; its early-stopping decisions see the
 * same trials. So the proposals and prunings depend only on the seed and P — not on timing or on how
 * many cores run the trials — and a resumed sweep proposes what the interrupted one would have.
 *
 * A trial that fails (its run fails, or its objective is no number) is recorded Failed with the reason
 * and the sweep goes on; it fails only when no trial completes (the counts and the first failure).
 * When the first three trials all fail with the same message, no more are started (the sweep fails
 * with that message: a bug every trial would repeat; controller.ts sameFailure).
 * When the trials are done, the best trial's params run the whole pipeline (`final`): its trial steps
 * are cache hits, so the best model flows on to evaluate, gate and register as in any run.
 * Epoch budget (budget.epochs; components/tuning/budget.ts): trials are proposed while the budget
 * can promise the next one its first rung (without early stopping or with median stopping: its full
 * epochs); at a rung a trial goes on only when the next rung fits, else it stops there (Pruned, the
 * message says the budget). The decision is taken in the progress event of the rung's epoch, before
 * the trial trains the next one (inline, or in a worker thread, whose epoch progress waits for the
 * answer: worker.ts); a container trial reports on stdout and may train on while the stop travels:
 * it is charged what it reported, and stopped at once past its promise.
 * State: `<storeDir>/sweeps/<id>.json`, rewritten atomically after every trial.
 */
import { readFile, readdir } from 'node:fs/promises';
import { availableParallelism, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { ParamValue } from '../../components/component.ts';
import type { PipelineSpec, TaskSpec } from '../spec.ts';
import type { SweepSpec } from '../tuning/sweep.ts';
import { propose, type TrialState, type TrialView } from '../../components/tuning/samplers.ts';
import { decidePrune } from '../../components/tuning/pruners.ts';
import { noneCompleted, sameFailure } from '../../components/tuning/controller.ts';
import { EpochLedger, fullResource, nextRung, rungSteps, type BudgetStatus } from '../../components/tuning/budget.ts';
import { gitCommitOf, newRunId, runPipeline } from './engine.ts';
import { PipelineError } from './plan.ts';
import { writeFileAtomic } from './store.ts';
import type { EngineEvent, RunOptions, RunRecord } from './types.ts';

export interface TrialRecord extends TrialView {
  readonly number: number;
  readonly params: Record<string, ParamValue>;
  state: TrialState;
  value?: number;
  intermediate: Record<string, number>;
  /** The trial's pipeline run. */
  runId: string;
  /** Steps (epochs) the trial task reported: the compute it spent. */
  steps: number;
  message?: string;
  /** A Failed trial: the pipeline task that failed (kept in the record, so a resumed sweep knows it too). */
  failedTask?: string;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
}

export type SweepStatus = 'Running' | 'Succeeded' | 'Failed' | 'Cancelled';

export interface SweepRecord {
  readonly version: 1;
  readonly id: string;
  readonly sweep: string;
  readonly pipeline: string;
  readonly spec: SweepSpec;
  status: SweepStatus;
  message?: string;
  readonly startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  pid: number;
  host: string;
  gitCommit: string | null;
  trials: TrialRecord[];
  best?: { readonly number: number; readonly value: number; readonly params: Record<string, ParamValue>; readonly runId: string };
  /** The whole pipeline run with the best params (its register step registers the best model). */
  finalRunId?: string;
  finalStatus?: RunRecord['status'];
  /**
   * With an epoch budget (budget.epochs): the budget, the epochs trained (`lost` of them by trials an
   * interruption stopped, which ran again), the epochs promised to running trials.
   */
  budget?: BudgetStatus & { readonly lost?: number };
}

export type SweepEvent =
  | {
      readonly type: 'sweep-start';
      readonly sweepId: string;
      readonly sweep: string;
      readonly trials: number;
      /** The epoch budget, when the sweep has one. */
      readonly epochs?: number;
      readonly resumed: boolean;
    }
  | { readonly type: 'trial-start'; readonly sweepId: string; readonly number: number; readonly runId: string; readonly params: Record<string, ParamValue> }
  | {
      readonly type: 'trial-end';
      readonly sweepId: string;
      readonly number: number;
      readonly state: TrialState;
      readonly value?: number;
      readonly steps: number;
      readonly message?: string;
      readonly best?: number;
    }
  | { readonly type: 'final-start'; readonly sweepId: string; readonly runId: string; readonly params: Record<string, ParamValue> }
  | { readonly type: 'sweep-end'; readonly sweepId: string; readonly status: SweepStatus; readonly best?: SweepRecord['best']; readonly message?: string };

export interface SweepOptions extends Omit<RunOptions, 'resume' | 'runId' | 'onEvent' | 'parent'> {
  /** Sweep id of an interrupted sweep to continue (its finished trials are kept). */
  readonly resume?: string;
  /** @default '<sweep>-<utc timestamp>-<random>' */
  readonly sweepId?: string;
  /** Trials running at once on this machine. @default min(the sweep's parallelism, available CPUs) */
  readonly trialConcurrency?: number;
  /** Run the whole pipeline with the best params afterwards. @default true */
  readonly final?: boolean;
  readonly onSweepEvent?: (e: SweepEvent) => void;
  /** Engine events of every trial run and the final run. */
  readonly onEvent?: (e: EngineEvent) => void;
  /** Injected clock for the time budget (tests). @default Date.now */
  readonly now?: () => number;
}

/** The pipeline a trial runs: the tasks the objective needs, the trial task's swept params set to `params`. */
export function trialPipeline(p: PipelineSpec, s: SweepSpec, params: Readonly<Record<string, ParamValue>>, full = false): PipelineSpec {
  const byName = new Map(p.tasks.map((t) => [t.name, t]));
  const keep = new Set<string>();
  const visit = (n: string): void => {
    if (keep.has(n)) return;
    keep.add(n);
    for (const d of byName.get(n)?.dependsOn ?? []) visit(d);
  };
  visit(s.objective.task);
  const set = (t: TaskSpec): TaskSpec =>
    t.name !== s.task
      ? t
      : {
          ...t,
          params: Object.fromEntries(
            Object.keys({ ...t.params, ...params })
              .sort()
              .map((k) => [k, k in params ? { kind: 'literal' as const, value: params[k] } : t.params[k]]),
          ),
        };
  if (full) return { ...p, tasks: p.tasks.map(set) };
  const { exitHandler: _e, schedule: _s, ...rest } = p;
  return { ...rest, tasks: p.tasks.filter((t) => keep.has(t.name)).map(set) };
}

/**
 * The tasks every trial runs unchanged: those of the trial pipeline that neither are the trial task
 * nor depend on it, so no swept param reaches them (ingest, split, …). A terminal failure in one of
 * them fails every trial the same way.
 */
export function sharedTasks(p: PipelineSpec, s: SweepSpec): Set<string> {
  const tasks = trialPipeline(p, s, {}).tasks;
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const memo = new Map<string, boolean>();
  const reaches = (n: string): boolean => {
    if (n === s.task) return true;
    const known = memo.get(n);
    if (known !== undefined) return known;
    memo.set(n, false);
    const r = (byName.get(n)?.dependsOn ?? []).some(reaches);
    memo.set(n, r);
    return r;
  };
  return new Set(tasks.filter((t) => !reaches(t.name)).map((t) => t.name));
}

/** The best complete trial (ties: the earlier one). */
export function bestTrial(trials: readonly TrialView[], direction: 'minimize' | 'maximize'): TrialView | undefined {
  let best: TrialView | undefined;
  for (const t of trials) {
    if (t.state !== 'Complete' || t.value === undefined) continue;
    if (!best || (direction === 'minimize' ? t.value < best.value! : t.value > best.value!)) best = t;
  }
  return best;
}

export class SweepStore {
  readonly dir: string;
  constructor(root: string) {
    this.dir = join(root, 'sweeps');
  }
  file(id: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id)) throw new Error(`'${id}' is not a valid sweep id`);
    return join(this.dir, `${id}.json`);
  }
  async save(r: SweepRecord): Promise<void> {
    await writeFileAtomic(this.file(r.id), JSON.stringify(r, null, 2) + '\n', { mkdirs: true });
  }
  async load(id: string): Promise<SweepRecord> {
    const text = await readFile(this.file(id), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') throw new Error(`sweep '${id}' not found in ${this.dir}; list sweeps with 'ghosteam sweep list'`);
      throw e;
    });
    return JSON.parse(text) as SweepRecord;
  }
  async list(): Promise<SweepRecord[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const out: SweepRecord[] = [];
    for (const n of names.filter((x) => x.endsWith('.json'))) {
      try {
        out.push(JSON.parse(await readFile(join(this.dir, n), 'utf8')) as SweepRecord);
      } catch {
        /* a torn or foreign file: skip */
      }
    }
    return out.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }
}

/** Runs the sweep's trials, then (by default) the whole pipeline with the best params. */
export async function runSweep(pipeline: PipelineSpec, sweep: SweepSpec, opts: SweepOptions = {}): Promise<SweepRecord> {
  if (pipeline.name !== sweep.pipeline) throw new PipelineError(sweep.path, `sweeps pipeline '${sweep.pipeline}', not '${pipeline.name}'`);
  const budgetTask = pipeline.tasks.find((x) => x.name === sweep.task);
  const fullBudgeted = sweep.budget.epochs !== undefined && budgetTask ? fullResource(budgetTask) : undefined;
  if (sweep.budget.epochs !== undefined && fullBudgeted === undefined)
    throw new PipelineError(sweep.path, `budget.epochs needs task '${sweep.task}' to take a literal 'epochs' param`);
  const cwd = resolve(opts.cwd ?? process.cwd());
  const root = resolve(cwd, opts.storeDir ?? '.ghosteam');
  const store = new SweepStore(root);
  const clock = opts.now ?? Date.now;
  const signal = opts.signal ?? new AbortController().signal;
  const emit = (e: SweepEvent): void => {
    try {
      opts.onSweepEvent?.(e);
    } catch {
      /* a listener's bug must not break the sweep */
    }
  };
  let prev: SweepRecord | undefined;
  if (opts.resume) {
    prev = await store.load(opts.resume);
    if (prev.sweep !== sweep.name) throw new PipelineError(`--resume ${opts.resume}`, `that is a run of sweep '${prev.sweep}', not '${sweep.name}'`);
  }
  const gitCommit = opts.gitCommit !== undefined ? opts.gitCommit : (prev?.gitCommit ?? (await gitCommitOf(cwd)));
  const started = clock();
  const id = prev?.id ?? opts.sweepId ?? newRunId(sweep.name);
  const rec: SweepRecord = {
    version: 1,
    id,
    sweep: sweep.name,
    pipeline: pipeline.name,
    spec: sweep,
    status: 'Running',
    startedAt: prev?.startedAt ?? new Date(started).toISOString(),
    pid: process.pid,
    host: hostname(),
    gitCommit,
    // Trials that were running when the sweep was interrupted run again (same number, same params).
    trials: (prev?.trials ?? []).filter((t) => t.state !== 'Running'),
  };
  // Saves are chained; one not yet started takes in every later change (a record written per trial
  // would be rewritten, whole, as many times as there are trials). A resume re-runs a trial whose
  // line was not saved yet: the same params, a step-cache hit.
  let chain = Promise.resolve();
  let queued = false;
  const save = (): Promise<void> => {
    if (queued) return chain;
    queued = true;
    chain = chain
      .then(() => {
        queued = false;
        return store.save(rec);
      })
      .catch(() => {});
    return chain;
  };
  // Trial runs hand their scratch-folder removal here; the sweep settles them before it returns.
  const cleanups: Array<Promise<void>> = [];
  await store.save(rec);
  const P = sweep.budget.parallelism;
  const slots = Math.max(1, Math.min(opts.trialConcurrency ?? Math.min(P, availableParallelism()), P));
  const deadline = sweep.budget.timeSeconds !== undefined ? started + sweep.budget.timeSeconds * 1000 : Infinity;
  emit({
    type: 'sweep-start',
    sweepId: id,
    sweep: sweep.name,
    trials: sweep.budget.trials,
    ...(sweep.budget.epochs !== undefined ? { epochs: sweep.budget.epochs } : {}),
    resumed: !!prev,
  });

  const done = new Map<number, TrialRecord>(rec.trials.map((t) => [t.number, t]));
  const visible = (n: number): TrialRecord[] => [...done.values()].filter((t) => t.number <= n - P).sort((a, b) => a.number - b.number);
  const es = sweep.earlyStopping;
  let ledger: EpochLedger | undefined;
  let full = 0;
  if (sweep.budget.epochs !== undefined) {
    full = fullBudgeted!;
    ledger = new EpochLedger(sweep.budget.epochs);
    for (const t of rec.trials) ledger.record(t.number, t.steps);
    // What interrupted trials trained was spent too, though they run again from the start: kept apart (no trial number).
    const lost = (prev?.trials ?? []).filter((t) => t.state === 'Running').reduce((a, t) => a + t.steps, 0) + (prev?.budget?.lost ?? 0);
    if (lost > 0) ledger.record(-1, lost);
    rec.budget = { ...ledger.status(), ...(lost > 0 ? { lost } : {}) };
  }

  // A terminal failure in a step no swept param reaches: every later trial would fail the same way.
  const shared = sharedTasks(pipeline, sweep);
  let sharedFailure: { readonly number: number; readonly task: string; readonly message: string } | undefined;
  const runTrial = async (n: number, params: Record<string, ParamValue>): Promise<void> => {
    const runId = `${id}-t${n}`;
    const t: TrialRecord = { number: n, params, state: 'Running', intermediate: {}, runId, steps: 0, startedAt: new Date().toISOString() };
    rec.trials.push(t);
    emit({ type: 'trial-start', sweepId: id, number: n, runId, params });
    const ctl = new AbortController();
    const onOuter = (): void => ctl.abort(signal.reason);
    if (signal.aborted) onOuter();
    else signal.addEventListener('abort', onOuter, { once: true });
    const seen = visible(n);
    let pruned: string | undefined;
    const onEvent = (e: EngineEvent): void => {
      opts.onEvent?.(e);
      if (e.type !== 'progress' || e.node !== sweep.task || e.epoch === undefined) return;
      t.steps = Math.max(t.steps, e.epoch);
      ledger?.trained(n, t.steps);
      const fields: Record<string, unknown> = { ...e };
      const v = fields[es?.metric ?? 'loss'];
      if (typeof v === 'number') {
        if (es && !pruned) {
          const d = decidePrune(es, e.epoch, v, t, seen);
          if (d.prune) {
            pruned = `pruned at step ${e.epoch}: ${d.reason}`;
            ctl.abort(new Error(pruned));
          }
        }
        t.intermediate[String(e.epoch)] = v;
      }
      budgetCheck(e.epoch);
    };
    // At the end of its promise the trial goes on only when the next rung fits the budget.
    const budgetCheck = (epoch: number): void => {
      if (!ledger || pruned || epoch < ledger.cap(n) || epoch >= full) return;
      const up = nextRung(rungSteps(es, full, n), epoch) ?? full;
      if (epoch === ledger.cap(n) && ledger.extend(n, up)) return;
      const left = ledger.left();
      // Past its promise (a container trial may train on while the stop travels): stop at once.
      pruned =
        epoch > ledger.cap(n)
          ? `stopped at step ${epoch}: past the ${ledger.cap(n)} epochs the budget promised it`
          : `stopped at step ${epoch}: the epoch budget has ${left} of ${ledger.total} epochs left, and the next rung (step ${up}) needs ${up - epoch}`;
      ctl.abort(new Error(pruned));
    };
    let run: RunRecord | undefined;
    try {
      const { resume: _r, sweepId: _i, trialConcurrency: _c, final: _f, onSweepEvent: _o, now: _n, ...engine } = opts;
      run = await runPipeline(trialPipeline(pipeline, sweep, params), {
        ...engine,
        cwd,
        gitCommit,
        runId,
        parent: id,
        signal: ctl.signal,
        onEvent,
        reason: opts.reason ?? 'sweep',
        cleanup: (p) => void cleanups.push(p),
      });
    } catch (e) {
      t.state = 'Failed';
      t.message = (e as Error).message;
    } finally {
      signal.removeEventListener('abort', onOuter);
    }
    if (run) {
      if (pruned && !signal.aborted) {
        t.state = 'Pruned';
        t.message = pruned;
      } else if (run.status === 'Cancelled') {
        t.state = 'Running';
        t.message = 'interrupted';
      } else if (run.status !== 'Succeeded') {
        t.state = 'Failed';
        // The run says which step failed; the step says why.
        const failed = Object.values(run.nodes).filter((x) => x.state === 'Failed' || x.state === 'Error');
        const step = failed.find((x) => x.message);
        t.message = [run.message ?? 'the trial run failed', step ? `${step.id}: ${step.message}` : ''].filter(Boolean).join(': ');
        if (failed.length) t.failedTask = failed[0].task;
        const terminal = failed.find((x) => x.terminal && shared.has(x.task));
        if (terminal && (!sharedFailure || n < sharedFailure.number)) sharedFailure = { number: n, task: terminal.task, message: t.message };
      } else {
        const v = run.nodes[sweep.objective.task]?.outputParams[sweep.objective.metric];
        if (typeof v === 'number' && Number.isFinite(v)) {
          t.state = 'Complete';
          t.value = v;
        } else {
          t.state = 'Failed';
          t.message = `task '${sweep.objective.task}' gave objective '${sweep.objective.metric}' as ${JSON.stringify(v ?? null)}, not a number`;
        }
      }
    }
    t.finishedAt = new Date().toISOString();
    t.durationMs = Date.parse(t.finishedAt) - Date.parse(t.startedAt);
    if (ledger) {
      ledger.finish(n, t.steps);
      rec.budget = { ...ledger.status(), ...(rec.budget?.lost ? { lost: rec.budget.lost } : {}) };
    }
    if (t.state !== 'Running') done.set(n, t);
    const best = bestTrial([...done.values()], sweep.objective.direction);
    emit({
      type: 'trial-end',
      sweepId: id,
      number: n,
      state: t.state,
      ...(t.value !== undefined ? { value: t.value } : {}),
      steps: t.steps,
      ...(t.message ? { message: t.message } : {}),
      ...(best?.value !== undefined ? { best: best.value } : {}),
    });
    void save();
  };

  // The schedule: trial n starts when a slot is free and trials ≤ n − P have finished.
  const running = new Map<number, Promise<void>>();
  // The first trials all failed alike (components/tuning/controller.ts sameFailure): why the sweep stopped.
  let stoppedAlike: string | undefined;
  let next = 0;
  let exhausted = false;
  const budget = sweep.budget.trials;
  while (!signal.aborted) {
    if (sharedFailure) exhausted = true;
    // The first trials failed alike: start no more; once the running ones are done (one may still
    // complete, and the sweep goes on), stop.
    const alike = exhausted
      ? undefined
      : sameFailure(
          sweep.path,
          // A failure in a shared step is left to sharedFailure's own rule.
          [...done.values()].map((t) => ({ ...t, inSharedStep: t.failedTask !== undefined && shared.has(t.failedTask) })),
        );
    if (alike && running.size === 0) {
      stoppedAlike = alike;
      exhausted = true;
    }
    while (next < budget && done.has(next)) next++;
    if (
      !exhausted &&
      !alike &&
      next < budget &&
      running.size < slots &&
      clock() < deadline &&
      [...Array(Math.max(0, next - P + 1)).keys()].every((k) => done.has(k))
    ) {
      // The epoch budget: a trial starts only when its first rung fits; when it does not and nothing
      // runs (nothing can give epochs back), the budget is spent.
      const fits = !ledger || ledger.start(next, rungSteps(es, full, next)[0]);
      const params = fits ? propose(sweep.algorithm, sweep.space, visible(next), next, sweep.objective.direction, es?.direction) : undefined;
      if (fits && !params) ledger?.finish(next, 0);
      if (!fits && running.size === 0) exhausted = true;
      else if (!fits) {
        await Promise.race(running.values());
        continue;
      } else if (!params) exhausted = true;
      else {
        const n = next++;
        running.set(
          n,
          runTrial(n, params).finally(() => running.delete(n)),
        );
        continue;
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  await Promise.allSettled(running.values());
  await Promise.allSettled(cleanups);

  const best = bestTrial(rec.trials, sweep.objective.direction) as TrialRecord | undefined;
  if (best) rec.best = { number: best.number, value: best.value!, params: best.params, runId: best.runId };
  if (signal.aborted) {
    rec.status = 'Cancelled';
    rec.message = 'cancelled; continue with --resume ' + id;
  } else if (!best) {
    rec.status = 'Failed';
    rec.message = sharedFailure
      ? `${sweep.path}: trial ${sharedFailure.number} failed in step '${sharedFailure.task}', which every trial runs unchanged (no swept param reaches it), with an error a retry cannot fix, so the sweep stopped rather than fail every trial the same way: ${sharedFailure.message}`
      : (stoppedAlike ?? noneCompleted(sweep.path, rec.trials));
  } else if (opts.final ?? true) {
    const finalId = `${id}-best`;
    emit({ type: 'final-start', sweepId: id, runId: finalId, params: best.params });
    const { resume: _r, sweepId: _i, trialConcurrency: _c, final: _f, onSweepEvent: _o, now: _n, ...engine } = opts;
    const fin = await runPipeline(trialPipeline(pipeline, sweep, best.params, true), {
      ...engine,
      cwd,
      gitCommit,
      runId: finalId,
      parent: id,
      signal,
      ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
      ...(prev?.finalRunId === finalId && prev.finalStatus !== 'Succeeded' ? { resume: finalId } : {}),
    });
    rec.finalRunId = finalId;
    rec.finalStatus = fin.status;
    rec.status = fin.status === 'Succeeded' ? 'Succeeded' : fin.status === 'Cancelled' ? 'Cancelled' : 'Failed';
    if (fin.status !== 'Succeeded') rec.message = `the run with the best params (${finalId}) ${fin.status.toLowerCase()}: ${fin.message ?? ''}`.trim();
  } else rec.status = 'Succeeded';
  rec.trials.sort((a, b) => a.number - b.number);
  rec.finishedAt = new Date(clock()).toISOString();
  rec.durationMs = clock() - started;
  await save();
  emit({ type: 'sweep-end', sweepId: id, status: rec.status, ...(rec.best ? { best: rec.best } : {}), ...(rec.message ? { message: rec.message } : {}) });
  return rec;
}

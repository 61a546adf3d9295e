/**
 * The local pipeline engine: executes a PipelineSpec on this machine with the DAG semantics of the
 * Argo Workflow it compiles to (see pipelines/spec.ts):
 *  - a task starts when all of `dependsOn` have finished; independent tasks run at once, bounded by
 *    `concurrency` (attempts running at a time) and, for a `parallelFor`, its own `parallelism`;
 *  - `when` false -> Skipped; a task that needs outputs of a task that did not succeed -> Skipped;
 *    a task that only runs `after` a skipped task still runs (Argo: `depends` on Succeeded|Skipped);
 *  - fail-fast, like an Argo DAG: after a failure no new task starts, running ones finish, the rest
 *    are Omitted and the run is Failed;
 *  - `parallelFor` fans out one instance per item (an empty list: Skipped); its output parameters
 *    read downstream as lists in item order, like Argo's aggregated outputs;
 *  - retries per RetrySpec (policy, exponential back-off, maxDuration since the first attempt);
 *  - `timeoutSeconds` bounds each attempt (Argo activeDeadlineSeconds on the template);
 *  - the exit handler runs after the DAG whatever its outcome (not after a cancellation, like Argo's
 *    `terminate`) and sees the DAG's status as `ghosteam.status`; a failing exit handler fails the run.
 * Artifacts move by digest through the content-addressed store; results are reused from the step
 * cache (key: plan.ts cacheKey) and from the run being resumed.
 * This file schedules; one node's resume/cache/retry/attempt is node-runner.ts `runNode`.
 */
import { gateOfNodes } from './outcome.ts';
import { execFile } from 'node:child_process';
import { gitSource } from '../../api/git-source.ts';
import { createHash, randomBytes } from 'node:crypto';
import { availableParallelism, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Component, ParamValue } from '../../components/component.ts';
import { BUILTIN_COMPONENTS } from '../catalog.ts';
import type { PipelineSpec, TaskSpec } from '../spec.ts';
import { CATALOG_URL, runNode, Semaphore, type Result, type RunContext } from './node-runner.ts';
import {
  checkSpec,
  evaluateCondition,
  fanOutItems,
  outputDependencies,
  PipelineError,
  resolveParams,
  resolveValue,
  topoOrder,
  type ValueScope,
} from './plan.ts';
import { ArtifactStore, effectiveStatus, FileDigests, removeDir, RunStore, StepCache } from './store.ts';
import type { ComponentResolver, EngineEvent, NodeRecord, NodeState, RunOptions, RunRecord } from './types.ts';

const TERMINAL_OK: ReadonlySet<NodeState> = new Set(['Succeeded']);

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((res, rej) => {
    if (signal?.aborted) return rej(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      res();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      rej(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function gitCommitOf(cwd: string): Promise<string | null> {
  return new Promise((res) => {
    execFile('git', ['rev-parse', 'HEAD'], { cwd, timeout: 5000 }, (err, stdout) => res(err ? null : stdout.trim() || null));
  });
}

export function newRunId(pipeline: string, now = new Date()): string {
  const ts = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${pipeline}-${ts}-${randomBytes(2).toString('hex')}`;
}

/** The component catalog module (components/index.ts); worker threads load components from it. */
/** The catalog resolver: components/index.ts `getComponent`, loaded on first use. */
export const catalogResolver: ComponentResolver = async (name) => {
  const url = CATALOG_URL;
  let mod: { getComponent?: (n: string) => Component | undefined };
  try {
    mod = (await import(url)) as typeof mod;
  } catch (e) {
    throw new Error(`the component catalog (components/index.ts) could not be loaded: ${(e as Error).message}`);
  }
  if (typeof mod.getComponent !== 'function') throw new Error('components/index.ts does not export getComponent(name)');
  return mod.getComponent(name);
};

/** Records to disk at most every `ms` (and on flush), so a 100-task run does not write 400 files. */
class RecordSaver {
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  constructor(
    private readonly runs: RunStore,
    private readonly rec: RunRecord,
    private readonly ms = 150,
  ) {}
  dirty(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.save();
    }, this.ms);
  }
  save(): Promise<void> {
    this.chain = this.chain.then(() => this.runs.save(this.rec)).catch(() => {});
    return this.chain;
  }
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.save();
  }
}

/** Runs a pipeline to the end and returns its record (also on disk). Throws only for bad specs/params. */
export async function runPipeline(spec: PipelineSpec, opts: RunOptions = {}): Promise<RunRecord> {
  checkSpec(spec);
  const cwd = resolve(opts.cwd ?? process.cwd());
  const root = resolve(cwd, opts.storeDir ?? '.ghosteam');
  const store = new ArtifactStore(root);
  const cache = new StepCache(root);
  const fileDigests = new FileDigests(root);
  const runs = new RunStore(root);
  const useCache = opts.cache ?? true;
  const concurrency = Math.max(1, opts.concurrency ?? Math.max(2, availableParallelism()));
  const signal = opts.signal ?? new AbortController().signal;
  const sleep = opts.sleep ?? defaultSleep;
  const resolveComponent = opts.components ?? catalogResolver;
  const killGraceMs = opts.killGraceMs ?? 3000;
  const isolation = opts.isolation ?? (opts.components ? 'inline' : 'auto');
  if (isolation !== 'inline' && opts.components)
    throw new Error(`isolation '${isolation}' runs catalog components only; leave out \`components\` or use isolation 'inline'`);

  let prev: RunRecord | undefined;
  if (opts.resume) {
    prev = await runs.load(opts.resume);
    if (prev.pipeline !== spec.name) {
      throw new PipelineError(`--resume ${opts.resume}`, `that run is of pipeline '${prev.pipeline}', not '${spec.name}'`);
    }
    if (effectiveStatus(prev) === 'Running') {
      throw new PipelineError(`--resume ${opts.resume}`, `that run is still running (pid ${prev.pid}); wait for it or cancel it first`);
    }
  }
  const params = resolveParams(spec.params, { ...(prev?.params ?? {}), ...(opts.params ?? {}) }, spec.name);
  // Given explicitly (the operator's TrainingRun, from a clean checkout) it is taken as is; else HEAD of
  // the working directory, with a digest of its uncommitted changes when there are any.
  const source = opts.gitCommit !== undefined ? undefined : await gitSource(cwd);
  const gitCommit = opts.gitCommit !== undefined ? opts.gitCommit : (source?.commit ?? null);
  const gitDirty = source?.dirty;
  const runId = prev?.id ?? opts.runId ?? newRunId(spec.name);
  const runDir = runs.runDir(runId);
  const workRoot = join(root, 'work', runId);
  const started = Date.now();
  const byName = new Map(spec.tasks.map((t) => [t.name, t]));
  const order = topoOrder(spec);

  const newNode = (t: TaskSpec, id: string, extra: Partial<NodeRecord> = {}): NodeRecord => ({
    id,
    task: t.name,
    path: t.path,
    state: 'Pending',
    attempts: [],
    outputs: {},
    outputParams: {},
    ...extra,
  });
  const rec: RunRecord = {
    version: 1,
    id: runId,
    pipeline: spec.name,
    pipelinePath: spec.path,
    status: 'Running',
    params,
    gitCommit,
    ...(gitDirty ? { gitDirty } : {}),
    ...((opts.parent ?? prev?.parent) ? { parent: opts.parent ?? prev?.parent } : {}),
    taskParams: Object.fromEntries(
      spec.tasks.flatMap((t) => Object.entries(t.params).flatMap(([k, v]) => (v.kind === 'literal' ? [[`${t.name}.${k}`, v.value] as const] : []))),
    ),
    startedAt: new Date(started).toISOString(),
    pid: process.pid,
    host: hostname(),
    ...(prev ? { resumedAt: [...(prev.resumedAt ?? []), new Date(started).toISOString()] } : {}),
    order: [...order, ...(spec.exitHandler ? [spec.exitHandler.name] : [])],
    nodes: {},
  };
  for (const name of order) {
    const t = byName.get(name)!;
    rec.nodes[name] = newNode(t, name, t.dependsOn.length ? { dependsOn: [...t.dependsOn] } : {});
  }
  if (spec.exitHandler) rec.nodes[spec.exitHandler.name] = newNode(spec.exitHandler, spec.exitHandler.name, { isExitHandler: true });

  const saver = new RecordSaver(runs, rec);
  // The first record (status Running) is written behind the run, not before it: saves are chained,
  // so it still lands before any later one. The logs folder is made with the first log line.
  void saver.save();

  const emit = (e: EngineEvent): void => {
    if (e.type === 'progress' && e.epoch !== undefined && rec.nodes[e.node]) {
      const n = rec.nodes[e.node];
      for (const [k, v] of Object.entries(e)) {
        if (typeof v !== 'number' || k === 'epoch' || k === 'epochs' || k === 'fraction' || !Number.isFinite(v)) continue;
        const h = ((n.history ??= {})[k] ??= []);
        if (h.length === 0 || h[h.length - 1].step < e.epoch) h.push({ step: e.epoch, value: v });
      }
    }
    try {
      opts.onEvent?.(e);
    } catch {
      /* a listener's bug must not break the run */
    }
  };
  const now = (): string => new Date().toISOString();
  emit({ type: 'run-start', runId, pipeline: spec.name, time: now(), nodes: rec.order, resumed: !!prev });

  const setState = (n: NodeRecord, state: NodeState, extra: { message?: string; attempt?: number } = {}): void => {
    n.state = state;
    if (extra.message !== undefined) n.message = extra.message;
    const t = Date.now();
    if (state === 'Running' && !n.startedAt) n.startedAt = new Date(t).toISOString();
    if (state !== 'Running' && state !== 'Pending') {
      n.finishedAt = new Date(t).toISOString();
      if (n.startedAt) n.durationMs = t - Date.parse(n.startedAt);
    }
    emit({
      type: 'node',
      runId,
      node: n.id,
      path: n.path,
      state,
      time: new Date(t).toISOString(),
      ...(extra.attempt !== undefined ? { attempt: extra.attempt } : {}),
      ...(n.cached ? { cached: true } : {}),
      ...(n.resumed ? { resumed: true } : {}),
      ...(n.message !== undefined && state !== 'Running' ? { message: n.message } : {}),
      ...(n.durationMs !== undefined && state !== 'Running' ? { durationMs: n.durationMs } : {}),
    });
    saver.dirty();
  };

  const results = new Map<string, Result>();
  const global = new Semaphore(concurrency);
  let failed = false;
  let components: Map<string, Component | undefined> | undefined;
  const componentOf = async (name: string): Promise<Component | undefined> => {
    components ??= new Map();
    if (!components.has(name)) components.set(name, await resolveComponent(name));
    return components.get(name);
  };
  /** The params of a task's component that name local files: from the catalog's descriptor (nothing loaded), or the component a custom resolver gives. */
  const fileParamsOf = async (t: TaskSpec): Promise<readonly string[]> => {
    if (!t.component) return [];
    if (opts.components) return (await componentOf(t.component.name))?.fileParams ?? [];
    return BUILTIN_COMPONENTS[t.component.name]?.fileParams ?? [];
  };
  const scopeOf = (item?: ParamValue): ValueScope => ({
    params,
    outputs: (task, output) => results.get(task)?.outputParams[output],
    ...(item !== undefined ? { item } : {}),
  });
  const ctx: RunContext = {
    spec,
    runId,
    runDir,
    workRoot,
    root,
    cwd,
    gitCommit,
    ...(gitDirty ? { gitDirty } : {}),
    ...(opts.reason ? { reason: opts.reason } : {}),
    ...(prev ? { prev } : {}),
    store,
    cache,
    fileDigests,
    useCache,
    isolation,
    killGraceMs,
    signal,
    sleep,
    results,
    failed: () => failed,
    componentOf,
    fileParamsOf,
    scopeOf,
    setState,
    emit,
  };

  /** A task: skip checks, `when`, fan-out; then its node(s). */
  const runTask = async (t: TaskSpec, extraParams: Record<string, ParamValue> = {}, cacheable = true): Promise<Result> => {
    const n = rec.nodes[t.name];
    const skip = (message: string): Result => {
      setState(n, 'Skipped', { message });
      return { state: 'Skipped', outputs: {}, outputParams: {} };
    };
    for (const d of outputDependencies(t)) {
      const r = results.get(d);
      if (!r || !TERMINAL_OK.has(r.state)) return skip(`needs outputs of task '${d}', which ${r ? `was ${r.state.toLowerCase()}` : 'did not run'}`);
    }
    try {
      // A `when` that reads the loop item is decided per instance (Argo evaluates it per child).
      const perItem = !!t.when && !!t.parallelFor && (t.when.left.kind === 'item' || t.when.right.kind === 'item');
      if (t.when && !perItem) {
        const c = evaluateCondition(t.when, scopeOf(), t.path);
        if (!c.holds) return skip(`when condition is false: ${c.text}`);
      }
      if (!t.parallelFor) return await runNode(ctx, t, n, undefined, [global], extraParams, cacheable);
      const items = fanOutItems(resolveValue(t.parallelFor.items, scopeOf(), `${t.path} parallelFor.items`), t.path);
      if (items.length === 0) return skip('parallelFor list is empty');
      const own = new Semaphore(t.parallelFor.parallelism ?? items.length);
      n.children = items.map((_, i) => `${t.name}(${i})`);
      rec.order.splice(rec.order.indexOf(t.name) + 1, 0, ...n.children);
      n.children.forEach((id, i) => (rec.nodes[id] = newNode(t, id, { item: items[i] })));
      setState(n, 'Running');
      const instance = async (id: string, it: ParamValue): Promise<Result> => {
        if (perItem) {
          try {
            const c = evaluateCondition(t.when, scopeOf(it), `${t.path}(${JSON.stringify(it)})`);
            if (!c.holds) {
              setState(rec.nodes[id], 'Skipped', { message: `when condition is false: ${c.text}` });
              return { state: 'Skipped', outputs: {}, outputParams: {} };
            }
          } catch (e) {
            setState(rec.nodes[id], 'Error', { message: (e as Error).message });
            return { state: 'Error', outputs: {}, outputParams: {} };
          }
        }
        return runNode(ctx, t, rec.nodes[id], it, [own, global], extraParams, cacheable);
      };
      const parts = await Promise.all(n.children.map((id, i) => instance(id, items[i])));
      const states = parts.map((p) => p.state);
      const state: NodeState = (['Cancelled', 'Failed', 'Error', 'Omitted'] as const).find((s) => states.includes(s)) ?? 'Succeeded';
      const outputParams: Record<string, ParamValue> = {};
      if (state === 'Succeeded') for (const o of t.outputParams) outputParams[o] = parts.map((p) => p.outputParams[o] ?? null);
      n.outputParams = outputParams;
      n.cached = parts.every((p, i) => rec.nodes[n.children![i]].cached);
      const bad = states.filter((s) => s !== 'Succeeded').length;
      setState(n, state, { message: state === 'Succeeded' ? `${items.length} instances` : `${bad} of ${items.length} instances did not succeed` });
      const key = createHash('sha256')
        .update(parts.map((p) => p.key ?? p.state).join(','))
        .digest('hex');
      n.cacheKey = key;
      return { state, outputs: {}, outputParams, key };
    } catch (e) {
      setState(n, 'Error', { message: (e as Error).message });
      return { state: 'Error', outputs: {}, outputParams: {} };
    }
  };

  // The DAG.
  const pending = new Set(order);
  const running = new Map<string, Promise<void>>();
  while (pending.size || running.size) {
    if (!signal.aborted && !failed) {
      for (const name of [...pending]) {
        const t = byName.get(name)!;
        if (!t.dependsOn.every((d) => results.has(d))) continue;
        pending.delete(name);
        running.set(
          name,
          runTask(t).then(
            (r) => {
              results.set(name, r);
              if (r.state === 'Failed' || r.state === 'Error' || r.state === 'Cancelled') failed = true;
              running.delete(name);
            },
            (e: Error) => {
              // runTask does not throw; this is a bug guard so the run still ends with a record.
              results.set(name, { state: 'Error', outputs: {}, outputParams: {} });
              setState(rec.nodes[name], 'Error', { message: `internal error: ${e.message}` });
              failed = true;
              running.delete(name);
            },
          ),
        );
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  for (const name of pending) {
    setState(rec.nodes[name], 'Omitted', { message: signal.aborted ? 'not started: the run was cancelled' : 'not started: an earlier task failed' });
  }

  const dagStatus: 'Succeeded' | 'Failed' = order.some((n) => ['Failed', 'Error', 'Omitted', 'Cancelled'].includes(rec.nodes[n].state))
    ? 'Failed'
    : 'Succeeded';
  let exitFailed = false;
  if (spec.exitHandler) {
    const eh = rec.nodes[spec.exitHandler.name];
    if (signal.aborted) setState(eh, 'Omitted', { message: 'not started: the run was cancelled' });
    else {
      const r = await runTask(spec.exitHandler, { 'ghosteam.status': dagStatus }, false);
      exitFailed = r.state !== 'Succeeded' && r.state !== 'Skipped';
    }
  }

  rec.status = signal.aborted ? 'Cancelled' : dagStatus === 'Failed' || exitFailed ? 'Failed' : 'Succeeded';
  const bad = rec.order.filter((id) => ['Failed', 'Error'].includes(rec.nodes[id].state) && !rec.nodes[id].children);
  if (rec.status === 'Failed') {
    rec.message = bad.length ? `${bad.map((id) => `'${rec.nodes[id].path || id}'`).join(', ')} failed` : 'the run failed';
    const first = bad.map((id) => rec.nodes[id]).find((n) => n.reason !== undefined);
    if (first?.reason) rec.reason = first.reason;
    // Terminal only when no failed node could pass on a retry.
    if (bad.length > 0 && bad.every((id) => rec.nodes[id].terminal)) rec.terminal = true;
  }
  if (rec.status === 'Cancelled') rec.message = 'cancelled';
  // Kafka offsets read by the run are committed only now that it succeeded: a failed run re-reads them.
  if (rec.status === 'Succeeded') await commitSources(rec, (line) => emit({ type: 'log', runId, node: '', line, time: new Date().toISOString() }));
  rec.finishedAt = new Date().toISOString();
  rec.durationMs = Date.now() - started;
  if (opts.trackingUri) {
    try {
      const { trackToMlflow } = await import('./experiments.ts');
      rec.tracking = { mlflowRunId: await trackToMlflow(rec, root, opts.trackingUri, opts.reason) };
    } catch (e) {
      rec.tracking = { error: (e as Error).message };
      emit({ type: 'log', runId, node: '', line: `experiment tracking: ${(e as Error).message}`, time: new Date().toISOString() });
    }
  }
  await saver.flush();
  // Attempt directories hold only scratch files once outputs are stored; a failed run keeps them
  // for a look at what the failing attempt left behind.
  if (rec.status === 'Succeeded') {
    const removed = removeDir(workRoot);
    if (opts.cleanup) opts.cleanup(removed);
    else await removed;
  }
  const gate = gateOfNodes(rec.order.map((id) => rec.nodes[id]).filter((n) => n !== undefined));
  emit({
    type: 'run-end',
    runId,
    status: rec.status,
    time: rec.finishedAt,
    durationMs: rec.durationMs,
    ...(rec.message ? { message: rec.message } : {}),
    ...(rec.reason ? { reason: rec.reason } : {}),
    ...(rec.terminal ? { terminal: true as const } : {}),
    ...(gate ? { gate } : {}),
  });
  return rec;
}

/** Commit the Kafka offset ranges the run's nodes read (from the cache too: a cached read is the same range, maybe never committed). */
async function commitSources(rec: RunRecord, log: (line: string) => void): Promise<void> {
  const ranges = rec.order.flatMap((id) => Object.values(rec.nodes[id]?.sources ?? {}).flatMap((s) => (s.kafka ? [{ id, s, range: s.kafka }] : [])));
  if (ranges.length === 0) return;
  const { commitKafkaOffsets } = await import('../../components/ingest/sources.ts');
  for (const { id, s, range } of ranges) {
    try {
      await commitKafkaOffsets(range);
      log(`${id}: committed ${s.identity}`);
    } catch (e) {
      const msg = `${id}: the run succeeded but committing the Kafka offsets failed (${(e as Error).message}); the next run reads them again`;
      log(msg);
      rec.message = msg;
    }
  }
}

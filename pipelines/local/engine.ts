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
 */
import { gateOfNodes } from './outcome.ts';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { availableParallelism, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Component, ParamValue } from '../../components/component.ts';
import { BUILTIN_COMPONENTS } from '../catalog.ts';
import { ownModuleUrl } from '../../api/own-files.ts';
import type { PipelineSpec, TaskSpec } from '../spec.ts';
import { runAttempt } from './executor.ts';
import {
  cacheKey,
  checkSpec,
  evaluateCondition,
  fanOutItems,
  outputDependencies,
  PipelineError,
  resolveParams,
  resolveValue,
  retryDelayMs,
  topoOrder,
  type ValueScope,
} from './plan.ts';
import { ArtifactStore, effectiveStatus, FileDigests, removeDir, RunStore, StepCache } from './store.ts';
import type { ArtifactRef, ComponentResolver, EngineEvent, NodeRecord, NodeState, RunOptions, RunRecord } from './types.ts';

const TERMINAL_OK: ReadonlySet<NodeState> = new Set(['Succeeded']);

interface Result {
  readonly state: NodeState;
  readonly outputs: Record<string, ArtifactRef>;
  readonly outputParams: Record<string, ParamValue>;
  readonly key?: string;
}

class Semaphore {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiters.push(r));
    else this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.active--;
    };
  }
}

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
export const CATALOG_URL = ownModuleUrl('components/index.ts');

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

/**
 * Whether a component task is heavy enough for a worker thread of its own: it asks for a GPU or at
 * least 2 CPUs (a training step). A worker costs about a second to start (it loads the catalog),
 * so light steps run inline; heavy ones then run truly in parallel and never block the engine.
 */
export function isHeavy(t: TaskSpec): boolean {
  const cpu = t.resources.cpu.endsWith('m') ? Number(t.resources.cpu.slice(0, -1)) / 1000 : Number(t.resources.cpu);
  return !!t.resources.gpu || cpu >= 2;
}

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
  if (isolation !== 'inline' && opts.components) throw new Error(`isolation '${isolation}' runs catalog components only; leave out \`components\` or use isolation 'inline'`);

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
  const gitCommit = opts.gitCommit !== undefined ? opts.gitCommit : await gitCommitOf(cwd);
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
    startedAt: new Date(started).toISOString(),
    pid: process.pid,
    host: hostname(),
    ...(prev ? { resumedAt: [...(prev.resumedAt ?? []), new Date(started).toISOString()] } : {}),
    order: [...order, ...(spec.exitHandler ? [spec.exitHandler.name] : [])],
    nodes: {},
  };
  for (const name of order) rec.nodes[name] = newNode(byName.get(name)!, name);
  if (spec.exitHandler) rec.nodes[spec.exitHandler.name] = newNode(spec.exitHandler, spec.exitHandler.name, { isExitHandler: true });

  const saver = new RecordSaver(runs, rec);
  await mkdir(join(runDir, 'logs'), { recursive: true });
  await saver.flush();

  const emit = (e: EngineEvent): void => {
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
  const outputsExist = async (outs: Record<string, ArtifactRef>): Promise<boolean> => {
    for (const o of Object.values(outs)) if (!(await store.has(o.digest))) return false;
    return true;
  };

  /** Runs one node (a task, or one instance of a parallelFor) through resume, cache and retries. */
  const runNode = async (t: TaskSpec, n: NodeRecord, item: ParamValue | undefined, slots: Semaphore[], extraParams: Record<string, ParamValue>, cacheable: boolean): Promise<Result> => {
    const fail = (state: NodeState, message: string): Result => {
      setState(n, state, { message });
      return { state, outputs: {}, outputParams: {} };
    };
    // Resolve what the task needs.
    let taskParams: Record<string, ParamValue>;
    const inputPaths: Record<string, string> = {};
    const inputDigests: Record<string, string> = {};
    let component: Component | undefined;
    try {
      taskParams = {};
      for (const [k, ref] of Object.entries(t.params)) taskParams[k] = resolveValue(ref, scopeOf(item), `${t.path} params.${k}`);
      for (const [k, inp] of Object.entries(t.inputs)) {
        const ref = results.get(inp.task)?.outputs[inp.output];
        if (!ref) throw new PipelineError(t.path, `input '${k}': task '${inp.task}' produced no artifact '${inp.output}'`);
        inputDigests[k] = ref.digest;
        inputPaths[k] = store.pathOf(ref.digest);
      }
    } catch (e) {
      return fail('Error', (e as Error).message);
    }
    // Local files named by params: resolved against the run's cwd, and their content keys the cache.
    const files: Record<string, string> = {};
    const runParams: Record<string, ParamValue> = { ...taskParams };
    try {
      for (const name of await fileParamsOf(t)) {
        const v = taskParams[name];
        if (typeof v !== 'string' || v === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(v)) continue;
        const abs = resolve(cwd, v);
        files[name] = await fileDigests.of(abs);
        runParams[name] = abs;
      }
    } catch (e) {
      return fail('Error', `${t.path}: ${(e as Error).message}`);
    }
    const upstream: Record<string, string> = {};
    for (const d of t.dependsOn) upstream[d] = results.get(d)?.key ?? results.get(d)?.state ?? 'none';
    // The component's version comes from the spec (the construct copies it from the catalog's
    // descriptor), so a fully cached run never loads the components at all.
    const key = cacheKey({ task: t, params: taskParams, inputs: inputDigests, componentVersion: t.component?.version ?? null, upstream, files, ...(item !== undefined ? { item } : {}) });
    n.cacheKey = key;

    // Reuse: the run being resumed, then the step cache.
    const p = prev?.nodes[n.id];
    if (p && p.state === 'Succeeded' && p.cacheKey === key && (await outputsExist(p.outputs))) {
      n.outputs = p.outputs;
      n.outputParams = p.outputParams;
      n.attempts = p.attempts;
      n.resumed = true;
      n.cached = p.cached;
      if (p.log) n.log = p.log;
      n.startedAt = new Date().toISOString();
      setState(n, 'Succeeded', { message: 'finished in the resumed run' });
      return { state: 'Succeeded', outputs: n.outputs, outputParams: n.outputParams, key };
    }
    const cacheOn = cacheable && t.cache.enabled;
    if (useCache && cacheOn) {
      const hit = await cache.get(key);
      const fresh = hit && (t.cache.maxAgeSeconds === undefined || Date.now() - Date.parse(hit.createdAt) <= t.cache.maxAgeSeconds * 1000);
      if (hit && fresh && (await outputsExist(hit.outputs))) {
        n.outputs = hit.outputs;
        n.outputParams = hit.outputParams;
        n.cached = true;
        n.startedAt = new Date().toISOString();
        setState(n, 'Succeeded', { message: `cached (from run ${hit.runId})` });
        return { state: 'Succeeded', outputs: n.outputs, outputParams: n.outputParams, key };
      }
    }

    // Run, with retries.
    if (t.component) {
      try {
        component = await componentOf(t.component.name);
      } catch (e) {
        return fail('Error', `${t.path}: ${(e as Error).message}`);
      }
      if (!component) return fail('Error', `${t.path}: component '${t.component.name}' is not in the component catalog (components/index.ts)`);
      if (component.version !== t.component.version) {
        return fail('Error', `${t.path}: the pipeline was built for component '${t.component.name}' version ${t.component.version}, but the catalog has version ${component.version}; update pipelines/catalog.ts (the descriptor) to match`);
      }
    }
    const inWorker = !!component && (isolation === 'worker' || (isolation === 'auto' && isHeavy(t)));
    let log: WriteStream | undefined;
    const logLine = (line: string): void => {
      if (!log) {
        n.log = `logs/${n.id}.log`;
        log = createWriteStream(join(runDir, n.log), { flags: 'a' });
        log.on('error', () => {});
      }
      log.write(line + '\n');
      emit({ type: 'log', runId, node: n.id, line, time: now() });
    };
    const contextEnv: Record<string, string> = {
      GHOSTEAM_RUN_ID: runId,
      GHOSTEAM_PIPELINE: spec.name,
      GHOSTEAM_GIT_COMMIT: gitCommit ?? '',
      GHOSTEAM_TASK: t.name,
      GHOSTEAM_NODE: n.id,
      GHOSTEAM_STORE_DIR: root,
      ...(opts.reason ? { GHOSTEAM_REASON: opts.reason } : {}),
      ...('ghosteam.status' in extraParams ? { GHOSTEAM_STATUS: String(extraParams['ghosteam.status']), GHOSTEAM_WORKFLOW_STATUS: String(extraParams['ghosteam.status']) } : {}),
    };
    const allParams: Record<string, ParamValue> = {
      ...runParams,
      'ghosteam.runId': runId,
      'ghosteam.pipeline': spec.name,
      'ghosteam.gitCommit': gitCommit,
      'ghosteam.task': n.id,
      'ghosteam.inputDigests': inputDigests,
      ...(opts.reason ? { 'ghosteam.reason': opts.reason } : {}),
      ...extraParams,
    };
    const firstStart = Date.now();
    try {
      for (let attempt = 1; ; attempt++) {
        let delay = 0;
        const releases: (() => void)[] = [];
        for (const s of slots) releases.push(await s.acquire());
        try {
          if (signal.aborted) return fail(attempt === 1 ? 'Omitted' : 'Cancelled', attempt === 1 ? 'not started: the run was cancelled' : 'cancelled while waiting to retry');
          if (failed && attempt === 1 && !n.isExitHandler) return fail('Omitted', 'not started: an earlier task failed');
          const a = { attempt, startedAt: new Date().toISOString() };
          n.attempts.push(a);
          setState(n, 'Running', { attempt });
          const dir = join(workRoot, n.id, String(attempt));
          // A resumed run reuses its id: clear what an earlier attempt left, so a stale file is never taken as an output.
          if (prev) await removeDir(dir);
          const r = await runAttempt({
            task: t,
            params: allParams,
            ...(item !== undefined ? { item } : {}),
            inputs: inputPaths,
            dir,
            signal,
            ...(component ? { component, isolation: inWorker ? ('worker' as const) : ('inline' as const), catalog: CATALOG_URL } : {}),
            contextEnv,
            cwd,
            killGraceMs,
            log: logLine,
            progress: (e) => emit({ type: 'progress', runId, node: n.id, time: now(), ...e }),
          });
          const outcome = r.ok ? 'Succeeded' : r.kind === 'cancelled' ? 'Cancelled' : r.kind === 'error' ? 'Error' : 'Failed';
          n.attempts[n.attempts.length - 1] = { ...a, finishedAt: new Date().toISOString(), outcome, ...(r.ok ? {} : { message: r.message }) };
          if (r.ok) {
            const outputs: Record<string, ArtifactRef> = {};
            try {
              for (const [name, path] of Object.entries(r.outputs)) outputs[name] = await store.put(path, t.outputs[name].kind);
            } catch (e) {
              return fail('Error', `could not store outputs: ${(e as Error).message}`);
            }
            n.outputs = outputs;
            n.outputParams = r.outputParams;
            if (cacheOn) {
              await cache.put({ key, task: t.name, runId, createdAt: new Date().toISOString(), outputs, outputParams: r.outputParams }).catch(() => {});
            }
            setState(n, 'Succeeded', attempt > 1 ? { message: `succeeded on attempt ${attempt}` } : {});
            return { state: 'Succeeded', outputs, outputParams: r.outputParams, key };
          }
          if (r.kind === 'cancelled') return fail('Cancelled', 'cancelled while running');
          const next = retryDelayMs(t.retry, attempt + 1, r.kind, Date.now() - firstStart);
          if (next === null || signal.aborted) {
            const tries = attempt > 1 ? ` (after ${attempt} attempts)` : '';
            return fail(r.kind === 'error' ? 'Error' : 'Failed', `${r.message}${tries}`);
          }
          delay = next;
          logLine(`attempt ${attempt} failed: ${r.message}; retrying in ${(delay / 1000).toFixed(1)}s`);
          emit({ type: 'retry', runId, node: n.id, attempt: attempt + 1, delayMs: delay, message: r.message, time: now() });
        } finally {
          releases.reverse().forEach((r) => r());
        }
        try {
          if (delay > 0) await sleep(delay, signal);
        } catch {
          return fail('Cancelled', 'cancelled while waiting to retry');
        }
      }
    } finally {
      if (log) await new Promise<void>((r) => log!.end(r));
    }
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
      if (!t.parallelFor) return await runNode(t, n, undefined, [global], extraParams, cacheable);
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
            const c = evaluateCondition(t.when!, scopeOf(it), `${t.path}(${JSON.stringify(it)})`);
            if (!c.holds) {
              setState(rec.nodes[id], 'Skipped', { message: `when condition is false: ${c.text}` });
              return { state: 'Skipped', outputs: {}, outputParams: {} };
            }
          } catch (e) {
            setState(rec.nodes[id], 'Error', { message: (e as Error).message });
            return { state: 'Error', outputs: {}, outputParams: {} };
          }
        }
        return runNode(t, rec.nodes[id], it, [own, global], extraParams, cacheable);
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
      const key = createHash('sha256').update(parts.map((p) => p.key ?? p.state).join(',')).digest('hex');
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

  const dagStatus: 'Succeeded' | 'Failed' = order.some((n) => ['Failed', 'Error', 'Omitted', 'Cancelled'].includes(rec.nodes[n].state)) ? 'Failed' : 'Succeeded';
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
  if (rec.status === 'Failed') rec.message = bad.length ? `${bad.map((id) => `'${rec.nodes[id].path || id}'`).join(', ')} failed` : 'the run failed';
  if (rec.status === 'Cancelled') rec.message = 'cancelled';
  rec.finishedAt = new Date().toISOString();
  rec.durationMs = Date.now() - started;
  await saver.flush();
  // Attempt directories hold only scratch files once outputs are stored; a failed run keeps them
  // for a look at what the failing attempt left behind.
  if (rec.status === 'Succeeded') await removeDir(workRoot);
  const gate = gateOfNodes(rec.order.map((id) => rec.nodes[id]).filter((n) => n !== undefined));
  emit({ type: 'run-end', runId, status: rec.status, time: rec.finishedAt, durationMs: rec.durationMs, ...(rec.message ? { message: rec.message } : {}), ...(gate ? { gate } : {}) });
  return rec;
};

/**
 * The node runner: runs ONE node of a local run (a task, or one instance of a parallelFor) through
 * resume, the step cache and retries, and records its state. It sees its run only through
 * `RunContext` (settings, stores, the results so far, the run's callbacks), so it is a unit of its
 * own: test/engine/node-runner.test.ts drives it without a DAG. engine.ts builds the context and
 * schedules the nodes.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Component, ParamValue } from '../../components/component.ts';
import { ownModuleUrl } from '../../api/own-files.ts';
import type { PipelineSpec, TaskSpec } from '../spec.ts';
import { runAttempt, type AttemptResult } from './executor.ts';
import { cacheKey, PipelineError, resolveValue, retryDelayMs, type ValueScope } from './plan.ts';
import { classifyFailure, retryNote, type FailureClass } from '../../api/failure.ts';

const INVALID_SPEC: FailureClass = { terminal: true, reason: 'InvalidSpec' };
import { removeDir, type ArtifactStore, type FileDigests, type StepCache } from './store.ts';
import type { ArtifactRef, EngineEvent, NodeRecord, NodeState, RunRecord, SourceRecord } from './types.ts';

/** What a node (or a task) ended with. */
export interface Result {
  readonly state: NodeState;
  readonly outputs: Record<string, ArtifactRef>;
  readonly outputParams: Record<string, ParamValue>;
  readonly key?: string;
}

/** A counting semaphore: `concurrency` for the whole run, `parallelism` for one fan-out. */
export class Semaphore {
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

/** Where the component catalog loads from in this process (the engine's resolver and worker threads). */
export const CATALOG_URL = ownModuleUrl('components/index.ts');

/**
 * Whether a component task is heavy enough for a worker thread of its own: it asks for a GPU or at
 * least 2 CPUs (a training step). A worker costs about a second to start (it loads the catalog),
 * so light steps run inline; heavy ones then run truly in parallel and never block the engine.
 */
export function isHeavy(t: TaskSpec): boolean {
  const cpu = t.resources.cpu.endsWith('m') ? Number(t.resources.cpu.slice(0, -1)) / 1000 : Number(t.resources.cpu);
  return !!t.resources.gpu || cpu >= 2;
}

/** What a node runner needs from its run. */
export interface RunContext {
  readonly spec: PipelineSpec;
  readonly runId: string;
  /** Where the run record and logs live. */
  readonly runDir: string;
  /** Scratch directories of the attempts. */
  readonly workRoot: string;
  /** The store directory (.ghosteam). */
  readonly root: string;
  /** Local file params resolve against this. */
  readonly cwd: string;
  readonly gitCommit: string | null;
  /** The digest of uncommitted changes when the run started from a dirty tree. */
  readonly gitDirty?: string;
  /** Why the run was started (drift, git-change, ...), passed to the steps. */
  readonly reason?: string;
  /** The run being resumed: its succeeded nodes are reused when their cache key matches. */
  readonly prev?: RunRecord;
  readonly store: ArtifactStore;
  readonly cache: StepCache;
  readonly fileDigests: FileDigests;
  readonly useCache: boolean;
  readonly isolation: 'inline' | 'worker' | 'auto';
  readonly killGraceMs: number;
  readonly signal: AbortSignal;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Results of the tasks finished so far (inputs and upstream keys come from here). */
  readonly results: ReadonlyMap<string, Result>;
  /** True once a task of the run failed: a node not yet started is omitted (fail-fast). */
  failed(): boolean;
  componentOf(name: string): Promise<Component | undefined>;
  /** The params of a task's component that name local files (their content keys the cache). */
  fileParamsOf(t: TaskSpec): Promise<readonly string[]>;
  scopeOf(item?: ParamValue): ValueScope;
  setState(n: NodeRecord, state: NodeState, extra?: { message?: string; attempt?: number }): void;
  emit(e: EngineEvent): void;
}

const now = (): string => new Date().toISOString();

function isStringRecord(x: unknown): x is Record<string, string> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && Object.values(x).every((v) => typeof v === 'string');
}

/**
 * What identifies a remote source's content now (components/ingest/sources.ts), read with the
 * task's literal env over the engine's (a Secret reference resolves only in a pod), and the params
 * that pin the read to it (a Kafka offset range).
 */
async function remoteSource(
  uri: string,
  params: Readonly<Record<string, ParamValue>>,
  t: TaskSpec,
): Promise<{ record: SourceRecord; runParams: Record<string, ParamValue> } | undefined> {
  const { redact, sourceIdentity } = await import('../../components/ingest/sources.ts');
  const env: Record<string, string | undefined> = { ...process.env };
  for (const [k, v] of Object.entries(t.env ?? {})) if (typeof v === 'string') env[k] = v;
  const str = (k: string) => (typeof params[k] === 'string' && params[k] !== '' ? params[k] : undefined);
  const h = params.headers;
  const parsed: unknown = typeof h === 'string' && h.trim() ? JSON.parse(h) : h;
  const headers = isStringRecord(parsed) ? parsed : undefined;
  const id = await sourceIdentity(uri, { query: str('query'), freshness: str('freshness'), group: str('group'), from: str('from'), headers, env });
  if (!id) return undefined;
  return {
    record: { uri: redact(uri), identity: id.identity, ...(id.kafka ? { kafka: id.kafka } : {}) },
    runParams: id.kafka ? { offsets: JSON.stringify(id.kafka) } : {},
  };
}

/**
 * The outputs are stored and their bytes still match their digests. A corrupt one is quarantined
 * (store/corrupt/) and said so in the node's log, so the task runs again and stores good bytes.
 */
async function outputsExist(store: ArtifactStore, outs: Record<string, ArtifactRef>, say: (line: string) => void): Promise<boolean> {
  for (const [name, o] of Object.entries(outs)) {
    const v = await store.verify(o.digest);
    if (v === 'corrupt') say(`stored output '${name}' (${o.digest}) no longer matches its digest; moved it to ${store.corruptDir} and running the task again`);
    if (v !== 'ok') return false;
  }
  return true;
}

/**
 * Runs one node (a task, or one instance of a parallelFor) through resume, cache and retries, and
 * records its state on `n`. Never throws: every outcome is a Result (and a node state).
 */
export async function runNode(
  ctx: RunContext,
  t: TaskSpec,
  n: NodeRecord,
  item: ParamValue | undefined,
  slots: readonly Semaphore[],
  extraParams: Record<string, ParamValue>,
  cacheable: boolean,
): Promise<Result> {
  const { spec, runId, runDir, workRoot, root, cwd, gitCommit, prev, store, cache, fileDigests, signal, results } = ctx;
  const say = (line: string): void => ctx.emit({ type: 'log', runId, node: n.id, line, time: now() });
  const fail = (state: NodeState, message: string, failure?: FailureClass): Result => {
    if (failure && (state === 'Failed' || state === 'Error')) {
      n.reason = failure.reason;
      if (failure.terminal) n.terminal = true;
    }
    ctx.setState(n, state, { message });
    return { state, outputs: {}, outputParams: {} };
  };
  // Resolve what the task needs.
  let taskParams: Record<string, ParamValue>;
  const inputPaths: Record<string, string> = {};
  const inputDigests: Record<string, string> = {};
  let component: Component | undefined;
  try {
    taskParams = {};
    for (const [k, ref] of Object.entries(t.params)) taskParams[k] = resolveValue(ref, ctx.scopeOf(item), `${t.path} params.${k}`);
    for (const [k, inp] of Object.entries(t.inputs)) {
      const ref = results.get(inp.task)?.outputs[inp.output];
      // An optional output its step did not write reaches the consumer as no input, as in Argo
      // (pipelines/argo.ts marks both ends optional); a component that needs it says so itself.
      if (!ref && ctx.spec.tasks.find((u) => u.name === inp.task)?.outputs[inp.output]?.optional) continue;
      if (!ref) throw new PipelineError(t.path, `input '${k}': task '${inp.task}' produced no artifact '${inp.output}'`);
      inputDigests[k] = ref.digest;
      inputPaths[k] = store.pathOf(ref.digest);
    }
  } catch (e) {
    return fail('Error', (e as Error).message, classifyFailure(e));
  }
  // Local files named by params: resolved against the run's cwd, and their content keys the cache.
  const files: Record<string, string> = {};
  const runParams: Record<string, ParamValue> = { ...taskParams };
  try {
    for (const name of await ctx.fileParamsOf(t)) {
      const v = taskParams[name];
      if (typeof v !== 'string' || v === '') continue;
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) {
        // A remote source: its content identity (ETag, query + freshness, offset range) keys the cache.
        const src = await remoteSource(v, taskParams, t);
        if (!src) continue;
        files[name] = src.record.identity;
        (n.sources ??= {})[name] = src.record;
        Object.assign(runParams, src.runParams);
        continue;
      }
      const abs = resolve(cwd, v);
      files[name] = await fileDigests.of(abs);
      runParams[name] = abs;
    }
  } catch (e) {
    return fail('Error', `${t.path}: ${(e as Error).message}`, classifyFailure(e));
  }
  const upstream: Record<string, string> = {};
  for (const d of t.dependsOn) upstream[d] = results.get(d)?.key ?? results.get(d)?.state ?? 'none';
  // The component's version comes from the spec (the construct copies it from the catalog's
  // descriptor), so a fully cached run never loads the components at all.
  const key = cacheKey({
    task: t,
    params: taskParams,
    inputs: inputDigests,
    componentVersion: t.component?.version ?? null,
    upstream,
    files,
    ...(item !== undefined ? { item } : {}),
  });
  n.cacheKey = key;

  // Reuse: the run being resumed, then the step cache.
  const p = prev?.nodes[n.id];
  if (p && p.state === 'Succeeded' && p.cacheKey === key && (await outputsExist(store, p.outputs, say))) {
    n.outputs = p.outputs;
    n.outputParams = p.outputParams;
    n.attempts = p.attempts;
    n.resumed = true;
    n.cached = p.cached;
    if (p.log) n.log = p.log;
    n.startedAt = new Date().toISOString();
    ctx.setState(n, 'Succeeded', { message: 'finished in the resumed run' });
    return { state: 'Succeeded', outputs: n.outputs, outputParams: n.outputParams, key };
  }
  const cacheOn = cacheable && t.cache.enabled;
  if (ctx.useCache && cacheOn) {
    const hit = await cache.get(key);
    const fresh = hit && (t.cache.maxAgeSeconds === undefined || Date.now() - Date.parse(hit.createdAt) <= t.cache.maxAgeSeconds * 1000);
    if (hit && fresh && (await outputsExist(store, hit.outputs, say))) {
      n.outputs = hit.outputs;
      n.outputParams = hit.outputParams;
      n.cached = true;
      n.startedAt = new Date().toISOString();
      ctx.setState(n, 'Succeeded', { message: `cached (from run ${hit.runId})` });
      return { state: 'Succeeded', outputs: n.outputs, outputParams: n.outputParams, key };
    }
  }

  // Run, with retries.
  if (t.component) {
    try {
      component = await ctx.componentOf(t.component.name);
    } catch (e) {
      return fail('Error', `${t.path}: ${(e as Error).message}`);
    }
    if (!component) return fail('Error', `${t.path}: component '${t.component.name}' is not in the component catalog (components/index.ts)`, INVALID_SPEC);
    if (component.version !== t.component.version) {
      return fail(
        'Error',
        `${t.path}: the pipeline was built for component '${t.component.name}' version ${t.component.version}, but the catalog has version ${component.version}; update pipelines/catalog.ts (the descriptor) to match`,
        INVALID_SPEC,
      );
    }
  }
  const inWorker = !!component && (ctx.isolation === 'worker' || (ctx.isolation === 'auto' && isHeavy(t)));
  let log: WriteStream | undefined;
  const logLine = (line: string): void => {
    if (!log) {
      n.log = `logs/${n.id}.log`;
      mkdirSync(join(runDir, 'logs'), { recursive: true });
      log = createWriteStream(join(runDir, n.log), { flags: 'a' });
      log.on('error', () => {});
    }
    log.write(line + '\n');
    ctx.emit({ type: 'log', runId, node: n.id, line, time: now() });
  };
  const contextEnv: Record<string, string> = {
    GHOSTEAM_RUN_ID: runId,
    GHOSTEAM_PIPELINE: spec.name,
    GHOSTEAM_GIT_COMMIT: gitCommit ?? '',
    ...(ctx.gitDirty ? { GHOSTEAM_GIT_DIRTY: ctx.gitDirty } : {}),
    GHOSTEAM_TASK: t.name,
    GHOSTEAM_NODE: n.id,
    GHOSTEAM_STORE_DIR: root,
    ...(ctx.reason ? { GHOSTEAM_REASON: ctx.reason } : {}),
    ...('ghosteam.status' in extraParams
      ? { GHOSTEAM_STATUS: String(extraParams['ghosteam.status']), GHOSTEAM_WORKFLOW_STATUS: String(extraParams['ghosteam.status']) }
      : {}),
  };
  const allParams: Record<string, ParamValue> = {
    ...runParams,
    'ghosteam.runId': runId,
    'ghosteam.pipeline': spec.name,
    'ghosteam.gitCommit': gitCommit,
    ...(ctx.gitDirty ? { 'ghosteam.gitDirty': ctx.gitDirty } : {}),
    'ghosteam.task': n.id,
    'ghosteam.inputDigests': inputDigests,
    ...(ctx.reason ? { 'ghosteam.reason': ctx.reason } : {}),
    ...extraParams,
  };
  const firstStart = Date.now();
  try {
    for (let attempt = 1; ; attempt++) {
      let delay = 0;
      const releases: (() => void)[] = [];
      for (const s of slots) releases.push(await s.acquire());
      try {
        if (signal.aborted)
          return fail(attempt === 1 ? 'Omitted' : 'Cancelled', attempt === 1 ? 'not started: the run was cancelled' : 'cancelled while waiting to retry');
        if (ctx.failed() && attempt === 1 && !n.isExitHandler) return fail('Omitted', 'not started: an earlier task failed');
        const a = { attempt, startedAt: new Date().toISOString() };
        n.attempts.push(a);
        ctx.setState(n, 'Running', { attempt });
        const dir = join(workRoot, n.id, String(attempt));
        // A resumed run reuses its id: clear what an earlier attempt left, so a stale file is never taken as an output.
        if (prev) await removeDir(dir);
        const r = nameInputs(
          await runAttempt({
            task: t,
            params: allParams,
            ...(item !== undefined ? { item } : {}),
            inputs: inputPaths,
            dir,
            signal,
            ...(component ? { component, isolation: inWorker ? ('worker' as const) : ('inline' as const), catalog: CATALOG_URL } : {}),
            contextEnv,
            cwd,
            killGraceMs: ctx.killGraceMs,
            log: logLine,
            progress: (e) => ctx.emit({ type: 'progress', runId, node: n.id, time: now(), ...e }),
          }),
          inputPaths,
          t.inputs,
        );
        const outcome = r.ok ? 'Succeeded' : r.kind === 'cancelled' ? 'Cancelled' : r.kind === 'error' ? 'Error' : 'Failed';
        const failure = r.ok || r.kind === 'cancelled' ? undefined : (r.failure ?? { terminal: false, reason: 'Unknown' as const });
        n.attempts[n.attempts.length - 1] = {
          ...a,
          finishedAt: new Date().toISOString(),
          outcome,
          ...(r.ok ? {} : { message: r.message }),
          ...(failure ? { reason: failure.reason, ...(failure.terminal ? { terminal: true as const } : {}) } : {}),
        };
        if (r.ok) {
          const outputs: Record<string, ArtifactRef> = {};
          try {
            for (const [name, path] of Object.entries(r.outputs)) outputs[name] = await store.put(path, t.outputs[name].kind);
          } catch (e) {
            return fail('Error', `could not store outputs: ${(e as Error).message}`, classifyFailure(e));
          }
          n.outputs = outputs;
          n.outputParams = r.outputParams;
          if (cacheOn) {
            await cache.put({ key, task: t.name, runId, createdAt: new Date().toISOString(), outputs, outputParams: r.outputParams }).catch(() => {});
          }
          ctx.setState(n, 'Succeeded', attempt > 1 ? { message: `succeeded on attempt ${attempt}` } : {});
          return { state: 'Succeeded', outputs, outputParams: r.outputParams, key };
        }
        if (r.kind === 'cancelled') return fail('Cancelled', 'cancelled while running');
        // A failure retrying cannot change (an invalid param, data that fails validation) is not retried.
        const next = failure?.terminal ? null : retryDelayMs(t.retry, attempt + 1, r.kind, Date.now() - firstStart);
        if (next === null || signal.aborted) {
          const tries = attempt > 1 ? ` (after ${attempt} attempts)` : '';
          const why = failure?.terminal && t.retry && attempt <= t.retry.limit ? `; ${retryNote(failure)}` : '';
          if (why) logLine(`attempt ${attempt} failed: ${r.message}${why}`);
          return fail(r.kind === 'error' ? 'Error' : 'Failed', `${r.message}${tries}${why}`, failure);
        }
        delay = next;
        logLine(`attempt ${attempt} failed: ${r.message}; retrying in ${(delay / 1000).toFixed(1)}s`);
        ctx.emit({ type: 'retry', runId, node: n.id, attempt: attempt + 1, delayMs: delay, message: r.message, time: now() });
      } finally {
        releases.reverse().forEach((r) => r());
      }
      try {
        if (delay > 0) await ctx.sleep(delay, signal);
      } catch {
        return fail('Cancelled', 'cancelled while waiting to retry');
      }
    }
  } finally {
    if (log) await new Promise<void>((r) => log!.end(r));
  }
}

/**
 * A failed attempt's message with each input's store path (a content-addressed blob under
 * store/sha256/…, meaningless to the user) replaced by the input's name and where it came from:
 * `split: input 'dataset' (ingest.dataset) has no column 'cultivar'`.
 */
export function nameInputs(
  r: AttemptResult,
  paths: Readonly<Record<string, string>>,
  inputs: Readonly<Record<string, { readonly task: string; readonly output: string }>>,
): AttemptResult {
  if (r.ok) return r;
  let message = r.message;
  for (const [k, path] of Object.entries(paths)) {
    if (!message.includes(path)) continue;
    const from = inputs[k] ? ` (${inputs[k].task}.${inputs[k].output})` : '';
    message = message.split(`${path}:`).join(`input '${k}'${from}`).split(path).join(`input '${k}'${from}`);
  }
  return message === r.message ? r : { ...r, message };
}

/**
 * Runs one attempt of one task on this machine: a built-in component in-process (it gets local
 * paths, an AbortSignal and callbacks, per components/component.ts), or the task's command as a
 * child process in its own process group (so a timeout or Ctrl-C stops the whole tree).
 *
 * Command tasks see, with Argo-style placeholders substituted in `command`/`args`:
 *   {{inputs.parameters.X}} / {{params.X}}   the task parameter X (text; non-strings as JSON)
 *   {{inputs.artifacts.X.path}}              the local path of input artifact X (read-only)
 *   {{outputs.artifacts.X.path}}             where to write output artifact X
 *   {{outputs.parameters.X.path}}            a file whose content becomes output parameter X
 *   {{item}}                                 the parallelFor item;  {{workflow.name}} the run id
 *   {{workflow.status}}                      exit handler only: the DAG's outcome
 * The container conventions of pipelines/argo.ts hold too: the literal paths /tmp/inputs/X,
 * /tmp/outputs/Y and /tmp/outputs/params/P in `command`/`args` are mapped onto the attempt's
 * directories, and param X arrives as env GHOSTEAM_PARAM_<X> (argo.ts `envName`: upper snake case).
 * Also in the environment: GHOSTEAM_INPUT_X, GHOSTEAM_OUTPUT_Y (paths), GHOSTEAM_OUTPUT_PARAMS_DIR,
 * GHOSTEAM_WORK_DIR (scratch), plus the run context (index.ts). An output param file holds a string
 * as-is or JSON. A stdout line `::ghosteam::progress {"epoch":3,"epochs":10,"loss":0.41}` reports
 * progress.
 */
import { spawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { mkdir, readFile, stat, symlink } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { Component, ComponentContext, ParamValue, ProgressEvent } from '../../components/component.ts';
import type { EnvValue, TaskSpec } from '../spec.ts';
import { contractEnv } from '../contract.ts';
import { valueText, type FailureKind } from './plan.ts';
import { classifyExit, classifyFailure, type FailureClass } from '../../api/failure.ts';

export interface AttemptInput {
  readonly task: TaskSpec;
  /** Resolved task params plus the reserved ones. */
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly item?: ParamValue;
  /** Input artifact name -> local path. */
  readonly inputs: Readonly<Record<string, string>>;
  /** The attempt's directory: outputs go to <dir>/out, scratch is <dir>/tmp. */
  readonly dir: string;
  /** Cancels the run. */
  readonly signal: AbortSignal;
  readonly component?: Component;
  /**
   * Where the component runs: 'inline' in this thread, or 'worker' in a worker thread that loads
   * it from `catalog` (a module URL exporting getComponent) — only catalog components can.
   */
  readonly isolation?: 'inline' | 'worker';
  readonly catalog?: string;
  /** Reserved context (GHOSTEAM_RUN_ID, ...) for child processes. */
  readonly contextEnv: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly killGraceMs: number;
  log(line: string): void;
  progress(e: ProgressEvent): void;
}

export type AttemptResult =
  | { readonly ok: true; readonly outputs: Record<string, string>; readonly outputParams: Record<string, ParamValue> }
  | { readonly ok: false; readonly kind: FailureKind | 'cancelled'; readonly message: string; readonly failure?: FailureClass };

/** Process groups of running command tasks, so a forced exit can still stop them (killRunningTasks). */
const running = new Set<number>();

/** SIGKILLs every running command task's process group; for a forced exit (a second Ctrl-C). */
export function killRunningTasks(): void {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  running.clear();
}

export function envName(prefix: string, name: string): string {
  return `${prefix}${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

class AttemptError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly failure?: FailureClass,
  ) {
    super(message);
  }
}

/** Runs the attempt with the task's timeout; never throws. */
export async function runAttempt(a: AttemptInput): Promise<AttemptResult> {
  const ctl = new AbortController();
  const onCancel = (): void => ctl.abort(new Error('cancelled'));
  if (a.signal.aborted) return { ok: false, kind: 'cancelled', message: 'run cancelled' };
  a.signal.addEventListener('abort', onCancel, { once: true });
  let timedOut = false;
  const timer =
    a.task.timeoutSeconds !== undefined
      ? setTimeout(() => {
          timedOut = true;
          ctl.abort(new Error('timeout'));
        }, a.task.timeoutSeconds * 1000)
      : undefined;
  const outDir = join(a.dir, 'out');
  const tmpDir = join(a.dir, 'tmp');
  const outputs: Record<string, string> = {};
  for (const name of Object.keys(a.task.outputs)) outputs[name] = join(outDir, name);
  try {
    await Promise.all([mkdir(a.component ? outDir : join(outDir, 'params'), { recursive: true }), mkdir(tmpDir, { recursive: true })]);
    const outputParams = a.component
      ? a.isolation === 'worker' && a.catalog
        ? await runComponentInWorker(a, a.component, a.catalog, outputs, tmpDir, ctl.signal)
        : await runComponent(a, a.component, outputs, tmpDir, ctl.signal)
      : await runCommand(a, outputs, outDir, tmpDir, ctl.signal);
    if (ctl.signal.aborted) throw ctl.signal.reason;
    for (const [name, path] of Object.entries(outputs)) {
      const optional = a.task.outputs[name]?.optional;
      const st = await stat(path).catch(() => undefined);
      if (!st) {
        if (optional) {
          delete outputs[name];
          continue;
        }
        throw new AttemptError('error', `did not write output artifact '${name}' (expected a file at ${path})`);
      }
      if (!st.isFile()) throw new AttemptError('error', `output artifact '${name}' at ${path} is not a regular file; artifacts are single files`);
    }
    for (const p of a.task.outputParams) {
      if (p in outputParams) continue;
      // A component's unset output param reads as null, as in its container (components/index.ts);
      // a command must write the file, as Argo requires of `valueFrom.path`.
      if (a.component) outputParams[p] = null;
      else throw new AttemptError('error', `did not set output parameter '${p}' (write it to {{outputs.parameters.${p}.path}})`);
    }
    return { ok: true, outputs, outputParams };
  } catch (e) {
    if (timedOut)
      return {
        ok: false,
        kind: 'failure',
        message: `timed out after ${a.task.timeoutSeconds}s (timeoutSeconds)`,
        failure: { terminal: false, reason: 'Timeout' },
      };
    if (a.signal.aborted) return { ok: false, kind: 'cancelled', message: 'run cancelled' };
    if (e instanceof AttemptError) return { ok: false, kind: e.kind, message: e.message, failure: e.failure ?? { terminal: false, reason: 'Unknown' } };
    return { ok: false, kind: 'failure', message: (e as Error)?.message ?? String(e), failure: classifyFailure(e) };
  } finally {
    clearTimeout(timer);
    a.signal.removeEventListener('abort', onCancel);
  }
}

async function runComponent(
  a: AttemptInput,
  c: Component,
  outputs: Record<string, string>,
  tmpDir: string,
  signal: AbortSignal,
): Promise<Record<string, ParamValue>> {
  const outputParams: Record<string, ParamValue> = {};
  const allowed = new Set([...a.task.outputParams, ...(c.outputParams ?? [])]);
  for (const i of c.inputs) {
    if (!i.optional && !(i.name in a.inputs))
      throw new AttemptError('error', `component '${c.name}' needs input artifact '${i.name}', which the task does not pass`);
  }
  const ctx: ComponentContext = {
    params: a.params,
    inputs: a.inputs,
    outputs,
    workDir: tmpDir,
    signal,
    log: (line) => a.log(line),
    progress: (e) => a.progress(e),
    setOutput: (name, value) => {
      if (!allowed.has(name)) throw new Error(`output parameter '${name}' is not declared (declared: ${[...allowed].join(', ') || 'none'})`);
      outputParams[name] = value;
    },
  };
  // A component that ignores its signal cannot be stopped in-process; the attempt ends anyway.
  let onAbort: () => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    await Promise.race([c.run(ctx), aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  return outputParams;
}

async function runComponentInWorker(
  a: AttemptInput,
  c: Component,
  catalog: string,
  outputs: Record<string, string>,
  tmpDir: string,
  signal: AbortSignal,
): Promise<Record<string, ParamValue>> {
  for (const i of c.inputs) {
    if (!i.optional && !(i.name in a.inputs))
      throw new AttemptError('error', `component '${c.name}' needs input artifact '${i.name}', which the task does not pass`);
  }
  // The worker's epoch progress waits on this for the answer: [answers, stop] (worker.ts).
  const gate = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), {
    workerData: {
      progressGate: gate.buffer,
      catalog,
      component: c.name,
      params: a.params,
      inputs: a.inputs,
      outputs,
      workDir: tmpDir,
      allowedOutputParams: [...new Set([...a.task.outputParams, ...(c.outputParams ?? [])])],
    },
    stdout: true,
    stderr: true,
  });
  const forward = (stream: NodeJS.ReadableStream): void => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        a.log(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    stream.on('end', () => buf && a.log(buf));
  };
  forward(worker.stdout);
  forward(worker.stderr);
  return new Promise<Record<string, ParamValue>>((resolve, reject) => {
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      fn();
    };
    const onAbort = (): void => {
      worker.postMessage({ type: 'abort', reason: String((signal.reason as Error)?.message ?? 'aborted') });
      // A component that ignores its signal is stopped anyway.
      killTimer = setTimeout(() => void worker.terminate(), a.killGraceMs);
      killTimer.unref();
      settle(() => reject(signal.reason));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    worker.on(
      'message',
      (m: {
        type: string;
        line?: string;
        event?: ProgressEvent;
        outputParams?: Record<string, ParamValue>;
        message?: string;
        terminal?: boolean;
        reason?: string;
      }) => {
        if (m.type === 'log') a.log(m.line!);
        else if (m.type === 'progress') {
          a.progress(m.event!);
          // Listeners of the progress (a sweep's rung, its budget) stop the attempt synchronously: answer with it.
          if (typeof m.event?.epoch === 'number') {
            Atomics.store(gate, 1, signal.aborted ? 1 : 0);
            Atomics.add(gate, 0, 1);
            Atomics.notify(gate, 0);
          }
        } else if (m.type === 'done') settle(() => resolve(m.outputParams!));
        // The worker classified its error (api/failure.ts); the class travels as plain fields.
        else if (m.type === 'error') settle(() => reject(Object.assign(new Error(m.message), { terminal: m.terminal === true, reason: m.reason })));
      },
    );
    worker.on('error', (e) => settle(() => reject(new AttemptError('error', `component worker crashed: ${e.message}`))));
    worker.on('exit', (code) => settle(() => reject(new AttemptError('error', `component worker exited (code ${code}) before finishing`))));
  });
}

function resolveEnv(task: TaskSpec): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries<EnvValue>(task.env)) {
    if (typeof v === 'string') {
      env[k] = v;
      continue;
    }
    const { name, key } = v.secretKeyRef;
    const local = envName('GHOSTEAM_SECRET_', `${name}_${key}`);
    const val = process.env[local];
    if (val === undefined) {
      throw new AttemptError('error', `env '${k}' comes from secret '${name}' key '${key}'; locally, set ${local} in the environment to provide it`);
    }
    env[k] = val;
  }
  return env;
}

/** Substitutes Argo-style placeholders; an unknown one is an error naming it. */
export function substitute(text: string, vars: Readonly<Record<string, string>>, where: string): string {
  return text.replace(/\{\{\s*([^}]+?)\s*\}\}/g, (_, name: string) => {
    const v = vars[name];
    if (v === undefined)
      throw new AttemptError(
        'error',
        `${where}: unknown placeholder '{{${name}}}'; known: ${
          Object.keys(vars)
            .map((k) => `{{${k}}}`)
            .join(', ') || 'none'
        }`,
      );
    return v;
  });
}

/** Maps the container's fixed paths (/tmp/inputs, /tmp/outputs; pipelines/argo.ts) onto this attempt's directories. */
export function mapContainerPaths(s: string, inDir: string, outDir: string): string {
  return s.replace(/(?<![A-Za-z0-9_.\/-])\/tmp\/(inputs|outputs)(?=\/|$|[^A-Za-z0-9_.-])/g, (_, which: string) => (which === 'inputs' ? inDir : outDir));
}

/** Loopback rendezvous for a distributed step's workers (what torchrun sets; MASTER_PORT is free when chosen). */
export function rendezvousEnv(workers: number, rank: number, port: number): Record<string, string> {
  return {
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port),
    WORLD_SIZE: String(workers),
    RANK: String(rank),
    LOCAL_RANK: String(rank),
    LOCAL_WORLD_SIZE: String(workers),
    GROUP_RANK: '0',
  };
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => res(port));
    });
  });
}

/**
 * The argv and environment of a command step run locally: the task's `local` settings applied
 * (interpreter replaces command[0], a venv goes first on PATH; relative paths against `local.dir`).
 */
export function localCommand(
  t: TaskSpec,
  argv: readonly string[],
  baseEnv: Readonly<Record<string, string | undefined>>,
): { argv: string[]; env: Record<string, string>; cwd?: string } {
  const l = t.local ?? {};
  const base = l.dir;
  const abs = (p: string): string => (isAbsolute(p) || !base ? p : resolve(base, p));
  const out = [...argv];
  const env: Record<string, string> = {};
  if (l.venv) {
    const venv = abs(l.venv);
    env.VIRTUAL_ENV = venv;
    env.PATH = [join(venv, process.platform === 'win32' ? 'Scripts' : 'bin'), baseEnv.PATH].filter(Boolean).join(delimiter);
  }
  // A bare name ('python3.12') is looked up on PATH; anything with a slash is a path.
  if (l.interpreter) out[0] = l.interpreter.includes('/') ? abs(l.interpreter) : l.interpreter;
  return { argv: out, env, ...(base ? { cwd: base } : {}) };
}

async function runCommand(
  a: AttemptInput,
  outputs: Record<string, string>,
  outDir: string,
  tmpDir: string,
  signal: AbortSignal,
): Promise<Record<string, ParamValue>> {
  const t = a.task;
  if (!t.command || t.command.length === 0) {
    throw new AttemptError(
      'error',
      `has no command and no component; it runs image '${t.image}''s entrypoint, which the local engine cannot run — give the task a command or use a built-in component`,
    );
  }
  const paramsDir = join(outDir, 'params');
  // Inputs also appear under <attempt>/in/<name>, as they do under /tmp/inputs in the container.
  const inDir = join(a.dir, 'in');
  await mkdir(inDir, { recursive: true });
  for (const [k, p] of Object.entries(a.inputs)) await symlink(p, join(inDir, k)).catch(() => {});
  const vars: Record<string, string> = { 'workflow.name': a.contextEnv.GHOSTEAM_RUN_ID ?? '' };
  if (a.contextEnv.GHOSTEAM_WORKFLOW_STATUS !== undefined) vars['workflow.status'] = a.contextEnv.GHOSTEAM_WORKFLOW_STATUS;
  // The I/O contract (pipelines/contract.ts), exactly as the Argo template sets it, over this attempt's directories.
  const env: Record<string, string> = { ...a.contextEnv };
  // An input whose optional upstream output was not written keeps its variable, naming a path with
  // no file, as /tmp/inputs/<name> in the container: the step sees the same contract in both.
  const inputs = Object.fromEntries(Object.keys(t.inputs).map((k) => [k, a.inputs[k] ?? join(inDir, k)]));
  const contract = contractEnv(t, { inputs, outputs, outputParamsDir: paramsDir, workDir: tmpDir }, (k) => valueText(a.params[k] ?? null), {
    runId: a.contextEnv.GHOSTEAM_RUN_ID ?? '',
    pipeline: a.contextEnv.GHOSTEAM_PIPELINE ?? '',
  });
  for (const { name, value } of contract) env[name] = value;
  for (const [k, v] of Object.entries(a.params)) {
    if (k.startsWith('ghosteam.')) continue;
    vars[`inputs.parameters.${k}`] = vars[`params.${k}`] = valueText(v);
  }
  for (const [k, p] of Object.entries(a.inputs)) vars[`inputs.artifacts.${k}.path`] = p;
  for (const [k, p] of Object.entries(outputs)) vars[`outputs.artifacts.${k}.path`] = p;
  for (const k of t.outputParams) vars[`outputs.parameters.${k}.path`] = join(paramsDir, k);
  if (a.item !== undefined) vars.item = valueText(a.item);
  const substituted = [...t.command, ...(t.args ?? [])].map((s, i) =>
    mapContainerPaths(substitute(s, vars, i < t.command!.length ? `command[${i}]` : `args[${i - t.command!.length}]`), inDir, outDir),
  );
  Object.assign(env, resolveEnv(t));
  const local = localCommand(t, substituted, process.env);
  const argv = local.argv;
  Object.assign(env, local.env);
  const cwd = local.cwd ?? a.cwd;

  const workers = t.distributed?.workers ?? 1;
  const port = t.distributed ? await freePort() : 0;
  // Every worker is stopped as soon as one fails: a rendezvous never completes without all of them.
  const group = new AbortController();
  const onOuter = (): void => group.abort(signal.reason);
  if (signal.aborted) onOuter();
  else signal.addEventListener('abort', onOuter, { once: true });
  try {
    await Promise.all(
      Array.from({ length: workers }, (_, rank) =>
        spawnOne(
          a,
          t,
          argv,
          { ...env, ...(t.distributed ? rendezvousEnv(workers, rank, port) : {}) },
          cwd,
          group.signal,
          t.distributed ? `[rank ${rank}] ` : '',
        ).catch((e: unknown) => {
          if (!group.signal.aborted) group.abort(e);
          throw e;
        }),
      ),
    );
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    // The first worker's failure, not a sibling's "killed by SIGTERM".
    throw group.signal.reason ?? e;
  } finally {
    signal.removeEventListener('abort', onOuter);
  }

  const outputParams: Record<string, ParamValue> = {};
  for (const k of t.outputParams) {
    const text = await readFile(join(paramsDir, k), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const trimmed = text.replace(/\n$/, '');
    try {
      outputParams[k] = JSON.parse(trimmed) as ParamValue;
    } catch {
      outputParams[k] = trimmed;
    }
  }
  return outputParams;
}

/** Runs one process of a command step in its own process group; rejects with an AttemptError on failure. */
function spawnOne(
  a: AttemptInput,
  t: TaskSpec,
  argv: readonly string[],
  env: Record<string, string>,
  cwd: string,
  signal: AbortSignal,
  prefix: string,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (child.pid !== undefined) running.add(child.pid);
    let killTimer: NodeJS.Timeout | undefined;
    const kill = (): void => {
      if (child.pid === undefined || child.exitCode !== null) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      killTimer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, a.killGraceMs);
      killTimer.unref();
    };
    signal.addEventListener('abort', kill, { once: true });
    // The last line the process wrote to stderr: most often what went wrong (a Python traceback's
    // exception line), so a failure's message says it, not only the exit code.
    let lastError: string | undefined;
    const lines = (stream: NodeJS.ReadableStream, isStdout: boolean): void => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          emit(buf.slice(0, i), isStdout);
          buf = buf.slice(i + 1);
        }
      });
      stream.on('end', () => {
        if (buf) emit(buf, isStdout);
      });
    };
    const emit = (line: string, isStdout: boolean): void => {
      if (!isStdout && line.trim()) lastError = line.trim();
      if (isStdout && line.startsWith('::ghosteam::progress ')) {
        try {
          if (prefix === '' || prefix === '[rank 0] ') a.progress(JSON.parse(line.slice(21)) as ProgressEvent);
          return;
        } catch {
          /* not ours: log it */
        }
      }
      a.log(prefix + line.replace(/\r$/, ''));
    };
    lines(child.stdout, true);
    lines(child.stderr, false);
    child.on('error', (e: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', kill);
      if (e.code === 'ENOENT' || e.code === 'EACCES') {
        reject(
          new AttemptError(
            'error',
            t.local?.interpreter || t.local?.venv
              ? `command '${argv[0]}' is not runnable on this machine (${e.code === 'ENOENT' ? 'not found' : 'permission denied'}); it comes from the step's local ${t.local.interpreter ? `interpreter '${t.local.interpreter}'` : `venv '${t.local.venv}'`}${t.local.dir ? ` (relative to ${t.local.dir})` : ''}: create it, or point local.${t.local.interpreter ? 'interpreter' : 'venv'} at one that exists`
              : `command '${argv[0]}' is not runnable on this machine (${e.code === 'ENOENT' ? 'not found on PATH' : 'permission denied'}); on a cluster it runs in image '${t.image}'. Install it locally, or run the pipeline on a cluster`,
          ),
        );
      } else reject(new AttemptError('error', `could not start '${argv[0]}': ${e.message}`));
    });
    child.on('close', (code, sig) => {
      if (child.pid !== undefined) running.delete(child.pid);
      signal.removeEventListener('abort', kill);
      clearTimeout(killTimer);
      if (signal.aborted) reject(signal.reason);
      else if (code === 0) resolve();
      else
        reject(
          new AttemptError(
            'failure',
            (sig ? `${prefix}'${argv[0]}' was killed by ${sig}` : `${prefix}'${argv[0]}' exited with code ${code}`) +
              (lastError ? `; its last error line: ${lastError.length > 300 ? `${lastError.slice(0, 300)}…` : lastError}` : ''),
            classifyExit(code, sig),
          ),
        );
    });
  });
}

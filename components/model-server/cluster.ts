/**
 * More serving processes: `startServerCluster` runs the model server in N worker processes
 * (node:cluster) that share one listening port. One Node process answers HTTP on one thread, and
 * at a few hundred µs of CPU per request (HTTP parsing, the write syscall, GC) that thread, not
 * onnxruntime (~5 µs per row), is what limits throughput; N processes use N cores.
 *
 * What holds across the workers, as in one process:
 * - **Connections** are handed out round-robin by the primary (node:cluster's default on Linux).
 *   Each worker has its own onnxruntime sessions and dynamic batcher.
 * - **Admission**: each worker admits `ceil(maxInflight / workers)` requests (so the server as a
 *   whole about maxInflight); `maxInflightPerConnection` is per connection, as before.
 * - **Model lifecycle** (admin API, model repository extension): the worker that gets the request
 *   resolves the spec once, and the primary applies the change on every worker, one change at a
 *   time, before answering. A worker that fails a change the others made is replaced; a worker
 *   started later (a replacement) replays every change before it listens. So /admin/models and the
 *   canary traffic split read the same on every connection.
 * - **Statistics and /metrics** are the whole cluster's: the worker asks the primary, which asks
 *   every worker and merges (prom-client's aggregation for Prometheus: counters and histograms
 *   summed; Triton's statistics summed; admin stats' p50/p99 over every worker's recent latencies).
 * - **Payload log**: to a file, every worker hands its batches to the primary, the file's one
 *   writer, and counts a record written only when the primary has appended it; to a sink, each
 *   worker posts its own batches.
 * - **Drain**: close() (SIGTERM in `ghosteam serve`) tells every worker to drain as one process
 *   does (readiness 503, in-flight and keep-alive requests answered, payload log flushed), then
 *   closes the payload file. A worker that exits otherwise is replaced.
 *
 * The pure parts (the default worker count from the cgroup quota, merging statistics) are here
 * and in ./metrics.ts and ./triton.ts; ./worker.ts is the worker's side of the protocol.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry } from 'prom-client';
import { adminDefault, type LifecycleOp, type ModelInfo, type ModelServerOptions, type ModelStats } from './server.ts';
import { resolveSpec, specName, type ResolvedSpec } from './models.ts';
import { openPayloadFile } from './payload-log.ts';
import { RequestError } from './tensors.ts';
import { mergeVersionStats, type VersionStats } from './metrics.ts';
import { mergeTritonStats } from './triton.ts';
import type { JsonlFile } from './jsonl-file.ts';

export interface ServerClusterOptions extends Omit<ModelServerOptions, 'registry' | 'random' | 'coordinator' | 'resolvedModels' | 'replay' | 'loadedAt'> {
  /** Worker processes. @default defaultWorkers(): the CPUs this process may use */
  readonly workers?: number;
  /**
   * The registry each worker opens (a local directory or an MLflow tracking URI; see openRegistry),
   * for registry models and loads by name. The primary resolves `models` once for every worker.
   */
  readonly registry?: { readonly dir?: string; readonly trackingUri?: string };
  /** Where the primary reports a replaced worker or a change a worker failed. @default stderr */
  readonly log?: (line: string) => void;
}

export interface ServerCluster {
  readonly url: string;
  readonly port: number;
  readonly admin: boolean;
  readonly workers: number;
  /** Models of `options.models` that could not be loaded, each with why (the others serve). */
  readonly failed: ReadonlyArray<{ readonly model: string; readonly error: string }>;
  /** What every worker serves (they serve the same). */
  models(): Promise<ModelInfo[]>;
  /** The primary's pid and its workers' (for CPU accounting). */
  pids(): number[];
  /** Drains every worker (see ModelServer.close), then closes the payload log file. */
  close(): Promise<void>;
}

/** Messages between the primary and a worker carry this key, so that they never meet another protocol's. */
export const GT = 'ghosteam-serve';

/** What the primary sends a worker first. */
export interface WorkerStart {
  readonly options: Omit<ServerClusterOptions, 'workers' | 'log' | 'payloadLog'> & { readonly payloadLog?: ModelServerOptions['payloadLog'] };
  readonly resolvedModels: readonly ResolvedSpec[];
  readonly loadedAt: string;
  readonly replay: readonly LifecycleOp[];
  /** Payload records go to the primary (the file's one writer). */
  readonly forwardPayload: boolean;
}

/** The CPUs a cgroup's quota allows, from cgroup v2's cpu.max ("max 100000", "200000 100000") or v1's quota and period; undefined when unlimited. */
export function cgroupCpus(cpuMax: string | undefined, v1Quota?: string, v1Period?: string): number | undefined {
  if (cpuMax !== undefined) {
    const [q, p] = cpuMax.trim().split(/\s+/);
    const quota = Number(q);
    const period = Number(p ?? 100000);
    return q === 'max' || !(quota > 0) || !(period > 0) ? undefined : quota / period;
  }
  const quota = Number(v1Quota);
  const period = Number(v1Period);
  return quota > 0 && period > 0 ? quota / period : undefined;
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The workers `ghosteam serve` starts by default: the CPUs this process may use, that is the
 * smaller of the CPUs it may run on and its cgroup's CPU quota rounded up (a pod with a limit of
 * 2 CPUs on a 64-core node gets 2).
 */
export function defaultWorkers(): number {
  const quota = cgroupCpus(readOr('/sys/fs/cgroup/cpu.max'), readOr('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'), readOr('/sys/fs/cgroup/cpu/cpu.cfs_period_us'));
  return Math.max(1, Math.min(availableParallelism(), quota === undefined ? Infinity : Math.ceil(quota - 1e-9)));
}

/**
 * `ghosteam serve --workers`: a count, or `auto` (one per CPU this process may use, see
 * defaultWorkers). The default is 1: every worker holds its own copy of every model, so N workers
 * take N times the memory a pod was sized for, and one process is what the server was before.
 * OIDC, TLS, the audit log and the feedback log need one verifier or writer per server: with them
 * a count above 1 is refused with the fix, and `auto` is 1.
 */
export function workersFlag(value: string | undefined, ctx: { readonly clusterable: boolean; readonly cpus: () => number }): number {
  const v = (value ?? '1').trim();
  if (v === 'auto') return ctx.clusterable ? ctx.cpus() : 1;
  const n = Number(v);
  if (v === '' || !Number.isInteger(n) || n < 1) throw new Error(`--workers expects an integer ≥ 1 or 'auto', got '${value}'`);
  if (n > 1 && !ctx.clusterable)
    throw new Error(
      '--workers above 1 does not combine with --auth-issuer, --tls-cert, --audit-log or --feedback-log yet (each needs one writer or verifier per server); pass --workers 1',
    );
  return n;
}

/** /admin/models/{name}/stats over the workers' answers. */
export function mergeModelStats(parts: ReadonlyArray<{ readonly stats: ModelStats; readonly recent: Record<string, readonly number[]> }>): ModelStats {
  const versions: Record<string, VersionStats> = {};
  const names = new Set(parts.flatMap((p) => Object.keys(p.stats.versions)));
  for (const v of names)
    versions[v] = mergeVersionStats(parts.filter((p) => p.stats.versions[v]).map((p) => ({ stats: p.stats.versions[v], recent: p.recent[v] ?? [] })));
  return { model: parts[0].stats.model, traffic: parts[0].stats.traffic, versions };
}

interface Reply {
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: { readonly status: number; readonly message: string };
}

type Message = { readonly [GT]: string; readonly id?: number } & Record<string, unknown>;

const workerEntry = fileURLToPath(new URL('./worker-entry.mjs', import.meta.url));

function asError(e: unknown): { status: number; message: string } {
  return e instanceof RequestError ? { status: e.status, message: e.message } : { status: 500, message: e instanceof Error ? e.message : String(e) };
}

export async function startServerCluster(options: ServerClusterOptions = {}): Promise<ServerCluster> {
  if (!cluster.isPrimary) throw new Error('startServerCluster runs in a primary process; a cluster worker runs the server itself');
  const n = options.workers ?? defaultWorkers();
  if (!Number.isInteger(n) || n < 1) throw new Error(`workers must be a whole number of at least 1; got ${n}`);
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const host = options.host ?? '127.0.0.1';

  // The models are resolved here, once: every worker loads the same files and versions, and a
  // registry model is downloaded once, not by N processes at the same time.
  const registry =
    options.registry || options.models?.some((m) => 'ref' in m) ? (await import('../registry/index.ts')).openRegistry(options.registry ?? {}) : undefined;
  const resolvedModels: ResolvedSpec[] = [];
  const failed: Array<{ model: string; error: string }> = [];
  for (const m of options.models ?? []) {
    try {
      resolvedModels.push(await resolveSpec(m, registry));
    } catch (e) {
      if (!(e instanceof RequestError)) throw e;
      failed.push({ model: specName(m), error: e.message });
    }
  }
  if (failed.length > 0 && resolvedModels.length === 0)
    throw new Error(failed.length === 1 ? failed[0].error : `no model could be loaded:\n${failed.map((f) => `  ${f.model}: ${f.error}`).join('\n')}`);

  let payloadFile: Promise<JsonlFile> | undefined;
  let payloadChain: Promise<unknown> = Promise.resolve();
  const pl = options.payloadLog;
  const forwardPayload = pl?.file !== undefined && pl.sinkUrl === undefined;
  if (forwardPayload) payloadFile = openPayloadFile({ ...pl, file: pl.file });

  const { models: _models, workers: _workers, log: _log, ...rest } = options;
  const base: WorkerStart['options'] = { ...rest, maxInflight: Math.ceil((options.maxInflight ?? 1024) / n), registry: options.registry };
  const opsLog: LifecycleOp[] = [];
  const loadedAt = new Date().toISOString();
  const live = new Set<Worker>();
  const hello = new WeakSet<Worker>();
  const pending = new Map<number, { worker: Worker; resolve: (r: Reply) => void }>();
  let seq = 0;
  let closing = false;
  let port = 0;
  // Changes and worker starts run one at a time, in order.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const p = queue.then(f, f);
    queue = p.catch(() => undefined);
    return p;
  };

  function ask(w: Worker, msg: Record<string, unknown>): Promise<Reply> {
    const id = ++seq;
    return new Promise<Reply>((resolve) => {
      pending.set(id, { worker: w, resolve });
      try {
        w.send({ [GT]: msg[GT], id, ...msg });
      } catch (e) {
        pending.delete(id);
        resolve({ ok: false, error: asError(e) });
      }
    });
  }
  const askAll = (msg: Record<string, unknown>): Promise<Reply[]> => Promise.all([...live].map((w) => ask(w, msg)));

  async function applyAll(op: LifecycleOp, origin: Worker): Promise<Reply> {
    const targets = [...live];
    const replies = await Promise.all(targets.map((w) => ask(w, { [GT]: 'apply', op })));
    const mine = replies[targets.indexOf(origin)] ?? replies[0];
    const okCount = replies.filter((r) => r.ok).length;
    if (okCount === 0) return mine ?? { ok: false, error: { status: 503, message: 'no worker is serving' } };
    opsLog.push(op);
    // A worker that failed what the others did would answer differently: replace it (its
    // replacement replays every change).
    targets.forEach((w, i) => {
      if (!replies[i].ok) {
        log(`worker ${w.process.pid} failed a ${op.kind} the others applied (${replies[i].error?.message}); replacing it`);
        w.kill();
      }
    });
    return mine.ok ? mine : (replies.find((r) => r.ok) as Reply);
  }

  async function serve(w: Worker, m: Message): Promise<void> {
    const reply = (r: Reply): void => {
      if (w.isConnected()) w.send({ ok: r.ok, result: r.result, error: r.error, [GT]: 'reply', id: m.id });
    };
    try {
      if (m[GT] === 'apply') return reply(await serial(() => applyAll(m.op as LifecycleOp, w)));
      if (m[GT] === 'payload') {
        const write = payloadChain.then(async () => (await payloadFile!).append(m.lines as string));
        payloadChain = write.catch(() => undefined);
        await write;
        return reply({ ok: true });
      }
      const replies = await askAll({ [GT]: m[GT], name: m.name, version: m.version });
      const bad = replies.find((r) => !r.ok);
      if (bad) return reply(bad);
      const results = replies.map((r) => r.result);
      if (m[GT] === 'stats') return reply({ ok: true, result: mergeModelStats(results as Parameters<typeof mergeModelStats>[0]) });
      if (m[GT] === 'triton') return reply({ ok: true, result: mergeTritonStats(results as Record<string, unknown>[][]) });
      if (m[GT] === 'metrics')
        return reply({ ok: true, result: await AggregatorRegistry.aggregate(results as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics() });
      reply({ ok: false, error: { status: 500, message: `unknown request '${m[GT]}'` } });
    } catch (e) {
      reply({ ok: false, error: asError(e) });
    }
  }

  cluster.setupPrimary({ exec: workerEntry, args: [] });

  /** Forks one worker and resolves when it listens (or rejects with why it could not). */
  function fork(): Promise<Worker> {
    const start: WorkerStart = { options: base, resolvedModels, loadedAt, replay: [...opsLog], forwardPayload };
    const w = cluster.fork();
    return new Promise<Worker>((resolve, reject) => {
      let ready = false;
      w.on('message', (m: Message) => {
        if (!m || typeof m !== 'object' || !(GT in m)) return;
        if (m[GT] === 'reply') {
          const p = pending.get(m.id as number);
          if (p) {
            pending.delete(m.id as number);
            p.resolve(m as Message & Reply);
          }
        } else if (m[GT] === 'ready') {
          ready = true;
          port = m.port as number;
          live.add(w);
          resolve(w);
        } else if (m[GT] === 'hello') {
          // The worker's module has loaded and listens for messages (sent before, a message is lost).
          hello.add(w);
          w.send(closing ? { [GT]: 'drain' } : { [GT]: 'start', ...start });
        } else if (m[GT] === 'failed') {
          reject(new Error(m.message as string));
        } else void serve(w, m);
      });
      w.once('exit', (code, signal) => {
        live.delete(w);
        for (const [id, p] of pending)
          if (p.worker === w) {
            pending.delete(id);
            p.resolve({ ok: false, error: { status: 503, message: `worker ${w.process.pid} exited while answering; retry` } });
          }
        if (!ready) return reject(new Error(`a server worker exited (${signal ?? `code ${code}`}) before it listened`));
        hello.delete(w);
        if (closing) return;
        log(`server worker ${w.process.pid} exited (${signal ?? `code ${code}`}); starting another`);
        replace(500);
      });
    });
  }

  /** Starts a worker in place of one that exited, trying again every 5 s while it can't. */
  function replace(delayMs: number): void {
    setTimeout(() => {
      if (closing) return;
      serial(fork).then(
        (nw) => log(`server worker ${nw.process.pid} is serving`),
        (e: Error) => {
          log(`could not start a server worker: ${e.message}; trying again in 5 s`);
          replace(5000);
        },
      );
    }, delayMs).unref();
  }

  try {
    await serial(() => Promise.all(Array.from({ length: n }, fork)));
  } catch (e) {
    closing = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    await (await payloadFile?.catch(() => undefined))?.close();
    throw e;
  }
  const first = [...live][0];
  const firstInfo = await ask(first, { [GT]: 'models' });
  const workerFailed = ((firstInfo.result as { failed?: typeof failed } | undefined)?.failed ?? []).filter((f) => !failed.some((x) => x.model === f.model));

  let closed: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    admin: options.admin ?? adminDefault(host, options.token),
    workers: n,
    failed: [...failed, ...workerFailed],
    async models() {
      const w = [...live][0];
      if (!w) return [];
      const r = await ask(w, { [GT]: 'models' });
      return (r.result as { models: ModelInfo[] }).models;
    },
    pids: () => [process.pid, ...[...live].map((w) => w.process.pid!)],
    close() {
      closed ??= (async () => {
        closing = true;
        const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
        const grace = (options.drainTimeoutMs ?? 10_000) + 10_000;
        await Promise.all(
          workers.map(
            (w) =>
              new Promise<void>((resolve) => {
                if (w.isDead()) return resolve();
                const kill = setTimeout(() => {
                  log(`server worker ${w.process.pid} did not drain within ${grace} ms; killing it`);
                  w.process.kill('SIGKILL');
                }, grace);
                w.once('exit', () => {
                  clearTimeout(kill);
                  resolve();
                });
                // A worker yet to say hello gets 'drain' when it does.
                if (hello.has(w)) w.send({ [GT]: 'drain' });
                else if (!w.isConnected()) w.process.kill('SIGTERM');
              }),
          ),
        );
        await payloadChain;
        await (await payloadFile?.catch(() => undefined))?.close();
      })();
      return closed;
    },
  };
}

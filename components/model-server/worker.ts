/**
 * A worker process of `startServerCluster` (./cluster.ts): waits for the primary's start message,
 * runs the model server with a coordinator that sends lifecycle changes, statistics and /metrics
 * through the primary, answers the primary's requests from its own state, and drains and exits
 * when told to (or on SIGTERM/SIGINT, or when the primary is gone).
 */
import { GT, type WorkerStart } from './cluster.ts';
import { startServer, type LifecycleOp, type LocalServer, type ModelServer, type ServerCoordinator } from './server.ts';
import { RequestError } from './tensors.ts';

type Message = { readonly [GT]: string; readonly id?: number } & Record<string, unknown>;
interface Reply {
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: { readonly status: number; readonly message: string };
}

const send = (m: Record<string, unknown>): void => {
  if (process.connected) process.send!(m);
};

let seq = 0;
const calls = new Map<number, (r: Reply) => void>();

/** One request to the primary; its error comes back as the RequestError it was. */
function call(what: string, fields: Record<string, unknown>): Promise<unknown> {
  if (!process.connected) return Promise.reject(new RequestError(503, 'the server is shutting down; retry'));
  const id = ++seq;
  return new Promise((resolve, reject) => {
    calls.set(id, (r) => (r.ok ? resolve(r.result) : reject(new RequestError(r.error?.status ?? 500, r.error?.message ?? 'unknown error'))));
    send({ [GT]: what, id, ...fields });
  });
}

const coordinator: ServerCoordinator = {
  apply: (op) => call('apply', { op }),
  stats: (name) => call('stats', { name }) as ReturnType<ServerCoordinator['stats']>,
  tritonStats: (name, version) => call('triton', { name, version }) as Promise<unknown[]>,
  metrics: () => call('metrics', {}) as Promise<string>,
};

let server: ModelServer | undefined;
let local: LocalServer | undefined;
let draining: Promise<void> | undefined;

function drain(): void {
  draining ??= (async () => {
    await server?.close();
    process.exit(0);
  })();
}

async function answer(m: Message): Promise<void> {
  let r: Reply;
  try {
    if (!local || !server) throw new RequestError(503, 'this worker is still starting');
    const what = m[GT];
    const result =
      what === 'apply'
        ? await local.apply(m.op as LifecycleOp)
        : what === 'stats'
          ? local.stats(m.name as string)
          : what === 'triton'
            ? local.tritonStats(m.name as string | undefined, m.version as string | undefined)
            : what === 'metrics'
              ? await local.metricsJson()
              : what === 'models'
                ? { models: server.models(), failed: server.failed }
                : undefined;
    if (result === undefined && what !== 'apply') throw new Error(`unknown request '${what}'`);
    r = { ok: true, result };
  } catch (e) {
    r = { ok: false, error: e instanceof RequestError ? { status: e.status, message: e.message } : { status: 500, message: (e as Error).message } };
  }
  send({ ...r, [GT]: 'reply', id: m.id });
}

async function start(s: WorkerStart): Promise<void> {
  const o = s.options;
  const registry = o.registry ? (await import('../registry/index.ts')).openRegistry(o.registry) : undefined;
  const started = await startServer({
    ...o,
    registry,
    models: [],
    resolvedModels: s.resolvedModels,
    loadedAt: s.loadedAt,
    replay: s.replay,
    coordinator,
    payloadLog: o.payloadLog && s.forwardPayload ? { ...o.payloadLog, forward: (lines) => call('payload', { lines }).then(() => undefined) } : o.payloadLog,
  });
  server = started.server;
  local = started.local;
  if (draining) return;
  send({ [GT]: 'ready', port: server.port });
}

process.on('message', (m: Message) => {
  if (!m || typeof m !== 'object' || !(GT in m)) return;
  const what = m[GT];
  if (what === 'start') {
    start(m as Message & WorkerStart).catch((e: Error) => {
      if (process.connected) process.send!({ [GT]: 'failed', message: e.message }, () => process.exit(1));
      else process.exit(1);
    });
  } else if (what === 'reply') {
    const f = calls.get(m.id as number);
    calls.delete(m.id as number);
    f?.(m as Message & Reply);
  } else if (what === 'drain') drain();
  else void answer(m);
});
// A terminal's Ctrl-C reaches every process of the group; the primary drains them all anyway.
process.on('SIGTERM', drain);
process.on('SIGINT', drain);
// Without the primary nobody would coordinate or stop this worker.
process.on('disconnect', drain);
send({ [GT]: 'hello' });

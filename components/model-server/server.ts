/**
 * The model server: Open Inference Protocol (KServe V2) REST + KServe V1 predict on raw node:http
 * and onnxruntime-node, with dynamic batching, canary/shadow routing, payload logging, Prometheus
 * metrics, bearer auth, limits and graceful drain. See ./index.ts for the HTTP surface.
 *
 * Where the throughput goes (bench/serve.ts, 64 clients, batch-1 requests, one run on the shared
 * 2-core machine): the HTTP ceiling (this server answering a fixed body) costs ~59 µs of server CPU
 * per request; a per-request session.run adds ~70 µs (tensor wrapping, onnxruntime-node's own
 * setImmediate hop, the run) and cut throughput to 26% of the ceiling; dynamic batching amortises the
 * run to ~1 µs per row and reached 82%. fastify's routing/hooks/reply layers were a further cost on
 * the single hot route, so this is raw node:http: routing is a split of the path, the body is read
 * into one Buffer and parsed once, the response is one string with flat header arrays. No named
 * closures on the hot path: tsx (esbuild keepNames) wraps each in __name() per creation (~4% CPU).
 * About a quarter of server CPU is the writev syscall per response, the same in the ceiling.
 *
 * Where the p99 goes at a fixed 5,000 req/s (bench:serve, open loop): a request mostly finds the
 * model idle and runs alone (batcher.ts), so the model route costs ~95 µs of server CPU per request
 * against ~55 µs for the ceiling (~20 µs is onnxruntime's fixed cost per run, whatever the rows) and
 * keeps the event loop ~45% busy against ~26%. Scavenges take 0.5–1.5 ms every ~170 ms. The rest of
 * the tail is the machine's: stalls of several ms that the ceiling route, the load generator and the
 * event-loop-delay probe see together (neighbours' CPU, hypervisor steal); a busier loop drains the
 * requests queued during a stall later, so the model route's p99 is ~1.5–2× the ceiling's.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { randomBytes } from 'node:crypto';
import { Server as NetServer, type AddressInfo, type Socket } from 'node:net';
import type { ModelRegistry } from '../registry/types.ts';
import { Batcher, type BatchingOptions, type RawOutput, type BatchInput } from './batcher.ts';
import { ServerMetrics, type VersionMetrics, type VersionStats } from './metrics.ts';
import type { Registry } from 'prom-client';
import {
  loadOrtModel,
  readModelSignature,
  resolveSpec,
  specName,
  type ModelSignature,
  type ModelSpec,
  type OrtModel,
  type ResolvedSpec,
  type SessionOptions,
} from './models.ts';
import { PayloadLogger, type PayloadLogOptions, type PayloadTensor } from './payload-log.ts';
import { decodeInputs, selectOutputs, jsonArrayText, toPlain, RequestError, type TensorSpec, type DecodedTensor } from './tensors.ts';
import { parseTrafficSplit, route, type TrafficSplit } from './traffic.ts';
import { openApiDocument } from './openapi.ts';
import { ELEM_BYTES, attachBinaryInputs, encodeBinary, splitBinaryBody } from './binary.ts';
import { closeAfter, isLoopback, readBody, send, DEFAULT_DRAIN_BYTES } from './http.ts';
import { AuthError, createAuthenticator, type AuthOptions, type Need, type Principal } from '../security/auth.ts';
import { readTls, watchTls, type TlsFiles } from '../security/tls.ts';
import type { AuditLog } from '../security/audit.ts';
import { ModelRepository } from './repository.ts';
import { decodeV1Request, v1AnswerText, v1Shape } from './v1.ts';
import { modelConfig, TritonStats } from './triton.ts';
import { QualityMonitor, registerQualityMetrics, type QualityOptions, type VersionQuality } from './quality.ts';
import type { CbpeEstimate } from './cbpe.ts';
import { FeatureInputs, type ModelFeatures } from './features.ts';
import { Residency, estimateModelBytes, residencyMetrics, type Reservation } from './residency.ts';
import { stat } from 'node:fs/promises';

export interface ModelServerOptions {
  /** Models loaded before the server starts listening. */
  readonly models?: readonly ModelSpec[];
  /** Resolves `{ ref: 'fraud@champion' }` specs (local or MLflow registry). */
  readonly registry?: ModelRegistry;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks a free port. @default 8080 */
  readonly port?: number;
  /** When set, every endpoint except /v2/health/* needs `Authorization: Bearer <token>`. */
  readonly token?: string;
  /**
   * OIDC/JWT access tokens (beside or instead of `token`): verified against the issuer's JWKS, and
   * each route needs a permission (see routeNeed and ../security/auth.ts).
   */
  readonly auth?: Omit<AuthOptions, 'token'>;
  /** Serve HTTPS with this certificate and key (re-read when the files change). */
  readonly tls?: TlsFiles;
  /** Records every admin action (load, unload, traffic) with who asked and the outcome. */
  readonly audit?: AuditLog;
  /** Where TLS reloads and audit failures are reported. @default stderr */
  readonly log?: (line: string) => void;
  /** Dynamic batching for every model, or false to run each request alone. @default { maxBatchSize: 64, maxQueueDelayMs: 2 } */
  readonly batching?: false | BatchingOptions;
  /** Largest request body. @default 4 MiB */
  readonly maxBodyBytes?: number;
  /**
   * Requests in flight past which the server answers 429. A request counts from the moment its whole
   * body has arrived until its answer is out, so slow senders hold no slot.
   * @default 1024
   */
  readonly maxInflight?: number;
  /**
   * In-flight requests one connection may hold (HTTP/1.1 pipelining); past it that connection's
   * requests are answered 429, so one connection can't take the capacity every other client needs.
   * @default 16
   */
  readonly maxInflightPerConnection?: number;
  /**
   * Largest answer. A request whose answer would be larger (many rows, or a model with large outputs)
   * gets a 413 saying so, before the whole answer is built. @default 64 MiB
   */
  readonly maxResponseBytes?: number;
  /** Deadline for a request's headers, from its first byte; past it the answer is 408 and the connection closes. @default 10000 */
  readonly headersTimeoutMs?: number;
  /** Deadline for a whole request (headers and body); past it the answer is 408 and the connection closes. @default 30000 */
  readonly requestTimeoutMs?: number;
  /**
   * Bytes of an oversized body read and dropped before its 413, so that clients that send the whole
   * body before reading (Python's urllib, tritonclient) read the 413 instead of a broken pipe. Past
   * it the 413 is sent at once. @default 16 MiB
   */
  readonly drainBodyBytes?: number;
  /** Sampled payload logging for drift monitoring. */
  readonly payloadLog?: PayloadLogOptions;
  /**
   * Models fed by a FeatureService, by model name: their infer requests may carry `entities` (join
   * keys) instead of `inputs`; the features are looked up in the online store (./features.ts).
   */
  readonly features?: Readonly<Record<string, ModelFeatures>>;
  /**
   * Quality from delayed labels: every answered request's predictions are remembered by request id,
   * `POST /v2/models/{name}/feedback` joins labels to them, and quality per version goes to /metrics
   * and the stats (./quality.ts). Labels are kept in memory unless `file` is set; false turns it off.
   * @default {} (on, in memory)
   */
  readonly quality?: false | QualityOptions;
  /**
   * Serve /admin/* (load, unload, traffic, stats). The admin API loads files by path, so by default
   * it is on only where nobody else can reach it unauthenticated.
   * @default - true when bound to a loopback address or when a token is set, else false
   */
  readonly admin?: boolean;
  /**
   * KServe V1 answers class probabilities by default instead of labels, as KServe's sklearn server
   * does with PREDICT_PROBA=true (`ghosteam serve` reads that variable too); a request's
   * `parameters.predict_proba` still decides for itself. @default false
   */
  readonly v1PredictProba?: boolean;
  /** Header that pins a request to a version. @default 'x-ghosteam-version' */
  readonly versionHeader?: string;
  /**
   * How long close() waits for in-flight requests, and for requests still arriving on open
   * keep-alive connections (answered with `Connection: close`), before closing every connection.
   * @default 10000
   */
  readonly drainTimeoutMs?: number;
  /**
   * While draining, how long a keep-alive connection stays open with no request on it after the
   * last answer went out, so that a request its client already sent is answered rather than cut.
   * @default 500
   */
  readonly keepAliveGraceMs?: number;
  readonly session?: SessionOptions;
  /**
   * Bytes of resident memory (RSS) the server may take. Models are registered as they load; past
   * the budget the least recently used model's session is released (evicted), and a request for it
   * loads it again, one load shared by every request that waits (./residency.ts). A model in use by
   * a request is never evicted; one larger than the budget is refused. @default - no budget: every model stays loaded
   */
  readonly memoryBudget?: number;
  /** The resident-memory probe the budget measures the server's own share with (tests pin it). @default process.memoryUsage().rss */
  readonly memoryProbe?: () => number;
  /** Include Node process metrics (cpu, memory, GC) in /metrics. @default true */
  readonly processMetrics?: boolean;
  /** Random source for traffic splits (tests). @default Math.random */
  readonly random?: () => number;
  /**
   * Benchmark only: answer every infer request with this fixed body after reading the request,
   * without parsing it or running a model. Measures the HTTP ceiling of this same server.
   */
  readonly fixedInferResponse?: string;
  /**
   * Set in the worker processes of `startServerCluster` (./cluster.ts): model lifecycle changes
   * (admin API, model repository extension) go through it to every worker, and statistics and
   * /metrics are answered for the whole cluster. Not for direct use.
   */
  readonly coordinator?: ServerCoordinator;
  /** Models already resolved (by the cluster's primary, once for every worker), loaded like `models`. */
  readonly resolvedModels?: readonly ResolvedSpec[];
  /** When `resolvedModels` count as loaded (the cluster's start, the same on every worker). @default now */
  readonly loadedAt?: string;
  /**
   * Lifecycle changes applied after the models load and before the server listens: a cluster
   * worker started after others catches up with what the admin API changed meanwhile.
   */
  readonly replay?: readonly LifecycleOp[];
}

/** A model lifecycle change, as the cluster's workers apply it (every worker the same, in the same order). */
export type LifecycleOp =
  | { readonly kind: 'load'; readonly resolved: ResolvedSpec; readonly stable?: boolean; readonly reload?: boolean; readonly loadedAt?: string }
  | { readonly kind: 'unload'; readonly name: string; readonly version?: string }
  | { readonly kind: 'traffic'; readonly name: string; readonly split: TrafficSplit };

/** What a worker process needs from the cluster's primary (./cluster.ts). Errors are RequestErrors. */
export interface ServerCoordinator {
  /** Applies the change on every worker, this one included, and resolves with this worker's result. */
  apply(op: LifecycleOp): Promise<unknown>;
  /** /admin/models/{name}/stats over every worker. */
  stats(name: string): Promise<ModelStats>;
  /** Triton statistics over every worker (every model when name is undefined). */
  tritonStats(name: string | undefined, version: string | undefined): Promise<unknown[]>;
  /** /metrics over every worker (Prometheus text). */
  metrics(): Promise<string>;
}

/** One worker's own state, for the cluster's primary to apply changes and merge statistics (./cluster.ts). */
export interface LocalServer {
  apply(op: LifecycleOp): Promise<unknown>;
  /** This worker's stats and its recent latencies per version (ms), which merge into the cluster's p50/p99. */
  stats(name: string): { stats: ModelStats; recent: Record<string, number[]> };
  tritonStats(name: string | undefined, version: string | undefined): unknown[];
  metricsJson(): ReturnType<Registry['getMetricsAsJSON']>;
}

export interface LoadedVersionInfo {
  readonly name: string;
  readonly version: string;
  readonly source: string;
  readonly loadedAt: string;
  readonly batching: boolean;
  /**
   * Why requests are or aren't merged: the graph proof's verdict ('every output carries the batch
   * rows'), the operator where it stopped ('not proved: Reshape that may move rows'), or 'off'.
   */
  readonly batchingReason: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** With a memory budget: whether its session is held now (false: evicted, the next request loads it). */
  readonly resident?: boolean;
}

export interface ModelInfo {
  readonly name: string;
  readonly versions: readonly LoadedVersionInfo[];
  readonly traffic: TrafficSplit;
}

export interface ModelStats {
  readonly model: string;
  readonly traffic: TrafficSplit;
  /**
   * Per version: traffic figures, quality from feedback once a label has joined one of its
   * predictions, and (binary classifiers) quality estimated for the predictions still waiting for labels.
   */
  readonly versions: Record<string, VersionStats & { readonly quality?: VersionQuality; readonly qualityEstimate?: CbpeEstimate }>;
}

export interface ModelServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** Whether /admin/* is served (see ModelServerOptions.admin). */
  readonly admin: boolean;
  load(spec: ModelSpec, opts?: { stable?: boolean }): Promise<LoadedVersionInfo>;
  unload(name: string, version?: string): Promise<void>;
  setTraffic(name: string, split: TrafficSplit): TrafficSplit;
  models(): ModelInfo[];
  stats(name: string): ModelStats;
  readonly metrics: ServerMetrics;
  /** The feedback join and quality windows (undefined with `quality: false`). */
  readonly quality: QualityMonitor | undefined;
  /** Models of `options.models` that could not be loaded, each with why (the others serve). */
  readonly failed: ReadonlyArray<{ readonly model: string; readonly error: string }>;
  /**
   * Stops accepting connections, answers in-flight requests and requests arriving on open keep-alive
   * connections with `Connection: close`, then closes the rest; flushes the payload log and releases
   * sessions.
   */
  close(): Promise<void>;
}

interface Version {
  readonly name: string;
  readonly version: string;
  readonly source: string;
  readonly path: string;
  readonly loadedAt: string;
  /** Its signature, known without a session (what metadata, decoding and the batcher use). */
  readonly sig: ModelSignature;
  /**
   * The session; with a memory budget, undefined until a request loads it (a model is registered
   * from its graph: readModelSignature) and after an eviction, replaced when loaded again.
   */
  model: OrtModel | undefined;
  /** False until a request loads it under a memory budget and once evicted (its session released). */
  resident: boolean;
  /** `name:version`, its key under the memory budget. */
  readonly key: string;
  readonly batcher?: Batcher;
  /** model.run, timed for the Triton statistics. */
  readonly run: (feeds: readonly BatchInput[]) => Promise<Record<string, RawOutput>>;
  readonly metrics: VersionMetrics;
  /** Triton's statistics extension (GET /v2/models/{m}/stats). */
  readonly triton: TritonStats;
  unloading: boolean;
  readonly prefix: string;
}

interface Served {
  readonly name: string;
  readonly versions: Map<string, Version>;
  readonly loadedSet: Set<string>;
  traffic: TrafficSplit;
}

/** `GET /v2`. The model repository extension (load/unload by name) is there only with the admin API. */
function serverMeta(repository: boolean): string {
  return JSON.stringify({ name: 'ghosteam', version: '0.1.0', extensions: repository ? ['binary_tensor_data', 'model_repository'] : ['binary_tensor_data'] });
}

function errorBody(message: string): string {
  return JSON.stringify({ error: message });
}

function parseJson(buf: Buffer): unknown {
  if (buf.length === 0) throw new RequestError(400, 'request body is empty; send a JSON object');
  const text = buf.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    // Python's json (tritonclient, requests) writes NaN and Infinity for missing and infinite floats.
    const fixed = pythonJsonNumbers(text);
    if (fixed !== undefined) {
      try {
        return JSON.parse(fixed);
      } catch {
        // the first error is the one to report
      }
    }
    throw new RequestError(400, `request body is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Python's json.dumps writes float('nan') as NaN and infinities as Infinity/-Infinity, which JSON
 * lacks. Outside strings, NaN becomes null (a missing value: NaN for float inputs) and the
 * infinities become numbers JSON.parse reads as ±Infinity. Undefined when there is none.
 */
export function pythonJsonNumbers(text: string): string | undefined {
  let out = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92)
        i++; // backslash escapes the next character
      else if (ch === 34) inString = false;
      continue;
    }
    if (ch === 34) {
      inString = true;
      continue;
    }
    if (ch === 78 && text.startsWith('NaN', i)) {
      out += text.slice(last, i) + 'null';
      i += 2;
      last = i + 1;
    } else if (ch === 73 && text.startsWith('Infinity', i)) {
      out += text.slice(last, i) + '1e999';
      i += 7;
      last = i + 1;
    }
  }
  return last === 0 ? undefined : out + text.slice(last);
}

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new RequestError(400, `${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

/** Whether the admin API is on when not set: only where nobody can reach it unauthenticated. */
export function adminDefault(host: string, token: string | undefined, jwt = false): boolean {
  return token !== undefined || jwt || isLoopback(host);
}

/**
 * What a route needs (pure): 'open' (health and liveness), undefined (any authenticated caller:
 * server metadata, the model list; and unknown routes, which then 404), or a permission. Inference,
 * model metadata, readiness and config need `infer` on that model; statistics and /metrics need
 * `metrics`; /admin and the model repository extension need `admin`.
 */
export function routeNeed(method: string, parts: readonly string[]): Need | 'open' | undefined {
  const [p0, p1] = parts;
  if (parts.length === 0) return method === 'GET' || method === 'HEAD' ? 'open' : undefined;
  if (p0 === 'v2') {
    if (p1 === 'health' && parts.length === 3) return 'open';
    if (p1 === 'repository') return { permission: 'admin' };
    if (p1 === 'models' && parts.length === 3 && parts[2] === 'stats') return { permission: 'metrics' };
    if (p1 === 'models' && parts.length >= 3) {
      const last = parts[parts.length - 1];
      return last === 'stats' && parts.length > 3 ? { permission: 'metrics' } : { permission: 'infer', model: parts[2] };
    }
    return undefined;
  }
  if (p0 === 'v1' && p1 === 'models' && parts.length === 3) {
    const m = /^(.+):predict$/.exec(parts[2]);
    return { permission: 'infer', model: m ? m[1] : parts[2] };
  }
  if (p0 === 'metrics') return { permission: 'metrics' };
  if (p0 === 'admin') return { permission: 'admin' };
  return undefined;
}

/** The audited action of an admin request (pure), or undefined for reads. */
export function adminAction(method: string, parts: readonly string[]): { what: string; target: string } | undefined {
  if (parts[0] === 'admin' && parts[1] === 'models') {
    if (parts.length === 2 && method === 'POST') return { what: 'load', target: '' };
    if (parts.length === 3 && method === 'DELETE') return { what: 'unload', target: parts[2] };
    if (parts.length === 4 && parts[3] === 'traffic' && method === 'PUT') return { what: 'traffic', target: parts[2] };
    if (parts.length === 5 && parts[3] === 'versions' && method === 'DELETE') return { what: 'unload', target: `${parts[2]}/${parts[4]}` };
  }
  if (parts[0] === 'v2' && parts[1] === 'repository' && parts[2] === 'models' && method === 'POST' && (parts[4] === 'load' || parts[4] === 'unload'))
    return { what: parts[4], target: parts[3] };
  return undefined;
}

/** @see ModelServerOptions */
export const SERVER_DEFAULTS = {
  maxBodyBytes: 4 * 1024 * 1024,
  maxInflight: 1024,
  maxInflightPerConnection: 16,
  maxResponseBytes: 64 * 1024 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  drainBodyBytes: DEFAULT_DRAIN_BYTES,
  drainTimeoutMs: 10_000,
  keepAliveGraceMs: 500,
} as const;

/** Bytes per element in the binary tensor extension (BYTES: at least its 4-byte length). */
const BINARY_ELEMENT_BYTES: Record<string, number> = { ...ELEM_BYTES, BYTES: 4 };

/** The 413 for an answer over the response limit. */
function tooLarge(limit: number, detail: string): RequestError {
  return new RequestError(
    413,
    `the answer would be larger than the server's response limit of ${limit} bytes (${detail}); ask for fewer rows or fewer outputs, or raise the limit (--max-response-bytes)`,
  );
}

export async function startModelServer(options: ModelServerOptions = {}): Promise<ModelServer> {
  return (await startServer(options)).server;
}

/** The server, and its own state for a cluster worker (./worker.ts). */
export async function startServer(options: ModelServerOptions): Promise<{ server: ModelServer; local: LocalServer }> {
  const host = options.host ?? '127.0.0.1';
  const maxBody = options.maxBodyBytes ?? SERVER_DEFAULTS.maxBodyBytes;
  const maxInflight = options.maxInflight ?? SERVER_DEFAULTS.maxInflight;
  const perConnection = options.maxInflightPerConnection ?? SERVER_DEFAULTS.maxInflightPerConnection;
  const maxResponse = options.maxResponseBytes ?? SERVER_DEFAULTS.maxResponseBytes;
  const bodyOpts = { drainBytes: options.drainBodyBytes ?? SERVER_DEFAULTS.drainBodyBytes };
  const headersTimeout = options.headersTimeoutMs ?? SERVER_DEFAULTS.headersTimeoutMs;
  const requestTimeout = options.requestTimeoutMs ?? SERVER_DEFAULTS.requestTimeoutMs;
  if (headersTimeout > requestTimeout)
    throw new Error(
      `headersTimeoutMs (${headersTimeout}) is longer than requestTimeoutMs (${requestTimeout}), which includes the headers; lower it or raise requestTimeoutMs`,
    );
  const versionHeader = (options.versionHeader ?? 'x-ghosteam-version').toLowerCase();
  const batching = options.batching === false ? undefined : (options.batching ?? {});
  const random = options.random ?? Math.random;
  const adminOn = options.admin ?? adminDefault(host, options.token, options.auth?.jwt !== undefined);
  const auth = createAuthenticator({ ...options.auth, token: options.token });
  const say = options.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const metrics = new ServerMetrics({ defaultMetrics: options.processMetrics });
  const payload = options.payloadLog
    ? new PayloadLogger(
        options.payloadLog,
        (n) => metrics.payloadDropped.inc(n),
        (n) => metrics.payloadWritten.inc(n),
      )
    : undefined;
  const quality = options.quality === false ? undefined : await QualityMonitor.open(options.quality ?? {});
  if (quality) {
    registerQualityMetrics(metrics.registry, quality);
    // Requests answered before a restart can still get their labels.
    if (options.payloadLog?.file) await quality.seed(options.payloadLog.file);
  }
  const featureInputs = new Map(Object.entries(options.features ?? {}).map(([m, f]) => [m, new FeatureInputs(m, f, metrics.registry)]));
  const served = new Map<string, Served>();
  // With a memory budget, sessions come and go (./residency.ts); the versions stay registered.
  let residency: Residency | undefined;
  if (options.memoryBudget !== undefined) {
    const events = residencyMetrics(metrics.registry);
    residency = new Residency(options.memoryBudget, options.memoryProbe, events);
    events.watch(residency);
  }
  const idBase = randomBytes(4).toString('hex');
  let idSeq = 0;
  // Every request until its answer is out (what close() drains), and the admitted ones: those whose
  // body has arrived (what maxInflight and maxInflightPerConnection count).
  const active = new Set<ServerResponse>();
  const admitted = new WeakSet<ServerResponse>();
  const perSocket = new WeakMap<Socket, number>();
  let inflight = 0;
  let closing = false;
  let lastRequestAt = 0;
  const unknownMetrics = metrics.forVersion('', '');
  const SERVER_META = serverMeta(adminOn);
  let openApi: string | undefined;
  // The OIP model repository extension: a second door to load/unload below, guarded like /admin.
  const repository = new ModelRepository({
    // Triton's load re-reads a model that is already loaded (a new file at the same path).
    load: (spec) => life.load(spec, { reload: true }),
    unload: (name) => life.unload(name),
    loaded: () => [...served.values()].map((x) => ({ name: x.name, versions: [...x.versions.keys()] })),
    evicted: (name, version) => served.get(name)?.versions.get(version)?.resident === false,
    registry: options.registry,
  });

  // ---------- model lifecycle ----------
  /**
   * Loads a version; one already loaded from the same file is kept as it is, or with `reload` read
   * again and swapped in: requests after the swap get the new session, and the old one is drained
   * and released as unload does.
   */
  async function load(spec: ModelSpec, opts: { stable?: boolean; reload?: boolean } = {}): Promise<LoadedVersionInfo> {
    return loadResolved(await resolveSpec(spec, options.registry), opts);
  }
  async function loadResolved(r: ResolvedSpec, opts: { stable?: boolean; reload?: boolean; loadedAt?: string } = {}): Promise<LoadedVersionInfo> {
    const existing = served.get(r.name)?.versions.get(r.version);
    if (existing && !existing.unloading) {
      if (existing.path !== r.path)
        throw new RequestError(409, `model '${r.name}' version '${r.version}' is already loaded from ${existing.path}; unload it first to load ${r.path}`);
      if (!opts.reload) return info(existing);
    }
    const key = `${r.name}:${r.version}`;
    // Under a memory budget a model is registered from its graph, without a session: the first
    // request loads it (./residency.ts), so a server with thousands of models starts in the time it
    // takes to read their files. Where only a session can tell the signature (readModelSignature),
    // room is made (least recently used models evicted) and the session created now.
    let reservation: Reservation | undefined;
    let bytes = 0;
    let sig: ModelSignature | undefined;
    if (residency) {
      const size = await stat(r.path).then(
        (st) => st.size,
        (e: NodeJS.ErrnoException) => {
          throw new RequestError(400, `can't read model file ${r.path}: ${e.code ?? e.message}`);
        },
      );
      bytes = estimateModelBytes(size);
      residency.check(key, bytes);
      sig = await readModelSignature(r.path);
      if (!sig) reservation = await residency.reserve(key, bytes);
    }
    const tLoad = performance.now();
    let model: OrtModel | undefined;
    if (!sig) {
      try {
        model = await loadOrtModel(r.path, options.session);
      } catch (e) {
        reservation?.cancel();
        throw e;
      }
      sig = model;
    }
    const fed = featureInputs.get(r.name);
    if (fed) {
      try {
        fed.check(sig.inputs);
      } catch (e) {
        reservation?.cancel();
        await model?.release();
        throw new RequestError(400, (e as Error).message);
      }
    }
    const vm = metrics.forVersion(r.name, r.version);
    const triton = new TritonStats();
    // Runs start in the order the batcher plans them; each one's requests and queue delays wait here for its time.
    const planned: Array<{ requests: number; delays: readonly number[] }> = [];
    const timedRun = (feeds: readonly BatchInput[]): Promise<Record<string, RawOutput>> => {
      const t = performance.now();
      const done = (): void => {
        const p = planned.shift();
        triton.run(feeds[0]?.shape[0] ?? 0, p?.requests ?? 1, performance.now() - t, p?.delays ?? [0]);
      };
      return session(v)
        .run(feeds)
        .then(
          (out) => {
            done();
            return out;
          },
          (e: unknown) => {
            done();
            throw e;
          },
        );
    };
    const batcher =
      batching && sig.batchable
        ? new Batcher(timedRun, sig.outputs, batching, {
            onRun(rows, n, delays) {
              vm.batchChild.observe(rows);
              for (const d of delays) vm.queueChild.observe(d / 1000);
              planned.push({ requests: n, delays });
            },
          })
        : undefined;
    const v: Version = {
      name: r.name,
      version: r.version,
      source: r.source,
      path: r.path,
      loadedAt: opts.loadedAt ?? new Date().toISOString(),
      sig,
      model,
      resident: model !== undefined,
      key,
      batcher,
      metrics: vm,
      triton,
      unloading: false,
      run: timedRun,
      prefix: `{"model_name":${JSON.stringify(r.name)},"model_version":${JSON.stringify(r.version)},"id":`,
    };
    let s = served.get(r.name);
    if (!s) {
      s = { name: r.name, versions: new Map(), loadedSet: new Set(), traffic: { stable: r.version, canaryPercent: 0, shadow: false } };
      served.set(r.name, s);
    }
    const replaced = s.versions.get(r.version);
    s.versions.set(r.version, v);
    s.loadedSet.add(r.version);
    repository.remember(r);
    if (residency && reservation) residency.admit(key, reservation, residentHooks(v), (performance.now() - tLoad) / 1000);
    else if (residency) residency.register(key, bytes, residentHooks(v));
    if (opts.stable) s.traffic = { ...s.traffic, stable: r.version, canary: s.traffic.canary === r.version ? undefined : s.traffic.canary };
    if (replaced) {
      replaced.unloading = true;
      await replaced.batcher?.drain();
      await replaced.model?.release().catch(() => undefined);
      replaced.model = undefined;
      replaced.resident = false;
    }
    return info(v);
  }

  /** How the memory budget loads an evicted version again and releases it (./residency.ts). */
  function residentHooks(v: Version): { load(): Promise<void>; evict(): Promise<void> } {
    return {
      async load() {
        let m: OrtModel;
        try {
          m = await loadOrtModel(v.path, options.session);
        } catch (e) {
          throw new RequestError(
            503,
            `model '${v.name}' version '${v.version}' was evicted under the memory budget and could not be loaded again from ${v.path}: ${(e as Error).message}`,
          );
        }
        // Requests are decoded against the signature the version was registered with.
        if (JSON.stringify([m.inputs, m.outputs, m.batchable]) !== JSON.stringify([v.sig.inputs, v.sig.outputs, v.sig.batchable])) {
          await m.release().catch(() => undefined);
          throw new RequestError(
            409,
            `model '${v.name}' version '${v.version}': the session of ${v.path} has other inputs or outputs than the version was registered with (the file changed since, or its graph declares them otherwise than onnxruntime reads them); load it again through the admin API or the repository extension`,
          );
        }
        v.model = m;
        v.resident = true;
      },
      async evict() {
        const m = v.model;
        v.model = undefined;
        v.resident = false;
        await m?.release();
      },
    };
  }

  async function unload(name: string, version?: string): Promise<void> {
    const s = served.get(name);
    if (!s) throw new RequestError(404, `model '${name}' is not loaded`);
    const targets = version === undefined ? [...s.versions.values()] : [s.versions.get(version)];
    if (targets[0] === undefined)
      throw new RequestError(404, `model '${name}' has no loaded version '${version}'; loaded: ${[...s.versions.keys()].join(', ')}`);
    if (version !== undefined && s.versions.size > 1 && s.traffic.stable === version) {
      throw new RequestError(
        409,
        `version '${version}' is the stable version of '${name}'; point traffic.stable at another version first (PUT /admin/models/${name}/traffic)`,
      );
    }
    for (const v of targets as Version[]) {
      v.unloading = true;
      s.versions.delete(v.version);
      s.loadedSet.delete(v.version);
      residency?.remove(v.key);
    }
    if (s.versions.size === 0) served.delete(name);
    else if (s.traffic.canary !== undefined && !s.loadedSet.has(s.traffic.canary)) s.traffic = { stable: s.traffic.stable, canaryPercent: 0, shadow: false };
    for (const v of targets as Version[]) {
      await v.batcher?.drain();
      await v.model?.release().catch(() => undefined);
      v.model = undefined;
      v.resident = false;
    }
  }

  function setTraffic(name: string, split: TrafficSplit): TrafficSplit {
    const s = served.get(name);
    if (!s) throw new RequestError(404, `model '${name}' is not loaded`);
    const parsed = parseTrafficSplit(split, [...s.versions.keys()], name);
    if (typeof parsed === 'string') throw new RequestError(400, parsed);
    s.traffic = parsed;
    return parsed;
  }

  /** One change applied to this server alone (a cluster worker applies what the primary sends). */
  async function applyLocal(op: LifecycleOp): Promise<unknown> {
    if (op.kind === 'load') return loadResolved(op.resolved, { stable: op.stable, reload: op.reload, loadedAt: op.loadedAt });
    if (op.kind === 'unload') return unload(op.name, op.version);
    return setTraffic(op.name, op.split);
  }
  // The doors that change models (admin API, model repository extension): this server alone, or,
  // in a cluster worker, every worker through the primary (the spec is resolved once, here).
  const coord = options.coordinator;
  const life = coord
    ? {
        load: async (spec: ModelSpec, o: { stable?: boolean; reload?: boolean } = {}) =>
          (await coord.apply({
            kind: 'load',
            resolved: await resolveSpec(spec, options.registry),
            stable: o.stable,
            reload: o.reload,
            loadedAt: new Date().toISOString(),
          })) as LoadedVersionInfo,
        unload: async (name: string, version?: string) => void (await coord.apply({ kind: 'unload', name, version })),
        setTraffic: async (name: string, split: TrafficSplit) => (await coord.apply({ kind: 'traffic', name, split })) as TrafficSplit,
      }
    : { load, unload, setTraffic: async (name: string, split: TrafficSplit) => setTraffic(name, split) };

  function tritonStats(name: string | undefined, version: string | undefined): unknown[] {
    if (name === undefined) return [...served.values()].flatMap((x) => [...x.versions.values()].map((v) => v.triton.json(v.name, v.version)));
    const s = getServed(name);
    // Triton answers every version of the model unless one is named.
    const vs = version === undefined ? [...s.versions.values()] : [getVersion(s, version)];
    return vs.map((v) => v.triton.json(v.name, v.version));
  }

  function info(v: Version): LoadedVersionInfo {
    return {
      name: v.name,
      version: v.version,
      source: v.source,
      loadedAt: v.loadedAt,
      batching: v.batcher !== undefined,
      batchingReason: batching ? v.sig.batchReason : 'off (the server runs with batching: false)',
      inputs: v.sig.inputs,
      outputs: v.sig.outputs,
      ...(residency ? { resident: v.resident } : {}),
    };
  }
  function models(): ModelInfo[] {
    return [...served.values()].map((s) => ({ name: s.name, versions: [...s.versions.values()].map(info), traffic: s.traffic }));
  }
  function stats(name: string): ModelStats {
    const s = served.get(name);
    if (!s) throw new RequestError(404, `model '${name}' is not loaded`);
    const versions: Record<string, VersionStats & { quality?: VersionQuality; qualityEstimate?: CbpeEstimate }> = {};
    for (const v of s.versions.values()) {
      const q = quality?.quality(name, v.version);
      const e = quality?.estimate(name, v.version);
      versions[v.version] = { ...v.metrics.stats(), ...(q ? { quality: q } : {}), ...(e ? { qualityEstimate: e } : {}) };
    }
    return { model: name, traffic: s.traffic, versions };
  }

  function getServed(name: string): Served {
    const s = served.get(name);
    if (!s) {
      const why = repository.failure(name);
      throw new RequestError(
        404,
        why
          ? `model '${name}' is not loaded: it failed to load: ${why}`
          : `model '${name}' is not loaded; loaded models: ${[...served.keys()].join(', ') || 'none'}`,
      );
    }
    return s;
  }
  function getVersion(s: Served, version: string): Version {
    const v = s.versions.get(version);
    if (!v || v.unloading) throw new RequestError(404, `model '${s.name}' has no loaded version '${version}'; loaded: ${[...s.versions.keys()].join(', ')}`);
    return v;
  }
  /** The version answering an unversioned request, and an optional shadow copy target. */
  function pick(s: Served, req: IncomingMessage): { v: Version; shadow?: Version } {
    const pinnedRaw = req.headers[versionHeader];
    const pinned = Array.isArray(pinnedRaw) ? pinnedRaw[0] : pinnedRaw;
    const d = route(s.traffic, s.loadedSet, pinned, s.traffic.canary !== undefined ? random() : 1);
    if (typeof d === 'string') throw new RequestError(404, `model '${s.name}': ${d}`);
    return { v: getVersion(s, d.version), shadow: d.shadow ? s.versions.get(d.shadow) : undefined };
  }

  // ---------- admission ----------
  /**
   * Reads a request's body, then admits it: only now does it count against maxInflight and its
   * connection's share, so a client dribbling its body holds no capacity a fast one needs (its
   * deadline is requestTimeoutMs).
   */
  async function body(req: IncomingMessage, res: ServerResponse): Promise<Buffer> {
    const buf = await readBody(req, maxBody, bodyOpts);
    if (inflight >= maxInflight) throw new RequestError(429, `too many requests in flight (limit ${maxInflight}); retry later`);
    const n = perSocket.get(req.socket) ?? 0;
    if (n >= perConnection)
      throw new RequestError(
        429,
        `too many requests in flight on this connection (limit ${perConnection}); wait for answers before sending more, or open another connection`,
      );
    perSocket.set(req.socket, n + 1);
    admitted.add(res);
    inflight++;
    metrics.inflight.inc();
    return buf;
  }

  /** Throws the 413 when an answer of this many bytes (at least) is over the response limit. */
  function capResponse(bytes: number, detail: string): void {
    if (bytes > maxResponse) throw tooLarge(maxResponse, detail);
  }

  // ---------- inference ----------
  /** The version's session: requests pin it first (pin), so under a memory budget it is loaded by then. */
  function session(v: Version): OrtModel {
    if (!v.model) throw new RequestError(503, `model '${v.name}' version '${v.version}' has no session loaded now (evicted under the memory budget); retry`);
    return v.model;
  }
  /** Under a memory budget: holds the version's session for one request, loading it when evicted. */
  async function pin(v: Version): Promise<(() => void) | undefined> {
    return residency ? (await residency.acquire(v.key)).release : undefined;
  }
  async function runInference(v: Version, inputs: DecodedTensor[]): Promise<Record<string, RawOutput>> {
    if (v.batcher) return v.batcher.submit(inputs);
    const out = await v.run(inputs);
    v.metrics.batchChild.observe(inputs[0]?.shape[0] ?? 0);
    return out;
  }

  /**
   * Remembers the prediction for feedback and samples the payload log. `idKnown` is false for an id
   * the server made up and told nobody (a V1 request without X-Request-Id: its answer carries no
   * id): no label can name it unless the payload log records it, so then it is not remembered.
   */
  function logPayload(
    v: Version,
    id: string,
    inputs: readonly DecodedTensor[],
    out: Record<string, RawOutput>,
    names: readonly string[],
    idKnown = true,
  ): void {
    const sampled = payload !== undefined && payload.sample();
    if (quality && (idKnown || sampled)) {
      // Every answered request whose id a client can know, sampled or not: feedback can come for any of them.
      const outs: Record<string, PayloadTensor> = {};
      for (const spec of v.sig.outputs) {
        const o = out[spec.name];
        if (o) outs[spec.name] = { shape: o.dims, datatype: spec.datatype, data: o.data };
      }
      quality.observe(v.name, v.version, id, outs);
    }
    if (!sampled) return;
    const ins: Record<string, PayloadTensor> = {};
    for (const t of inputs) ins[t.name] = { shape: t.shape, datatype: t.datatype, data: t.json };
    const outs: Record<string, PayloadTensor> = {};
    for (const n of names) {
      const spec = v.sig.outputs.find((o) => o.name === n)!;
      const o = out[n];
      if (o) outs[n] = { shape: o.dims, datatype: spec.datatype, data: toPlain(o.data, spec.datatype) };
    }
    payload.push({ ts: new Date().toISOString(), model: v.name, version: v.version, id, inputs: ins, outputs: outs });
  }

  function shadowCopy(sv: Version, rawInputs: unknown, id: string): void {
    const t0 = performance.now();
    let inputs: DecodedTensor[];
    try {
      inputs = decodeInputs(rawInputs, sv.sig.inputs);
    } catch {
      sv.metrics.error(400, (performance.now() - t0) / 1000);
      return;
    }
    const pinned = residency ? residency.acquire(sv.key) : Promise.resolve(undefined);
    pinned
      .then((p) => runInference(sv, inputs).finally(() => p?.release()))
      .then(
        (out) => {
          sv.metrics.ok((performance.now() - t0) / 1000);
          logPayload(
            sv,
            id,
            inputs,
            out,
            sv.sig.outputs.map((o) => o.name),
          );
        },
        () => sv.metrics.error(500, (performance.now() - t0) / 1000),
      );
  }

  /** Which outputs go back as binary blocks: per requested output, else the request-wide flag. */
  function binaryOutputs(body: Record<string, unknown>, names: readonly string[]): boolean[] {
    const all = (body.parameters as { binary_data_output?: unknown } | undefined)?.binary_data_output === true;
    const req = Array.isArray(body.outputs) ? (body.outputs as Array<{ name?: unknown; parameters?: { binary_data?: unknown } }>) : [];
    return names.map((n) => {
      const o = req.find((x) => x && x.name === n);
      const b = o?.parameters?.binary_data;
      return typeof b === 'boolean' ? b : all;
    });
  }

  async function handleInfer(req: IncomingMessage, res: ServerResponse, name: string, version: string | undefined, t0: number): Promise<void> {
    const s = getServed(name);
    const buf = await body(req, res);
    if (options.fixedInferResponse !== undefined) {
      send(res, 200, options.fixedInferResponse);
      return;
    }
    const { v, shadow } = version === undefined ? pick(s, req) : { v: getVersion(s, version), shadow: undefined };
    let status = 200;
    let unpin: (() => void) | undefined;
    try {
      unpin = await pin(v);
      const hdrLen = req.headers['inference-header-content-length'];
      let jsonBuf = buf;
      let binary: Buffer | undefined;
      if (hdrLen !== undefined) ({ json: jsonBuf, binary } = splitBinaryBody(buf, String(hdrLen)));
      const body = asObject(parseJson(jsonBuf), 'the inference request');
      if (body.parameters !== undefined) asObject(body.parameters, "'parameters'");
      if (body.id !== undefined && typeof body.id !== 'string') throw new RequestError(400, "'id' must be a string");
      const fi = body.inputs === undefined ? featureInputs.get(name) : undefined;
      const rawInputs = fi ? await fi.inputsFor(body.entities, v.sig.inputs) : binary ? attachBinaryInputs(body.inputs, binary, v.sig.inputs) : body.inputs;
      const inputs = decodeInputs(rawInputs, v.sig.inputs);
      const names = selectOutputs(body.outputs, v.sig.outputs);
      const hdrId = req.headers['x-request-id'];
      const id = body.id ?? (typeof hdrId === 'string' ? hdrId : `${idBase}-${++idSeq}`);
      if (shadow) shadowCopy(shadow, rawInputs, id);
      const tIn = performance.now();
      const out = await runInference(v, inputs);
      const tOut = performance.now();
      const asBinary = body.parameters !== undefined || body.outputs !== undefined ? binaryOutputs(body, names) : undefined;
      let text = v.prefix + JSON.stringify(id) + ',"outputs":[';
      const blocks: Buffer[] = [];
      let blockBytes = 0;
      for (let i = 0; i < names.length; i++) {
        const spec = v.sig.outputs.find((o) => o.name === names[i])!;
        const o = out[names[i]];
        // Every JSON element takes at least 2 characters; a binary one its datatype's size.
        const elements = (o.data as ArrayLike<unknown>).length;
        capResponse(
          text.length + blockBytes + elements * (asBinary?.[i] ? BINARY_ELEMENT_BYTES[spec.datatype] : 2),
          `output '${spec.name}' has ${elements} elements`,
        );
        text += `${i ? ',' : ''}{"name":${JSON.stringify(spec.name)},"datatype":"${spec.datatype}","shape":[${o.dims.join(',')}],`;
        if (asBinary?.[i]) {
          const b = encodeBinary(o.data, spec.datatype);
          blocks.push(b);
          blockBytes += b.length;
          text += `"parameters":{"binary_data_size":${b.length}}}`;
        } else {
          const data = jsonArrayText(o.data, spec.datatype, maxResponse - text.length - blockBytes);
          if (data === undefined) throw tooLarge(maxResponse, `output '${spec.name}' alone does not fit`);
          text += `"data":${data}}`;
        }
        capResponse(text.length + blockBytes, `after output '${spec.name}'`);
      }
      text += ']}';
      if (text.length * 3 + blockBytes > maxResponse) capResponse(Buffer.byteLength(text) + blockBytes, 'in UTF-8');
      if (blocks.length === 0) send(res, 200, text, { 'x-ghosteam-version': v.version });
      else if (!res.headersSent && !res.destroyed) {
        const head = Buffer.from(text);
        const payload = Buffer.concat([head, ...blocks]);
        res.writeHead(200, [
          'content-type',
          'application/octet-stream',
          'content-length',
          String(payload.length),
          'inference-header-content-length',
          String(head.length),
          'x-ghosteam-version',
          v.version,
        ]);
        res.end(payload);
      }
      const tEnd = performance.now();
      v.triton.ok(tIn - t0, tEnd - tOut, tEnd - t0, inputs[0]?.shape[0] ?? 0, Date.now());
      logPayload(v, id, inputs, out, names);
    } catch (e) {
      status = e instanceof RequestError ? e.status : 500;
      v.triton.failed(performance.now() - t0, Date.now());
      throw e;
    } finally {
      unpin?.();
      const sec = (performance.now() - t0) / 1000;
      if (status === 200) v.metrics.ok(sec);
      else v.metrics.error(status, sec);
    }
  }

  async function handlePredictV1(req: IncomingMessage, res: ServerResponse, name: string, t0: number): Promise<void> {
    const s = getServed(name);
    const buf = await body(req, res);
    const { v } = pick(s, req);
    let status = 200;
    let unpin: (() => void) | undefined;
    try {
      unpin = await pin(v);
      const body = asObject(parseJson(buf), 'the predict request');
      // Rows or columns, single- or multi-input (./v1.ts); its errors are in V1 terms.
      const { inputs, rows } = decodeV1Request(body, v.sig.inputs, name);
      const shape = v1Shape(body, options.v1PredictProba ? 'predict_proba' : 'predict');
      const tIn = performance.now();
      const out = await runInference(v, inputs);
      const tOut = performance.now();
      const names = v.sig.outputs.map((o) => o.name);
      let elements = 0;
      for (const n of names) elements += (out[n]?.data as ArrayLike<unknown> | undefined)?.length ?? 0;
      capResponse(elements * 2, `the model's outputs have ${elements} elements`);
      let text: string;
      try {
        text = v1AnswerText(out, v.sig.outputs, rows, shape);
      } catch (e) {
        if (e instanceof RangeError) throw tooLarge(maxResponse, 'it does not fit in a string');
        throw e;
      }
      capResponse(text.length * 3 > maxResponse ? Buffer.byteLength(text) : text.length, `${text.length} characters of predictions`);
      send(res, 200, text, { 'x-ghosteam-version': v.version });
      const tEnd = performance.now();
      v.triton.ok(tIn - t0, tEnd - tOut, tEnd - t0, rows, Date.now());
      const hdrId = req.headers['x-request-id'];
      if (typeof hdrId === 'string') logPayload(v, hdrId, inputs, out, names);
      else logPayload(v, `${idBase}-${++idSeq}`, inputs, out, names, false);
    } catch (e) {
      status = e instanceof RequestError ? e.status : 500;
      throw e;
    } finally {
      unpin?.();
      const sec = (performance.now() - t0) / 1000;
      if (status === 200) v.metrics.ok(sec);
      else {
        v.metrics.error(status, sec);
        v.triton.failed(sec * 1000, Date.now());
      }
    }
  }

  function modelMetadata(v: Version, s: Served): string {
    return JSON.stringify({ name: v.name, versions: [...s.versions.keys()], platform: 'onnxruntime_onnx', inputs: v.sig.inputs, outputs: v.sig.outputs });
  }

  // ---------- admin ----------
  async function handleAdmin(
    req: IncomingMessage,
    res: ServerResponse,
    parts: string[],
    method: string,
    readBodyOnce: () => Promise<Buffer> = () => body(req, res),
  ): Promise<void> {
    // parts: ['admin', 'models', name?, sub?, version?]
    if (parts[1] !== 'models') throw new RequestError(404, `no admin route ${req.url}`);
    if (parts.length === 2) {
      if (method === 'GET') return send(res, 200, JSON.stringify({ models: models() }));
      if (method === 'POST') {
        const b = asObject(parseJson(await readBodyOnce()), 'the load request');
        const stable = b.stable;
        if (stable !== undefined && typeof stable !== 'boolean') throw new RequestError(400, "'stable' must be true or false");
        let spec: ModelSpec;
        if (typeof b.ref === 'string') spec = { ref: b.ref };
        else if (typeof b.name === 'string' && typeof b.path === 'string')
          spec = { name: b.name, version: b.version === undefined ? undefined : String(b.version), path: b.path };
        else throw new RequestError(400, `load request needs {"ref": "fraud@champion"} or {"name": "fraud", "version": "2", "path": "/models/fraud.onnx"}`);
        const loaded = await life.load(spec, { stable: stable === true });
        return send(res, 200, JSON.stringify(loaded));
      }
      throw new RequestError(405, `${method} is not allowed on /admin/models; use GET or POST`);
    }
    const name = parts[2];
    if (parts.length === 3) {
      if (method === 'GET') {
        const m = models().find((x) => x.name === name);
        if (!m) throw new RequestError(404, `model '${name}' is not loaded`);
        return send(res, 200, JSON.stringify(m));
      }
      if (method === 'DELETE') {
        await life.unload(name);
        return send(res, 200, JSON.stringify({ unloaded: name }));
      }
      throw new RequestError(405, `${method} is not allowed on /admin/models/${name}; use GET or DELETE`);
    }
    if (parts.length === 4 && parts[3] === 'traffic') {
      if (method === 'GET') return send(res, 200, JSON.stringify(getServed(name).traffic));
      if (method === 'PUT') {
        const split = await life.setTraffic(name, parseJson(await readBodyOnce()) as TrafficSplit);
        return send(res, 200, JSON.stringify(split));
      }
      throw new RequestError(405, `${method} is not allowed on traffic; use GET or PUT`);
    }
    if (parts.length === 4 && parts[3] === 'stats') {
      if (method === 'GET') return send(res, 200, JSON.stringify(coord ? await coord.stats(name) : stats(name)));
      throw new RequestError(405, `${method} is not allowed on stats; use GET`);
    }
    if (parts.length === 5 && parts[3] === 'versions') {
      if (method === 'DELETE') {
        await life.unload(name, parts[4]);
        return send(res, 200, JSON.stringify({ unloaded: `${name}/${parts[4]}` }));
      }
      throw new RequestError(405, `${method} is not allowed on a model version; use DELETE to unload it`);
    }
    throw new RequestError(404, `no admin route ${req.url}`);
  }

  /** Runs an admin action and records it (after, with the outcome; the answer waits for the record). */
  async function audited(
    who: Principal,
    action: { what: string; target: string },
    req: IncomingMessage,
    res: ServerResponse,
    parts: string[],
    method: string,
    path: string,
  ): Promise<void> {
    let detail: unknown;
    const bodyOf = async (): Promise<Buffer> => {
      const b = await body(req, res);
      try {
        detail = b.length === 0 ? undefined : JSON.parse(b.toString('utf8'));
      } catch {
        detail = undefined;
      }
      return b;
    };
    const entry = { who: who.subject, via: who.kind, what: action.what, target: action.target };
    try {
      if (parts[0] === 'admin') await handleAdmin(req, res, parts, method, bodyOf);
      else {
        const buf = await bodyOf();
        send(res, 200, await repository.route(method, parts, buf.length === 0 ? undefined : parseJson(buf)));
      }
    } catch (e) {
      await writeAudit({ ...entry, target: entry.target || targetOf(detail), outcome: 'failure', detail, error: (e as Error).message }, path);
      throw e;
    }
    await writeAudit({ ...entry, target: entry.target || targetOf(detail), outcome: 'success', detail }, path);
  }
  function targetOf(detail: unknown): string {
    const d = detail as { ref?: unknown; name?: unknown; version?: unknown } | undefined;
    if (typeof d?.ref === 'string') return d.ref;
    if (typeof d?.name === 'string') return d.version !== undefined ? `${d.name}/${String(d.version)}` : d.name;
    return '';
  }
  async function writeAudit(e: Parameters<AuditLog['record']>[0], path: string): Promise<void> {
    try {
      await options.audit!.record(e);
    } catch (err) {
      say(`AUDIT LOG WRITE FAILED for ${e.what} ${path} by ${e.who} (${e.outcome}): ${(err as Error).message}`);
    }
  }

  // ---------- dispatch ----------
  async function dispatch(req: IncomingMessage, res: ServerResponse, t0: number): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    let parts: string[];
    try {
      parts = path
        .split('/')
        .filter((p) => p !== '')
        .map(decodeURIComponent);
    } catch {
      throw new RequestError(400, `the path ${JSON.stringify(path)} has a malformed %-escape`);
    }
    const p0 = parts[0];
    if (p0 === 'v2') {
      if (parts[1] === 'health' && parts.length === 3) {
        if (method !== 'GET' && method !== 'HEAD') throw new RequestError(405, `${method} is not allowed on ${path}; use GET`);
        if (parts[2] === 'live') return send(res, 200, '{"live":true}');
        if (parts[2] === 'ready') return closing ? send(res, 503, '{"ready":false}') : send(res, 200, '{"ready":true}');
      }
    }
    // KServe V1 liveness (what its clients' is_server_live asks); open, like /v2/health.
    if (parts.length === 0 && (method === 'GET' || method === 'HEAD')) return send(res, 200, '{"status":"alive"}');
    const need = routeNeed(method, parts);
    let who: Principal;
    try {
      const p = auth.check(req.headers.authorization, need === 'open' ? undefined : need);
      who = p instanceof Promise ? await p : p;
    } catch (e) {
      if (e instanceof AuthError) {
        // A refused admin action is an admin action too: recorded with who tried.
        const tried = e.status === 403 && options.audit && adminOn ? adminAction(method, parts) : undefined;
        if (tried)
          await writeAudit({ who: e.subject ?? 'unknown', via: 'jwt', what: tried.what, target: tried.target, outcome: 'denied', error: e.message }, path);
        throw new RequestError(e.status, e.message);
      }
      throw e;
    }
    const action = options.audit && adminOn && (p0 === 'admin' || p0 === 'v2') ? adminAction(method, parts) : undefined;
    if (action) return audited(who, action, req, res, parts, method, path);
    if (p0 === 'v2') {
      if (parts[1] === 'repository') {
        if (!adminOn)
          throw new RequestError(
            404,
            `no route for ${method} ${path}: the model repository extension is off, as the admin API is (the server is reachable beyond loopback without a token; set a token or --admin)`,
          );
        const buf = await body(req, res);
        return send(res, 200, await repository.route(method, parts, buf.length === 0 ? undefined : parseJson(buf)));
      }
      if (parts.length === 1) {
        if (method !== 'GET') throw new RequestError(405, `${method} is not allowed on /v2; use GET`);
        return send(res, 200, SERVER_META);
      }
      if (parts[1] === 'models' && parts.length === 3 && parts[2] === 'stats' && !served.has('stats')) {
        if (method !== 'GET') throw new RequestError(405, `${method} is not allowed on ${path}; use GET`);
        const all = coord ? await coord.tritonStats(undefined, undefined) : tritonStats(undefined, undefined);
        return send(res, 200, JSON.stringify({ model_stats: all }));
      }
      if (parts[1] === 'models' && parts.length >= 3) {
        const name = parts[2];
        let version: string | undefined;
        let rest = parts.slice(3);
        if (rest[0] === 'versions') {
          if (rest.length < 2) throw new RequestError(404, `no route for ${method} ${path}; expected /v2/models/${name}/versions/<version>`);
          version = rest[1];
          rest = rest.slice(2);
        }
        if (rest.length === 1 && rest[0] === 'infer') {
          if (method !== 'POST') throw new RequestError(405, `${method} is not allowed on ${path}; use POST`);
          return handleInfer(req, res, name, version, t0);
        }
        if (rest.length === 1 && rest[0] === 'feedback' && version === undefined) {
          if (method !== 'POST') throw new RequestError(405, `${method} is not allowed on ${path}; use POST`);
          if (!quality) throw new RequestError(404, `no route for ${method} ${path}: feedback is off on this server (quality: false)`);
          getServed(name);
          const result = await quality.feedback(name, parseJson(await body(req, res)));
          return send(res, 200, JSON.stringify(result));
        }
        if (rest.length === 1 && (rest[0] === 'config' || rest[0] === 'stats')) {
          if (method !== 'GET') throw new RequestError(405, `${method} is not allowed on ${path}; use GET`);
          const s = getServed(name);
          if (rest[0] === 'stats')
            return send(res, 200, JSON.stringify({ model_stats: coord ? await coord.tritonStats(name, version) : tritonStats(name, version) }));
          const v = version === undefined ? getVersion(s, s.traffic.stable) : getVersion(s, version);
          return send(
            res,
            200,
            JSON.stringify(
              modelConfig({
                name: v.name,
                version: v.version,
                inputs: v.sig.inputs,
                outputs: v.sig.outputs,
                batching: v.batcher ? { maxBatchSize: v.batcher.maxBatchSize, maxQueueDelayMs: v.batcher.maxQueueDelayMs } : undefined,
              }),
            ),
          );
        }
        if (rest.length > 1 || (rest.length === 1 && rest[0] !== 'ready')) throw new RequestError(404, `no route for ${method} ${path}`);
        if (method !== 'GET' && method !== 'HEAD') throw new RequestError(405, `${method} is not allowed on ${path}; use GET`);
        const s = getServed(name);
        const v = version === undefined ? getVersion(s, s.traffic.stable) : getVersion(s, version);
        if (rest.length === 1) return send(res, 200, JSON.stringify({ name: v.name, version: v.version, ready: true }));
        return send(res, 200, modelMetadata(v, s));
      }
    }
    if (p0 === 'v1' && parts[1] === 'models' && parts.length === 2) {
      if (method !== 'GET') throw new RequestError(405, `${method} is not allowed on ${path}; use GET`);
      return send(res, 200, JSON.stringify({ models: [...served.keys()] }));
    }
    if (p0 === 'v1' && parts[1] === 'models' && parts.length === 3) {
      const m = /^(.+):predict$/.exec(parts[2]);
      if (m) {
        if (method !== 'POST') throw new RequestError(405, `${method} is not allowed on ${path}; use POST`);
        return handlePredictV1(req, res, m[1], t0);
      }
      if (method !== 'GET') throw new RequestError(405, `${method} is not allowed on ${path}; use GET`);
      const s = getServed(parts[2]);
      return send(res, 200, JSON.stringify({ name: s.name, ready: true }));
    }
    if (p0 === 'metrics' && parts.length === 1) {
      if (method !== 'GET') throw new RequestError(405, `${method} is not allowed on /metrics; use GET`);
      const text = coord ? await coord.metrics() : await metrics.text();
      if (!res.headersSent) {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      }
      return;
    }
    if (p0 === 'openapi.json' && parts.length === 1) {
      if (method !== 'GET') throw new RequestError(405, `${method} is not allowed on /openapi.json; use GET`);
      openApi ??= JSON.stringify(openApiDocument({ version: '0.1.0', admin: adminOn, auth: options.token !== undefined || options.auth?.jwt !== undefined }));
      return send(res, 200, openApi);
    }
    if (p0 === 'admin' && adminOn) return handleAdmin(req, res, parts, method);
    throw new RequestError(404, `no route for ${method} ${path}`);
  }

  // One function for every request (no per-request closure).
  function onResponseClose(this: ServerResponse): void {
    active.delete(this);
    if (admitted.has(this)) {
      admitted.delete(this);
      inflight--;
      metrics.inflight.dec();
      const sock = this.req.socket;
      const n = perSocket.get(sock);
      if (n !== undefined) perSocket.set(sock, n - 1);
    }
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now();
    // While draining, requests still arriving on open keep-alive connections are answered, then
    // their connection closes (`Connection: close`); the listener takes no new connections.
    if (closing) {
      res.shouldKeepAlive = false;
      lastRequestAt = t0;
    }
    active.add(res);
    res.once('close', onResponseClose); // emitted after 'finish' too, and when the client goes away
    dispatch(req, res, t0).catch((e: unknown) => {
      if (e instanceof RequestError) {
        if (e.status === 404 && /is not loaded|no route|no admin route/.test(e.message)) unknownMetrics.error(404, (performance.now() - t0) / 1000);
        if (e.status === 429) unknownMetrics.error(429, 0);
        const extra: Record<string, string> | undefined =
          e.status === 401
            ? { 'www-authenticate': req.headers.authorization === undefined ? 'Bearer' : 'Bearer error="invalid_token"' }
            : e.status === 403
              ? { 'www-authenticate': 'Bearer error="insufficient_scope"' }
              : e.status === 503
                ? { 'retry-after': '5' }
                : e.status === 405
                  ? { allow: 'GET, POST' }
                  : e.status === 429
                    ? { 'retry-after': '1' }
                    : undefined;
        send(res, e.status, e.detail ? JSON.stringify({ error: e.message, ...e.detail }) : errorBody(e.message), extra);
        // A body this handler did not read is dropped (an error before reading it); an oversized or
        // late one closes the connection instead (send, closeAfter).
        if (!req.complete && !closeAfter(e.status)) req.resume();
      } else {
        const msg = e instanceof Error ? e.message : String(e);
        send(res, 500, errorBody(`internal error: ${msg}`));
      }
    });
  }

  const httpOptions = {
    keepAliveTimeout: 65_000,
    headersTimeout,
    requestTimeout,
    // node checks the two deadlines on this interval (30 s by default, which let a 30 s deadline run 60 s)
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(headersTimeout, requestTimeout) / 4))),
  };
  const server: Server | HttpsServer = options.tls
    ? createHttpsServer({ ...httpOptions, ...readTls(options.tls) }, onRequest)
    : createServer(httpOptions, onRequest);
  const stopTlsWatch = options.tls ? watchTls(server as HttpsServer, options.tls, say) : undefined;
  // A handshake that fails (old protocol, garbage, a client that gives up) closes that socket, nothing else.
  server.on('tlsClientError', (_err: Error, socket: Socket) => socket.destroy());
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // node's own rule: no answer once one has started on this connection (the cast: node keeps the
    // response it is writing on the socket and has no public accessor for it).
    const current = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (!socket.writable || current?.headersSent) return socket.destroy();
    const [status, reason, message] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', `the request did not arrive in time (headers within ${headersTimeout} ms, the whole request within ${requestTimeout} ms)`]
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', 'request headers are too large']
          : [400, 'Bad Request', 'malformed HTTP request'];
    const body = errorBody(message);
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    socket.destroySoon();
  });

  // One model that can't be served is reported (failed, the repository index, 404s naming why)
  // and the others still load; the server refuses to start only when none of them loads.
  const failed: Array<{ model: string; error: string }> = [];
  const initial: Array<ModelSpec | ResolvedSpec> = [...(options.models ?? []), ...(options.resolvedModels ?? [])];
  for (const m of initial) {
    try {
      await ('source' in m ? loadResolved(m, { loadedAt: options.loadedAt }) : load(m));
    } catch (e) {
      if (!(e instanceof RequestError)) {
        for (const s of served.values()) for (const v of s.versions.values()) await v.model?.release().catch(() => undefined);
        await payload?.close();
        await quality?.close();
        throw e;
      }
      const model = 'source' in m ? m.name : specName(m);
      failed.push({ model, error: e.message });
      repository.fail(model, e.message);
    }
  }
  if (failed.length > 0 && served.size === 0) {
    await payload?.close();
    await quality?.close();
    throw new Error(failed.length === 1 ? failed[0].error : `no model could be loaded:\n${failed.map((f) => `  ${f.model}: ${f.error}`).join('\n')}`);
  }

  for (const op of options.replay ?? []) {
    // Each change succeeded on the workers that applied it first; one that fails here (a file
    // removed since) leaves this worker as the change found it, and says so.
    await applyLocal(op).catch((e: Error) =>
      process.stderr.write(`could not replay ${op.kind} of '${'resolved' in op ? op.resolved.name : op.name}': ${e.message}\n`),
    );
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;

  async function close(): Promise<void> {
    if (closed) return closed;
    closing = true;
    closed = (async () => {
      // One turn of the event loop first: connections already waiting in the accept queue are taken
      // (closing the listener would reset them) and answered like the others.
      await new Promise((r) => setImmediate(r));
      // Stop accepting, but keep the open connections: http.Server#close would also drop the idle
      // keep-alive ones at once, cutting requests their clients have already sent on them.
      const stopped = new Promise<void>((r) => NetServer.prototype.close.call(server, () => r()));
      for (const res of active) if (!res.headersSent) res.shouldKeepAlive = false;
      lastRequestAt = performance.now();
      const deadline = lastRequestAt + (options.drainTimeoutMs ?? SERVER_DEFAULTS.drainTimeoutMs);
      const grace = options.keepAliveGraceMs ?? SERVER_DEFAULTS.keepAliveGraceMs;
      for (;;) {
        const now = performance.now();
        if (now >= deadline) break;
        if (active.size === 0 && (now - lastRequestAt >= grace || (await connectionCount()) === 0)) break;
        await new Promise((r) => setTimeout(r, Math.min(25, Math.max(1, deadline - now))));
      }
      if (process.env.H25S_DEBUG) console.error('closeAll', performance.now(), active.size);
      server.closeAllConnections();
      stopTlsWatch?.();
      await stopped;
      for (const s of [...served.values()]) {
        for (const v of s.versions.values()) {
          await v.batcher?.drain();
          await v.model?.release().catch(() => undefined);
          v.resident = false;
        }
      }
      served.clear();
      await payload?.close();
      await quality?.close();
    })();
    return closed;
  }
  function connectionCount(): Promise<number> {
    return new Promise((r) => server.getConnections((e, n) => r(e ? 1 : n)));
  }

  const local: LocalServer = {
    apply: applyLocal,
    stats(name) {
      const recent: Record<string, number[]> = {};
      for (const v of getServed(name).versions.values()) recent[v.version] = v.metrics.recent();
      return { stats: stats(name), recent };
    },
    tritonStats,
    metricsJson: () => metrics.registry.getMetricsAsJSON(),
  };
  const api: ModelServer = {
    url: `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    admin: adminOn,
    load,
    unload,
    setTraffic,
    models,
    stats,
    metrics,
    quality,
    failed,
    close,
  };
  return { server: api, local };
}

export type { BatchInput };

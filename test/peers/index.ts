/**
 * Real peers for tests: a kube-apiserver with etcd and the upstream + ghosteam CRDs, an MLflow
 * tracking server, Prometheus, a Python venv with the reference clients, and the data sources'
 * peers: PostgreSQL, an S3-compatible store (s3proxy) and a Kafka broker (test/peers/datastores.ts).
 *
 *   const peers = await usePeers(['kube', 'mlflow']);
 *   describe('registry against MLflow', { skip: peers.skip }, () => { ... peers.mlflowUrl ... });
 *
 * `npm run peers:up` starts them (installing once into ~/.cache/ghosteam-peers); usePeers finds them
 * through its state file, or through KUBECONFIG / MLFLOW_TRACKING_URI / PROMETHEUS_URL / PEERS_PYTHON /
 * DATABASE_URL / S3_ENDPOINT (+ AWS keys) / KAFKA_BROKERS (loopback addresses only),
 * and health-checks each one it is asked for. With CI=true a missing peer throws, so the test fails;
 * elsewhere it returns `skip` with a one-line hint. Set GHOSTEAM_PEERS=auto to have usePeers start
 * missing peers itself (under a lock, so concurrent test files start them once); they keep running
 * until `npm run peers:down`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import pg from 'pg';
import writeFileAtomic from 'write-file-atomic';
import { UP_HINT, type PeerName } from './config.ts';
import { freePort, spawnDaemon, startPrometheus, stopPid, removeDir, waitReady, type PrometheusOptions, type ScrapeTarget } from './daemons.ts';
import { amtoolBinary, ensureAlertmanager, ensurePrometheus, ensureRedis } from './install.ts';
import { checkPeer, kubeTls, probe, readState, type PeersState } from './state.ts';

export type { PeerName } from './config.ts';
export type { PrometheusOptions, ScrapeTarget } from './daemons.ts';
export { rawKube, KubeHttpError, type RawKube, type KubeObject } from './raw.ts';

export interface Peers {
  /** Set when a requested peer is missing on a developer's machine: pass it to `describe(..., { skip })`. */
  readonly skip?: string;
  /** Path of the admin kubeconfig for the peer API server. */
  readonly kubeconfig: string;
  /** Base URL of the MLflow tracking server, e.g. http://127.0.0.1:PORT (no trailing slash). */
  readonly mlflowUrl: string;
  /** Base URL of the shared Prometheus. */
  readonly prometheusUrl: string;
  /** The venv's python (mlflow, scipy, tritonclient[http], kserve, onnxruntime, schemathesis). */
  readonly python: string;
  /** Where file_sd target files for the shared Prometheus go (see `addScrapeTargets`), when known. */
  readonly prometheusTargetsDir?: string;
  /** postgres://USER:PASSWORD@127.0.0.1:PORT/ghosteam (PostgreSQL from Debian's packages). */
  readonly databaseUrl: string;
  /** The S3-compatible store (s3proxy; the bucket `data` exists): endpoint and keys. */
  readonly s3: { readonly endpoint: string; readonly accessKey: string; readonly secretKey: string; readonly region: string };
  /** host:port of the Kafka broker (KRaft). */
  readonly kafkaBrokers: string;
}

const inCi = () => process.env.CI === 'true';

/** Peers the environment points at, for those the state file doesn't have. */
function fromEnv(): PeersState {
  const env = process.env;
  const out: { -readonly [K in keyof PeersState]: PeersState[K] } = {};
  const kc = env.KUBECONFIG;
  // Only a kubeconfig the harness wrote: tests create and delete things, never aim them at a real cluster.
  if (kc && !kc.includes(':') && existsSync(kc) && /^current-context: ghosteam-peers$/m.test(readFileSync(kc, 'utf8'))) {
    const port = Number(new URL(kubeTls(kc).server).port);
    out.kube = { pid: 0, port, dir: '', kubeconfig: kc, log: '(started outside the harness)' };
  }
  if (env.MLFLOW_TRACKING_URI?.startsWith('http://127.0.0.1:')) {
    out.mlflow = { pid: 0, url: env.MLFLOW_TRACKING_URI.replace(/\/+$/, ''), dir: '', log: '(started outside the harness)' };
  }
  if (env.PROMETHEUS_URL?.startsWith('http://127.0.0.1:')) {
    out.prometheus = { pid: 0, url: env.PROMETHEUS_URL.replace(/\/+$/, ''), dir: '', targetsDir: '', log: '(started outside the harness)' };
  }
  if (env.PEERS_PYTHON) out.python = { python: env.PEERS_PYTHON };
  // Loopback only: tests write tables, objects and topics, never anywhere real.
  if (env.DATABASE_URL?.startsWith('postgres://') && /@127\.0\.0\.1:\d+\//.test(env.DATABASE_URL)) {
    out.postgres = { pid: 0, port: Number(new URL(env.DATABASE_URL).port), dir: '', url: env.DATABASE_URL, log: '(started outside the harness)' };
  }
  if (env.S3_ENDPOINT?.startsWith('http://127.0.0.1:') && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    out.s3 = {
      pid: 0,
      dir: '',
      log: '(started outside the harness)',
      endpoint: env.S3_ENDPOINT.replace(/\/+$/, ''),
      accessKey: env.AWS_ACCESS_KEY_ID,
      secretKey: env.AWS_SECRET_ACCESS_KEY,
      region: env.AWS_REGION ?? 'us-east-1',
    };
  }
  if (env.KAFKA_BROKERS && /^127\.0\.0\.1:\d+$/.test(env.KAFKA_BROKERS)) {
    out.kafka = { pid: 0, port: Number(env.KAFKA_BROKERS.split(':')[1]), dir: '', brokers: env.KAFKA_BROKERS, log: '(started outside the harness)' };
  }
  return out;
}

async function resolve(names: readonly PeerName[]): Promise<{ state: PeersState; problems: string[] }> {
  const recorded = readState();
  const env = fromEnv();
  const state: { -readonly [K in keyof PeersState]: PeersState[K] } = {};
  const problems: string[] = [];
  for (const name of new Set(names)) {
    const fromState = await checkPeer(name, recorded);
    if (fromState === undefined) {
      Object.assign(state, { [name]: recorded[name] });
      continue;
    }
    if (env[name] && (await checkPeer(name, env)) === undefined) {
      Object.assign(state, { [name]: env[name] });
      continue;
    }
    problems.push(fromState);
  }
  return { state, problems };
}

/**
 * Find (and health-check) the named peers. In CI a missing peer throws; on a developer's machine the
 * result carries `skip`.
 */
export async function usePeers(names: readonly PeerName[]): Promise<Peers> {
  let { state, problems } = await resolve(names);
  if (problems.length > 0 && process.env.GHOSTEAM_PEERS === 'auto') {
    const { peersUp } = await import('./up.ts');
    await peersUp(names);
    ({ state, problems } = await resolve(names));
  }
  const peers: Peers = {
    kubeconfig: state.kube?.kubeconfig ?? '',
    mlflowUrl: state.mlflow?.url ?? '',
    prometheusUrl: state.prometheus?.url ?? '',
    python: state.python?.python ?? '',
    prometheusTargetsDir: state.prometheus?.targetsDir || undefined,
    databaseUrl: state.postgres?.url ?? '',
    s3: {
      endpoint: state.s3?.endpoint ?? '',
      accessKey: state.s3?.accessKey ?? '',
      secretKey: state.s3?.secretKey ?? '',
      region: state.s3?.region ?? 'us-east-1',
    },
    kafkaBrokers: state.kafka?.brokers ?? '',
  };
  if (problems.length === 0) return peers;
  if (inCi()) {
    throw new Error(`real peers missing in CI: ${problems.join('; ')}. .ci/run starts them with \`npm run peers:up\`.`);
  }
  return { ...peers, skip: `needs real peers: ${problems.join('; ')}; ${UP_HINT}` };
}

/** A KubeConfig for the peer API server. */
export function kubeConfig(peers: Pick<Peers, 'kubeconfig'>): KubeConfig {
  if (!peers.kubeconfig) throw new Error("no kube peer: call usePeers(['kube']) and honour its skip");
  const kc = new KubeConfig();
  kc.loadFromFile(peers.kubeconfig);
  return kc;
}

/** Runs SQL on a PostgreSQL (the peers' DATABASE_URL) over one connection: each statement a string, or [text, values]. */
export async function pgExec(url: string, statements: readonly (string | readonly [string, readonly unknown[]])[]): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (const st of statements) await (typeof st === 'string' ? c.query(st) : c.query(st[0], [...st[1]]));
  } finally {
    await c.end();
  }
}

/** A namespace name unique to this process and call: `prefix-<pid>-<n>-<random>`, at most 63 chars. */
let nsCounter = 0;
export function uniqueName(prefix: string): string {
  const suffix = `${process.pid}-${++nsCounter}-${Math.random().toString(36).slice(2, 7)}`;
  return `${prefix.slice(0, 62 - suffix.length)}-${suffix}`;
}

/**
 * Poll `fn` until it returns a value other than undefined/false, or throw after `timeoutMs` with the
 * last error (or `what`).
 */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 10_000, intervalMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`, { cause: last });
    }
    await sleep(intervalMs);
  }
}

/**
 * Have the shared Prometheus scrape `targets` (file_sd; picked up within ~1 s). Returns a function that
 * removes them again. `name` must be unique to the caller (use `uniqueName`).
 */
export function addScrapeTargets(peers: Pick<Peers, 'prometheusTargetsDir'>, name: string, target: ScrapeTarget): () => void {
  if (!peers.prometheusTargetsDir)
    throw new Error('the shared Prometheus was not started by `npm run peers:up`, so it has no file_sd dir; use startTestPrometheus()');
  if (!/^[\w.-]+$/.test(name)) throw new Error(`scrape target name '${name}': use letters, digits, '.', '_' or '-'`);
  const file = join(peers.prometheusTargetsDir, `${name}.json`);
  const labels = { job: target.job, ...(target.labels ?? {}), ...(target.metricsPath ? { __metrics_path__: target.metricsPath } : {}) };
  writeFileAtomic.sync(file, JSON.stringify([{ targets: [...target.targets], labels }]));
  return () => rmSync(file, { force: true });
}

export interface TestPrometheus {
  readonly url: string;
  /** Stop it and remove its data. */
  stop(): Promise<void>;
}

/** Start a Prometheus of the test's own, scraping the given targets; stop it in an `after` hook. */
export async function startTestPrometheus(opts: PrometheusOptions): Promise<TestPrometheus> {
  const bin = await ensurePrometheus(() => {});
  const p = await startPrometheus(bin, opts, { attached: true });
  return {
    url: p.url,
    async stop() {
      await stopPid(p.pid, 5000);
      removeDir(p.dir);
    },
  };
}

/** Run an instant PromQL query against a Prometheus; returns the `data.result` vector. */
export async function promQuery(url: string, query: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== 'success') throw new Error(`PromQL ${query}: ${body.error ?? res.status}`);
  return body.data?.result ?? [];
}

export interface TestRedis {
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  /** Stop it and remove its data. */
  stop(): Promise<void>;
}

/**
 * Start a redis-server of the test's own (Debian's, installed by `npm run peers:up`) on a free port,
 * without persistence; stop it in an `after` hook. In CI a missing binary is a failure; elsewhere
 * `skip` carries the hint.
 */
export async function startTestRedis(): Promise<TestRedis & { skip?: string }> {
  let bin: string;
  try {
    bin = await ensureRedis(() => {});
  } catch (err) {
    if (inCi()) throw err;
    return { url: '', skip: `needs redis-server: ${(err as Error).message}`, stop: async () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-redis-'));
  const port = await freePort();
  const log = join(dir, 'redis.log');
  const child = spawnDaemon(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes'],
    log,
    {
      attached: true,
    },
  );
  const pid = child.pid!;
  const ping = () =>
    new Promise<boolean>((resolvePing) => {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => resolvePing(false));
      s.on('connect', () => s.write('PING\r\n'));
      s.on('data', (b) => {
        resolvePing(b.toString().startsWith('+PONG'));
        s.destroy();
      });
    });
  await waitReady('redis-server', pid, log, 15_000, ping);
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await stopPid(pid, 5000);
      removeDir(dir);
    },
  };
}

export interface TestAlertmanager {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** 127.0.0.1:PORT, for Prometheus's alerting config. */
  readonly host: string;
  /** Its config file (as given). */
  readonly configFile: string;
  /** Stop it and remove its data. */
  stop(): Promise<void>;
}

/**
 * amtool (Debian's, from prometheus-alertmanager) and its path; in CI a missing one throws, elsewhere
 * `skip` carries the hint.
 */
export async function useAmtool(): Promise<{ amtool: string; skip?: string }> {
  try {
    await ensureAlertmanager(() => {});
    const amtool = amtoolBinary();
    if (!amtool) throw new Error('amtool is not on PATH next to alertmanager');
    return { amtool };
  } catch (err) {
    if (inCi()) throw err;
    return { amtool: '', skip: `needs Alertmanager: ${(err as Error).message}` };
  }
}

/**
 * Start an Alertmanager of the test's own (Debian's prometheus-alertmanager, installed by `npm run
 * peers:up`) with config text `config`, on a free port, without clustering; stop it in an `after`
 * hook. In CI a missing binary is a failure; elsewhere `skip` carries the hint.
 */
export async function startTestAlertmanager(config: string): Promise<TestAlertmanager & { skip?: string }> {
  let bin: string;
  try {
    bin = await ensureAlertmanager(() => {});
  } catch (err) {
    if (inCi()) throw err;
    return { url: '', host: '', configFile: '', skip: `needs Alertmanager: ${(err as Error).message}`, stop: async () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-alertmanager-'));
  const port = await freePort();
  const log = join(dir, 'alertmanager.log');
  const configFile = join(dir, 'alertmanager.yml');
  writeFileSync(configFile, config);
  const host = `127.0.0.1:${port}`;
  const child = spawnDaemon(
    bin,
    [
      `--config.file=${configFile}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=${host}`,
      // One instance: no gossip port.
      '--cluster.listen-address=',
    ],
    log,
    { cwd: dir, attached: true },
  );
  const pid = child.pid!;
  const url = `http://${host}`;
  await waitReady('alertmanager', pid, log, 30_000, async () => (await probe(`${url}/-/ready`)).status === 200);
  return {
    url,
    host,
    configFile,
    async stop() {
      await stopPid(pid, 5000);
      removeDir(dir);
    },
  };
}

// Bring the peers up (installing what is missing) and down. Both are idempotent and hold the
// 'up' lock, so concurrent callers (several test files, or a person and a test) don't race.
import { cacheDir, PEER_NAMES, shortHash, type PeerName } from './config.ts';
import { ghosteamCrdObjects, installCrds, upstreamCrds, waitEstablished } from './crds.ts';
import { removeDir, startKube, startMlflow, startPrometheus, stopPid } from './daemons.ts';
import { startKafka, startPostgres, startS3Store } from './datastores.ts';
import {
  ensureAlertmanager,
  ensureKube,
  ensureMlflowSeed,
  ensurePrometheus,
  ensurePython,
  ensurePythonExtras,
  ensureRedis,
  withLock,
  type Log,
} from './install.ts';
import { checkPeer, readState, writeState, type KubeState, type PeersState } from './state.ts';
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface UpResult {
  readonly state: PeersState;
  /** Seconds per phase, for the README's cold/warm figures. */
  readonly timings: Record<string, number>;
}

export async function timed<T>(timings: Record<string, number>, name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    timings[name] = Math.round((performance.now() - t0) / 100) / 10;
  }
}

/** Start the named peers that are not already healthy. */
export async function peersUp(names: readonly PeerName[] = PEER_NAMES, log: Log = () => {}): Promise<UpResult> {
  const want = new Set(names);
  if (want.has('mlflow')) want.add('python');
  return withLock('up', async () => {
    const timings: Record<string, number> = {};
    // Installed, not started: each feature-store test file starts its own redis-server (startTestRedis).
    await timed(timings, 'install redis', () => ensureRedis(log));
    // Installed, not started: each alerting test starts its own Alertmanager (startTestAlertmanager).
    await timed(timings, 'install alertmanager', () => ensureAlertmanager(log));
    // Installed, not started: the suites that need DuckDB or NannyML run `extraPython(name)`. Built
    // beside the other installs (pip mostly waits on the network).
    const extras = timed(timings, 'install python extras', () => ensurePythonExtras(log));
    let state: PeersState = readState();
    const missing = new Set<PeerName>();
    for (const n of want) {
      const why = await checkPeer(n, state);
      if (why !== undefined) missing.add(n);
    }
    if (missing.size === 0) {
      await extras;
      return { state, timings };
    }

    // Installs run side by side: the Go build is CPU-bound, pip and apt mostly wait on the network.
    const [kubeBin, python, promBin] = await Promise.all([
      missing.has('kube') ? timed(timings, 'install kube', () => ensureKube(log)) : undefined,
      missing.has('python') || missing.has('mlflow') ? timed(timings, 'install python', () => ensurePython(log)) : undefined,
      missing.has('prometheus') ? timed(timings, 'install prometheus', () => ensurePrometheus(log)) : undefined,
      extras,
    ]);

    const save = (patch: PeersState) => {
      state = { ...readState(), ...patch };
      writeState(state);
    };
    if (python) save({ python: { python } });
    const starts: Promise<void>[] = [];
    if (kubeBin) {
      starts.push(
        timed(timings, 'start kube', async () => {
          await stopRecorded(state.kube);
          const kube = await startSeededKube(kubeBin, timings, log);
          save({ kube });
        }),
      );
    }
    if (missing.has('mlflow') && python) {
      starts.push(
        timed(timings, 'start mlflow', async () => {
          await stopRecorded(state.mlflow);
          const seed = await timed(timings, 'mlflow seed store', () => ensureMlflowSeed(log));
          const mlflow = await startMlflow(dirname(dirname(python)), seed);
          save({ mlflow });
          log(`mlflow: tracking server ready at ${mlflow.url}`);
        }),
      );
    }
    if (promBin) {
      starts.push(
        timed(timings, 'start prometheus', async () => {
          await stopRecorded(state.prometheus);
          const { child: _child, ...prometheus } = await startPrometheus(promBin);
          save({ prometheus });
          log(`prometheus: ready at ${prometheus.url}`);
        }),
      );
    }
    // The data sources' peers (components/ingest): each installs on first use (apt, Maven Central).
    const datastores = [
      ['postgres', startPostgres],
      ['s3', startS3Store],
      ['kafka', startKafka],
    ] as const;
    for (const [name, start] of datastores) {
      if (!missing.has(name)) continue;
      starts.push(
        timed(timings, `start ${name}`, async () => {
          await stopRecorded(state[name]);
          save({ [name]: await start(log) });
        }),
      );
    }
    const results = await Promise.allSettled(starts);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) throw new Error(failed.map((f) => (f.reason as Error).message).join('\n\n'));
    return { state: readState(), timings };
  });
}

/**
 * Start kube with every CRD Established. Installing the upstream CRDs (megabytes of schema) costs the
 * API server a minute or more of CPU, so the first start snapshots etcd's data dir once they are in,
 * keyed by the binary and the CRDs' content; later starts copy that seed and only wait.
 */
async function startSeededKube(kubeBin: string, timings: Record<string, number>, log: Log): Promise<KubeState> {
  const crds = [...upstreamCrds(), ...(await ghosteamCrdObjects())];
  const names = crds.map((c) => c.metadata!.name!);
  const seed = join(cacheDir, 'etcd-seed', shortHash(basename(kubeBin), JSON.stringify(crds)));
  if (!existsSync(seed)) {
    const first = await startKube(kubeBin);
    log(`kube: kube-apiserver ready on https://127.0.0.1:${first.port}; installing ${names.length} CRDs (first time for this CRD set)`);
    try {
      await timed(timings, 'install CRDs', () => installCrds(first.kubeconfig, crds, 300_000));
    } finally {
      await stopPid(first.pid, 30_000);
    }
    const tmp = `${seed}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    cpSync(join(first.dir, 'etcd'), tmp, { recursive: true });
    mkdirSync(dirname(seed), { recursive: true });
    renameSync(tmp, seed);
    removeDir(first.dir);
  }
  const kube = await startKube(kubeBin, seed);
  // Recorded only once the CRDs are Established: usePeers must never see a kube without them.
  try {
    await timed(timings, 'CRDs Established', () => waitEstablished(kube.kubeconfig, names, 300_000));
  } catch (err) {
    await stopRecorded(kube);
    throw err;
  }
  log(`kube: kube-apiserver on https://127.0.0.1:${kube.port} with ${names.length} CRDs Established`);
  return kube;
}

async function stopRecorded(peer: { pid: number; dir: string } | undefined): Promise<void> {
  if (!peer) return;
  await stopPid(peer.pid);
  removeDir(peer.dir);
}

/** Stop every recorded daemon and remove its temp dir; the caches stay. */
export async function peersDown(log: Log = () => {}): Promise<void> {
  await withLock('up', async () => {
    const state = readState();
    await Promise.all(
      (['kube', 'mlflow', 'prometheus', 'postgres', 's3', 'kafka'] as const).map(async (n) => {
        const peer = state[n];
        if (!peer) return;
        await stopRecorded(peer);
        log(`${n}: stopped (pid ${peer.pid})`);
      }),
    );
    writeState(state.python ? { python: state.python } : {});
  });
}

/** The shell-sourceable lines `peers:up` ends with (`set -a; . file; set +a` exports them). */
export function envLines(state: PeersState): string[] {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const lines: string[] = [];
  if (state.kube) lines.push(`KUBECONFIG=${q(state.kube.kubeconfig)}`);
  if (state.mlflow) lines.push(`MLFLOW_TRACKING_URI=${q(state.mlflow.url)}`);
  if (state.prometheus) lines.push(`PROMETHEUS_URL=${q(state.prometheus.url)}`);
  if (state.python) lines.push(`PEERS_PYTHON=${q(state.python.python)}`);
  if (state.postgres) lines.push(`DATABASE_URL=${q(state.postgres.url)}`);
  if (state.s3) {
    lines.push(`S3_ENDPOINT=${q(state.s3.endpoint)}`, `AWS_ACCESS_KEY_ID=${q(state.s3.accessKey)}`, `AWS_SECRET_ACCESS_KEY=${q(state.s3.secretKey)}`);
    lines.push(`AWS_REGION=${q(state.s3.region)}`);
  }
  if (state.kafka) lines.push(`KAFKA_BROKERS=${q(state.kafka.brokers)}`);
  return lines;
}

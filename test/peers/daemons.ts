// Starts and stops the peer daemons: each binds 127.0.0.1 on a free port and keeps its data in a
// temp dir of its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { isAlive, kubeTls, probe, probeKube, type KubeState, type MlflowState, type PrometheusState } from './state.ts';

/** Ports freePort has handed out in this process (a port is free again once its probe closes). */
const handedOut = new Set<number>();

function probePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A port nothing listens on now, and one this process has not handed out before: the kernel may
 * give the same ephemeral port to two probes in a row (a cluster run once got one port for Kafka's
 * broker and controller listeners, which Kafka refuses), so callers that take several get distinct ones.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = await probePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: 100 probes in a row returned ports already handed out');
}

export function logTail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Spawn a daemon in its own process group with output to `log`; it outlives this process unless `attached`. */
export function spawnDaemon(
  cmd: string,
  args: readonly string[],
  log: string,
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; attached?: boolean; uid?: number; gid?: number } = {},
): ChildProcess {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', fd, fd], detached: true, uid: opts.uid, gid: opts.gid });
    if (!opts.attached) child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Poll `check` every 250 ms until it returns true; fail early when the daemon exits. */
export async function waitReady(what: string, pid: number, log: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) throw new Error(`${what} exited while starting; the end of ${log}:\n${logTail(log)}`);
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`${what} was not ready within ${timeoutMs / 1000}s; the end of ${log}:\n${logTail(log)}`);
}

/** Stop a daemon's process group: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopPid(pid: number, graceMs = 10_000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  if (!isAlive(pid)) return;
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await sleep(100);
  }
  signal('SIGKILL');
}

/** Start the API server; `seedEtcd` is an etcd data dir to start from (copied, never used in place). */
export async function startKube(bin: string, seedEtcd?: string): Promise<KubeState> {
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-kube-'));
  if (seedEtcd) cpSync(seedEtcd, join(dir, 'etcd'), { recursive: true });
  const [port, etcdPort, etcdPeerPort] = [await freePort(), await freePort(), await freePort()];
  const log = join(dir, 'kube.log');
  const child = spawnDaemon(bin, ['--dir', dir, '--port', String(port), '--etcd-port', String(etcdPort), '--etcd-peer-port', String(etcdPeerPort)], log);
  const kubeconfig = join(dir, 'kubeconfig');
  await waitReady('kube-apiserver', child.pid!, log, 180_000, async () => {
    if (!existsSync(kubeconfig)) return false;
    return (await probeKube(port, kubeTls(kubeconfig))).status === 200;
  });
  return { pid: child.pid!, port, dir, kubeconfig, log };
}

/** Start the MLflow server; `seedDb` is an already-migrated SQLite store to start from (copied). */
export async function startMlflow(venv: string, seedDb?: string): Promise<MlflowState> {
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-mlflow-'));
  if (seedDb) cpSync(seedDb, join(dir, 'mlflow.db'));
  const port = await freePort();
  const log = join(dir, 'mlflow.log');
  const url = `http://127.0.0.1:${port}`;
  const child = spawnDaemon(
    join(venv, 'bin', 'mlflow'),
    [
      'server',
      '--backend-store-uri',
      `sqlite:///${join(dir, 'mlflow.db')}`,
      '--artifacts-destination',
      join(dir, 'artifacts'),
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--workers',
      '1',
    ],
    log,
    { cwd: dir, env: { ...process.env, MLFLOW_TRACKING_URI: '' } },
  );
  await waitReady('mlflow server', child.pid!, log, 180_000, async () => (await probe(`${url}/health`)).status === 200);
  return { pid: child.pid!, url, dir, log };
}

export interface ScrapeTarget {
  /** The Prometheus job name. */
  readonly job: string;
  /** host:port addresses. */
  readonly targets: readonly string[];
  /** @default '/metrics' */
  readonly metricsPath?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface PrometheusOptions {
  readonly scrape?: readonly ScrapeTarget[];
  /** @default '1s' */
  readonly scrapeInterval?: string;
  /** Rule files to load (absolute paths), evaluated every `scrapeInterval`. */
  readonly ruleFiles?: readonly string[];
  /** Alertmanagers (host:port) to send firing alerts to. */
  readonly alertmanagers?: readonly string[];
}

/** The Prometheus config: the given static jobs plus a file_sd job over `targetsDir`. */
export function prometheusConfig(opts: PrometheusOptions, targetsDir: string): string {
  const interval = opts.scrapeInterval ?? '1s';
  return stringify({
    global: { scrape_interval: interval, evaluation_interval: interval },
    ...(opts.ruleFiles?.length ? { rule_files: [...opts.ruleFiles] } : {}),
    ...(opts.alertmanagers?.length ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [...opts.alertmanagers] }] }] } } : {}),
    scrape_configs: [
      ...(opts.scrape ?? []).map((s) => ({
        job_name: s.job,
        metrics_path: s.metricsPath ?? '/metrics',
        static_configs: [{ targets: [...s.targets], ...(s.labels ? { labels: { ...s.labels } } : {}) }],
      })),
      {
        job_name: 'file-sd',
        file_sd_configs: [{ files: [join(targetsDir, '*.json')], refresh_interval: '1s' }],
      },
    ],
  });
}

export interface StartedPrometheus extends PrometheusState {
  readonly child: ChildProcess;
}

export async function startPrometheus(bin: string, opts: PrometheusOptions = {}, { attached = false } = {}): Promise<StartedPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-prometheus-'));
  const targetsDir = join(dir, 'targets');
  mkdirSync(targetsDir);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = join(dir, 'prometheus.log');
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, prometheusConfig(opts, targetsDir));
  const child = spawnDaemon(
    bin,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      '--storage.tsdb.retention.time=1d',
    ],
    log,
    { cwd: dir, attached },
  );
  await waitReady('prometheus', child.pid!, log, 60_000, async () => (await probe(`${url}/-/ready`)).status === 200);
  return { pid: child.pid!, url, dir, targetsDir, log, child };
}

export function removeDir(dir: string | undefined): void {
  if (dir && dir.startsWith(tmpdir())) rmSync(dir, { recursive: true, force: true });
}

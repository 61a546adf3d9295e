// The state file `peers:up` writes and `usePeers` reads, and the health checks both use.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { stateFile, venvPython, type PeerName } from './config.ts';

/** `pid` is 0 for a peer found through environment variables rather than started by the harness. */
export interface KubeState {
  readonly pid: number;
  readonly port: number;
  /** Certificates, kubeconfig, etcd data. */
  readonly dir: string;
  readonly kubeconfig: string;
  readonly log: string;
}
export interface MlflowState {
  readonly pid: number;
  readonly url: string;
  readonly dir: string;
  readonly log: string;
}
export interface PrometheusState {
  readonly pid: number;
  readonly url: string;
  readonly dir: string;
  /** Drop `<name>.json` file_sd target files here; the shared Prometheus picks them up within a second. */
  readonly targetsDir: string;
  readonly log: string;
}
export interface PythonState {
  readonly python: string;
}

export interface PostgresState {
  readonly pid: number;
  readonly port: number;
  readonly dir: string;
  readonly log: string;
  /** postgres://ghosteam:PASSWORD@127.0.0.1:PORT/ghosteam */
  readonly url: string;
}
export interface S3State {
  readonly pid: number;
  readonly dir: string;
  readonly log: string;
  /** http://127.0.0.1:PORT (path-style; the bucket `data` exists). */
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region: string;
}
export interface KafkaState {
  readonly pid: number;
  readonly port: number;
  readonly dir: string;
  readonly log: string;
  /** host:port[,host:port] */
  readonly brokers: string;
}

export interface PeersState {
  readonly kube?: KubeState;
  readonly mlflow?: MlflowState;
  readonly prometheus?: PrometheusState;
  readonly python?: PythonState;
  readonly postgres?: PostgresState;
  readonly s3?: S3State;
  readonly kafka?: KafkaState;
}

export function readState(file = stateFile): PeersState {
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PeersState;
  } catch (err) {
    throw new Error(`${file}: not a readable peers state file (${(err as Error).message}); run \`npm run peers:down\` to clear it`, { cause: err });
  }
}

export function writeState(state: PeersState, file = stateFile): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomic.sync(file, JSON.stringify(state, null, 2) + '\n');
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** GET a URL, resolving with the status code and body; never rejects (a failure is status 0). */
export async function probe(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    return { status: 0, body: (err as Error).message };
  }
}

/** GET /readyz on the API server with the admin client certificate. */
export function probeKube(port: number, tls: { ca: string; cert: string; key: string }, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/readyz', method: 'GET', ...tls, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    req.end();
  });
}

/** Read the CA and admin client certificate from a kubeconfig written by ghosteam-kube. */
export function kubeTls(kubeconfigPath: string): { ca: string; cert: string; key: string; server: string } {
  const text = readFileSync(kubeconfigPath, 'utf8');
  const field = (name: string): string => {
    const m = new RegExp(`^\\s*${name}:\\s*(\\S+)\\s*$`, 'm').exec(text);
    if (!m) throw new Error(`${kubeconfigPath}: no '${name}' field; it was not written by the peers harness`);
    return m[1];
  };
  const b64 = (name: string) => Buffer.from(field(name), 'base64').toString('utf8');
  return { ca: b64('certificate-authority-data'), cert: b64('client-certificate-data'), key: b64('client-key-data'), server: field('server') };
}

/** Why a recorded peer is not usable, or undefined when it answers its health check. */
export async function checkPeer(name: PeerName, state: PeersState): Promise<string | undefined> {
  switch (name) {
    case 'kube': {
      const k = state.kube;
      if (!k) return 'kube is not running';
      if (k.pid && !isAlive(k.pid)) return `kube (pid ${k.pid}) has exited; see ${k.log}`;
      const r = await probeKube(k.port, kubeTls(k.kubeconfig));
      return r.status === 200 ? undefined : `kube on port ${k.port} is not ready (${r.status || r.body}); see ${k.log}`;
    }
    case 'mlflow': {
      const m = state.mlflow;
      if (!m) return 'mlflow is not running';
      if (m.pid && !isAlive(m.pid)) return `mlflow (pid ${m.pid}) has exited; see ${m.log}`;
      const r = await probe(`${m.url}/health`);
      return r.status === 200 ? undefined : `mlflow at ${m.url} is not healthy (${r.status || r.body}); see ${m.log}`;
    }
    case 'prometheus': {
      const p = state.prometheus;
      if (!p) return 'prometheus is not running';
      if (p.pid && !isAlive(p.pid)) return `prometheus (pid ${p.pid}) has exited; see ${p.log}`;
      const r = await probe(`${p.url}/-/ready`);
      return r.status === 200 ? undefined : `prometheus at ${p.url} is not ready (${r.status || r.body}); see ${p.log}`;
    }
    case 'python': {
      const py = state.python;
      if (!py) return 'the python venv is not installed';
      if (!existsSync(py.python)) return `the venv python ${py.python} is missing`;
      // The venv is keyed by the pins: a checkout with other pins (a package added) needs its own.
      const want = venvPython();
      return py.python === want ? undefined : `the venv ${py.python} was built for other pins than test/peers/versions.json (${want})`;
    }
    case 'postgres': {
      const p = state.postgres;
      if (!p) return 'postgres is not running';
      if (p.pid && !isAlive(p.pid)) return `postgres (pid ${p.pid}) has exited; see ${p.log}`;
      const port = Number(new URL(p.url).port);
      return (await tcpAccepts(port)) ? undefined : `postgres at 127.0.0.1:${port} does not accept connections; see ${p.log}`;
    }
    case 's3': {
      const s = state.s3;
      if (!s) return 'the S3 store (s3proxy) is not running';
      if (s.pid && !isAlive(s.pid)) return `s3proxy (pid ${s.pid}) has exited; see ${s.log}`;
      // Any HTTP answer (an anonymous request is refused with 403) means it serves.
      const r = await probe(`${s.endpoint}/`);
      return r.status > 0 ? undefined : `s3proxy at ${s.endpoint} does not answer (${r.body}); see ${s.log}`;
    }
    case 'kafka': {
      const k = state.kafka;
      if (!k) return 'kafka is not running';
      if (k.pid && !isAlive(k.pid)) return `kafka (pid ${k.pid}) has exited; see ${k.log}`;
      const [host, port] = k.brokers.split(',')[0].split(':');
      return (await tcpAccepts(Number(port), host)) ? undefined : `kafka at ${k.brokers} does not accept connections; see ${k.log}`;
    }
  }
}

/** True when something accepts a TCP connection on host:port. */
export function tcpAccepts(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host, timeout: timeoutMs });
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(false));
  });
}

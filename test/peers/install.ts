// Installs what the peers need, once, into the cache: the Python venv, the kube-apiserver binary
// built from the Kubernetes Go modules, and Debian's Prometheus. Each install holds a lock, so two
// processes asking at once build it once.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { cacheDir, extraPython, extraVenvDir, kubeBinary, kubeLdflags, kubeModuleDir, VENV_COMPLETE_MARKER, venvDir, venvPython, versions } from './config.ts';

export type Log = (line: string) => void;

/** Run `fn` holding an exclusive lock named `name` in the cache dir (waits up to `waitMs`). */
export async function withLock<T>(name: string, fn: () => Promise<T>, waitMs = 60 * 60_000): Promise<T> {
  mkdirSync(cacheDir, { recursive: true });
  const target = join(cacheDir, `${name}.lock-target`);
  if (!existsSync(target)) writeFileSync(target, '');
  // The holder refreshes the lock every stale/2; a generous stale keeps a busy holder (a loaded
  // machine, a long synchronous parse) from having its lock taken, at the price of a slower takeover
  // after a holder was killed.
  const release = await lockfile.lock(target, {
    stale: 300_000,
    retries: { retries: Math.ceil(waitMs / 1000), factor: 1, minTimeout: 1000, maxTimeout: 1000 },
    onCompromised: (err) => process.stderr.write(`[peers] lock ${name}: ${err.message}\n`),
  });
  try {
    return await fn();
  } finally {
    await release();
  }
}

/** Run a command, streaming its output to `log`; reject with the command and its tail on failure. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; log: Log; uid?: number; gid?: number },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], uid: opts.uid, gid: opts.gid });
    const tail: string[] = [];
    const onData = (buf: Buffer) => {
      for (const line of buf.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 30) tail.shift();
        opts.log(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => reject(new Error(`${cmd}: ${err.message}`, { cause: err })));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`\`${cmd} ${args.join(' ')}\` exited with ${code}:\n${tail.join('\n')}`));
    });
  });
}

export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export function pythonRequirements(): string[] {
  return Object.entries(versions.python).map(([name, version]) => `${name}==${version}`);
}

/** The modules the venv must import; the check that the install is whole. */
const PYTHON_IMPORTS = [
  'mlflow',
  'scipy',
  'tritonclient.http',
  'kserve',
  'onnxruntime',
  'schemathesis',
  'sklearn',
  'xgboost',
  'lightgbm',
  'skl2onnx',
  'onnxmltools',
  'optuna',
  'great_expectations',
  'feast',
  'redis',
  'hiredis',
];

export function isPythonInstalled(): boolean {
  return existsSync(join(venvDir(), VENV_COMPLETE_MARKER));
}

export async function ensurePython(log: Log): Promise<string> {
  if (isPythonInstalled()) return venvPython();
  return withLock('python', async () => {
    if (isPythonInstalled()) return venvPython();
    const base = process.env.GHOSTEAM_PEERS_BASE_PYTHON ?? which('python3');
    if (!base) throw new Error('python3 is not on PATH; install Python >= 3.11 (only the test peers need it)');
    const dir = venvDir();
    rmSync(dir, { recursive: true, force: true });
    log(`python: creating ${dir} with ${pythonRequirements().join(' ')}`);
    await run(base, ['-m', 'venv', dir], { log });
    const pip = join(dir, 'bin', 'pip');
    await run(pip, ['install', '--disable-pip-version-check', '--no-input', '--progress-bar', 'off', ...pythonRequirements()], {
      log: () => {},
    });
    await run(venvPython(), ['-c', `import ${PYTHON_IMPORTS.join(', ')}`], { log });
    writeFileSync(join(dir, VENV_COMPLETE_MARKER), JSON.stringify(versions.python) + '\n');
    return venvPython();
  });
}

export function isExtraPythonInstalled(name: string): boolean {
  return existsSync(join(extraVenvDir(name), VENV_COMPLETE_MARKER));
}

/** Every `pythonExtras` venv (DuckDB, NannyML, ...), built side by side once; returns name → python. */
export async function ensurePythonExtras(log: Log): Promise<Record<string, string>> {
  const names = Object.keys(versions.pythonExtras);
  const pythons = await Promise.all(names.map((name) => ensureExtraPython(name, log)));
  return Object.fromEntries(names.map((n, i) => [n, pythons[i]]));
}

export async function ensureExtraPython(name: string, log: Log): Promise<string> {
  if (isExtraPythonInstalled(name)) return extraPython(name);
  return withLock(`python-${name}`, async () => {
    if (isExtraPythonInstalled(name)) return extraPython(name);
    const base = process.env.GHOSTEAM_PEERS_BASE_PYTHON ?? which('python3');
    if (!base) throw new Error('python3 is not on PATH; install Python >= 3.11 (only the test peers need it)');
    const dir = extraVenvDir(name);
    const pins = versions.pythonExtras[name];
    const reqs = Object.entries(pins).map(([pkg, version]) => `${pkg}==${version}`);
    rmSync(dir, { recursive: true, force: true });
    log(`python-${name}: creating ${dir} with ${reqs.join(' ')}`);
    await run(base, ['-m', 'venv', dir], { log });
    await run(join(dir, 'bin', 'pip'), ['install', '--disable-pip-version-check', '--no-input', '--progress-bar', 'off', ...reqs], { log: () => {} });
    await run(extraPython(name), ['-c', `import ${name}`], { log });
    writeFileSync(join(dir, VENV_COMPLETE_MARKER), JSON.stringify(pins) + '\n');
    return extraPython(name);
  });
}

export function isKubeBuilt(): boolean {
  return existsSync(kubeBinary());
}

export async function ensureKube(log: Log): Promise<string> {
  const bin = kubeBinary();
  if (existsSync(bin)) return bin;
  return withLock('kube', async () => {
    if (existsSync(bin)) return bin;
    const goMod = readFileSync(join(kubeModuleDir, 'go.mod'), 'utf8');
    if (!goMod.includes(`k8s.io/kubernetes ${versions.kubernetes}`)) {
      throw new Error(`test/peers/kube/go.mod does not require k8s.io/kubernetes ${versions.kubernetes} (test/peers/versions.json); make them agree`);
    }
    if (!which('go')) throw new Error('the Go toolchain is not on PATH; install Go >= 1.26 (only the kube test peer needs it)');
    mkdirSync(join(cacheDir, 'bin'), { recursive: true });
    const tmp = `${bin}.tmp-${process.pid}`;
    log(`kube: building kube-apiserver ${versions.kubernetes} with embedded etcd (first time only; 8 min of CPU, longer on a busy 2-core machine)`);
    await run('go', ['build', '-trimpath', `-ldflags=${kubeLdflags()}`, '-o', tmp, './cmd/ghosteam-kube'], { cwd: kubeModuleDir, log });
    renameSync(tmp, bin);
    return bin;
  });
}

export function prometheusBinary(): string | undefined {
  return process.env.GHOSTEAM_PROMETHEUS_BIN ?? which('prometheus');
}

export async function ensurePrometheus(log: Log): Promise<string> {
  const found = prometheusBinary();
  if (found) return found;
  return withLock('apt', async () => {
    const again = prometheusBinary();
    if (again) return again;
    const root = process.getuid?.() === 0;
    if (!root || !which('apt-get')) {
      throw new Error(`prometheus is not on PATH; install it with \`sudo apt-get update && sudo apt-get install -y ${versions.apt.join(' ')}\``);
    }
    log(`prometheus: apt-get install ${versions.apt.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update', '-qq'], { env, log: () => {} });
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...versions.apt], { env, log: () => {} });
    const bin = prometheusBinary();
    if (!bin) throw new Error(`apt-get installed ${versions.apt.join(' ')} but prometheus is still not on PATH`);
    return bin;
  });
}

/** Debian's redis-server, the feature store's online store in tests (each test file starts its own on a free port). */
export function redisBinary(): string | undefined {
  return process.env.GHOSTEAM_REDIS_BIN ?? which('redis-server');
}

export async function ensureRedis(log: Log): Promise<string> {
  const found = redisBinary();
  if (found) return found;
  return withLock('apt', async () => {
    const again = redisBinary();
    if (again) return again;
    if (process.getuid?.() !== 0 || !which('apt-get'))
      throw new Error('redis-server is not on PATH; install it with `sudo apt-get update && sudo apt-get install -y redis-server`');
    log('redis: apt-get install redis-server');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update', '-qq'], { env, log: () => {} });
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'redis-server'], { env, log: () => {} });
    const bin = redisBinary();
    if (!bin) throw new Error('apt-get installed redis-server but it is still not on PATH');
    return bin;
  });
}

/** Debian's Alertmanager (package prometheus-alertmanager: the binary is prometheus-alertmanager, with amtool beside it). */
export function alertmanagerBinary(): string | undefined {
  return process.env.GHOSTEAM_ALERTMANAGER_BIN ?? which('prometheus-alertmanager') ?? which('alertmanager');
}

export function amtoolBinary(): string | undefined {
  return process.env.GHOSTEAM_AMTOOL_BIN ?? which('amtool');
}

/** Installs Debian's prometheus-alertmanager once (each alerting test starts its own on a free port); returns the alertmanager binary. */
export async function ensureAlertmanager(log: Log): Promise<string> {
  const found = alertmanagerBinary();
  if (found && amtoolBinary()) return found;
  return withLock('apt', async () => {
    const again = alertmanagerBinary();
    if (again && amtoolBinary()) return again;
    if (process.getuid?.() !== 0 || !which('apt-get'))
      throw new Error('alertmanager is not on PATH; install it with `sudo apt-get update && sudo apt-get install -y prometheus-alertmanager`');
    log('alertmanager: apt-get install prometheus-alertmanager');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update', '-qq'], { env, log: () => {} });
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'prometheus-alertmanager'], { env, log: () => {} });
    const bin = alertmanagerBinary();
    if (!bin || !amtoolBinary()) throw new Error('apt-get installed prometheus-alertmanager but prometheus-alertmanager or amtool is still not on PATH');
    return bin;
  });
}

/** Debian's Chromium, for the UI's browser tests (Playwright drives it; `npx playwright install` cannot download here). */
export function chromiumBinary(): string | undefined {
  return process.env.GHOSTEAM_CHROMIUM_BIN ?? which('chromium');
}

export async function ensureChromium(log: Log): Promise<string> {
  const found = chromiumBinary();
  if (found) return found;
  return withLock('apt', async () => {
    const again = chromiumBinary();
    if (again) return again;
    if (process.getuid?.() !== 0 || !which('apt-get'))
      throw new Error('chromium is not on PATH; install it with `sudo apt-get update && sudo apt-get install -y chromium`');
    log('chromium: apt-get install chromium');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update', '-qq'], { env, log: () => {} });
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { env, log: () => {} });
    const bin = chromiumBinary();
    if (!bin) throw new Error('apt-get installed chromium but it is still not on PATH');
    return bin;
  });
}

/**
 * An MLflow SQLite store with every migration applied and the Default experiment, made once per venv:
 * a fresh store costs the server half a minute of migrations at each start.
 */
export async function ensureMlflowSeed(log: Log): Promise<string> {
  const seed = join(venvDir(), 'mlflow-seed.db');
  if (existsSync(seed)) return seed;
  return withLock('python', async () => {
    if (existsSync(seed)) return seed;
    const tmp = `${seed}.tmp-${process.pid}`;
    rmSync(tmp, { force: true });
    const code = [
      'import sys',
      'from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore',
      'from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore',
      "uri = 'sqlite:///' + sys.argv[1]",
      // The server's default artifact root when it proxies artifacts, so the Default experiment matches.
      "SqlAlchemyStore(uri, 'mlflow-artifacts:/')",
      'RegistryStore(uri)',
    ].join('\n');
    await run(venvPython(), ['-c', code, tmp], { log: () => {} });
    renameSync(tmp, seed);
    log('mlflow: migrated a seed store for later starts');
    return seed;
  });
}

// Where the real-peers harness keeps its caches and its state, and the pinned versions it installs.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type PeerName = 'kube' | 'mlflow' | 'prometheus' | 'python' | 'postgres' | 's3' | 'kafka';
export const PEER_NAMES: readonly PeerName[] = ['kube', 'mlflow', 'prometheus', 'python', 'postgres', 's3', 'kafka'];

export interface PinnedVersions {
  readonly kubernetes: string;
  /** helm.sh/helm/v3, built for the operator chart's tests (test/peers/helm.ts). */
  readonly helm: string;
  /** Argo Workflows (controller, executor, CLI) of the test cluster, built from test/peers/argo. */
  readonly argoWorkflows: string;
  /** kube-router (github.com/cloudnativelabs/kube-router/v2, the Go module proxy), the test cluster's NetworkPolicy firewall; must match test/peers/netpol/go.mod. */
  readonly kubeRouter: string;
  /** s3proxy (Maven Central, org.gaul:s3proxy), the test cluster's object store. */
  readonly s3proxy: string;
  /** Apache Kafka (Maven Central, org.apache.kafka:kafka_2.13), the data sources' broker (KRaft). */
  readonly kafka: string;
  /** log4j-slf4j-impl, so the broker's errors reach its log (the version Kafka's own build uses). */
  readonly kafkaLog4j: string;
  readonly apt: readonly string[];
  readonly python: Readonly<Record<string, string>>;
  /** Separate venvs by name (`extraPython(name)`), each keyed by its own pins; the name is also the module imported to check it. */
  readonly pythonExtras: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export const peersDir = fileURLToPath(new URL('.', import.meta.url));
export const repoRoot = resolve(peersDir, '../..');
export const kubeModuleDir = join(peersDir, 'kube');
/** Upstream CRDs, read in place (never copied into the project). */
export const upstreamDir = process.env.GHOSTEAM_UPSTREAM_DIR ?? resolve(repoRoot, '../shared/upstream');

export const versions: PinnedVersions = JSON.parse(readFileSync(join(peersDir, 'versions.json'), 'utf8'));

/** Installs (venv, built binary) survive across runs here. */
export const cacheDir = process.env.GHOSTEAM_PEERS_CACHE ?? join(homedir(), '.cache', 'ghosteam-peers');
/** The state file written by `peers:up`: which daemons run, on which ports, with which files. */
export const stateFile = process.env.GHOSTEAM_PEERS_STATE ?? join(cacheDir, 'state.json');

export const UP_HINT = 'start them with `npm run peers:up` (the first run installs and builds them, 10-40 min; later starts take about a minute)';

export function shortHash(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 12);
}

/** The venv is keyed by the pins, so changing a pin builds a new one beside the old. */
export function venvDir(): string {
  return join(cacheDir, `venv-${shortHash(JSON.stringify(versions.python))}`);
}

export function venvPython(): string {
  return join(venvDir(), 'bin', 'python');
}

/** The venv of one `pythonExtras` entry, keyed by its pins like the main one. */
export function extraVenvDir(name: string): string {
  const pins = versions.pythonExtras[name];
  if (!pins) throw new Error(`test/peers/versions.json has no pythonExtras entry '${name}' (have: ${Object.keys(versions.pythonExtras).join(', ')})`);
  return join(cacheDir, `venv-${name}-${shortHash(JSON.stringify(pins))}`);
}

/** The python of an extra venv (built by `peers:up`); check `isExtraPythonInstalled` before use. */
export function extraPython(name: string): string {
  return join(extraVenvDir(name), 'bin', 'python');
}

/** Written last by the installer: a venv without it is half-built. */
export const VENV_COMPLETE_MARKER = '.ghosteam-complete';

/**
 * Linker flags of the Kubernetes binaries: stripped, and stamped with the real version, so
 * `/version` says v1.36.x (without them it says `v0.0.0-master+$Format:%H$`, which `kubectl
 * version` cannot parse).
 */
export function kubeLdflags(): string {
  const m = /^v(\d+)\.(\d+)\./.exec(versions.kubernetes);
  if (!m) throw new Error(`test/peers/versions.json: kubernetes '${versions.kubernetes}' is not a vMAJOR.MINOR.PATCH version`);
  const pkg = 'k8s.io/component-base/version';
  return [
    '-s',
    '-w',
    `-X ${pkg}.gitVersion=${versions.kubernetes}`,
    `-X ${pkg}.gitMajor=${m[1]}`,
    `-X ${pkg}.gitMinor=${m[2]}`,
    `-X ${pkg}.gitTreeState=clean`,
  ].join(' ');
}

/** The kube binary is keyed by the Kubernetes version and by every input of its build. */
export function kubeBinary(): string {
  return kubeModuleBinary('ghosteam-kube');
}

/** A binary of test/peers/kube (ghosteam-kube, ghosteam-node, ghosteam-pause), keyed by every input of its build. */
export function kubeModuleBinary(cmd: string): string {
  const inputs = ['go.mod', 'go.sum', `cmd/${cmd}/main.go`].map((f) => readFileSync(join(kubeModuleDir, f), 'utf8'));
  return join(cacheDir, 'bin', `${cmd}-${versions.kubernetes}-${shortHash(...inputs, kubeLdflags())}`);
}

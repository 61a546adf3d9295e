// The test cluster's workflow engine and object store: the real Argo Workflows controller and
// executor (argoexec), built from the Go module proxy (test/peers/argo pins v3.7.3), and s3proxy
// (Maven Central) with its filesystem backend as the S3-compatible artifact repository. Both run
// on this machine beside the other control-plane daemons; pods reach the object store at the
// node's address, never off the machine. A test peer, never part of the product.
//
// Why v3.7.3 rather than v3.6.10: v3.6.10 is open to CVE-2025-62156 (a zip-slip in the executor's
// artifact unpacking) and CVE-2025-62157 (artifact repository credentials in logs), fixed in 3.6.12
// and 3.7.3. Both served versions still have the later template-reference bypasses
// (CVE-2026-31892 and its follow-ups: podSpecPatch and other spec fields defeating
// `templateReferencing: Strict`, fixed in 3.7.11+); the test cluster does not rely on that setting.
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { cacheDir, peersDir, shortHash, versions } from '../config.ts';
import { installCrds } from '../crds.ts';
import { freePort, logTail, spawnDaemon, waitReady } from '../daemons.ts';
import { run, which, withLock, type Log } from '../install.ts';
import { rawKube, type KubeObject } from '../raw.ts';
import { probe } from '../state.ts';
import { ARGO_NAMESPACE, CLUSTER_NET } from './config.ts';

export const argoModuleDir = join(peersDir, 'argo');
export const ARGO_MODULE = 'github.com/argoproj/argo-workflows/v3';
export type ArgoCommand = 'workflow-controller' | 'argoexec' | 'argo';
/** The executor image the controller puts in every workflow pod (init and wait containers). */
export const EXECUTOR_IMAGE = `ghosteam.local/argoexec:${versions.argoWorkflows}`;
/** The bucket the cluster's default artifact repository writes to. */
export const ARTIFACT_BUCKET = 'ghosteam-artifacts';
/** The ServiceAccount workflow pods in ARGO_NAMESPACE run as: it may only write task results. */
export const WORKFLOW_SERVICE_ACCOUNT = 'argo-workflow';
/** The Secret (in ARGO_NAMESPACE) with the object store's keys, referenced by the artifact repository. */
export const S3_SECRET = 'ghosteam-s3';

/** The commit each pinned tag points at (the module proxy's Origin.Hash), stamped into the binaries. */
const ARGO_TAG_COMMITS: Readonly<Record<string, string>> = { 'v3.7.3': 'bded09fe4abd37cb98d7fc81b4c14a6f5034e9ab' };

export function argoLdflags(): string {
  const v = versions.argoWorkflows;
  const pkg = ARGO_MODULE;
  const goMod = readFileSync(join(argoModuleDir, 'go.mod'), 'utf8');
  if (!goMod.includes(`${ARGO_MODULE} ${v}`))
    throw new Error(`test/peers/argo/go.mod does not require ${ARGO_MODULE} ${v} (test/peers/versions.json argoWorkflows); make them agree`);
  // What Argo's Makefile stamps; the commit is the tag's (the module proxy's Origin of the version).
  const commit = ARGO_TAG_COMMITS[v];
  if (!commit)
    throw new Error(
      `test/peers/cluster/argo.ts: no tag commit recorded for Argo Workflows ${v}; add it to ARGO_TAG_COMMITS (\`go mod download -json\` prints it as Origin.Hash)`,
    );
  return [
    '-s',
    '-w',
    `-X ${pkg}.version=${v}`,
    `-X ${pkg}.gitTag=${v}`,
    `-X ${pkg}.gitCommit=${commit}`,
    `-X ${pkg}.gitTreeState=clean`,
    `-X ${pkg}.buildDate=1970-01-01T00:00:00Z`,
  ].join(' ');
}

/** Where a built Argo binary lands in the cache, keyed by every input of its build. */
export function argoBinary(cmd: ArgoCommand): string {
  const inputs = ['go.mod', 'go.sum', 'ui/index.html'].map((f) => readFileSync(join(argoModuleDir, f), 'utf8'));
  return join(cacheDir, 'bin', `${cmd}-${versions.argoWorkflows}-${shortHash(cmd, ...inputs, argoLdflags(), JSON.stringify(ARGO_SOURCE_SYMLINKS))}`);
}

/**
 * Files of Argo's git tree that are symlinks (path -> target, relative to the link's folder). A
 * module zip holds no symlinks, so the proxy's copy lacks them: without signal_linux.go (a link to
 * signal_darwin.go) argoexec fails with `undefined: Setpgid`. argoSource writes each as a copy of
 * its target, which is what the link means.
 */
export const ARGO_SOURCE_SYMLINKS: Readonly<Record<string, string>> = {
  'workflow/executor/osspecific/signal_linux.go': 'signal_darwin.go',
};

/**
 * The Argo Workflows module's source, copied out of the module cache (verified there against
 * test/peers/argo/go.sum) with a placeholder UI (the module holds no ui/dist/app, which the argo
 * CLI embeds for `argo server`, and Go refuses to overlay files in the module cache) and the
 * symlinks the module zip dropped (ARGO_SOURCE_SYMLINKS).
 */
async function argoSource(log: Log): Promise<string> {
  const dir = join(cacheDir, `argo-src-${versions.argoWorkflows}`);
  const complete = (d: string) => existsSync(join(d, 'ui/dist/app/index.html')) && Object.keys(ARGO_SOURCE_SYMLINKS).every((f) => existsSync(join(d, f)));
  if (complete(dir)) return dir;
  let json = '';
  await run('go', ['mod', 'download', '-json', `${ARGO_MODULE}@${versions.argoWorkflows}`], { cwd: argoModuleDir, log: (l) => (json += l + '\n') });
  const src = (JSON.parse(json) as { Dir?: string }).Dir;
  if (!src || !existsSync(src)) throw new Error(`go mod download ${ARGO_MODULE}@${versions.argoWorkflows} gave no source directory:\n${json}`);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  cpSync(src, tmp, { recursive: true });
  await run('chmod', ['-R', 'u+w', tmp], { log });
  mkdirSync(join(tmp, 'ui/dist/app'), { recursive: true });
  cpSync(join(argoModuleDir, 'ui/index.html'), join(tmp, 'ui/dist/app/index.html'));
  for (const [link, target] of Object.entries(ARGO_SOURCE_SYMLINKS)) {
    const from = join(tmp, link, '..', target);
    if (!existsSync(from))
      throw new Error(`Argo ${versions.argoWorkflows} source: ${link} links to ${target}, which the module does not hold; update ARGO_SOURCE_SYMLINKS`);
    cpSync(from, join(tmp, link));
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  log(`argo: module source of ${versions.argoWorkflows} at ${dir}`);
  return dir;
}

/** The directory of the Argo module's CRDs (the `minimal` set, as Argo's own quick start installs them). */
export async function argoCrdDir(log: Log = () => {}): Promise<string> {
  return join(await argoSource(log), 'manifests/base/crds/minimal');
}

/** Every Argo command the test cluster runs: the controller and executor (cluster:up) and the CLI (`argo server`, test/cluster). */
export const ARGO_COMMANDS: readonly ArgoCommand[] = ['workflow-controller', 'argoexec', 'argo'];

/**
 * Build the given Argo commands into the cache (once each; static binaries, CGO off, as Argo's
 * release builds them). The missing ones build in ONE `go build` invocation: the three share most
 * of their ~2,000 packages, so one action graph compiles each package once, overlaps one
 * command's link with another's compiles, and loads the package graph once (three invocations
 * took 328 s + 762 s + 353 s with the packages already cached, load 22-28; docs/cluster.md).
 * `all`: build every command in ARGO_COMMANDS that is missing while at it (cluster:up asks for
 * them all, so the CLI does not cost a second build later).
 */
export async function ensureArgo(cmds: readonly ArgoCommand[], log: Log, opts: { all?: boolean } = {}): Promise<Record<ArgoCommand, string>> {
  const out = {} as Record<ArgoCommand, string>;
  for (const cmd of ARGO_COMMANDS) out[cmd] = argoBinary(cmd);
  if (cmds.every((c) => existsSync(out[c]))) return out;
  return withLock('argo', async () => {
    const missing = (opts.all ? ARGO_COMMANDS : cmds).filter((c) => !existsSync(out[c]));
    if (missing.length === 0) return out;
    if (!which('go')) throw new Error('the Go toolchain is not on PATH; install Go >= 1.26 (only the test peers need it)');
    mkdirSync(join(cacheDir, 'bin'), { recursive: true });
    log(
      `argo: building ${missing.join(', ')} ${versions.argoWorkflows} from the Go module in one go build (first time only; ~20 CPU-minutes cold, docs/cluster.md)`,
    );
    // All build in the source copy (as the main module, with Argo's own go.mod and go.sum, as
    // Argo's Makefile builds them): the CLI embeds the UI, and the executor needs the symlinked
    // files the module zip dropped.
    const cwd = await argoSource(log);
    const tmp = join(cacheDir, 'bin', `.argo-build-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    const t0 = Date.now();
    try {
      // -o DIR/ with several main packages writes each executable into DIR under its package's name.
      await run('nice', ['-n', '10', 'go', 'build', '-trimpath', `-ldflags=${argoLdflags()}`, '-o', `${tmp}/`, ...missing.map((c) => `./cmd/${c}`)], {
        cwd,
        env: { ...process.env, CGO_ENABLED: '0' },
        log,
      });
      for (const cmd of missing) renameSync(join(tmp, cmd), out[cmd]);
    } catch (err) {
      throw new Error(`go build ${missing.join(' ')}: ${(err as Error).message}`, { cause: err });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    log(`argo: ${missing.join(', ')} built in ${Math.round((Date.now() - t0) / 1000)}s`);
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// The object store: s3proxy with the filesystem backend.

export interface ObjectStore {
  /** http://NODE_IP:PORT, reachable from this machine and from pods. */
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region: string;
  readonly dir: string;
}

export function s3proxyJar(): string {
  return join(cacheDir, 's3proxy', `s3proxy-${versions.s3proxy}-jar-with-dependencies.jar`);
}

/** Fetch s3proxy's self-contained jar from Maven Central once (with `mvn`, the ordinary client). */
export async function ensureS3Proxy(log: Log): Promise<string> {
  const jar = s3proxyJar();
  if (existsSync(jar)) return jar;
  return withLock('s3proxy', async () => {
    if (existsSync(jar)) return jar;
    if (!which('java')) throw new Error('s3proxy needs Java >= 17 on PATH (Debian: `apt-get install openjdk-17-jre-headless`)');
    if (!which('mvn')) throw new Error('fetching s3proxy from Maven Central needs `mvn` on PATH (Debian: `apt-get install maven`)');
    const tmp = join(cacheDir, `s3proxy.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    log(`s3proxy: fetching org.gaul:s3proxy:${versions.s3proxy} (jar-with-dependencies) from Maven Central`);
    await run('mvn', ['-q', '-B', 'dependency:copy', `-Dartifact=org.gaul:s3proxy:${versions.s3proxy}:jar:jar-with-dependencies`, `-DoutputDirectory=${tmp}`], {
      log,
    });
    const got = readdirSync(tmp).find((f) => f.endsWith('.jar'));
    if (!got) throw new Error(`mvn dependency:copy of org.gaul:s3proxy:${versions.s3proxy} wrote no jar into ${tmp}`);
    mkdirSync(join(jar, '..'), { recursive: true });
    renameSync(join(tmp, got), jar);
    rmSync(tmp, { recursive: true, force: true });
    return jar;
  });
}

/** s3proxy's configuration: AWS signatures (v2 or v4) with one key pair, objects as files under `dir`. */
export function s3proxyProperties(endpoint: string, accessKey: string, secretKey: string, dir: string): string {
  return [
    `s3proxy.endpoint=${endpoint}`,
    's3proxy.authorization=aws-v2-or-v4',
    `s3proxy.identity=${accessKey}`,
    `s3proxy.credential=${secretKey}`,
    'jclouds.provider=filesystem',
    `jclouds.filesystem.basedir=${dir}`,
    '',
  ].join('\n');
}

/**
 * Start s3proxy on `host` (an address of this machine) with fresh keys and the given buckets, files
 * under DIR/s3; returns its pid, log and where it listens. The caller stops the pid.
 */
export async function startS3Proxy(
  dir: string,
  opts: { host: string; buckets: readonly string[]; log?: Log },
): Promise<{ pid: number; log: string; store: ObjectStore }> {
  const log = opts.log ?? (() => {});
  const jar = await ensureS3Proxy(log);
  const port = await freePort();
  const endpoint = `http://${opts.host}:${port}`;
  const store: ObjectStore = {
    endpoint,
    accessKey: `ghosteam-${randomBytes(4).toString('hex')}`,
    secretKey: randomBytes(24).toString('base64url'),
    region: 'us-east-1',
    dir: join(dir, 's3'),
  };
  // A bucket of the filesystem backend is a directory.
  for (const b of opts.buckets) mkdirSync(join(store.dir, b), { recursive: true });
  mkdirSync(store.dir, { recursive: true });
  const props = join(dir, 's3proxy.properties');
  writeFileSync(props, s3proxyProperties(endpoint, store.accessKey, store.secretKey, store.dir), { mode: 0o600 });
  const logFile = join(dir, 's3proxy.log');
  const child = spawnDaemon('java', ['-Xmx256m', '-XX:+UseSerialGC', '-jar', jar, '--properties', props], logFile);
  // Any HTTP answer (an anonymous request is refused with 403) means it serves.
  await waitReady('s3proxy', child.pid!, logFile, 120_000, async () => (await probe(`${endpoint}/`)).status > 0);
  log(`s3proxy: serving ${endpoint} (buckets ${opts.buckets.join(', ')}; files under ${store.dir})`);
  return { pid: child.pid!, log: logFile, store };
}

/** The cluster's object store: s3proxy on the node's address (pods reach it there), with the artifact bucket. */
export function startObjectStore(dir: string, log: Log): Promise<{ pid: number; log: string; store: ObjectStore }> {
  return startS3Proxy(dir, { host: CLUSTER_NET.nodeIP, buckets: [ARTIFACT_BUCKET, 'data'], log });
}

// ---------------------------------------------------------------------------------------------
// The Argo controller, its namespace, CRDs, artifact repository and the executor's RBAC.

/** The objects the cluster needs before the controller starts (besides the CRDs). */
export function argoNamespaceObjects(store: ObjectStore, ns = ARGO_NAMESPACE): KubeObject[] {
  const endpointHost = store.endpoint.replace(/^https?:\/\//, '');
  const s3 = {
    bucket: ARTIFACT_BUCKET,
    endpoint: endpointHost,
    insecure: true,
    region: store.region,
    accessKeySecret: { name: S3_SECRET, key: 'accessKey' },
    secretKeySecret: { name: S3_SECRET, key: 'secretKey' },
    keyFormat: '{{workflow.name}}/{{pod.name}}',
  };
  const repo = (doc: object) => stringifyYaml(doc);
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: S3_SECRET, namespace: ns },
      type: 'Opaque',
      stringData: { accessKey: store.accessKey, secretKey: store.secretKey },
    },
    // The namespace's default artifact repository, the way Argo documents it: every Workflow in
    // the namespace without an artifactRepositoryRef of its own uses it.
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'artifact-repositories', namespace: ns, annotations: { 'workflows.argoproj.io/default-artifact-repository': 'default' } },
      data: { default: repo({ s3 }) },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'workflow-controller-configmap', namespace: ns },
      data: {
        artifactRepository: repo({ s3 }),
        metricsConfig: repo({ enabled: false }),
        telemetryConfig: repo({ enabled: false }),
        // Restricted pods for the executor's own containers too.
        executor: repo({
          imagePullPolicy: 'Never',
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          },
        }),
      },
    },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: WORKFLOW_SERVICE_ACCOUNT, namespace: ns } },
    // What the emissary executor needs, and no more: report its task results.
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'argo-executor', namespace: ns },
      rules: [{ apiGroups: ['argoproj.io'], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] }],
    },
    ...[WORKFLOW_SERVICE_ACCOUNT, 'default'].map((sa) => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `argo-executor-${sa}`, namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'argo-executor' },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace: ns }],
    })),
  ];
}

function stringifyYaml(doc: object): string {
  // JSON is YAML; Argo parses these values with a YAML parser.
  return JSON.stringify(doc);
}

/** Install Argo's CRDs and the namespace objects, then start the controller (namespaced to ARGO_NAMESPACE). */
export async function startArgoController(
  kubeconfig: string,
  dir: string,
  store: ObjectStore,
  bins: Record<'workflow-controller', string>,
  log: Log,
): Promise<{ pid: number; log: string }> {
  const crdDir = await argoCrdDir(log);
  const crds = readdirSync(crdDir)
    .filter((f) => f.startsWith('argoproj.io_') && f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(readFileSync(join(crdDir, f), 'utf8')).map((d) => d.toJS() as object))
    .filter((o): o is { kind: string } => (o as { kind?: string })?.kind === 'CustomResourceDefinition');
  await installCrds(kubeconfig, crds as never);
  const kube = rawKube(kubeconfig);
  for (const obj of argoNamespaceObjects(store)) await kube.apply(obj);
  const logFile = join(dir, 'workflow-controller.log');
  const healthPort = 6060;
  const child = spawnDaemon(
    bins['workflow-controller'],
    [
      `--kubeconfig=${kubeconfig}`,
      `--namespace=${ARGO_NAMESPACE}`,
      '--namespaced',
      `--managed-namespace=${ARGO_NAMESPACE}`,
      `--executor-image=${EXECUTOR_IMAGE}`,
      '--executor-image-pull-policy=Never',
      '--workflow-workers=4',
      '--pod-cleanup-workers=2',
    ],
    logFile,
    { env: { ...process.env, LEADER_ELECTION_DISABLE: 'true' } },
  );
  await waitReady(
    'workflow-controller',
    child.pid!,
    logFile,
    120_000,
    async () => (await probe(`http://127.0.0.1:${healthPort}/healthz`)).status === 200,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${logTail(logFile)}`);
  });
  log(`argo: workflow-controller ${versions.argoWorkflows} watching namespace ${ARGO_NAMESPACE}`);
  return { pid: child.pid!, log: logFile };
}

// The test cluster: a kube-apiserver of its own (ghosteam-kube --node), kube-controller-manager,
// kube-scheduler, kube-proxy and a kubelet (ghosteam-node), on containerd from Debian with
// Debian's CNI plugins. `clusterUp` starts what is not running (installing and building once),
// `clusterDown` stops it and removes every trace but the caches. A test peer, never the product.
//
// Why an API server of its own rather than the shared peer's: the controllers of a real cluster
// (garbage collector, namespace, deployment...) would act on the objects the other suites create
// in the shared one to play those controllers themselves; and a node needs the API server on an
// address pods can reach, with ServiceAccount tokens, which the shared peer leaves off.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import writeFileAtomic from 'write-file-atomic';
import { stringify } from 'yaml';
import { cacheDir, kubeLdflags, kubeModuleBinary, kubeModuleDir } from '../config.ts';
import { freePort, logTail, spawnDaemon, stopPid, waitReady } from '../daemons.ts';
import { ensureKube, run, which, withLock, type Log } from '../install.ts';
import { isAlive, kubeTls } from '../state.ts';
import { timed } from '../up.ts';
import { ARGO_COMMANDS, ensureArgo, ensureS3Proxy, EXECUTOR_IMAGE, startArgoController, startObjectStore, type ObjectStore } from './argo.ts';
import { ensureNetpol, removeNetpolRules, startNetpol } from './netpol.ts';
import { ensureKafka, startKafka } from '../datastores.ts';
import { rawKube } from '../raw.ts';
import { ARGO_NAMESPACE, CLUSTER_NET, clusterStateFile, containerdRoot, NODE_NAME, NODE_PACKAGES, PAUSE_IMAGE } from './config.ts';

export interface DaemonState {
  readonly pid: number;
  readonly log: string;
}

export interface ClusterState {
  /** Temp dir: configs, logs, the API server's PKI and etcd, the kubelet's root, containerd's state. */
  readonly dir: string;
  readonly kubeconfig: string;
  readonly apiPort: number;
  readonly startedAt: number;
  readonly containerdSocket: string;
  /** The S3-compatible object store (s3proxy) pods and tests reach; the Argo artifact repository. */
  readonly objectStore?: ObjectStore;
  /**
   * The Kafka broker pods and tests reach (KRaft, one node, on the node address): HOST:PORT.
   * Pods name it in a `kafka://HOST:PORT/TOPIC` source; printed as CLUSTER_KAFKA_BROKERS.
   */
  readonly kafkaBrokers?: string;
  readonly daemons: Partial<Record<DaemonName, DaemonState>>;
}

export type DaemonName =
  'containerd' | 'apiserver' | 'controller-manager' | 'scheduler' | 'proxy' | 'kubelet' | 'netpol' | 'objectstore' | 'kafka' | 'argo-controller';
/** Start order; teardown runs it backwards. `netpol` is kube-router's NetworkPolicy firewall (netpol.ts). */
const DAEMONS: readonly DaemonName[] = [
  'containerd',
  'apiserver',
  'controller-manager',
  'scheduler',
  'proxy',
  'kubelet',
  'netpol',
  'objectstore',
  'kafka',
  'argo-controller',
];
/** The node's own daemons: what must run before the node is Ready (the object store, Kafka and Argo start after). */
const NODE_DAEMONS: readonly DaemonName[] = DAEMONS.slice(0, DAEMONS.indexOf('kubelet') + 1);

/** A failure of one part of the cluster, named, with the log to read. */
export class ClusterPartError extends Error {
  constructor(
    readonly part: string,
    message: string,
  ) {
    super(`cluster:up: ${part}: ${message}`);
  }
}

export function readClusterState(): ClusterState | undefined {
  if (!existsSync(clusterStateFile)) return undefined;
  try {
    return JSON.parse(readFileSync(clusterStateFile, 'utf8')) as ClusterState;
  } catch (err) {
    throw new Error(`${clusterStateFile}: not a readable cluster state file (${(err as Error).message}); run \`npm run cluster:down\` to clear it`, {
      cause: err,
    });
  }
}

function writeClusterState(state: ClusterState | undefined): void {
  if (state === undefined) rmSync(clusterStateFile, { force: true });
  else writeFileAtomic.sync(clusterStateFile, JSON.stringify(state, null, 2) + '\n');
}

/** GET a path on the cluster's API server with the admin certificate; never rejects (a failure is status 0). */
export function apiGet(kubeconfig: string, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    let tls: ReturnType<typeof kubeTls>;
    try {
      tls = kubeTls(kubeconfig);
    } catch (err) {
      resolve({ status: 0, body: (err as Error).message });
      return;
    }
    const url = new URL(path, tls.server);
    const req = httpsRequest(url, { method: 'GET', ca: tls.ca, cert: tls.cert, key: tls.key, timeout: timeoutMs }, (res) => {
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

/** Why the recorded cluster is not usable, or undefined when every daemon lives and the node is Ready. */
export async function checkCluster(
  state: ClusterState | undefined = readClusterState(),
  daemons: readonly DaemonName[] = DAEMONS,
): Promise<string | undefined> {
  if (!state) return 'the cluster is not running';
  for (const name of daemons) {
    const d = state.daemons[name];
    if (!d) return `${name} was never started`;
    if (!isAlive(d.pid)) return `${name} (pid ${d.pid}) has exited; see ${d.log}`;
  }
  const ready = await apiGet(state.kubeconfig, '/readyz');
  if (ready.status !== 200) return `the API server is not ready (${ready.status || ready.body}); see ${state.daemons.apiserver?.log}`;
  const node = await apiGet(state.kubeconfig, `/api/v1/nodes/${NODE_NAME}`);
  if (node.status !== 200) return `node ${NODE_NAME} is not registered (${node.status}); see ${state.daemons.kubelet?.log}`;
  const cond = (JSON.parse(node.body) as { status?: { conditions?: { type: string; status: string; message?: string }[] } }).status?.conditions?.find(
    (c) => c.type === 'Ready',
  );
  return cond?.status === 'True' ? undefined : `node ${NODE_NAME} is not Ready (${cond?.message ?? 'no Ready condition'}); see ${state.daemons.kubelet?.log}`;
}

// ---------------------------------------------------------------------------------------------
// Installs: Debian packages, the node binary, the pause image.

type DebianPackage = (typeof NODE_PACKAGES)[number];

/** apt-get install what of `packages` is missing (under the 'apt' lock); fails naming `part`. */
export async function ensurePackages(log: Log, packages: readonly DebianPackage[] = NODE_PACKAGES, part = 'packages'): Promise<void> {
  const missingPackages = () => packages.filter((p) => !existsSync(p.file));
  if (missingPackages().length === 0) return;
  await withLock('apt', async () => {
    const missing = missingPackages();
    if (missing.length === 0) return;
    const names = missing.map((p) => p.pkg);
    if (!which('apt-get') || process.getuid?.() !== 0) {
      throw new ClusterPartError(part, `missing ${missing.map((p) => `${p.pkg} (${p.why})`).join(', ')}; install them with your package manager`);
    }
    log(`${part}: apt-get install ${names.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      await run('apt-get', ['update', '-qq'], { env, log: () => {} });
      await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...names], { env, log: () => {} });
    } catch (err) {
      throw new ClusterPartError(part, `apt-get install ${names.join(' ')} failed: ${(err as Error).message}`);
    }
    const still = missingPackages();
    if (still.length > 0) throw new ClusterPartError(part, `apt-get installed ${names.join(' ')} but ${still.map((p) => p.file).join(', ')} is still missing`);
  });
}

/** Build one command of test/peers/kube into the cache (once; keyed by its inputs). */
export async function ensureModuleBinary(cmd: 'ghosteam-node' | 'ghosteam-pause', log: Log, what: string): Promise<string> {
  const bin = kubeModuleBinary(cmd);
  if (existsSync(bin)) return bin;
  return withLock('kube', async () => {
    if (existsSync(bin)) return bin;
    if (!which('go')) throw new ClusterPartError(cmd, 'the Go toolchain is not on PATH; install Go >= 1.26 (only the test peers need it)');
    mkdirSync(join(cacheDir, 'bin'), { recursive: true });
    const tmp = `${bin}.tmp-${process.pid}`;
    log(`${cmd}: building ${what} (first time only)`);
    const ldflags = cmd === 'ghosteam-pause' ? '-s -w' : kubeLdflags();
    try {
      await run('go', ['build', '-trimpath', `-ldflags=${ldflags}`, '-o', tmp, `./cmd/${cmd}`], {
        cwd: kubeModuleDir,
        env: cmd === 'ghosteam-pause' ? { ...process.env, CGO_ENABLED: '0' } : process.env,
        log,
      });
    } catch (err) {
      throw new ClusterPartError(cmd, `go build failed: ${(err as Error).message}`);
    }
    renameSync(tmp, bin);
    return bin;
  });
}

/**
 * A Docker image archive (the `docker save` layout, which `ctr images import` reads) holding one
 * layer with `files` (path in image -> path here) and the given entrypoint.
 */
export function writeImageArchive(
  out: string,
  ref: string,
  files: Record<string, string>,
  entrypoint: readonly string[],
  opts: { env?: readonly string[]; dirs?: Readonly<Record<string, number>> } = {},
): void {
  const work = mkdtempSync(join(tmpdir(), 'ghosteam-image-'));
  try {
    const root = join(work, 'rootfs');
    mkdirSync(root);
    for (const [inImage, src] of Object.entries(files)) {
      const dest = join(root, inImage);
      mkdirSync(join(dest, '..'), { recursive: true });
      writeFileSync(dest, readFileSync(src), { mode: 0o755 });
    }
    for (const [inImage, mode] of Object.entries(opts.dirs ?? {})) {
      mkdirSync(join(root, inImage), { recursive: true });
      chmodSync(join(root, inImage), mode);
    }
    const tarArgs = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0'];
    execFileSync('tar', [...tarArgs, '-C', root, '-cf', join(work, 'layer.tar'), '.']);
    const diffId = execFileSync('sha256sum', [join(work, 'layer.tar')], { encoding: 'utf8' }).split(' ')[0];
    const config = {
      architecture: 'amd64',
      os: 'linux',
      config: { Entrypoint: entrypoint, User: '65535:65535', ...(opts.env ? { Env: opts.env } : {}) },
      rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
    };
    writeFileSync(join(work, 'config.json'), JSON.stringify(config));
    writeFileSync(join(work, 'manifest.json'), JSON.stringify([{ Config: 'config.json', RepoTags: [ref], Layers: ['layer.tar'] }]));
    execFileSync('tar', [...tarArgs, '-C', work, '-cf', out, 'manifest.json', 'config.json', 'layer.tar']);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function ctr(socket: string, args: readonly string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('ctr', ['--address', socket, '--namespace', 'k8s.io', ...args], { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 << 20 });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}

/** The image refs containerd (namespace k8s.io) holds. */
export function clusterImages(socket: string): Set<string> {
  const r = ctr(socket, ['images', 'ls', '--quiet']);
  if (r.status !== 0) throw new Error(`ctr images ls: ${r.stderr.trim()}`);
  return new Set(r.stdout.split('\n').filter(Boolean));
}

/**
 * The image ID (config digest, what `docker image inspect` calls Id) of `ref` in the node's
 * containerd, or undefined when it holds no such image.
 */
export function clusterImageId(socket: string, ref: string): string | undefined {
  const ls = ctr(socket, ['images', 'ls', `name==${ref}`]);
  if (ls.status !== 0) throw new Error(`ctr images ls: ${ls.stderr.trim()}`);
  // REF TYPE DIGEST SIZE PLATFORMS LABELS
  const row = ls.stdout
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .find((cols) => cols[0] === ref);
  if (!row) return undefined;
  let digest = row[2];
  for (let depth = 0; depth < 2; depth++) {
    const got = ctr(socket, ['content', 'get', digest]);
    if (got.status !== 0) throw new Error(`ctr content get ${digest} (${ref}): ${got.stderr.trim()}`);
    const doc = JSON.parse(got.stdout) as { config?: { digest: string }; manifests?: { digest: string; platform?: { os?: string; architecture?: string } }[] };
    if (doc.config) return doc.config.digest;
    // An index: this platform's manifest.
    const m = doc.manifests?.find((x) => !x.platform || (x.platform.os === 'linux' && x.platform.architecture === 'amd64')) ?? doc.manifests?.[0];
    if (!m) break;
    digest = m.digest;
  }
  throw new Error(`containerd's ${ref}: no image config found under ${row[2]}`);
}

/**
 * Import a `docker save` archive into the node's containerd, where the kubelet finds it.
 *
 * Importing a new image under a ref that names an older one untags the older one, and
 * containerd's garbage collector then removes its snapshots, which the new image's layers may
 * share: an unpack that found such a parent a moment before fails with "parent snapshot … does
 * not exist" (containerd/containerd#2382, #3787; one CI run here). The content is already in
 * the store by then, so a second import unpacks onto snapshots it makes itself.
 */
export function importImageArchive(socket: string, archive: string): void {
  for (let attempt = 1; ; attempt++) {
    const r = ctr(socket, ['images', 'import', '--no-unpack=false', archive]);
    if (r.status === 0) return;
    const msg = (r.stderr || r.stdout).trim();
    if (attempt < 3 && /parent snapshot .* does not exist|missing parent/.test(msg)) continue;
    throw new Error(`ctr images import ${archive}: ${msg}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Host networking: the node address, forwarding, and the guard that keeps pod traffic here.

function sh(cmd: string, args: readonly string[]): { status: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim() };
}

function must(part: string, cmd: string, args: readonly string[]): void {
  const r = sh(cmd, args);
  if (r.status !== 0) throw new ClusterPartError(part, `\`${cmd} ${args.join(' ')}\` failed: ${r.out}`);
}

/** The guard rules, as `iptables` argument lists after the chain name. */
export function guardRules(net: typeof CLUSTER_NET = CLUSTER_NET): { forward: string[][]; output: string[][] } {
  return {
    // Forwarded traffic from pods: only to pods (Service traffic is DNATed to a pod before FORWARD).
    forward: [
      ['-s', net.podCIDR, '-d', net.podCIDR, '-j', 'RETURN'],
      ['-s', net.podCIDR, '-j', 'REJECT'],
      ['-d', net.serviceCIDR, '-j', 'REJECT'],
    ],
    // This machine's own traffic to cluster addresses: only over loopback or the pod bridge.
    output: [
      ['-o', 'lo', '-j', 'RETURN'],
      ['-o', net.bridge, '-j', 'RETURN'],
      // A ClusterIP called from this machine: kube-proxy's DNAT (nat OUTPUT) turned it into a pod's
      // or the node's address, which the kernel then routes over the bridge or lo; but `-o` in filter
      // OUTPUT still names the interface of the first route (the default one, for a Service address),
      // so the rules above miss it. Let it pass by its new destination, which cannot leave the machine.
      ['-d', net.podCIDR, '-m', 'conntrack', '--ctstate', 'DNAT', '--ctorigdst', net.serviceCIDR, '-j', 'RETURN'],
      ['-d', `${net.nodeIP}/32`, '-m', 'conntrack', '--ctstate', 'DNAT', '--ctorigdst', net.serviceCIDR, '-j', 'RETURN'],
      ['-d', net.podCIDR, '-j', 'REJECT'],
      ['-d', net.serviceCIDR, '-j', 'REJECT'],
      ['-d', `${net.nodeIP}/32`, '-j', 'REJECT'],
    ],
  };
}

function setUpHostNetwork(): void {
  const part = 'host network';
  const has = sh('ip', ['-4', 'addr', 'show', 'dev', 'lo']).out.includes(` ${CLUSTER_NET.nodeIP}/32 `);
  if (!has) must(part, 'ip', ['addr', 'add', `${CLUSTER_NET.nodeIP}/32`, 'dev', 'lo']);
  must(part, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  // Packets between pods on the bridge pass the IPv4 netfilter hooks (kube-proxy's rules and the
  // NetworkPolicy enforcer's) only with br_netfilter on.
  must(part, 'sysctl', ['-qw', 'net.bridge.bridge-nf-call-iptables=1']);
  tearDownGuard();
  removeNetpolRules();
  const rules = guardRules();
  for (const [suffix, hook, list] of [
    ['FWD', 'FORWARD', rules.forward],
    ['OUT', 'OUTPUT', rules.output],
  ] as const) {
    const chain = `${CLUSTER_NET.guardChain}-${suffix}`;
    must(part, 'iptables', ['-w', '-N', chain]);
    for (const r of list) must(part, 'iptables', ['-w', '-A', chain, ...r]);
    must(part, 'iptables', ['-w', '-I', hook, '1', '-j', chain]);
  }
}

function tearDownGuard(): void {
  for (const [suffix, hook] of [
    ['FWD', 'FORWARD'],
    ['OUT', 'OUTPUT'],
  ] as const) {
    const chain = `${CLUSTER_NET.guardChain}-${suffix}`;
    while (sh('iptables', ['-w', '-D', hook, '-j', chain]).status === 0);
    sh('iptables', ['-w', '-F', chain]);
    sh('iptables', ['-w', '-X', chain]);
  }
}

// ---------------------------------------------------------------------------------------------
// Configuration files.

export function containerdConfig(dir: string, socket: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return [
    'version = 2',
    `root = ${JSON.stringify(containerdRoot)}`,
    `state = ${JSON.stringify(join(dir, 'containerd-state'))}`,
    'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]',
    '[grpc]',
    `  address = ${JSON.stringify(socket)}`,
    '[ttrpc]',
    `  address = ${JSON.stringify(`${socket}.ttrpc`)}`,
    '[debug]',
    '  address = ""',
    '[metrics]',
    '  address = ""',
    `[plugins."io.containerd.internal.v1.opt"]`,
    `  path = ${JSON.stringify(join(dir, 'containerd-opt'))}`,
    `[${cri}]`,
    `  sandbox_image = ${JSON.stringify(PAUSE_IMAGE)}`,
    // This VM refuses a negative oom_score_adj: without this every sandbox fails in runc.
    '  restrict_oom_score_adj = true',
    '  enable_selinux = false',
    `[${cri}.containerd]`,
    '  snapshotter = "overlayfs"',
    '  default_runtime_name = "runc"',
    `[${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `[${cri}.containerd.runtimes.runc.options]`,
    '  SystemdCgroup = false',
    '  BinaryName = "/usr/sbin/runc"',
    `[${cri}.cni]`,
    '  bin_dir = "/usr/lib/cni"',
    `  conf_dir = ${JSON.stringify(join(dir, 'cni'))}`,
    '  max_conf_num = 1',
    '',
  ].join('\n');
}

export function cniConflist(dir: string): object {
  return {
    cniVersion: '0.4.0',
    name: 'ghosteam',
    plugins: [
      {
        type: 'bridge',
        bridge: CLUSTER_NET.bridge,
        isGateway: true,
        // No masquerade: a pod packet that escaped would keep its pod source address, which the
        // guard rejects and the capture check would see.
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: CLUSTER_NET.podCIDR, gateway: CLUSTER_NET.podGateway }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: join(dir, 'cni-ipam'),
        },
      },
    ],
  };
}

export function kubeletConfig(dir: string, socket: string, port: number, healthzPort: number, ca: string): object {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // The VM boots cgroup v1, which the kubelet refuses unless told.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    failSwapOn: false,
    address: CLUSTER_NET.nodeIP,
    port,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort,
    containerRuntimeEndpoint: `unix://${socket}`,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: ca } },
    authorization: { mode: 'Webhook' },
    // Pods resolve nothing: a resolver at the pod's own loopback fails at once instead of sending
    // queries to this machine's upstream resolver, off the machine. Everything here is by address.
    resolvConf: join(dir, 'resolv.conf'),
    rotateCertificates: false,
    serializeImagePulls: false,
    // A shared build machine's disk is often fuller than the defaults allow; never evict or GC here.
    evictionHard: { 'memory.available': '50Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    maxPods: 60,
    staticPodPath: '',
    shutdownGracePeriod: '0s',
  };
}

export function proxyConfig(kubeconfig: string, healthzPort: number, metricsPort: number): object {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig },
    mode: 'iptables',
    hostnameOverride: NODE_NAME,
    bindAddress: CLUSTER_NET.nodeIP,
    clusterCIDR: CLUSTER_NET.podCIDR,
    healthzBindAddress: `127.0.0.1:${healthzPort}`,
    metricsBindAddress: `127.0.0.1:${metricsPort}`,
    // Pods on one bridge reach each other's Services: masquerading makes the reply come back
    // through this machine's conntrack rather than straight across the bridge.
    iptables: { masqueradeAll: true },
    // NodePorts only on the node's own address, never on the machine's network interface.
    nodePortAddresses: [`${CLUSTER_NET.nodeIP}/32`],
    // Leave the machine's conntrack sysctls alone.
    conntrack: { maxPerCore: 0, min: 0 },
  };
}

// ---------------------------------------------------------------------------------------------
// Up and down.

export interface ClusterUpResult {
  readonly state: ClusterState;
  readonly timings: Record<string, number>;
}

export interface ClusterBinaries {
  readonly api: string;
  readonly node: string;
  readonly pause: string;
  /** kube-router, the NetworkPolicy enforcer (netpol.ts). */
  readonly netpol: string;
}

/**
 * Install and build everything the cluster runs, starting nothing (`npm run cluster:build`; the
 * first part of `cluster:up`): the Debian packages and s3proxy's jar (network-bound) beside the Go
 * builds (CPU-bound). The Go builds go one after the other: ghosteam-node after the API server,
 * whose Go build cache it shares (building them at once would compile the shared packages twice),
 * and Argo's three commands in one invocation (they share no Kubernetes packages with ours: Argo
 * v3.7.3 pins client-go v0.33).
 */
export async function clusterBuild(log: Log = () => {}, timings: Record<string, number> = {}): Promise<ClusterBinaries> {
  const go = timed(timings, 'go builds', async () => {
    const api = await timed(timings, 'kube-apiserver build', () => ensureKube(log)).catch((err: Error) => {
      throw new ClusterPartError('kube-apiserver build', err.message);
    });
    const node = await timed(timings, 'ghosteam-node build', () =>
      ensureModuleBinary('ghosteam-node', log, 'kubelet, kube-controller-manager, kube-scheduler and kube-proxy'),
    );
    const pause = await ensureModuleBinary('ghosteam-pause', log, 'the pod sandbox (pause) process');
    await timed(timings, 'argo build', () => ensureArgo(ARGO_COMMANDS, log, { all: true })).catch((err: Error) => {
      throw new ClusterPartError('argo build', err.message);
    });
    const netpol = await timed(timings, 'netpol build', () => ensureNetpol(log)).catch((err: Error) => {
      throw new ClusterPartError('kube-router build', err.message);
    });
    return { api, node, pause, netpol };
  });
  const fetches = Promise.all([
    timed(timings, 'packages', () => ensurePackages(log)),
    timed(timings, 's3proxy', () => ensureS3Proxy(log)).catch((err: Error) => {
      throw new ClusterPartError('s3proxy', err.message);
    }),
    timed(timings, 'kafka jars', () => ensureKafka(log)).catch((err: Error) => {
      throw new ClusterPartError('kafka', err.message);
    }),
  ]);
  // Settle both before failing, so nothing is left running behind a rejection.
  const [bins, fetched] = await Promise.allSettled([go, fetches]);
  if (bins.status === 'rejected') throw bins.reason as Error;
  if (fetched.status === 'rejected') throw fetched.reason as Error;
  return bins.value;
}

/** Start the cluster unless it is already up and healthy. Idempotent; holds the 'cluster' lock. */
export async function clusterUp(log: Log = () => {}): Promise<ClusterUpResult> {
  return withLock('cluster', async () => {
    const timings: Record<string, number> = {};
    const recorded = readClusterState();
    if ((await checkCluster(recorded)) === undefined) return { state: recorded!, timings };
    if (recorded) {
      log('cluster: the recorded cluster is not healthy; tearing it down before starting again');
      await tearDown(recorded, log);
      writeClusterState(undefined);
    }
    if (process.getuid?.() !== 0) {
      throw new ClusterPartError(
        'preflight',
        'needs root: it runs containerd, mounts pod volumes and writes iptables rules (a test peer; run it in a VM or CI machine you own)',
      );
    }
    if (!existsSync('/sys/fs/cgroup/memory') && !existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      throw new ClusterPartError('preflight', 'no cgroup filesystem under /sys/fs/cgroup; containers cannot run on this machine');
    }
    const { api: apiBin, node: nodeBin, pause: pauseBin, netpol: netpolBin } = await clusterBuild(log, timings);

    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-cluster-'));
    const socket = join(dir, 'containerd.sock');
    let state: ClusterState = {
      dir,
      kubeconfig: join(dir, 'apiserver', 'kubeconfig'),
      apiPort: 0,
      startedAt: Date.now(),
      containerdSocket: socket,
      daemons: {},
    };
    const started = (name: DaemonName, d: DaemonState) => {
      state = { ...state, daemons: { ...state.daemons, [name]: d } };
      writeClusterState(state);
    };
    writeClusterState(state);
    try {
      await timed(timings, 'host network', async () => setUpHostNetwork());
      mkdirSync(containerdRoot, { recursive: true });
      mkdirSync(join(dir, 'cni'));
      writeFileSync(join(dir, 'cni', '10-ghosteam.conflist'), JSON.stringify(cniConflist(dir), null, 2));
      writeFileSync(join(dir, 'containerd.toml'), containerdConfig(dir, socket));
      writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');

      await timed(timings, 'containerd', async () => {
        const log_ = join(dir, 'containerd.log');
        const child = spawnDaemon('containerd', ['--config', join(dir, 'containerd.toml')], log_);
        started('containerd', { pid: child.pid!, log: log_ });
        await waitReady('containerd', child.pid!, log_, 60_000, async () => existsSync(socket) && ctr(socket, ['version']).status === 0).catch((err: Error) => {
          throw new ClusterPartError('containerd', err.message);
        });
        if (!clusterImages(socket).has(PAUSE_IMAGE)) {
          const archive = join(dir, 'pause.tar');
          writeImageArchive(archive, PAUSE_IMAGE, { pause: pauseBin }, ['/pause']);
          try {
            importImageArchive(socket, archive);
          } catch (err) {
            throw new ClusterPartError('pause image', (err as Error).message);
          }
          log(`containerd: imported the sandbox image ${PAUSE_IMAGE}`);
        }
        if (!clusterImages(socket).has(EXECUTOR_IMAGE)) {
          // argoexec is a static binary: the image holds it, a writable /tmp, and nothing else.
          const archive = join(dir, 'argoexec.tar');
          const { argoexec } = await ensureArgo(['argoexec'], log);
          writeImageArchive(archive, EXECUTOR_IMAGE, { 'usr/bin/argoexec': argoexec }, ['argoexec'], {
            env: ['PATH=/usr/local/bin:/usr/bin:/bin'],
            dirs: { tmp: 0o1777 },
          });
          try {
            importImageArchive(socket, archive);
          } catch (err) {
            throw new ClusterPartError('argoexec image', (err as Error).message);
          }
          rmSync(archive, { force: true });
          log(`containerd: imported the Argo executor image ${EXECUTOR_IMAGE}`);
        }
      });

      await timed(timings, 'kube-apiserver', async () => {
        const port = await freePort();
        state = { ...state, apiPort: port };
        const [etcdPort, etcdPeerPort] = [await freePort(), await freePort()];
        const log_ = join(dir, 'apiserver.log');
        const args = ['--dir', join(dir, 'apiserver'), '--port', String(port), '--etcd-port', String(etcdPort), '--etcd-peer-port', String(etcdPeerPort)];
        args.push('--bind-address', CLUSTER_NET.nodeIP, '--service-cluster-ip-range', CLUSTER_NET.serviceCIDR, '--node');
        const child = spawnDaemon(apiBin, args, log_);
        started('apiserver', { pid: child.pid!, log: log_ });
        await waitReady(
          'kube-apiserver',
          child.pid!,
          log_,
          180_000,
          async () => existsSync(state.kubeconfig) && (await apiGet(state.kubeconfig, '/readyz')).status === 200,
        ).catch((err: Error) => {
          throw new ClusterPartError('kube-apiserver', err.message);
        });
      });

      const pki = (f: string) => join(dir, 'apiserver', f);
      const kc = state.kubeconfig;
      const node = async (name: Exclude<DaemonName, 'containerd' | 'apiserver'>, args: string[]) => {
        const log_ = join(dir, `${name}.log`);
        const child = spawnDaemon(nodeBin, [name, ...args], log_);
        started(name, { pid: child.pid!, log: log_ });
        // Fail early when one exits at once (a bad flag, a port in use).
        await sleep(1500);
        if (!isAlive(child.pid!)) throw new ClusterPartError(name, `exited while starting; the end of ${log_}:\n${logTail(log_)}`);
      };
      await timed(timings, 'control plane', async () => {
        await node('controller-manager', [
          `--kubeconfig=${kc}`,
          `--service-account-private-key-file=${pki('sa.key')}`,
          `--root-ca-file=${pki('ca.crt')}`,
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          '--secure-port=0',
          '--cluster-name=ghosteam',
          '--profiling=false',
        ]);
        await node('scheduler', [`--kubeconfig=${kc}`, '--leader-elect=false', '--bind-address=127.0.0.1', '--secure-port=0', '--profiling=false']);
      });
      await timed(timings, 'node', async () => {
        const [proxyHealthz, proxyMetrics, kubeletPort, kubeletHealthz] = [await freePort(), await freePort(), await freePort(), await freePort()];
        writeFileSync(join(dir, 'proxy.yaml'), stringify(proxyConfig(kc, proxyHealthz, proxyMetrics)));
        await node('proxy', [`--config=${join(dir, 'proxy.yaml')}`]);
        writeFileSync(join(dir, 'kubelet.yaml'), stringify(kubeletConfig(dir, socket, kubeletPort, kubeletHealthz, pki('ca.crt'))));
        await node('kubelet', [
          `--config=${join(dir, 'kubelet.yaml')}`,
          `--kubeconfig=${kc}`,
          `--root-dir=${join(dir, 'kubelet')}`,
          `--cert-dir=${join(dir, 'kubelet-pki')}`,
          `--node-ip=${CLUSTER_NET.nodeIP}`,
          `--hostname-override=${NODE_NAME}`,
        ]);
      });
      await timed(timings, 'node Ready', async () => {
        const deadline = Date.now() + 180_000;
        let why = await checkCluster(state, NODE_DAEMONS);
        while (why !== undefined && Date.now() < deadline) {
          for (const name of NODE_DAEMONS) {
            const d = state.daemons[name]!;
            if (!isAlive(d.pid)) throw new ClusterPartError(name, `exited; the end of ${d.log}:\n${logTail(d.log)}`);
          }
          await sleep(500);
          why = await checkCluster(state, NODE_DAEMONS);
        }
        if (why !== undefined) throw new ClusterPartError('node', `not Ready within 180s: ${why}\n${logTail(state.daemons.kubelet!.log)}`);
        // Pods need their ServiceAccount: the controller-manager makes `default` in each namespace.
        while ((await apiGet(kc, '/api/v1/namespaces/default/serviceaccounts/default')).status !== 200) {
          if (Date.now() > deadline)
            throw new ClusterPartError(
              'kube-controller-manager',
              `made no default ServiceAccount within 180s; see ${state.daemons['controller-manager']!.log}`,
            );
          await sleep(500);
        }
      });
      await timed(timings, 'netpol', async () => {
        const d = await startNetpol(kc, dir, netpolBin, log).catch((err: Error) => {
          throw new ClusterPartError('kube-router', err.message);
        });
        started('netpol', d);
      });
      // kube-router's first firewall sync rewrites the filter table (save, change, restore); landing
      // inside kube-proxy's first sync it removed kube-proxy's chains, and that kube-proxy (v1.36)
      // never synced again: no ClusterIP answered and pods' calls to the API server left the
      // machine (one CI run, 2026-12-03). Pods reach the API server by its ClusterIP, so wait for
      // its rule, and restart kube-proxy once when it is not there.
      await timed(timings, 'service rules', async () => {
        const ip = CLUSTER_NET.apiServiceIP;
        const programmed = (): boolean => (spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout ?? '').includes(`-d ${ip}/32`);
        const waitFor = async (ms: number): Promise<boolean> => {
          const end = Date.now() + ms;
          while (!programmed() && Date.now() < end) await sleep(500);
          return programmed();
        };
        if (await waitFor(45_000)) return;
        log(`kube-proxy: no rule for the API server's ClusterIP ${ip} after 45 s (its first sync raced kube-router's); restarting it`);
        await stopPid(state.daemons.proxy!.pid);
        await node('proxy', [`--config=${join(dir, 'proxy.yaml')}`]);
        if (!(await waitFor(60_000)))
          throw new ClusterPartError(
            'kube-proxy',
            `wrote no rule for ${ip} within 60 s of a restart; the end of ${state.daemons.proxy!.log}:\n${logTail(state.daemons.proxy!.log)}`,
          );
      });
      await timed(timings, 'object store', async () => {
        const s = await startObjectStore(dir, log).catch((err: Error) => {
          throw new ClusterPartError('s3proxy', err.message);
        });
        state = { ...state, objectStore: s.store };
        started('objectstore', { pid: s.pid, log: s.log });
      });
      await timed(timings, 'kafka', async () => {
        // The peers' broker (the same jars from the cache), on the node address: pods reach it
        // there as they reach s3proxy, and it advertises that address, so a client is sent back to it.
        const k = await startKafka(log, { host: CLUSTER_NET.nodeIP, dir: join(dir, 'kafka') }).catch((err: Error) => {
          throw new ClusterPartError('kafka', err.message);
        });
        state = { ...state, kafkaBrokers: k.brokers };
        started('kafka', { pid: k.pid, log: k.log });
      });
      await timed(timings, 'argo', async () => {
        const bins = await ensureArgo(['workflow-controller'], log);
        const c = await startArgoController(kc, dir, state.objectStore!, bins, log).catch((err: Error) => {
          throw new ClusterPartError('workflow-controller', err.message);
        });
        started('argo-controller', { pid: c.pid, log: c.log });
      });
      return { state, timings };
    } catch (err) {
      log(`cluster: ${(err as Error).message.split('\n')[0]}; tearing down what was started (logs kept in ${dir})`);
      await tearDown(state, log, { keepLogs: true });
      writeClusterState(undefined);
      throw err;
    }
  });
}

/** Stop the cluster and remove its traces (mounts, pod networks, rules, temp dir); the caches stay. */
export async function clusterDown(log: Log = () => {}): Promise<void> {
  await withLock('cluster', async () => {
    const state = readClusterState();
    if (!state) {
      log('cluster: not running');
      return;
    }
    await tearDown(state, log);
    writeClusterState(undefined);
  });
}

async function tearDown(state: ClusterState, log: Log, { keepLogs = false } = {}): Promise<void> {
  const stop = async (name: DaemonName, graceMs = 10_000) => {
    const d = state.daemons[name];
    if (!d || !isAlive(d.pid)) return;
    await stopPid(d.pid, graceMs);
    log(`${name}: stopped (pid ${d.pid})`);
  };
  await stop('argo-controller');
  await stop('kafka', 20_000);
  await stop('objectstore');
  await stop('netpol');
  await stop('kubelet');
  // The pods' containers: their shims outlive containerd, so remove them through it first.
  const socket = state.containerdSocket;
  const containerd = state.daemons.containerd;
  if (containerd && isAlive(containerd.pid) && existsSync(socket)) {
    const tasks = ctr(socket, ['tasks', 'ls', '--quiet']).stdout.split('\n').filter(Boolean);
    for (const t of tasks) ctr(socket, ['tasks', 'kill', '--signal', 'SIGKILL', t]);
    for (const t of tasks) {
      for (let i = 0; i < 20 && ctr(socket, ['tasks', 'delete', t]).status !== 0; i++) await sleep(250);
    }
    const containers = ctr(socket, ['containers', 'ls', '--quiet']).stdout.split('\n').filter(Boolean);
    for (const c of containers) ctr(socket, ['containers', 'delete', c]);
    if (tasks.length > 0) log(`containerd: removed ${tasks.length} task(s), ${containers.length} container(s)`);
  }
  for (const name of ['proxy', 'scheduler', 'controller-manager', 'apiserver'] as const) await stop(name);
  await stop('containerd', 20_000);
  // kube-proxy's rules: it removes its own chains with --cleanup.
  const nodeBin = kubeModuleBinary('ghosteam-node');
  if (existsSync(nodeBin)) spawnSync(nodeBin, ['proxy', '--cleanup'], { stdio: 'ignore', timeout: 60_000 });
  // Pod network namespaces containerd made while this cluster ran, the bridge, the guard.
  const netnsDir = '/var/run/netns';
  if (existsSync(netnsDir)) {
    for (const n of readdirSync(netnsDir)) {
      const p = join(netnsDir, n);
      if (!n.startsWith('cni-') || statSync(p).mtimeMs < state.startedAt - 1000) continue;
      sh('umount', ['-l', p]);
      rmSync(p, { force: true });
    }
  }
  sh('ip', ['link', 'delete', CLUSTER_NET.bridge]);
  tearDownGuard();
  // kube-router's chains and ipsets (stopped above; it leaves them behind).
  removeNetpolRules();
  sh('ip', ['addr', 'del', `${CLUSTER_NET.nodeIP}/32`, 'dev', 'lo']);
  // Whatever is still mounted under the temp dir (pod volumes, sandbox /dev/shm), deepest first.
  for (const m of mountsUnder(state.dir)) sh('umount', ['-l', m]);
  if (keepLogs) {
    for (const sub of ['kubelet', 'containerd-state', 'containerd-opt', 'apiserver']) rmSync(join(state.dir, sub), { recursive: true, force: true });
  } else if (state.dir.startsWith(tmpdir())) {
    rmSync(state.dir, { recursive: true, force: true });
  }
}

/** Mount points below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((m): m is string => !!m && m.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
}

/** The shell-sourceable lines `cluster:up` prints. */
export function clusterEnvLines(state: ClusterState, extra: Record<string, string> = {}): string[] {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const s3 = state.objectStore;
  return [
    `KUBECONFIG=${q(state.kubeconfig)}`,
    `GHOSTEAM_CLUSTER_KUBECONFIG=${q(state.kubeconfig)}`,
    ...(s3
      ? [`S3_ENDPOINT=${q(s3.endpoint)}`, `AWS_ACCESS_KEY_ID=${q(s3.accessKey)}`, `AWS_SECRET_ACCESS_KEY=${q(s3.secretKey)}`, `AWS_REGION=${q(s3.region)}`]
      : []),
    `ARGO_NAMESPACE=${ARGO_NAMESPACE}`,
    ...(state.kafkaBrokers ? [`CLUSTER_KAFKA_BROKERS=${q(state.kafkaBrokers)}`] : []),
    ...Object.entries(extra).map(([k, v]) => `${k}=${q(v)}`),
  ];
}

/**
 * What to read when the cluster suite fails (`npm run cluster:logs`, printed by `.ci/run`): the
 * cluster's health, every pod that is not running or done well with its containers' states, the
 * recent Warning events, the end of each daemon's log and the NetworkPolicy enforcer's log.
 */
export async function clusterDiagnostics(state: ClusterState | undefined = readClusterState(), lines = 30): Promise<string> {
  if (!state) return 'cluster: not running (no state file)';
  const out: string[] = [`cluster: ${(await checkCluster(state)) ?? 'healthy'} (state ${clusterStateFile}, dir ${state.dir})`];
  const kube = rawKube(state.kubeconfig);
  interface Pod {
    metadata: { namespace: string; name: string };
    status?: {
      phase?: string;
      reason?: string;
      message?: string;
      containerStatuses?: { name: string; ready?: boolean; restartCount?: number; state?: object }[];
    };
  }
  const pods = await kube.request<{ items: Pod[] }>('GET', '/api/v1/pods').catch((e: Error) => e);
  if (pods instanceof Error) out.push(`pods: cannot list (${pods.message})`);
  else {
    const bad = pods.items.filter(
      (p) => p.status?.phase !== 'Succeeded' && !(p.status?.phase === 'Running' && p.status.containerStatuses?.every((c) => c.ready)),
    );
    out.push(`pods: ${pods.items.length}, not running or done: ${bad.length}`);
    for (const p of bad)
      out.push(
        `  ${p.metadata.namespace}/${p.metadata.name} ${p.status?.phase ?? '?'} ${p.status?.reason ?? ''} ${JSON.stringify(
          p.status?.containerStatuses?.map((c) => ({ name: c.name, restarts: c.restartCount, state: c.state })) ?? [],
        )}`,
      );
  }
  const events = await kube
    .request<{ items: { involvedObject: { namespace?: string; name: string; kind: string }; reason: string; message: string; lastTimestamp?: string }[] }>(
      'GET',
      '/api/v1/events?fieldSelector=type=Warning',
    )
    .catch(() => ({ items: [] }));
  // MissingClusterDNS is expected here (pods resolve no names); the others are what went wrong.
  const warnings = events.items.filter((e) => e.reason !== 'MissingClusterDNS').sort((a, b) => (a.lastTimestamp ?? '').localeCompare(b.lastTimestamp ?? ''));
  out.push(`Warning events (the last 20 of ${warnings.length}, MissingClusterDNS left out):`);
  for (const e of warnings.slice(-20))
    out.push(`  ${e.lastTimestamp ?? ''} ${e.involvedObject.kind} ${e.involvedObject.namespace ?? ''}/${e.involvedObject.name}: ${e.reason}: ${e.message}`);
  for (const name of DAEMONS) {
    const d = state.daemons[name];
    if (!d) continue;
    out.push(`--- ${name} (pid ${d.pid}, ${isAlive(d.pid) ? 'running' : 'exited'}): the end of ${d.log}`, logTail(d.log, lines));
  }
  return out.join('\n');
}

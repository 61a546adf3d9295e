// The test cluster's NetworkPolicy enforcer: kube-router's network-policy controller (its
// firewall only: `--run-firewall --run-router=false --run-service-proxy=false`), built from the Go
// module proxy (test/peers/netpol pins github.com/cloudnativelabs/kube-router/v2) and run on the
// node beside kube-proxy, with the admin kubeconfig like the Argo controller. For each pod a
// NetworkPolicy selects it writes iptables chains (KUBE-POD-FW-*, KUBE-NWPLCY-*) and ipsets of the
// allowed peers, and rejects what no policy allows; packets between pods on the bridge pass the
// FORWARD hook with br_netfilter on (bridge-nf-call-iptables=1), which kube-router matches with
// `-m physdev --physdev-is-bridged`. The bridge CNI enforces nothing by itself. A test peer, never
// part of the product.
//
// Why kube-router, and this version: the module proxy serves it only at v2.1.0 (March 2024).
// kube-network-policies (sigs.k8s.io, v0.8.0) was tried first: it judges packets through an
// nftables `queue` expression, which this VM's kernel lacks (CONFIG_NFT_QUEUE is not set: every
// rule write failed with "netlink receive: no such file or directory"); kube-router needs only
// iptables with ipset, conntrack, physdev and comment matches, which the kernel has.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, peersDir, shortHash, versions } from '../config.ts';
import { freePort, logTail, spawnDaemon, waitReady } from '../daemons.ts';
import { run, which, withLock, type Log } from '../install.ts';
import { probe } from '../state.ts';
import { CLUSTER_NET, NODE_NAME } from './config.ts';

export const netpolModuleDir = join(peersDir, 'netpol');
export const NETPOL_MODULE = 'github.com/cloudnativelabs/kube-router/v2';

/** Where the built binary lands in the cache, keyed by the module's go.mod and go.sum. */
export function netpolBinary(): string {
  const v = versions.kubeRouter;
  const goMod = readFileSync(join(netpolModuleDir, 'go.mod'), 'utf8');
  if (!goMod.includes(`${NETPOL_MODULE} ${v}`))
    throw new Error(`test/peers/netpol/go.mod does not require ${NETPOL_MODULE} ${v} (test/peers/versions.json kubeRouter); make them agree`);
  const inputs = ['go.mod', 'go.sum'].map((f) => readFileSync(join(netpolModuleDir, f), 'utf8'));
  return join(cacheDir, 'bin', `kube-router-${v}-${shortHash(...inputs)}`);
}

/** Build kube-router into the cache once (a static binary, CGO off, as its release builds it). */
export async function ensureNetpol(log: Log): Promise<string> {
  const bin = netpolBinary();
  if (existsSync(bin)) return bin;
  return withLock('netpol', async () => {
    if (existsSync(bin)) return bin;
    if (!which('go')) throw new Error('the Go toolchain is not on PATH; install Go >= 1.26 (only the test peers need it)');
    mkdirSync(join(cacheDir, 'bin'), { recursive: true });
    const tmp = `${bin}.tmp-${process.pid}`;
    log(`netpol: building kube-router ${versions.kubeRouter} from the Go module (first time only; about 3 CPU-min)`);
    const t0 = Date.now();
    // go.mod names it as a `tool`, so the build list (and go.sum) pin every dependency.
    await run('nice', ['-n', '10', 'go', 'build', '-trimpath', '-ldflags=-s -w', '-o', tmp, `${NETPOL_MODULE}/cmd/kube-router`], {
      cwd: netpolModuleDir,
      env: { ...process.env, CGO_ENABLED: '0' },
      log,
    });
    renameSync(tmp, bin);
    log(`netpol: built in ${Math.round((Date.now() - t0) / 1000)}s`);
    return bin;
  });
}

/** kube-router's arguments: the firewall only, on this node, health on a port of our choosing. */
export function netpolArgs(kubeconfig: string, healthPort: number): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--hostname-override=${NODE_NAME}`,
    '--run-firewall=true',
    '--run-router=false',
    '--run-service-proxy=false',
    '--run-loadbalancer=false',
    `--service-cluster-ip-range=${CLUSTER_NET.serviceCIDR}`,
    `--health-port=${healthPort}`,
    '--metrics-port=0',
    '--iptables-sync-period=1m',
    '--v=1',
  ];
}

/** Start kube-router's firewall on the node (the node must be registered: it reads its InternalIP). */
export async function startNetpol(kubeconfig: string, dir: string, bin: string, log: Log): Promise<{ pid: number; log: string }> {
  const logFile = join(dir, 'kube-router.log');
  const healthPort = await freePort();
  const child = spawnDaemon(bin, netpolArgs(kubeconfig, healthPort), logFile);
  await waitReady(
    'kube-router',
    child.pid!,
    logFile,
    120_000,
    async () => (await probe(`http://127.0.0.1:${healthPort}/healthz`)).status === 200 && netpolChains().length > 0,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${logTail(logFile)}`);
  });
  log(`netpol: kube-router ${versions.kubeRouter} enforces NetworkPolicies on the node (firewall only)`);
  return { pid: child.pid!, log: logFile };
}

function sh(cmd: string, args: readonly string[]): { status: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim() };
}

const CHAIN = /^(KUBE-ROUTER-|KUBE-POD-FW-|KUBE-NWPLCY-)/;

/** kube-router's chains in the filter table. */
export function netpolChains(): string[] {
  return sh('iptables', ['-w', '-S'])
    .out.split('\n')
    .filter((l) => l.startsWith('-N '))
    .map((l) => l.slice(3).trim())
    .filter((c) => CHAIN.test(c));
}

/** What kube-router has written (its chains and ipsets), for a test to read and a failure to print. */
export function netpolRules(): string {
  const rules = sh('iptables', ['-w', '-S'])
    .out.split('\n')
    .filter((l) => /KUBE-ROUTER-|KUBE-POD-FW-|KUBE-NWPLCY-|KUBE-SRC-|KUBE-DST-/.test(l));
  const sets = sh('ipset', ['list']).out;
  return `${rules.join('\n')}\n${sets}`;
}

/**
 * Remove what kube-router wrote once it is stopped: the jumps into its chains, its chains, its
 * ipsets. (Its own `--cleanup-config` also tears down the router's and the service proxy's state,
 * which never ran here.)
 */
export function removeNetpolRules(): void {
  for (const hook of ['INPUT', 'FORWARD', 'OUTPUT']) {
    const lines = sh('iptables', ['-w', '-L', hook, '--line-numbers', '-n']).out.split('\n');
    const nums = lines
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => /^\d+$/.test(f[0]) && CHAIN.test(f[1] ?? ''))
      .map((f) => Number(f[0]))
      .sort((a, b) => b - a);
    for (const n of nums) sh('iptables', ['-w', '-D', hook, String(n)]);
  }
  const chains = netpolChains();
  for (const c of chains) sh('iptables', ['-w', '-F', c]);
  for (const c of chains) sh('iptables', ['-w', '-X', c]);
  if (which('ipset')) {
    for (const s of sh('ipset', ['list', '-n']).out.split('\n')) {
      if (/^(KUBE-|kube-router-)/.test(s.trim())) sh('ipset', ['destroy', s.trim()]);
    }
  }
}

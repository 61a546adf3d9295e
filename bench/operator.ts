/**
 * Operator benchmark (`npm run bench:operator`), against the real kube-apiserver + etcd of the
 * peers harness. The operator runs as its own process (`ghosteam operator`), as in production.
 *  1. 1,000 Model resources are created; time until every one is Ready (InferenceService created
 *     by the operator, KServe's readiness played by this script, Model status written).
 *     Baseline, same run: this script doing the same API writes itself (create 1,000
 *     InferenceServices + write 1,000 statuses) without an operator.
 *  2. Spec change → InferenceService update latency, p50/p99, over 200 changes.
 *  3. The operator's peak RSS (VmHWM).
 * Goals: all Ready < 30 s, p99 < 500 ms, RSS < 250 MB. Ends with one JSON line.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { usePeers, uniqueName } from '../test/peers/index.ts';
import { KubeStore, loadKubeConfig } from '../controllers/runtime/kube-store.ts';
import { TYPES } from '../controllers/runtime/store.ts';
import { LocalRegistry } from '../components/registry/local.ts';
import type { K8sObject } from '../api/objects.ts';

const N = Number(process.env.BENCH_MODELS ?? 1000);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 200);
const peers = await usePeers(['kube']);
if (peers.skip) {
  console.error(`bench:operator needs the kube peer: ${peers.skip}`);
  process.exit(2);
}
const store = new KubeStore(loadKubeConfig(peers.kubeconfig));
const ns = uniqueName('bench-op');
const nsBase = `${ns}-base`;
for (const n of [ns, nsBase]) await store.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } });
const dir = mkdtempSync(join(tmpdir(), 'bench-op-'));
const registry = new LocalRegistry({ dir: join(dir, 'registry') });
writeFileSync(join(dir, 'm.onnx'), 'model');
await registry.registerVersion('bench', { artifactPath: join(dir, 'm.onnx'), lineage: { reason: 'manual' } });

const model = (i: number, maxReplicas = 2): K8sObject => ({
  apiVersion: 'ghosteam.io/v1alpha1',
  kind: 'Model',
  metadata: { name: `m-${i}`, namespace: ns },
  spec: {
    modelRef: { name: 'bench', version: 1 },
    format: 'onnx',
    inferenceService: `m-${i}`,
    runtime: 'ghosteam-onnx',
    resources: { cpu: '100m', memory: '256Mi' },
    autoscaling: { minReplicas: 1, maxReplicas, targetConcurrency: 8 },
    rollout: { strategy: 'canary', steps: [10, 50, 100], intervalSeconds: 60, thresholds: { maxErrorRate: 0.05 } },
    payloadLogging: { enabled: false, mode: 'all' },
  },
});

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const readyStatus = (gen: number) => ({ observedGeneration: gen, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now() }] });

// Baseline: the same writes without an operator.
const b0 = performance.now();
await pool([...Array(N).keys()], 32, async (i) => {
  const isvc = await store.create(TYPES.InferenceService, {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name: `m-${i}`, namespace: nsBase },
    spec: { predictor: { model: { modelFormat: { name: 'onnx' }, storageUri: 'x' } } },
  });
  await store.replaceStatus(TYPES.InferenceService, { ...isvc, status: readyStatus(1) });
});
const baselineS = (performance.now() - b0) / 1000;
console.log(`baseline: ${N} InferenceService creates + status writes by one client: ${baselineS.toFixed(2)} s`);

// Play KServe: mark each InferenceService Ready for its current generation, off a watch.
const isvcSeen = new Map<string, number>(); // name -> time of last spec change observed
let kserveStop = false;
const pending = new Set<string>();
const kq: K8sObject[] = [];
const kserve = async () => {
  while (!kserveStop) {
    const o = kq.shift();
    if (!o) {
      await new Promise((r) => setTimeout(r, 5));
      continue;
    }
    const gen = o.metadata.generation ?? 1;
    await store.replaceStatus(TYPES.InferenceService, { ...o, status: { ...(o.status as object), ...readyStatus(gen) } }).catch(() => undefined);
    pending.delete(o.metadata.name);
  }
};
const list0 = await store.list(TYPES.InferenceService, ns);
const watcher = await store.watch(
  TYPES.InferenceService,
  ns,
  list0.resourceVersion,
  (e) => {
    if (e.type === 'DELETED' || e.type === 'BOOKMARK') return;
    const o = e.object;
    isvcSeen.set(o.metadata.name, performance.now());
    const st = o.status as { observedGeneration?: number } | undefined;
    if (st?.observedGeneration !== o.metadata.generation && !pending.has(o.metadata.name)) {
      pending.add(o.metadata.name);
      kq.push(o);
    }
  },
  () => {},
);
const kserveWorkers = Array.from({ length: 16 }, kserve);

// The operator, as its own process.
const child = spawn(
  process.execPath,
  [
    'bin/ghosteam.mjs',
    'operator',
    '--kubeconfig',
    peers.kubeconfig,
    '--registry-dir',
    join(dir, 'registry'),
    '-n',
    ns,
    '--workers',
    '16',
    '--health-port',
    '0',
    '--log-level',
    'warn',
  ],
  { stdio: ['ignore', 'inherit', 'inherit'] },
);
let peakRss = 0;
const rssTimer = setInterval(() => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    if (m) peakRss = Math.max(peakRss, Number(m[1]) * 1024);
  } catch {
    /* exited */
  }
}, 200);
await new Promise((r) => setTimeout(r, 1500)); // let it start and sync (empty namespace)

// 1. 1,000 Models → all Ready.
const t0 = performance.now();
await pool([...Array(N).keys()], 32, (i) => store.create(TYPES.Model, model(i)));
const createdS = (performance.now() - t0) / 1000;
let readyS = Number.NaN;
{
  // Track readiness off a watch (a full list every poll would load the API server we measure).
  const ready = new Set<string>();
  const isReady = (m: K8sObject) =>
    ((m.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? []).some(
      (c) => c.type === 'Ready' && c.status === 'True',
    );
  const l = await store.list(TYPES.Model, ns);
  for (const m of l.items) if (isReady(m)) ready.add(m.metadata.name);
  const w = await store.watch(
    TYPES.Model,
    ns,
    l.resourceVersion,
    (e) => {
      if (e.type !== 'BOOKMARK' && isReady(e.object)) ready.add(e.object.metadata.name);
    },
    () => {},
  );
  while (ready.size < N && performance.now() - t0 < 180_000) await new Promise((r) => setTimeout(r, 50));
  if (ready.size === N) readyS = (performance.now() - t0) / 1000;
  else console.log(`only ${ready.size} of ${N} Ready after 180 s`);
  w.stop();
}
console.log(`${N} Models created in ${createdS.toFixed(2)} s; all Ready after ${readyS.toFixed(2)} s (${(readyS / baselineS).toFixed(2)}× the baseline)`);

// 2. Spec change → InferenceService update latency.
const lat: number[] = [];
await pool([...Array(CHANGES).keys()], 4, async (i) => {
  const cur = (await store.get(TYPES.Model, ns, `m-${i}`))!;
  const before = isvcSeen.get(`m-${i}`) ?? 0;
  const s = performance.now();
  await store.replace(TYPES.Model, { ...cur, spec: model(i, 3 + (i % 5)).spec });
  for (;;) {
    const seen = isvcSeen.get(`m-${i}`) ?? 0;
    if (seen > before && seen >= s) {
      lat.push(seen - s);
      break;
    }
    if (performance.now() - s > 10_000) {
      lat.push(10_000);
      break;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
});
lat.sort((a, b) => a - b);
const q = (p: number) => lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)];
const p50 = q(0.5);
const p99 = q(0.99);
console.log(`spec change → InferenceService update: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms over ${lat.length} changes`);

clearInterval(rssTimer);
// The operator's CPU time over the whole run (utime + stime, clock ticks of 10 ms): on a shared
// machine the API server and the operator compete for the same cores.
let operatorCpuS = Number.NaN;
try {
  const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  operatorCpuS = (Number(f[11]) + Number(f[12])) / 100;
} catch {
  /* not Linux */
}
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
kserveStop = true;
watcher.stop();
await Promise.all(kserveWorkers);
console.log(`operator peak RSS ${(peakRss / 2 ** 20).toFixed(1)} MB; operator CPU ${operatorCpuS.toFixed(1)} s`);
for (const n of [ns, nsBase]) await store.request('DELETE', `/api/v1/namespaces/${n}`).catch(() => undefined);
rmSync(dir, { recursive: true, force: true });
const goals = { readyUnder30s: readyS < 30, p99Under500ms: p99 < 500, rssUnder250MB: peakRss < 250 * 2 ** 20 };
console.log(
  JSON.stringify({
    bench: 'operator',
    models: N,
    createSeconds: +createdS.toFixed(3),
    allReadySeconds: +readyS.toFixed(3),
    baselineSeconds: +baselineS.toFixed(3),
    readyVsBaseline: +(readyS / baselineS).toFixed(3),
    specChangeP50Ms: +p50.toFixed(1),
    specChangeP99Ms: +p99.toFixed(1),
    changes: lat.length,
    peakRssMB: +(peakRss / 2 ** 20).toFixed(1),
    operatorCpuSeconds: operatorCpuS,
    goals,
  }),
);
process.exit(0);

/**
 * bench:ui — `ghosteam ui` with many models: the operator's LocalStore holding N `Model`s (each with
 * a rollout status, every tenth mid-canary) and a LocalRegistry with two versions of each model,
 * for N = 1,000 (the figure) and N = 100 (the same-run baseline). Per N: the server's start
 * (it reads the store and the registry before serving), the first page (`GET /`) after start, a page
 * asked for right after a status write (it waits for the re-read: the worst case), and warm
 * (p50/p99 over 200 requests, the snapshot cached as the server caches it between changes), next
 * to the same server's `/healthz` (the HTTP floor). Also the page's weight: the HTML and the two
 * scripts it can load (no framework, no bundle). Ends with one JSON line.
 *
 *   npm run bench:ui            (BENCH_MODELS=N to change the large N)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRegistry } from '../components/registry/local.ts';
import { LocalStore } from '../controllers/runtime/local-store.ts';
import { TYPES } from '../controllers/runtime/store.ts';
import { startUi } from '../ui/server.ts';
import { ACTIONS_JS, LIVE_JS } from '../ui/html.ts';

const LARGE = Number(process.env.BENCH_MODELS ?? 1000);
const SMALL = 100;
const WARM = 200;

const log = (s: string) => process.stdout.write(`${s}\n`);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const ms = (x: number) => `${x.toFixed(2)} ms`;

async function fill(dir: string, n: number): Promise<{ stateDir: string; registry: LocalRegistry; store: LocalStore }> {
  const stateDir = join(dir, 'state');
  const registry = new LocalRegistry({ dir: join(dir, 'registry') });
  const store = await LocalStore.open({ stateDir });
  const model = join(dir, 'model.onnx');
  for (let i = 0; i < n; i++) {
    const name = `model-${String(i).padStart(4, '0')}`;
    for (const v of [1, 2]) {
      await writeFile(model, `model ${name} v${v}`);
      await registry.registerVersion(name, { artifactPath: model, format: 'onnx', metrics: { rocAuc: 0.8 + v / 100 }, params: {} });
    }
    const created = await store.create(TYPES.Model, {
      apiVersion: 'ghosteam.io/v1alpha1',
      kind: 'Model',
      metadata: { name, namespace: `team-${i % 10}` },
      spec: { modelRef: { name } },
    });
    const canary = i % 10 === 0;
    await store.replaceStatus(TYPES.Model, {
      ...created,
      status: canary
        ? {
            phase: 'Progressing',
            stableVersion: 1,
            canaryVersion: 2,
            stepIndex: 1,
            trafficPercent: 25,
            rollout: { phase: 'Progressing', reason: 'StepPassed', message: 'canary v2 at 25%' },
          }
        : { phase: 'Ready', stableVersion: 2, rollout: { phase: 'Promoted', reason: 'Promoted', message: 'v2 promoted' } },
    });
  }
  return { stateDir, registry, store };
}

async function timeGet(url: string): Promise<{ ms: number; bytes: number; status: number }> {
  const t = performance.now();
  const r = await fetch(url);
  const body = await r.arrayBuffer();
  return { ms: performance.now() - t, bytes: body.byteLength, status: r.status };
}

async function measure(n: number) {
  const dir = await mkdtemp(join(tmpdir(), `ghosteam-bench-ui-${n}-`));
  try {
    const t0 = performance.now();
    const { stateDir, registry, store } = await fill(dir, n);
    const fillS = (performance.now() - t0) / 1000;
    const s0 = performance.now();
    const ui = await startUi({ stateDir, registry, watchDirs: [stateDir], maxAgeMs: 60_000 });
    const startMs = performance.now() - s0;
    try {
      const cold = await timeGet(`${ui.url}/`);
      if (cold.status !== 200) throw new Error(`GET / answered ${cold.status}`);
      const page: number[] = [];
      const floor: number[] = [];
      for (let i = 0; i < WARM; i++) {
        page.push((await timeGet(`${ui.url}/`)).ms);
        floor.push((await timeGet(`${ui.url}/healthz`)).ms);
      }
      const api = await timeGet(`${ui.url}/api/models`);
      // The worst case: the page asked for right after the operator wrote a status, so it waits for the re-read.
      const afterChange: number[] = [];
      for (let i = 0; i < 5; i++) {
        const cur = (await store.get(TYPES.Model, 'team-1', 'model-0001'))!;
        await store.replaceStatus(TYPES.Model, { ...cur, status: { ...(cur.status ?? {}), message: `change ${i}` } });
        await new Promise((r) => setTimeout(r, 20));
        afterChange.push((await timeGet(`${ui.url}/`)).ms);
        await new Promise((r) => setTimeout(r, 300));
      }
      return {
        n,
        fillS,
        startMs,
        changeP50: pct(afterChange, 50),
        changeMax: Math.max(...afterChange),
        coldMs: cold.ms,
        pageBytes: cold.bytes,
        p50: pct(page, 50),
        p99: pct(page, 99),
        floorP50: pct(floor, 50),
        floorP99: pct(floor, 99),
        apiMs: api.ms,
        apiBytes: api.bytes,
      };
    } finally {
      await ui.close();
      store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const small = await measure(SMALL);
const large = await measure(LARGE);
for (const r of [small, large]) {
  log(`${r.n} models (state and registry filled in ${r.fillS.toFixed(1)} s):`);
  log(`  ghosteam ui start (reads the store and the registry before serving): ${ms(r.startMs)}`);
  log(`  first page after start: ${ms(r.coldMs)}, ${(r.pageBytes / 1024).toFixed(0)} KiB of HTML`);
  log(`  page asked for 20 ms after a status write (waits for the re-read): p50 ${ms(r.changeP50)}, max ${ms(r.changeMax)}`);
  log(`  first page, warm: p50 ${ms(r.p50)}, p99 ${ms(r.p99)} (HTTP floor /healthz: p50 ${ms(r.floorP50)}, p99 ${ms(r.floorP99)})`);
  log(`  GET /api/models: ${ms(r.apiMs)}, ${(r.apiBytes / 1024).toFixed(0)} KiB`);
}
const scriptBytes = Buffer.byteLength(LIVE_JS) + Buffer.byteLength(ACTIONS_JS);
log(
  `scripts the pages load: live.js ${Buffer.byteLength(LIVE_JS)} B + actions.js ${Buffer.byteLength(ACTIONS_JS)} B = ${scriptBytes} B (no framework, no CDN)`,
);
log(`growth ${SMALL} → ${LARGE} models: cold ×${(large.coldMs / small.coldMs).toFixed(2)}, warm p50 ×${(large.p50 / small.p50).toFixed(2)}`);
const goal = large.coldMs < 200 && large.p99 < 200;
log(`goal: first page under 200 ms with ${LARGE} models (cold and warm p99): ${goal ? 'met' : 'NOT met'}`);
process.stdout.write(
  `${JSON.stringify({
    models: LARGE,
    startMs: +large.startMs.toFixed(2),
    firstPageColdMs: +large.coldMs.toFixed(2),
    afterChangeP50Ms: +large.changeP50.toFixed(2),
    firstPageP50Ms: +large.p50.toFixed(2),
    firstPageP99Ms: +large.p99.toFixed(2),
    httpFloorP50Ms: +large.floorP50.toFixed(2),
    baselineModels: SMALL,
    baselineColdMs: +small.coldMs.toFixed(2),
    baselineP50Ms: +small.p50.toFixed(2),
    pageKiB: +(large.pageBytes / 1024).toFixed(1),
    scriptBytes,
    goalFirstPageUnder200Ms: goal,
  })}\n`,
);

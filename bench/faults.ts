/**
 * bench:faults — a fixed run of load plus faults, on loopback (issue #25: nothing lost, nothing
 * amplified). Every server is a real `ghosteam` child process; figures are counted, not assumed.
 *
 *   1. Model server (`ghosteam serve`, --max-inflight 64): normal requests at a fixed rate
 *      (bench/open-loop.ts, its own process) alone (the baseline), then again while 200 slow
 *      clients dribble request bodies (test/model-server/slow-clients.ts, reconnecting when the
 *      server closes one). Then amplification attempts: an output named 2,000 times, a shape
 *      claiming 10^9 rows, an answer over the response cap, bodies over the body limit — all must
 *      be 4xx, none 5xx. Peak RSS is the server's VmHWM after the baseline and at the end.
 *   2. Payload sink (`ghosteam payload-sink`): 8 clients post CloudEvent batches and KServe
 *      request/response pairs; a fault-free window is the baseline; then the sink is killed with
 *      SIGKILL three times under load and restarted on the same port. Clients retry what was not
 *      answered 2xx. At the end every acknowledged id must be in the log, whole.
 *   3. A full disk: the sink on a 1 MiB tmpfs (a private mount namespace, unshare(1)); 503s while
 *      full, every 200 on disk, and it takes events again when space returns. Reported as null
 *      when this machine cannot make a mount namespace.
 *   4. The engine (`ghosteam run`, test/engine/fixtures/register-app.ts): SIGKILL the moment the
 *      registry commits the version, and SIGKILL in the middle of a 64 MiB artifact write; then
 *      `ghosteam run --resume`: registrations per run (goal 1), torn artifacts in the store (goal 0).
 *
 * BENCH_RATE (normal req/s, default 300), BENCH_DURATION (seconds per window, default 5).
 * Prints figures and ratios against the same run's baselines and ends with one JSON line.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { denseNetToOnnx } from '../components/onnx/index.ts';
import { randomDenseNet, seededRandom } from '../components/onnx/random.ts';
import { SERVER_DEFAULTS } from '../components/model-server/index.ts';
import { RunStore } from '../pipelines/local/store.ts';
import { LocalRegistry } from '../components/registry/local.ts';
import { startSlowClients } from '../test/model-server/slow-clients.ts';
import { freePort, type OpenLoopResult } from './open-loop.ts';

const bin = fileURLToPath(new URL('../bin/ghosteam.mjs', import.meta.url));
const openLoopScript = fileURLToPath(new URL('./open-loop.ts', import.meta.url));
const registerApp = fileURLToPath(new URL('../test/engine/fixtures/register-app.ts', import.meta.url));
const RATE = Number(process.env.BENCH_RATE ?? 300);
const SECONDS = Number(process.env.BENCH_DURATION ?? 5);
const SLOW_CLIENTS = 200;
const MAX_INFLIGHT = 64;

const root = mkdtempSync(join(tmpdir(), 'ghosteam-bench-faults-'));
const children = new Set<ChildProcess>();
const say = (s: string) => process.stdout.write(s + '\n');
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Peak resident set of a live process (VmHWM), in MB. */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Starts a `ghosteam` command and waits for the stdout line matching `ready`. */
async function startCli(args: string[], ready: RegExp, wrap: string[] = []): Promise<{ proc: ChildProcess; stderr: () => string }> {
  const cmd = [...wrap, process.execPath, bin, ...args];
  const proc = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  let out = '';
  let err = '';
  proc.stderr.on('data', (c) => (err += c));
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (c) => {
      out += c;
      if (ready.test(out)) resolve();
    });
    proc.once('exit', (code, sig) => reject(new Error(`ghosteam ${args[0]} exited (${code ?? sig}) before it was ready: ${out}${err}`)));
  });
  return { proc, stderr: () => err };
}

const exited = (p: ChildProcess, sig?: NodeJS.Signals) =>
  new Promise<void>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    if (sig) p.kill(sig);
  });

/** One open-loop window from its own process. */
async function openLoop(url: string, body: string): Promise<OpenLoopResult> {
  const gen = spawn(
    process.execPath,
    ['--import', 'tsx', openLoopScript, JSON.stringify({ url, body, rate: RATE, connections: 32, seconds: SECONDS, warmupSeconds: 1 })],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.add(gen);
  let out = '';
  gen.stdout.on('data', (c) => (out += c));
  await exited(gen);
  children.delete(gen);
  return JSON.parse(out.trim().split('\n').pop()!) as OpenLoopResult;
}

// ---------------------------------------------------------------- 1. model server
async function modelServer() {
  const dir = join(root, 'serve');
  mkdirSync(dir);
  const model = join(dir, 'fraud.onnx');
  writeFileSync(model, denseNetToOnnx(randomDenseNet([16, 64, 64, 1], 7), { modelName: 'fraud' }));
  const port = await freePort();
  const server = await startCli(['serve', '--model', `fraud=${model}`, '--port', String(port), '--max-inflight', String(MAX_INFLIGHT)], /listening on /);
  const url = `http://127.0.0.1:${port}/v2/models/fraud/infer`;
  const r = seededRandom(3);
  const row = () => Array.from({ length: 16 }, () => Math.fround(r() * 10));
  const body = JSON.stringify({ inputs: [{ name: 'input', shape: [1, 16], datatype: 'FP32', data: row() }] });

  say(`model server: ${RATE} normal requests/s for ${SECONDS} s, --max-inflight ${MAX_INFLIGHT}`);
  const base = await openLoop(url, body);
  const baseRss = peakRssMb(server.proc.pid!);
  say(
    `  baseline:                 p99 ${round(base.latencyMs.p99, 2)} ms, p50 ${round(base.latencyMs.p50, 2)} ms, ${base.requests} answered, ${base.non2xx} non-2xx, ${base.errors} errors`,
  );

  const slow = await startSlowClients({ url, connections: SLOW_CLIENTS, bodyBytes: 4000, bytePeriodMs: 50, reconnect: true });
  await delay(500);
  const under = await openLoop(url, body);
  const slowOpen = slow.open();
  const slowClosed = slow.closedByServer();
  slow.stop();
  const ratio = under.latencyMs.p99 / base.latencyMs.p99;
  say(
    `  with ${SLOW_CLIENTS} slow clients:    p99 ${round(under.latencyMs.p99, 2)} ms (${round(ratio, 2)}x the baseline), ${under.requests} answered, ${under.non2xx} non-2xx, ${under.errors} errors; ${slowOpen} slow connections open at the end, ${slowClosed} closed by the server's deadlines`,
  );

  // Amplification and oversize attempts, 20 of each at once.
  const dupOutputs = JSON.stringify({
    inputs: [{ name: 'input', shape: [1, 16], datatype: 'FP32', data: row() }],
    outputs: Array.from({ length: 2000 }, () => ({ name: 'probability' })),
  });
  const hugeShape = JSON.stringify({ inputs: [{ name: 'input', shape: [1_000_000_000, 16], datatype: 'FP32', data: row() }] });
  const bigBatch = (n: number) =>
    JSON.stringify({ inputs: [{ name: 'input', shape: [n, 16], datatype: 'FP32', data: Array.from({ length: n * 16 }, () => 1.5) }] });
  const overBody = Buffer.alloc(SERVER_DEFAULTS.maxBodyBytes + 1024, 0x20);
  const attempts: Array<[string, string | Buffer, Record<string, string>]> = [
    ['output named 2,000 times', dupOutputs, {}],
    ['shape of 10^9 rows', hugeShape, {}],
    ['binary answer asked for 2,000 times', dupOutputs.replace(/"name":"probability"/g, '"name":"probability","parameters":{"binary_data":true}'), {}],
    ['body over the limit', overBody, {}],
  ];
  const statuses: Record<string, Record<number, number>> = {};
  let answered = 0;
  let serverErrors = 0;
  let resets = 0;
  for (const [what, b, h] of attempts) {
    const got = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...h }, body: b }).then(
          async (res) => {
            await res.arrayBuffer();
            return res.status;
          },
          () => 0,
        ),
      ),
    );
    statuses[what] = {};
    for (const s of got) {
      statuses[what][s] = (statuses[what][s] ?? 0) + 1;
      if (s === 0) resets++;
      else answered++;
      if (s >= 500) serverErrors++;
    }
  }
  // An answer over the response cap: a second server with a small cap, so the batch fits the body limit.
  say(
    `  amplification attempts (20 each): ${Object.entries(statuses)
      .map(([k, v]) => `${k} → ${JSON.stringify(v)}`)
      .join('; ')}`,
  );
  const capPort = await freePort();
  const capped = await startCli(['serve', '--model', `fraud=${model}`, '--port', String(capPort), '--max-response-bytes', '65536'], /listening on /);
  const capRes = await fetch(`http://127.0.0.1:${capPort}/v2/models/fraud/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: bigBatch(20_000),
  });
  const capText = await capRes.text();
  answered++;
  if (capRes.status >= 500) serverErrors++;
  say(`  answer over a 64 KiB response cap (20,000 rows): ${capRes.status} ${capText.slice(0, 120)}`);
  await exited(capped.proc, 'SIGTERM');
  const peak = peakRssMb(server.proc.pid!);
  say(`  server peak RSS: ${round(peak)} MB at the end, ${round(baseRss)} MB after the baseline (${round(peak / baseRss, 2)}x)`);
  await exited(server.proc, 'SIGTERM');
  return {
    base,
    under,
    ratio,
    baseRss,
    peak,
    answered: base.requests + under.requests + answered,
    serverErrors: serverErrors + base.errors + under.errors,
    normalRefused: under.non2xx,
    resets,
    capStatus: capRes.status,
    amplification: statuses,
  };
}

// ---------------------------------------------------------------- 2. payload sink, kill -9
interface SinkAudit {
  ids: Set<string>;
  lines: number;
  bad: number;
  torn: number;
}

/** Every payloads.jsonl* in `dir` (rotated ones too): ids of whole lines, unreadable lines, a torn tail. */
function auditLog(dir: string): SinkAudit {
  const out: SinkAudit = { ids: new Set(), lines: 0, bad: 0, torn: 0 };
  for (const f of readdirSync(dir).filter((n) => /^payloads\.jsonl(\.\d+)?$/.test(n))) {
    const text = readFileSync(join(dir, f), 'utf8');
    const lines = text.split('\n');
    if (lines[lines.length - 1] !== '') out.torn++;
    for (const l of lines.slice(0, -1)) {
      out.lines++;
      try {
        out.ids.add((JSON.parse(l) as { id: string }).id);
      } catch {
        out.bad++;
      }
    }
  }
  return out;
}

const record = (id: string) => ({
  ts: '2026-11-23T07:00:00.000Z',
  model: 'fraud',
  version: '1',
  id,
  inputs: { input: { shape: [1, 16], datatype: 'FP32', data: Array.from({ length: 16 }, (_, j) => j + 0.5) } },
  outputs: { probability: { shape: [1, 1], datatype: 'FP32', data: [0.25] } },
});

/** Clients posting to a sink until stopped; counts what was acknowledged, and retries the rest. */
function sinkClients(url: () => string, n: number) {
  const acked = new Set<string>();
  let sent = 0;
  let refused = 0;
  let failed = 0;
  let stop = false;
  let seq = 0;
  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${url()}/`, { method: 'POST', headers, body, signal: AbortSignal.timeout(15_000) }).then(
      async (r) => {
        await r.arrayBuffer();
        return r.status;
      },
      () => 0,
    );
  const loop = async (k: number) => {
    while (!stop) {
      const i = seq++;
      if (i % 5 === 4) {
        // A KServe pair (binary mode): the request half, then its response half; the record's id is the ce-id.
        const id = `ks-${k}-${i}`;
        const headers = (type: string) => ({
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': id,
          'ce-source': 'http://localhost:9081/',
          'ce-type': type,
          'ce-inferenceservicename': 'fraud',
          'ce-namespace': 'ml',
        });
        sent++;
        let s = 0;
        while (!stop && s !== 200) {
          s = await post(
            JSON.stringify({ inputs: [{ name: 'input', shape: [1, 2], datatype: 'FP32', data: [i, 1] }] }),
            headers('org.kubeflow.serving.inference.request'),
          );
          if (s === 200) acked.add(id);
          else if (s === 0) (failed++, await delay(50));
          else (refused++, await delay(200));
        }
        s = 0;
        while (!stop && s !== 200) {
          s = await post(
            JSON.stringify({ outputs: [{ name: 'p', shape: [1, 1], datatype: 'FP32', data: [0.5] }] }),
            headers('org.kubeflow.serving.inference.response'),
          );
          if (s === 0) (failed++, await delay(50));
          else if (s !== 200) (refused++, await delay(200));
        }
        continue;
      }
      const ids = Array.from({ length: 50 }, (_, j) => `c${k}-${i}-${j}`);
      const body = JSON.stringify(ids.map((id) => ({ specversion: '1.0', id, source: 'bench', type: 'io.ghosteam.inference.payload', data: record(id) })));
      sent += ids.length;
      let s = 0;
      while (!stop && s !== 200) {
        s = await post(body, { 'content-type': 'application/cloudevents-batch+json' });
        if (s === 200) for (const id of ids) acked.add(id);
        else if (s === 0) (failed++, await delay(50));
        else (refused++, await delay(200));
      }
    }
  };
  const loops = Array.from({ length: n }, (_, k) => loop(k));
  return {
    acked: () => acked.size,
    ackedIds: acked,
    counts: () => ({ sent, refused, failed }),
    async stop() {
      stop = true;
      await Promise.all(loops);
    },
  };
}

async function sinkKill() {
  const dir = join(root, 'sink');
  mkdirSync(dir);
  const port = await freePort();
  const args = ['payload-sink', '--dir', dir, '--port', String(port), '--pair-ttl', '2000'];
  let sink = await startCli(args, /listening on /);
  let peak = 0;
  const url = `http://127.0.0.1:${port}`;
  const clients = sinkClients(() => url, 8);
  await delay(SECONDS * 1000);
  const baseAcked = clients.acked();
  const baseRate = baseAcked / SECONDS;
  say(
    `payload sink: 8 clients, batches of 50 events and KServe pairs; ${round(baseRate, 0)} records acknowledged/s without faults (${baseAcked} in ${SECONDS} s)`,
  );
  const t0 = performance.now();
  for (let k = 0; k < 3; k++) {
    await delay(700 + Math.random() * 800);
    peak = Math.max(peak, peakRssMb(sink.proc.pid!));
    await exited(sink.proc, 'SIGKILL');
    sink = await startCli(args, /listening on /);
  }
  await delay(1000);
  const faultAcked = clients.acked() - baseAcked;
  const faultSeconds = (performance.now() - t0) / 1000;
  await clients.stop();
  peak = Math.max(peak, peakRssMb(sink.proc.pid!));
  await exited(sink.proc, 'SIGTERM');
  const a = auditLog(dir);
  const lost = [...clients.ackedIds].filter((id) => !a.ids.has(id)).length;
  const quarantined = readdirSync(dir).filter((f) => f.includes('.torn-')).length;
  const c = clients.counts();
  say(
    `  3 x SIGKILL under load: ${round(faultAcked / faultSeconds, 0)} acknowledged/s (${round(faultAcked / faultSeconds / baseRate, 2)}x the baseline); ${clients.acked()} acknowledged in all, ${a.ids.size} on disk, ${lost} acknowledged but lost, ${a.bad} unreadable lines, ${a.torn} torn tails, ${quarantined} torn tail(s) quarantined on restart; ${c.failed} posts cut by the kills and ${c.refused} refused (retried)`,
  );
  return {
    acked: clients.acked(),
    onDisk: a.ids.size,
    lost,
    bad: a.bad,
    torn: a.torn,
    quarantined,
    peak,
    baseRate,
    faultRate: faultAcked / faultSeconds,
    ...c,
  };
}

// ---------------------------------------------------------------- 3. a full disk
function canUnshare(): string | undefined {
  const r = spawnSync('unshare', [...(process.getuid?.() === 0 ? ['-m'] : ['-rm']), 'true']);
  return r.status === 0 ? undefined : r.stderr?.toString().trim() || r.error?.message || 'unshare failed';
}

async function fullDisk() {
  const why = canUnshare();
  if (why) {
    say(`full disk: skipped, no mount namespace here (${why})`);
    return undefined;
  }
  const mnt = join(root, 'tmpfs');
  mkdirSync(mnt);
  const port = await freePort();
  const sink = await startCli(['payload-sink', '--dir', mnt, '--port', String(port)], /listening on /, [
    'unshare',
    ...(process.getuid?.() === 0 ? ['-m'] : ['-rm']),
    'sh',
    '-c',
    `mount -t tmpfs -o size=1m none '${mnt}' && exec "$0" "$@"`,
  ]);
  const inNs = (p: string) => `/proc/${sink.proc.pid}/root${p}`;
  const url = `http://127.0.0.1:${port}/`;
  writeFileSync(inNs(join(mnt, 'filler')), Buffer.alloc(256 * 1024));
  const acked = new Set<string>();
  let sent = 0;
  let refused503 = 0;
  let other = 0;
  let i = 0;
  const postOne = async () => {
    const ids = Array.from({ length: 20 }, () => `d${i++}`);
    sent += ids.length;
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify(ids.map((id) => ({ specversion: '1.0', id, source: 'bench', type: 'io.ghosteam.inference.payload', data: record(id) }))),
    });
    await r.arrayBuffer();
    if (r.status === 200) ids.forEach((x) => acked.add(x));
    else if (r.status === 503) refused503++;
    else other++;
    return r.status;
  };
  while ((await postOne()) === 200 && i < 100_000);
  for (let k = 0; k < 10; k++) await postOne();
  const unhealthy = (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
  unlinkSync(inNs(join(mnt, 'filler')));
  const t0 = performance.now();
  while ((await fetch(`http://127.0.0.1:${port}/healthz`)).status !== 200 && performance.now() - t0 < 15_000) await delay(100);
  const recoveredMs = performance.now() - t0;
  let after = 0;
  for (let k = 0; k < 5; k++) if ((await postOne()) === 200) after++;
  const a = auditLog(inNs(mnt));
  const lost = [...acked].filter((id) => !a.ids.has(id)).length;
  const peak = peakRssMb(sink.proc.pid!);
  await exited(sink.proc, 'SIGKILL');
  say(
    `full disk (1 MiB tmpfs): ${acked.size} records acknowledged, ${refused503} posts answered 503 while full (healthz ${unhealthy}), ${other} other answers; ${a.ids.size} on disk, ${lost} acknowledged but lost, ${a.bad + a.torn} torn/unreadable; ready again ${round(recoveredMs, 0)} ms after space returned, ${after}/5 posts taken after`,
  );
  return { sent, acked: acked.size, onDisk: a.ids.size, lost, refused503, torn: a.bad + a.torn, recoveredMs, acceptedAfter: after, peak, unhealthy };
}

// ---------------------------------------------------------------- 4. the engine, kill -9 and --resume
const sha = (f: string) => `sha256:${createHash('sha256').update(readFileSync(f)).digest('hex')}`;

function tornArtifacts(cwd: string): number {
  const dir = join(cwd, '.ghosteam/store/sha256');
  if (!existsSync(dir)) return 0;
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  return walk(dir).filter((f) => /^[0-9a-f]{64}$/.test(basename(f)) && sha(f) !== `sha256:${basename(f)}`).length;
}

async function engineKill(kind: 'commit' | 'write') {
  const cwd = join(root, `engine-${kind}`);
  mkdirSync(cwd);
  const env = { ...process.env, GHOSTEAM_REGISTRY_DIR: join(cwd, 'registry'), FORCE_COLOR: '0', NO_COLOR: '1' };
  const child = spawn(process.execPath, [bin, 'run', registerApp], {
    cwd,
    stdio: 'ignore',
    env: { ...env, HOLD_S: kind === 'commit' ? '30' : '0', MODEL_MB: kind === 'write' ? '64' : '0' },
  });
  children.add(child);
  const t0 = performance.now();
  const runs = new RunStore(join(cwd, '.ghosteam'));
  let id: string | undefined;
  let recordKnew = false;
  for (;;) {
    if (performance.now() - t0 > 120_000) throw new Error(`engine (${kind}): nothing to kill after 120 s`);
    if (!id) id = (await runs.list().catch(() => []))[0]?.id;
    if (kind === 'commit' && existsSync(join(cwd, 'registry/models/killed/versions/1/version.json'))) {
      child.kill('SIGSTOP');
      recordKnew = id !== undefined && (await runs.load(id)).nodes.register?.state === 'Succeeded';
      break;
    }
    if (kind === 'write' && id) {
      const work = join(cwd, '.ghosteam/work', id, 'model');
      if (existsSync(work) && spawnSync('find', [work, '-type', 'f', '-size', '+2M'], { encoding: 'utf8' }).stdout.trim()) break;
    }
    await delay(kind === 'commit' ? 1 : 5);
  }
  await exited(child, 'SIGKILL');
  children.delete(child);
  if (!id) id = (await runs.list())[0].id;
  const tornBefore = tornArtifacts(cwd);
  const r = spawnSync(process.execPath, [bin, 'run', registerApp, '--resume', id], { cwd, encoding: 'utf8', env: { ...env, HOLD_S: '0', MODEL_MB: '0' } });
  const rec = await runs.load(id);
  const versions = await new LocalRegistry({ dir: join(cwd, 'registry') }).listVersions('killed');
  const ofRun = versions.filter((v) => v.lineage.runId === id).length;
  const whole = versions.every((v) => sha(v.source) === v.digest);
  const torn = tornBefore + tornArtifacts(cwd);
  say(
    `engine, SIGKILL ${kind === 'commit' ? `the moment the registry committed (the run record ${recordKnew ? 'already knew' : 'did not know yet'})` : 'in the middle of a 64 MiB artifact write'}: resume exit ${r.status}, run ${rec.status}; ${ofRun} version(s) registered for the run, registered bytes ${whole ? 'match' : 'DO NOT match'} their digest, ${torn} torn artifact(s) in the store`,
  );
  return { registrations: ofRun, succeeded: rec.status === 'Succeeded' && r.status === 0, whole, torn, recordKnew };
}

// ---------------------------------------------------------------- run
const stopAll = () => {
  for (const c of children) c.kill('SIGKILL');
};
process.once('SIGINT', () => (stopAll(), process.exit(130)));
try {
  const m = await modelServer();
  const s = await sinkKill();
  const d = await fullDisk();
  const e1 = await engineKill('commit');
  const e2 = await engineKill('write');
  const acknowledgedLost = s.lost + (d?.lost ?? 0);
  const tornLines = s.bad + s.torn + (d?.torn ?? 0);
  const peak = Math.max(m.peak, s.peak, d?.peak ?? 0);
  say(
    `\nacknowledged records lost: ${acknowledgedLost} (goal 0); torn lines read: ${tornLines} (goal 0); 5xx answers: ${m.serverErrors} (goal 0); normal requests refused under slow clients: ${m.normalRefused} (goal 0); registrations per killed run: ${e1.registrations}, ${e2.registrations} (goal 1)`,
  );
  process.stdout.write(
    JSON.stringify({
      bench: 'faults',
      rate: RATE,
      seconds: SECONDS,
      slowClients: SLOW_CLIENTS,
      maxInflight: MAX_INFLIGHT,
      normalRequestP99MsBaseline: round(m.base.latencyMs.p99, 2),
      normalRequestP99MsUnderSlowClients: round(m.under.latencyMs.p99, 2),
      slowClientsOverBaselineP99Ratio: round(m.ratio, 2),
      normalRequestsRefusedUnderSlowClients: m.normalRefused,
      requestsAnswered: m.answered,
      serverErrors5xx: m.serverErrors,
      amplificationAttempts: m.amplification,
      responseCapStatus: m.capStatus,
      serverPeakRssMbBaseline: round(m.baseRss),
      serverPeakRssMb: round(m.peak),
      serverPeakOverBaselineRssRatio: round(m.peak / m.baseRss, 2),
      sinkPeakRssMb: round(s.peak),
      peakRssMb: round(peak),
      recordsSent: s.sent + (d?.sent ?? 0),
      recordsAcknowledged: s.acked + (d?.acked ?? 0),
      recordsOnDisk: s.onDisk + (d?.onDisk ?? 0),
      recordsLost: acknowledgedLost,
      acknowledgedLost,
      tornLines,
      tornTailsQuarantined: s.quarantined,
      sinkKills: 3,
      sinkAckedPerSecBaseline: round(s.baseRate, 0),
      sinkAckedPerSecUnderKills: round(s.faultRate, 0),
      sinkUnderKillsOverBaselineRatio: round(s.faultRate / s.baseRate, 2),
      fullDisk: d
        ? {
            acknowledged: d.acked,
            onDisk: d.onDisk,
            lost: d.lost,
            refused503: d.refused503,
            healthzWhileFull: d.unhealthy,
            readyAgainMs: round(d.recoveredMs, 0),
            acceptedAfter: d.acceptedAfter,
          }
        : null,
      engineKills: 2,
      registrationsPerKilledRun: [e1.registrations, e2.registrations],
      engineResumesSucceeded: [e1.succeeded, e2.succeeded],
      commitKillRecordKnew: e1.recordKnew,
      halfWrittenArtifacts: e1.torn + e2.torn,
      registeredBytesMatchDigest: e1.whole && e2.whole,
    }) + '\n',
  );
} finally {
  stopAll();
  rmSync(root, { recursive: true, force: true });
}

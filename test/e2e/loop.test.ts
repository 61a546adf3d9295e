// The GitOps loop as a user runs it, with the public CLI only: a fresh repository with package
// imports (package.json → ghosteam, cdk8s), `ghosteam serve`, `ghosteam operator --local` and
// `ghosteam watch`, each its own process. Everything is real: git (a bare origin), npm installing the
// repository's dependencies in watch's checkout, synthesis, the local engine training an MLP, the
// registry, onnxruntime serving, the canary over live requests, and the operator's write-back.
//
//  1. the first commit trains once and serves v1;
//  2. a pipeline commit gives exactly one training, one canary, one promotion and one pin written by
//     the operator after the promotion — with watch and the operator killed (SIGKILL) and restarted
//     mid-canary;
//  3. a commit whose model fails the gate registers nothing and pins nothing;
//  4. a rollout-only commit trains nothing;
//  5. a broken commit is reported once and skipped.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE, ROOT, git, makeUserRepo, type AppKnobs } from './loop-fixture.ts';

const BIN = join(ROOT, 'bin', 'ghosteam.mjs');

interface Proc {
  readonly child: ChildProcess;
  out: string;
}

function start(args: string[], cwd: string): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { child, out: '' };
  child.stdout.on('data', (d: Buffer) => (p.out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (p.out += d.toString()));
  return p;
}

async function kill(p: Proc | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  const gone = new Promise((r) => p.child.once('exit', r));
  p.child.kill(signal);
  await gone;
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number, context: () => string = () => ''): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${context()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface Status {
  models: Array<{ name: string; phase: string; stable?: number; canary?: number; trafficPercent?: number; versions: number[] }>;
  trainingRuns: Array<{ name: string; phase: string; reason: string; registeredVersion?: number; gateRejected?: boolean }>;
}

describe('the GitOps loop: watch + operator --local + serve, public CLI only', { timeout: 20 * 60_000 }, () => {
  let dir: string;
  let run: string;
  let repo: ReturnType<typeof makeUserRepo>;
  let serve: Proc;
  let operator: Proc | undefined;
  let watch: Proc | undefined;
  let serverUrl: string;
  let traffic: NodeJS.Timeout | undefined;
  const opLogs: string[] = [];
  const watchLogs: string[] = [];

  const cli = async (...args: string[]): Promise<string> => {
    const p = start(args, run);
    const code = await new Promise<number>((r) => p.child.once('exit', (c) => r(c ?? 1)));
    if (code !== 0) throw new Error(`ghosteam ${args.join(' ')} exited ${code}: ${p.out}`);
    return p.out;
  };
  const status = async (): Promise<Status> => JSON.parse(await cli('status', '--registry-dir', 'reg', '--json')) as Status;
  const model = async () => (await status()).models.find((m) => m.name === 'loop');
  const pins = () => git(repo.work, 'log', 'origin/main', '--format=%H %s', '--grep=Ghosteam-Writeback').split('\n').filter(Boolean);
  const fetchOrigin = () => git(repo.work, 'fetch', '--quiet', 'origin');
  const logs = () =>
    `--- operator ---\n${opLogs.join('')}${operator?.out ?? ''}\n--- watch ---\n${watchLogs.join('')}${watch?.out ?? ''}\n--- serve ---\n${serve?.out ?? ''}`;
  const allWatch = () => watchLogs.join('') + (watch?.out ?? '');
  const allOp = () => opLogs.join('') + (operator?.out ?? '');

  const startOperator = async () => {
    operator = start(
      ['operator', '--local', '--model-server', serverUrl, '--registry-dir', 'reg', '--health-port', '0', '--git-repo', repo.origin, '--log-level', 'info'],
      run,
    );
    const line = await eventually(
      "the operator's start-up line",
      () => /local operator started: .*local registry (\S+),.*health on 127\.0\.0\.1:(\d+)/.exec(operator!.out) ?? undefined,
      120_000,
      logs,
    );
    assert.equal(line[1], join(run, 'reg'), 'one registry, the one named in the start-up line');
    const health = await fetch(`http://127.0.0.1:${line[2]}/healthz`);
    assert.equal(health.status, 200, '--health-port is served in local mode');
  };
  const stopOperator = async (signal: NodeJS.Signals) => {
    await kill(operator, signal);
    opLogs.push(operator?.out ?? '');
    operator = undefined;
  };
  const startWatch = () => {
    watch = start(['watch', repo.origin, '--interval', '1s', '--app', 'app.ts'], run);
  };
  const stopWatch = async (signal: NodeJS.Signals) => {
    await kill(watch, signal);
    watchLogs.push(watch?.out ?? '');
    watch = undefined;
  };
  const commit = (msg: string, k: AppKnobs) => repo.commit(msg, k);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ghosteam-loop-'));
    repo = makeUserRepo(dir);
    run = join(dir, 'run');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(run);
    serve = start(['serve', '--port', '0', '--registry-dir', 'reg'], run);
    serverUrl = await eventually('the model server', () => /listening on (http:\/\/\S+)/.exec(serve.out)?.[1], 120_000, logs);
    // Live traffic all along, as a real service has: the canary's analysis needs requests.
    const body = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [0.1, 0.2, -0.3, 0.4] }] });
    traffic = setInterval(() => {
      fetch(`${serverUrl}/v2/models/loop/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(
        (r) => r.arrayBuffer(),
        () => undefined,
      );
    }, 40);
  });

  after(async () => {
    if (traffic) clearInterval(traffic);
    await stopWatch('SIGTERM');
    await stopOperator('SIGTERM');
    await kill(serve);
    if (process.env.GHOSTEAM_KEEP_LOOP) process.stdout.write(`kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });

  test('the operator refuses to start when the model server is unreachable', async () => {
    // A port nothing listens on.
    const { createServer } = await import('node:net');
    const srv = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));
    const p = start(['operator', '--local', '--model-server', `http://127.0.0.1:${port}`, '--registry-dir', 'reg', '--state-dir', 'other-state'], run);
    const code = await new Promise<number>((r) => p.child.once('exit', (c) => r(c ?? 1)));
    assert.equal(code, 1);
    assert.match(p.out, new RegExp(`error: model server http://127\\.0\\.0\\.1:${port} is not reachable \\(ECONNREFUSED\\)`));
  });

  test('first commit: one training, v1 serves', async () => {
    await startOperator();
    startWatch();
    const m = await eventually('v1 serving', async () => ((await model())?.stable === 1 ? true : undefined), 600_000, logs);
    assert.ok(m);
    const s = await status();
    assert.deepEqual(
      s.trainingRuns.map((r) => [r.reason, r.phase, r.registeredVersion]),
      [['git-change', 'Succeeded', 1]],
    );
    assert.deepEqual(s.models[0].versions, [1]);
    assert.match(allWatch(), /installing the repository's dependencies \(npm install\)/);
  });

  test('a pipeline commit: one training, one canary, one promotion, one pin by the operator — across kill -9 of watch and the operator mid-canary', async () => {
    fetchOrigin();
    const pinsBefore = pins().length;
    const c2 = commit('four epochs', { ...BASE, epochs: 4, steps: [20, 50, 100] });
    // Mid-canary: both die without a chance to clean up, then come back.
    await eventually('the canary of v2', async () => ((await model())?.canary === 2 ? true : undefined), 300_000, logs);
    await stopWatch('SIGKILL');
    await stopOperator('SIGKILL');
    await startOperator();
    startWatch();
    await eventually('v2 promoted', async () => ((await model())?.stable === 2 ? true : undefined), 300_000, logs);
    await eventually(
      'the pin of v2',
      () => {
        fetchOrigin();
        return pins().length > pinsBefore ? true : undefined;
      },
      120_000,
      logs,
    );
    // Give a second pin, a second run or a second promotion the time to show up if there were one.
    await new Promise((r) => setTimeout(r, 5000));
    fetchOrigin();
    const s = await status();
    assert.deepEqual(
      s.trainingRuns.map((r) => [r.reason, r.phase, r.registeredVersion]),
      [
        ['git-change', 'Succeeded', 2],
        ['git-change', 'Succeeded', 1],
      ],
      'exactly one training for the commit',
    );
    assert.deepEqual(s.models[0].versions, [1, 2]);
    const newPins = pins().slice(0, pins().length - pinsBefore);
    assert.equal(newPins.length, 1, `exactly one pin: ${newPins.join('; ')}`);
    const lock = JSON.parse(git(repo.work, 'show', 'origin/main:models.lock.json')) as { models: Record<string, { version: number }> };
    assert.equal(lock.models.loop.version, 2);
    assert.equal((allOp().match(/alias loop@champion has been moved to version 2/g) ?? []).length, 1, 'one promotion');
    assert.ok(git(repo.work, 'merge-base', '--is-ancestor', c2, 'origin/main') === '', 'the pin follows the commit');
    // The pin is the operator's commit; watch only sees it go by.
    assert.match(allWatch(), /Pin loop to v2 \(git-change\): skipped \(write-back commit: it carries the Ghosteam-Writeback trailer\)/);
    assert.match(allOp(), /local operator started/);
  });

  test('a commit whose model fails the gate registers nothing', async () => {
    fetchOrigin();
    const pinsBefore = pins().length;
    commit('an impossible gate', { ...BASE, epochs: 4, steps: [20, 50, 100], minAuc: 0.9999 });
    const rejected = await eventually('the gate-rejected TrainingRun', async () => (await status()).trainingRuns.find((r) => r.gateRejected), 300_000, logs);
    assert.equal(rejected.phase, 'Succeeded');
    assert.equal(rejected.registeredVersion, undefined);
    const s = await status();
    assert.deepEqual(s.models[0].versions, [1, 2], 'nothing registered');
    assert.equal(s.models[0].stable, 2);
    await eventually('watch reporting the rejection', () => (/the gate rejected the model/.test(allWatch()) ? true : undefined), 60_000, logs);
    fetchOrigin();
    assert.equal(pins().length, pinsBefore, 'nothing pinned');
  });

  test('a rollout-only commit trains nothing; a broken commit is reported once and skipped', async () => {
    const runsBefore = (await status()).trainingRuns.length;
    const c4 = commit('slower canary', { ...BASE, epochs: 4, steps: [10, 50, 100], minAuc: 0.9999 });
    await eventually(
      'watch applying the rollout change',
      () => (new RegExp(`${c4.slice(0, 7)} slower canary: applied \\d+ objects .*; no pipeline changed`).test(allWatch()) ? true : undefined),
      300_000,
      logs,
    );
    const c5 = commit('broken', { ...BASE, broken: true });
    await eventually(
      'watch reporting the broken commit',
      () => (new RegExp(`${c5.slice(0, 7)} broken: synthesis failed`).test(allWatch()) ? true : undefined),
      300_000,
      logs,
    );
    await new Promise((r) => setTimeout(r, 4000)); // several more polls
    assert.equal((allWatch().match(new RegExp(`${c5.slice(0, 7)} broken: synthesis failed`, 'g')) ?? []).length, 1, 'reported once');
    assert.equal((await status()).trainingRuns.length, runsBefore, 'no training');
  });
});

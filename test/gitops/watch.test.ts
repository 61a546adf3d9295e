// watch → retrain, with no loop, against a real git remote (git http-backend on 127.0.0.1) and the
// real synth (each commit synthesized in its own worktree). Only the operator is replaced: the
// runtime below records what it is asked to apply and train and answers with an outcome, because the
// real loop (watch + operator --local + serve) has its own end-to-end test (test/e2e/loop.test.ts).
// Pins are written the way the operator writes them (gitops/writeback.ts), never by watch.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RepoWatcher, MAX_ATTEMPTS, type RetrainOutcome, type WatchRuntime } from '../../gitops/watch.ts';
import { writeBack } from '../../gitops/writeback.ts';
import type { RetrainStart } from '../../gitops/retrain.ts';
import type { K8sObject } from '../../api/objects.ts';
import { git, startGitServer, type GitServer } from './git-server.ts';

const root = resolve(import.meta.dirname, '../..');

/** A small app: one pipeline (epochs as a parameter) and one model that reads models.lock.json. */
function appSource(epochs: number): string {
  return `import { Chart, type App } from 'cdk8s';
import { Model } from '${root}/charts/index.ts';
import { Pipeline } from '${root}/pipelines/index.ts';
export default function (app: App): void {
  const chart = new Chart(app, 'demo', { namespace: 'ml' });
  const p = new Pipeline(chart, 'demo-train', {});
  const epochs = p.param('epochs', { type: 'number', default: ${epochs} });
  const ingest = p.component('ingest', 'ingest', { params: { path: 'data.csv' } });
  p.component('train', 'train-tabular', { inputs: { train: ingest.output('dataset') }, params: { label: 'y', epochs } });
  new Model(chart, 'demo', { registry: 'demo' });
}
`;
}

class RecordingRuntime implements WatchRuntime {
  readonly name = 'test runtime';
  readonly applied: { commit: string; models: Record<string, unknown> }[] = [];
  readonly trained: RetrainStart[] = [];
  private version = 0;
  /** Outcomes to answer with, in order; after them every run registers the next version. */
  readonly script: Array<RetrainOutcome['kind'] | 'failed-terminal'> = [];
  async apply(objects: readonly K8sObject[], commit: string): Promise<void> {
    const models = Object.fromEntries(objects.filter((o) => o.kind === 'Model').map((o) => [o.metadata.name, (o.spec as { modelRef: unknown }).modelRef]));
    this.applied.push({ commit, models });
  }
  async retrain(start: RetrainStart, ctx: { attempt?: number }): Promise<RetrainOutcome> {
    this.trained.push({ ...start, attempt: ctx.attempt } as RetrainStart);
    const kind = this.script.shift() ?? 'registered';
    const run = `${start.pipeline}-${this.trained.length}`;
    if (kind === 'failed') return { kind, run, message: 'Cannot find package cdk8s' };
    if (kind === 'failed-terminal')
      return { kind: 'failed', run, message: "train-tabular: param 'epochs' must be at least 1, got -5", terminal: true, reason: 'InvalidParam' };
    if (kind === 'rejected') return { kind, run, reasons: ['rocAuc is 0.8; needs >= 0.9'] };
    this.version++;
    return { kind: 'registered', run, model: 'demo', version: this.version };
  }
}

let server: GitServer;
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'ghosteam-watch-test-'));
  dirs.push(d);
  return d;
};

before(async () => {
  server = await startGitServer();
});
after(async () => {
  await server.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('ghosteam watch', () => {
  test("retrains once per spec hash, never pins, and never retrains on the operator's write-back", async () => {
    const url = server.createRepo('watched');
    const work = tmp();
    await git(work, 'clone', '--quiet', url, 'w');
    const w = join(work, 'w');
    const commit = async (msg: string, files: Record<string, string>) => {
      await git(w, 'pull', '--quiet', '--rebase', 'origin', 'main').catch(() => undefined);
      for (const [f, text] of Object.entries(files)) writeFileSync(join(w, f), text);
      await git(w, 'add', ...Object.keys(files));
      await git(w, 'commit', '--quiet', '-m', msg);
      await git(w, 'push', '--quiet', 'origin', 'HEAD:main');
      return git(w, 'rev-parse', 'HEAD');
    };

    const runtime = new RecordingRuntime();
    const lines: string[] = [];
    const watcher = new RepoWatcher({
      source: url,
      app: 'app.ts',
      stateDir: join(tmp(), 'state'),
      runtime,
      checkouts: false,
      log: (l) => lines.push(l),
      clock: () => new Date('2026-11-23T05:00:00.000Z'),
    });
    // What the operator does after promoting a version (with --git-repo): one write-back commit.
    const operatorPins = async (version: number, previous?: number) => {
      const r = await writeBack({
        repo: url,
        pin: { model: 'demo', version, ...(previous ? { previous } : {}), reason: 'git-change', metrics: {}, promotedAt: '2026-11-23T05:00:00.000Z' },
      });
      assert.equal(r.outcome, 'pushed');
    };

    // 1. First commit: the pipeline is new → one training run; watch pins nothing.
    const c1 = await commit('demo app', { 'package.json': '{ "type": "module" }\n', 'app.ts': appSource(10), 'data.csv': 'y\n1\n' });
    const head1 = await git(w, 'ls-remote', url, 'refs/heads/main');
    const r1 = await watcher.pollOnce();
    assert.deepEqual(
      r1.map((r) => [r.sha, r.action, r.done]),
      [[c1, 'synthesized', true]],
    );
    assert.deepEqual(
      runtime.trained.map((t) => [t.pipeline, t.reason, t.commit]),
      [['demo-train', 'git-change', c1]],
    );
    assert.equal(await git(w, 'ls-remote', url, 'refs/heads/main'), head1, 'watch wrote nothing to the repository');
    assert.deepEqual(runtime.applied[0].models, { demo: { name: 'demo', alias: 'latest' } });
    await operatorPins(1);

    // 2. The next poll sees only the write-back commit and skips it: no synthesis, no retrain.
    const r2 = await watcher.pollOnce();
    assert.equal(r2.length, 1);
    assert.equal(r2[0].action, 'skipped');
    assert.equal(r2[0].why, 'write-back commit: it carries the Ghosteam-Writeback trailer');
    assert.equal(runtime.trained.length, 1);
    assert.deepEqual(await watcher.pollOnce(), [], 'nothing new: nothing to do');

    // 3. A real change to the pipeline retrains once, and the new version is pinned.
    const c3 = await commit('more epochs', { 'app.ts': appSource(20) });
    const r3 = await watcher.pollOnce();
    assert.deepEqual(
      r3.map((r) => [r.sha, r.action]),
      [[c3, 'synthesized']],
    );
    const synthesized = r3[0];
    assert.deepEqual(
      runtime.trained.map((t) => t.commit),
      [c1, c3],
    );
    // The model was applied at the version pinned by the first write-back (the synth read the lock file).
    assert.deepEqual(runtime.applied.at(-1)?.models, { demo: { name: 'demo', alias: 'latest', version: 1 } });
    assert.deepEqual(
      synthesized?.outcomes.map((o) => o.kind),
      ['registered'],
    );
    await operatorPins(2, 1);

    // 4. A commit that changes the pin and something else is synthesized (no trailer, not lock-only),
    //    the model follows the pin, and the pipeline's spec hash is unaffected: no retrain.
    const pulled = await watcher.pollOnce(); // the second write-back
    assert.deepEqual(
      pulled.map((r) => r.action),
      ['skipped'],
    );
    const c4 = await commit('pin demo v7 by hand and add notes', {
      'models.lock.json': `${JSON.stringify({ models: { demo: { version: 7, promotedAt: '2026-11-23T05:00:00.000Z', reason: 'manual', metrics: {} } } }, null, 2)}\n`,
      'NOTES.md': 'pinned by hand\n',
    });
    const r4 = await watcher.pollOnce();
    assert.deepEqual(
      r4.map((r) => [r.sha, r.action, r.retrains.length]),
      [[c4, 'synthesized', 0]],
    );
    assert.deepEqual(runtime.applied.at(-1)?.models, { demo: { name: 'demo', alias: 'latest', version: 7 } });
    assert.equal(runtime.trained.length, 2, 'two spec hashes, two training runs, whatever the number of commits');

    // 5. A lock-only commit without the trailer is skipped too.
    const c5 = await commit('pin v8', {
      'models.lock.json': `${JSON.stringify({ models: { demo: { version: 8, promotedAt: '2026-11-23T05:00:00.000Z', reason: 'manual', metrics: {} } } }, null, 2)}\n`,
    });
    const r5 = await watcher.pollOnce();
    assert.deepEqual(
      r5.map((r) => [r.sha, r.action, r.why]),
      [[c5, 'skipped', 'write-back commit: it only changes models.lock.json']],
    );
    assert.equal(runtime.trained.length, 2);
    assert.ok(
      lines.some((l) => /retraining demo-train \(git-change\)/.test(l)),
      lines.join('\n'),
    );
  });

  test('a commit that fails synthesis is reported and passed over; the next good one is applied', async () => {
    const url = server.createRepo('broken');
    const work = tmp();
    await git(work, 'init', '--quiet', '--initial-branch=main');
    writeFileSync(join(work, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(work, 'app.ts'), "export default function () { throw new Error('broken on purpose'); }\n");
    await git(work, 'add', 'app.ts', 'package.json');
    await git(work, 'commit', '--quiet', '-m', 'broken');
    await git(work, 'push', '--quiet', url, 'main');
    const runtime = new RecordingRuntime();
    const watcher = new RepoWatcher({ source: url, app: 'app.ts', stateDir: join(tmp(), 'state'), runtime, checkouts: false });
    const r = await watcher.pollOnce();
    assert.equal(r[0].action, 'failed');
    assert.match(r[0].why ?? '', /broken on purpose/);
    assert.deepEqual(runtime.applied, []);
    assert.deepEqual(await watcher.pollOnce(), [], 'a failed commit is not retried on every poll');
  });

  test('a failed TrainingRun keeps its commit pending and is tried again under a new attempt; a rejected model is final', async () => {
    const url = server.createRepo('retry');
    const work = tmp();
    await git(work, 'init', '--quiet', '--initial-branch=main');
    writeFileSync(join(work, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(work, 'app.ts'), appSource(10));
    await git(work, 'add', 'app.ts', 'package.json');
    await git(work, 'commit', '--quiet', '-m', 'app');
    await git(work, 'push', '--quiet', url, 'main');
    const runtime = new RecordingRuntime();
    runtime.script.push('failed', 'failed', 'failed');
    let now = Date.parse('2026-01-01T00:00:00Z');
    const lines: string[] = [];
    const watcher = new RepoWatcher({
      source: url,
      app: 'app.ts',
      stateDir: join(tmp(), 'state'),
      runtime,
      checkouts: false,
      retryBaseMs: 10_000,
      retryCapMs: 15_000,
      random: () => 1 - Number.EPSILON,
      clock: () => new Date(now),
      log: (l) => lines.push(l),
    });
    const first = await watcher.pollOnce();
    assert.deepEqual(
      first.map((r) => [r.done, r.outcomes.map((o) => o.kind)]),
      [[false, ['failed']]],
    );
    const st = await watcher.readState();
    assert.equal(st.lastCommit, undefined, 'the commit is not done');
    assert.equal(st.retryAt, '2026-01-01T00:00:10.000Z', 'the first retry waits the base delay (the jitter at its top)');
    assert.ok(lines.some((l) => /failed \(Cannot find package cdk8s\); trying again in 10 s \(attempt 2 of 3\)$/.test(l)));
    // Before the backoff is over, a poll does nothing: no TrainingRun, no re-synthesis.
    now += 9_000;
    assert.deepEqual(
      (await watcher.pollOnce()).map((r) => [r.action, r.done]),
      [['waiting', false]],
    );
    assert.equal(runtime.trained.length, 1);
    now += 1_000;
    await watcher.pollOnce();
    assert.equal((await watcher.readState()).retryAt, '2026-01-01T00:00:25.000Z', 'the second waits twice as long, capped at 15 s');
    now += 15_000;
    const third = await watcher.pollOnce();
    assert.deepEqual(
      runtime.trained.map((t) => (t as RetrainStart & { attempt?: number }).attempt),
      [1, 2, MAX_ATTEMPTS],
    );
    assert.equal(third[0].done, true, `after ${MAX_ATTEMPTS} failures the spec is given up on`);
    assert.deepEqual(await watcher.pollOnce(), []);
    assert.equal((await watcher.readState()).retryAt, undefined);

    // A failure retrying cannot change (an invalid param) is reported once and not retried.
    writeFileSync(join(work, 'app.ts'), appSource(12));
    await git(work, 'commit', '--quiet', '-am', 'epochs 12');
    await git(work, 'push', '--quiet', url, 'main');
    runtime.script.push('failed-terminal');
    const t = await watcher.pollOnce();
    assert.deepEqual(
      t.map((x) => [x.done, x.outcomes.map((o) => o.kind)]),
      [[true, ['failed']]],
    );
    assert.equal(runtime.trained.length, MAX_ATTEMPTS + 1);
    assert.ok(lines.some((l) => /InvalidParam cannot change on retry, so it is not retried: fix it in a new commit$/.test(l)));
    assert.deepEqual(await watcher.pollOnce(), []);

    // A gate rejection is an answer, not an error: one run, done.
    writeFileSync(join(work, 'app.ts'), appSource(11));
    await git(work, 'commit', '--quiet', '-am', 'epochs 11');
    await git(work, 'push', '--quiet', url, 'main');
    runtime.script.push('rejected');
    const r = await watcher.pollOnce();
    assert.deepEqual(
      r.map((x) => [x.done, x.outcomes.map((o) => o.kind)]),
      [[true, ['rejected']]],
    );
    assert.equal(runtime.trained.length, MAX_ATTEMPTS + 2);
  });
});

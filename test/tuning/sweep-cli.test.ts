// `ghosteam sweep run|resume|list|show` through the real CLI (bin/ghosteam.mjs), on an app with a
// Sweep over a ContainerComponent that runs on any POSIX host (test/tuning/fixtures/sweep-app.ts).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../engine/helpers.ts';
import { formatSweepEvent } from '../../pipelines/local/sweep-report.ts';

const bin = fileURLToPath(new URL('../../bin/ghosteam.mjs', import.meta.url));
const app = fileURLToPath(new URL('./fixtures/sweep-app.ts', import.meta.url));
const noSweepApp = fileURLToPath(new URL('../engine/fixtures/app.ts', import.meta.url));
const env = { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', MLFLOW_TRACKING_URI: '' };

let dir = '';
let cleanup: () => Promise<void> = async () => {};
before(async () => ({ dir, cleanup } = await tempDir()));
after(() => cleanup());

function cli(args: string[], extra: Record<string, string> = {}) {
  return spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', env: { ...env, ...extra } });
}

interface Rec {
  id: string;
  status: string;
  trials: { number: number; params: Record<string, unknown>; state: string; value?: number }[];
  best?: { number: number; value: number };
  finalStatus?: string;
}

describe('ghosteam sweep', () => {
  test('run: a line per trial, the best params run the whole pipeline; list and show read the record', () => {
    const r = cli(['sweep', 'run', app, '--store-dir', 'a']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^sweep quad-tune \(quad-tune-[0-9]{8}-[0-9]{6}-[0-9a-f]+\): 6 trials$/);
    assert.equal(lines.filter((l) => /^trial [1-6]\/6 /.test(l)).length, 6);
    assert.match(lines.at(-1)!, /^sweep succeeded: best [0-9.e-]+ at trial [1-6] \(x=[-0-9.e]+ c=[ab]\)$/);
    const id = /\((quad-tune-[^)]+)\)/.exec(lines[0])![1];

    const list = cli(['sweep', 'list', '--store-dir', 'a', '--json']);
    assert.equal(list.status, 0, list.stderr);
    const listed = JSON.parse(list.stdout) as { id: string; status: string; trials: number }[];
    assert.deepEqual(
      listed.map((x) => [x.id, x.status, x.trials]),
      [[id, 'Succeeded', 6]],
    );

    const show = cli(['sweep', 'show', id, '--store-dir', 'a', '--json']);
    const rec = JSON.parse(show.stdout) as Rec;
    const min = Math.min(...rec.trials.map((t) => t.value!));
    assert.equal(rec.best!.value, min);
    assert.equal(rec.finalStatus, 'Succeeded');
    const text = cli(['sweep', 'show', id.slice(0, 12), '--store-dir', 'a']).stdout;
    const scores = [...text.matchAll(/^\d+\s+Complete\s+(\S+)/gm)].map((m) => Number(m[1]));
    assert.equal(scores.length, 6);
    assert.deepEqual(
      scores,
      [...scores].sort((a, b) => a - b),
      'best first',
    );
  });

  test('Ctrl-C stops a sweep (exit 130); resume finishes it with the trials an uninterrupted sweep proposes', async () => {
    const child = spawn(process.execPath, [bin, 'sweep', 'run', app, '--json', '--store-dir', 'b'], { cwd: dir, env: { ...env, SLOW: '1' } });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if ((out.match(/"type":"trial-end"/g) ?? []).length >= 2 && !child.killed) {
          child.kill('SIGINT');
          resolve();
        }
      }),
    );
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 130, err);
    const id = (JSON.parse(out.split('\n')[0]) as { sweepId: string }).sweepId;
    assert.match(err, new RegExp(`continue with: ghosteam sweep resume \\S+ ${id} --store-dir b`));
    const stopped = JSON.parse(cli(['sweep', 'show', id, '--store-dir', 'b', '--json']).stdout) as Rec;
    assert.equal(stopped.status, 'Cancelled');

    const resumed = cli(['sweep', 'resume', app, id, '--store-dir', 'b']);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stdout, /, resumed\n/);
    const done = JSON.parse(cli(['sweep', 'show', id, '--store-dir', 'b', '--json']).stdout) as Rec;
    // The first test's sweep (store 'a') ran the same app without interruption.
    const freshId = (JSON.parse(cli(['sweep', 'list', '--store-dir', 'a', '--json']).stdout) as { id: string }[])[0].id;
    const fresh = JSON.parse(cli(['sweep', 'show', freshId, '--store-dir', 'a', '--json']).stdout) as Rec;
    assert.equal(done.status, 'Succeeded');
    assert.deepEqual(
      done.trials.map((t) => [t.number, t.params, t.value]),
      fresh.trials.map((t) => [t.number, t.params, t.value]),
      'the same trials as the uninterrupted sweep',
    );
    const again = cli(['sweep', 'resume', app, id, '--store-dir', 'b']);
    assert.equal(again.status, 1);
    assert.match(again.stderr, new RegExp(`error: sweep ${id} already succeeded; see it with 'ghosteam sweep show ${id}'`));
  });

  test('bad input: clear errors naming the fix', () => {
    const cases: [string[], RegExp][] = [
      [['sweep', 'run', noSweepApp], /error: \S+app\.ts: defines no Sweep; add one \(new Sweep\(chart, 'tune', \{ pipeline, trial, space, objective \}\)\)/],
      [['sweep', 'run', app, '--sweep', 'nope'], /error: \S+sweep-app\.ts: has no sweep 'nope'; it defines: quad-tune/],
      [['sweep', 'run', app, '--parallel', '0'], /error: --parallel expects a positive integer, got '0'/],
      [['sweep', 'run', 'missing.ts'], /error: missing\.ts: no such file; give the path of your app/],
      [['sweep', 'show', 'nope', '--store-dir', 'a'], /error: sweep 'nope' not found in \S+; list sweeps with 'ghosteam sweep list'/],
      [['sweep', 'resume', app, 'nope', '--store-dir', 'a'], /error: sweep 'nope' not found in \S+; list sweeps with 'ghosteam sweep list'/],
    ];
    for (const [args, want] of cases) {
      const r = cli(args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, want, args.join(' '));
    }
    assert.equal(cli(['sweep', 'list', '--store-dir', 'empty']).stdout, "no sweeps yet; run one with 'ghosteam sweep run APP'\n");
  });

  test('progress lines', () => {
    assert.equal(
      formatSweepEvent({ type: 'trial-end', sweepId: 's', number: 2, state: 'Pruned', steps: 3, message: 'pruned at step 3: rung 1', best: 0.25 }, 10),
      'trial 3/10 pruned (best 0.25000), 3 epochs: pruned at step 3: rung 1',
    );
    assert.equal(formatSweepEvent({ type: 'trial-end', sweepId: 's', number: 0, state: 'Complete', value: 0.5, steps: 0 }, 4), 'trial 1/4 0.50000');
    assert.equal(
      formatSweepEvent({ type: 'sweep-start', sweepId: 's-1', sweep: 's', trials: 243, epochs: 243, resumed: false }, 243),
      'sweep s (s-1): up to 243 trials within a budget of 243 epochs',
    );
    assert.equal(formatSweepEvent({ type: 'sweep-start', sweepId: 's-1', sweep: 's', trials: 8, resumed: true }, 8), 'sweep s (s-1): 8 trials, resumed');
  });
});

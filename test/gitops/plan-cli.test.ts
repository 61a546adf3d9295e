// `ghosteam plan` end to end: a real repository with three commits, each side synthesized by the
// real synth in its own worktree, through the CLI (exit codes included).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { git } from './git-server.ts';

const root = resolve(import.meta.dirname, '../..');

function appSource(o: { epochs: number; modelName?: string }): string {
  return `import { Chart, type App } from 'cdk8s';
import { DriftMonitor, Feature, Model, Rollout } from '${root}/charts/index.ts';
import { Pipeline } from '${root}/pipelines/index.ts';
export default function (app: App): void {
  const chart = new Chart(app, 'demo', { namespace: 'ml' });
  const p = new Pipeline(chart, 'demo-train', {});
  const epochs = p.param('epochs', { type: 'number', default: ${o.epochs} });
  const ingest = p.component('ingest', 'ingest', { params: { path: 'data.csv' } });
  p.component('train', 'train-tabular', { inputs: { train: ingest.output('dataset') }, params: { label: 'y', epochs } });
  const model = new Model(chart, 'demo', { registry: 'demo', ${o.modelName ? `name: '${o.modelName}', ` : ''}rollout: Rollout.canary({ steps: [10, 50, 100], interval: '1m' }) });
  new DriftMonitor(chart, 'demo-drift', { model, reference: 'data.csv', features: [Feature.numerical('x')], driftShare: 0.3 });
}
`;
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [join(root, 'bin', 'ghosteam.mjs'), ...args], { cwd: root, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let repo: string;
const shas: Record<string, string> = {};

before(async () => {
  repo = mkdtempSync(join(tmpdir(), 'ghosteam-plan-test-'));
  await git(repo, 'init', '--quiet', '--initial-branch=main');
  const commit = async (name: string, files: Record<string, string>) => {
    for (const [f, t] of Object.entries(files)) writeFileSync(join(repo, f), t);
    await git(repo, 'add', ...Object.keys(files));
    await git(repo, 'commit', '--quiet', '-m', name);
    shas[name] = await git(repo, 'rev-parse', 'HEAD');
  };
  await commit('base', { 'package.json': '{ "type": "module" }\n', 'app.ts': appSource({ epochs: 10 }) });
  await commit('change', {
    'app.ts': appSource({ epochs: 20 }),
    'models.lock.json': `${JSON.stringify({ models: { demo: { version: 4, promotedAt: '2026-11-23T05:00:00.000Z', reason: 'drift', metrics: {} } } })}\n`,
  });
  await commit('invalid', { 'app.ts': appSource({ epochs: 20, modelName: 'Bad_Name' }) });
});
after(() => rmSync(repo, { recursive: true, force: true }));

describe('ghosteam plan', { concurrency: true }, () => {
  test('model and pipeline changes across two commits, as JSON, exit 0', async () => {
    const r = await cli(['plan', '--repo', repo, '--base', shas.base, '--head', shas.change, '--app', 'app.ts', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.ok, true);
    assert.equal(j.base.commit, shas.base);
    assert.equal(j.head.commit, shas.change);
    assert.deepEqual(
      j.plan.models.map((m: { headline: string }) => m.headline),
      ['demo: canary of v4 at 10→50→100% (from @latest)'],
    );
    assert.deepEqual(
      j.plan.pipelines.map((p: { headline: string }) => p.headline),
      ['demo-train: task train changed (epochs 10 → 20) → retrain'],
    );
    assert.deepEqual(j.plan.retrain, ['demo-train']);
    assert.deepEqual(j.plan.added, []);
    assert.match(j.plan.diff, /^-\s+value: "10"\n\+\s+value: "20"$/m);
    assert.ok(!j.plan.diff.includes('ghosteam.io/source-commit'), 'the commit annotation is no change');
  });

  test('an invalid head fails the gate (exit 1) and the Markdown names the problem', async () => {
    const r = await cli(['plan', '--repo', repo, '--base', shas.change, '--head', shas.invalid, '--app', 'app.ts', '--markdown']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^### ghosteam plan: `[0-9a-f]{40} \([0-9a-f]{7}\)` → `[0-9a-f]{40} \([0-9a-f]{7}\)`/);
    assert.match(r.stdout, /:x: \*\*The head fails validation; this change cannot be merged as is\.\*\*/);
    assert.match(r.stdout, /demo\/demo: 'name' .*Bad_Name/);
  });

  test('usage errors: an unknown ref, exclusive formats, and --help', async () => {
    const bad = await cli(['plan', '--repo', repo, '--base', 'nope', '--app', 'app.ts']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error: 'nope' is not a commit in .*; pass a branch, tag or SHA \(git log --oneline shows them\)\n$/);
    const both = await cli(['plan', '--base', 'HEAD', '--json', '--markdown']);
    assert.equal(both.code, 1);
    assert.equal(both.stderr, 'error: --markdown and --json are exclusive; pick one\n');
    const help = await cli(['plan', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: ghosteam plan \[options\]/);
    const watchHelp = await cli(['watch', '--help']);
    assert.equal(watchHelp.code, 0);
    assert.match(watchHelp.stdout, /^Usage: ghosteam watch \[options\] <repo>/);
  });
});

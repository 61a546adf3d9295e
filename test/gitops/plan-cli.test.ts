// `ghosteam plan` end to end through the CLI (exit codes included), on real git repositories made
// in temp dirs, each side synthesized by the real synth in its own worktree and the head type-checked
// by the real TypeScript compiler: values old → new, the merge-base as a pull request diff has it,
// pins and who wrote them, type errors and apps that throw named by file:line, and bad input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { git } from './git-server.ts';
import { writebackMessage } from '../../gitops/lockfile.ts';

const root = resolve(import.meta.dirname, '../..');

interface AppOptions {
  epochs?: number;
  modelName?: string;
  /** Rollout.canary options besides steps. */
  rollout?: string;
  driftShare?: number;
  /** Extra statements at the end of the app function. */
  extra?: string;
  /** Extra Model props. */
  modelProps?: string;
}

function appSource(o: AppOptions = {}): string {
  return `import { Chart, type App } from 'cdk8s';
import { DriftMonitor, Feature, Model, Rollout } from '${root}/charts/index.ts';
import { Pipeline } from '${root}/pipelines/index.ts';
export default function (app: App): void {
  const chart = new Chart(app, 'demo', { namespace: 'ml' });
  const p = new Pipeline(chart, 'demo-train', {});
  const epochs = p.param('epochs', { type: 'number', default: ${o.epochs ?? 10} });
  const ingest = p.component('ingest', 'ingest', { params: { path: 'data.csv' } });
  p.component('train', 'train-tabular', { inputs: { train: ingest.output('dataset') }, params: { label: 'y', epochs } });
  const model = new Model(chart, 'demo', { registry: 'demo', ${o.modelName ? `name: '${o.modelName}', ` : ''}${o.modelProps ?? ''}rollout: Rollout.canary({ steps: [10, 50, 100], ${o.rollout ?? "interval: '1m'"} }) });
  new DriftMonitor(chart, 'demo-drift', { model, reference: 'data.csv', features: [Feature.numerical('x')], driftShare: ${o.driftShare ?? 0.3} });
${o.extra ?? ''}}
`;
}

const lock = (version: number) =>
  `${JSON.stringify({ models: { demo: { version, promotedAt: '2026-11-23T05:00:00.000Z', reason: 'drift', metrics: {} } } })}\n`;

function cli(args: string[], cwd = root): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [join(root, 'bin', 'ghosteam.mjs'), ...args], { cwd, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let repo: string;
let scratch: string;
const shas: Record<string, string> = {};

async function commit(name: string, files: Record<string, string>, message = name): Promise<void> {
  for (const [f, t] of Object.entries(files)) writeFileSync(join(repo, f), t);
  await git(repo, 'add', ...Object.keys(files));
  await git(repo, 'commit', '--quiet', '-m', message);
  shas[name] = await git(repo, 'rev-parse', 'HEAD');
}

before(async () => {
  repo = mkdtempSync(join(tmpdir(), 'ghosteam-plan-test-'));
  scratch = mkdtempSync(join(tmpdir(), 'ghosteam-plan-scratch-'));
  await git(repo, 'init', '--quiet', '--initial-branch=main');
  const policy = (interval: string, maxErrorRate: number, minRequests: number) =>
    `interval: '${interval}', maxErrorRate: ${maxErrorRate}, minRequests: ${minRequests}`;
  await commit('base', { 'package.json': '{ "type": "module" }\n', 'app.ts': appSource({ epochs: 10, rollout: policy('2m', 0.01, 200) }) });
  // The operator's write-back (trailer and all) pins v3, then someone pins v4 by hand with a retrain.
  await commit(
    'writeback',
    { 'models.lock.json': lock(3) },
    writebackMessage({ model: 'demo', version: 3, reason: 'drift', promotedAt: '2026-11-23T05:00:00.000Z' }, undefined),
  );
  await commit('change', { 'app.ts': appSource({ epochs: 20, rollout: policy('2m', 0.01, 200) }), 'models.lock.json': lock(4) }, 'more epochs; pin v4');
  // A pull request branch: loosens the canary and moves the pin back by hand...
  await git(repo, 'checkout', '--quiet', '-b', 'feature');
  await commit(
    'feature',
    { 'app.ts': appSource({ epochs: 20, rollout: policy('15s', 0.05, 50) }), 'models.lock.json': lock(1) },
    'loosen the canary; pin back to v1',
  );
  // ...while main moves on (drift share 0.3 → 0.2): not part of the branch's change.
  await git(repo, 'checkout', '--quiet', 'main');
  await commit('main-later', { 'app.ts': appSource({ epochs: 20, rollout: policy('2m', 0.01, 200), driftShare: 0.2 }) });
  await commit('invalid', { 'app.ts': appSource({ epochs: 20, rollout: policy('2m', 0.01, 200), driftShare: 0.2, modelName: 'Bad_Name' }) });
  // Type errors that synthesize fine, and an unused local only the app's own tsconfig.json forbids.
  await commit('typo', {
    'app.ts': appSource({
      epochs: 20,
      rollout: policy('2m', 0.01, 200),
      driftShare: 0.2,
      modelProps: 'replicaz: 3, ',
      extra: "  const typo: number = 'x';\n  void typo;\n  const unused = 1;\n",
    }),
    'tsconfig.json': `${JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', allowImportingTsExtensions: true, noEmit: true, skipLibCheck: true, types: ['node'], noUnusedLocals: true } })}\n`,
  });
  await commit('throws', {
    'app.ts': appSource({
      epochs: 20,
      rollout: policy('2m', 0.01, 200),
      driftShare: 0.2,
      extra: "  if (chart.node.id === 'demo') throw new Error('no data for demo');\n",
    }),
  });
  // A branch with no history in common with main.
  await git(repo, 'checkout', '--quiet', '--orphan', 'unrelated');
  await commit('unrelated', { 'app.ts': appSource() });
  await git(repo, 'checkout', '--quiet', 'main');
});
after(() => {
  rmSync(repo, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

// Two at a time: each plan runs two syntheses (and the type-checker) in child processes.
describe('ghosteam plan', { concurrency: 2 }, () => {
  test('a type-checked head: model, pin and pipeline changes with their values, as JSON, exit 0', async () => {
    const r = await cli(['plan', '--repo', repo, '--base', shas.base, '--head', shas.change, '--app', 'app.ts', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.ok, true);
    assert.equal(j.typechecked, true);
    assert.equal(j.base.commit, shas.base);
    assert.equal(j.base.tip, undefined, 'the base is an ancestor of the head: its tip is the merge-base');
    assert.equal(j.head.commit, shas.change);
    assert.equal(j.lockFile, 'models.lock.json');
    // v3 was pinned by the operator, v4 by hand: the pin's move counts as a hand edit.
    assert.deepEqual(
      j.plan.models.map((m: { headline: string }) => m.headline),
      [
        'demo: pinned at v4 in models.lock.json, edited by hand (only the operator writes pins, after a promotion): where v4 does not serve yet, it is rolled out by a canary at 10→50→100%; newer @latest versions are still canaried against it',
      ],
    );
    assert.deepEqual(j.plan.pins, [
      {
        model: 'demo',
        after: 4,
        writer: 'hand',
        commits: [shas.writeback.slice(0, 7), shas.change.slice(0, 7)],
        headline: `demo: none → v4, edited by hand in ${shas.change.slice(0, 7)} "more epochs; pin v4": only the operator writes pins, after a promotion`,
      },
    ]);
    assert.deepEqual(
      j.plan.pipelines.map((p: { headline: string }) => p.headline),
      ['demo-train: task train changed (epochs 10 → 20) → retrain'],
    );
    assert.deepEqual(j.plan.retrain, ['demo-train']);
    assert.match(j.plan.diff, /^-\s+value: "10"\n\+\s+value: "20"$/m);
    assert.ok(!j.plan.diff.includes('ghosteam.io/source-commit'), 'the commit annotation is no change');
  });

  test('an operator write-back alone: the pin is written by the operator, nothing rolls out', async () => {
    const r = await cli(['plan', '--repo', repo, '--base', shas.base, '--head', shas.writeback, '--no-typecheck']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /\nModels:\n {2}demo: pinned at v3 in models\.lock\.json, written by the operator after it promoted v3: v3 already serves, nothing rolls out; newer @latest versions are still canaried against it\n/,
    );
    assert.match(
      r.stdout,
      new RegExp(
        `\\nPins \\(models\\.lock\\.json\\):\\n {2}demo: none → v3, written by the operator after promoting v3 \\(${shas.writeback.slice(0, 7)}\\)\\n`,
      ),
    );
    assert.doesNotMatch(r.stdout, /Retraining on merge/);
  });

  test("a branch behind main: the merge-base is compared, main's later changes are not shown reversed; values in text and Markdown", async () => {
    const text = await cli(['plan', '--repo', repo, '--base', 'main', '--head', 'feature', '--no-typecheck']);
    assert.equal(text.code, 0, text.stderr);
    const mb = shas.change.slice(0, 7);
    assert.match(
      text.stdout,
      new RegExp(
        `^ghosteam plan: main at the merge-base ${mb}, 4 commits behind its tip ${shas.throws.slice(0, 7)} → feature \\(${shas.feature.slice(0, 7)}\\)\\n`,
      ),
    );
    assert.doesNotMatch(text.stdout, /driftShare/, "main's drift share change is not the branch's");
    assert.doesNotMatch(text.stdout, /canary of v1/);
    assert.match(
      text.stdout,
      /\n {2}demo: pin v4 → v1 in models\.lock\.json: no rollback: a pin behind the version serving never rolls the Model back; to serve v1, fix the version in the app \(registry: 'demo@1'\); rollout\.interval 2m → 15s, rollout\.maxErrorRate 0\.01 → 0\.05, rollout\.minRequests 200 → 50\n {4}registry {2}pin v4, new versions from @latest → pin v1, new versions from @latest\n/,
    );
    assert.match(
      text.stdout,
      new RegExp(`\\n {2}demo: v4 → v1, edited by hand in ${shas.feature.slice(0, 7)} "loosen the canary; pin back to v1": only the operator writes pins`),
    );
    const md = await cli(['plan', '--repo', repo, '--base', 'main', '--head', 'feature', '--no-typecheck', '--markdown']);
    assert.equal(md.code, 0, md.stderr);
    assert.match(
      md.stdout,
      /\n {2}\| Setting \| Before \| After \|\n {2}\| --- \| --- \| --- \|\n {2}\| registry \| pin v4, new versions from @latest \| pin v1, new versions from @latest \|\n/,
    );
    assert.match(
      md.stdout,
      /\n- demo: pin v4 → v1 in models\.lock\.json: no rollback: .*rollout\.interval 2m → 15s, rollout\.maxErrorRate 0\.01 → 0\.05, rollout\.minRequests 200 → 50\n/,
    );
    assert.match(md.stdout, /\n_compared with the merge-base, as a pull request diff is: the changes on main since then are not part of this plan_\n/);
  });

  test("--no-merge-base compares with the base's tip: main's later change then reads reversed", async () => {
    const r = await cli(['plan', '--repo', repo, '--base', shas['main-later'], '--head', 'feature', '--no-typecheck', '--no-merge-base', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.base.commit, shas['main-later']);
    assert.equal(j.base.tip, undefined);
    assert.deepEqual(
      j.plan.driftMonitors.map((d: { headline: string }) => d.headline),
      ['demo-drift: driftShare 0.2 → 0.3'],
    );
  });

  test('a type error fails the gate (exit 1) with file:line:col, under the app’s own tsconfig.json; --no-typecheck skips it', async () => {
    const r = await cli(['plan', '--repo', repo, '--base', shas['main-later'], '--head', shas.typo]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stdout,
      /✗ head fails type-checking, synthesis or validation:\n {2}app\.ts does not type-check \(3 errors, TypeScript \d+\.\d+\.\d+ with tsconfig\.json\):\n/,
    );
    assert.match(
      r.stdout,
      /\n {2}app\.ts:10:\d+ - error TS2353: Object literal may only specify known properties, and 'replicaz' does not exist in type 'ModelProps'\.\n/,
    );
    assert.match(r.stdout, /\n {2}app\.ts:12:9 - error TS2322: Type 'string' is not assignable to type 'number'\.\n/);
    assert.match(r.stdout, /\n {2}app\.ts:14:9 - error TS6133: 'unused' is declared but its value is never read\.\n/);
    assert.match(r.stdout, /\n {2}Fix the errors \(npx tsc --noEmit shows the same\), or pass --no-typecheck to plan without type-checking\.\n$/);
    const skip = await cli(['plan', '--repo', repo, '--base', shas['main-later'], '--head', shas.typo, '--no-typecheck', '--json']);
    assert.equal(skip.code, 0, skip.stdout);
    const j = JSON.parse(skip.stdout);
    assert.equal(j.typechecked, false);
    assert.deepEqual(j.plan.changed, [], 'the type errors change nothing the synth emits');
  });

  test('an invalid head and an app that throws fail the gate (exit 1), naming the place', async () => {
    const invalid = await cli(['plan', '--repo', repo, '--base', shas['main-later'], '--head', shas.invalid, '--markdown', '--no-typecheck']);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stdout, /^### ghosteam plan: `[0-9a-f]{40} \([0-9a-f]{7}\)` → `[0-9a-f]{40} \([0-9a-f]{7}\)`/);
    assert.match(invalid.stdout, /:x: \*\*The head fails type-checking, synthesis or validation; this change cannot be merged as is\.\*\*/);
    assert.match(invalid.stdout, /demo\/demo: 'name' .*Bad_Name/);
    const throws = await cli(['plan', '--repo', repo, '--base', shas['main-later'], '--head', shas.throws, '--no-typecheck']);
    assert.equal(throws.code, 1);
    assert.match(throws.stdout, /\n {2}app\.ts:12:\d+: no data for demo\n {2}Fix the app there \(ghosteam synth app\.ts reproduces it\)\.\n$/);
  });

  test('bad input: no repository, no directory, an unknown ref, no shared history, a shallow clone; exclusive formats; --help', async () => {
    const bad = await cli(['plan', '--repo', repo, '--base', 'nope', '--app', 'app.ts']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error: 'nope' is not a commit in .*; pass a branch, tag or SHA \(git log --oneline shows them\)\n$/);
    const notRepo = join(scratch, 'plain');
    mkdirSync(notRepo);
    const noGit = await cli(['plan', '--repo', notRepo, '--base', 'main']);
    assert.equal(noGit.code, 1);
    assert.equal(noGit.stderr, `error: ${notRepo} is not inside a git repository; run ghosteam plan from a checkout (or pass --repo)\n`);
    const missing = await cli(['plan', '--repo', join(scratch, 'nowhere'), '--base', 'main']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `error: ${join(scratch, 'nowhere')} does not exist; pass --repo with a directory inside a git checkout\n`);
    const unrelated = await cli(['plan', '--repo', repo, '--base', 'main', '--head', 'unrelated']);
    assert.equal(unrelated.code, 1);
    assert.match(
      unrelated.stderr,
      /^error: 'main' and 'unrelated' share no history in .* \(no merge-base\); pass --no-merge-base to compare with the tip of main\n$/,
    );
    const shallow = join(scratch, 'shallow');
    await git(scratch, 'clone', '--quiet', '--depth=1', '--no-single-branch', `file://${repo}`, shallow);
    const s = await cli(['plan', '--repo', shallow, '--base', 'origin/main', '--head', 'origin/feature']);
    assert.equal(s.code, 1);
    assert.match(
      s.stderr,
      /^error: 'origin\/main' and 'origin\/feature' have no merge-base in this shallow clone of .*; fetch their history \(git fetch --unshallow, or actions\/checkout with fetch-depth: 0\), or pass --no-merge-base to compare with the tip of origin\/main\n$/,
    );
    const both = await cli(['plan', '--base', 'HEAD', '--json', '--markdown']);
    assert.equal(both.code, 1);
    assert.equal(both.stderr, 'error: --markdown and --json are exclusive; pick one\n');
    const help = await cli(['plan', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: ghosteam plan \[options\]/);
    assert.match(help.stdout, /--no-typecheck/);
    assert.match(help.stdout, /--no-merge-base/);
    const watchHelp = await cli(['watch', '--help']);
    assert.equal(watchHelp.code, 0);
    assert.match(watchHelp.stdout, /^Usage: ghosteam watch \[options\] <repo>/);
  });
});

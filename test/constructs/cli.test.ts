/** synthApp end to end and the `ghosteam synth` / `ghosteam validate` commands (spawned, as a user runs them). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthApp } from '../../charts/synth.ts';

const root = join(import.meta.dirname, '..', '..');
const example = join(root, 'examples', 'fraud-detection', 'app.ts');
const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin', 'ghosteam.mjs'), ...args], { encoding: 'utf8', cwd: root });

describe('synthApp and the CLI', () => {
  test('the example synthesizes deterministically, with source commit and construct paths on every object', async () => {
    const a = await synthApp(example, { sourceCommit: 'a'.repeat(40) });
    const b = await synthApp(example, { sourceCommit: 'a'.repeat(40) });
    assert.deepEqual(
      a.files.map((f) => f.name),
      ['fraud-detection.yaml', 'ghosteam-crds.yaml'],
    );
    assert.equal(a.files[0].yaml, b.files[0].yaml);
    assert.equal(a.files[1].yaml, b.files[1].yaml);
    for (const o of a.files[0].objects) {
      assert.equal(o.metadata.annotations?.['ghosteam.io/source-commit'], 'a'.repeat(40));
      assert.match(o.metadata.annotations?.['ghosteam.io/construct-path'] ?? '', /^fraud-detection\//);
    }
  });

  test('snapshot of the example (UPDATE_SNAPSHOTS=1 to refresh)', async () => {
    const { files } = await synthApp(example, { sourceCommit: false });
    const snap = join(import.meta.dirname, '__snapshots__', 'fraud-detection.yaml');
    if (process.env.UPDATE_SNAPSHOTS || !existsSync(snap)) {
      mkdirSync(join(import.meta.dirname, '__snapshots__'), { recursive: true });
      writeFileSync(snap, files[0].yaml);
    }
    assert.equal(files[0].yaml, readFileSync(snap, 'utf8'));
  });

  test('writes atomically; nothing is written when validation fails; stale files synth wrote are removed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-synth-'));
    const repo = (p: string) => join(root, p);
    try {
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
      const app = join(dir, 'app.ts');
      const body = (ns: string, name: string) => `
import { Chart } from '${repo('node_modules/cdk8s/lib/index.js')}';
import { Pipeline } from '${repo('pipelines/index.ts')}';
export default (app: any) => { const c = new Chart(app, 'c', { namespace: '${ns}' }); new Pipeline(c, '${name}').task('a', { image: 'x:1' }); };
`;
      writeFileSync(app, body('ml', 'p'));
      const out = join(dir, 'dist');
      mkdirSync(out);
      writeFileSync(join(out, 'keep.txt'), 'user file');
      const r = await synthApp(app, { outDir: out, sourceCommit: false });
      assert.equal(r.outDir, out);
      assert.deepEqual(readdirSync(out).sort(), ['.ghosteam-synth.json', 'c.yaml', 'ghosteam-crds.yaml', 'keep.txt']);
      const before = readFileSync(join(out, 'c.yaml'), 'utf8');
      // An invalid app (duplicate object names across charts): synth throws, files unchanged.
      writeFileSync(
        app,
        `
import { Chart } from '${repo('node_modules/cdk8s/lib/index.js')}';
import { Pipeline } from '${repo('pipelines/index.ts')}';
export default (app: any) => { for (const id of ['c', 'd']) new Pipeline(new Chart(app, id, { namespace: 'ml' }), 'same').task('a', { image: 'x:1' }); };
`,
      );
      const res = cli('synth', app, '--out', out, '--no-source-commit');
      assert.equal(res.status, 1);
      assert.equal(res.stderr, "error: d/same: 'metadata.name' 'same' is also used by another WorkflowTemplate (c/same); give one of them another name\n");
      assert.equal(readFileSync(join(out, 'c.yaml'), 'utf8'), before);
      assert.ok(!existsSync(join(out, 'd.yaml')));
      assert.deepEqual(readdirSync(dir).sort(), ['app.ts', 'dist', 'package.json'], 'no temp dir left behind');
      // A valid app with another chart id replaces c.yaml by e.yaml and keeps the user's file.
      writeFileSync(app, body('ml', 'p').replace("new Chart(app, 'c'", "new Chart(app, 'e'"));
      await synthApp(app, { outDir: out, sourceCommit: false });
      assert.deepEqual(readdirSync(out).sort(), ['.ghosteam-synth.json', 'e.yaml', 'ghosteam-crds.yaml', 'keep.txt']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('ghosteam synth + validate on the example; validate reports problems with file and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-cli-'));
    try {
      const s = cli('synth', 'examples/fraud-detection/app.ts', '--out', dir);
      assert.equal(s.status, 0, s.stderr);
      assert.match(
        s.stdout,
        /^wrote .*fraud-detection\.yaml \(1 WorkflowTemplate, 1 CronWorkflow, 1 InferenceService, 1 NetworkPolicy, 1 Model, 1 ServingRuntime, 1 DriftMonitor\)\n/,
      );
      const v = cli('validate', dir);
      assert.equal(v.status, 0, v.stderr);
      assert.equal(v.stdout, '12 objects in 2 files: valid\n');
      const file = join(dir, 'fraud-detection.yaml');
      const text = readFileSync(file, 'utf8').replace('strategy: canary', 'strategy: sometimes');
      writeFileSync(file, text + '---\nkind: [oops\n');
      // yaml reports the line where it gave up: the one after the unclosed '[' (the end of the file).
      const badLine = (text + '---\nkind: [oops\n').split('\n').indexOf('kind: [oops') + 2;
      const bad = cli('validate', file);
      assert.equal(bad.status, 1);
      const lines = bad.stderr.trim().split('\n');
      assert.equal(
        lines[0].replace(/^.*?fraud-detection\.yaml/, 'F'),
        `F:${badLine}: is not valid YAML (Flow sequence in block collection must be sufficiently indented and end with a ]); fix the syntax`,
      );
      assert.equal(lines[1], `fraud-detection/fraud: 'spec.rollout.strategy' must be one of "canary", "direct"`);
      assert.match(lines[2], /^2 problems in /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--help exits 0 and starts with Usage:', () => {
    for (const cmd of ['synth', 'validate']) {
      const r = cli(cmd, '--help');
      assert.equal(r.status, 0);
      assert.match(r.stdout, new RegExp(`^Usage: ghosteam ${cmd} `));
    }
  });

  test('a missing app and a bad default export are clear errors', () => {
    assert.equal(cli('synth', 'nope.ts').stderr, 'error: app file nope.ts does not exist; pass the path of your app.ts\n');
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-bad-'));
    try {
      writeFileSync(join(dir, 'app.mts'), 'export const x = 1;\n');
      const r = cli('synth', join(dir, 'app.mts'));
      assert.equal(r.status, 1);
      assert.equal(
        r.stderr,
        `error: ${join(dir, 'app.mts')}: the default export must be a cdk8s App or a function (app: App) => void; got no default export\n`,
      );
      writeFileSync(join(dir, 'app.ts'), 'export default () => {};\n');
      assert.equal(
        cli('synth', join(dir, 'app.ts')).stderr,
        `error: ${join(dir, 'app.ts')}: a TypeScript app must load as an ES module; add "type": "module" to the package.json next to it (or create one), or rename it to .mts\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

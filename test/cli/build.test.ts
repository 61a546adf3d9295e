/**
 * The compiled build (scripts/build.mjs → build/) and how bin/ghosteam.mjs chooses between it and
 * the TypeScript sources: only a build made from exactly the sources on disk is used, and the CLI
 * behaves the same either way.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error a plain .mjs module without type declarations
import { buildIsFresh, MANIFEST, sourceSnapshot } from '../../bin/build-state.mjs';

const root = join(import.meta.dirname, '..', '..');
const example = join(root, 'examples', 'fraud-detection', 'app.ts');
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [join(root, 'bin', 'ghosteam.mjs'), ...args], { encoding: 'utf8', cwd: root, env: { ...process.env, ...env } });

describe('build freshness', () => {
  const fake = () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-build-'));
    mkdirSync(join(dir, 'charts', 'crds'), { recursive: true });
    mkdirSync(join(dir, 'build'));
    writeFileSync(join(dir, 'charts', 'a.ts'), 'export const a = 1;\n');
    writeFileSync(join(dir, 'charts', 'crds', 'b.ts'), 'export const b = 2;\n');
    writeFileSync(join(dir, 'charts', 'a.test.ts'), '// not a source of the build\n');
    const record = () => writeFileSync(join(dir, 'build', MANIFEST), JSON.stringify({ files: sourceSnapshot(dir) }));
    return { dir, record };
  };

  test('the snapshot lists the build sources (nested, .ts and .mjs), not tests', () => {
    const { dir } = fake();
    try {
      writeFileSync(join(dir, 'charts', 'entry.mjs'), '');
      assert.deepEqual(Object.keys(sourceSnapshot(dir)).sort(), ['charts/a.ts', 'charts/crds/b.ts', 'charts/entry.mjs']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('fresh only while every source is as recorded: an edit, a new file, a removed file, a dependency change or no manifest make it stale', () => {
    const { dir, record } = fake();
    try {
      assert.equal(buildIsFresh(dir), false, 'no manifest yet');
      record();
      assert.equal(buildIsFresh(dir), true);
      writeFileSync(join(dir, 'charts', 'a.test.ts'), '// tests do not count\n');
      assert.equal(buildIsFresh(dir), true);

      const later = new Date(Date.now() + 5000);
      utimesSync(join(dir, 'charts', 'crds', 'b.ts'), later, later);
      assert.equal(buildIsFresh(dir), false, 'an edited source');
      record();
      writeFileSync(join(dir, 'charts', 'c.ts'), 'export const c = 3;\n');
      assert.equal(buildIsFresh(dir), false, 'a new source');
      record();
      rmSync(join(dir, 'charts', 'c.ts'));
      assert.equal(buildIsFresh(dir), false, 'a removed source');
      record();
      // The vendored bundles come from node_modules: a dependency change (the lockfile) counts too.
      writeFileSync(join(dir, 'package-lock.json'), '{"lockfileVersion": 3}\n');
      assert.equal(buildIsFresh(dir), false, 'a new lockfile');
      record();
      assert.equal(buildIsFresh(dir), true);
      writeFileSync(join(dir, 'package-lock.json'), '{"lockfileVersion": 3, "packages": {}}\n');
      assert.equal(buildIsFresh(dir), false, 'a changed lockfile');
      record();
      writeFileSync(join(dir, 'build', MANIFEST), '{"files": ');
      assert.equal(buildIsFresh(dir), false, 'a torn manifest');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the CLI, compiled and from the sources', () => {
  test('--verbose says which it runs: the build while it is fresh (npm test builds it), the sources when told', () => {
    const fresh = buildIsFresh(root) as boolean;
    // npm test builds right before the tests; only a source edited since then makes it stale.
    if (process.env.CI) assert.equal(fresh, true, 'CI runs npm test, which builds: build/ must be fresh');
    const compiled = cli(['--version', '--verbose']);
    assert.equal(compiled.status, 0, compiled.stderr);
    assert.equal(compiled.stdout.trim(), '0.1.0');
    assert.match(compiled.stderr, fresh ? /running the compiled build/ : /running from the TypeScript sources \(build\/ is missing or older/);
    const sources = cli(['--version', '--verbose'], { GHOSTEAM_FROM_SOURCE: '1' });
    assert.equal(sources.status, 0, sources.stderr);
    assert.match(sources.stderr, /running from the TypeScript sources \(GHOSTEAM_FROM_SOURCE=1\)/);
  });

  test('synth writes the same YAML either way', () => {
    const a = cli(['synth', example, '--stdout', '--no-source-commit']);
    const b = cli(['synth', example, '--stdout', '--no-source-commit'], { GHOSTEAM_FROM_SOURCE: '1' });
    assert.equal(a.status, 0, a.stderr);
    assert.equal(b.status, 0, b.stderr);
    assert.match(a.stdout, /kind: WorkflowTemplate/);
    assert.match(a.stdout, /ghosteam\.io\/construct-path: fraud-detection\//);
    assert.equal(a.stdout, b.stdout);
  });

  test("an app's imports of ghosteam's sources get the modules the compiled CLI already loaded, not a second copy", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-build-app-'));
    try {
      writeFileSync(join(dir, 'package.json'), '{"type": "module"}\n');
      writeFileSync(
        join(dir, 'app.ts'),
        [
          "import { writeFileSync } from 'node:fs';",
          `import { RUNNING_COMPILED } from ${JSON.stringify(join(root, 'api', 'own-files.ts'))};`,
          'export default function (): void {',
          '  writeFileSync(process.env.GHOSTEAM_TEST_OUT!, JSON.stringify({ compiled: RUNNING_COMPILED }));',
          '}',
          '',
        ].join('\n'),
      );
      const seen = (env: NodeJS.ProcessEnv) => {
        const out = join(dir, `seen-${Object.keys(env).length}.json`);
        const r = spawnSync(process.execPath, [join(root, 'bin', 'ghosteam.mjs'), 'synth', 'app.ts', '--stdout', '--no-crds'], {
          encoding: 'utf8',
          cwd: dir,
          env: { ...process.env, ...env, GHOSTEAM_TEST_OUT: out },
        });
        assert.equal(r.status, 0, r.stderr);
        return JSON.parse(readFileSync(out, 'utf8')) as { compiled: boolean };
      };
      // Compiled, the app's `…/api/own-files.ts` resolves to build/api/own-files.js.
      assert.deepEqual(seen({}), { compiled: buildIsFresh(root) as boolean });
      assert.deepEqual(seen({ GHOSTEAM_FROM_SOURCE: '1' }), { compiled: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the vendored bundles', () => {
  test('the compiled build imports TypeBox and the Argo models from build/vendor, and they are the real packages', async () => {
    if (!buildIsFresh(root)) return assert.ok(!process.env.CI, 'CI builds before the tests');
    const compiled = readFileSync(join(root, 'build', 'charts', 'validate.js'), 'utf8');
    assert.match(compiled, /from '\.\.\/vendor\/argo-workflows\.js'/);
    assert.doesNotMatch(compiled, /from '@kubernetes-models\//);
    const vendored = (await import(join(root, 'build', 'vendor', 'argo-workflows.js'))) as { WorkflowTemplate: new (o: unknown) => { validate(): void } };
    const bad = { apiVersion: 'argoproj.io/v1alpha1', kind: 'WorkflowTemplate', metadata: { name: 'x' }, spec: { templates: 'not a list' } };
    assert.throws(() => new vendored.WorkflowTemplate(bad).validate(), /templates/);
    const { Type } = (await import(join(root, 'build', 'vendor', 'typebox.js'))) as typeof import('@sinclair/typebox');
    assert.deepEqual(JSON.parse(JSON.stringify(Type.Object({ a: Type.Integer({ minimum: 1 }) }))), {
      type: 'object',
      properties: { a: { type: 'integer', minimum: 1 } },
      required: ['a'],
    });
  });
});

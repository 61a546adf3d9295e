// Apps anywhere: `ghosteam init` scaffolds an app outside this checkout that installs ghosteam from a
// packed tarball of this checkout (npm registry for the rest, as a user gets it), then synthesizes
// and runs at once; every import the docs show is exported; a missing package gets an install hint.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GHOSTEAM_EXPORTS, missingPackageHint } from '../../api/app.ts';
import { sampleCsv, scaffoldFiles } from '../../cli/scaffold.ts';
import { defaultGhosteamSpec } from '../../cli/commands/init.ts';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'ghosteam.mjs');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string>; dependencies: Record<string, string> };

function docImports(): string[] {
  const files = [
    'README.md',
    'ARCHITECTURE.md',
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
    'components/drift/README.md',
    'pipelines/local/index.ts',
  ];
  const found = new Set<string>();
  for (const f of files) {
    if (!existsSync(join(root, f))) continue;
    for (const m of readFileSync(join(root, f), 'utf8').matchAll(/from '(ghosteam\/[a-z/-]+)'/g)) found.add(m[1]);
  }
  return [...found].sort();
}

/** Every value name the docs import (`import { A, type B } from 'ghosteam/x'`), with its module; type-only names are left out (they are gone at run time). */
function docImportedNames(): Array<{ module: string; name: string; file: string }> {
  const out: Array<{ module: string; name: string; file: string }> = [];
  for (const f of [
    'README.md',
    'ARCHITECTURE.md',
    ...readdirSync(join(root, 'docs'))
      .filter((x) => x.endsWith('.md'))
      .map((x) => `docs/${x}`),
    'components/drift/README.md',
  ]) {
    if (!existsSync(join(root, f))) continue;
    for (const m of readFileSync(join(root, f), 'utf8').matchAll(/import \{([^}]+)\} from '(ghosteam\/[a-z/-]+)'/g)) {
      for (const part of m[1].split(',').map((x) => x.trim())) {
        if (!part || part.startsWith('type ')) continue;
        out.push({ module: m[2], name: part.split(/\s+as\s+/)[0], file: f });
      }
    }
  }
  return out;
}

describe('package exports', () => {
  test('every import the docs show is exported, and every export exists', () => {
    const exported = Object.keys(pkg.exports)
      .filter((k) => k !== './package.json')
      .map((k) => `ghosteam/${k.slice(2)}`);
    assert.deepEqual([...exported].sort(), [...GHOSTEAM_EXPORTS].sort());
    for (const i of docImports()) assert.ok(exported.includes(i), `${i} is shown in the docs but not in package.json exports`);
    assert.ok(docImports().includes('ghosteam/components/drift') && docImports().includes('ghosteam/pipelines/local'));
    for (const [k, v] of Object.entries(pkg.exports)) assert.ok(existsSync(join(root, v)), `${k} → ${v} does not exist`);
  });

  test('every name the docs import is exported by that module (the README showed ArgoCdApps, which ghosteam/charts did not export)', async () => {
    const names = docImportedNames();
    assert.ok(names.some((n) => n.module === 'ghosteam/charts' && n.name === 'ArgoCdApps'));
    for (const { module, name, file } of names) {
      const mod = (await import(join(root, pkg.exports[`./${module.slice('ghosteam/'.length)}`]))) as Record<string, unknown>;
      assert.ok(name in mod, `${file} imports ${name} from '${module}', which does not export it`);
    }
  });

  test("npm reads this repository's .npmrc without an unknown key, and onnxruntime-node's CUDA download is denied by allowScripts", () => {
    const npmrc = readFileSync(join(root, '.npmrc'), 'utf8');
    assert.doesNotMatch(npmrc, /onnxruntime/);
    const r = spawnSync('npm', ['config', 'get', 'save-exact'], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /Unknown (project|user|env) config/);
    const allow = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> }).allowScripts;
    assert.equal(allow?.['onnxruntime-node'], false);
    const pending = spawnSync('npm', ['approve-scripts', '--allow-scripts-pending'], { cwd: root, encoding: 'utf8' });
    assert.equal(pending.status, 0, pending.stderr);
    assert.match(pending.stdout, /No packages with unreviewed install scripts/);
  });

  test("a missing package is an install hint, not Node's raw error", () => {
    assert.equal(
      missingPackageHint("Cannot find package 'cdk8s' imported from /home/u/app/app.ts", 'ERR_MODULE_NOT_FOUND', '/home/u/app'),
      `imports package 'cdk8s', which is not installed for the app; run \`npm install cdk8s@${pkg.dependencies.cdk8s} constructs@${pkg.dependencies.constructs}\` in /home/u/app (an app needs ghosteam, cdk8s and constructs in its package.json; \`npx ghosteam init my-app\` scaffolds one)`,
    );
    assert.match(
      missingPackageHint("Cannot find package 'ghosteam' imported from /a/app.ts", 'ERR_MODULE_NOT_FOUND', '/a')!,
      /run `npm install ghosteam` in \/a/,
    );
    assert.match(
      missingPackageHint(
        `Package subpath './nope' is not defined by "exports" in /a/node_modules/ghosteam/package.json imported from /a/app.ts`,
        'ERR_PACKAGE_PATH_NOT_EXPORTED',
        '/a',
      )!,
      /^imports 'ghosteam\/nope', which that package does not export; .*ghosteam exports ghosteam\/pipelines, ghosteam\/pipelines\/local/,
    );
    assert.equal(missingPackageHint('something else', 'ERR_X', '/a'), undefined);
  });

  test('synth of an app whose packages are not installed names the install command (real CLI)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-nopkg-'));
    try {
      writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
      writeFileSync(join(dir, 'app.ts'), "import { Chart } from 'cdk8s';\nexport default (app: any) => { new Chart(app, 'x'); };\n");
      const r = spawnSync(process.execPath, [bin, 'synth', join(dir, 'app.ts'), '--out', join(dir, 'dist')], { encoding: 'utf8', cwd: dir });
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        new RegExp(`imports package 'cdk8s', which is not installed for the app; run \`npm install cdk8s@${pkg.dependencies.cdk8s} constructs@`),
      );
      assert.doesNotMatch(r.stderr, /ERR_MODULE_NOT_FOUND/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('scaffold', () => {
  test('the files are a pure function of the options; sample data is seeded', () => {
    const o = { name: 'churn-app', ghosteam: '^0.1.0', cdk8s: '2.70.106', constructs: '10.8.1' };
    assert.deepEqual(scaffoldFiles(o), scaffoldFiles(o));
    const files = scaffoldFiles(o);
    assert.deepEqual(Object.keys(files).sort(), ['.gitignore', 'README.md', 'app.ts', 'data/sample.csv', 'package.json', 'tsconfig.json']);
    const p = JSON.parse(files['package.json']) as { type: string; dependencies: Record<string, string> };
    assert.equal(p.type, 'module');
    assert.deepEqual(p.dependencies, { cdk8s: '2.70.106', constructs: '10.8.1', ghosteam: '^0.1.0' });
    assert.deepEqual((p as { allowScripts?: unknown }).allowScripts, { 'onnxruntime-node': false });
    assert.equal(sampleCsv(), sampleCsv());
    assert.equal(sampleCsv().trim().split('\n').length, 801);
    assert.equal(defaultGhosteamSpec('/home/u/proj/node_modules/ghosteam', '0.1.0'), '^0.1.0');
    assert.equal(defaultGhosteamSpec('/home/u/ghosteam', '0.1.0'), 'file:/home/u/ghosteam');
  });
});

describe('ghosteam init, for real outside the checkout', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ghosteam-init-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('init → npm install (ghosteam from a packed tarball) → synth and run succeed; documented subpath imports load', { timeout: 15 * 60_000 }, () => {
    // The embedded default, as a new user starts: no MLFLOW_TRACKING_URI (CI sources the peers'
    // environment, which points register at the MLflow peer), so the model lands in .ghosteam/registry.
    const { MLFLOW_TRACKING_URI: _mlflow, ...inherited } = process.env;
    const env = { ...inherited, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_audit: 'false', npm_config_fund: 'false', FORCE_COLOR: '0' };
    const tgz = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: root, env, encoding: 'utf8' })
      .trim()
      .split('\n')
      .at(-1)!;
    const init = spawnSync(process.execPath, [bin, 'init', 'my-app', '--ghosteam', `file:${join(dir, tgz)}`], { cwd: dir, env, encoding: 'utf8' });
    assert.equal(init.status, 0, init.stderr + init.stdout);
    const app = join(dir, 'my-app');
    const x = (args: string[]) => spawnSync('npx', ['--no-install', 'ghosteam', ...args], { cwd: app, env, encoding: 'utf8' });
    const synth = x(['synth', 'app.ts', '--out', 'dist']);
    assert.equal(synth.status, 0, synth.stderr);
    assert.match(readFileSync(join(app, 'dist', 'my-app.yaml'), 'utf8'), /kind: WorkflowTemplate[\s\S]*kind: InferenceService/);
    const run = x(['run', 'app.ts']);
    assert.equal(run.status, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /Succeeded/);
    assert.ok(readdirSync(join(app, '.ghosteam', 'registry')).length > 0, 'the model was registered');
    // The subpaths the docs import, from the installed package, as a user's TypeScript loads them.
    writeFileSync(
      join(app, 'imports.ts'),
      "import { detectDrift } from 'ghosteam/components/drift';\nimport { runPipeline } from 'ghosteam/pipelines/local';\nimport { readDataset } from 'ghosteam/components/dataset';\nconsole.log(typeof detectDrift, typeof runPipeline, typeof readDataset);\n",
    );
    const imp = spawnSync(process.execPath, ['--import', 'tsx', 'imports.ts'], { cwd: app, env, encoding: 'utf8' });
    assert.equal(imp.status, 0, imp.stderr);
    assert.equal(imp.stdout.trim(), 'function function function');
  });
});

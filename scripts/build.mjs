#!/usr/bin/env node
// `npm run build` (also run by `npm install`, as the prepare script): compiles the product's
// TypeScript (tsconfig.build.json) into build/, which bin/ghosteam.mjs runs instead of loading every
// source through tsx: a CLI start-up about twice as fast. The sources stay the truth: the build
// records the sources it was made from (build/.sources.json) and the CLI uses it only while they
// match. Type errors are `npm run typecheck`'s business; this only emits.
//
// Two dependencies ship as hundreds of small ES modules (TypeBox ~200, the Argo Workflows models
// ~230 with kubernetes-models), and loading each costs more than the CLI's own work: the build
// bundles them with esbuild into build/vendor/ and points the compiled imports there (VENDOR).
//
// The new build is written beside the old one and swapped in with renames, so a CLI started
// meanwhile sees the old build or the new one, never a half-written one.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILD_DIR, buildIsFresh, MANIFEST, SOURCE_DIRS, sourceSnapshot } from '../bin/build-state.mjs';

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

/** Bundles in build/vendor/: the module specifiers the compiled code imports them by, and the entry. */
const VENDOR = {
  'typebox.js': {
    specifiers: ['@sinclair/typebox'],
    entry: "export * from '@sinclair/typebox';",
  },
  'argo-workflows.js': {
    specifiers: [
      '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowTemplate',
      '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/CronWorkflow',
    ],
    entry: [
      "export { WorkflowTemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowTemplate';",
      "export { CronWorkflow } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/CronWorkflow';",
    ].join('\n'),
  },
};

async function vendor(out) {
  const esbuild = await import('esbuild');
  for (const [file, v] of Object.entries(VENDOR)) {
    await esbuild.build({
      stdin: { contents: v.entry, resolveDir: root, loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      outfile: join(out, 'vendor', file),
      logLevel: 'error',
      // CommonJS dependencies inside the bundle (ajv's formats) still call require().
      banner: { js: "import { createRequire as __ghosteamCreateRequire } from 'node:module'; const require = __ghosteamCreateRequire(import.meta.url);" },
    });
  }
  // Point the compiled imports of those specifiers at the bundles.
  const rewrites = Object.entries(VENDOR).flatMap(([file, v]) => v.specifiers.map((spec) => ({ spec, file })));
  for (const e of readdirSync(out, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith('.js') || (e.parentPath ?? e.path).startsWith(join(out, 'vendor'))) continue;
    const path = join(e.parentPath ?? e.path, e.name);
    const before = readFileSync(path, 'utf8');
    let text = before;
    for (const { spec, file } of rewrites) {
      let rel = relative(dirname(path), join(out, 'vendor', file));
      if (!rel.startsWith('.')) rel = `./${rel}`;
      text = text.replaceAll(`from '${spec}'`, `from '${rel}'`).replaceAll(`from "${spec}"`, `from "${rel}"`);
    }
    if (text !== before) writeFileSync(path, text);
  }
}
const quiet = process.argv.includes('--quiet');
if (!process.argv.includes('--force') && buildIsFresh(root)) {
  if (!quiet) console.log('ghosteam build: build/ matches the sources (--force rebuilds)');
  process.exit(0);
}

let tsc;
try {
  tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  // An install without dev dependencies: the CLI runs from the sources, as it can always do.
  console.error('ghosteam build: typescript is not installed (a production install?); the CLI will load its sources through tsx');
  process.exit(0);
}

// Snapshot before compiling: a source edited during the compile makes the build stale, not wrong.
const snapshot = sourceSnapshot(root);
const tmp = join(root, `${BUILD_DIR}.tmp-${process.pid}`);
const old = join(root, `${BUILD_DIR}.old-${process.pid}`);
const started = performance.now();
try {
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', tmp], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    console.error(`ghosteam build: tsc exited ${r.status}; build/ is unchanged`);
    process.exit(1);
  }
  mkdirSync(join(tmp, 'vendor'), { recursive: true });
  await vendor(tmp);
  // Files the compiled code loads by URL that tsc does not emit: the worker-thread entries.
  for (const rel of Object.keys(snapshot)) {
    if (rel.endsWith('.mjs')) cpSync(join(root, rel), join(tmp, rel));
  }
  writeFileSync(join(tmp, MANIFEST), `${JSON.stringify({ files: snapshot }, null, 1)}\n`);
  const dest = join(root, BUILD_DIR);
  if (existsSync(dest)) renameSync(dest, old);
  renameSync(tmp, dest);
} finally {
  rmSync(tmp, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
}
if (!quiet)
  console.log(
    `ghosteam build: ${Object.keys(snapshot).length} sources from ${SOURCE_DIRS.join(', ')} → ${BUILD_DIR}/ in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

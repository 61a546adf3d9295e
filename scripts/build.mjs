#!/usr/bin/env node
// `npm run build` (also run by `npm install`, as the prepare script): compiles the product's
// TypeScript (tsconfig.build.json) into build/, which bin/ghosteam.mjs runs instead of loading every
// source through tsx: a CLI start-up about twice as fast. The sources stay the truth: the build
// records the sources it was made from (build/.sources.json) and the CLI uses it only while they
// match. Type errors are `npm run typecheck`'s business; this only emits.
//
// The new build is written beside the old one and swapped in with renames, so a CLI started
// meanwhile sees the old build or the new one, never a half-written one.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { BUILD_DIR, buildIsFresh, MANIFEST, SOURCE_DIRS, sourceSnapshot } from '../bin/build-state.mjs';

const root = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
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
if (!quiet) console.log(`ghosteam build: ${Object.keys(snapshot).length} sources from ${SOURCE_DIRS.join(', ')} → ${BUILD_DIR}/ in ${((performance.now() - started) / 1000).toFixed(1)} s`);

#!/usr/bin/env node
// The test command: type-check, build, then run every *.test.ts under test/ with node's own test runner.
// Usage: npm test [-- <path-substring> ...]   (filters test files by substring)
//        npm run test:cluster [-- <substring>]  (only test/cluster/: needs cluster:up and images:build)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// --cluster: the cluster suite (test/cluster/), which needs `npm run cluster:up` and
// `npm run images:build` (root, containers); the default run leaves it out.
const cluster = process.argv.includes('--cluster');
const filters = process.argv.slice(2).filter((a) => a !== '--cluster');

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const files = walk(join(root, 'test'))
  .sort()
  .filter((f) => f.startsWith('test/cluster/') === cluster)
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(', ')}`);
  process.exit(1);
}

if (!process.env.GHOSTEAM_SKIP_TYPECHECK) {
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  if (tsc.status !== 0) {
    console.error('type-check failed');
    process.exit(tsc.status ?? 1);
  }
}

// Lint (typescript-eslint, type-aware; eslint.config.mjs) and format (prettier; .prettierrc) on a
// whole run and in CI, so the tree stays clean; a filtered run during development skips them
// (`npm run lint`, `npm run format` do them alone). GHOSTEAM_SKIP_LINT=1 skips them too.
if ((filters.length === 0 || process.env.CI === 'true') && !process.env.GHOSTEAM_SKIP_LINT) {
  const bin = (name, file) => join(root, 'node_modules', name, file);
  const lint = spawnSync(process.execPath, [bin('eslint', 'bin/eslint.js'), '--max-warnings=0', '.'], { cwd: root, stdio: 'inherit' });
  if (lint.status !== 0) {
    console.error('lint failed: `npm run lint` shows the findings; `npx eslint --fix .` fixes many');
    process.exit(lint.status ?? 1);
  }
  const fmt = spawnSync(process.execPath, [bin('prettier', 'bin/prettier.cjs'), '--check', '--log-level=warn', '.'], { cwd: root, stdio: 'inherit' });
  if (fmt.status !== 0) {
    console.error('format check failed: `npm run format` formats the files listed above');
    process.exit(fmt.status ?? 1);
  }
}

// The CLI runs the compiled build when it matches the sources (bin/ghosteam.mjs): build it, so the
// CLI tests run what users run.
const build = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  console.error('build failed');
  process.exit(build.status ?? 1);
}

const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${cluster ? 1 : 2}`, '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: process.env,
});
process.exit(r.status ?? 1);

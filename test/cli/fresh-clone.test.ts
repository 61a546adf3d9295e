// The README's commands on a fresh clone: the tracked files only (no data/, no .ghosteam/, no build),
// with this checkout's node_modules. `ghosteam run examples/fraud-detection/app.ts` must succeed
// without `npm run demo` having written the example data first: the app generates it, seeded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { EXAMPLE_ROWS, EXAMPLE_SEED, generate, toCsv } from '../../examples/fraud-detection/data.ts';

const root = join(import.meta.dirname, '..', '..');

test('npx ghosteam run examples/fraud-detection/app.ts works on a fresh clone', { timeout: 10 * 60_000 }, () => {
  const clone = mkdtempSync(join(tmpdir(), 'ghosteam-clone-'));
  try {
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
    for (const f of files) {
      mkdirSync(dirname(join(clone, f)), { recursive: true });
      try {
        cpSync(join(root, f), join(clone, f));
      } catch {
        /* a tracked file deleted in this working tree */
      }
    }
    symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'));
    const r = spawnSync(process.execPath, ['bin/ghosteam.mjs', 'run', 'examples/fraud-detection/app.ts', '--param', 'epochs=1'], {
      cwd: clone,
      encoding: 'utf8',
      env: { ...process.env, FORCE_COLOR: '0', MLFLOW_TRACKING_URI: '', GHOSTEAM_REGISTRY_DIR: join(clone, '.ghosteam', 'registry') },
    });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Succeeded/);
    // The generated data is the seeded data the demo uses.
    assert.equal(readFileSync(join(clone, 'data', 'fraud', 'reference.csv'), 'utf8'), toCsv(generate('reference', EXAMPLE_ROWS, EXAMPLE_SEED)));
  } finally {
    rmSync(clone, { recursive: true, force: true });
  }
});

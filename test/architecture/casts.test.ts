/**
 * `as never` and `as unknown as` mark two types that should be one. Outside the tests there are
 * fewer than ten, and each says why it must stay (a comment on its line or the line above).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const FOLDERS = ['api', 'components', 'pipelines', 'charts', 'gitops', 'controllers', 'cli', 'examples', 'bench', 'scripts'];
const CAST = /\bas never\b|\bas unknown as\b/;

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(p);
    return /\.(ts|mts)$/.test(e.name) && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

/** Every cast with its place and whether a comment explains it. */
function casts(): { at: string; commented: boolean }[] {
  const out: { at: string; commented: boolean }[] = [];
  for (const f of FOLDERS.flatMap(sources)) {
    const lines = readFileSync(join(root, f), 'utf8').split('\n');
    lines.forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '');
      if (!CAST.test(code) || /^\s*(\*|\/\*)/.test(line)) return;
      const commented = /\/\/\s*\S/.test(line.slice(code.length)) || /^\s*(\/\/|\*|\/\*)/.test(lines[i - 1] ?? '');
      out.push({ at: `${f}:${i + 1}`, commented });
    });
  }
  return out;
}

test('fewer than ten `as never` / `as unknown as` outside the tests, each with a comment saying why', () => {
  const found = casts();
  assert.ok(found.length < 10, `${found.length} casts: ${found.map((c) => c.at).join(', ')}; fix the types instead (one type where there were two)`);
  assert.deepEqual(
    found.filter((c) => !c.commented).map((c) => c.at),
    [],
    'say on the line above why the cast must stay',
  );
});

// typecheckApp (what `ghosteam plan` runs before synth) with the real TypeScript compiler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { typecheckApp } from '../../gitops/typecheck.ts';

const tree = (files: Record<string, string>): string => {
  const d = mkdtempSync(join(tmpdir(), 'gt-typecheck-'));
  for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
  return d;
};

test("an app with no tsconfig.json and no node_modules of its own gets Node's types (ghosteam's)", async () => {
  const d = tree({
    'app.ts': "import { existsSync } from 'node:fs';\nimport { join } from 'node:path';\nexport const here = existsSync(join(process.cwd(), 'x'));\n",
  });
  const r = await typecheckApp(d, 'app.ts');
  assert.deepEqual(r.errors, []);
  assert.equal(r.tsconfig, undefined);
});

test('a real type error in such an app is still reported with file:line:col', async () => {
  const d = tree({ 'app.ts': "export const epochs: number = 'x';\nexport const cwd: string = process.cwd();\n" });
  const r = await typecheckApp(d, 'app.ts');
  assert.equal(r.errors.length, 1, r.errors.join('\n'));
  assert.match(r.errors[0], /^app\.ts:1:14 - error TS2322: Type 'string' is not assignable to type 'number'/);
});

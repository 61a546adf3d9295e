import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cliReference, spliceReadme, BEGIN, END } from '../../scripts/cli-reference.ts';

test("README.md carries the CLI reference generated from every command's own --help", async () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const ref = await cliReference();
  for (const cmd of ['synth', 'validate', 'run', 'runs', 'serve', 'drift', 'plan', 'watch', 'operator', 'install', 'models']) {
    assert.match(ref, new RegExp(`### \`ghosteam ${cmd}\``), `reference lacks ghosteam ${cmd}`);
  }
  assert.equal(spliceReadme(readme, ref), readme, 'README.md is out of date: run `npm run docs:cli`');
});

test('spliceReadme refuses a README without markers, saying where they go', () => {
  assert.throws(() => spliceReadme('# x\n', 'ref'), { message: `README.md: markers ${BEGIN} … ${END} not found; add them where the CLI reference goes` });
});

// `ghosteam operator --manifests` reads synthesized YAML in time linear in its size (#25): the yaml
// package's own duplicate-key check is quadratic (measured on the busy 2-core machine: a 40,000-key
// map 183 s with it, 7 s without), so it uses charts/yaml-read.ts as `validate` does; a duplicate
// key is still refused, naming file and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGhosteamManifests } from '../../cli/commands/operator.ts';

const model = 'apiVersion: ghosteam.io/v1alpha1\nkind: Model\nmetadata:\n  name: fraud\n  namespace: ml\nspec:\n  modelRef:\n    name: fraud\n';
function configMap(keys: number, extra = ''): string {
  const lines = ['apiVersion: v1', 'kind: ConfigMap', 'metadata:', '  name: big', 'data:'];
  for (let i = 0; i < keys; i++) lines.push(`  key${i}: value${i}`);
  return lines.join('\n') + '\n' + extra;
}

test('a 40,000-key document beside a Model is read without the quadratic check; a duplicate key names file and line', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-opman-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'app.yaml');
  writeFileSync(file, `${configMap(40_000)}---\n${model}`);
  assert.deepEqual(
    readGhosteamManifests(dir).map((o) => `${o.kind}/${o.metadata.name}`),
    ['Model/fraud'],
  );
  writeFileSync(file, `${configMap(40_000, '  key17: again\n')}---\n${model}`);
  assert.throws(() => readGhosteamManifests(file), {
    message: `${file}:40006: is not valid YAML (Map keys must be unique: 'key17' appears more than once); fix the syntax`,
  });
  writeFileSync(file, 'kind: [unclosed\n');
  assert.throws(() => readGhosteamManifests(file), {
    message: `${file}:2: is not valid YAML (Flow sequence in block collection must be sufficiently indented and end with a ]); fix the syntax`,
  });
});

// `ghosteam validate` on large files (linear: the yaml package's own unique-key check is quadratic),
// duplicate keys still refused with their line, and plaintext secrets in env refused (pure parts
// in-process, the command spawned as a user runs it).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineCounter } from 'yaml';
import { parseYamlStream } from '../../charts/yaml-read.ts';
import { plaintextSecrets, validateObjects } from '../../charts/validate.ts';

const root = join(import.meta.dirname, '..', '..');
const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin', 'ghosteam.mjs'), ...args], { encoding: 'utf8', cwd: root });

function configMap(keys: number, extra = ''): string {
  const lines = ['apiVersion: v1', 'kind: ConfigMap', 'metadata:', '  name: big', 'data:'];
  for (let i = 0; i < keys; i++) lines.push(`  key${i}: value${i}`);
  return lines.join('\n') + '\n' + extra;
}

describe('linear YAML reading', () => {
  test('a 40,000-key map parses without the quadratic unique-key check, and a duplicate is still found with its line', () => {
    const text = configMap(40_000);
    const docs = parseYamlStream(text);
    assert.deepEqual(
      docs.map((d) => d.errors.length),
      [0],
    );
    assert.equal(Object.keys((docs[0].toJS() as { data: object }).data).length, 40_000);
    // Same key twice, far apart: the error is on the second one's line.
    const lc = new LineCounter();
    const dup = parseYamlStream(configMap(40_000, '  key17: again\n'), lc);
    assert.equal(dup[0].errors.length, 1);
    assert.equal(dup[0].errors[0].code, 'DUPLICATE_KEY');
    assert.equal(dup[0].errors[0].message, "Map keys must be unique: 'key17' appears more than once");
    assert.equal(dup[0].errors[0].linePos?.[0].line, 40_006);
    // Scalars compare by value as yaml's own check does: 1 and '1' differ; merge keys may repeat.
    assert.deepEqual(
      parseYamlStream('a: {1: x, "1": y}\nb: &b {c: 1}\nd: {<<: *b, e: 2}\n').map((d) => d.errors.length),
      [0],
    );
    assert.deepEqual(
      parseYamlStream('a: 1\nb: {c: 1, c: 2}\n')[0].errors.map((e) => e.message),
      ["Map keys must be unique: 'c' appears more than once"],
    );
  });

  test('ghosteam validate: a duplicate key names file and line; a large map is valid', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-val-'));
    try {
      writeFileSync(join(dir, 'big.yaml'), configMap(40_000));
      const ok = cli('validate', join(dir, 'big.yaml'));
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(ok.stdout, '1 object in 1 file: valid\n');
      writeFileSync(join(dir, 'big.yaml'), configMap(3, '  key1: again\n'));
      const bad = cli('validate', join(dir, 'big.yaml'));
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /big\.yaml:9: is not valid YAML \(Map keys must be unique: 'key1' appears more than once\); fix the syntax\n/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('plaintext secrets in env', () => {
  const deployment = (env: unknown[]) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'api' },
    spec: { template: { spec: { containers: [{ name: 'c', image: 'x', env }] } } },
  });

  test('secret-named variables with a literal value are found, wherever the env list is', () => {
    const cases: Array<[unknown, Array<{ field: string; name: string }>]> = [
      [
        deployment([
          { name: 'AWS_SECRET_ACCESS_KEY', value: 'abc' },
          { name: 'AWS_ACCESS_KEY_ID', value: 'AKIA' },
          { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'pw' } } },
          { name: 'MODE', value: 'x' },
          { name: 'API_TOKEN', value: '' },
          { name: 'TOKEN_FILE', value: '/var/run/t' },
        ]),
        [{ field: 'spec.template.spec.containers[0].env[0].value', name: 'AWS_SECRET_ACCESS_KEY' }],
      ],
      [
        {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'WorkflowTemplate',
          metadata: { name: 'w' },
          spec: {
            templates: [
              {
                name: 't',
                container: {
                  image: 'x',
                  env: [
                    { name: 'MLFLOW_TRACKING_TOKEN', value: 't0ken' },
                    { name: 'github_api_key', value: 'k' },
                  ],
                },
              },
            ],
          },
        },
        [
          { field: 'spec.templates[0].container.env[0].value', name: 'MLFLOW_TRACKING_TOKEN' },
          { field: 'spec.templates[0].container.env[1].value', name: 'github_api_key' },
        ],
      ],
      [
        deployment([
          { name: 'PASSWORD_POLICY_URL', value: 'https://x' },
          { name: 'KEYBOARD', value: 'us' },
        ]),
        [],
      ],
    ];
    for (const [obj, want] of cases) assert.deepEqual(plaintextSecrets(obj), want);
  });

  test('validate (and synth, through the same checks) refuses them with the field and the fix', () => {
    const issues = validateObjects([{ object: deployment([{ name: 'DB_PASSWORD', value: 'hunter2' }]), source: 'app.yaml:1' }]);
    assert.deepEqual(issues, [
      {
        path: 'app.yaml:1#Deployment/api',
        field: 'spec.template.spec.containers[0].env[0].value',
        message:
          'puts the secret DB_PASSWORD in plain text; reference a Secret instead: valueFrom: {secretKeyRef: {name: <secret>, key: <key>}} (kubectl create secret generic <secret> --from-literal=<key>=…)',
      },
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-val-'));
    try {
      writeFileSync(
        join(dir, 'd.yaml'),
        'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n        - name: c\n          image: x\n          env:\n            - name: DB_PASSWORD\n              value: hunter2\n',
      );
      const r = cli('validate', dir);
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        /d\.yaml:1#Deployment\/api: 'spec\.template\.spec\.containers\[0\]\.env\[0\]\.value' puts the secret DB_PASSWORD in plain text; reference a Secret instead: valueFrom: \{secretKeyRef/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

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

test('--manifests also yields the PrometheusRules Alerts.of synthesized, which local mode evaluates; the webhook flags are checked', async (t) => {
  const { App, Chart } = await import('cdk8s');
  const { stringify } = await import('yaml');
  const { Alerts, Model } = await import('../../charts/index.ts');
  const { synth } = await import('../constructs/helpers.ts');
  const { alertsOf, readAlertRules } = await import('../../cli/commands/operator.ts');
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-opalerts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const app = new App();
  const c = new Chart(app, 'serving', { namespace: 'ml' });
  new Model(c, 'fraud', { registry: 'fraud', useLockFile: false, alerts: Alerts.of({ minEstimatedAccuracy: false }) });
  const rule = synth(app).objects.find((o) => (o as { kind: string }).kind === 'PrometheusRule');
  // A PrometheusRule someone wrote by hand (no conditions) is not ghosteam's: left to Prometheus.
  const foreign = { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'theirs' }, spec: { groups: [] } };
  writeFileSync(join(dir, 'app.yaml'), [model, stringify(rule), stringify(foreign)].join('---\n'));
  assert.deepEqual(
    readAlertRules(dir).map((o) => `${o.kind}/${o.metadata.name}`),
    ['PrometheusRule/fraud-alerts'],
  );
  assert.deepEqual(
    readGhosteamManifests(dir).map((o) => `${o.kind}/${o.metadata.name}`),
    ['Model/fraud'],
  );
  const a = alertsOf({ manifests: dir, alertWebhook: 'http://127.0.0.1:9/hook' });
  assert.equal(a.alerts?.rules.length, 1);
  assert.deepEqual(a.alerts?.webhook, { url: 'http://127.0.0.1:9/hook' });
  process.env.GT_TEST_HOOK_TOKEN = 'tok';
  t.after(() => delete process.env.GT_TEST_HOOK_TOKEN);
  assert.equal(alertsOf({ manifests: dir, alertWebhook: 'http://x/', alertWebhookTokenEnv: 'GT_TEST_HOOK_TOKEN' }).alerts?.webhook?.bearerToken, 'tok');
  assert.throws(() => alertsOf({ manifests: dir, alertWebhook: 'http://x/', alertWebhookTokenEnv: 'GT_UNSET_VAR' }), {
    message: '--alert-webhook-token-env GT_UNSET_VAR: that environment variable is empty or unset',
  });
  writeFileSync(join(dir, 'app.yaml'), model);
  assert.deepEqual(alertsOf({ manifests: dir }), {});
  assert.throws(() => alertsOf({ manifests: dir, alertWebhook: 'http://x/' }), /^Error: --alert-webhook: no PrometheusRule from Alerts\.of in --manifests /);
});

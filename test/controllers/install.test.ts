import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { operatorInstallManifests, OPERATOR_RULES } from '../../charts/operator-install.ts';
import { PLURALS } from '../../cli/commands/install.ts';

const byKind = (kind: string) => operatorInstallManifests().filter((o) => o.kind === kind);

test('install manifests: CRDs, RBAC, ServiceAccount, Deployment, Service, NetworkPolicies, PDB', () => {
  const kinds = operatorInstallManifests().map((o) => o.kind);
  assert.deepEqual(kinds, [
    'CustomResourceDefinition',
    'CustomResourceDefinition',
    'CustomResourceDefinition',
    'CustomResourceDefinition',
    'CustomResourceDefinition',
    'Namespace',
    'ServiceAccount',
    'ClusterRole',
    'ClusterRoleBinding',
    'Role',
    'RoleBinding',
    'Deployment',
    'Service',
    'NetworkPolicy',
    'NetworkPolicy',
    'PodDisruptionBudget',
  ]);
  assert.equal(operatorInstallManifests({ crds: false }).filter((o) => o.kind === 'CustomResourceDefinition').length, 0);
});

test('ghosteam install knows where every kind it creates lives in the API (all options on)', () => {
  const all = operatorInstallManifests({
    replicas: 1,
    watchNamespace: 'team-a',
    payloadSink: {},
    gitWriteBack: { repo: 'https://git.example/ml/app.git', secret: { name: 'git' } },
  });
  for (const o of all) {
    const p = PLURALS[o.kind];
    assert.ok(p, `no API path for ${o.kind}`);
    assert.equal(p.namespaced, o.metadata.namespace !== undefined, o.kind);
  }
});

test('the Deployment meets the restricted Pod Security Standard, with probes and resources', () => {
  const d = byKind('Deployment')[0] as unknown as {
    spec: { template: { spec: { securityContext: Record<string, unknown>; containers: Array<Record<string, any>> } } };
  };
  const pod = d.spec.template.spec;
  assert.deepEqual(pod.securityContext.seccompProfile, { type: 'RuntimeDefault' });
  assert.equal(pod.securityContext.runAsNonRoot, true);
  const c = pod.containers[0];
  assert.deepEqual(c.securityContext, {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  });
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.cpu && c.resources.limits.memory);
  assert.ok(c.args.includes('--leader-elect'));
  const ns = byKind('Namespace')[0] as unknown as { metadata: { labels: Record<string, string> } };
  assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
});

test('the ClusterRole is least-privilege: no wildcards, no secrets, only what the controllers call', () => {
  const role = byKind('ClusterRole')[0] as unknown as { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> };
  for (const r of role.rules) {
    assert.ok(!r.verbs.includes('*') && !r.resources.includes('*') && !r.apiGroups.includes('*'), JSON.stringify(r));
    assert.ok(!r.resources.includes('secrets'));
    assert.ok(!r.verbs.includes('patch') && !r.verbs.includes('deletecollection'));
  }
  const can = (group: string, resource: string, verb: string) =>
    role.rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
  assert.ok(can('argoproj.io', 'workflows', 'create'));
  assert.ok(!can('argoproj.io', 'workflows', 'delete'));
  assert.ok(!can('argoproj.io', 'workflowtemplates', 'create'));
  assert.ok(can('ghosteam.io', 'models/status', 'update'));
  assert.ok(!can('ghosteam.io', 'models', 'create'));
  assert.ok(!can('', 'nodes', 'update'));
  assert.equal(role.rules.length, OPERATOR_RULES.length);
});

test('ghosteam install --dry-run prints the manifests as YAML; --help starts with Usage:', () => {
  const r = spawnSync(process.execPath, ['bin/ghosteam.mjs', 'install', '--dry-run', '-n', 'mlops'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout);
  const objs = (Array.isArray(docs) ? docs : [docs]).map((d) => d.toJS() as { kind: string; metadata: { namespace?: string } });
  assert.equal(objs.length, 16); // five CRDs (Model, DriftMonitor, TrainingRun, FeatureView, FeatureService) with the operator's parts
  assert.equal(objs.find((o) => o.kind === 'Deployment')?.metadata.namespace, 'mlops');
  for (const cmd of ['install', 'operator']) {
    const h = spawnSync(process.execPath, ['bin/ghosteam.mjs', cmd, '--help'], { encoding: 'utf8' });
    assert.equal(h.status, 0);
    assert.match(h.stdout, /^Usage:/);
  }
  const bad = spawnSync(process.execPath, ['bin/ghosteam.mjs', 'install', '--dry-run', '-n', 'Bad_NS'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr.trim(), "error: --namespace 'Bad_NS' is not a valid namespace name (lower-case letters, digits and '-')");
  const local = spawnSync(process.execPath, ['bin/ghosteam.mjs', 'operator', '--local'], { encoding: 'utf8' });
  assert.equal(local.status, 1);
  assert.equal(local.stderr.trim(), 'error: --local needs --model-server <url> (start one with `ghosteam serve`)');
});

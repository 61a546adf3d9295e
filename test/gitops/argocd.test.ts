// Argo CD Applications/ApplicationSet, validated against the upstream Argo CD CRDs (read in place
// from ../shared/upstream), and sync waves on the real synthesized example.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { App, Chart } from 'cdk8s';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { ArgoCdApps, Environment, valueEnvName, applySyncWaves, syncWaveFor } from '../../charts/argocd.ts';
import { synthApp } from '../../charts/synth.ts';
import { loadCrdFile } from '../peers/crds.ts';
import { upstreamDir } from '../peers/config.ts';
import type { K8sObject } from '../../api/objects.ts';

/** Closes every object schema that lists properties (unless it preserves unknown fields), so unknown fields fail like in a structural CRD with pruning reported. */
function strict(schema: any): any {
  if (Array.isArray(schema)) return schema.map(strict);
  if (!schema || typeof schema !== 'object') return schema;
  const out: any = {};
  for (const [k, v] of Object.entries(schema))
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([pk, pv]) => [pk, strict(pv)])) : strict(v);
  if (schema.properties && schema.additionalProperties === undefined && !schema['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  return out;
}

function validatorFor(file: string): ValidateFunction {
  const [crd] = loadCrdFile(join(upstreamDir, 'argo-cd', file)) as any[];
  const version = crd.spec.versions.find((v: any) => v.name === 'v1alpha1');
  const schema = strict(version.schema.openAPIV3Schema);
  // metadata is validated by the API server, not by the CRD schema.
  schema.properties.metadata = { type: 'object' };
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  return ajv.compile(schema);
}

const validateApp = validatorFor('application-crd.yaml');
const validateSet = validatorFor('applicationset-crd.yaml');

function check(v: ValidateFunction, o: unknown): void {
  assert.ok(v(o), JSON.stringify(v.errors, null, 2));
}

function synth(build: (chart: Chart) => void): any[] {
  const app = new App();
  const chart = new Chart(app, 'gitops');
  build(chart);
  return chart.toJson();
}

const envs = () => [
  Environment.of('dev', { values: { replicas: 1, canarySteps: '50,100' } }),
  Environment.of('staging', { namespace: 'ml-staging', values: { replicas: 2 } }),
  Environment.of('prod', { namespace: 'ml', autoSync: false, targetRevision: 'v1.2.0', server: 'https://prod.example.com', values: { replicas: 4 } }),
];

describe('ArgoCdApps', () => {
  test('one Application per environment, each valid against the upstream CRD', () => {
    const objs = synth((c) => new ArgoCdApps(c, 'fraud', { repoURL: 'https://git.example.com/acme/ml.git', environments: envs() }));
    assert.deepEqual(
      objs.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`),
      ['Application/argocd/fraud-dev', 'Application/argocd/fraud-staging', 'Application/argocd/fraud-prod'],
    );
    for (const o of objs) check(validateApp, o);
    const [dev, staging, prod] = objs;
    assert.deepEqual(dev.spec.source, {
      repoURL: 'https://git.example.com/acme/ml.git',
      targetRevision: 'main',
      path: 'dist/dev',
      directory: { recurse: true },
    });
    assert.deepEqual(dev.spec.destination, { server: 'https://kubernetes.default.svc', namespace: 'dev' });
    assert.deepEqual(dev.spec.syncPolicy.automated, { prune: true, selfHeal: true });
    assert.ok(dev.spec.syncPolicy.syncOptions.includes('ServerSideApply=true'));
    assert.ok(dev.spec.syncPolicy.syncOptions.includes('RespectIgnoreDifferences=true'));
    assert.deepEqual(dev.spec.info, [
      { name: 'environment', value: 'dev' },
      { name: 'value canarySteps', value: '50,100' },
      { name: 'value replicas', value: '1' },
    ]);
    assert.equal(staging.spec.destination.namespace, 'ml-staging');
    assert.equal(prod.spec.syncPolicy.automated, undefined, 'prod syncs by hand');
    assert.equal(prod.spec.source.targetRevision, 'v1.2.0');
    assert.equal(prod.spec.destination.server, 'https://prod.example.com');
    assert.deepEqual(dev.spec.ignoreDifferences[0], { group: 'serving.kserve.io', kind: 'InferenceService', managedFieldsManagers: ['ghosteam-operator'] });
    assert.deepEqual(dev.metadata.finalizers, ['resources-finalizer.argocd.argoproj.io']);
  });

  test('plugin source passes the environment and its values to the synth', () => {
    const [dev] = synth((c) => new ArgoCdApps(c, 'fraud', { repoURL: 'git@github.com:acme/ml.git', source: 'plugin', environments: envs() }));
    check(validateApp, dev);
    assert.deepEqual(dev.spec.source.plugin, {
      name: 'ghosteam',
      env: [
        { name: 'GHOSTEAM_ENV', value: 'dev' },
        { name: 'GHOSTEAM_VALUES', value: '{"canarySteps":"50,100","replicas":1}' },
        { name: 'GHOSTEAM_VALUE_CANARY_STEPS', value: '50,100' },
        { name: 'GHOSTEAM_VALUE_REPLICAS', value: '1' },
      ],
    });
    assert.equal(valueEnvName('maxP99LatencyMs'), 'GHOSTEAM_VALUE_MAX_P99_LATENCY_MS');
  });

  test('an ApplicationSet with a list generator, valid against the upstream CRD', () => {
    const objs = synth(
      (c) => new ArgoCdApps(c, 'fraud', { repoURL: 'https://git.example.com/acme/ml.git', mode: 'applicationSet', source: 'plugin', environments: envs() }),
    );
    assert.equal(objs.length, 1);
    const set = objs[0];
    check(validateSet, set);
    assert.equal(set.kind, 'ApplicationSet');
    assert.deepEqual(
      set.spec.generators[0].list.elements.map((e: any) => [e.env, e.namespace, e.autoSync, e.valuesJson]),
      [
        ['dev', 'dev', 'true', '{"canarySteps":"50,100","replicas":1}'],
        ['staging', 'ml-staging', 'true', '{"replicas":2}'],
        ['prod', 'ml', 'false', '{"replicas":4}'],
      ],
    );
    assert.equal(set.spec.template.metadata.name, 'fraud-{{.env}}');
    assert.match(set.spec.templatePatch, /\{\{- if eq \.autoSync "true" \}\}\n {4}automated:/);
  });

  test('the validator has teeth: a wrong type or an unknown field is rejected', () => {
    const [dev] = synth((c) => new ArgoCdApps(c, 'fraud', { repoURL: 'https://git.example.com/acme/ml.git', environments: envs() }));
    const badType = structuredClone(dev);
    badType.spec.syncPolicy.automated.prune = 'yes';
    assert.equal(validateApp(badType), false);
    const unknown = structuredClone(dev);
    unknown.spec.source.directoryy = {};
    assert.equal(validateApp(unknown), false);
  });

  test('bad props fail at construction with the path, the field and the fix', () => {
    const build = (props: any) => () =>
      synth((c) => new ArgoCdApps(c, 'fraud', { repoURL: 'https://git.example.com/x.git', environments: [Environment.of('dev')], ...props }));
    assert.throws(build({ repoURL: 'ftp://x' }), {
      message: "gitops/fraud: 'repoURL' 'ftp://x' is not a Git URL; use https://host/org/repo.git or git@host:org/repo.git",
    });
    assert.throws(build({ repoURL: 'https://bot:tok@git.example.com/x.git' }), {
      message: "gitops/fraud: 'repoURL' must not carry credentials; put them in an Argo CD repository Secret",
    });
    assert.throws(build({ environments: [] }), { message: "gitops/fraud: 'environments' is empty; add at least one, e.g. Environment.of('dev')" });
    assert.throws(build({ environments: [Environment.of('dev'), Environment.of('dev')] }), {
      message: "gitops/fraud: 'environments[1].name' 'dev' is listed twice; each environment needs its own name",
    });
    assert.throws(build({ environments: [Environment.of('Dev')] }), {
      message: "gitops/fraud: 'environments[0].name' 'Dev' is not a DNS-1123 label; use lower-case letters, digits and '-'",
    });
    assert.throws(build({ environments: [Environment.of('dev', { values: { 'bad-key': 1 } })] }), {
      message: "gitops/fraud: 'environments[0].values.bad-key' is not a valid key; use letters, digits and _ (it becomes an environment variable)",
    });
  });
});

describe('sync waves', () => {
  test('on the synthesized example, every CRD and every referenced object syncs before its users', async () => {
    const { objects } = await synthApp('examples/fraud-detection/app.ts', { sourceCommit: false });
    const waved = applySyncWaves(objects as K8sObject[]);
    const wave = (o: K8sObject) => Number(o.metadata.annotations?.['argocd.argoproj.io/sync-wave']);
    assert.ok(
      waved.every((o) => Number.isInteger(wave(o))),
      'every object has a wave',
    );
    const crds = waved.filter((o) => o.kind === 'CustomResourceDefinition');
    assert.ok(crds.length >= 3);
    for (const crd of crds) {
      const spec = crd.spec as { group: string; names: { kind: string } };
      for (const user of waved.filter((o) => o.apiVersion.startsWith(`${spec.group}/`) && o.kind === spec.names.kind)) {
        assert.ok(wave(crd) < wave(user), `${crd.metadata.name} (wave ${wave(crd)}) before ${user.kind}/${user.metadata.name} (wave ${wave(user)})`);
        assert.match(user.metadata.annotations?.['argocd.argoproj.io/sync-options'] ?? '', /SkipDryRunOnMissingResource=true/);
      }
    }
    const byKind = (k: string) => waved.find((o) => o.kind === k) as K8sObject;
    assert.ok(wave(byKind('WorkflowTemplate')) < wave(byKind('CronWorkflow')), 'the template a CronWorkflow references comes first');
    assert.ok(wave(byKind('ServingRuntime')) < wave(byKind('InferenceService')), 'the runtime an InferenceService names comes first');
    // Objects of upstream CRDs (installed by the platform, not this sync) need no dry-run skip.
    assert.equal(byKind('InferenceService').metadata.annotations?.['argocd.argoproj.io/sync-options'], undefined);
  });

  test('waves by kind; an existing wave and existing sync options are kept', () => {
    assert.deepEqual(
      ['CustomResourceDefinition', 'Namespace', 'ServiceAccount', 'Secret', 'ServingRuntime', 'WorkflowTemplate', 'InferenceService', 'Model'].map((kind) =>
        syncWaveFor({ kind, apiVersion: 'v1' }),
      ),
      [-3, -3, -2, -2, -1, -1, 0, 0],
    );
    assert.equal(syncWaveFor({ kind: 'Secret', apiVersion: 'external-secrets.io/v1' }), 0, 'a custom kind named Secret is not core');
    const [o] = applySyncWaves([
      {
        apiVersion: 'ghosteam.io/v1alpha1',
        kind: 'Model',
        metadata: { name: 'm', annotations: { 'argocd.argoproj.io/sync-wave': '5', 'argocd.argoproj.io/sync-options': 'Prune=false' } },
      },
      {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'models.ghosteam.io' },
        spec: { group: 'ghosteam.io', names: { kind: 'Model' } },
      },
    ]);
    assert.deepEqual(o.metadata.annotations, {
      'argocd.argoproj.io/sync-options': 'Prune=false,SkipDryRunOnMissingResource=true',
      'argocd.argoproj.io/sync-wave': '5',
    });
  });
});

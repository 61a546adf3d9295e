import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { ghosteamCrds, type JsonSchema, type ModelResource, type TrainingRunResource } from '../../api/crds/index.ts';
import { validateGhosteamObject } from '../../api/crds/validate.ts';

/** Kubernetes structural-schema rules that matter here: every node typed (or preserve-unknown), no
 * unions, and never `properties` together with `additionalProperties` on the same node. */
function structuralProblems(s: JsonSchema, where: string, out: string[]): string[] {
  if (!s.type && !s['x-kubernetes-preserve-unknown-fields']) out.push(`${where}: no type`);
  for (const k of ['anyOf', 'oneOf', 'allOf', 'not', '$ref', 'const', 'patternProperties']) if (k in s) out.push(`${where}: ${k}`);
  if (s.properties && s.additionalProperties !== undefined) out.push(`${where}: properties+additionalProperties`);
  for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, JsonSchema>)) structuralProblems(v, `${where}.${k}`, out);
  if (s.items) structuralProblems(s.items as JsonSchema, `${where}[]`, out);
  if (s.additionalProperties && typeof s.additionalProperties === 'object') structuralProblems(s.additionalProperties as JsonSchema, `${where}.*`, out);
  return out;
}

const model = (): ModelResource => ({
  apiVersion: 'ghosteam.io/v1alpha1',
  kind: 'Model',
  metadata: { name: 'fraud' },
  spec: {
    modelRef: { name: 'fraud', alias: 'champion' },
    format: 'onnx',
    inferenceService: 'fraud',
    runtime: 'ghosteam-onnx',
    resources: { cpu: '500m', memory: '512Mi' },
    autoscaling: { minReplicas: 1, maxReplicas: 3, targetConcurrency: 8 },
    rollout: { strategy: 'canary', steps: [10, 50, 100], intervalSeconds: 60, thresholds: { maxErrorRate: 0.01 } },
    payloadLogging: { enabled: true, mode: 'all' },
  },
  status: { phase: 'Progressing', stableVersion: 3, canaryVersion: 4, stepIndex: 1, trafficPercent: 50, stepStartedAt: '2026-11-23T04:00:00Z' },
});

describe('ghosteam CRDs', () => {
  const crds = ghosteamCrds();

  test('five namespaced CRDs in ghosteam.io/v1alpha1 with status subresource and short names', () => {
    assert.deepEqual(
      crds.map((c) => c.metadata.name),
      ['models.ghosteam.io', 'driftmonitors.ghosteam.io', 'trainingruns.ghosteam.io', 'featureviews.ghosteam.io', 'featureservices.ghosteam.io'],
    );
    for (const c of crds) {
      assert.equal(c.spec.scope, 'Namespaced');
      assert.equal(c.spec.versions[0].name, 'v1alpha1');
      assert.deepEqual(c.spec.versions[0].subresources, { status: {} });
      assert.ok(c.spec.names.shortNames.length > 0);
      assert.ok(c.spec.versions[0].additionalPrinterColumns.some((p) => p.name === 'Age'));
    }
  });

  test('schemas are structural', () => {
    for (const c of crds) assert.deepEqual(structuralProblems(c.spec.versions[0].schema.openAPIV3Schema, c.spec.names.kind, []), []);
  });

  test('Model status carries the rollout state', () => {
    const status = crds[0].spec.versions[0].schema.openAPIV3Schema as { properties: { status: { properties: Record<string, unknown> } } };
    for (const f of [
      'phase',
      'observedGeneration',
      'stableVersion',
      'canaryVersion',
      'stepIndex',
      'trafficPercent',
      'stepStartedAt',
      'analysis',
      'conditions',
    ]) {
      assert.ok(f in status.properties.status.properties, f);
    }
  });

  test('YAML has no anchors (shared enums are copied)', () => {
    const y = stringify(crds);
    assert.doesNotMatch(y, /[&*]a\d+/);
  });

  test('a valid Model passes, typos and bad values are named by field', () => {
    assert.deepEqual(validateGhosteamObject(model()), []);
    const bad = model() as unknown as { spec: Record<string, unknown> & { rollout: Record<string, unknown> }; status: Record<string, unknown> };
    bad.spec.rollout.strategy = 'blue-green';
    bad.spec.replicas = 3;
    bad.status.trafficPercent = 150;
    assert.deepEqual(validateGhosteamObject(bad as unknown as ModelResource), [
      { field: 'spec.replicas', message: 'is not a known field; remove it or check its spelling' },
      { field: 'spec.rollout.strategy', message: 'must be one of "canary", "direct"' },
      { field: 'status.trafficPercent', message: 'must be <= 100' },
    ]);
  });

  test('TrainingRun: reason enum and specHash format', () => {
    const tr: TrainingRunResource = {
      apiVersion: 'ghosteam.io/v1alpha1',
      kind: 'TrainingRun',
      metadata: { name: 'fraud-train-1' },
      spec: { pipeline: 'fraud-train', reason: 'drift', specHash: `sha256:${'a'.repeat(64)}`, params: { epochs: '5' } },
    };
    assert.deepEqual(validateGhosteamObject(tr), []);
    const bad = { ...tr, spec: { ...tr.spec, reason: 'whim', specHash: 'abc' } };
    assert.deepEqual(
      validateGhosteamObject(bad).map((e) => e.field),
      ['spec.reason', 'spec.specHash'],
    );
  });

  test('unknown kind and apiVersion', () => {
    assert.deepEqual(validateGhosteamObject({ apiVersion: 'ghosteam.io/v1alpha1', kind: 'Pipeline' }), [
      { field: 'kind', message: "'Pipeline' is not a ghosteam kind; use one of Model, DriftMonitor, TrainingRun, FeatureView, FeatureService" },
    ]);
    assert.deepEqual(validateGhosteamObject({ apiVersion: 'v1', kind: 'Model' }), [{ field: 'apiVersion', message: "must be 'ghosteam.io/v1alpha1'" }]);
  });
});

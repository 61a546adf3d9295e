/**
 * Every object synthesized from the example is checked against the real upstream CRD schemas in
 * ../shared/upstream (read in place), strictly: unknown fields are errors. The KServe types we wrote
 * are also checked field by field against the upstream CRD (a subset with matching types).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { toStructural, type JsonSchema } from '../../api/crds/structural.ts';
import { InferenceServiceSchema, ServingRuntimeSchema } from '../../charts/kserve.ts';
import { synthApp } from '../../charts/synth.ts';
import { Gpu, Pipeline, Resources, Schedule } from '../../pipelines/index.ts';
import { chart, objectsOf } from './helpers.ts';
import { UPSTREAM_SCHEMAS, upstreamErrors, upstreamSchema } from './upstream.ts';

const example = join(import.meta.dirname, '..', '..', 'examples', 'fraud-detection', 'app.ts');

describe('example objects against the upstream CRDs', async () => {
  const { objects } = await synthApp(example, { sourceCommit: false });

  test('the example has every kind the issue asks for', () => {
    assert.deepEqual(objects.map((o) => `${String(o.apiVersion)}/${String(o.kind)}`).sort(), [
      // Model, DriftMonitor, TrainingRun, FeatureView, FeatureService
      'apiextensions.k8s.io/v1/CustomResourceDefinition',
      'apiextensions.k8s.io/v1/CustomResourceDefinition',
      'apiextensions.k8s.io/v1/CustomResourceDefinition',
      'apiextensions.k8s.io/v1/CustomResourceDefinition',
      'apiextensions.k8s.io/v1/CustomResourceDefinition',
      'argoproj.io/v1alpha1/CronWorkflow',
      'argoproj.io/v1alpha1/WorkflowTemplate',
      'ghosteam.io/v1alpha1/DriftMonitor',
      'ghosteam.io/v1alpha1/Model',
      'networking.k8s.io/v1/NetworkPolicy',
      'serving.kserve.io/v1alpha1/ServingRuntime',
      'serving.kserve.io/v1beta1/InferenceService',
    ]);
  });

  // The fraud example has no distributed step; TrainJobs are checked upstream in distributed.test.ts.
  for (const type of Object.keys(UPSTREAM_SCHEMAS).filter((t) => t !== 'trainer.kubeflow.org/v1alpha1/TrainJob')) {
    test(`${type} is valid against ${UPSTREAM_SCHEMAS[type].file}`, () => {
      const objs = objects.filter((o) => `${String(o.apiVersion)}/${String(o.kind)}` === type);
      assert.ok(objs.length > 0);
      for (const o of objs) assert.deepEqual(upstreamErrors(o as { apiVersion: string; kind: string }), []);
    });
  }

  test('the strict upstream check does catch mistakes', () => {
    const wt = structuredClone(objects.find((o) => o.kind === 'WorkflowTemplate')) as any;
    wt.spec.templates[1].container.imagePullPolice = 'Always';
    wt.spec.templates[1].retryStrategy = { limit: { nope: 1 } };
    assert.deepEqual(upstreamErrors(wt), [
      '/spec/templates/1/container: must NOT have additional properties (imagePullPolice)',
      '/spec/templates/1/retryStrategy/limit: must be integer,string',
    ]);
    const isvc = structuredClone(objects.find((o) => o.kind === 'InferenceService')) as any;
    isvc.spec.predictor.logger.mode = 'everything';
    assert.deepEqual(upstreamErrors(isvc), ['/spec/predictor/logger/mode: must be equal to one of the allowed values']);
  });

  test('GPU, MIG and exit-handler variants are valid upstream too', () => {
    const { chart: c } = chart();
    const p = new Pipeline(c, 'gpu', { schedule: Schedule.cron('*/5 * * * *', { timezone: 'Europe/Paris', concurrencyPolicy: 'Replace' }) });
    p.task('a', { image: 'x:1', resources: Resources.of({ cpu: '1', memory: '1Gi', gpu: Gpu.count(2, { product: 'nvidia-h100', minMemoryGiB: 80 }) }) });
    p.task('b', { image: 'x:1', resources: Resources.of({ cpu: '1', memory: '1Gi', gpu: Gpu.mig('3g.40gb', { count: 2 }) }) });
    p.onExit('done', { image: 'x:1' });
    for (const o of objectsOf(c)) assert.deepEqual(upstreamErrors(o), [], o.kind);
  });
});

/** Walks our schema and the upstream one together; reports fields we use that upstream lacks or types differently. */
function notInUpstream(ours: JsonSchema, theirs: JsonSchema, where: string, out: string[]): string[] {
  const theirType = theirs['x-kubernetes-int-or-string'] ? ['integer', 'string'] : [theirs.type].flat();
  if (ours.type && theirs.type !== undefined && !theirType.includes(ours.type) && !(ours.type === 'integer' && theirType.includes('number'))) {
    out.push(`${where}: ours ${String(ours.type)}, upstream ${theirType.join('|')}`);
  }
  if (Array.isArray(ours.enum) && Array.isArray(theirs.enum)) {
    for (const v of ours.enum) if (!(theirs.enum as unknown[]).includes(v)) out.push(`${where}: enum value ${JSON.stringify(v)} not upstream`);
  }
  if (ours.properties) {
    const tp = (theirs.properties ?? {}) as Record<string, JsonSchema>;
    for (const [k, v] of Object.entries(ours.properties as Record<string, JsonSchema>)) {
      if (where === '' && (k === 'apiVersion' || k === 'kind')) continue;
      if (!tp[k]) {
        if (!(k in tp) && !theirs['x-kubernetes-preserve-unknown-fields'] && !where.endsWith('.metadata')) out.push(`${where}.${k}: not in upstream`);
        continue;
      }
      notInUpstream(v, tp[k], `${where}.${k}`, out);
    }
  }
  if (ours.items && theirs.items) notInUpstream(ours.items as JsonSchema, theirs.items as JsonSchema, `${where}[]`, out);
  if (
    ours.additionalProperties &&
    typeof ours.additionalProperties === 'object' &&
    theirs.additionalProperties &&
    typeof theirs.additionalProperties === 'object'
  ) {
    notInUpstream(ours.additionalProperties as JsonSchema, theirs.additionalProperties as JsonSchema, `${where}.*`, out);
  }
  return out;
}

describe('our KServe types are a subset of the upstream CRDs', () => {
  test('InferenceService', () => {
    assert.deepEqual(
      notInUpstream(toStructural(InferenceServiceSchema), upstreamSchema('kserve/serving.kserve.io_inferenceservices.yaml', 'v1beta1'), '', []),
      [],
    );
  });
  test('ServingRuntime', () => {
    assert.deepEqual(
      notInUpstream(toStructural(ServingRuntimeSchema), upstreamSchema('kserve/serving.kserve.io_servingruntimes.yaml', 'v1alpha1'), '', []),
      [],
    );
  });
  test('the subset check notices a field upstream does not have', () => {
    const bad = structuredClone(toStructural(InferenceServiceSchema)) as any;
    bad.properties.spec.properties.predictor.properties.canaryPercent = { type: 'integer' };
    bad.properties.spec.properties.predictor.properties.minReplicas = { type: 'string' };
    assert.deepEqual(notInUpstream(bad, upstreamSchema('kserve/serving.kserve.io_inferenceservices.yaml', 'v1beta1'), '', []), [
      '.spec.predictor.minReplicas: ours string, upstream integer',
      '.spec.predictor.canaryPercent: not in upstream',
    ]);
  });
});

/** Exact messages for every validation error: construct time, IR checks, and YAML (`ghosteam validate`). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { App, Chart } from 'cdk8s';
import { formatIssue } from '../../api/errors.ts';
import { Feature, Model, ModelServingRuntime, Rollout } from '../../charts/index.ts';
import { validateObjects, type UncheckedObject } from '../../charts/validate.ts';
import { checkPipelineSpec } from '../../pipelines/check.ts';
import { Artifact, Gpu, Item, Pipeline, Resources } from '../../pipelines/index.ts';
import type { PipelineSpec } from '../../pipelines/spec.ts';
import { chart, issuesOf, objectsOf, synth } from './helpers.ts';

const validateYaml = (objects: unknown[]) =>
  validateObjects(objects.map((object) => ({ object: object as UncheckedObject, source: 'dist/test.yaml' }))).map(formatIssue);
const clone = <T>(x: T): T => structuredClone(x);

function twoStep() {
  const { app, chart: c } = chart();
  const p = new Pipeline(c, 'p');
  const data = p.param('data', { type: 'string', default: 'x.csv' });
  const a = p.task('a', { image: 'x:1', params: { data }, outputs: { data: Artifact.dataset() }, outputParams: ['rows'] });
  const b = p.task('b', { image: 'x:1', inputs: { input: a.output('data') }, params: { rows: a.outputParam('rows') } });
  return { app, c, p, a, b };
}

describe('construct-time errors', () => {
  test('names that are not DNS-1123', () => {
    const { chart: c } = chart();
    assert.deepEqual(
      issuesOf(() => new Pipeline(c, 'Fraud_Train')),
      [
        "test/Fraud_Train: 'name' 'Fraud_Train' is not a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit); use 'fraud-train'",
      ],
    );
    const p = new Pipeline(c, 'p');
    assert.deepEqual(
      issuesOf(() => p.task('trainModel', { image: 'x:1' })),
      [
        "test/p/trainModel: 'name' 'trainModel' is not a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit); use 'train-model'",
      ],
    );
    assert.deepEqual(
      issuesOf(() => p.task('a'.repeat(64), { image: 'x:1' })),
      [`test/p/${'a'.repeat(64)}: 'name' '${'a'.repeat(64)}' is 64 characters long; Kubernetes names are at most 63; use '${'a'.repeat(63)}'`],
    );
  });

  test('duplicate names', () => {
    const { p } = twoStep();
    assert.deepEqual(
      issuesOf(() => p.task('a', { image: 'x:1' })),
      ["test/p: 'tasks' has two tasks named 'a'; give each task a unique id"],
    );
    assert.deepEqual(
      issuesOf(() => p.param('data', { type: 'string' })),
      ["test/p: 'params' declares param 'data' twice; remove one"],
    );
  });

  test('a dependency cycle', () => {
    const { p, a, b } = twoStep();
    a.addDependency(b);
    assert.deepEqual(
      issuesOf(() => p.toSpec()),
      ["test/p: 'tasks' form a cycle a → b → a; remove one of these dependencies (inputs, params, when or after)"],
    );
  });

  test('an artifact or output param the task does not produce', () => {
    const { a } = twoStep();
    assert.deepEqual(
      issuesOf(() => a.output('model' as 'data')),
      ["test/p/a: 'outputs.model' is not an output of task 'a'; use one of data"],
    );
    assert.deepEqual(
      issuesOf(() => a.outputParam('auc')),
      ["test/p/a: 'outputParams.auc' reads output param 'a.auc', which task 'a' does not set; use one of rows or add it to its outputParams"],
    );
  });

  test('component inputs: unknown, wrong kind, missing', () => {
    const { p, a } = twoStep();
    assert.deepEqual(
      issuesOf(() => p.component('t', 'train-tabular', { inputs: { data: a.output('data') } })),
      ["test/p/t: 'inputs.data' is not an input of component 'train-tabular'; use one of train, validation"],
    );
    const m = p.task('m', { image: 'x:1', outputs: { model: Artifact.model() } });
    assert.deepEqual(
      issuesOf(() => p.component('t2', 'train-tabular', { inputs: { train: m.output('model') } })),
      ["test/p/t2: 'inputs.train' expects a dataset artifact but 'm.outputs.model' is a model; pass a dataset output"],
    );
    assert.deepEqual(
      issuesOf(() => p.component('t3', 'evaluate', { inputs: { model: m.output('model') } })),
      ["test/p/t3: 'inputs.test' is required by component 'evaluate' (a dataset artifact); pass an upstream output"],
    );
    assert.deepEqual(
      issuesOf(() => p.component('t4', 'train-xgboost')),
      [
        "test/p/t4: 'component' 'train-xgboost' is not a built-in component; use one of ingest, validate, split, train-tabular, evaluate, gate, export-onnx, register, get-historical-features, sweep-controller, materialize-features, optimize-onnx, batch-predict, drift, or pass a Component object",
      ],
    );
  });

  test('values from another pipeline, loop items without a loop, image missing', () => {
    const { c, a } = twoStep();
    const other = new Pipeline(c, 'other');
    const foreign = other.param('x', { type: 'number', default: 1 });
    assert.deepEqual(
      issuesOf(() => other.task('t', { image: 'x:1', inputs: { d: a.output('data') } })),
      ["test/other/t: 'inputs.d' uses artifact 'data' from test/p/a, which belongs to another pipeline; pass it as a param of this pipeline instead"],
    );
    const { p } = twoStep();
    assert.deepEqual(
      issuesOf(() => p.task('t', { image: 'x:1', params: { x: foreign } })),
      ["test/p/t: 'params.x' uses param 'x' from test/other, which belongs to another pipeline; pass it as a param of this pipeline instead"],
    );
    assert.deepEqual(
      issuesOf(() => p.task('t2', { image: 'x:1', params: { seed: Item.value() } })),
      ["test/p/t2: 'params.seed' uses the parallelFor item, but the task has no parallelFor; add parallelFor or pass a value"],
    );
    assert.deepEqual(
      issuesOf(() => p.task('t3', { image: '' })),
      ["test/p/t3: 'image' is required for a container task; set image, or use pipeline.component(...) for a built-in step"],
    );
  });

  test('secrets only by reference', () => {
    const { p } = twoStep();
    assert.deepEqual(
      issuesOf(() => p.task('t', { image: 'x:1', env: { DB_PASSWORD: 'hunter2' } })),
      ["test/p/t: 'env.DB_PASSWORD' looks like a secret but is given as a literal; pass it by reference: Secret.fromSecret('<secret-name>', '<key>')"],
    );
  });

  test('no credentials in source URIs or params: the task, the param and where the source reads them instead', () => {
    const { c } = twoStep();
    const p = new Pipeline(c, 'src');
    p.component('pg', 'ingest', { params: { path: p.param('db', { type: 'string', default: 'postgres://etl:hunter2@db:5432/sales' }), query: 'select 1' } });
    p.component('web', 'ingest', { params: { path: 'https://bob:s3cret@data.example.com/x.csv' } });
    p.component('obj', 'ingest', { params: { path: 's3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI@bucket/x.parquet' } });
    p.task('custom', { image: 'x:1', params: { api_token: 'abc123', source: 'kafka:///orders', key_id: 'AKIAIOSFODNN7EXAMPLE', token_env: 'TOKEN' } });
    assert.deepEqual(
      issuesOf(() => p.toSpec()),
      [
        "test/src: 'params.db.default' holds a URL with a password in it (postgres://etl:***@db:5432/sales); drop the password from the URL and set PGUSER and PGPASSWORD in the task's env from a Secret (env: { PGPASSWORD: Secret.fromSecret('<secret>', '<key>') })",
        'test/src/web: \'params.path\' holds a URL with a password in it (https://bob:***@data.example.com/x.csv); drop the password from the URL and pass the credential as a header from the environment (headers: {"Authorization": "env:NAME"}, NAME set from a Secret)',
        "test/src/obj: 'params.path' holds a URL with a password in it (s3://AKIAIOSFODNN7EXAMPLE:***@bucket/x.parquet); drop the password from the URL and set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the task's env from a Secret (env: { AWS_SECRET_ACCESS_KEY: Secret.fromSecret('<secret>', '<key>') })",
        "test/src/custom: 'params.api_token' passes a secret ('api_token') as a param in plain text; give the task an env var from a Secret instead (env: { API_TOKEN: Secret.fromSecret('<secret>', '<key>') })",
        "test/src/custom: 'params.key_id' holds an AWS access key id; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the task's env from a Secret (env: { AWS_SECRET_ACCESS_KEY: Secret.fromSecret('<secret>', '<key>') })",
      ],
    );
    // The same sources without inline credentials pass; a rendered object with a key id is refused by validate too.
    const ok = new Pipeline(c, 'ok');
    ok.component('pg', 'ingest', { params: { path: 'postgres://db:5432/sales', query: 'select 1' } });
    ok.component('web', 'ingest', { params: { path: 'https://data.example.com/x.csv', headers: { Authorization: 'env:DATA_TOKEN' } } });
    assert.doesNotThrow(() => ok.toSpec());
    const rendered = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { key: 'AKIAIOSFODNN7EXAMPLE' } };
    assert.match(
      validateObjects([{ object: rendered, source: 'x.yaml' }])
        .map(formatIssue)
        .join('\n'),
      /'data\.key' holds an AWS access key id/,
    );
  });

  test('the exit handler cannot consume DAG outputs', () => {
    const { p, a } = twoStep();
    p.onExit('notify', { image: 'x:1', params: { rows: a.outputParam('rows') } });
    assert.deepEqual(
      issuesOf(() => p.toSpec()),
      ["test/p/notify: 'inputs' runs after the DAG whatever its outcome, so it can't consume outputs of 'a'; pass values through pipeline params instead"],
    );
  });

  test('value classes validate where they are written', () => {
    assert.throws(() => Gpu.count(0), { message: 'Gpu.count(0): the count must be a whole number >= 1; drop the GPU request instead of asking for 0' });
    assert.throws(() => Gpu.count(1, { product: 'nvidia-b300' }), /GPU product 'nvidia-b300' is unknown; use one of nvidia-t4, /);
    assert.throws(() => Gpu.mig('big'), { message: "Gpu.mig('big'): a MIG profile looks like '1g.10gb' or '3g.40gb'" });
    assert.throws(() => Resources.of({ cpu: 'two', memory: '1Gi' }), {
      message: "Resources.of: cpu 'two' is not a Kubernetes quantity; write e.g. '500m', '2', '512Mi' or '4Gi'",
    });
    assert.throws(() => Rollout.canary({ steps: [50, 10] }), { message: 'Rollout.canary: steps must increase; step 1 (10) is not above 50' });
    assert.throws(() => Rollout.canary({ steps: [10], maxErrorRate: 5 }), { message: 'Rollout.canary: maxErrorRate 5 is a fraction; write e.g. 0.01 for 1%' });
    // A test the drift monitor cannot run per feature is an error where it is written, not swapped for 'auto'.
    const mmd = { test: 'mmd' } as unknown as Parameters<typeof Feature.numerical>[1];
    assert.throws(() => Feature.numerical('amount', mmd), {
      message:
        "Feature.numerical('amount'): test 'mmd' compares whole samples, not one feature, so a DriftMonitor cannot run it; use one of auto, ks, psi, chi2, jensen-shannon, wasserstein (or 'ghosteam drift' for MMD over all features)",
    });
  });
});

describe('IR checks (checkPipelineSpec) on a hand-written spec', () => {
  const base = (): PipelineSpec => twoStep().p.toSpec();

  test('unknown param, unknown task, artifact nobody produces, kind mismatch', () => {
    const s = clone(base()) as any;
    s.tasks[1].params.rows = { kind: 'param', name: 'row' };
    s.tasks[1].inputs.input = { task: 'a', output: 'dataset', kind: 'dataset' };
    s.tasks[0].params.data = { kind: 'taskOutput', task: 'ghost', output: 'x' };
    assert.deepEqual(checkPipelineSpec(s).map(formatIssue), [
      "test/p/a: 'params.data' refers to task 'ghost', which is not in pipeline 'p'; add the task or fix the reference",
      "test/p/b: 'params.rows' refers to pipeline param 'row', which is not declared; declare it with pipeline.param('row', …) or use one of data",
      "test/p/b: 'inputs.input' consumes 'a.outputs.dataset', which task 'a' does not produce; consume one of 'a.outputs.data' or declare the output",
    ]);
    const k = clone(base()) as any;
    k.tasks[1].inputs.input.kind = 'model';
    assert.deepEqual(checkPipelineSpec(k).map(formatIssue), [
      "test/p/b: 'inputs.input' expects a model artifact but 'a.outputs.data' is a dataset; pass a model output",
    ]);
  });

  test('duplicate task names, cycles, bad param defaults', () => {
    const s = clone(base()) as any;
    s.tasks.push({ ...s.tasks[0], path: 'test/p/a2' });
    s.params[0].default = 3;
    assert.deepEqual(checkPipelineSpec(s).map(formatIssue), [
      "test/p: 'params.data' default of param 'data' is not a string; give a string default",
      "test/p: 'tasks' has two tasks named 'a'; give each task a unique id",
    ]);
    const c = clone(base()) as any;
    c.tasks[0].dependsOn = ['b'];
    assert.deepEqual(checkPipelineSpec(c).map(formatIssue), [
      "test/p: 'tasks' form a cycle a → b → a; remove one of these dependencies (inputs, params, when or after)",
    ]);
  });
});

describe('YAML checks (ghosteam validate) give the same messages', () => {
  const { c } = twoStep();
  const wt = objectsOf(c)[0] as any;

  test('the synthesized objects are valid', () => {
    assert.deepEqual(validateYaml([wt]), []);
  });

  test('unknown param, missing artifact, unknown task, missing output param', () => {
    const w = clone(wt);
    const b = w.spec.templates[0].dag.tasks[1];
    b.arguments.parameters[0].value = '{{workflow.parameters.row}}';
    b.arguments.artifacts[0].from = '{{tasks.a.outputs.artifacts.dataset}}';
    b.when = '{{tasks.ghost.outputs.parameters.ok}} == true';
    assert.deepEqual(validateYaml([w]), [
      "test/p/b: 'params.rows' refers to pipeline param 'row', which is not declared; declare it with pipeline.param('row', …) or use one of data",
      "test/p/b: 'inputs.input' consumes 'a.outputs.dataset', which task 'a' does not produce; consume one of 'a.outputs.data' or declare the output",
      "test/p/b: 'when' refers to task 'ghost', which is not in pipeline 'p'; add the task or fix the reference",
    ]);
    const w2 = clone(wt);
    w2.spec.templates[0].dag.tasks[1].arguments.parameters[0].value = '{{tasks.a.outputs.parameters.auc}}';
    assert.deepEqual(validateYaml([w2]), [
      "test/p/b: 'params.rows' reads output param 'a.auc', which task 'a' does not set; use one of rows or add it to its outputParams",
    ]);
  });

  test('cycles, duplicate and non-DNS task names', () => {
    const w = clone(wt);
    w.spec.templates[0].dag.tasks[0].depends = 'b.Succeeded';
    assert.deepEqual(validateYaml([w]), ["test/p: 'tasks' form a cycle a → b → a; remove one of these dependencies (inputs, params, when or after)"]);
    const d = clone(wt);
    d.spec.templates[0].dag.tasks.push({ ...d.spec.templates[0].dag.tasks[0] });
    d.spec.templates[0].dag.tasks[0].name = 'Step_A';
    assert.deepEqual(validateYaml([d]), [
      // The published Argo schema flags it too.
      `test/p: 'spec.templates[0].dag.tasks[0].name' must match pattern "^[a-zA-Z0-9][-a-zA-Z0-9]*$"`,
      "test/p/a: 'name' 'Step_A' is not a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit); use 'step-a'",
    ]);
    const e = clone(wt);
    e.spec.templates[0].dag.tasks.push({ ...e.spec.templates[0].dag.tasks[0] });
    assert.deepEqual(validateYaml([e]), ["test/p: 'tasks' has two tasks named 'a'; give each task a unique id"]);
  });

  test('weakened security and missing limits', () => {
    const w = clone(wt);
    delete w.spec.templates[1].container.securityContext.readOnlyRootFilesystem;
    w.spec.templates[1].container.securityContext.capabilities.drop = [];
    delete w.spec.templates[2].container.resources.limits;
    assert.deepEqual(validateYaml([w]), [
      "test/p/a: 'spec.templates[1].container.securityContext.readOnlyRootFilesystem' is missing or weaker than the default; set readOnlyRootFilesystem: true (mount an emptyDir where the program writes)",
      "test/p/a: 'spec.templates[1].container.securityContext.capabilities.drop' is missing or weaker than the default; set capabilities: { drop: ['ALL'] }",
      "test/p/b: 'spec.templates[2].container.resources.limits' must set cpu and memory; add resources.limits.cpu and .memory",
    ]);
  });

  test('Argo schema errors come from the published models', () => {
    const w = clone(wt);
    w.spec.templates[1].retryStrategy = { limit: 2, retryPolicy: 'Sometimes' };
    const msgs = validateYaml([w]);
    assert.equal(msgs.length, 1);
    assert.match(msgs[0], /^test\/p: 'spec\.templates\[1\]\.retryStrategy\.retryPolicy' must be one of "Always", "OnFailure", "OnError", "OnTransientError"/);
  });

  test('objects without a construct path are named by file, kind and name; duplicates are caught', () => {
    const w = clone(wt);
    delete w.metadata.annotations['ghosteam.io/construct-path'];
    w.metadata.name = 'P';
    assert.deepEqual(validateYaml([w]), [
      "dist/test.yaml#WorkflowTemplate/P: 'metadata.name' 'P' is not a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit); use 'p'",
    ]);
    assert.deepEqual(validateYaml([wt, clone(wt)]), [
      "test/p: 'metadata.name' 'p' is also used by another WorkflowTemplate (test/p); give one of them another name",
    ]);
  });
});

describe('models: GPU on a runtime that cannot use one, CR schema errors', () => {
  test('construct time and YAML give the same message', () => {
    const { chart: c } = chart();
    const construct = issuesOf(
      () => new Model(c, 'fraud', { registry: 'fraud@champion', resources: Resources.of({ cpu: '1', memory: '1Gi', gpu: Gpu.count(1) }) }),
    );
    const expected =
      "test/fraud: 'resources.gpu' requests 1 GPU but runtime 'ghosteam-onnx' can't use one (onnxruntime-node CPU build); drop the GPU request, or serve with a ModelServingRuntime created with gpu: true";
    assert.deepEqual(construct, [expected]);

    const { chart: c2 } = chart();
    new Model(c2, 'fraud', { registry: 'fraud@champion' });
    const objs = objectsOf(c2) as any[];
    const isvc = objs.find((o) => o.kind === 'InferenceService');
    isvc.spec.predictor.model.resources.limits['nvidia.com/gpu'] = '1';
    isvc.spec.predictor.model.resources.requests['nvidia.com/gpu'] = '1';
    assert.deepEqual(validateYaml(objs), [expected]);
  });

  test('a GPU-capable runtime accepts a GPU model', () => {
    const { app, chart: c } = chart();
    const gpuRuntime = new ModelServingRuntime(c, 'gpu-rt', { name: 'onnx-gpu', gpu: true, image: 'example.com/onnx-gpu:1' });
    new Model(c, 'big', {
      registry: 'big@3',
      runtime: gpuRuntime,
      resources: Resources.of({ cpu: '2', memory: '8Gi', gpu: Gpu.count(1, { product: 'nvidia-l4' }) }),
    });
    const isvc = synth(app).objects.find((o) => o.kind === 'InferenceService') as any;
    assert.equal(isvc.spec.predictor.model.runtime, 'onnx-gpu');
    assert.deepEqual(isvc.spec.predictor.nodeSelector, { 'nvidia.com/gpu.product': 'NVIDIA-L4' });
  });

  test('ghosteam CRs are checked against their CRD schema', () => {
    const { chart: c } = chart();
    new Model(c, 'fraud', { registry: 'fraud' });
    const objs = objectsOf(c) as any[];
    const m = objs.find((o) => o.kind === 'Model');
    m.spec.rollout.strategy = 'blue-green';
    m.spec.replicas = 2;
    assert.deepEqual(validateYaml(objs), [
      "test/fraud: 'spec.replicas' is not a known field; remove it or check its spelling",
      'test/fraud: \'spec.rollout.strategy\' must be one of "canary", "direct"',
    ]);
  });

  test('a synth with an invalid object throws one ValidationError listing everything', () => {
    const app = new App();
    const c1 = new Chart(app, 'one', { namespace: 'ml' });
    const c2 = new Chart(app, 'two', { namespace: 'ml' });
    new Pipeline(c1, 'train').task('a', { image: 'x:1' });
    new Pipeline(c2, 'train').task('a', { image: 'x:1' });
    assert.deepEqual(
      issuesOf(() => synth(app)),
      ["two/train: 'metadata.name' 'train' is also used by another WorkflowTemplate (one/train); give one of them another name"],
    );
  });
});

describe('KServe objects are checked against the fields ghosteam writes', () => {
  test('unknown fields and bad values', () => {
    const { chart: c } = chart();
    new Model(c, 'fraud', { registry: 'fraud' });
    const objs = objectsOf(c) as any[];
    const isvc = objs.find((o) => o.kind === 'InferenceService');
    isvc.spec.predictor.sklearn = { storageUri: 's3://x' };
    isvc.spec.predictor.scaleMetric = 'gpu';
    assert.deepEqual(validateYaml(objs), [
      "test/fraud: 'spec.predictor.sklearn' is not among the KServe fields ghosteam writes (charts/kserve.ts); remove it, or check the object with 'kubectl apply --dry-run=server'",
      'test/fraud: \'spec.predictor.scaleMetric\' must be one of "cpu", "memory", "concurrency", "rps"',
    ]);
  });
});

describe('cross-object references', () => {
  test("a DriftMonitor's model and retrain pipeline must exist when their namespace is synthesized", async () => {
    const { DriftMonitor, Feature, Retrain } = await import('../../charts/index.ts');
    const { app, chart: c } = chart();
    new Pipeline(c, 'train').task('a', { image: 'x:1' });
    new Model(c, 'fraud', { registry: 'fraud' });
    new DriftMonitor(c, 'drift', { model: 'fruad', reference: 'ref.csv', features: [Feature.numerical('amount')], retrain: Retrain.withPipeline('trian') });
    assert.deepEqual(
      issuesOf(() => synth(app)),
      [
        "test/drift: 'spec.model' names Model 'fruad', which is not synthesized in namespace 'ml'; use one of fraud",
        "test/drift: 'spec.action.retrain.pipeline' names pipeline 'trian', which is not synthesized in namespace 'ml'; use one of train",
      ],
    );
    const second = chart();
    const p = new Pipeline(second.chart, 'train');
    p.param('data', { type: 'string', default: 'a.csv' });
    p.task('a', { image: 'x:1' });
    new DriftMonitor(second.chart, 'drift', {
      model: 'fraud',
      reference: 'ref.csv',
      features: [Feature.numerical('amount')],
      retrain: Retrain.withPipeline(p, { params: { dataset: 'b.csv' } }),
    });
    assert.deepEqual(
      issuesOf(() => synth(second.app)),
      [
        "test/drift: 'spec.action.retrain.params.dataset' passes param 'dataset', which pipeline 'train' does not declare; declare it with pipeline.param('dataset', …) or use one of data",
      ],
    );
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Artifact, Cache, Gpu, Item, ParallelFor, Pipeline, Resources, Retry, Schedule, Secret } from '../../pipelines/index.ts';
import { pipelineSpecHash } from '../../pipelines/hash.ts';
import { ARGO_CACHE_KEY } from '../../pipelines/argo.ts';
import { chart, find, objectsOf } from './helpers.ts';

function trainPipeline() {
  const { app, chart: c } = chart();
  const p = new Pipeline(c, 'train', { schedule: Schedule.cron('0 3 * * *'), description: 'demo' });
  const data = p.param('data', { type: 'string', default: 'fraud.csv' });
  const seeds = p.param('seeds', { type: 'list', default: [1, 2, 3] });
  const ingest = p.component('ingest', 'ingest', { params: { path: data } });
  const split = p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') } });
  const train = p.component('train', 'train-tabular', {
    inputs: { train: split.output('train') },
    params: { seed: Item.value(), label: 'is_fraud' },
    parallelFor: ParallelFor.over(seeds, { parallelism: 2 }),
    resources: Resources.of({ cpu: '2', memory: '4Gi', gpu: Gpu.count(2, { product: 'nvidia-a100', minMemoryGiB: 40 }) }),
    retry: Retry.onFailure({ limit: 3, backoff: '30s', factor: 3, maxBackoff: '10m' }),
    timeout: '1h30m',
  });
  const evaluate = p.component('evaluate', 'evaluate', { inputs: { model: train.output('model'), test: split.output('test') } });
  const gate = p.component('gate', 'gate', { inputs: { metrics: evaluate.output('metrics') }, params: { gate: { rocAuc: '>= 0.8' } } });
  const report = p.task('report', {
    image: 'busybox:1.36',
    command: ['sh', '-c', 'echo done > /tmp/outputs/summary'],
    outputs: { summary: Artifact.file('a summary') },
    env: { MODE: 'full', API_TOKEN: Secret.fromSecret('notify', 'token') },
    when: gate.outputParam('passed').eq(true),
    after: [train],
  });
  p.onExit('notify', { image: 'busybox:1.36', params: { dataset: data } });
  return { app, c, p, ingest, split, train, evaluate, gate, report };
}

describe('Pipeline → IR', () => {
  test('dependencies are inferred from artifacts, params, when and after; order is topological', () => {
    const { p } = trainPipeline();
    const spec = p.toSpec();
    assert.deepEqual(
      spec.tasks.map((t) => t.name),
      ['ingest', 'split', 'train', 'evaluate', 'gate', 'report'],
    );
    const deps = Object.fromEntries(spec.tasks.map((t) => [t.name, t.dependsOn]));
    assert.deepEqual(deps, { ingest: [], split: ['ingest'], train: ['split'], evaluate: ['split', 'train'], gate: ['evaluate'], report: ['gate', 'train'] });
    const train = spec.tasks[2];
    assert.deepEqual(train.component, { name: 'train-tabular', version: '2' });
    assert.deepEqual(train.command, ['ghosteam', 'component', 'run', 'train-tabular']);
    assert.deepEqual(train.params.seed, { kind: 'item' });
    assert.deepEqual(train.parallelFor, { items: { kind: 'param', name: 'seeds' }, parallelism: 2 });
    assert.deepEqual(train.resources.gpu, { count: 2, product: 'NVIDIA-A100-SXM4-40GB', minMemoryMiB: 40960 });
    assert.deepEqual(train.retry, { limit: 3, policy: 'OnFailure', backoff: { durationSeconds: 30, factor: 3, maxDurationSeconds: 600 } });
    assert.equal(train.timeoutSeconds, 5400);
    assert.deepEqual(train.cache, { enabled: true });
    assert.deepEqual(spec.tasks[5].cache, { enabled: false });
    assert.deepEqual(spec.tasks[5].env, { API_TOKEN: { secretKeyRef: { name: 'notify', key: 'token' } }, MODE: 'full' });
    assert.deepEqual(spec.tasks[5].when, { left: { kind: 'taskOutput', task: 'gate', output: 'passed' }, op: '==', right: { kind: 'literal', value: true } });
    assert.equal(spec.exitHandler?.name, 'notify');
    assert.deepEqual(spec.schedule, { cron: '0 3 * * *', concurrencyPolicy: 'Forbid' });
  });

  test('a task added after construction still renders (lazy)', () => {
    const { c, p, gate } = trainPipeline();
    const before = find(objectsOf(c), 'WorkflowTemplate').spec.templates.length;
    p.task('late', { image: 'busybox:1.36', after: [gate] });
    const wt = find(objectsOf(c), 'WorkflowTemplate');
    assert.equal(wt.spec.templates.length, before + 1);
    assert.ok(wt.spec.templates[0].dag.tasks.some((t: { name: string }) => t.name === 'late'));
  });

  test('spec hash: stable, ignores construct paths, changes with the definition', () => {
    const a = trainPipeline().p.toSpec();
    const b = trainPipeline().p.toSpec();
    assert.equal(pipelineSpecHash(a), pipelineSpecHash(b));
    assert.match(pipelineSpecHash(a), /^sha256:[0-9a-f]{64}$/);
    const moved = { ...a, path: 'elsewhere/train', tasks: a.tasks.map((t) => ({ ...t, path: `elsewhere/${t.name}` })) };
    assert.equal(pipelineSpecHash(moved), pipelineSpecHash(a));
    const changed = { ...a, tasks: a.tasks.map((t) => (t.name === 'train' ? { ...t, image: 'other:1' } : t)) };
    assert.notEqual(pipelineSpecHash(changed), pipelineSpecHash(a));
    const paramNamedPath = {
      ...a,
      tasks: a.tasks.map((t) => (t.name === 'ingest' ? { ...t, params: { path: { kind: 'literal' as const, value: 'x.csv' } } } : t)),
    };
    assert.notEqual(pipelineSpecHash(paramNamedPath), pipelineSpecHash(a), "a param called 'path' is part of the hash");
  });
});

describe('Pipeline → Argo', () => {
  const { c, p } = trainPipeline();
  const objs = objectsOf(c);
  const wt = find(objs, 'WorkflowTemplate', 'train');
  const tpl = (name: string) => wt.spec.templates.find((t: { name: string }) => t.name === name);
  const dag = (name: string) => tpl('ghosteam-dag').dag.tasks.find((t: { name: string }) => t.name === name);

  test('metadata: spec hash, construct path, labels', () => {
    assert.equal(wt.metadata.annotations['ghosteam.io/spec-hash'], pipelineSpecHash(p.toSpec()));
    assert.equal(wt.metadata.annotations['ghosteam.io/construct-path'], 'test/train');
    assert.equal(wt.metadata.labels['app.kubernetes.io/managed-by'], 'ghosteam');
    assert.equal(wt.metadata.labels['ghosteam.io/pipeline'], 'train');
    assert.equal((wt.metadata as { namespace?: string }).namespace, 'ml');
    assert.equal(wt.spec.entrypoint, 'ghosteam-dag');
    assert.deepEqual(wt.spec.arguments.parameters, [
      { name: 'data', value: 'fraud.csv' },
      { name: 'seeds', value: '[1,2,3]' },
    ]);
  });

  test('dag: artifacts, params, depends, when, withParam', () => {
    assert.deepEqual(dag('split'), {
      name: 'split',
      template: 'split',
      depends: 'ingest.Succeeded',
      arguments: { artifacts: [{ name: 'dataset', from: '{{tasks.ingest.outputs.artifacts.dataset}}' }] },
    });
    assert.equal(dag('train').withParam, '{{workflow.parameters.seeds}}');
    assert.deepEqual(dag('train').arguments.parameters, [
      { name: 'label', value: 'is_fraud' },
      { name: 'seed', value: '{{item}}' },
    ]);
    assert.equal(dag('report').when, '{{tasks.gate.outputs.parameters.passed}} == true');
    assert.equal(dag('report').depends, 'gate.Succeeded && (train.Succeeded || train.Skipped)');
    assert.deepEqual(dag('gate').arguments.parameters, [{ name: 'gate', value: '{"rocAuc":">= 0.8"}' }]);
    assert.equal(wt.spec.parallelism, 2);
  });

  test('component template: ghosteam component run with the container path convention', () => {
    const t = tpl('split');
    assert.deepEqual(t.container.command, ['ghosteam', 'component', 'run', 'split']);
    assert.deepEqual(t.container.args, [
      '--input',
      'dataset=/tmp/inputs/dataset',
      '--output',
      'train=/tmp/outputs/train',
      '--output',
      'test=/tmp/outputs/test',
      '--output-params-dir',
      '/tmp/outputs/params',
    ]);
    assert.deepEqual(t.inputs.artifacts, [{ name: 'dataset', path: '/tmp/inputs/dataset' }]);
    assert.deepEqual(
      t.outputs.parameters.map((x: { valueFrom: { path: string } }) => x.valueFrom.path),
      ['/tmp/outputs/params/trainRows', '/tmp/outputs/params/testRows'],
    );
    assert.equal(t.metadata.annotations['ghosteam.io/construct-path'], 'test/train/split');
    assert.equal(t.metadata.labels['ghosteam.io/component'], 'split');
    // Argo memoizes on the key alone and cannot see input artifacts: a step that has any is never
    // memoized (it would be reused with a different upstream dataset or model).
    assert.equal(t.memoize, undefined);
  });

  test('memoize key: the task hash and a sha256 of the params, in the characters Argo accepts', () => {
    // The first run on the real controller failed: 'invalid cache key: 4cf899b46f346680/s3://data/...'
    // (Argo allows only [a-zA-Z0-9-]); a param value may hold anything, so Argo hashes it when it runs.
    // ingest reads data by path: by default its result is reused only where the data's content keys
    // it (the local engine), never by Argo, whose key is the path (a retrain must read the new rows).
    assert.equal(tpl('ingest').memoize, undefined);
    const { chart: c1 } = chart();
    const p1 = new Pipeline(c1, 'train');
    p1.component('ingest', 'ingest', { params: { path: 's3://data/2026-12-01/x.parquet' }, cache: Cache.enabled() });
    const t = find(objectsOf(c1), 'WorkflowTemplate').spec.templates.find((x: { name: string }) => x.name === 'ingest');
    assert.match(t.memoize.key, /^[0-9a-f]{16}-\{\{=sprig\.sha256sum\(toJson\(\[inputs\.parameters\['path'\]\]\)\)\}\}$/);
    assert.equal(t.memoize.cache.configMap.name, 'ghosteam-cache-train');
    // What Argo checks, once it has evaluated the expression:
    const evaluated = t.memoize.key.replace(/\{\{=.*\}\}$/, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.match(evaluated, ARGO_CACHE_KEY);
    const { chart: c2 } = chart();
    const p2 = new Pipeline(c2, 'keys');
    p2.task('no-params', { image: 'x:1', cache: Cache.enabled() });
    p2.task('two', { image: 'x:1', params: { a: 'x', b_c: 1 }, cache: Cache.enabled() });
    const w = find(objectsOf(c2), 'WorkflowTemplate');
    const key = (n: string) => w.spec.templates.find((x: { name: string }) => x.name === n).memoize.key;
    assert.match(key('no-params'), ARGO_CACHE_KEY);
    assert.match(key('two'), /-\{\{=sprig\.sha256sum\(toJson\(\[inputs\.parameters\['a'\], inputs\.parameters\['b_c'\]\]\)\)\}\}$/);
  });

  test('GPU: nvidia.com/gpu requests+limits, product node selector, memory affinity, toleration', () => {
    const t = tpl('train');
    assert.deepEqual(t.container.resources, {
      requests: { cpu: '2', memory: '4Gi', 'nvidia.com/gpu': '2' },
      limits: { cpu: '2', memory: '4Gi', 'nvidia.com/gpu': '2' },
    });
    assert.deepEqual(t.nodeSelector, { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB' });
    assert.deepEqual(t.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions, [
      { key: 'nvidia.com/gpu.memory', operator: 'Gt', values: ['40959'] },
    ]);
    assert.deepEqual(t.tolerations, [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    assert.deepEqual(t.retryStrategy, {
      limit: 3,
      retryPolicy: 'OnFailure',
      expression: "lastRetry.exitCode not in ['64', '65', '78']",
      backoff: { duration: '30s', factor: 3, maxDuration: '10m' },
    });
    assert.equal(t.activeDeadlineSeconds, 5400);
    assert.equal(tpl('ingest').nodeSelector, undefined);
    assert.equal(tpl('ingest').tolerations, undefined);
  });

  test('MIG profile requests nvidia.com/mig-<profile>', () => {
    const { chart: c2 } = chart();
    const p2 = new Pipeline(c2, 'mig');
    p2.task('infer', { image: 'x:1', resources: Resources.of({ cpu: '1', memory: '1Gi', gpu: Gpu.mig('1g.10gb', { product: 'nvidia-a100' }) }) });
    const t = find(objectsOf(c2), 'WorkflowTemplate').spec.templates[1];
    assert.equal(t.container.resources.limits['nvidia.com/mig-1g.10gb'], '1');
    assert.equal(t.container.resources.limits['nvidia.com/gpu'], undefined);
  });

  test('security defaults and requests+limits on every pod template; secrets by reference', () => {
    assert.deepEqual(wt.spec.securityContext, {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      fsGroup: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const containers = wt.spec.templates.filter((t: { container?: unknown }) => t.container);
    assert.equal(containers.length, 7);
    for (const t of containers) {
      assert.deepEqual(
        t.container.securityContext,
        {
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        },
        t.name,
      );
      assert.ok(t.container.resources.requests.cpu && t.container.resources.limits.memory, t.name);
      // The I/O contract's directories exist and are writable (pipelines/contract.ts).
      assert.deepEqual(t.container.volumeMounts, [
        { name: 'tmp', mountPath: '/tmp' },
        { name: 'ghosteam-outputs', mountPath: '/tmp/outputs' },
        { name: 'ghosteam-output-params', mountPath: '/tmp/outputs/params' },
        { name: 'ghosteam-work', mountPath: '/tmp/work' },
      ]);
      assert.deepEqual(
        t.volumes.map((v: { name: string; emptyDir?: object }) => [v.name, !!v.emptyDir]),
        [
          ['tmp', true],
          ['ghosteam-outputs', true],
          ['ghosteam-output-params', true],
          ['ghosteam-work', true],
        ],
      );
    }
    const env = tpl('report').container.env;
    assert.deepEqual(
      env.find((e: { name: string }) => e.name === 'API_TOKEN'),
      { name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'notify', key: 'token' } } },
    );
    assert.doesNotMatch(JSON.stringify(wt), /"value":"token"/);
  });

  test('exit handler runs via onExit with the workflow status', () => {
    assert.equal(wt.spec.onExit, 'notify-exit');
    assert.deepEqual(tpl('notify-exit').dag.tasks, [
      { name: 'notify', template: 'notify', arguments: { parameters: [{ name: 'dataset', value: '{{workflow.parameters.data}}' }] } },
    ]);
    assert.ok(
      tpl('notify').container.env.some((e: { name: string; value: string }) => e.name === 'GHOSTEAM_WORKFLOW_STATUS' && e.value === '{{workflow.status}}'),
    );
  });

  test('CronWorkflow references the template and carries the same hash', () => {
    const cw = find(objs, 'CronWorkflow', 'train');
    assert.deepEqual(cw.spec, {
      schedules: ['0 3 * * *'],
      concurrencyPolicy: 'Forbid',
      workflowMetadata: {
        labels: { 'ghosteam.io/pipeline': 'train', 'ghosteam.io/reason': 'schedule' },
        annotations: { 'ghosteam.io/spec-hash': wt.metadata.annotations['ghosteam.io/spec-hash'] },
      },
      workflowSpec: { workflowTemplateRef: { name: 'train' } },
    });
  });

  test('an unscheduled pipeline has no CronWorkflow; string conditions are quoted', () => {
    const { chart: c2 } = chart();
    const p2 = new Pipeline(c2, 'plain');
    const mode = p2.param('mode', { type: 'string', default: 'fast', enum: ['fast', 'slow'] });
    p2.task('a', { image: 'x:1', when: mode.eq('fast'), cache: Cache.enabled({ maxAge: '7d' }) });
    const objs2 = objectsOf(c2);
    assert.deepEqual(
      objs2.map((o) => o.kind),
      ['WorkflowTemplate'],
    );
    const w = find(objs2, 'WorkflowTemplate');
    assert.equal(w.spec.templates[0].dag.tasks[0].when, "'{{workflow.parameters.mode}}' == 'fast'");
    assert.equal(w.spec.templates[1].memoize.maxAge, '168h');
    assert.deepEqual(w.spec.arguments.parameters[0].enum, ['fast', 'slow']);
  });
});

/**
 * A Sweep synthesized to a Katib Experiment (cluster: 'katib') and its trial WorkflowTemplate: what
 * they contain, the synth errors for what Katib cannot express, and the real kube-apiserver peer
 * accepting both (server-side apply, dryRun=All) with Katib's and Argo's upstream CRDs installed,
 * read in place from ../shared/upstream. Katib's Experiment CRD has no typed schema upstream
 * (x-kubernetes-preserve-unknown-fields), so the field names are also checked here against Katib's
 * Go types (pkg/apis/controller/{common,experiments}/v1beta1), listed below; Argo's WorkflowTemplate
 * schema is typed and the dry run checks it.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { EarlyStopping, Objective, Pipeline, Search, Space, Sweep } from '../../pipelines/index.ts';
import { KATIB_METRICS_FORMAT } from '../../pipelines/tuning/katib.ts';
import { chart, find, issuesOf, objectsOf, type Obj } from '../constructs/helpers.ts';
import { installCrds, loadCrdFile } from '../peers/crds.ts';
import { upstreamDir } from '../peers/config.ts';
import { kubeConfig, rawKube, uniqueName, usePeers, type KubeObject } from '../peers/index.ts';

function app(opts: { es?: EarlyStopping; objective?: 'evaluate' | 'train'; time?: string; algorithm?: Search } = {}) {
  const { chart: c } = chart();
  const p = new Pipeline(c, 'fraud-train');
  const ingest = p.component('ingest', 'ingest', { params: { path: 'data.csv' } });
  const split = p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') } });
  const train = p.component('train', 'train-tabular', {
    inputs: { train: split.output('train') },
    params: { label: 'is_fraud', epochs: 20, validationFraction: 0.2 },
  });
  const evaluate = p.component('evaluate', 'evaluate', { inputs: { model: train.output('model'), test: split.output('test') } });
  p.component('register', 'register', { inputs: { model: train.output('model') }, params: { name: 'fraud' } });
  const objective = opts.objective === 'train' ? Objective.minimize(train, 'valLoss') : Objective.maximize(evaluate, 'auc');
  const mk = () =>
    new Sweep(c, 'fraud-tune', {
      pipeline: p,
      trial: train,
      space: {
        learningRate: Space.logUniform(1e-4, 1e-1),
        batchSize: Space.categorical([64, 128, 256]),
        model: Space.categorical(['logistic', 'mlp']),
        epochs: Space.int(5, 30, { step: 5 }),
      },
      objective,
      algorithm: opts.algorithm ?? Search.tpe({ seed: 7 }),
      ...(opts.es ? { earlyStopping: opts.es } : {}),
      budget: { trials: 24, parallelism: 4, ...(opts.time ? { time: opts.time } : {}) },
      cluster: 'katib',
    });
  return { c, mk };
}

// Katib's JSON field names (Go json tags), for the parts the Experiment uses.
const KATIB_FIELDS: Record<string, readonly string[]> = {
  spec: [
    'parameters',
    'objective',
    'algorithm',
    'earlyStopping',
    'trialTemplate',
    'parallelTrialCount',
    'maxTrialCount',
    'maxFailedTrialCount',
    'metricsCollectorSpec',
    'nasConfig',
    'resumePolicy',
  ],
  objective: ['type', 'goal', 'objectiveMetricName', 'additionalMetricNames', 'metricStrategies'],
  algorithm: ['algorithmName', 'algorithmSettings'],
  earlyStopping: ['algorithmName', 'algorithmSettings'],
  setting: ['name', 'value'],
  parameter: ['name', 'parameterType', 'feasibleSpace'],
  feasibleSpace: ['max', 'min', 'list', 'step', 'distribution'],
  trialTemplate: ['retain', 'trialSpec', 'configMap', 'trialParameters', 'primaryPodLabels', 'primaryContainerName', 'successCondition', 'failureCondition'],
  trialParameter: ['name', 'description', 'reference'],
  metricsCollectorSpec: ['source', 'collector'],
};

function onlyKnown(obj: Record<string, unknown>, kind: string): void {
  for (const k of Object.keys(obj)) assert.ok(KATIB_FIELDS[kind].includes(k), `${kind}.${k} is not a Katib field`);
}

describe('Sweep → Katib Experiment', () => {
  it('renders the Experiment and the trial WorkflowTemplate', () => {
    const { c, mk } = app();
    mk();
    const objs = objectsOf(c);
    const exp = find(objs, 'Experiment', 'fraud-tune');
    assert.equal(exp.apiVersion, 'kubeflow.org/v1beta1');
    assert.equal((exp.metadata as unknown as { namespace: string }).namespace, 'ml');
    const s = exp.spec;
    onlyKnown(s, 'spec');
    onlyKnown(s.objective, 'objective');
    onlyKnown(s.algorithm, 'algorithm');
    onlyKnown(s.trialTemplate, 'trialTemplate');
    onlyKnown(s.metricsCollectorSpec, 'metricsCollectorSpec');
    for (const p of s.parameters) {
      onlyKnown(p, 'parameter');
      onlyKnown(p.feasibleSpace, 'feasibleSpace');
    }
    assert.deepEqual(s.objective, { type: 'maximize', objectiveMetricName: 'auc', metricStrategies: [{ name: 'auc', value: 'latest' }] });
    assert.deepEqual(s.algorithm, { algorithmName: 'tpe', algorithmSettings: [{ name: 'random_state', value: '7' }] });
    assert.deepEqual([s.parallelTrialCount, s.maxTrialCount, s.maxFailedTrialCount], [4, 24, 24]);
    assert.deepEqual(s.parameters, [
      { name: 'learningRate', parameterType: 'double', feasibleSpace: { min: '0.0001', max: '0.1', distribution: 'logUniform' } },
      { name: 'batchSize', parameterType: 'discrete', feasibleSpace: { list: ['64', '128', '256'] } },
      { name: 'model', parameterType: 'categorical', feasibleSpace: { list: ['logistic', 'mlp'] } },
      { name: 'epochs', parameterType: 'int', feasibleSpace: { min: '5', max: '30', step: '5' } },
    ]);
    assert.equal(s.earlyStopping, undefined);
    assert.deepEqual(s.metricsCollectorSpec, { collector: { kind: 'StdOut' }, source: { filter: { metricsFormat: [KATIB_METRICS_FORMAT] } } });
    const tt = s.trialTemplate;
    assert.equal(tt.primaryContainerName, 'main');
    assert.deepEqual(tt.primaryPodLabels, { 'katib.kubeflow.org/model-training': 'true' });
    assert.deepEqual(
      tt.trialParameters.map((p: { name: string; reference: string }) => [p.name, p.reference]),
      [
        ['learningRate', 'learningRate'],
        ['batchSize', 'batchSize'],
        ['model', 'model'],
        ['epochs', 'epochs'],
      ],
    );
    assert.deepEqual(tt.trialSpec, {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Workflow',
      spec: {
        workflowTemplateRef: { name: 'fraud-tune-trial' },
        arguments: {
          parameters: ['learningRate', 'batchSize', 'model', 'epochs'].map((n) => ({ name: n, value: `\${trialParameters.${n}}` })),
        },
      },
    });

    const wt = find(objs, 'WorkflowTemplate', 'fraud-tune-trial');
    const params = (wt.spec.arguments.parameters as { name: string }[]).map((p) => p.name);
    assert.deepEqual(params, ['learningRate', 'batchSize', 'model', 'epochs']);
    const dag = wt.spec.templates.find((t: { name: string }) => t.name === 'ghosteam-dag');
    assert.deepEqual(
      dag.dag.tasks.map((t: { name: string }) => t.name),
      ['ingest', 'split', 'train', 'evaluate'],
      'the trial runs up to the objective (no register)',
    );
    const trainArgs = Object.fromEntries(
      dag.dag.tasks.find((t: { name: string }) => t.name === 'train').arguments.parameters.map((a: { name: string; value: string }) => [a.name, a.value]),
    );
    assert.equal(trainArgs.learningRate, '{{workflow.parameters.learningRate}}');
    assert.equal(trainArgs.epochs, '{{workflow.parameters.epochs}}');
    assert.equal(trainArgs.validationFraction, '0.2');
    const labelled = wt.spec.templates.filter(
      (t: { metadata?: { labels?: Record<string, string> } }) => t.metadata?.labels?.['katib.kubeflow.org/model-training'],
    );
    assert.deepEqual(
      labelled.map((t: { name: string }) => t.name),
      ['evaluate'],
      "the objective's step is the primary pod",
    );
    // The pipeline's own WorkflowTemplate is unchanged beside them.
    assert.ok(find(objs, 'WorkflowTemplate', 'fraud-train'));
  });

  it("the collector's format reads the lines `ghosteam component run` prints", () => {
    const re = new RegExp(KATIB_METRICS_FORMAT, 'g');
    const read = (line: string) => [...line.matchAll(re)].map((m) => [m[1], Number(m[2])]);
    assert.deepEqual(read('output auc = 0.9731'), [['auc', 0.9731]]);
    assert.deepEqual(read('epoch 3/20 loss=0.123456 valLoss=1.2e-1'), [
      ['loss', 0.123456],
      ['valLoss', 0.12],
    ]);
  });

  it('median stopping on the per-epoch objective: medianstop, the trial step the primary pod', () => {
    const { c, mk } = app({ es: EarlyStopping.median({ startupTrials: 4, warmupSteps: 2 }), objective: 'train', algorithm: Search.random({ seed: 3 }) });
    mk();
    const objs = objectsOf(c);
    const s = find(objs, 'Experiment').spec;
    assert.deepEqual(s.earlyStopping, {
      algorithmName: 'medianstop',
      algorithmSettings: [
        { name: 'min_trials_required', value: '4' },
        { name: 'start_step', value: '3' },
      ],
    });
    assert.deepEqual(s.objective.objectiveMetricName, 'valLoss');
    assert.deepEqual(s.algorithm, { algorithmName: 'random', algorithmSettings: [{ name: 'random_state', value: '3' }] });
    const wt = find(objs, 'WorkflowTemplate', 'fraud-tune-trial');
    assert.deepEqual(
      wt.spec.templates.find((t: { name: string }) => t.name === 'ghosteam-dag').dag.tasks.map((t: { name: string }) => t.name),
      ['ingest', 'split', 'train'],
    );
    assert.equal(wt.spec.templates.find((t: { name: string }) => t.name === 'train').metadata.labels['katib.kubeflow.org/model-training'], 'true');
  });

  /** ingest → split → train → evaluate, the smallest pipeline a sweep over train can judge by evaluate. */
  const trainEvaluate = (c: ReturnType<typeof chart>['chart']) => {
    const p = new Pipeline(c, 'p');
    const ingest = p.component('ingest', 'ingest', { params: { path: 'data.csv' } });
    const split = p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') } });
    const train = p.component('train', 'train-tabular', { inputs: { train: split.output('train') }, params: { label: 'y' } });
    const evaluate = p.component('evaluate', 'evaluate', { inputs: { model: train.output('model'), test: split.output('test') } });
    return { p, train, evaluate };
  };

  it("quasi-random search is Katib's sobol algorithm (which takes no seed)", () => {
    const { chart: c } = chart();
    const { p, train, evaluate } = trainEvaluate(c);
    new Sweep(c, 'q', {
      pipeline: p,
      trial: train,
      space: { learningRate: Space.logUniform(1e-3, 1e-1) },
      objective: Objective.minimize(evaluate, 'logLoss'),
      algorithm: Search.qmc({ seed: 4 }),
      budget: { trials: 8 },
      cluster: 'katib',
    });
    const s = find(objectsOf(c), 'Experiment').spec;
    assert.deepEqual(s.algorithm, { algorithmName: 'sobol' });
    assert.equal(s.maxTrialCount, 8);
  });

  it('grid search: every dimension as its grid points', () => {
    const { chart: c } = chart();
    const { p, train, evaluate } = trainEvaluate(c);
    new Sweep(c, 'g', {
      pipeline: p,
      trial: train,
      space: { learningRate: Space.logUniform(1e-3, 1e-1, { grid: 3 }), epochs: Space.int(5, 15, { step: 5 }) },
      objective: Objective.minimize(evaluate, 'logLoss'),
      algorithm: Search.grid(),
      cluster: 'katib',
    });
    const s = find(objectsOf(c), 'Experiment').spec;
    assert.deepEqual(s.algorithm, { algorithmName: 'grid' });
    assert.equal(s.maxTrialCount, 9);
    assert.deepEqual(s.parameters, [
      { name: 'learningRate', parameterType: 'discrete', feasibleSpace: { list: ['0.001', '0.01', '0.1'] } },
      { name: 'epochs', parameterType: 'int', feasibleSpace: { min: '5', max: '15', step: '5' } },
    ]);
  });

  it('bad input: what Katib cannot express is a synth error naming the fix', () => {
    assert.deepEqual(
      issuesOf(() => app({ es: EarlyStopping.asha() }).mk()),
      [
        "test/fraud-tune: 'earlyStopping' is ASHA, which Katib does not offer as early stopping (its early stopping is median stopping, 'medianstop'); use EarlyStopping.median(), or leave cluster at 'argo'",
        "test/fraud-tune: 'earlyStopping.metric' is 'valLoss' of task 'train', but Katib's median stopping judges the objective's per-step values ('auc' of task 'evaluate'); with cluster 'katib' make the objective the per-epoch metric, e.g. Objective.minimize(train, 'valLoss')",
      ],
    );
    assert.deepEqual(
      issuesOf(() => app({ time: '1h' }).mk()),
      ["test/fraud-tune: 'budget.time' is set, and a Katib Experiment has no time limit; leave it out with cluster 'katib' (maxTrialCount bounds it)"],
    );
    const { chart: c } = chart();
    const p = new Pipeline(c, 'p');
    const ingest = p.component('ingest', 'ingest', { params: { path: 'data.csv' } });
    const train = p.component('train', 'train-tabular', { inputs: { train: ingest.output('dataset') }, params: { label: 'y' } });
    assert.deepEqual(
      issuesOf(
        () =>
          new Sweep(c, 'k', {
            pipeline: p,
            trial: train,
            space: { model: Space.categorical(['logistic', 'mlp']), hidden: Space.categorical(['16', '32,16']).when('model', ['mlp']) },
            objective: Objective.minimize(train, 'finalLoss'),
            cluster: 'katib',
          }),
      ),
      ["test/k: 'space.hidden' is conditional on 'model', which a Katib Experiment cannot express; use cluster 'argo' or drop the condition"],
    );
    assert.deepEqual(
      issuesOf(
        () =>
          new Sweep(c, 'x', {
            pipeline: p,
            trial: train,
            space: { epochs: Space.int(1, 3) },
            objective: Objective.minimize(train, 'finalLoss'),
            cluster: 'kubeflow' as 'katib',
          }),
      ),
      ["test/x: 'cluster' is 'kubeflow'; use 'argo' (a WorkflowTemplate), 'katib' (a Katib Experiment) or 'none'"],
    );
  });
});

const peers = await usePeers(['kube']);

describe('Katib Experiment on the real API server (server-side apply, dryRun=All)', { skip: peers.skip }, () => {
  let objs: Obj[] = [];
  let ns = '';
  before(async () => {
    // Installed by peers:up (test/peers/crds.ts); installing again is a no-op replace, so a peer
    // started before the Katib CRDs joined the list has them too.
    await installCrds(
      peers.kubeconfig,
      ['experiment.yaml', 'trial.yaml', 'suggestion.yaml'].flatMap((f) => loadCrdFile(join(upstreamDir, 'katib', f))),
    );
    ns = uniqueName('katib');
    await kubeConfig(peers)
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: ns } } });
    const { c, mk } = app({ es: EarlyStopping.median(), objective: 'train' });
    mk();
    objs = objectsOf(c).map((o) => ({ ...o, metadata: { ...o.metadata, namespace: ns } }));
  });

  it('accepts the Experiment, the trial WorkflowTemplate and the pipeline beside them', async () => {
    const kube = rawKube(peers.kubeconfig);
    const kinds: string[] = [];
    for (const o of objs) {
      const applied = await kube.apply<KubeObject>(o, { dryRun: true, fieldManager: 'ghosteam-test' });
      assert.equal(applied.metadata?.name, o.metadata.name);
      kinds.push(`${o.kind}/${o.metadata.name}`);
    }
    assert.ok(kinds.includes('Experiment/fraud-tune') && kinds.includes('WorkflowTemplate/fraud-tune-trial'), kinds.join(', '));
  });

  it('the dry run validates the trial template: a broken copy is rejected', async () => {
    const wt = structuredClone(find(objs, 'WorkflowTemplate', 'fraud-tune-trial'));
    wt.spec.templates[1].container.args = 'not-a-list';
    await assert.rejects(rawKube(peers.kubeconfig).apply(wt, { dryRun: true }), /args|Invalid value/);
  });
});

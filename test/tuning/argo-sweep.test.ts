/**
 * A Sweep synthesized to Argo (cluster 'argo', the default): one WorkflowTemplate whose controller
 * step proposes each round. The controller (components/tuning/controller.ts) is driven here round by
 * round as the workflow would drive it — its items in, the trial outputs back as Argo aggregates them
 * (a list of string maps) — on a known objective; ASHA's rungs stop trials and spend a fraction of the
 * epochs. The template is server-side dry-run applied to the real kube-apiserver peer against Argo's
 * upstream WorkflowTemplate CRD schema (read in place from ../shared/upstream).
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api } from '@kubernetes/client-node';
import { EarlyStopping, Objective, Pipeline, Search, Space, Sweep } from '../../pipelines/index.ts';
import { controllerStep, type ControllerSpec, type ControllerState, type RoundResult } from '../../components/tuning/controller.ts';
import { sweepController } from '../../components/sweep-controller/index.ts';
import type { ParamValue } from '../../components/component.ts';
import { chart, find, issuesOf, objectsOf, synth, type Obj } from '../constructs/helpers.ts';
import { validateObject } from '../../charts/validate.ts';
import { kubeConfig, rawKube, uniqueName, usePeers, type KubeObject } from '../peers/index.ts';

function app(opts: { es?: EarlyStopping; name?: string; hidden?: boolean; epochs?: number } = {}) {
  const { app: a, chart: c } = chart();
  const p = new Pipeline(c, 'fraud-train');
  const ingest = p.component('ingest', 'ingest', { params: { path: 'data.csv' } });
  const split = p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') } });
  const train = p.component('train', 'train-tabular', {
    inputs: { train: split.output('train') },
    params: { label: 'is_fraud', epochs: 27, validationFraction: 0.2, model: 'logistic', ...(opts.hidden === false ? {} : { hidden: '16' }) },
  });
  const evaluate = p.component('evaluate', 'evaluate', { inputs: { model: train.output('model'), test: split.output('test') } });
  p.component('register', 'register', { inputs: { model: train.output('model') }, params: { name: 'fraud' } });
  new Sweep(c, opts.name ?? 'fraud-tune', {
    pipeline: p,
    trial: train,
    space: {
      learningRate: Space.logUniform(1e-4, 1e-1),
      model: Space.categorical(['logistic', 'mlp']),
      hidden: Space.categorical(['16', '32,16']).when('model', ['mlp']),
    },
    objective: Objective.minimize(evaluate, 'logLoss'),
    algorithm: Search.random({ seed: 5 }),
    ...(opts.es ? { earlyStopping: opts.es } : {}),
    budget: opts.epochs !== undefined ? { epochs: opts.epochs, parallelism: 3 } : { trials: 9, parallelism: 3 },
  });
  return { a, c };
}

type Tpl = {
  name: string;
  steps?: { name: string; template: string; withParam?: string; when?: string; arguments?: { parameters: { name: string; value: string }[] } }[][];
  dag?: { tasks: { name: string; arguments?: { parameters: { name: string; value: string }[] } }[] };
  outputs?: { parameters: { name: string; valueFrom: { parameter: string } }[] };
  inputs?: { parameters: { name: string }[] };
  parallelism?: number;
  container?: { args: string[] };
};

const templates = (wt: Obj): Tpl[] => wt.spec.templates as Tpl[];
const tpl = (wt: Obj, name: string): Tpl => templates(wt).find((t) => t.name === name)!;

describe('Sweep → Argo WorkflowTemplate', () => {
  it('renders the rounds: controller, trials in parallel, next round or the final run', () => {
    const { c } = app({ es: EarlyStopping.asha() });
    const wt = find(objectsOf(c), 'WorkflowTemplate', 'fraud-tune');
    assert.equal(wt.spec.entrypoint, 'sweep');
    const round = tpl(wt, 'round');
    assert.equal(round.parallelism, 3);
    assert.deepEqual(
      round.steps!.map((g) => g.map((s) => s.name)),
      [['propose'], ['trial'], ['next', 'final']],
    );
    assert.equal(round.steps![1][0].withParam, '{{steps.propose.outputs.parameters.items}}');
    assert.equal(round.steps![2][0].when, '{{steps.propose.outputs.parameters.done}} == false');
    assert.deepEqual(round.steps![2][0].arguments!.parameters[1], { name: 'results', value: '{{steps.trial.outputs.parameters}}' });
    assert.equal(round.steps![2][1].withParam, '{{steps.propose.outputs.parameters.final}}');
    const trial = tpl(wt, 'trial');
    assert.deepEqual(
      trial.dag!.tasks.map((t) => t.name),
      ['ingest', 'split', 'train', 'evaluate'],
    );
    const trainArgs = Object.fromEntries(trial.dag!.tasks.find((t) => t.name === 'train')!.arguments!.parameters.map((a) => [a.name, a.value]));
    assert.equal(trainArgs.learningRate, '{{inputs.parameters.learningRate}}');
    assert.equal(trainArgs.epochs, '{{inputs.parameters.epochs}}', 'ASHA sets the epochs per rung');
    assert.equal(trainArgs.validationFraction, '0.2');
    assert.deepEqual(trial.outputs!.parameters, [
      { name: 'value', valueFrom: { parameter: '{{tasks.evaluate.outputs.parameters.logLoss}}' } },
      { name: 'intermediate', valueFrom: { parameter: '{{tasks.train.outputs.parameters.valLoss}}' } },
      { name: 'trial', valueFrom: { expression: 'inputs.parameters.trial' } },
    ]);
    assert.deepEqual((round.steps![1][0] as { continueOn?: unknown }).continueOn, { failed: true, error: true }, 'a failed trial does not fail the round');
    assert.deepEqual(
      tpl(wt, 'final').dag!.tasks.map((t) => t.name),
      ['ingest', 'split', 'train', 'evaluate', 'register'],
      'the best params run the whole pipeline',
    );
    const ctl = tpl(wt, 'sweep-controller');
    const meta = (ctl as unknown as { metadata: { labels: Record<string, string>; annotations: Record<string, string> } }).metadata;
    assert.equal(meta.labels['ghosteam.io/pipeline'], 'fraud-tune', "the controller's pod carries the sweep's label, as the trials' pods do");
    assert.equal(meta.annotations['ghosteam.io/construct-path'], 'test/fraud-tune/sweep-controller');
    assert.ok(ctl.container!.args.includes('spec={{inputs.parameters.spec}}'), ctl.container!.args.join(' '));
    assert.deepEqual((ctl as unknown as { container: { command: string[] } }).container.command, ['ghosteam', 'component', 'run', 'sweep-controller']);
    const spec = JSON.parse(round.steps![0][0].arguments!.parameters[0].value) as ControllerSpec;
    assert.deepEqual(spec.resource, { param: 'epochs', max: 27 });
    assert.deepEqual(spec.defaults, { model: 'logistic', hidden: '16' }, 'an inactive conditional param keeps the task value');
    assert.deepEqual(spec.sweep.earlyStopping, {
      kind: 'asha',
      minResource: 1,
      reductionFactor: 3,
      minEarlyStoppingRate: 0,
      metric: 'valLoss',
      direction: 'minimize',
    });
  });

  it("synth's validation takes Argo's steps as lists of parallel steps, and names a bad step by its place", () => {
    // `ghosteam synth` of any Argo sweep failed here before: the published models type a group of
    // parallel steps as an object, while Argo (ParallelSteps' JSON and OpenAPI type) has a list.
    const { a, c } = app({ es: EarlyStopping.asha() });
    assert.doesNotThrow(() => synth(a));
    const wt = structuredClone(find(objectsOf(c), 'WorkflowTemplate', 'fraud-tune'));
    (wt.spec.templates as Tpl[]).find((t) => t.name === 'round')!.steps![1][0].name = 5 as never;
    const issues = validateObject({ source: 'sweep.yaml', object: wt });
    assert.deepEqual(
      issues.map((i) => `${i.field} ${i.message}`),
      ['spec.templates[1].steps[1][0].name must be of type string'],
    );
  });

  it('bad input at synth: median stopping, a conditional param the task gives no value', () => {
    const { a } = app({ es: EarlyStopping.median(), hidden: false });
    assert.deepEqual(
      issuesOf(() => synth(a)),
      [
        "test/fraud-tune: 'earlyStopping' is median stopping, which needs every trial's per-epoch values as they come; an Argo sweep stops trials at rungs: use EarlyStopping.asha(), or cluster 'katib'",
        "test/fraud-tune: 'space.hidden' is conditional, and task 'train' gives it no value of its own for the trials where it is inactive; give the task a literal hidden",
      ],
    );
  });
});

/** The objective of the simulated trials: a better learning rate is better at every epoch. */
function simulate(params: Record<string, ParamValue>, epochs: number): RoundResult {
  const lr = Number(params.learningRate);
  const base = Math.abs(Math.log10(lr) + 2) + (params.model === 'mlp' ? 0.05 : 0);
  return { trial: String(params.trial), value: String(base + 0.1), intermediate: String(base + 1 / epochs) };
}

async function drive(
  spec: ControllerSpec,
  fails: (item: Record<string, ParamValue>) => boolean = () => false,
): Promise<{
  rounds: number;
  epochs: number;
  state: ControllerState;
  best?: { value: number; params: Record<string, ParamValue> };
  final: Record<string, ParamValue>[];
}> {
  let state = '';
  let results = '';
  let epochs = 0;
  for (let round = 0; round < 50; round++) {
    // Through the component, as `ghosteam component run sweep-controller` runs it in the pod.
    const out: Record<string, ParamValue> = {};
    await sweepController.run({
      params: { spec: JSON.stringify(spec), state, results },
      inputs: {},
      outputs: {},
      workDir: '/tmp',
      signal: new AbortController().signal,
      log: () => {},
      progress: () => {},
      setOutput: (k, v) => (out[k] = v),
    });
    const items = out.items as Record<string, ParamValue>[];
    if (out.done === true) {
      const st = JSON.parse(out.state as string) as ControllerState;
      return { rounds: round, epochs, state: st, ...(out.best ? { best: out.best as never } : {}), final: out.final as Record<string, ParamValue>[] };
    }
    const e = (it: Record<string, ParamValue>): number => Number(it.epochs ?? 27);
    epochs += items.reduce((a, it) => a + e(it), 0);
    state = out.state as string;
    // As Argo aggregates a round's outputs: a failed trial's are missing.
    results = JSON.stringify(items.filter((it) => !fails(it)).map((it) => simulate(it, e(it))));
  }
  throw new Error('the sweep did not end');
}

describe('the sweep controller, round by round', () => {
  const base = (): ControllerSpec => ({
    sweep: {
      path: 'test/s',
      space: { learningRate: Space.logUniform(1e-4, 1e-1).spec, model: Space.categorical(['logistic', 'mlp']).spec },
      objective: { metric: 'logLoss', direction: 'minimize' },
      algorithm: { kind: 'random', seed: 5 },
      budget: { trials: 27, parallelism: 4 },
    },
  });

  it('without early stopping: rounds of `parallelism` trials until the budget; the best trial is the final run', async () => {
    const r = await drive(base());
    assert.equal(r.rounds, 7, '27 trials, 4 a round');
    assert.equal(r.state.trials.length, 27);
    assert.ok(r.state.trials.every((t) => t.state === 'Complete'));
    assert.equal(r.epochs, 27 * 27);
    const best = r.state.trials.reduce((a, b) => (b.value! < a.value! ? b : a));
    assert.equal(r.best!.value, best.value);
    assert.deepEqual(r.final, [best.params]);
  });

  it('ASHA: rungs of 1, 3, 9, 27 epochs keep the best third; the best trial is found with a fraction of the epochs', async () => {
    const spec: ControllerSpec = {
      ...base(),
      sweep: {
        ...base().sweep,
        earlyStopping: { kind: 'asha', minResource: 1, reductionFactor: 3, minEarlyStoppingRate: 0, metric: 'valLoss', direction: 'minimize' },
      },
      resource: { param: 'epochs', max: 27 },
    };
    const r = await drive(spec);
    assert.equal(r.rounds, 4);
    assert.deepEqual(
      [27, 9, 3, 1].map((n) => r.state.trials.filter((t) => t.rung === [27, 9, 3, 1].indexOf(n) && t.state !== 'Running').length),
      [18, 6, 2, 1],
      'pruned at rungs 0, 1, 2; one complete at rung 3',
    );
    assert.equal(r.epochs, 27 * 1 + 9 * 3 + 3 * 9 + 1 * 27);
    assert.ok(r.epochs / (27 * 27) < 0.25);
    const all = await drive(base());
    assert.equal(r.best!.value, all.best!.value, 'the same best trial as training every trial to the end');
    assert.deepEqual(r.final, [{ ...r.best!.params, epochs: 27 }]);
    const pruned = r.state.trials.filter((t) => t.state === 'Pruned');
    assert.ok(pruned.every((t) => /^pruned at step (1|3|9): rung [012] \(step (1|3|9)\): valLoss /.test(t.message!)));
  });

  it('Hyperband: each bracket halves on its own rungs (1, 3, 9, 27 epochs for bracket 0; 27 at once for bracket 3)', async () => {
    const spec: ControllerSpec = {
      ...base(),
      sweep: {
        ...base().sweep,
        budget: { trials: 24, parallelism: 4 },
        earlyStopping: { kind: 'hyperband', minResource: 1, maxResource: 27, reductionFactor: 3, metric: 'valLoss', direction: 'minimize' },
      },
      resource: { param: 'epochs', max: 27 },
    };
    const r = await drive(spec);
    const byBracket = (b: number) => r.state.trials.filter((t) => t.bracket === b);
    assert.deepEqual(
      [0, 1, 2, 3].map((b) => byBracket(b).length),
      [6, 6, 6, 6],
    );
    assert.deepEqual(
      byBracket(3).map((t) => t.state),
      Array<string>(6).fill('Complete'),
      'the last bracket trains every trial to the end',
    );
    assert.equal(byBracket(0).filter((t) => t.state === 'Complete').length, 1);
    // Bracket 0: 6×1 + 2×3 + 1×9 + 1×27; bracket 1: 6×3 + 2×9 + 1×27; bracket 2: 6×9 + 2×27; bracket 3: 6×27.
    assert.equal(r.epochs, 6 + 6 + 9 + 27 + (18 + 18 + 27) + (54 + 54) + 162);
    const all = await drive({ ...base(), sweep: { ...base().sweep, budget: { trials: 24, parallelism: 4 } } });
    assert.ok(r.best!.value <= all.best!.value + 0.05, `${r.best!.value} vs ${all.best!.value}`);
    assert.ok(r.state.trials.filter((t) => t.state === 'Pruned').every((t) => /: bracket [0-2], rung /.test(t.message!)));
  });

  it('an epoch budget: ASHA starts as many trials as it can halve to the end, and the rounds never train more', async () => {
    const es = { kind: 'asha', minResource: 1, reductionFactor: 3, minEarlyStoppingRate: 0, metric: 'valLoss', direction: 'minimize' } as const;
    for (const epochs of [44, 108, 150]) {
      const spec: ControllerSpec = {
        ...base(),
        sweep: { ...base().sweep, budget: { trials: 999, parallelism: 4, epochs }, earlyStopping: es },
        resource: { param: 'epochs', max: 27 },
      };
      const r = await drive(spec);
      // drive counts what each round's items train, independently of the controller's ledger.
      assert.ok(r.epochs <= epochs, `${r.epochs} epochs of ${epochs}`);
      assert.equal(r.state.epochsSpent, r.epochs);
      assert.equal(r.state.trials.filter((t) => t.state === 'Complete').length, 1, 'successive halving ends with one trial trained in full');
      // What is left unspent is less than a last rung: 44 fits 5 trials (5 + 3 + 9 + 27), 108 fits 27.
      assert.ok(r.epochs > epochs - 27, `a budget of ${epochs} left ${epochs - r.epochs} unspent`);
    }
  });

  it('an epoch budget reaches the synthesized controller step, with the trial task’s epochs as the resource, ASHA or not', async () => {
    for (const es of [undefined, EarlyStopping.asha()]) {
      const { c } = app({ epochs: 100, ...(es ? { es } : {}) });
      const wt = find(objectsOf(c), 'WorkflowTemplate', 'fraud-tune');
      const propose = tpl(wt, 'round').steps![0][0];
      const spec = JSON.parse(propose.arguments!.parameters.find((p) => p.name === 'spec')!.value) as ControllerSpec;
      assert.equal(spec.sweep.budget.epochs, 100);
      assert.deepEqual(spec.resource, { param: 'epochs', max: 27 });
      const r = await drive(spec);
      assert.ok(r.epochs <= 100, `${r.epochs} epochs`);
      // Without early stopping 3 trials of 27; with ASHA as many as halve to the end within 100.
      if (!es) assert.equal(r.state.trials.length, 3);
      else assert.ok(r.state.trials.length > 3, `${r.state.trials.length} trials`);
    }
  });

  it('an epoch budget without early stopping: trials of the full epochs while they fit', async () => {
    const spec: ControllerSpec = {
      ...base(),
      sweep: { ...base().sweep, budget: { trials: 999, parallelism: 4, epochs: 300 } },
      resource: { param: 'epochs', max: 27 },
    };
    const r = await drive(spec);
    assert.equal(r.state.trials.length, 11, '11 × 27 = 297 ≤ 300');
    assert.equal(r.epochs, 297);
    assert.equal(r.state.epochsSpent, 297);
  });

  it('an epoch budget stops a promotion whose rung does not fit (the rest of a plan that failures did not shrink)', () => {
    const spec: ControllerSpec = {
      ...base(),
      sweep: {
        ...base().sweep,
        budget: { trials: 999, parallelism: 4, epochs: 54 },
        earlyStopping: { kind: 'asha', minResource: 1, reductionFactor: 3, minEarlyStoppingRate: 0, metric: 'valLoss', direction: 'minimize' },
      },
      resource: { param: 'epochs', max: 27 },
    };
    const first = controllerStep(spec, null, []);
    // 9 trials: 9×1 + 3×3 + 1×9 + 1×27 = 54.
    assert.equal(first.items.length, 9);
    assert.deepEqual(first.budget, { epochs: 54, spent: 9 });
    // As if an earlier round had cost more than planned: only one of the three promotions to 3 epochs fits.
    const tight = { ...first.state, epochsSpent: 51 };
    const r = (n: number, v: number): RoundResult => ({ trial: String(n), value: '', intermediate: String(v) });
    const next = controllerStep(
      spec,
      tight,
      [0.5, 0.4, 0.3, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1].map((v, n) => r(n, v)),
    );
    assert.deepEqual(
      next.items.map((it) => [it.trial, it.epochs]),
      [[2, 3]],
    );
    assert.deepEqual(next.budget, { epochs: 54, spent: 54 });
    for (const n of [1, 0])
      assert.equal(next.state.trials[n].message, 'stopped at step 1: rung 0 passed, but the epoch budget has 0 of 54 epochs left and the next rung trains 3');
    assert.equal(next.state.trials.filter((t) => t.state === 'Pruned').length, 8);
  });

  it('a result that is no number fails that trial with the reason; a result of another trial is an error', () => {
    const first = controllerStep(base(), null, []);
    assert.equal(first.items.length, 4);
    const r = (trial: number, value: string) => ({ trial: String(trial), value });
    const next = controllerStep(base(), first.state, [r(0, '0.5'), r(1, 'null'), r(2, '0.2'), r(3, '0.9')]);
    assert.equal(next.state.trials[1].state, 'Failed');
    assert.equal(next.state.trials[1].message, 'objective \'logLoss\' came back as "null", not a number');
    assert.equal(next.best!.value, 0.2);
    assert.throws(() => controllerStep(base(), first.state, [r(7, '1')]), /round 0 ran trials 0, 1, 2, 3, but a result names trial "7"/);
    assert.throws(() => controllerStep(base(), first.state, [{ value: '1' }]), /but a result names trial null/);
  });

  it('a failed trial (no result) is recorded and the sweep proposes on; only a sweep of failed trials fails', async () => {
    // Trials whose model is 'mlp' fail (their pods fail: Argo aggregates no outputs for them).
    const mlp = (it: Record<string, ParamValue>) => it.model === 'mlp';
    const r = await drive(base(), mlp);
    assert.equal(r.state.trials.length, 27, 'the budget is spent: failed trials count, and rounds go on after them');
    const failed = r.state.trials.filter((t) => t.state === 'Failed');
    assert.ok(failed.length > 0 && failed.every((t) => t.params.model === 'mlp'), JSON.stringify(failed.map((t) => t.params)));
    assert.match(failed[0].message!, /^failed at its run: the trial gave no result/);
    assert.ok(r.state.trials.filter((t) => t.state === 'Complete').every((t) => t.params.model === 'logistic'));
    assert.equal(r.best!.params.model, 'logistic');
    assert.deepEqual(r.final, [r.best!.params], 'the best of the trials that completed runs the pipeline');

    // ASHA: a rung promotes among the trials that reported; a trial failing at a later rung stops there.
    const asha: ControllerSpec = {
      ...base(),
      sweep: {
        ...base().sweep,
        earlyStopping: { kind: 'asha', minResource: 1, reductionFactor: 3, minEarlyStoppingRate: 0, metric: 'valLoss', direction: 'minimize' },
      },
      resource: { param: 'epochs', max: 27 },
    };
    const clean = await drive(asha);
    const top = clean.best!.params;
    // The trial that wins without failures fails once it trains for 9 epochs: the sweep still ends with a best.
    const rr = await drive(asha, (it) => it.learningRate === top.learningRate && Number(it.epochs) >= 9);
    const gone = rr.state.trials.find((t) => t.params.learningRate === top.learningRate)!;
    assert.equal(gone.state, 'Failed');
    assert.equal(gone.message, "failed at 9 epochs: the trial gave no result (its pods failed; the workflow's trial node says why)");
    assert.ok(rr.best && rr.best.params.learningRate !== top.learningRate, 'another trial completes in its place');
    assert.equal(rr.state.trials.filter((t) => t.state === 'Complete').length, 1);

    await assert.rejects(
      drive(base(), () => true),
      (e: Error) =>
        e.message ===
        "test/s: every trial failed (27 of 27), so there is no best model; trial 0: failed at its run: the trial gave no result (its pods failed; the workflow's trial node says why)",
    );
  });
});

const peers = await usePeers(['kube']);

describe('the sweep WorkflowTemplate on the real API server (dryRun=All)', { skip: peers.skip }, () => {
  let objs: Obj[] = [];
  before(async () => {
    const ns = uniqueName('sweep');
    await kubeConfig(peers)
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: ns } } });
    const { chart: c } = chart();
    const p = new Pipeline(c, 'fraud-train');
    const ingest = p.component('ingest', 'ingest', { params: { path: 'data.csv' } });
    const split = p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') } });
    const train = p.component('train', 'train-tabular', {
      inputs: { train: split.output('train') },
      params: { label: 'y', epochs: 27, validationFraction: 0.2 },
    });
    const evaluate = p.component('evaluate', 'evaluate', { inputs: { model: train.output('model'), test: split.output('test') } });
    new Sweep(c, 'tune', {
      pipeline: p,
      trial: train,
      space: { learningRate: Space.logUniform(1e-4, 1e-1), batchSize: Space.categorical([64, 256]) },
      objective: Objective.minimize(evaluate, 'logLoss'),
      earlyStopping: EarlyStopping.asha(),
      budget: { trials: 9, parallelism: 3 },
    });
    objs = objectsOf(c).map((o) => ({ ...o, metadata: { ...o.metadata, namespace: ns } }));
  });

  it('accepts the sweep and the pipeline (Argo CRD schema, server-side apply)', async () => {
    const kube = rawKube(peers.kubeconfig);
    for (const o of objs) {
      const applied = await kube.apply<KubeObject>(o, { dryRun: true, fieldManager: 'ghosteam-test' });
      assert.equal(applied.metadata?.name, o.metadata.name);
    }
    assert.ok(objs.some((o) => o.metadata.name === 'tune'));
  });

  it('the dry run validates: a round without its steps list shape is rejected', async () => {
    const wt = structuredClone(find(objs, 'WorkflowTemplate', 'tune'));
    (wt.spec.templates as Tpl[]).find((t) => t.name === 'round')!.parallelism = 'three' as never;
    await assert.rejects(rawKube(peers.kubeconfig).apply(wt, { dryRun: true }), /parallelism/);
  });
});

/**
 * A Sweep as one Argo WorkflowTemplate (`new Sweep(..., { cluster: 'argo' })`, named after the sweep):
 *
 *   sweep (entrypoint) → round(state '', results '')
 *   round  [parallelism: the sweep's]   (recursive: one round of trials per call)
 *     1. propose: the controller step (`ghosteam component run sweep-controller`,
 *        components/tuning/controller.ts) reads the state and the last round's results, stops the
 *        trials ASHA stops, and writes the next round's items, the new state, done and final;
 *     2. trial:   the `trial` DAG, once per item (withParam), at most `parallelism` at once; it
 *        continues on failure: a failed trial returns no result and the controller records it;
 *     3. next:    round(new state, {{steps.trial.outputs.parameters}}) unless done;
 *        final:   when done, the `final` DAG (the whole pipeline) with the best trial's params, so the
 *                 best model flows on to evaluate, gate and register as in any run.
 *   trial  the pipeline cut to the objective's task, the swept params (and with ASHA the epochs) from
 *          the item; outputs `value` (the objective), `intermediate` (the early-stopping metric) and
 *          `trial` (its number: Argo aggregates only succeeded trials' outputs)
 *   final  every task of the pipeline, the swept params from the item
 *   plus the pipeline's step templates (as compileArgo renders them) and the controller's.
 *
 * Early stopping is ASHA as synchronous successive halving, a rung per round (see controller.ts: a
 * pod cannot be stopped on another trial's result, so a stopped trial is one not trained further).
 * The trial task's epochs param is the resource. Median stopping has no rung to wait on: a synth error
 * names EarlyStopping.asha() or cluster 'katib'. Pure: specs in, a plain object out.
 */
import { App, Chart } from 'cdk8s';
import type { ITemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Template';
import type { Issue } from '../../api/errors.ts';
import type { ParamValue } from '../../components/component.ts';
import { RESULT_INTERMEDIATE, RESULT_TRIAL, RESULT_VALUE, TRIAL_NUMBER_ITEM, type ControllerSpec } from '../../components/tuning/controller.ts';
import { compileArgo, DAG_TEMPLATE, type CompiledPipeline } from '../argo.ts';
import { Pipeline } from '../pipeline.ts';
import { Cache } from '../resources.ts';
import { CONSTRUCT_PATH_ANNOTATION } from '../../api/objects.ts';
import type { PipelineSpec } from '../spec.ts';
import type { SweepSpec } from './sweep.ts';
import { fullResource, RESOURCE_PARAM } from '../../components/tuning/budget.ts';

export const SWEEP_ENTRY = 'sweep';
export const SWEEP_ROUND = 'round';
export const SWEEP_TRIAL = 'trial';
export const SWEEP_FINAL = 'final';
export const SWEEP_CONTROLLER = 'sweep-controller';
/** The trial task's param that bounds its compute under ASHA (components/tuning/budget.ts). */
export { RESOURCE_PARAM };
/** A per-epoch metric and the output param that holds its last value (train-tabular: loss → finalLoss). */
export const INTERMEDIATE_OUTPUT: Readonly<Record<string, string>> = { loss: 'finalLoss' };

/** Everything in the sweep an Argo sweep cannot run, each naming the field and the fix. */
export function sweepArgoIssues(p: PipelineSpec, s: SweepSpec): Issue[] {
  const issues: Issue[] = [];
  const add = (field: string, message: string): void => void issues.push({ path: s.path, field, message });
  const trial = p.tasks.find((t) => t.name === s.task)!;
  const es = s.earlyStopping;
  if (es?.kind === 'median')
    add(
      'earlyStopping',
      "is median stopping, which needs every trial's per-epoch values as they come; an Argo sweep stops trials at rungs: use EarlyStopping.asha(), or cluster 'katib'",
    );
  if (es) {
    if (RESOURCE_PARAM in s.space)
      add(`space.${RESOURCE_PARAM}`, `is swept, but ASHA sets '${RESOURCE_PARAM}' per rung on a cluster; leave it out of the space`);
    else if (fullResource(trial) === undefined)
      add(
        'earlyStopping',
        `needs task '${s.task}' to take a literal '${RESOURCE_PARAM}' param (the epochs each rung scales); give it, e.g. ${RESOURCE_PARAM}: 27`,
      );
    const out = INTERMEDIATE_OUTPUT[es.metric] ?? es.metric;
    if (!trial.outputParams.includes(out))
      add(
        'earlyStopping.metric',
        `is '${es.metric}', but task '${s.task}' has no output param '${out}' holding its last value; an Argo sweep ranks a rung by it`,
      );
  }
  for (const [name, d] of Object.entries(s.space)) {
    const own = trial.params[name];
    if (d.when && own?.kind !== 'literal')
      add(
        `space.${name}`,
        `is conditional, and task '${s.task}' gives it no value of its own for the trials where it is inactive; give the task a literal ${name}`,
      );
  }
  if (p.tasks.some((t) => t.name === SWEEP_CONTROLLER || t.name === SWEEP_TRIAL || t.name === SWEEP_FINAL || t.name === SWEEP_ROUND || t.name === SWEEP_ENTRY))
    add(
      'pipeline',
      `has a task named ${[SWEEP_CONTROLLER, SWEEP_TRIAL, SWEEP_FINAL, SWEEP_ROUND, SWEEP_ENTRY].join(', ')}: the sweep's own templates; rename it`,
    );
  return issues;
}

/** The pipeline with `task`'s swept params (and the resource) as workflow params; dagFrom rewrites them to the DAG's inputs. */
function withSweptParams(p: PipelineSpec, task: string, names: readonly string[]): PipelineSpec {
  return {
    ...p,
    tasks: p.tasks.map((t) =>
      t.name === task ? { ...t, params: { ...t.params, ...Object.fromEntries(names.map((k) => [k, { kind: 'param' as const, name: k }])) } } : t,
    ),
  };
}

/** A DAG template of `compiled`, renamed, reading `names` from its own inputs instead of the workflow's. */
function dagFrom(compiled: CompiledPipeline, name: string, names: readonly string[]): ITemplate {
  const dag = compiled.workflowTemplate.spec.templates!.find((t) => t.name === DAG_TEMPLATE)!;
  const tasks = dag.dag!.tasks.map((t) => ({
    ...t,
    ...(t.arguments?.parameters
      ? {
          arguments: {
            ...t.arguments,
            parameters: t.arguments.parameters.map((a) =>
              names.includes(a.name) && a.value === `{{workflow.parameters.${a.name}}}` ? { ...a, value: `{{inputs.parameters.${a.name}}}` } : a,
            ),
          },
        }
      : {}),
  }));
  return { name, inputs: { parameters: names.map((n) => ({ name: n })) }, dag: { tasks } };
}

/**
 * The controller's step template: a built-in component step, rendered as any other, then labelled
 * as the sweep's own (its pod carries the sweep's pipeline label and construct path, as the trials' do).
 */
function controllerTemplate(image: string, spec: ControllerSpec, s: SweepSpec): ITemplate {
  const p = new Pipeline(new Chart(new App(), 'sweep'), s.name, { componentImage: image });
  p.component(SWEEP_CONTROLLER, SWEEP_CONTROLLER, {
    params: { spec: JSON.parse(JSON.stringify(spec)) as ParamValue, state: '', results: '' },
    cache: Cache.disabled(),
  });
  const compiled = compileArgo(p.toSpec()).workflowTemplate;
  const t = compiled.spec.templates!.find((x) => x.name === SWEEP_CONTROLLER)!;
  return { ...t, metadata: { ...t.metadata, annotations: { ...t.metadata?.annotations, [CONSTRUCT_PATH_ANNOTATION]: `${s.path}/${SWEEP_CONTROLLER}` } } };
}

/** A step of a `steps` template. Argo's JSON is a list of parallel groups, each a list of steps (the models type a group as an object). */
interface Step {
  readonly name: string;
  readonly template: string;
  readonly arguments: { readonly parameters: { readonly name: string; readonly value: string }[] };
  readonly withParam?: string;
  readonly when?: string;
  readonly continueOn?: { readonly failed?: boolean; readonly error?: boolean };
}
interface StepsTemplate {
  readonly name: string;
  readonly parallelism?: number;
  readonly inputs?: { readonly parameters: readonly { readonly name: string }[] };
  readonly steps: Step[][];
}

/** The sweep's WorkflowTemplate: its templates are step templates (compileArgo's), DAGs and the two steps templates. */
export type SweepWorkflowTemplate = Omit<CompiledPipeline['workflowTemplate'], 'spec'> & {
  spec: Omit<CompiledPipeline['workflowTemplate']['spec'], 'templates'> & { templates: (ITemplate | StepsTemplate)[] };
};

export interface SweepArgoOptions {
  /** The image with `ghosteam component run` (the pipeline's componentImage). */
  readonly image: string;
}

/** Compiles the sweep to one WorkflowTemplate. Check sweepArgoIssues first. */
export function compileSweepArgo(p: PipelineSpec, s: SweepSpec, opts: SweepArgoOptions): SweepWorkflowTemplate {
  const issues = sweepArgoIssues(p, s);
  if (issues.length) throw new Error(issues.map((i) => `${i.path}: '${i.field}' ${i.message}`).join('\n'));
  const trialTask = p.tasks.find((t) => t.name === s.task)!;
  const es = s.earlyStopping;
  const swept = Object.keys(s.space);
  const names = es ? [...swept, RESOURCE_PARAM] : swept;
  const full = compileArgo({ ...withSweptParams(p, s.task, names), name: s.name });
  const keep = new Set<string>();
  const byName = new Map(p.tasks.map((t) => [t.name, t]));
  const visit = (n: string): void => {
    if (keep.has(n)) return;
    keep.add(n);
    for (const d of byName.get(n)?.dependsOn ?? []) visit(d);
  };
  visit(s.objective.task);
  const { exitHandler: _e, schedule: _s, ...cut } = withSweptParams(p, s.task, names);
  const trialCompiled = compileArgo({ ...cut, name: s.name, tasks: cut.tasks.filter((t) => keep.has(t.name)) });
  const trial = dagFrom(trialCompiled, SWEEP_TRIAL, names);
  const intermediate = es ? (INTERMEDIATE_OUTPUT[es.metric] ?? es.metric) : undefined;
  trial.outputs = {
    parameters: [
      { name: RESULT_VALUE, valueFrom: { parameter: `{{tasks.${s.objective.task}.outputs.parameters.${s.objective.metric}}}` } },
      ...(intermediate ? [{ name: RESULT_INTERMEDIATE, valueFrom: { parameter: `{{tasks.${s.task}.outputs.parameters.${intermediate}}}` } }] : []),
      // Argo aggregates only the succeeded trials' outputs: the number tells the controller which ran.
      // (An expression, read from the DAG's scope: a `{{inputs…}}` tag would be substituted before the lookup.)
      { name: RESULT_TRIAL, valueFrom: { expression: `inputs.parameters.${TRIAL_NUMBER_ITEM}` } },
    ],
  };
  const final = dagFrom(full, SWEEP_FINAL, names);
  const defaults: Record<string, ParamValue> = {};
  for (const n of swept) {
    const own = trialTask.params[n];
    if (own?.kind === 'literal') defaults[n] = own.value;
  }
  const controllerSpec: ControllerSpec = {
    sweep: { path: s.path, space: s.space, objective: s.objective, algorithm: s.algorithm, ...(es ? { earlyStopping: es } : {}), budget: s.budget },
    ...(es || s.budget.epochs !== undefined ? { resource: { param: RESOURCE_PARAM, max: fullResource(trialTask)! } } : {}),
    ...(Object.keys(defaults).length ? { defaults } : {}),
  };
  const fromItem = (list: readonly string[]) => list.map((n) => ({ name: n, value: `{{item.${n}}}` }));
  const out = (name: string): string => `{{steps.propose.outputs.parameters.${name}}}`;
  const trialArgs = [...fromItem(names), { name: TRIAL_NUMBER_ITEM, value: `{{item.${TRIAL_NUMBER_ITEM}}}` }];
  const round: StepsTemplate = {
    name: SWEEP_ROUND,
    parallelism: s.budget.parallelism,
    inputs: { parameters: [{ name: 'state' }, { name: 'results' }] },
    steps: [
      [
        {
          name: 'propose',
          template: SWEEP_CONTROLLER,
          arguments: {
            parameters: [
              { name: 'spec', value: JSON.stringify(controllerSpec) },
              { name: 'state', value: '{{inputs.parameters.state}}' },
              { name: 'results', value: '{{inputs.parameters.results}}' },
            ],
          },
        },
      ],
      // A failed trial does not fail the round: the controller records it (no result) and proposes on.
      [{ name: 'trial', template: SWEEP_TRIAL, withParam: out('items'), continueOn: { failed: true, error: true }, arguments: { parameters: trialArgs } }],
      [
        {
          name: 'next',
          template: SWEEP_ROUND,
          when: `${out('done')} == false`,
          arguments: {
            parameters: [
              { name: 'state', value: out('state') },
              { name: 'results', value: '{{steps.trial.outputs.parameters}}' },
            ],
          },
        },
        { name: 'final', template: SWEEP_FINAL, withParam: out('final'), arguments: { parameters: fromItem(names) } },
      ],
    ],
  };
  const entry: StepsTemplate = {
    name: SWEEP_ENTRY,
    steps: [
      [
        {
          name: 'rounds',
          template: SWEEP_ROUND,
          arguments: {
            parameters: [
              { name: 'state', value: '' },
              { name: 'results', value: '' },
            ],
          },
        },
      ],
    ],
  };
  trial.inputs!.parameters!.push({ name: TRIAL_NUMBER_ITEM });
  const stepTemplates = full.workflowTemplate.spec.templates!.filter((t) => t.name !== DAG_TEMPLATE);
  const { templates: _t, entrypoint: _en, ...rest } = full.workflowTemplate.spec;
  const wt = full.workflowTemplate;
  return {
    ...wt,
    metadata: { ...wt.metadata, name: s.name, annotations: { ...wt.metadata.annotations, 'ghosteam.io/sweep': s.path } },
    spec: { ...rest, entrypoint: SWEEP_ENTRY, templates: [entry, round, trial, final, controllerTemplate(opts.image, controllerSpec, s), ...stepTemplates] },
  };
}

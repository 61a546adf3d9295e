/**
 * A Sweep as a Katib `Experiment` (kubeflow.org/v1beta1), when the app asks for it
 * (`new Sweep(..., { cluster: 'katib' })`). Two objects:
 *  - a WorkflowTemplate `<sweep>-trial`: the pipeline cut down to the objective's task (as the local
 *    engine's trials), its swept params turned into workflow parameters;
 *  - the Experiment, whose trial is an Argo Workflow referring to that template with Katib's
 *    `${trialParameters.<name>}` as arguments. Katib's StdOut metrics collector reads the `main`
 *    container of the pods labelled `katib.kubeflow.org/model-training: "true"` (the objective's step,
 *    and the trial step when it stops early): `ghosteam component run` prints every output param as
 *    `output <name> = <value>` and, per epoch, `<metric>=<value>` of the progress it reports.
 *
 * Mapping (Katib's names, from pkg/apis/controller/{common,experiments}/v1beta1 and its suggestion
 * services): random → `random`, grid → `grid`, TPE → `tpe` (each with `random_state` = the seed);
 * median stopping → `medianstop` (`min_trials_required`, `start_step`). What Katib cannot express is a
 * synth error (sweepKatibIssues): ASHA (Katib has no ASHA early stopping), early stopping on a metric
 * other than the objective (Katib's medianstop judges the objective's intermediate values), conditional
 * dimensions, object/list choices, a time budget.
 * Pure: specs in, plain objects out.
 */
import type { Issue } from '../../api/errors.ts';
import type { ParamSpec, ParamType, PipelineSpec, TaskSpec } from '../spec.ts';
import { compileArgo, type CompiledPipeline } from '../argo.ts';
import { gridValues, type DimensionSpec } from '../../components/tuning/space.ts';
import type { SweepSpec } from './sweep.ts';

export const KATIB_API_VERSION = 'kubeflow.org/v1beta1';
/** The label Katib's webhook looks for to inject its metrics collector (trialTemplate.primaryPodLabels). */
export const KATIB_PRIMARY_LABEL = { 'katib.kubeflow.org/model-training': 'true' } as const;
/** Argo's container in a step pod. */
export const KATIB_PRIMARY_CONTAINER = 'main';
/** `name=value` and `name = value` (the `output <name> = <value>` lines included); dots allowed in names. */
export const KATIB_METRICS_FORMAT = '([\\w.-]+)\\s*=\\s*([+-]?\\d*(?:\\.\\d+)?(?:[Ee][+-]?\\d+)?)';

export interface KatibParameter {
  readonly name: string;
  readonly parameterType: 'double' | 'int' | 'discrete' | 'categorical';
  readonly feasibleSpace: {
    readonly min?: string;
    readonly max?: string;
    readonly step?: string;
    readonly list?: readonly string[];
    readonly distribution?: 'uniform' | 'logUniform';
  };
}

export interface KatibSetting {
  readonly name: string;
  readonly value: string;
}

export interface KatibExperimentSpec {
  readonly objective: {
    readonly type: 'minimize' | 'maximize';
    readonly objectiveMetricName: string;
    readonly additionalMetricNames?: readonly string[];
    readonly metricStrategies: readonly { readonly name: string; readonly value: 'min' | 'max' | 'latest' }[];
  };
  readonly algorithm: { readonly algorithmName: 'random' | 'grid' | 'tpe' | 'sobol'; readonly algorithmSettings?: readonly KatibSetting[] };
  readonly earlyStopping?: { readonly algorithmName: 'medianstop'; readonly algorithmSettings: readonly KatibSetting[] };
  readonly parallelTrialCount: number;
  readonly maxTrialCount: number;
  readonly maxFailedTrialCount: number;
  readonly parameters: readonly KatibParameter[];
  readonly metricsCollectorSpec: {
    readonly collector: { readonly kind: 'StdOut' };
    readonly source: { readonly filter: { readonly metricsFormat: readonly string[] } };
  };
  readonly trialTemplate: {
    readonly primaryContainerName: string;
    readonly primaryPodLabels: Readonly<Record<string, string>>;
    readonly successCondition: string;
    readonly failureCondition: string;
    readonly trialParameters: readonly { readonly name: string; readonly reference: string; readonly description?: string }[];
    readonly trialSpec: {
      readonly apiVersion: 'argoproj.io/v1alpha1';
      readonly kind: 'Workflow';
      readonly spec: {
        readonly workflowTemplateRef: { readonly name: string };
        readonly arguments: { readonly parameters: readonly { readonly name: string; readonly value: string }[] };
      };
    };
  };
}

export interface CompiledKatib {
  readonly experiment: {
    readonly apiVersion: typeof KATIB_API_VERSION;
    readonly kind: 'Experiment';
    readonly metadata: { readonly name: string };
    readonly spec: KatibExperimentSpec;
  };
  readonly trialTemplate: CompiledPipeline['workflowTemplate'];
}

/** The name of the trial WorkflowTemplate. */
export const katibTrialTemplateName = (sweep: string): string => `${sweep}-trial`;

const str = (v: number): string => String(v);

function paramTypeOf(d: DimensionSpec): ParamType {
  if (d.kind !== 'categorical') return 'number';
  if (d.choices.every((c) => typeof c === 'number')) return 'number';
  if (d.choices.every((c) => typeof c === 'boolean')) return 'boolean';
  return 'string';
}

/** Everything in the sweep Katib cannot express, each naming the field and the fix. */
export function sweepKatibIssues(s: Pick<SweepSpec, 'path' | 'task' | 'space' | 'objective' | 'earlyStopping' | 'budget'>): Issue[] {
  const issues: Issue[] = [];
  const add = (field: string, message: string): void => void issues.push({ path: s.path, field, message });
  const es = s.earlyStopping;
  if (es?.kind === 'asha' || es?.kind === 'hyperband')
    add(
      'earlyStopping',
      `is ${es.kind === 'asha' ? 'ASHA' : 'Hyperband'}, which Katib does not offer as early stopping (its early stopping is median stopping, 'medianstop'); use EarlyStopping.median(), or leave cluster at 'argo'`,
    );
  if (es && (es.metric !== s.objective.metric || s.objective.task !== s.task))
    add(
      'earlyStopping.metric',
      `is '${es.metric}' of task '${s.task}', but Katib's median stopping judges the objective's per-step values ('${s.objective.metric}' of task '${s.objective.task}'); with cluster 'katib' make the objective the per-epoch metric, e.g. Objective.minimize(${s.task}, '${es.metric}')`,
    );
  if (s.budget.timeSeconds !== undefined)
    add('budget.time', "is set, and a Katib Experiment has no time limit; leave it out with cluster 'katib' (maxTrialCount bounds it)");
  for (const [name, d] of Object.entries(s.space)) {
    if (d.when) add(`space.${name}`, `is conditional on '${d.when.param}', which a Katib Experiment cannot express; use cluster 'argo' or drop the condition`);
    if (d.kind === 'categorical' && d.choices.some((c) => c === null || typeof c === 'object'))
      add(`space.${name}`, 'has a list, object or null choice; Katib parameters are strings or numbers: give strings (e.g. "32,16")');
    if (d.kind === 'categorical' && new Set(d.choices.map((c) => typeof c)).size > 1)
      add(`space.${name}`, 'mixes choice types; Katib needs one type per parameter: give all strings or all numbers');
  }
  return issues;
}

function parameter(name: string, d: DimensionSpec, grid: boolean): KatibParameter {
  if (d.kind === 'categorical') {
    const list = d.choices.map((c) => String(c));
    return { name, parameterType: d.choices.every((c) => typeof c === 'number') ? 'discrete' : 'categorical', feasibleSpace: { list } };
  }
  if (grid && (d.kind === 'uniform' || d.kind === 'loguniform' || d.log)) {
    // Katib's grid steps linearly from min by `step`; a log-scaled or pointed grid goes as its values.
    return { name, parameterType: 'discrete', feasibleSpace: { list: gridValues(d)!.map((v) => String(v)) } };
  }
  if (d.kind === 'int')
    return {
      name,
      parameterType: 'int',
      feasibleSpace: {
        min: str(d.low),
        max: str(d.high),
        ...(d.step !== undefined ? { step: str(d.step) } : {}),
        ...(d.log ? { distribution: 'logUniform' } : {}),
      },
    };
  return {
    name,
    parameterType: 'double',
    feasibleSpace: { min: str(d.low), max: str(d.high), distribution: d.kind === 'loguniform' ? 'logUniform' : 'uniform' },
  };
}

/** The pipeline a Katib trial runs: cut to the objective, the swept params workflow parameters. */
export function katibTrialPipeline(p: PipelineSpec, s: SweepSpec): PipelineSpec {
  const byName = new Map(p.tasks.map((t) => [t.name, t]));
  const keep = new Set<string>();
  const visit = (n: string): void => {
    if (keep.has(n)) return;
    keep.add(n);
    for (const d of byName.get(n)?.dependsOn ?? []) visit(d);
  };
  visit(s.objective.task);
  const swept = Object.keys(s.space);
  const clash = p.params.find((x) => swept.includes(x.name));
  if (clash) throw new Error(`${s.path}: space.${clash.name} has the name of a pipeline param; Katib's trial parameters and the pipeline's must differ`);
  const setParams = (t: TaskSpec): TaskSpec =>
    t.name !== s.task ? t : { ...t, params: { ...t.params, ...Object.fromEntries(swept.map((k) => [k, { kind: 'param' as const, name: k }])) } };
  const params: ParamSpec[] = [
    ...p.params,
    ...swept.map((k) => ({ name: k, type: paramTypeOf(s.space[k]), description: `swept by Katib Experiment ${s.name}` })),
  ];
  const { exitHandler: _e, schedule: _s, ...rest } = p;
  return { ...rest, name: katibTrialTemplateName(s.name), path: s.path, params, tasks: p.tasks.filter((t) => keep.has(t.name)).map(setParams) };
}

/** Compiles the sweep to a Katib Experiment and its trial WorkflowTemplate. Check sweepKatibIssues first. */
export function compileKatib(p: PipelineSpec, s: SweepSpec): CompiledKatib {
  const issues = sweepKatibIssues(s);
  if (issues.length) throw new Error(issues.map((i) => `${i.path}: '${i.field}' ${i.message}`).join('\n'));
  const compiled = compileArgo(katibTrialPipeline(p, s)).workflowTemplate;
  // The objective's step, and the trial step when it stops early, carry the label Katib's collector looks for.
  const primary = new Set([s.objective.task, ...(s.earlyStopping ? [s.task] : [])]);
  const templates = compiled.spec.templates!.map((t) =>
    primary.has(t.name!) ? { ...t, metadata: { ...t.metadata, labels: { ...t.metadata?.labels, ...KATIB_PRIMARY_LABEL } } } : t,
  );
  const trialTemplate = { ...compiled, spec: { ...compiled.spec, templates } };
  const names = Object.keys(s.space);
  // Katib's grid visits its grid in its own order; the seed of a random or TPE search is `random_state`.
  // Quasi-random search is Katib's 'sobol' (Goptuna's Sobol sequence, which takes no seed).
  const seed = s.algorithm.kind === 'grid' || s.algorithm.kind === 'qmc' ? undefined : s.algorithm.seed;
  const algorithmName = s.algorithm.kind === 'qmc' ? 'sobol' : s.algorithm.kind;
  const es = s.earlyStopping;
  const spec: KatibExperimentSpec = {
    objective: {
      type: s.objective.direction,
      objectiveMetricName: s.objective.metric,
      // ghosteam's objective is the value the task ends with.
      metricStrategies: [{ name: s.objective.metric, value: 'latest' }],
    },
    algorithm: { algorithmName, ...(seed !== undefined ? { algorithmSettings: [{ name: 'random_state', value: String(seed) }] } : {}) },
    ...(es?.kind === 'median'
      ? {
          earlyStopping: {
            algorithmName: 'medianstop' as const,
            algorithmSettings: [
              { name: 'min_trials_required', value: String(Math.max(1, es.startupTrials)) },
              { name: 'start_step', value: String(es.warmupSteps + 1) },
            ],
          },
        }
      : {}),
    parallelTrialCount: s.budget.parallelism,
    maxTrialCount: s.budget.trials,
    maxFailedTrialCount: s.budget.trials,
    parameters: names.map((n) => parameter(n, s.space[n], s.algorithm.kind === 'grid')),
    metricsCollectorSpec: { collector: { kind: 'StdOut' }, source: { filter: { metricsFormat: [KATIB_METRICS_FORMAT] } } },
    trialTemplate: {
      primaryContainerName: KATIB_PRIMARY_CONTAINER,
      primaryPodLabels: { ...KATIB_PRIMARY_LABEL },
      successCondition: 'status.[@this].#(phase=="Succeeded")#',
      failureCondition: 'status.[@this].#(phase=="Failed")#',
      trialParameters: names.map((n) => ({ name: n, reference: n, description: `param '${n}' of task '${s.task}'` })),
      trialSpec: {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Workflow',
        spec: {
          workflowTemplateRef: { name: trialTemplate.metadata.name },
          arguments: { parameters: names.map((n) => ({ name: n, value: `\${trialParameters.${n}}` })) },
        },
      },
    },
  };
  return { experiment: { apiVersion: KATIB_API_VERSION, kind: 'Experiment', metadata: { name: s.name }, spec }, trialTemplate };
}

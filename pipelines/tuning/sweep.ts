/**
 * The `Sweep` construct: hyperparameter search over one training task of a pipeline.
 *
 *   new Sweep(chart, 'fraud-tune', {
 *     pipeline: p, trial: train,
 *     space: { learningRate: Space.logUniform(1e-4, 1e-1), hidden: Space.categorical(['16', '32,16']) },
 *     objective: Objective.maximize(evaluate, 'auc'),
 *     algorithm: Search.tpe({ seed: 7 }), earlyStopping: EarlyStopping.asha(),
 *     budget: { trials: 30, parallelism: 4, time: '30m' },   // or { epochs: 300 }: trials until 300 epochs are spent
 *   });
 *
 * Each trial is a run of the pipeline up to the objective's task, with the trial task's params set
 * to the proposed values; the best trial's params then run the whole pipeline, where the trial's
 * steps are step-cache hits, so its model flows on to evaluate, gate and register like any model.
 * Everything is checked here, when the app is loaded (synth and run): the space, the params the task
 * takes, the objective metric the objective task produces. `toSpec()` renders the plain-data IR the
 * local runner (pipelines/local/sweep.ts) executes.
 */
import { Construct } from 'constructs';
import type { ParamValue } from '../../components/component.ts';
import { ValidationError, type Issue } from '../../api/errors.ts';
import { dnsLabelProblem, parseDuration } from '../../api/names.ts';
import { paramFits, paramWant } from '../check.ts';
import { SWEEP_BRAND } from '../brand.ts';
import type { ParamDecl } from '../catalog.ts';
import type { Pipeline, Task } from '../pipeline.ts';
import { Dimension, gridPoints, spaceIssues, type DimensionSpec, type SpaceSpec } from '../../components/tuning/space.ts';
import type { AlgorithmSpec, Direction } from '../../components/tuning/samplers.ts';
import { DEFAULT_INTERMEDIATE, type EarlyStoppingSpec } from '../../components/tuning/pruners.ts';
import { compileKatib, katibTrialTemplateName, KATIB_API_VERSION, sweepKatibIssues, type CompiledKatib } from './katib.ts';
import { RenderedObject } from '../../api/rendered-object.ts';
import { compileSweepArgo, sweepArgoIssues } from './argo-sweep.ts';
import { fullResource, RESOURCE_PARAM, rungSteps, trialsWithin } from '../../components/tuning/budget.ts';

export interface SweepSpec {
  readonly name: string;
  readonly path: string;
  /** The pipeline the trials run. */
  readonly pipeline: string;
  /** The task whose params the trials set. */
  readonly task: string;
  readonly space: SpaceSpec;
  /** An output param of a task at or downstream of `task`. */
  readonly objective: { readonly task: string; readonly metric: string; readonly direction: Direction };
  readonly algorithm: AlgorithmSpec;
  readonly earlyStopping?: EarlyStoppingSpec;
  readonly budget: {
    readonly trials: number;
    readonly parallelism: number;
    readonly timeSeconds?: number;
    /** Total epochs the trials may train (components/tuning/budget.ts). */
    readonly epochs?: number;
  };
}

/** The objective: an output param of a task, minimised or maximised. */
export class Objective {
  private constructor(
    readonly task: Task,
    readonly metric: string,
    readonly direction: Direction,
  ) {}
  static maximize(task: Task, metric: string): Objective {
    return new Objective(task, metric, 'maximize');
  }
  static minimize(task: Task, metric: string): Objective {
    return new Objective(task, metric, 'minimize');
  }
}

/** The search algorithm. A seed makes the sequence of proposed trials identical from run to run. */
export class Search {
  private constructor(readonly spec: AlgorithmSpec) {}
  /** Independent uniform draws. @default seed 0 */
  static random(opts: { readonly seed?: number } = {}): Search {
    return new Search({ kind: 'random', seed: opts.seed ?? 0 });
  }
  /**
   * Every point of the grid, in declaration order (the last dimension varies fastest); with a `seed`,
   * in a random order drawn from it, as Optuna's GridSampler visits its grid. A shuffled order suits
   * early stopping: the trials that early ones are compared with are not all one corner of the grid.
   */
  static grid(opts: { readonly seed?: number } = {}): Search {
    return new Search({ kind: 'grid', ...(opts.seed !== undefined ? { seed: opts.seed } : {}) });
  }
  /**
   * Quasi-random, as Optuna's QMCSampler (qmc_type 'halton'): trial n is point n of a scrambled
   * Halton sequence. The points fill the space evenly where independent draws clump and leave holes,
   * so a small budget (or ASHA's many short trials) covers it better than random search; the seed
   * draws the scrambling (`scramble: false`: the plain sequence). On Katib: its 'sobol' algorithm.
   * @see https://optuna.readthedocs.io/en/stable/reference/samplers/generated/optuna.samplers.QMCSampler.html
   */
  static qmc(opts: { readonly seed?: number; readonly scramble?: boolean } = {}): Search {
    return new Search({ kind: 'qmc', seed: opts.seed ?? 0, ...(opts.scramble === false ? { scramble: false } : {}) });
  }
  /**
   * Tree-structured Parzen estimator (Bayesian), as Optuna's TPESampler: random for `startupTrials`,
   * then the candidate with the best l(x)/g(x).
   * @see https://optuna.readthedocs.io/en/stable/reference/samplers/generated/optuna.samplers.TPESampler.html
   */
  static tpe(opts: { readonly seed?: number; readonly startupTrials?: number; readonly candidates?: number } = {}): Search {
    return new Search({
      kind: 'tpe',
      seed: opts.seed ?? 0,
      ...(opts.startupTrials !== undefined ? { startupTrials: opts.startupTrials } : {}),
      ...(opts.candidates !== undefined ? { candidates: opts.candidates } : {}),
    });
  }
}

interface IntermediateOpts {
  /**
   * The per-step value compared: a progress field the trial reports each epoch.
   * @default 'valLoss' (the held-out loss) when the trial task is train-tabular with a validation
   * slice (param validationFraction or input validation), otherwise 'loss' (the training loss)
   */
  readonly metric?: string;
  /** @default 'minimize' */
  readonly direction?: Direction;
}

/** Early stopping of trials on their intermediate values (per-epoch held-out or training loss by default). */
export class EarlyStopping {
  private constructor(
    readonly spec: EarlyStoppingSpec,
    /** Whether the user named the metric (otherwise the Sweep picks it from the trial task). */
    readonly metricGiven: boolean,
  ) {}
  /**
   * ASHA: rungs at minResource·η^k epochs; at a rung only the best 1/η go on.
   * @see https://optuna.readthedocs.io/en/stable/reference/generated/optuna.pruners.SuccessiveHalvingPruner.html
   */
  static asha(
    opts: IntermediateOpts & { readonly minResource?: number; readonly reductionFactor?: number; readonly minEarlyStoppingRate?: number } = {},
  ): EarlyStopping {
    return new EarlyStopping(
      {
        kind: 'asha',
        minResource: opts.minResource ?? 1,
        reductionFactor: opts.reductionFactor ?? 3,
        minEarlyStoppingRate: opts.minEarlyStoppingRate ?? 0,
        metric: opts.metric ?? DEFAULT_INTERMEDIATE.metric,
        direction: opts.direction ?? DEFAULT_INTERMEDIATE.direction,
      },
      opts.metric !== undefined,
    );
  }
  /**
   * Hyperband: ASHA in ⌊log_η(maxResource/minResource)⌋ + 1 brackets, bracket b judging its trials first
   * at minResource·η^b epochs, each trial compared only within its bracket (trial n in bracket n mod
   * brackets). It hedges ASHA's bet that early epochs rank trials as the last ones do.
   * @see https://optuna.readthedocs.io/en/stable/reference/generated/optuna.pruners.HyperbandPruner.html
   */
  static hyperband(
    opts: IntermediateOpts & {
      readonly minResource?: number;
      /** @default the trial task's epochs (train-tabular: its epochs param, 20 when not set) */
      readonly maxResource?: number;
      readonly reductionFactor?: number;
    } = {},
  ): EarlyStopping {
    return new EarlyStopping(
      {
        kind: 'hyperband',
        minResource: opts.minResource ?? 1,
        maxResource: opts.maxResource ?? Number.NaN,
        reductionFactor: opts.reductionFactor ?? 3,
        metric: opts.metric ?? DEFAULT_INTERMEDIATE.metric,
        direction: opts.direction ?? DEFAULT_INTERMEDIATE.direction,
      },
      opts.metric !== undefined,
    );
  }
  /**
   * Median stopping: a trial worse than the median of complete trials at the same epoch stops.
   * @see https://optuna.readthedocs.io/en/stable/reference/generated/optuna.pruners.MedianPruner.html
   */
  static median(opts: IntermediateOpts & { readonly startupTrials?: number; readonly warmupSteps?: number } = {}): EarlyStopping {
    return new EarlyStopping(
      {
        kind: 'median',
        startupTrials: opts.startupTrials ?? 5,
        warmupSteps: opts.warmupSteps ?? 0,
        metric: opts.metric ?? DEFAULT_INTERMEDIATE.metric,
        direction: opts.direction ?? DEFAULT_INTERMEDIATE.direction,
      },
      opts.metric !== undefined,
    );
  }
}

export interface SweepBudget {
  /** Trials to run. @default 20 (grid search: the grid's size) */
  readonly trials?: number;
  /** Trials running at once (also bounded by the machine's cores locally). @default 1 */
  readonly parallelism?: number;
  /** Wall-clock limit of the sweep, e.g. '30m': no trial starts after it. @default - none */
  readonly time?: string | number;
  /**
   * Total epochs the trials may train, all together, as ASHA and Hyperband are usually run: trials are
   * proposed until it is spent (`trials` still caps their count). Never overspent: a trial starts only
   * when its first rung fits (without early stopping, or with median stopping: its full epochs), and
   * at a rung it goes on only when the next rung fits; otherwise it stops there (Pruned: budget).
   * The trial task must take a literal, unswept `epochs` param (train-tabular: 20 when not set).
   * Local engine and Argo only. @default - none
   */
  readonly epochs?: number;
}

export const DEFAULT_SWEEP_TRIALS = 20;
export const DEFAULT_SWEEP_PARALLELISM = 1;

export interface SweepProps {
  readonly pipeline: Pipeline;
  /** The training task whose params the trials set (a built-in or container component). */
  readonly trial: Task;
  /** Param name → dimension. */
  readonly space: Readonly<Record<string, Dimension>>;
  readonly objective: Objective;
  /** @default Search.tpe() */
  readonly algorithm?: Search;
  /** @default - none: every trial trains to the end */
  readonly earlyStopping?: EarlyStopping;
  readonly budget?: SweepBudget;
  /** @default - the construct id */
  readonly name?: string;
  /**
   * What the sweep becomes on a cluster (synth): 'argo', one WorkflowTemplate named after the sweep,
   * whose controller step proposes each round of trials (pipelines/tuning/argo-sweep.ts); 'katib', a
   * Katib `Experiment` (kubeflow.org/v1beta1) plus the trial's WorkflowTemplate `<name>-trial`
   * (pipelines/tuning/katib.ts); 'none', nothing (the sweep runs with `ghosteam sweep run` only).
   * @default 'argo'
   */
  readonly cluster?: 'argo' | 'katib' | 'none';
  /** @default - the chart's namespace */
  readonly namespace?: string;
}

function declOf(task: Task, name: string): ParamDecl | undefined {
  if (task.component) return task.component.params[name];
  const p = task.container?.params[name];
  return p
    ? { type: p.type, ...(p.enum ? { enum: p.enum } : {}), ...(p.min !== undefined ? { min: p.min } : {}), ...(p.max !== undefined ? { max: p.max } : {}) }
    : undefined;
}

/** The per-epoch loss on held-out rows train-tabular reports when it has a validation slice. */
export const HELD_OUT_METRIC = 'valLoss';

/**
 * The per-epoch values the trial task reports, where known: train-tabular reports 'loss', and
 * 'valLoss' when it has a validation slice (a validationFraction above 0, set or swept, or the
 * validation input). Undefined for other tasks (a container's progress is its own business).
 */
function progressMetrics(task: Task, space: SpaceSpec): string[] | undefined {
  if (task.component?.name !== 'train-tabular') return undefined;
  const t = task.toSpec();
  const f = t.params.validationFraction;
  const swept = space.validationFraction;
  const held =
    'validation' in t.inputs ||
    (swept ? (swept.kind === 'categorical' ? swept.choices.some((c) => typeof c === 'number' && c > 0) : swept.high > 0) : false) ||
    (f !== undefined && (f.kind !== 'literal' || (typeof f.value === 'number' && f.value > 0)));
  return held ? ['loss', HELD_OUT_METRIC] : ['loss'];
}

function declaredNames(task: Task): string[] {
  return Object.keys(task.component?.params ?? task.container?.params ?? {});
}

/** Problems with a dimension's values against what the task's param takes. */
function dimensionFits(d: DimensionSpec, decl: ParamDecl): string | undefined {
  const values: ParamValue[] = d.kind === 'categorical' ? [...d.choices] : [d.low, d.high];
  const bad = values.filter((v) => !paramFits(decl, v));
  if (bad.length) return `takes ${JSON.stringify(bad[0])}, but the task's param must be ${paramWant(decl)}`;
  if (d.kind !== 'categorical' && decl.type !== 'number' && decl.type !== 'json')
    return `is numeric, but the task's param is a ${decl.type}; use Space.categorical([...]) of ${decl.type} values`;
  if ((d.kind === 'uniform' || d.kind === 'loguniform') && decl.integer && d.grid === undefined)
    return `draws real numbers, but the task's param must be ${paramWant(decl)}; use Space.int(${d.low}, ${d.high})`;
  return undefined;
}

export class Sweep extends Construct {
  readonly name: string;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: SweepProps,
  ) {
    super(scope, id);
    Object.defineProperty(this, SWEEP_BRAND, { value: true });
    this.name = props.name ?? id;
    const path = this.node.path;
    const issues: Issue[] = [];
    const add = (field: string, message: string): void => void issues.push({ path, field, message });
    if (dnsLabelProblem(this.name)) add('name', `'${this.name}' is not a DNS-1123 label; use lower-case letters, digits and '-'`);
    const { pipeline, trial, objective } = props;
    if (trial.pipeline !== pipeline)
      add('trial', `is task ${trial.node.path}, which belongs to another pipeline than ${pipeline.node.path}; give a task of the swept pipeline`);
    if (objective.task.pipeline !== pipeline)
      add('objective', `reads task ${objective.task.node.path}, which belongs to another pipeline; give a task of ${pipeline.node.path}`);
    if (!trial.component && !trial.container)
      add(
        'trial',
        `is task '${trial.name}', a plain container task without declared params; sweep a built-in component or a ContainerComponent, whose params are typed`,
      );
    const space = this.space();
    const algorithm = (props.algorithm ?? Search.tpe()).spec;
    issues.push(...spaceIssues(space, path, { grid: algorithm.kind === 'grid' }));
    const names = declaredNames(trial);
    for (const [name, d] of Object.entries(space)) {
      const decl = declOf(trial, name);
      if (!decl) {
        if (trial.component || trial.container)
          add(
            `space.${name}`,
            `is not a param of task '${trial.name}' (component '${(trial.component ?? trial.container)!.name}'); it takes ${names.join(', ') || 'no params'}`,
          );
        continue;
      }
      const why = dimensionFits(d, decl);
      if (why) add(`space.${name}`, why);
    }
    const produced = objective.task.outputParamNames;
    if (!produced.includes(objective.metric))
      add(
        'objective',
        `is metric '${objective.metric}', which task '${objective.task.name}' does not produce; it produces ${produced.join(', ') || 'no output params'}`,
      );
    const b = props.budget ?? {};
    if (b.trials !== undefined && (!Number.isInteger(b.trials) || b.trials < 1))
      add('budget.trials', `is ${b.trials}; give a whole number of trials, at least 1`);
    if (b.parallelism !== undefined && (!Number.isInteger(b.parallelism) || b.parallelism < 1))
      add('budget.parallelism', `is ${b.parallelism}; give a whole number of trials at once, at least 1`);
    if (b.time !== undefined) {
      try {
        if (parseDuration(b.time) < 1) add('budget.time', 'must be at least 1 second');
      } catch (err) {
        add('budget.time', (err as Error).message);
      }
    }
    const es = this.earlyStopping();
    if (b.epochs !== undefined) {
      const full = fullResource(trial.toSpec());
      if (!Number.isInteger(b.epochs) || b.epochs < 1) add('budget.epochs', `is ${b.epochs}; give a whole number of epochs, at least 1`);
      else if (RESOURCE_PARAM in space)
        add(
          `space.${RESOURCE_PARAM}`,
          `is swept, and budget.epochs counts every trial's '${RESOURCE_PARAM}'; leave it out of the space, or give budget.trials instead`,
        );
      else if (full === undefined)
        add(
          'budget.epochs',
          `needs task '${trial.name}' to take a literal '${RESOURCE_PARAM}' param (the epochs a trial trains in full); give it, e.g. ${RESOURCE_PARAM}: 27, or give budget.trials instead`,
        );
      else if (!es || es.kind !== 'hyperband' || !Number.isNaN(es.maxResource)) {
        const first = rungSteps(es, full, 0)[0];
        if (b.epochs < first)
          add(
            'budget.epochs',
            `is ${b.epochs}, less than the ${first} epochs of a trial's ${es && es.kind !== 'median' ? 'first rung' : 'training'}; give at least ${first}`,
          );
      }
      if (props.cluster === 'katib')
        add('budget.epochs', "is set, and a Katib Experiment has no epoch budget (maxTrialCount bounds it); give budget.trials, or use cluster 'argo'");
    }
    if (es) {
      const reported = progressMetrics(trial, space);
      if (reported && !reported.includes(es.metric))
        add(
          'earlyStopping.metric',
          `is '${es.metric}', which task '${trial.name}' does not report per epoch; it reports ${reported.join(', ')}` +
            (es.metric === HELD_OUT_METRIC ? `; give it a validation slice (param validationFraction, e.g. 0.2, or input validation)` : ''),
        );
    }
    if (es?.kind === 'asha') {
      if (!(es.minResource >= 1) || !Number.isInteger(es.minResource))
        add('earlyStopping.minResource', `is ${es.minResource}; give a whole number of epochs, at least 1`);
      if (!(es.reductionFactor >= 2) || !Number.isInteger(es.reductionFactor))
        add('earlyStopping.reductionFactor', `is ${es.reductionFactor}; give a whole number, at least 2`);
      if (!Number.isInteger(es.minEarlyStoppingRate) || es.minEarlyStoppingRate < 0)
        add('earlyStopping.minEarlyStoppingRate', `is ${es.minEarlyStoppingRate}; give a whole number, at least 0`);
    }
    if (es?.kind === 'hyperband') {
      if (!(es.minResource >= 1) || !Number.isInteger(es.minResource))
        add('earlyStopping.minResource', `is ${es.minResource}; give a whole number of epochs, at least 1`);
      if (Number.isNaN(es.maxResource))
        add(
          'earlyStopping.maxResource',
          `is not given, and task '${trial.name}' has no literal epochs param to take it from; give maxResource (the epochs a trial trains in full)`,
        );
      else if (!Number.isInteger(es.maxResource) || !(es.maxResource > es.minResource))
        add('earlyStopping.maxResource', `is ${es.maxResource}; give a whole number of epochs above minResource (${es.minResource})`);
      if (!(es.reductionFactor >= 2) || !Number.isInteger(es.reductionFactor))
        add('earlyStopping.reductionFactor', `is ${es.reductionFactor}; give a whole number, at least 2`);
    }
    if (es?.kind === 'median') {
      if (!Number.isInteger(es.startupTrials) || es.startupTrials < 0)
        add('earlyStopping.startupTrials', `is ${es.startupTrials}; give a whole number, at least 0`);
      if (!Number.isInteger(es.warmupSteps) || es.warmupSteps < 0) add('earlyStopping.warmupSteps', `is ${es.warmupSteps}; give a whole number, at least 0`);
    }
    if (props.cluster !== undefined && props.cluster !== 'argo' && props.cluster !== 'katib' && props.cluster !== 'none')
      add('cluster', `is '${String(props.cluster)}'; use 'argo' (a WorkflowTemplate), 'katib' (a Katib Experiment) or 'none'`);
    if (props.cluster === 'katib' && !issues.length) {
      const b = props.budget ?? {};
      issues.push(
        ...sweepKatibIssues({
          path,
          task: trial.name,
          space,
          objective: { task: objective.task.name, metric: objective.metric, direction: objective.direction },
          ...(es ? { earlyStopping: es } : {}),
          budget: { trials: 1, parallelism: 1, ...(b.time !== undefined ? { timeSeconds: parseDuration(b.time) } : {}) },
        }),
      );
    }
    if (issues.length) throw new ValidationError(issues);
    if ((props.cluster ?? 'argo') === 'argo') {
      // Rendered lazily, at synth time, from the finished pipeline; what Argo cannot run is a synth error.
      new RenderedObject(this, 'WorkflowTemplate', {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'WorkflowTemplate',
        name: this.name,
        namespace: props.namespace,
        owner: this,
        render: () => {
          const ps = props.pipeline.toSpec();
          const spec = this.toSpec();
          const bad = sweepArgoIssues(ps, spec);
          if (bad.length) throw new ValidationError(bad);
          const wt = compileSweepArgo(ps, spec, { image: props.pipeline.componentImage });
          return { labels: wt.metadata.labels, annotations: wt.metadata.annotations, body: { spec: wt.spec } };
        },
      });
    }
    if (props.cluster === 'katib') {
      // Rendered lazily, at synth time, from the finished pipeline.
      const compiled = (): CompiledKatib => compileKatib(props.pipeline.toSpec(), this.toSpec());
      new RenderedObject(this, 'Experiment', {
        apiVersion: KATIB_API_VERSION,
        kind: 'Experiment',
        name: this.name,
        namespace: props.namespace,
        owner: this,
        render: () => ({ body: { spec: compiled().experiment.spec } }),
      });
      new RenderedObject(this, 'TrialTemplate', {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'WorkflowTemplate',
        name: katibTrialTemplateName(this.name),
        namespace: props.namespace,
        owner: this,
        render: () => {
          const wt = compiled().trialTemplate;
          return { labels: wt.metadata.labels, annotations: wt.metadata.annotations, body: { spec: wt.spec } };
        },
      });
    }
  }

  /** The early-stopping rule, its metric resolved: the held-out loss when the trial task reports one. */
  private earlyStopping(): EarlyStoppingSpec | undefined {
    const es = this.props.earlyStopping;
    if (!es) return undefined;
    let spec = es.spec;
    if (spec.kind === 'hyperband' && Number.isNaN(spec.maxResource) && !('epochs' in this.space())) {
      // The epochs a trial trains in full: the task's literal, or train-tabular's default.
      const e = this.props.trial.toSpec().params.epochs;
      const full =
        e?.kind === 'literal' && typeof e.value === 'number'
          ? e.value
          : e === undefined && this.props.trial.component?.name === 'train-tabular'
            ? 20
            : undefined;
      if (full !== undefined) spec = { ...spec, maxResource: full };
    }
    if (es.metricGiven) return spec;
    const reported = progressMetrics(this.props.trial, this.space());
    return reported?.includes(HELD_OUT_METRIC) ? { ...spec, metric: HELD_OUT_METRIC } : spec;
  }

  private space(): SpaceSpec {
    const out: Record<string, DimensionSpec> = {};
    for (const [k, d] of Object.entries(this.props.space ?? {})) {
      if (!(d instanceof Dimension)) {
        throw new ValidationError([
          {
            path: this.node.path,
            field: `space.${k}`,
            message: 'is not a dimension; write Space.uniform(...), Space.logUniform(...), Space.int(...) or Space.categorical([...])',
          },
        ]);
      }
      out[k] = d.spec;
    }
    return out;
  }

  /** The plain-data IR. Checks that the objective's task is the trial task or downstream of it. */
  toSpec(): SweepSpec {
    const { pipeline, trial, objective } = this.props;
    const ps = pipeline.toSpec();
    const byName = new Map(ps.tasks.map((t) => [t.name, t]));
    const upstream = new Set<string>();
    const visit = (n: string): void => {
      if (upstream.has(n)) return;
      upstream.add(n);
      for (const d of byName.get(n)?.dependsOn ?? []) visit(d);
    };
    visit(objective.task.name);
    if (!upstream.has(trial.name))
      throw new ValidationError([
        {
          path: this.node.path,
          field: 'objective',
          message: `reads task '${objective.task.name}', which does not depend on the trial task '${trial.name}'; measure the objective at '${trial.name}' or a task downstream of it (e.g. its evaluate step)`,
        },
      ]);
    const algorithm = (this.props.algorithm ?? Search.tpe()).spec;
    const space = this.space();
    const b = this.props.budget ?? {};
    const es = this.props.earlyStopping ? this.earlyStopping() : undefined;
    // With an epoch budget and no trial count, as many trials as the budget can start (each at least its first rung).
    const full = b.epochs !== undefined ? fullResource(trial.toSpec()) : undefined;
    const trials =
      b.trials ?? (algorithm.kind === 'grid' ? gridPoints(space).length : full !== undefined ? trialsWithin(b.epochs!, es, full) : DEFAULT_SWEEP_TRIALS);
    return {
      name: this.name,
      path: this.node.path,
      pipeline: ps.name,
      task: trial.name,
      space,
      objective: { task: objective.task.name, metric: objective.metric, direction: objective.direction },
      algorithm,
      ...(es ? { earlyStopping: es } : {}),
      budget: {
        trials,
        parallelism: b.parallelism ?? DEFAULT_SWEEP_PARALLELISM,
        ...(b.time !== undefined ? { timeSeconds: parseDuration(b.time) } : {}),
        ...(b.epochs !== undefined ? { epochs: b.epochs } : {}),
      },
    };
  }
}

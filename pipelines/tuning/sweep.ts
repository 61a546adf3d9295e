/**
 * The `Sweep` construct: hyperparameter search over one training task of a pipeline.
 *
 *   new Sweep(chart, 'fraud-tune', {
 *     pipeline: p, trial: train,
 *     space: { learningRate: Space.logUniform(1e-4, 1e-1), hidden: Space.categorical(['16', '32,16']) },
 *     objective: Objective.maximize(evaluate, 'auc'),
 *     algorithm: Search.tpe({ seed: 7 }), earlyStopping: EarlyStopping.asha(),
 *     budget: { trials: 30, parallelism: 4, time: '30m' },
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
import { Dimension, gridPoints, spaceIssues, type DimensionSpec, type SpaceSpec } from './space.ts';
import type { AlgorithmSpec, Direction } from './samplers.ts';
import { DEFAULT_INTERMEDIATE, type EarlyStoppingSpec } from './pruners.ts';

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
  readonly budget: { readonly trials: number; readonly parallelism: number; readonly timeSeconds?: number };
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
  /** The per-step value compared: a progress field the trial reports each epoch. @default 'loss' */
  readonly metric?: string;
  /** @default 'minimize' */
  readonly direction?: Direction;
}

/** Early stopping of trials on their intermediate values (per-epoch training loss by default). */
export class EarlyStopping {
  private constructor(readonly spec: EarlyStoppingSpec) {}
  /**
   * ASHA: rungs at minResource·η^k epochs; at a rung only the best 1/η go on.
   * @see https://optuna.readthedocs.io/en/stable/reference/generated/optuna.pruners.SuccessiveHalvingPruner.html
   */
  static asha(
    opts: IntermediateOpts & { readonly minResource?: number; readonly reductionFactor?: number; readonly minEarlyStoppingRate?: number } = {},
  ): EarlyStopping {
    return new EarlyStopping({
      kind: 'asha',
      minResource: opts.minResource ?? 1,
      reductionFactor: opts.reductionFactor ?? 3,
      minEarlyStoppingRate: opts.minEarlyStoppingRate ?? 0,
      metric: opts.metric ?? DEFAULT_INTERMEDIATE.metric,
      direction: opts.direction ?? DEFAULT_INTERMEDIATE.direction,
    });
  }
  /**
   * Median stopping: a trial worse than the median of complete trials at the same epoch stops.
   * @see https://optuna.readthedocs.io/en/stable/reference/generated/optuna.pruners.MedianPruner.html
   */
  static median(opts: IntermediateOpts & { readonly startupTrials?: number; readonly warmupSteps?: number } = {}): EarlyStopping {
    return new EarlyStopping({
      kind: 'median',
      startupTrials: opts.startupTrials ?? 5,
      warmupSteps: opts.warmupSteps ?? 0,
      metric: opts.metric ?? DEFAULT_INTERMEDIATE.metric,
      direction: opts.direction ?? DEFAULT_INTERMEDIATE.direction,
    });
  }
}

export interface SweepBudget {
  /** Trials to run. @default 20 (grid search: the grid's size) */
  readonly trials?: number;
  /** Trials running at once (also bounded by the machine's cores locally). @default 1 */
  readonly parallelism?: number;
  /** Wall-clock limit of the sweep, e.g. '30m': no trial starts after it. @default - none */
  readonly time?: string | number;
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
}

function declOf(task: Task, name: string): ParamDecl | undefined {
  if (task.component) return task.component.params[name];
  const p = task.container?.params[name];
  return p
    ? { type: p.type, ...(p.enum ? { enum: p.enum } : {}), ...(p.min !== undefined ? { min: p.min } : {}), ...(p.max !== undefined ? { max: p.max } : {}) }
    : undefined;
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
    const es = props.earlyStopping?.spec;
    if (es?.kind === 'asha') {
      if (!(es.minResource >= 1) || !Number.isInteger(es.minResource))
        add('earlyStopping.minResource', `is ${es.minResource}; give a whole number of epochs, at least 1`);
      if (!(es.reductionFactor >= 2) || !Number.isInteger(es.reductionFactor))
        add('earlyStopping.reductionFactor', `is ${es.reductionFactor}; give a whole number, at least 2`);
      if (!Number.isInteger(es.minEarlyStoppingRate) || es.minEarlyStoppingRate < 0)
        add('earlyStopping.minEarlyStoppingRate', `is ${es.minEarlyStoppingRate}; give a whole number, at least 0`);
    }
    if (es?.kind === 'median') {
      if (!Number.isInteger(es.startupTrials) || es.startupTrials < 0)
        add('earlyStopping.startupTrials', `is ${es.startupTrials}; give a whole number, at least 0`);
      if (!Number.isInteger(es.warmupSteps) || es.warmupSteps < 0) add('earlyStopping.warmupSteps', `is ${es.warmupSteps}; give a whole number, at least 0`);
    }
    if (issues.length) throw new ValidationError(issues);
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
    const trials = b.trials ?? (algorithm.kind === 'grid' ? gridPoints(space).length : DEFAULT_SWEEP_TRIALS);
    return {
      name: this.name,
      path: this.node.path,
      pipeline: ps.name,
      task: trial.name,
      space,
      objective: { task: objective.task.name, metric: objective.metric, direction: objective.direction },
      algorithm,
      ...(this.props.earlyStopping ? { earlyStopping: this.props.earlyStopping.spec } : {}),
      budget: { trials, parallelism: b.parallelism ?? DEFAULT_SWEEP_PARALLELISM, ...(b.time !== undefined ? { timeSeconds: parseDuration(b.time) } : {}) },
    };
  }
}

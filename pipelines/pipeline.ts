/**
 * The `Pipeline` construct: typed params, tasks (plain containers or built-in components) that pass
 * typed artifacts and params, `when`, `parallelFor`, an exit handler and an optional schedule.
 * Dependencies are inferred from what a task consumes. `toSpec()` renders the IR (spec.ts) lazily,
 * and the construct emits an Argo WorkflowTemplate (+ CronWorkflow when scheduled) through argo.ts.
 */
import { Construct } from 'constructs';
import type { ArtifactKind, ParamValue } from '../components/component.ts';
import { ValidationError, type Issue } from '../api/errors.ts';
import { RenderedObject } from '../api/rendered-object.ts';
import { compileArgo } from './argo.ts';
import { synthContext } from '../api/context.ts';
import { builtinComponent, type ComponentDescriptor } from './catalog.ts';
import { ContainerComponent, paramValueProblem, type ContainerLocal } from './container-component.ts';
import { checkPipelineSpec, messages, topoOrder } from './check.ts';
import { pipelineSpecHash } from './hash.ts';
import { PIPELINE_BRAND } from './brand.ts';
import { dnsLabelProblem, parseDuration } from '../api/names.ts';
import { Cache, Resources, Retry, type Schedule } from './resources.ts';
import { distributedProblems, distributedSpec, type DistributedProps } from './distributed.ts';
import type {
  ArtifactInputSpec,
  ArtifactOutputSpec,
  DistributedSpec,
  EnvValue,
  LocalRunSpec,
  ParamSpec,
  ParamType,
  PipelineSpec,
  TaskSpec,
  ValueRef,
} from './spec.ts';
import {
  type ArtifactDecl,
  ArtifactRef,
  type Condition,
  Item,
  OutputParam,
  type ParallelFor,
  Param,
  SecretRef,
  type ParamTypeMap,
  type ValueInput,
} from './values.ts';

/** The image that runs built-in components (`ghosteam component run <name>`). */
export const DEFAULT_COMPONENT_IMAGE = 'ghcr.io/ghosteam/components:0.1.0';

const SECRET_LIKE = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)/i;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface PipelineProps {
  /** WorkflowTemplate name (DNS-1123). @default - the construct id */
  readonly name?: string;
  readonly description?: string;
  /** Run on a cron schedule (adds an Argo CronWorkflow). @default - no schedule */
  readonly schedule?: Schedule;
  /** @default - the namespace's default service account */
  readonly serviceAccountName?: string;
  /** Image for built-in component tasks. @default DEFAULT_COMPONENT_IMAGE */
  readonly componentImage?: string;
  /** @default - the chart's namespace */
  readonly namespace?: string;
}

export interface ParamOptions<K extends ParamType> {
  readonly type: K;
  /** @default - required at submission */
  readonly default?: ParamTypeMap[K];
  readonly description?: string;
  /** Allowed values (string params). */
  readonly enum?: readonly string[];
}

interface CommonTaskProps {
  /** Parameter values: literals, pipeline params, upstream output params or the loop item. */
  readonly params?: Readonly<Record<string, ValueInput>>;
  /** Input artifacts: outputs of upstream tasks (each creates a dependency). */
  readonly inputs?: Readonly<Record<string, ArtifactRef>>;
  /** Environment variables; secrets only by reference (`Secret.fromSecret(name, key)`). */
  readonly env?: Readonly<Record<string, string | SecretRef>>;
  /** @default Resources.DEFAULT (500m CPU, 512Mi) */
  readonly resources?: Resources;
  /** @default Retry.none() */
  readonly retry?: Retry;
  /** Wall-clock limit of one attempt, e.g. '30m'. @default - none */
  readonly timeout?: string | number;
  /** @default Cache.enabled() for component tasks, Cache.disabled() for containers */
  readonly cache?: Cache;
  /** Run only if the condition holds (otherwise the task is Skipped). */
  readonly when?: Condition;
  readonly parallelFor?: ParallelFor;
  /** Extra ordering dependencies (beyond those inferred from inputs/params). */
  readonly after?: readonly Task[];
  /** How `ghosteam run` starts a command on this machine (overrides a container component's). @default - command[0] from PATH, in the app's folder */
  readonly local?: ContainerLocal;
}

export interface TaskProps<O extends Record<string, ArtifactKind> = Record<string, ArtifactKind>> extends CommonTaskProps {
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  /** Output artifacts the container writes. */
  readonly outputs?: { readonly [K in keyof O]: ArtifactDecl<O[K]> };
  /** Output params the container sets. */
  readonly outputParams?: readonly string[];
  /** Data-parallel training over `workers` processes/pods (see ContainerComponentProps.distributed). @default - one process */
  readonly distributed?: DistributedProps;
}

export type ComponentTaskProps = CommonTaskProps;

function fail(path: string, field: string, message: string): never {
  throw new ValidationError([{ path, field, message }]);
}

export class Task<O extends Record<string, ArtifactKind> = Record<string, ArtifactKind>> extends Construct {
  readonly name: string;
  /** The built-in component the task runs (in-process locally, `ghosteam component run` in a container). */
  readonly component?: ComponentDescriptor;
  /** The container component the task instantiates. */
  readonly container?: ContainerComponent;
  /** Typed handles on this task's output artifacts. */
  readonly outputs: { readonly [K in keyof O]: ArtifactRef<O[K]> };
  private readonly declaredOutputs: Record<string, ArtifactOutputSpec>;
  private readonly declaredOutputParams: readonly string[];
  private readonly after: Task[] = [];

  constructor(
    readonly pipeline: Pipeline,
    id: string,
    private readonly props: CommonTaskProps & {
      image?: string;
      command?: readonly string[];
      args?: readonly string[];
      outputs?: Record<string, ArtifactDecl>;
      outputParams?: readonly string[];
      distributed?: DistributedProps;
    },
    definition?: ComponentDescriptor | ContainerComponent,
    readonly isExitHandler = false,
  ) {
    super(pipeline, id);
    this.name = id;
    const component = definition instanceof ContainerComponent ? undefined : definition;
    this.component = component;
    if (definition instanceof ContainerComponent) this.container = definition;
    const path = this.node.path;
    if (dnsLabelProblem(id)) fail(path, 'name', messages.notDns(id));

    if (definition) {
      this.declaredOutputs = Object.fromEntries(
        definition.outputs.map((o) => [
          o.name,
          { kind: o.kind, ...(o.description ? { description: o.description } : {}), ...(o.optional ? { optional: true } : {}) },
        ]),
      );
      this.declaredOutputParams = [...(definition.outputParams ?? [])];
    } else {
      if (!props.image) fail(path, 'image', 'is required for a container task; set image, or use pipeline.component(...) for a built-in step');
      this.declaredOutputs = Object.fromEntries(
        Object.entries(props.outputs ?? {}).map(([k, d]) => [k, { kind: d.kind, ...(d.description ? { description: d.description } : {}) }]),
      );
      this.declaredOutputParams = [...(props.outputParams ?? [])];
    }
    this.outputs = Object.fromEntries(Object.entries(this.declaredOutputs).map(([k, o]) => [k, new ArtifactRef(this, k, o.kind)])) as Task<O>['outputs'];
    this.checkProps(path);
    for (const t of props.after ?? []) this.addDependency(t);
  }

  private checkProps(path: string): void {
    const p = this.props;
    const own = (owner: { node: { path: string } }, field: string, what: string) => {
      if (owner === this) fail(path, field, messages.selfDependency(this.name));
      const ownerPipeline = owner instanceof Task ? owner.pipeline : owner;
      if (ownerPipeline !== this.pipeline)
        fail(path, field, `uses ${what} from ${owner.node.path}, which belongs to another pipeline; pass it as a param of this pipeline instead`);
    };
    for (const [k, v] of Object.entries(p.params ?? {})) {
      if (v instanceof Param) own(v.pipeline, `params.${k}`, `param '${v.name}'`);
      else if (v instanceof OutputParam) own(v.task, `params.${k}`, `output param '${v.name}'`);
      else if (v instanceof Item && !p.parallelFor) fail(path, `params.${k}`, messages.itemWithoutLoop());
    }
    for (const [k, ref] of Object.entries(p.inputs ?? {})) {
      if (!(ref instanceof ArtifactRef)) fail(path, `inputs.${k}`, 'must be an output artifact of another task (e.g. split.outputs.train)');
      own(ref.task, `inputs.${k}`, `artifact '${ref.name}'`);
    }
    if (p.when) for (const o of p.when.owners) own(o, 'when', 'a value');
    if (p.parallelFor) for (const o of p.parallelFor.owners) own(o, 'parallelFor', 'a value');
    for (const [k, v] of Object.entries(p.env ?? {})) {
      if (!ENV_NAME.test(k)) fail(path, `env.${k}`, 'is not a valid environment variable name; use letters, digits and _ (not starting with a digit)');
      if (typeof v === 'string' && SECRET_LIKE.test(k))
        fail(path, `env.${k}`, `looks like a secret but is given as a literal; pass it by reference: Secret.fromSecret('<secret-name>', '<key>')`);
    }
    if (p.timeout !== undefined) {
      try {
        const s = parseDuration(p.timeout);
        if (s < 1) fail(path, 'timeout', 'must be at least 1 second');
      } catch (err) {
        if (err instanceof ValidationError) throw err;
        fail(path, 'timeout', (err as Error).message);
      }
    }
    const def = this.component ?? this.container;
    if (def) {
      const c = def;
      const declared = c.inputs.map((i) => i.name);
      for (const [k, ref] of Object.entries(p.inputs ?? {})) {
        const want = c.inputs.find((i) => i.name === k);
        if (!want) fail(path, `inputs.${k}`, `is not an input of component '${c.name}'; use one of ${declared.join(', ') || '(none)'}`);
        if (want.kind !== ref.kind) fail(path, `inputs.${k}`, messages.artifactKind(ref.task.name, ref.name, want.kind, ref.kind));
      }
      for (const i of c.inputs) {
        if (!i.optional && !(p.inputs && i.name in p.inputs))
          fail(path, `inputs.${i.name}`, `is required by component '${c.name}' (a ${i.kind} artifact); pass an upstream output`);
      }
    }
    if (this.container) this.checkContainerParams(path, this.container);
    const d = p.distributed ?? this.container?.distributed;
    if (p.distributed) {
      const [first] = distributedProblems(p.distributed);
      if (first) fail(path, first.field, first.message);
    }
    if (d) {
      if (p.resources?.spec.gpu) fail(path, 'resources.gpu', 'is set on a distributed step; give GPUs per worker with distributed.gpusPerWorker instead');
      if (p.parallelFor) fail(path, 'parallelFor', 'cannot fan out a distributed step; run its workers with distributed.workers, or drop distributed');
      if (this.isExitHandler) fail(path, 'distributed', 'an exit handler cannot be distributed; run distributed training as a task of the DAG');
    }
  }

  /** A container component's params: only declared ones, every required one, literals of the declared type. */
  private checkContainerParams(path: string, c: ContainerComponent): void {
    const given = this.props.params ?? {};
    const declared = Object.keys(c.params);
    for (const [k, v] of Object.entries(given)) {
      const d = c.params[k];
      if (!d)
        fail(
          path,
          `params.${k}`,
          `is not a param of component '${c.name}'; ${declared.length ? `use one of ${declared.join(', ')}` : 'it declares none'}, or declare it in ContainerComponent.define({ params })`,
        );
      if (!(v instanceof Param || v instanceof OutputParam || v instanceof Item)) {
        const why = paramValueProblem(d, v);
        if (why)
          fail(
            path,
            `params.${k}`,
            `${why} (component '${c.name}' declares it ${d.type}${d.enum ? ` of ${d.enum.join(', ')}` : ''}${d.min !== undefined ? `, min ${d.min}` : ''}${d.max !== undefined ? `, max ${d.max}` : ''})`,
          );
      } else if (v instanceof Param && v.type !== d.type && d.type !== 'json') {
        fail(
          path,
          `params.${k}`,
          `takes pipeline param '${v.name}' of type ${v.type}, but component '${c.name}' declares it ${d.type}; declare the pipeline param as ${d.type}`,
        );
      }
    }
    for (const [k, d] of Object.entries(c.params)) {
      if (d.default === undefined && !(k in given)) fail(path, `params.${k}`, `is required by component '${c.name}' (a ${d.type}); pass it in params`);
    }
  }

  /** The output params the task declares (its component's, or the container task's `outputParams`). */
  get outputParamNames(): readonly string[] {
    return this.declaredOutputParams;
  }

  /** A handle on output artifact `name` (checked against the declared outputs). */
  output<K extends keyof O & string>(name: K): ArtifactRef<O[K]> {
    const ref = (this.outputs as Record<string, ArtifactRef>)[name];
    if (!ref)
      fail(
        this.node.path,
        `outputs.${name}`,
        `is not an output of task '${this.name}'; use one of ${Object.keys(this.declaredOutputs).join(', ') || '(none)'}`,
      );
    return ref as ArtifactRef<O[K]>;
  }

  /** A handle on output param `name`, for `when` conditions and downstream params. */
  outputParam<T extends ParamValue = ParamValue>(name: string): OutputParam<T> {
    if (!this.declaredOutputParams.includes(name)) {
      fail(this.node.path, `outputParams.${name}`, messages.missingOutputParam(this.name, name, this.declaredOutputParams));
    }
    return new OutputParam<T>(this, name);
  }

  /** Runs this task after `tasks` (ordering only; data dependencies are inferred). */
  addDependency(...tasks: Task[]): this {
    for (const t of tasks) {
      if (t === this) fail(this.node.path, 'after', messages.selfDependency(this.name));
      if (t.pipeline !== this.pipeline)
        fail(this.node.path, 'after', `refers to ${t.node.path}, which belongs to another pipeline; tasks can only wait for tasks of their own pipeline`);
      if (!this.after.includes(t)) this.after.push(t);
    }
    return this;
  }

  toSpec(): TaskSpec {
    const p = this.props;
    const valueRef = (v: ValueInput): ValueRef => (v instanceof Param || v instanceof OutputParam || v instanceof Item ? v.ref : { kind: 'literal', value: v });
    const params: Record<string, ValueRef> = {};
    for (const k of Object.keys(p.params ?? {}).sort()) params[k] = valueRef(p.params![k]);
    const inputs: Record<string, ArtifactInputSpec> = {};
    for (const k of Object.keys(p.inputs ?? {}).sort()) {
      const r = p.inputs![k];
      inputs[k] = { task: r.task.name, output: r.name, kind: r.kind };
    }
    const env: Record<string, EnvValue> = {};
    for (const k of Object.keys(p.env ?? {}).sort()) {
      const v = p.env![k];
      env[k] = v instanceof SecretRef ? { secretKeyRef: { name: v.name, key: v.key } } : v;
    }
    const deps = new Set<string>(this.after.map((t) => t.name));
    for (const r of Object.values(inputs)) deps.add(r.task);
    for (const r of Object.values(params)) if (r.kind === 'taskOutput') deps.add(r.task);
    if (p.when) for (const r of [p.when.spec.left, p.when.spec.right]) if (r.kind === 'taskOutput') deps.add(r.task);
    if (p.parallelFor && p.parallelFor.ref.kind === 'taskOutput') deps.add(p.parallelFor.ref.task);
    const c = this.component;
    const cc = this.container;
    if (cc) {
      // Declared defaults become literals, so both back ends (and the cache key) see every param.
      for (const [k, d] of Object.entries(cc.params)) if (!(k in params) && d.default !== undefined) params[k] = { kind: 'literal', value: d.default };
      for (const k of Object.keys(cc.env)) if (!(k in env)) env[k] = cc.env[k];
    }
    const sortedParams = Object.fromEntries(
      Object.keys(params)
        .sort()
        .map((k) => [k, params[k]]),
    );
    const sortedEnv = Object.fromEntries(
      Object.keys(env)
        .sort()
        .map((k) => [k, env[k]]),
    );
    // A step that reads data by path or URI (ingest, batch-predict) reads new data under the same
    // name: Argo, keying on params, would reuse a retrain's stale ingest for as long as maxAge.
    const cache = p.cache ?? (c?.fileParams?.length ? Cache.contentKeyedOnly() : c || cc ? Cache.enabled() : Cache.disabled());
    const localProps = { ...(cc?.local ?? {}), ...(p.local ?? {}) };
    const appDir = synthContext().appDir;
    const local: LocalRunSpec | undefined =
      c || (!appDir && !localProps.interpreter && !localProps.venv)
        ? undefined
        : {
            ...(appDir ? { dir: appDir } : {}),
            ...(localProps.interpreter ? { interpreter: localProps.interpreter } : {}),
            ...(localProps.venv ? { venv: localProps.venv } : {}),
          };
    const dist = p.distributed ?? cc?.distributed;
    const distributed: DistributedSpec | undefined = dist ? distributedSpec(dist, this.pipeline.componentImage) : undefined;
    const args = p.args ?? cc?.args;
    return {
      name: this.name,
      path: this.node.path,
      ...(c ? { component: { name: c.name, version: c.version } } : {}),
      ...(cc ? { container: { name: cc.name, version: cc.version } } : {}),
      image: c ? (p.image ?? this.pipeline.componentImage) : cc ? (p.image ?? cc.image) : p.image!,
      ...(c
        ? { command: ['ghosteam', 'component', 'run', c.name] }
        : cc
          ? { command: [...(p.command ?? cc.command)] }
          : p.command
            ? { command: [...p.command] }
            : {}),
      ...(args ? { args: [...args] } : {}),
      params: sortedParams,
      inputs,
      outputs: { ...this.declaredOutputs },
      outputParams: [...this.declaredOutputParams],
      env: sortedEnv,
      resources: (p.resources ?? cc?.resources ?? Resources.DEFAULT).spec,
      ...(local ? { local } : {}),
      ...(distributed ? { distributed } : {}),
      ...((p.retry ?? Retry.none()).spec ? { retry: p.retry!.spec } : {}),
      ...(p.timeout !== undefined ? { timeoutSeconds: parseDuration(p.timeout) } : {}),
      cache: cache.spec,
      ...(p.when ? { when: p.when.spec } : {}),
      ...(p.parallelFor ? { parallelFor: { items: p.parallelFor.ref, ...(p.parallelFor.parallelism ? { parallelism: p.parallelFor.parallelism } : {}) } } : {}),
      dependsOn: [...deps].sort(),
    };
  }
}

export class Pipeline extends Construct {
  readonly name: string;
  readonly componentImage: string;
  readonly schedule?: Schedule;
  private readonly params: { param: Param; spec: ParamSpec }[] = [];
  private readonly tasks: Task[] = [];
  private exit?: Task;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: PipelineProps = {},
  ) {
    super(scope, id);
    Object.defineProperty(this, PIPELINE_BRAND, { value: true });
    this.name = props.name ?? id;
    this.componentImage = props.componentImage ?? DEFAULT_COMPONENT_IMAGE;
    this.schedule = props.schedule;
    if (dnsLabelProblem(this.name)) fail(this.node.path, 'name', messages.notDns(this.name));
    // Rendered lazily, at synth time, so tasks added after construction are included.
    const compiled = () => compileArgo(this.toSpec());
    new RenderedObject(this, 'WorkflowTemplate', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'WorkflowTemplate',
      name: this.name,
      namespace: props.namespace,
      owner: this,
      render: () => {
        const wt = compiled().workflowTemplate;
        return { labels: wt.metadata.labels, annotations: wt.metadata.annotations, body: { spec: wt.spec } };
      },
    });
    if (props.schedule) {
      new RenderedObject(this, 'CronWorkflow', {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'CronWorkflow',
        name: this.name,
        namespace: props.namespace,
        owner: this,
        render: () => {
          const cw = compiled().cronWorkflow!;
          return { labels: cw.metadata.labels, annotations: cw.metadata.annotations, body: { spec: cw.spec } };
        },
      });
    }
  }

  /** Declares a typed pipeline parameter. */
  param<K extends ParamType>(name: string, opts: ParamOptions<K>): Param<ParamTypeMap[K]> {
    const path = this.node.path;
    if (this.params.some((p) => p.spec.name === name)) fail(path, 'params', messages.duplicateParam(name));
    if (!/^[a-zA-Z][a-zA-Z0-9_-]*$/.test(name)) fail(path, `params.${name}`, 'is not a valid param name; use letters, digits, _ and -, starting with a letter');
    const spec: ParamSpec = {
      name,
      type: opts.type,
      ...(opts.default !== undefined ? { default: opts.default } : {}),
      ...(opts.description ? { description: opts.description } : {}),
      ...(opts.enum ? { enum: [...opts.enum] } : {}),
    };
    const param = new Param<ParamTypeMap[K]>(this, name, opts.type);
    this.params.push({ param: param, spec });
    return param;
  }

  private checkNewTask(id: string): void {
    if (this.tasks.some((t) => t.name === id) || this.exit?.name === id) fail(this.node.path, 'tasks', messages.duplicateTask(id));
  }

  /** Adds a container task. */
  task<O extends Record<string, ArtifactKind> = Record<string, never>>(id: string, props: TaskProps<O>): Task<O> {
    this.checkNewTask(id);
    const t = new Task<O>(this, id, props);
    this.tasks.push(t);
    return t;
  }

  /**
   * Adds a task that runs a component: a built-in one (by name, e.g. 'train-tabular', or its
   * descriptor) or a container component (`ContainerComponent.define(...)`).
   */
  component(id: string, component: string | ComponentDescriptor | ContainerComponent, props: ComponentTaskProps = {}): Task {
    this.checkNewTask(id);
    let c: ComponentDescriptor | ContainerComponent;
    try {
      c = typeof component === 'string' ? builtinComponent(component) : component;
    } catch (err) {
      fail(`${this.node.path}/${id}`, 'component', (err as Error).message);
    }
    const t = new Task(this, id, props, c);
    this.tasks.push(t);
    return t;
  }

  /** The exit handler: runs after the DAG whatever its outcome (gets GHOSTEAM_WORKFLOW_STATUS). */
  onExit(id: string, props: TaskProps | (ComponentTaskProps & { component: string | ComponentDescriptor | ContainerComponent })): Task {
    if (this.exit) fail(this.node.path, 'onExit', `already has exit handler '${this.exit.name}'; a pipeline has at most one`);
    this.checkNewTask(id);
    const c = 'component' in props ? (typeof props.component === 'string' ? builtinComponent(props.component) : props.component) : undefined;
    this.exit = new Task(this, id, props, c, true);
    return this.exit;
  }

  /** The plain-data IR, validated. Throws a ValidationError listing every problem. */
  toSpec(): PipelineSpec {
    const tasks = this.tasks.map((t) => t.toSpec());
    const raw: PipelineSpec = {
      name: this.name,
      path: this.node.path,
      ...(this.props.description ? { description: this.props.description } : {}),
      params: this.params.map((p) => p.spec),
      tasks,
      ...(this.exit ? { exitHandler: this.exit.toSpec() } : {}),
      ...(this.schedule ? { schedule: this.schedule.spec } : {}),
      ...(this.props.serviceAccountName ? { serviceAccountName: this.props.serviceAccountName } : {}),
    };
    const issues: Issue[] = checkPipelineSpec(raw);
    if (issues.length > 0) throw new ValidationError(issues);
    return { ...raw, tasks: topoOrder(tasks) };
  }

  /** `sha256:<hex>` of the canonical spec (see hash.ts). */
  get specHash(): string {
    return pipelineSpecHash(this.toSpec());
  }
}

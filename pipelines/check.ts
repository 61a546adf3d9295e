/**
 * Semantic checks of a PipelineSpec (the IR), shared by the construct (before it renders), the local
 * engine (before it runs a spec it was handed) and `ghosteam validate`. Every message names the
 * construct path, the field, what is wrong and how to fix it. Pure.
 */
import type { Issue } from '../api/errors.ts';
import { credentialFix, hasAwsKeyId, isSecretName, maskUrlPassword, urlPassword } from '../api/credentials.ts';
import { dnsLabelProblem, toDnsLabel } from '../api/names.ts';
import { ALL_METRICS, TASK_METRICS, type TrainingTask } from '../components/evaluate/task-metrics.ts';
import { checkSuite } from '../components/validate/suite.ts';
import { BUILTIN_COMPONENTS, type ParamDecl } from './catalog.ts';
import type { ConditionSpec, PipelineSpec, TaskSpec, ValueRef } from './spec.ts';

/** Names the DAG uses itself; a task can't take them. */
export const RESERVED_TASK_NAMES = ['ghosteam-dag', 'ghosteam-exit'];

export const messages = {
  notDns: (name: string) => `'${name}' ${dnsLabelProblem(name)}; use '${toDnsLabel(name)}'`,
  duplicateTask: (name: string) => `has two tasks named '${name}'; give each task a unique id`,
  plaintextSecret: (name: string) =>
    `puts the secret ${name} in plain text; reference a Secret instead: valueFrom: {secretKeyRef: {name: <secret>, key: <key>}} (kubectl create secret generic <secret> --from-literal=<key>=…)`,
  reservedTask: (name: string) => `'${name}' is reserved by ghosteam; choose another task id`,
  unknownParam: (name: string, known: readonly string[]) =>
    `refers to pipeline param '${name}', which is not declared; declare it with pipeline.param('${name}', …)${known.length ? ` or use one of ${known.join(', ')}` : ''}`,
  unknownTask: (task: string, pipeline: string) => `refers to task '${task}', which is not in pipeline '${pipeline}'; add the task or fix the reference`,
  missingArtifact: (task: string, output: string, produced: readonly string[]) =>
    `consumes '${task}.outputs.${output}', which task '${task}' does not produce; ${produced.length ? `consume one of ${produced.map((p) => `'${task}.outputs.${p}'`).join(', ')}` : `task '${task}' produces no artifacts`} or declare the output`,
  artifactKind: (task: string, output: string, want: string, got: string) =>
    `expects a ${want} artifact but '${task}.outputs.${output}' is a ${got}; pass a ${want} output`,
  missingOutputParam: (task: string, output: string, declared: readonly string[]) =>
    `reads output param '${task}.${output}', which task '${task}' does not set; ${declared.length ? `use one of ${declared.join(', ')}` : `task '${task}' sets no output params`} or add it to its outputParams`,
  itemWithoutLoop: () => 'uses the parallelFor item, but the task has no parallelFor; add parallelFor or pass a value',
  cycle: (names: readonly string[]) => `form a cycle ${names.join(' → ')}; remove one of these dependencies (inputs, params, when or after)`,
  selfDependency: (name: string) => `makes task '${name}' depend on itself; remove the reference`,
  exitHandlerDeps: (deps: readonly string[]) =>
    `runs after the DAG whatever its outcome, so it can't consume outputs of ${deps.map((d) => `'${d}'`).join(', ')}; pass values through pipeline params instead`,
  paramDefaultType: (name: string, type: string) => `default of param '${name}' is not a ${type}; give a ${type} default`,
  paramEnum: (name: string, value: unknown, allowed: readonly string[]) =>
    `default ${JSON.stringify(value)} of param '${name}' is not one of ${allowed.join(', ')}`,
  unknownRetrainParam: (name: string, pipeline: string, known: readonly string[]) =>
    `passes param '${name}', which pipeline '${pipeline}' does not declare; declare it with pipeline.param('${name}', …)${known.length ? ` or use one of ${known.join(', ')}` : ''}`,
  duplicateParam: (name: string) => `declares param '${name}' twice; remove one`,
  undeclaredComponentParam: (name: string, component: string, known: readonly string[]) =>
    `passes param '${name}', which component '${component}' does not take; remove it or use one of ${known.join(', ')}`,
  componentParamValue: (name: string, component: string, value: unknown, want: string, via?: string) =>
    `${via ? `pipeline param '${via}' (default ${JSON.stringify(value)}) feeds` : `passes ${JSON.stringify(value)} to`} param '${name}' of '${component}', which must be ${want}; ${via ? `change the default of '${via}'` : 'fix the value'}`,
  gateMetric: (metric: string, evaluateTask: string, task: string | undefined, produced: readonly string[]) =>
    `gates on metric '${metric}', which evaluate task '${evaluateTask}' does not produce${task ? ` for a ${task} model` : ''}; use one of ${produced.join(', ')}${task ? '' : " (or set train-tabular's param task so the check knows which)"}`,
} as const;

/** What a value must be, in words: 'an integer >= 1', 'one of binary, multiclass'. */
export function paramWant(d: ParamDecl): string {
  if (d.enum) return `one of ${d.enum.join(', ')}`;
  if (d.type === 'number')
    return [d.integer ? 'an integer' : 'a number', d.min !== undefined ? `>= ${d.min}` : '', d.max !== undefined ? `<= ${d.max}` : '']
      .filter(Boolean)
      .join(' ');
  return d.type === 'list' ? 'a list (or a comma-separated string)' : d.type === 'json' ? 'a JSON value' : `a ${d.type}`;
}

/** Whether a value fits a component param's declaration. Strings are read as the components read them (a CLI gives strings). */
export function paramFits(d: ParamDecl, v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (d.type === 'number') {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(n)) return false;
    if (d.integer && !Number.isInteger(n)) return false;
    return !((d.min !== undefined && n < d.min) || (d.max !== undefined && n > d.max));
  }
  if (d.type === 'boolean') return typeof v === 'boolean' || v === 'true' || v === 'false' || v === '1' || v === '0';
  if (d.enum) return typeof v === 'string' && d.enum.includes(v);
  if (d.type === 'string') return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  if (d.type === 'list') return Array.isArray(v) || typeof v === 'string';
  return true;
}

/**
 * Values given to pipeline params (`ghosteam run --param k=v`) checked against the component params
 * they feed: the same rule as a default, before anything runs. Returns one message per problem.
 */
export function checkParamValues(spec: PipelineSpec, values: Readonly<Record<string, unknown>>): string[] {
  const out: string[] = [];
  for (const t of spec.tasks) {
    const decls = t.component ? BUILTIN_COMPONENTS[t.component.name]?.params : undefined;
    if (!decls) continue;
    for (const [k, ref] of Object.entries(t.params)) {
      const d = decls[k];
      if (!d || ref.kind !== 'param' || !(ref.name in values)) continue;
      const v = values[ref.name];
      if (!paramFits(d, v))
        out.push(`--param ${ref.name}=${String(v)}: ${t.path} passes it to param '${k}' of '${t.component!.name}', which must be ${paramWant(d)}`);
    }
  }
  return out;
}

function literalOrDefault(spec: PipelineSpec, ref: ValueRef | undefined): { value: unknown; via?: string } | undefined {
  if (!ref) return undefined;
  if (ref.kind === 'literal') return { value: ref.value };
  if (ref.kind === 'param') {
    const p = spec.params.find((x) => x.name === ref.name);
    return p && p.default !== undefined ? { value: p.default, via: p.name } : undefined;
  }
  return undefined;
}

/** Component params: undeclared names, values outside what they take, gate rules on metrics the upstream evaluate does not produce. */
function checkComponentParams(spec: PipelineSpec, issues: Issue[]): void {
  const byName = new Map(spec.tasks.map((t) => [t.name, t]));
  for (const t of spec.tasks) {
    const name = t.component?.name;
    const decls = name ? BUILTIN_COMPONENTS[name]?.params : undefined;
    if (!name || !decls) continue;
    for (const [k, ref] of Object.entries(t.params)) {
      const d = decls[k];
      if (!d) {
        issues.push({ path: t.path, field: `params.${k}`, message: messages.undeclaredComponentParam(k, name, Object.keys(decls)) });
        continue;
      }
      const v = literalOrDefault(spec, ref);
      if (v && !paramFits(d, v.value))
        issues.push({ path: t.path, field: `params.${k}`, message: messages.componentParamValue(k, name, v.value, paramWant(d), v.via) });
    }
    // validate's expectation suite: the same checks the step runs, at synth time (a typo in an
    // expectation type or kwarg would otherwise fail in the pod, after ingest).
    const suite = name === 'validate' ? literalOrDefault(spec, t.params.suite) : undefined;
    if (suite) {
      try {
        checkSuite(suite.value, suite.via ? `pipeline param '${suite.via}' (default)` : 'suite');
      } catch (err) {
        issues.push({ path: t.path, field: 'params.suite', message: (err as Error).message });
      }
    }
    // Gate rules: on the evaluate task that produces the metrics (gate) or on evaluate itself.
    const evalTask = name === 'evaluate' ? t : name === 'gate' && t.inputs.metrics ? byName.get(t.inputs.metrics.task) : undefined;
    const gate = literalOrDefault(spec, t.params.gate);
    if (!evalTask || evalTask.component?.name !== 'evaluate' || !gate || typeof gate.value !== 'object' || gate.value === null || Array.isArray(gate.value))
      continue;
    const trainTask = evalTask.inputs.model ? byName.get(evalTask.inputs.model.task) : undefined;
    const declared = trainTask?.component?.name === 'train-tabular' ? literalOrDefault(spec, trainTask.params.task)?.value : undefined;
    const task = typeof declared === 'string' && declared in TASK_METRICS ? (declared as TrainingTask) : undefined;
    const produced = task ? TASK_METRICS[task] : ALL_METRICS;
    for (const metric of Object.keys(gate.value)) {
      if (!produced.includes(metric)) issues.push({ path: t.path, field: 'params.gate', message: messages.gateMetric(metric, evalTask.name, task, produced) });
    }
  }
}

/**
 * Credentials written into task params or pipeline param defaults (api/credentials.ts): a URL with
 * a password (postgres://user:pw@…, https://user:pw@…, s3://KEY:SECRET@…), an AWS access key id,
 * a param named like a secret with a literal value. They would sit in the synthesized Workflow, in
 * Git and in every step's logs; sources read credentials from the environment, set from a Secret.
 */
function checkParamCredentials(spec: PipelineSpec, issues: Issue[]): void {
  const strings = (v: unknown, at: string, out: { at: string; s: string }[], depth = 0): void => {
    if (depth > 16) return;
    if (typeof v === 'string') out.push({ at, s: v });
    else if (Array.isArray(v)) v.forEach((x, i) => strings(x, `${at}[${i}]`, out, depth + 1));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) strings(x, `${at}.${k}`, out, depth + 1);
  };
  const check = (path: string, field: string, name: string, value: unknown): void => {
    const found: { at: string; s: string }[] = [];
    strings(value, field, found);
    for (const { at, s } of found) {
      const url = urlPassword(s);
      if (url)
        issues.push({
          path,
          field: at,
          message: `holds a URL with a password in it (${maskUrlPassword(s)}); drop the password from the URL and ${credentialFix(url.scheme)}`,
        });
      else if (hasAwsKeyId(s)) issues.push({ path, field: at, message: `holds an AWS access key id; ${credentialFix('s3')}` });
      else if (at === field && isSecretName(name) && s !== '')
        issues.push({
          path,
          field: at,
          message: `passes a secret ('${name}') as a param in plain text; give the task an env var from a Secret instead (env: { ${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}: Secret.fromSecret('<secret>', '<key>') })`,
        });
    }
  };
  for (const p of spec.params) if (p.default !== undefined) check(spec.path, `params.${p.name}.default`, p.name, p.default);
  for (const t of [...spec.tasks, ...(spec.exitHandler ? [spec.exitHandler] : [])])
    for (const [k, ref] of Object.entries(t.params)) if (ref.kind === 'literal') check(t.path, `params.${k}`, k, ref.value);
}

function refsOf(t: TaskSpec): { field: string; ref: ValueRef }[] {
  const out: { field: string; ref: ValueRef }[] = [];
  for (const [k, r] of Object.entries(t.params)) out.push({ field: `params.${k}`, ref: r });
  if (t.when) {
    out.push({ field: 'when', ref: t.when.left });
    out.push({ field: 'when', ref: t.when.right });
  }
  if (t.parallelFor) out.push({ field: 'parallelFor', ref: t.parallelFor.items });
  return out;
}

/** Upstream tasks a task consumes data from (artifacts, output params, conditions, loop items). */
export function dataDependencies(t: TaskSpec): string[] {
  const s = new Set<string>();
  for (const i of Object.values(t.inputs)) s.add(i.task);
  for (const { ref } of refsOf(t)) if (ref.kind === 'taskOutput') s.add(ref.task);
  return [...s].sort();
}

function typeOk(type: string, v: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'list':
      return Array.isArray(v);
    default:
      return true;
  }
}

/** Finds one cycle (as a closed list of names) in the dependency graph, or undefined. */
export function findCycle(order: readonly string[], deps: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, 1);
    stack.push(n);
    for (const d of deps.get(n) ?? []) {
      if (!deps.has(d)) continue;
      const s = state.get(d);
      if (s === 1) return [...stack.slice(stack.indexOf(d)), d];
      if (s === undefined) {
        const c = visit(d);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 2);
    return undefined;
  };
  for (const n of order) {
    if (!state.has(n)) {
      const c = visit(n);
      if (c) return c.reverse();
    }
  }
  return undefined;
}

/** Stable topological order: a task comes after its dependencies, ties by declaration order. */
export function topoOrder<T extends { name: string; dependsOn: readonly string[] }>(tasks: readonly T[]): T[] {
  const index = new Map(tasks.map((t, i) => [t.name, i]));
  const remaining = new Map(tasks.map((t) => [t.name, new Set(t.dependsOn.filter((d) => index.has(d)))]));
  const out: T[] = [];
  while (out.length < tasks.length) {
    const next = tasks.find((t) => remaining.has(t.name) && remaining.get(t.name)!.size === 0);
    if (!next) throw new Error('dependency cycle');
    out.push(next);
    remaining.delete(next.name);
    for (const r of remaining.values()) r.delete(next.name);
  }
  return out;
}

export function checkPipelineSpec(spec: PipelineSpec): Issue[] {
  const issues: Issue[] = [];
  const nameProblem = dnsLabelProblem(spec.name);
  if (nameProblem) issues.push({ path: spec.path, field: 'name', message: messages.notDns(spec.name) });

  const paramNames: string[] = [];
  for (const p of spec.params) {
    if (paramNames.includes(p.name)) issues.push({ path: spec.path, field: 'params', message: messages.duplicateParam(p.name) });
    paramNames.push(p.name);
    if (p.default !== undefined && !typeOk(p.type, p.default))
      issues.push({ path: spec.path, field: `params.${p.name}`, message: messages.paramDefaultType(p.name, p.type) });
    if (p.enum && p.default !== undefined && !p.enum.includes(p.default as string)) {
      issues.push({ path: spec.path, field: `params.${p.name}`, message: messages.paramEnum(p.name, p.default, p.enum) });
    }
  }

  const all = [...spec.tasks, ...(spec.exitHandler ? [spec.exitHandler] : [])];
  const byName = new Map<string, TaskSpec>();
  for (const t of all) {
    if (byName.has(t.name)) issues.push({ path: spec.path, field: 'tasks', message: messages.duplicateTask(t.name) });
    byName.set(t.name, t);
    if (dnsLabelProblem(t.name)) issues.push({ path: t.path, field: 'name', message: messages.notDns(t.name) });
    if (RESERVED_TASK_NAMES.includes(t.name)) issues.push({ path: t.path, field: 'name', message: messages.reservedTask(t.name) });
  }
  const dagNames = new Set(spec.tasks.map((t) => t.name));

  const checkTask = (t: TaskSpec, isExit: boolean) => {
    for (const { field, ref } of refsOf(t)) {
      if (ref.kind === 'param' && !paramNames.includes(ref.name)) issues.push({ path: t.path, field, message: messages.unknownParam(ref.name, paramNames) });
      if (ref.kind === 'item' && !t.parallelFor) issues.push({ path: t.path, field, message: messages.itemWithoutLoop() });
      if (ref.kind === 'taskOutput') {
        const up = dagNames.has(ref.task) ? byName.get(ref.task) : undefined;
        if (ref.task === t.name) issues.push({ path: t.path, field, message: messages.selfDependency(t.name) });
        else if (!up) {
          if (!isExit) issues.push({ path: t.path, field, message: messages.unknownTask(ref.task, spec.name) });
        } else if (!up.outputParams.includes(ref.output)) {
          issues.push({ path: t.path, field, message: messages.missingOutputParam(ref.task, ref.output, up.outputParams) });
        }
      }
    }
    for (const [k, input] of Object.entries(t.inputs)) {
      const field = `inputs.${k}`;
      const up = dagNames.has(input.task) ? byName.get(input.task) : undefined;
      if (input.task === t.name) issues.push({ path: t.path, field, message: messages.selfDependency(t.name) });
      else if (!up) {
        if (!isExit) issues.push({ path: t.path, field, message: messages.unknownTask(input.task, spec.name) });
      } else {
        const out = up.outputs[input.output];
        if (!out) issues.push({ path: t.path, field, message: messages.missingArtifact(input.task, input.output, Object.keys(up.outputs)) });
        else if (out.kind !== input.kind) issues.push({ path: t.path, field, message: messages.artifactKind(input.task, input.output, input.kind, out.kind) });
      }
    }
    for (const d of t.dependsOn) {
      if (d === t.name) {
        if (!issues.some((i) => i.path === t.path && i.message === messages.selfDependency(t.name)))
          issues.push({ path: t.path, field: 'after', message: messages.selfDependency(t.name) });
      } else if (!dagNames.has(d) && !isExit) issues.push({ path: t.path, field: 'after', message: messages.unknownTask(d, spec.name) });
    }
  };
  for (const t of spec.tasks) checkTask(t, false);
  // One exchange volume per workflow: its distributed steps name one storage class, or none.
  const classes = spec.tasks.filter((t) => t.distributed?.storageClass);
  const cls = classes[0]?.distributed?.storageClass;
  for (const t of classes.slice(1))
    if (t.distributed!.storageClass !== cls)
      issues.push({
        path: t.path,
        field: 'distributed.exchange.storageClass',
        message: `is '${t.distributed!.storageClass!}' but task '${classes[0].name}' names '${cls!}'; the distributed steps of a pipeline share one exchange volume, so give them one storage class`,
      });
  if (spec.exitHandler) {
    checkTask(spec.exitHandler, true);
    const deps = [...new Set([...spec.exitHandler.dependsOn, ...dataDependencies(spec.exitHandler)])].sort();
    if (deps.length > 0) issues.push({ path: spec.exitHandler.path, field: 'inputs', message: messages.exitHandlerDeps(deps) });
  }

  checkComponentParams(spec, issues);
  checkParamCredentials(spec, issues);

  const cycle = findCycle(
    spec.tasks.map((t) => t.name),
    new Map(spec.tasks.map((t) => [t.name, t.dependsOn.filter((d) => d !== t.name)])),
  );
  if (cycle) issues.push({ path: spec.path, field: 'tasks', message: messages.cycle(cycle) });
  return issues;
}

/** Renders a condition for messages and Argo `when`. */
export function conditionText(c: ConditionSpec, render: (r: ValueRef) => string): string {
  return `${render(c.left)} ${c.op} ${render(c.right)}`;
}

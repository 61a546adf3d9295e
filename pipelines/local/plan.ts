/**
 * The pure part of the local engine: checking a PipelineSpec, parsing and checking parameters,
 * resolving value references, evaluating `when` conditions, retry back-off and step-cache keys.
 * Nothing here does I/O, so it is unit-tested exhaustively (test/engine/plan.test.ts).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../api/json.ts';
import type { ParamValue } from '../../components/component.ts';
import { dataDependencies } from '../check.ts';
import type { ConditionSpec, ParamSpec, PipelineSpec, RetrySpec, TaskSpec, ValueRef } from '../spec.ts';

/** A user mistake in a pipeline or its parameters; `where` names the place (pipeline path, task path, param). */
export class PipelineError extends Error {
  constructor(
    readonly where: string,
    message: string,
  ) {
    super(`${where}: ${message}`);
    this.name = 'PipelineError';
  }
}

/** Parameters the engine passes to every component besides the task's own (see index.ts). */
export const RESERVED_PARAMS = [
  'ghosteam.runId',
  'ghosteam.pipeline',
  'ghosteam.gitCommit',
  'ghosteam.gitDirty',
  'ghosteam.task',
  'ghosteam.inputDigests',
  'ghosteam.status',
  'ghosteam.reason',
] as const;

// ---------------------------------------------------------------------------------------------
// Spec checks

/** Checks what the engine relies on: unique names, known dependencies, references to real outputs, no cycles. */
export function checkSpec(spec: PipelineSpec): void {
  const where = spec.path || spec.name;
  if (!Array.isArray(spec.tasks)) throw new PipelineError(where, "'tasks' must be an array");
  const byName = new Map<string, TaskSpec>();
  for (const t of spec.tasks) {
    if (byName.has(t.name)) throw new PipelineError(t.path, `task name '${t.name}' is used twice in pipeline '${spec.name}'; names must be unique`);
    byName.set(t.name, t);
  }
  const paramNames = new Set(spec.params.map((p) => p.name));
  const checkRef = (t: TaskSpec, ref: ValueRef, field: string): void => {
    if (ref.kind === 'param' && !paramNames.has(ref.name)) {
      throw new PipelineError(t.path, `'${field}' refers to pipeline parameter '${ref.name}', which is not declared; declare it in the pipeline's params`);
    }
    if (ref.kind === 'taskOutput') {
      const up = byName.get(ref.task);
      if (!up) throw new PipelineError(t.path, `'${field}' refers to task '${ref.task}', which is not in pipeline '${spec.name}'`);
      if (!up.outputParams.includes(ref.output)) {
        throw new PipelineError(
          t.path,
          `'${field}' refers to output parameter '${ref.output}' of task '${ref.task}', which declares only [${up.outputParams.join(', ')}]`,
        );
      }
      if (!t.dependsOn.includes(ref.task) && t !== spec.exitHandler) {
        throw new PipelineError(t.path, `'${field}' uses task '${ref.task}' but '${ref.task}' is not in dependsOn`);
      }
    }
    if (ref.kind === 'item' && !t.parallelFor && field !== 'parallelFor.items') {
      throw new PipelineError(t.path, `'${field}' uses the parallelFor item, but the task has no parallelFor`);
    }
  };
  const all: readonly TaskSpec[] = spec.exitHandler ? [...spec.tasks, spec.exitHandler] : spec.tasks;
  for (const t of all) {
    for (const d of t.dependsOn) {
      if (!byName.has(d)) throw new PipelineError(t.path, `dependsOn names task '${d}', which is not in pipeline '${spec.name}'`);
    }
    for (const [k, ref] of Object.entries(t.params)) checkRef(t, ref, `params.${k}`);
    for (const [k, inp] of Object.entries(t.inputs)) {
      const up = byName.get(inp.task);
      if (!up) throw new PipelineError(t.path, `'inputs.${k}' refers to task '${inp.task}', which is not in pipeline '${spec.name}'`);
      const out = up.outputs[inp.output];
      if (!out)
        throw new PipelineError(
          t.path,
          `'inputs.${k}' refers to artifact '${inp.output}' of task '${inp.task}', which declares only [${Object.keys(up.outputs).join(', ')}]`,
        );
      if (out.kind !== inp.kind) throw new PipelineError(t.path, `'inputs.${k}' expects a ${inp.kind} but '${inp.task}.${inp.output}' is a ${out.kind}`);
      if (up.parallelFor)
        throw new PipelineError(
          t.path,
          `'inputs.${k}' reads an artifact of '${inp.task}', a parallelFor task; its instances' artifacts cannot be passed on (only output parameters, as a list)`,
        );
      if (!t.dependsOn.includes(inp.task) && t !== spec.exitHandler)
        throw new PipelineError(t.path, `'inputs.${k}' uses task '${inp.task}' but '${inp.task}' is not in dependsOn`);
    }
    if (t.when) {
      checkRef(t, t.when.left, 'when.left');
      checkRef(t, t.when.right, 'when.right');
    }
    if (t.parallelFor) {
      checkRef(t, t.parallelFor.items, 'parallelFor.items');
      if (t.parallelFor.items.kind === 'item') throw new PipelineError(t.path, "'parallelFor.items' cannot be the item itself");
      const p = t.parallelFor.parallelism;
      if (p !== undefined && (!Number.isInteger(p) || p < 1)) throw new PipelineError(t.path, `'parallelFor.parallelism' must be a positive integer, got ${p}`);
    }
    if (t.retry) {
      if (!Number.isInteger(t.retry.limit) || t.retry.limit < 0)
        throw new PipelineError(t.path, `'retry.limit' must be a non-negative integer, got ${t.retry.limit}`);
    }
    if (t.timeoutSeconds !== undefined && !(t.timeoutSeconds > 0))
      throw new PipelineError(t.path, `'timeoutSeconds' must be positive, got ${t.timeoutSeconds}`);
  }
  // Cycle check (the construct sorts topologically, but a hand-written spec may not).
  const state = new Map<string, 1 | 2>();
  const visit = (name: string, trail: string[]): void => {
    const s = state.get(name);
    if (s === 2) return;
    if (s === 1) throw new PipelineError(where, `dependency cycle: ${[...trail.slice(trail.indexOf(name)), name].join(' -> ')}`);
    state.set(name, 1);
    for (const d of byName.get(name)!.dependsOn) visit(d, [...trail, name]);
    state.set(name, 2);
  };
  for (const t of spec.tasks) visit(t.name, []);
}

/** Task names in an order where every task comes after its dependencies (declaration order kept where free). */
export function topoOrder(spec: PipelineSpec): string[] {
  const done = new Set<string>();
  const out: string[] = [];
  const byName = new Map(spec.tasks.map((t) => [t.name, t]));
  const visit = (n: string): void => {
    if (done.has(n)) return;
    done.add(n);
    for (const d of byName.get(n)!.dependsOn) visit(d);
    out.push(n);
  };
  for (const t of spec.tasks) visit(t.name);
  return out;
}

/**
 * Upstream tasks whose outputs the task needs (params, inputs, `when`, `parallelFor` items): the
 * same set the Argo compiler turns into `depends: "x.Succeeded"`, so both skip alike.
 */
export function outputDependencies(t: TaskSpec): Set<string> {
  return new Set(dataDependencies(t));
}

// ---------------------------------------------------------------------------------------------
// Parameters

function typeName(v: ParamValue): string {
  return v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v;
}

/** Parses one `--param` value given as text into the declared type. */
export function parseParamText(p: ParamSpec, text: string): ParamValue {
  switch (p.type) {
    case 'string':
      return text;
    case 'number': {
      const n = text.trim() === '' ? NaN : Number(text);
      if (!Number.isFinite(n)) throw new PipelineError(`param '${p.name}'`, `expects a number, got '${text}'`);
      return n;
    }
    case 'boolean':
      if (text === 'true') return true;
      if (text === 'false') return false;
      throw new PipelineError(`param '${p.name}'`, `expects true or false, got '${text}'`);
    case 'list': {
      if (text.trim().startsWith('[')) {
        let v: unknown;
        try {
          v = JSON.parse(text);
        } catch (e) {
          throw new PipelineError(`param '${p.name}'`, `expects a JSON list or comma-separated values; '${text}' is not valid JSON (${(e as Error).message})`);
        }
        if (!Array.isArray(v)) throw new PipelineError(`param '${p.name}'`, `expects a list, got '${text}'`);
        return v as ParamValue[];
      }
      return text === '' ? [] : text.split(',').map((s) => s.trim());
    }
    case 'json':
      try {
        return JSON.parse(text) as ParamValue;
      } catch (e) {
        throw new PipelineError(`param '${p.name}'`, `expects JSON; '${text}' is not valid JSON (${(e as Error).message})`);
      }
  }
}

/** Checks that a (typed) value fits the ParamSpec. */
export function checkParamValue(p: ParamSpec, v: ParamValue): ParamValue {
  const bad = (want: string): never => {
    throw new PipelineError(`param '${p.name}'`, `expects ${want}, got ${typeName(v)} ${JSON.stringify(v)}`);
  };
  switch (p.type) {
    case 'string':
      if (typeof v !== 'string') bad('a string');
      if (p.enum && !p.enum.includes(v as string)) {
        throw new PipelineError(`param '${p.name}'`, `must be one of ${p.enum.map((e) => `'${e}'`).join(', ')}; got '${v as string}'`);
      }
      return v;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) bad('a number');
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') bad('a boolean');
      return v;
    case 'list':
      if (!Array.isArray(v)) bad('a list');
      return v;
    case 'json':
      return v;
  }
}

/**
 * Resolves the run's parameter values: given values (text is parsed per the declared type) over
 * defaults. Unknown and missing required parameters are errors that list what is declared.
 */
export function resolveParams(specs: readonly ParamSpec[], given: Readonly<Record<string, ParamValue>>, pipeline = 'pipeline'): Record<string, ParamValue> {
  const byName = new Map(specs.map((p) => [p.name, p]));
  const declared = specs.length ? specs.map((p) => p.name).join(', ') : '(none)';
  for (const k of Object.keys(given)) {
    if (!byName.has(k)) throw new PipelineError(`param '${k}'`, `is not a parameter of pipeline '${pipeline}'; it declares: ${declared}`);
  }
  const out: Record<string, ParamValue> = {};
  for (const p of specs) {
    if (Object.prototype.hasOwnProperty.call(given, p.name)) {
      const g = given[p.name];
      out[p.name] = checkParamValue(p, typeof g === 'string' && p.type !== 'string' ? parseParamText(p, g) : g);
    } else if (p.default !== undefined) {
      out[p.name] = checkParamValue(p, p.default);
    } else {
      throw new PipelineError(`param '${p.name}'`, `is required by pipeline '${pipeline}' and has no default; pass --param ${p.name}=<${p.type}>`);
    }
  }
  return out;
}

/** Parses `k=v` strings (repeatable `--param`); the value is text, typed later by resolveParams. */
export function parseParamArgs(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of args) {
    const i = a.indexOf('=');
    if (i <= 0) throw new PipelineError(`--param ${a}`, 'expects NAME=VALUE, e.g. --param epochs=10');
    out[a.slice(0, i)] = a.slice(i + 1);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Values and conditions

export interface ValueScope {
  readonly params: Readonly<Record<string, ParamValue>>;
  /** Output parameters of finished tasks (a parallelFor task's are lists, in item order). */
  readonly outputs: (task: string, output: string) => ParamValue | undefined;
  readonly item?: ParamValue;
}

export function resolveValue(ref: ValueRef, scope: ValueScope, where: string): ParamValue {
  switch (ref.kind) {
    case 'literal':
      return ref.value;
    case 'param':
      if (!(ref.name in scope.params)) throw new PipelineError(where, `pipeline parameter '${ref.name}' has no value`);
      return scope.params[ref.name];
    case 'taskOutput': {
      const v = scope.outputs(ref.task, ref.output);
      if (v === undefined) throw new PipelineError(where, `task '${ref.task}' did not set output parameter '${ref.output}'`);
      return v;
    }
    case 'item': {
      if (scope.item === undefined) throw new PipelineError(where, 'the parallelFor item is used outside a parallelFor');
      if (ref.field === undefined) return scope.item;
      const it = scope.item;
      if (it === null || typeof it !== 'object' || Array.isArray(it) || !(ref.field in it)) {
        throw new PipelineError(where, `item ${JSON.stringify(it)} has no field '${ref.field}'`);
      }
      return it[ref.field];
    }
  }
}

/** The text form of a value, as Argo substitutes it: strings as they are, everything else as JSON. */
export function valueText(v: ParamValue): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function asNumber(v: ParamValue): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/**
 * Evaluates a `when` condition like Argo's expression on substituted values: two numbers (or
 * numeric strings) compare as numbers; otherwise `==`/`!=` compare the text forms, and ordering
 * operators on non-numbers are an error.
 */
export function evaluateCondition(c: ConditionSpec, scope: ValueScope, where: string): { holds: boolean; text: string } {
  const l = resolveValue(c.left, scope, `${where} when.left`);
  const r = resolveValue(c.right, scope, `${where} when.right`);
  const text = `${JSON.stringify(l)} ${c.op} ${JSON.stringify(r)}`;
  const ln = asNumber(l);
  const rn = asNumber(r);
  if (ln !== undefined && rn !== undefined) {
    const holds = c.op === '==' ? ln === rn : c.op === '!=' ? ln !== rn : c.op === '>' ? ln > rn : c.op === '>=' ? ln >= rn : c.op === '<' ? ln < rn : ln <= rn;
    return { holds, text };
  }
  if (c.op === '==' || c.op === '!=') {
    const eq = valueText(l) === valueText(r);
    return { holds: c.op === '==' ? eq : !eq, text };
  }
  throw new PipelineError(where, `when: cannot order non-numbers (${text}); use == or != or compare numbers`);
}

/** The fan-out list of a parallelFor: a list, or a JSON list in a string (Argo `withParam`). */
export function fanOutItems(v: ParamValue, where: string): ParamValue[] {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') {
    try {
      const parsed = JSON.parse(v) as unknown;
      if (Array.isArray(parsed)) return parsed as ParamValue[];
    } catch {
      /* fall through */
    }
  }
  throw new PipelineError(where, `parallelFor.items must be a list (or a JSON list), got ${JSON.stringify(v)}`);
}

// ---------------------------------------------------------------------------------------------
// Retries

export type FailureKind = 'failure' | 'error';

/** Whether the retry policy retries this kind of failure (Argo: OnFailure retries failures, OnError errors, Always both). */
export function retries(policy: RetrySpec['policy'], kind: FailureKind): boolean {
  return policy === 'Always' || (policy === 'OnFailure' ? kind === 'failure' : kind === 'error');
}

/**
 * Delay before attempt `next` (2 = the first retry), or null when no further attempt is allowed:
 * the limit is spent, the policy does not retry this failure, or the back-off's maxDuration
 * (Argo: the total time since the first attempt started) has passed. The delay is cut so the
 * retry starts by that deadline.
 */
export function retryDelayMs(retry: RetrySpec | undefined, next: number, kind: FailureKind, elapsedMs: number): number | null {
  if (!retry || next - 1 > retry.limit || !retries(retry.policy, kind)) return null;
  const b = retry.backoff;
  if (!b) return 0;
  let delay = b.durationSeconds * 1000 * Math.pow(b.factor || 1, next - 2);
  if (b.maxDurationSeconds !== undefined) {
    const left = b.maxDurationSeconds * 1000 - elapsedMs;
    if (left <= 0) return null;
    delay = Math.min(delay, left);
  }
  return Math.max(0, delay);
}

// ---------------------------------------------------------------------------------------------
// Cache keys

export interface CacheKeyInput {
  readonly task: TaskSpec;
  /** Resolved parameter values of the task (reserved ones excluded: they change every run). */
  readonly params: Readonly<Record<string, ParamValue>>;
  /** Input artifact name -> digest. */
  readonly inputs: Readonly<Record<string, string>>;
  /** The implementation's version (the catalog component's `version`), or null for a command task. */
  readonly componentVersion: string | null;
  /** Cache keys of the upstream tasks (so a change anywhere upstream invalidates everything downstream). */
  readonly upstream: Readonly<Record<string, string>>;
  readonly item?: ParamValue;
  /** Content digests of the local files the task's file params name (Component.fileParams). */
  readonly files?: Readonly<Record<string, string>>;
}

/**
 * The step-cache key. The task spec counts without the fields that cannot change its result
 * (construct path, cache settings, retry, timeout, resources, dependsOn order), so tuning those
 * keeps the cache; anything else — a param, an input's content, the image/command, the
 * component's version, or any upstream task's key — gives a new key.
 */
export function cacheKey(k: CacheKeyInput): string {
  const { path: _p, cache: _c, retry: _r, timeoutSeconds: _t, resources: _res, dependsOn: _d, ...rest } = k.task;
  const material = {
    v: 1,
    task: rest,
    params: k.params,
    inputs: k.inputs,
    component: k.componentVersion,
    upstream: k.upstream,
    item: k.item ?? null,
    ...(k.files && Object.keys(k.files).length > 0 ? { files: k.files } : {}),
  };
  return createHash('sha256').update(canonicalJson(material)).digest('hex');
}

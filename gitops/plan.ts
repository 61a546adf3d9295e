/**
 * The ML-aware plan between two syntheses (base → head): what will happen to models, pipelines and
 * drift monitors when the head is merged and synced, followed by a unified YAML diff.
 * Pure: takes two lists of synthesized objects, returns data. Rendering lives in plan-render.ts.
 */
import { createTwoFilesPatch } from 'diff';
import { stringify } from 'yaml';
import { diffFields, formatChange } from './fields.ts';
import { indexObjects, isGhosteamKind, isPipeline, withoutVolatile } from './objects.ts';
import { annotation, CONSTRUCT_PATH_ANNOTATION, displayName, SPEC_HASH_ANNOTATION, type K8sObject } from '../api/objects.ts';
import { jsonEqual } from '../api/json.ts';
import {
  driftChanges,
  explainRef,
  formatValueChange,
  modelChanges,
  refShape,
  rolloutSummary,
  type PinWriter,
  type RefShape,
  type ValueChange,
} from './plan-values.ts';
import { planPins, type LockCommit, type PinPlan } from './plan-pins.ts';

export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly constructPath?: string;
}

export interface ModelPlan {
  readonly name: string;
  readonly namespace?: string;
  /** 'added' | 'removed' | 'changed'. */
  readonly change: 'added' | 'removed' | 'changed';
  /** One sentence: 'fraud: canary of v4 at 10→50→100%'. */
  readonly headline: string;
  readonly versionBefore?: string;
  readonly versionAfter?: string;
  /** The rollout that will carry the head version ('canary 10→50→100%', 'direct'). */
  readonly rollout?: string;
  /** Each changed setting, formatted ('runtime ghosteam-onnx → triton', 'rollout.interval 2m → 15s'). */
  readonly details: readonly string[];
  /** Each changed setting with its old and new value (absent on the side that lacks it). */
  readonly changes: readonly ValueChange[];
}

export interface PipelinePlan {
  readonly name: string;
  readonly namespace?: string;
  readonly kind: string;
  readonly change: 'added' | 'removed' | 'changed';
  readonly hashBefore?: string;
  readonly hashAfter?: string;
  /** True when the spec hash differs (or the pipeline is new): a TrainingRun with reason git-change follows. */
  readonly retrain: boolean;
  /** 'fraud-train: task train changed (epochs 10 → 20) → retrain'. */
  readonly headline: string;
  readonly details: readonly string[];
}

export interface DriftMonitorPlan {
  readonly name: string;
  readonly namespace?: string;
  readonly change: 'added' | 'removed' | 'changed';
  readonly headline: string;
  readonly details: readonly string[];
  readonly changes: readonly ValueChange[];
}

export interface Plan {
  readonly models: readonly ModelPlan[];
  readonly pipelines: readonly PipelinePlan[];
  readonly driftMonitors: readonly DriftMonitorPlan[];
  /** Pins that move in models.lock.json, and who moved them. */
  readonly pins: readonly PinPlan[];
  readonly added: readonly ObjectRef[];
  readonly removed: readonly ObjectRef[];
  /** Every changed object, whatever its kind (models, pipelines and monitors included). */
  readonly changed: readonly ObjectRef[];
  readonly unchanged: number;
  /** Names of the pipelines that will retrain. */
  readonly retrain: readonly string[];
  /** Unified diff of the YAML of every added, removed or changed object ('' when identical). */
  readonly diff: string;
}

function ref(o: K8sObject): ObjectRef {
  const constructPath = annotation(o, CONSTRUCT_PATH_ANNOTATION);
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
    name: o.metadata.name,
    ...(constructPath ? { constructPath } : {}),
  };
}

function get(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const part of path.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function firstDefined(obj: unknown, paths: readonly string[]): unknown {
  for (const p of paths) {
    const v = get(obj, p);
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Models

/** 'v4' for a pinned version, '@champion' for an alias; undefined when the model has neither. */
function versionOf(o: K8sObject | undefined): string | undefined {
  if (!o) return undefined;
  const v = firstDefined(o, ['spec.modelRef.version', 'spec.version', 'spec.modelVersion']);
  if (typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v))) return `v${v}`;
  const alias = firstDefined(o, ['spec.modelRef.alias']);
  return typeof alias === 'string' ? `@${alias}` : v === undefined ? undefined : String(v);
}

/** 'canary 10→50→100%', 'direct', 'blue-green'; undefined when the model declares no rollout. */
export function describeRollout(o: K8sObject | undefined): string | undefined {
  return o ? rolloutSummary(get(o, 'spec.rollout')) : undefined;
}

/** 'registry', 'rollout.interval' → 'registry', 'rollout'; 'payloadLogging.mode' → 'payload logging'. */
function settingGroup(field: string): string {
  const top = field.split('.')[0];
  return top === 'payloadLogging' ? 'payload logging' : top;
}

/**
 * Up to three changes with their values ('rollout.interval 2m → 15s, rollout.minRequests 200 → 50'),
 * more as a count and the groups ('5 settings change: rollout, autoscaling'; the values are in the
 * details, which the renderers list under the headline).
 */
function settingsSummary(changes: readonly ValueChange[]): string | undefined {
  if (changes.length === 0) return undefined;
  if (changes.length <= 3) return changes.map(formatValueChange).join(', ');
  const groups = [...new Set(changes.map((c) => settingGroup(c.field)))];
  return `${changes.length} settings change: ${groups.join(', ')}`;
}

function planModel(before: K8sObject | undefined, after: K8sObject | undefined, writers: ReadonlyMap<string, PinWriter>): ModelPlan {
  const o = (after ?? before) as K8sObject;
  const name = o.metadata.name;
  const ns = o.metadata.namespace ? { namespace: o.metadata.namespace } : {};
  const versionBefore = versionOf(before);
  const versionAfter = versionOf(after);
  const rollout = describeRollout(after ?? before);
  const changes = modelChanges(before?.spec, after?.spec);
  const details = changes.map(formatValueChange);
  const versions = { ...(versionBefore ? { versionBefore } : {}), ...(versionAfter ? { versionAfter } : {}), ...(rollout ? { rollout } : {}) };
  if (!before) {
    const ref = refShape(get(after, 'spec.modelRef'));
    const at = !ref
      ? ''
      : ref.kind === 'fixed'
        ? ` at v${ref.version}`
        : ref.kind === 'follow'
          ? ` following @${ref.alias}`
          : ` at pin v${ref.version}, new versions from @${ref.alias}`;
    return { name, ...ns, change: 'added', headline: `${name}: new model${at}${rollout ? ` (${rollout})` : ''}`, ...versions, details, changes };
  }
  if (!after) {
    return {
      name,
      ...ns,
      change: 'removed',
      headline: `${name}: model removed (was ${versionBefore ?? 'unversioned'}); its serving stops`,
      ...versions,
      details,
      changes,
    };
  }
  const refBefore = refShape(get(before, 'spec.modelRef'));
  const refAfter = refShape(get(after, 'spec.modelRef'));
  const registered = String(get(after, 'spec.modelRef.name') ?? name);
  const sentence = explainRef(registered, refBefore, refAfter, rollout, writers.get(registered));
  const others = changes.filter((c) => c.field !== 'registry');
  const parts = [sentence, settingsSummary(sentence ? others : changes)].filter((x): x is string => x !== undefined);
  const headline = `${name}: ${parts.length > 0 ? parts.join('; ') : 'metadata changes only'}`;
  return { name, ...ns, change: 'changed', headline, ...versions, details, changes };
}

// ---------------------------------------------------------------------------------------------
// Pipelines

interface ArgoTemplate {
  readonly name?: string;
  readonly dag?: { readonly tasks?: readonly ({ readonly name: string; readonly template?: string } & Record<string, unknown>)[] };
  readonly [key: string]: unknown;
}

/** The workflow spec of a WorkflowTemplate (spec) or CronWorkflow (spec.workflowSpec). */
function workflowSpec(o: K8sObject): Record<string, unknown> {
  const spec = (o.spec ?? {}) as Record<string, unknown>;
  return (spec.workflowSpec as Record<string, unknown> | undefined) ?? spec;
}

/** Pipeline parameters with their values ('epochs' → '20'). */
function workflowParams(o: K8sObject): Map<string, string> {
  const params = get(workflowSpec(o), 'arguments.parameters');
  const out = new Map<string, string>();
  if (Array.isArray(params))
    for (const p of params as { name?: unknown; value?: unknown }[]) if (typeof p.name === 'string' && p.value !== undefined) out.set(p.name, String(p.value));
  return out;
}

/** Replaces `{{workflow.parameters.X}}` in every string with X's value, so a task shows what it will really get. */
function substitute(value: unknown, params: Map<string, string>): unknown {
  if (typeof value === 'string') return value.replace(/\{\{\s*workflow\.parameters\.([-\w.]+)\s*\}\}/g, (m, n: string) => params.get(n) ?? m);
  if (Array.isArray(value)) return value.map((v) => substitute(v, params));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, params)]));
  return value;
}

/**
 * Each DAG task with the template it runs merged in and pipeline parameters substituted, so that a
 * change to any of them reads as a change to the task. Undefined when the pipeline has no DAG.
 */
function tasksOf(o: K8sObject): Map<string, unknown> | undefined {
  const ws = workflowSpec(o);
  const templates = (Array.isArray(ws.templates) ? ws.templates : []) as ArgoTemplate[];
  const byName = new Map(templates.filter((t) => typeof t.name === 'string').map((t) => [t.name as string, t]));
  const entry = (ws.entrypoint as string | undefined) ?? templates.find((t) => t.dag)?.name;
  const dag = entry ? byName.get(entry)?.dag : undefined;
  if (!dag || !Array.isArray(dag.tasks)) return undefined;
  const params = workflowParams(o);
  const out = new Map<string, unknown>();
  for (const t of dag.tasks) {
    const { name: _n, template, ...rest } = t;
    const tpl = template ? byName.get(template) : undefined;
    const { name: _tn, ...tplRest } = tpl ?? {};
    out.set(t.name, substitute({ ...rest, ...(tpl ? { template: tplRest } : {}) }, params));
  }
  return out;
}

/** 'arguments.parameters[epochs].value' → 'epochs'; 'template.container.image' → 'image'. */
export function labelTaskField(path: string): string {
  const param = /(?:^|\.)(?:arguments|inputs)\.parameters\[([^\]]+)\]\.(?:value|default)$/.exec(path);
  if (param) return param[1];
  const artifact = /(?:^|\.)(?:arguments|inputs|outputs)\.artifacts\[([^\]]+)\]/.exec(path);
  if (artifact) return `artifact ${artifact[1]}`;
  return path.replace(/^template\.(container|script)\./, '').replace(/^template\./, '');
}

function describeWorkflowChanges(before: K8sObject, after: K8sObject): string[] {
  const details: string[] = [];
  const wsBefore = workflowSpec(before);
  const wsAfter = workflowSpec(after);
  const tb = tasksOf(before);
  const ta = tasksOf(after);
  if (!tb || !ta) return diffFields(wsBefore, wsAfter).map((c) => formatChange(c.path, c));
  for (const [name, spec] of ta) {
    const old = tb.get(name);
    if (old === undefined) {
      details.push(`task ${name} added`);
      continue;
    }
    const changes = diffFields(old, spec);
    if (changes.length > 0) details.push(`task ${name} changed (${changes.map((c) => formatChange(labelTaskField(c.path), c)).join(', ')})`);
  }
  for (const name of tb.keys()) if (!ta.has(name)) details.push(`task ${name} removed`);
  const { templates: _a, ...restBefore } = wsBefore;
  const { templates: _b, ...restAfter } = wsAfter;
  const used = JSON.stringify(wsAfter.templates ?? []) + JSON.stringify(wsBefore.templates ?? []);
  for (const c of diffFields(restBefore, restAfter)) {
    const param = /^arguments\.parameters\[([^\]]+)\]\.(value|description)$/.exec(c.path);
    if (param) {
      // A parameter a task consumes was already reported on that task (substituted); say it once.
      if (param[2] === 'value' && used.includes(`{{workflow.parameters.${param[1]}}}`)) continue;
      details.push(formatChange(`parameter ${param[1]}${param[2] === 'description' ? ' description' : ''}`, c));
    } else details.push(formatChange(c.path, c));
  }
  return details;
}

/** The fields of a CronWorkflow beside its workflowSpec (schedule, timezone, concurrency). */
function describeScheduleChanges(before: K8sObject, after: K8sObject): string[] {
  const { workflowSpec: _x, workflowMetadata: _m, ...sb } = (before.spec ?? {}) as Record<string, unknown>;
  const { workflowSpec: _y, workflowMetadata: _n, ...sa } = (after.spec ?? {}) as Record<string, unknown>;
  return diffFields(sb, sa).map((c) => formatChange(c.path.replace(/^schedules\[\d+\]$/, 'schedule'), c));
}

/**
 * One plan per pipeline (namespace/name), over every object that carries its spec hash (the
 * WorkflowTemplate and, when scheduled, the CronWorkflow). The object with the DAG explains the
 * change; the others add their schedule changes.
 */
function planPipeline(before: readonly K8sObject[], after: readonly K8sObject[]): PipelinePlan {
  const primary = (list: readonly K8sObject[]) => list.find((o) => tasksOf(o) !== undefined) ?? list[0];
  const b = primary(before);
  const a = primary(after);
  const o = a ?? b;
  const name = o.metadata.name;
  const ns = o.metadata.namespace ? { namespace: o.metadata.namespace } : {};
  const hashBefore = b && annotation(b, SPEC_HASH_ANNOTATION);
  const hashAfter = a && annotation(a, SPEC_HASH_ANNOTATION);
  const hashes = { ...(hashBefore ? { hashBefore } : {}), ...(hashAfter ? { hashAfter } : {}) };
  if (!b) {
    return { name, ...ns, kind: o.kind, change: 'added', ...hashes, retrain: true, headline: `${name}: new pipeline → first training run`, details: [] };
  }
  if (!a) {
    return {
      name,
      ...ns,
      kind: o.kind,
      change: 'removed',
      ...hashes,
      retrain: false,
      headline: `${name}: pipeline removed; no further training runs`,
      details: [],
    };
  }
  const details = describeWorkflowChanges(b, a);
  const kinds = new Set([...before, ...after].map((x) => x.kind));
  for (const kind of kinds) {
    const kb = before.find((x) => x.kind === kind);
    const ka = after.find((x) => x.kind === kind);
    if (kb === b || !kb || !ka) {
      if (kb && !ka && kb !== b) details.push(`${kind} removed`);
      if (ka && !kb && ka !== a) details.push(`${kind} added`);
      continue;
    }
    details.push(...describeScheduleChanges(kb, ka));
  }
  const retrain = hashBefore !== hashAfter;
  const what = details.length > 0 ? details.join('; ') : retrain ? `spec hash ${short(hashBefore)} → ${short(hashAfter)}` : 'metadata changes only';
  const headline = `${name}: ${what}${retrain ? ' → retrain' : ' (spec hash unchanged: no retrain)'}`;
  return { name, ...ns, kind: o.kind, change: 'changed', ...hashes, retrain, headline, details };
}

function short(h: string | undefined): string {
  if (!h) return 'none';
  const bare = h.replace(/^sha256:/, '');
  return bare.length > 12 ? bare.slice(0, 12) : bare;
}

// ---------------------------------------------------------------------------------------------
// Drift monitors

function planDriftMonitor(before: K8sObject | undefined, after: K8sObject | undefined): DriftMonitorPlan {
  const o = (after ?? before) as K8sObject;
  const name = o.metadata.name;
  const ns = o.metadata.namespace ? { namespace: o.metadata.namespace } : {};
  const changes = driftChanges(before?.spec, after?.spec);
  const details = changes.map(formatValueChange);
  if (!before) return { name, ...ns, change: 'added', headline: `${name}: new drift monitor`, details, changes };
  if (!after) return { name, ...ns, change: 'removed', headline: `${name}: drift monitor removed; drift no longer triggers retraining`, details, changes };
  return { name, ...ns, change: 'changed', headline: `${name}: ${settingsSummary(changes) ?? 'metadata changes only'}`, details, changes };
}

// ---------------------------------------------------------------------------------------------

function pipelineGroup(o: K8sObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

function fileName(o: K8sObject): string {
  return `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}.yaml`;
}

function toYaml(o: K8sObject | undefined): string {
  return o ? stringify(withoutVolatile(o), { lineWidth: 0 }) : '';
}

/** A unified diff of one object's YAML (volatile annotations such as the source commit left out). */
export function objectDiff(before: K8sObject | undefined, after: K8sObject | undefined): string {
  const o = (after ?? before) as K8sObject;
  const name = fileName(o);
  const patch = createTwoFilesPatch(
    before ? `a/${name}` : '/dev/null',
    after ? `b/${name}` : '/dev/null',
    toYaml(before),
    toYaml(after),
    undefined,
    undefined,
    { context: 3 },
  );
  // Drop the 'Index:'/'====' preamble that createTwoFilesPatch adds: git-style output reads better in a PR.
  return patch.replace(/^=+\n/m, '');
}

/** models.lock.json (next to the app) at the base and the head, and the commits between that touched it. */
export interface LockChange {
  readonly base?: string;
  readonly head?: string;
  readonly commits: readonly LockCommit[];
  /** The file's path in the repository, for messages. @default 'models.lock.json' */
  readonly file?: string;
}

/**
 * Compares two syntheses. Both lists are validated (`indexObjects`), so a malformed head throws an
 * ObjectSetError naming the object. Objects are matched by group, kind, namespace and name;
 * `ghosteam.io/source-commit` is ignored when deciding what changed.
 */
export function computePlan(
  baseObjects: readonly unknown[],
  headObjects: readonly unknown[],
  labels = { base: 'base', head: 'head' },
  lock: LockChange = { commits: [] },
): Plan {
  const base = indexObjects(baseObjects, labels.base);
  const head = indexObjects(headObjects, labels.head);
  const refs = new Map<string, RefShape[]>();
  for (const o of head.values()) {
    const shape = isGhosteamKind(o, 'Model') ? refShape(get(o, 'spec.modelRef')) : undefined;
    const registered = get(o, 'spec.modelRef.name');
    if (shape && typeof registered === 'string') refs.set(registered, [...(refs.get(registered) ?? []), shape]);
  }
  const pins = planPins(lock.base, lock.head, lock.commits, refs, lock.file);
  const writers = new Map(pins.filter((p) => p.writer).map((p) => [p.model, p.writer as PinWriter]));
  const keys = [...head.keys(), ...[...base.keys()].filter((k) => !head.has(k))];
  const models: ModelPlan[] = [];
  const pipelines: PipelinePlan[] = [];
  const driftMonitors: DriftMonitorPlan[] = [];
  const added: ObjectRef[] = [];
  const removed: ObjectRef[] = [];
  const changed: ObjectRef[] = [];
  const diffs: string[] = [];
  const changedPipelines = new Set<string>();
  let unchanged = 0;
  for (const key of keys.sort()) {
    const before = base.get(key);
    const after = head.get(key);
    if (before && after && jsonEqual(withoutVolatile(before), withoutVolatile(after))) {
      unchanged++;
      continue;
    }
    const o = (after ?? before) as K8sObject;
    if (!before) added.push(ref(o));
    else if (!after) removed.push(ref(o));
    else changed.push(ref(o));
    diffs.push(objectDiff(before, after));
    if (isGhosteamKind(o, 'Model')) models.push(planModel(before, after, writers));
    else if (isGhosteamKind(o, 'DriftMonitor')) driftMonitors.push(planDriftMonitor(before, after));
    if ((before && isPipeline(before)) || (after && isPipeline(after))) changedPipelines.add(pipelineGroup(o));
  }
  const group = (objs: Map<string, K8sObject>, g: string) => [...objs.values()].filter((x) => isPipeline(x) && pipelineGroup(x) === g);
  for (const g of [...changedPipelines].sort()) pipelines.push(planPipeline(group(base, g), group(head, g)));
  return {
    models,
    pipelines,
    driftMonitors,
    pins,
    added,
    removed,
    changed,
    unchanged,
    retrain: pipelines.filter((p) => p.retrain).map((p) => p.name),
    diff: diffs.join(''),
  };
}

export { displayName };

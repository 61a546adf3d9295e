/**
 * Validation of synthesized (or hand-written) Kubernetes objects, before anything is written:
 *   - Argo WorkflowTemplate / CronWorkflow: the published models (@kubernetes-models/argo-workflows)
 *     plus DAG semantics (unknown tasks/templates/params, artifacts nobody produces, cycles);
 *   - KServe InferenceService / ServingRuntime: our TypeBox schemas of the fields we use (closed);
 *   - ghosteam Model / DriftMonitor / TrainingRun: their own CRD schema (ajv);
 *   - every object: DNS-1123 names, duplicates, security defaults and requests+limits on pod specs,
 *     and GPU requests on a runtime that can't use one.
 * `ghosteam synth` and `ghosteam validate` both call validateObjects, so messages are identical.
 */
import { hasAwsKeyId, isSecretName, urlPassword } from '../api/credentials.ts';
import type { ValidateFunction } from 'ajv';
import { CronWorkflow } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/CronWorkflow';
import { WorkflowTemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowTemplate';
import type { ErrorObject } from 'ajv';
import { findCycle, messages, paramFits, paramWant } from '../pipelines/check.ts';
import { BUILTIN_COMPONENTS } from '../pipelines/catalog.ts';
import { dnsLabelProblem } from '../api/names.ts';
import { toStructural, type JsonSchema } from '../api/crds/structural.ts';
import { ajvFieldPath, ajvMessage, createAjv, validateGhosteamObject } from '../api/crds/validate.ts';
import { GROUP } from '../api/crds/types.ts';
import type { Issue } from '../api/errors.ts';
import { InferenceServiceSchema, ServingRuntimeSchema } from './kserve.ts';
import { gpuOnCpuRuntime } from './model.ts';
import { GPU_CAPABLE_ANNOTATION } from './serving-runtime.ts';
import { COMPONENT_LABEL, CONSTRUCT_PATH_ANNOTATION } from '../api/objects.ts';

/** An object read from YAML and not yet checked: any field may be missing or of the wrong type (api/objects.ts `K8sObject` is the checked shape). */
export type UncheckedObject = {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown; annotations?: Record<string, string> };
  [k: string]: unknown;
};

/** An object and where it came from (a chart name or a file). */
export interface SourcedObject {
  readonly object: UncheckedObject;
  readonly source: string;
}

/** The path an issue names: the construct path annotation, else `source#Kind/name`. */
export function objectPath(o: SourcedObject): string {
  const a = o.object.metadata?.annotations?.[CONSTRUCT_PATH_ANNOTATION];
  return a ?? `${o.source}#${String(o.object.kind)}/${String(o.object.metadata?.name ?? '?')}`;
}

let kserve: { isvc: ValidateFunction; sr: ValidateFunction } | undefined;
function closed(s: JsonSchema): JsonSchema {
  const out: JsonSchema = { ...s };
  if (s.properties) {
    out.properties = Object.fromEntries(Object.entries(s.properties as Record<string, JsonSchema>).map(([k, v]) => [k, closed(v)]));
    if (s.additionalProperties === undefined) out.additionalProperties = false;
  }
  if (s.items) out.items = closed(s.items as JsonSchema);
  return out;
}
function kserveValidators() {
  if (!kserve) {
    const ajv = createAjv();
    kserve = { isvc: ajv.compile(closed(toStructural(InferenceServiceSchema))), sr: ajv.compile(closed(toStructural(ServingRuntimeSchema))) };
  }
  return kserve;
}

function ajvIssues(path: string, errors: ErrorObject[] | null | undefined, unknownField?: string): Issue[] {
  return (errors ?? []).map((e) => ({
    path,
    field: ajvFieldPath(e),
    message: e.keyword === 'additionalProperties' && unknownField ? unknownField : ajvMessage(e),
  }));
}

/** KServe is validated against the subset of fields ghosteam writes (charts/kserve.ts). */
const KSERVE_UNKNOWN =
  "is not among the KServe fields ghosteam writes (charts/kserve.ts); remove it, or check the object with 'kubectl apply --dry-run=server'";

type Container = {
  name?: string;
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
};

/** Security defaults and requests+limits on one container. */
function containerIssues(path: string, field: string, c: Container, podSc: Record<string, unknown> | undefined): Issue[] {
  const out: Issue[] = [];
  const sc = c.securityContext ?? {};
  const need = (ok: boolean, f: string, fix: string) => {
    if (!ok) out.push({ path, field: `${field}.${f}`, message: `is missing or weaker than the default; set ${fix}` });
  };
  need(sc.runAsNonRoot === true || podSc?.runAsNonRoot === true, 'securityContext.runAsNonRoot', 'runAsNonRoot: true');
  need(
    sc.readOnlyRootFilesystem === true,
    'securityContext.readOnlyRootFilesystem',
    'readOnlyRootFilesystem: true (mount an emptyDir where the program writes)',
  );
  need(sc.allowPrivilegeEscalation === false, 'securityContext.allowPrivilegeEscalation', 'allowPrivilegeEscalation: false');
  const drop = (sc.capabilities as { drop?: string[] } | undefined)?.drop ?? [];
  need(drop.includes('ALL'), 'securityContext.capabilities.drop', "capabilities: { drop: ['ALL'] }");
  const seccomp = (sc.seccompProfile as { type?: string } | undefined)?.type ?? (podSc?.seccompProfile as { type?: string } | undefined)?.type;
  need(seccomp === 'RuntimeDefault' || seccomp === 'Localhost', 'securityContext.seccompProfile.type', "seccompProfile: { type: 'RuntimeDefault' }");
  for (const kind of ['requests', 'limits'] as const) {
    const r = c.resources?.[kind] ?? {};
    if (!r.cpu || !r.memory) out.push({ path, field: `${field}.resources.${kind}`, message: `must set cpu and memory; add resources.${kind}.cpu and .memory` });
  }
  return out;
}

const TASK_REF = /\{\{\s*tasks\.([a-z0-9][-a-z0-9]*)\.outputs\.(parameters|artifacts)\.([A-Za-z0-9_-]+)\s*\}\}/g;
const WF_PARAM = /\{\{\s*workflow\.parameters\.([A-Za-z0-9_-]+)\s*\}\}/g;

type ArgoTemplate = {
  name?: string;
  metadata?: { annotations?: Record<string, string>; labels?: Record<string, string> };
  dag?: { tasks?: ArgoTask[] };
  container?: Container;
  outputs?: { parameters?: { name: string }[]; artifacts?: { name: string }[] };
};
type ArgoTask = {
  name?: string;
  template?: string;
  depends?: string;
  dependencies?: string[];
  when?: string;
  withParam?: string;
  arguments?: { parameters?: { name: string; value?: string }[]; artifacts?: { name: string; from?: string }[] };
};
type ArgoSpec = {
  entrypoint?: string;
  onExit?: string;
  arguments?: { parameters?: { name: string; value?: string }[] };
  templates?: ArgoTemplate[];
  securityContext?: Record<string, unknown>;
};

const WHOLE_WF_PARAM = /^\{\{\s*workflow\.parameters\.([A-Za-z0-9_-]+)\s*\}\}$/;

/** Where a workflow param feeds a built-in component's param: what `ghosteam run --param` and a TrainingRun's params are checked against. */
export interface ComponentParamUse {
  readonly param: string;
  readonly component: string;
  readonly componentParam: string;
  readonly path: string;
}

/**
 * Built-in component params in an Argo WorkflowSpec read back from YAML (tasks whose template carries
 * the ghosteam.io/component label): a literal value, or the default of the workflow param it is
 * given, that the component would refuse at run time (as a ParamError: terminal, never retried) is an
 * issue now — the same rule and words as synth's (pipelines/check.ts). Returns the issues and where
 * each workflow param feeds a component param.
 */
export function componentParamIssues(path: string, spec: ArgoSpec): { issues: Issue[]; uses: ComponentParamUse[] } {
  const issues: Issue[] = [];
  const uses: ComponentParamUse[] = [];
  const templates = new Map((spec.templates ?? []).map((t) => [t.name ?? '', t]));
  const defaults = new Map((spec.arguments?.parameters ?? []).map((p) => [p.name, p.value]));
  for (const t of spec.templates ?? []) {
    for (const task of t.dag?.tasks ?? []) {
      const tpl = task.template ? templates.get(task.template) : undefined;
      const component = tpl?.metadata?.labels?.[COMPONENT_LABEL];
      const decls = component ? BUILTIN_COMPONENTS[component]?.params : undefined;
      if (!component || !decls) continue;
      const tpath = tpl?.metadata?.annotations?.[CONSTRUCT_PATH_ANNOTATION] ?? `${path}/${task.name ?? ''}`;
      for (const a of task.arguments?.parameters ?? []) {
        const d = decls[a.name];
        if (!d || a.value === undefined) continue;
        const via = WHOLE_WF_PARAM.exec(a.value)?.[1];
        if (via !== undefined) {
          uses.push({ param: via, component, componentParam: a.name, path: tpath });
          const v = defaults.get(via);
          if (v !== undefined && !paramFits(d, v))
            issues.push({ path: tpath, field: `params.${a.name}`, message: messages.componentParamValue(a.name, component, v, paramWant(d), via) });
        } else if (!a.value.includes('{{') && !paramFits(d, a.value)) {
          issues.push({ path: tpath, field: `params.${a.name}`, message: messages.componentParamValue(a.name, component, a.value, paramWant(d)) });
        }
      }
    }
  }
  return { issues, uses };
}

/** Values given to a pipeline's params (a TrainingRun's or a DriftMonitor's retrain params) checked against the component params they feed. */
export function paramValueIssues(
  path: string,
  field: string,
  values: Readonly<Record<string, unknown>>,
  pipeline: string,
  uses: readonly ComponentParamUse[],
): Issue[] {
  const out: Issue[] = [];
  for (const u of uses) {
    if (!(u.param in values)) continue;
    const d = BUILTIN_COMPONENTS[u.component]?.params?.[u.componentParam];
    const v = values[u.param];
    if (d && !paramFits(d, v))
      out.push({
        path,
        field: `${field}.${u.param}`,
        message: `(${JSON.stringify(v)}) feeds param '${u.componentParam}' of '${u.component}' (${u.path} in pipeline '${pipeline}'), which must be ${paramWant(d)}; the run would fail on it without a retry, so fix the value`,
      });
  }
  return out;
}

/** DAG semantics and pod security of an Argo WorkflowSpec. */
export function argoSpecIssues(path: string, pipelineName: string, spec: ArgoSpec, fieldPrefix: string): Issue[] {
  const issues: Issue[] = [];
  const templates = spec.templates ?? [];
  const byName = new Map<string, ArgoTemplate>();
  for (const [i, t] of templates.entries()) {
    const name = t.name ?? '';
    if (byName.has(name))
      issues.push({ path, field: `${fieldPrefix}.templates[${i}].name`, message: `duplicates template '${name}'; give each template a unique name` });
    byName.set(name, t);
  }
  if (spec.entrypoint && !byName.has(spec.entrypoint))
    issues.push({ path, field: `${fieldPrefix}.entrypoint`, message: `names template '${spec.entrypoint}', which doesn't exist; add it or fix the name` });
  if (spec.onExit && !byName.has(spec.onExit))
    issues.push({ path, field: `${fieldPrefix}.onExit`, message: `names template '${spec.onExit}', which doesn't exist; add it or fix the name` });
  const params = (spec.arguments?.parameters ?? []).map((p) => p.name);

  for (const [ti, t] of templates.entries()) {
    if (t.container)
      issues.push(
        ...containerIssues(
          t.metadata?.annotations?.[CONSTRUCT_PATH_ANNOTATION] ?? path,
          `${fieldPrefix}.templates[${ti}].container`,
          t.container,
          spec.securityContext,
        ),
      );
    if (!t.dag) continue;
    const tasks = t.dag.tasks ?? [];
    const taskByName = new Map<string, ArgoTask>();
    const deps = new Map<string, string[]>();
    for (const task of tasks) {
      const tname = task.name ?? '';
      const tpl = task.template ? byName.get(task.template) : undefined;
      const tpath = tpl?.metadata?.annotations?.[CONSTRUCT_PATH_ANNOTATION] ?? `${path}/${tname}`;
      if (taskByName.has(tname)) issues.push({ path, field: 'tasks', message: messages.duplicateTask(tname) });
      taskByName.set(tname, task);
      if (dnsLabelProblem(tname)) issues.push({ path: tpath, field: 'name', message: messages.notDns(tname) });
      if (!tpl)
        issues.push({ path: tpath, field: 'template', message: `names template '${task.template ?? ''}', which doesn't exist; add it or fix the name` });
    }
    for (const task of tasks) {
      const tname = task.name ?? '';
      const tpl = task.template ? byName.get(task.template) : undefined;
      const tpath = tpl?.metadata?.annotations?.[CONSTRUCT_PATH_ANNOTATION] ?? `${path}/${tname}`;
      const d = new Set<string>(task.dependencies ?? []);
      for (const tok of (task.depends ?? '').split(/[\s()&|!]+/).filter(Boolean)) d.add(tok.replace(/\.[A-Za-z]+$/, ''));
      const check = (field: string, text: string | undefined) => {
        if (!text) return;
        for (const m of text.matchAll(WF_PARAM)) if (!params.includes(m[1])) issues.push({ path: tpath, field, message: messages.unknownParam(m[1], params) });
        for (const m of text.matchAll(TASK_REF)) {
          const [, up, what, out] = m;
          d.add(up);
          const upTask = taskByName.get(up);
          if (up === tname) issues.push({ path: tpath, field, message: messages.selfDependency(tname) });
          else if (!upTask) issues.push({ path: tpath, field, message: messages.unknownTask(up, pipelineName) });
          else {
            const upTpl = upTask.template ? byName.get(upTask.template) : undefined;
            const declared = ((what === 'parameters' ? upTpl?.outputs?.parameters : upTpl?.outputs?.artifacts) ?? []).map((o) => o.name);
            if (!declared.includes(out)) {
              issues.push({
                path: tpath,
                field,
                message: what === 'parameters' ? messages.missingOutputParam(up, out, declared) : messages.missingArtifact(up, out, declared),
              });
            }
          }
        }
      };
      for (const p of task.arguments?.parameters ?? []) check(`params.${p.name}`, p.value);
      for (const a of task.arguments?.artifacts ?? []) check(`inputs.${a.name}`, a.from);
      check('when', task.when);
      check('parallelFor', task.withParam);
      for (const dep of d) {
        if (dep !== tname && !taskByName.has(dep) && !issues.some((i) => i.path === tpath && i.message === messages.unknownTask(dep, pipelineName))) {
          issues.push({ path: tpath, field: 'after', message: messages.unknownTask(dep, pipelineName) });
        }
      }
      deps.set(
        tname,
        [...d].filter((x) => x !== tname),
      );
    }
    const cycle = findCycle(
      tasks.map((x) => x.name ?? ''),
      deps,
    );
    if (cycle) issues.push({ path, field: 'tasks', message: messages.cycle(cycle) });
  }
  issues.push(...componentParamIssues(path, spec).issues);
  return issues;
}

function modelErrors(path: string, fn: () => void): Issue[] {
  try {
    fn();
    return [];
  } catch (err) {
    const errors = (err as { errors?: ErrorObject[] }).errors;
    if (errors) return ajvIssues(path, errors);
    return [{ path, field: '', message: (err as Error).message }];
  }
}

/**
 * A `steps` template's groups as the published models' schema has them. Argo's JSON for a group of
 * parallel steps is a list (ParallelSteps marshals as its steps, and its OpenAPI type is `array`);
 * the models, generated from the swagger, type it as an object `{ steps: [...] }`. The copy wraps each
 * list so the rest of the template is checked, and `argoModelErrors` maps the paths back.
 */
function modelSteps(obj: UncheckedObject): UncheckedObject {
  const wrap = (templates: unknown): unknown =>
    Array.isArray(templates)
      ? templates.map((t: unknown) => {
          const steps = (t as { steps?: unknown } | null)?.steps;
          return Array.isArray(steps) ? { ...(t as object), steps: steps.map((g: unknown) => (Array.isArray(g) ? { steps: g } : g)) } : t;
        })
      : templates;
  const spec = obj.spec as { templates?: unknown; workflowSpec?: { templates?: unknown } } | undefined;
  if (!spec) return obj;
  return {
    ...obj,
    spec: {
      ...spec,
      ...(spec.templates ? { templates: wrap(spec.templates) } : {}),
      ...(spec.workflowSpec?.templates ? { workflowSpec: { ...spec.workflowSpec, templates: wrap(spec.workflowSpec.templates) } } : {}),
    },
  };
}

/** Runs an Argo model class's own schema validation over an object read from YAML. */
function argoModelErrors(path: string, Model: new (data: never) => { validate(): void }, obj: UncheckedObject): Issue[] {
  // The one unchecked step: the constructor's parameter type is what validate() is about to check.
  return modelErrors(path, () => new Model(modelSteps(obj) as never).validate()).map((i) => ({
    ...i,
    field: i.field.replace(/\.steps\[(\d+)\]\.steps\[(\d+)\]/g, '.steps[$1][$2]'),
  }));
}

function isvcGpu(o: UncheckedObject): number {
  const lim = (o.spec as { predictor?: { model?: Container } } | undefined)?.predictor?.model?.resources?.limits ?? {};
  return Object.entries(lim)
    .filter(([k]) => k.startsWith('nvidia.com/'))
    .reduce((n, [, v]) => n + Number(v), 0);
}

/** Validates one object in isolation. */
export function validateObject(o: SourcedObject): Issue[] {
  const obj = o.object;
  const path = objectPath(o);
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
    return [{ path: o.source, field: '', message: 'is not a Kubernetes object (a mapping with apiVersion, kind and metadata)' }];
  if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string')
    return [{ path, field: 'apiVersion', message: 'and kind are required; every object needs both' }];
  const name = obj.metadata?.name;
  if (typeof name !== 'string') return [{ path, field: 'metadata.name', message: 'is required; name the object' }];
  const issues: Issue[] = [];
  const type = `${obj.apiVersion}/${obj.kind}`;
  const dnsKinds = [
    'argoproj.io/v1alpha1/WorkflowTemplate',
    'argoproj.io/v1alpha1/CronWorkflow',
    'serving.kserve.io/v1beta1/InferenceService',
    'serving.kserve.io/v1alpha1/ServingRuntime',
  ];
  if ((dnsKinds.includes(type) || obj.apiVersion.startsWith(`${GROUP}/`)) && dnsLabelProblem(name)) {
    issues.push({ path, field: 'metadata.name', message: messages.notDns(name) });
  }
  switch (type) {
    case 'argoproj.io/v1alpha1/WorkflowTemplate':
      issues.push(...argoModelErrors(path, WorkflowTemplate, obj));
      issues.push(...argoSpecIssues(path, name, obj.spec ?? {}, 'spec'));
      break;
    case 'argoproj.io/v1alpha1/CronWorkflow': {
      issues.push(...argoModelErrors(path, CronWorkflow, obj));
      const ws = (obj.spec as { workflowSpec?: ArgoSpec } | undefined)?.workflowSpec;
      if (ws?.templates) issues.push(...argoSpecIssues(path, name, ws, 'spec.workflowSpec'));
      break;
    }
    case 'serving.kserve.io/v1beta1/InferenceService': {
      const v = kserveValidators().isvc;
      if (!v(obj)) issues.push(...ajvIssues(path, v.errors, KSERVE_UNKNOWN));
      else {
        const p = (obj.spec as { predictor: { model: Container; securityContext?: Record<string, unknown> } }).predictor;
        issues.push(...containerIssues(path, 'spec.predictor.model', p.model, p.securityContext));
      }
      break;
    }
    case 'serving.kserve.io/v1alpha1/ServingRuntime': {
      const v = kserveValidators().sr;
      if (!v(obj)) issues.push(...ajvIssues(path, v.errors, KSERVE_UNKNOWN));
      else {
        const cs = (obj.spec as { containers: Container[] }).containers;
        cs.forEach((c, i) => issues.push(...containerIssues(path, `spec.containers[${i}]`, c, undefined)));
      }
      break;
    }
    default:
      if (obj.apiVersion.startsWith(`${GROUP}/`)) {
        for (const e of validateGhosteamObject(obj)) issues.push({ path, ...e });
      }
  }
  if (obj.kind !== 'Secret') {
    for (const f of plaintextSecrets(obj)) issues.push({ path, field: f.field, message: messages.plaintextSecret(f.name) });
    for (const f of inlineCredentials(obj)) issues.push({ path, field: f.field, message: f.message });
  }
  return issues;
}

export { SECRET_ENV_NAME } from '../api/credentials.ts';

/**
 * Every `env` entry anywhere in an object (containers of Pods, Deployments, Argo templates, KServe
 * predictors…) that puts a secret-named variable's value in plain text (pure).
 */
export function plaintextSecrets(obj: unknown): Array<{ field: string; name: string }> {
  const out: Array<{ field: string; name: string }> = [];
  const walk = (v: unknown, field: string, depth: number): void => {
    if (depth > 64 || typeof v !== 'object' || v === null) return;
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${field}[${i}]`, depth + 1));
      return;
    }
    for (const [k, x] of Object.entries(v)) {
      const f = field ? `${field}.${k}` : k;
      if (k === 'env' && Array.isArray(x)) {
        x.forEach((e, i) => {
          const name = (e as { name?: unknown })?.name;
          const value = (e as { value?: unknown })?.value;
          if (typeof name === 'string' && isSecretName(name) && typeof value === 'string' && value !== '') out.push({ field: `${f}[${i}].value`, name });
        });
      } else walk(x, f, depth + 1);
    }
  };
  walk(obj, '', 0);
  return out;
}

/** `--password=x`, `--token x`…: a flag whose value is a secret (`--token-env NAME` names where one is). */
const SECRET_FLAG = /^--?([a-z0-9-]*(?:password|passwd|secret|token|api-?key|access-?key|private-?key|credentials?))(?:=(.+))?$/i;
const NOT_A_SECRET_FLAG = /-(env|file|path|dir|name|id|url|uri|ref|header|type|secret)$/i;

/**
 * Credentials written inline anywhere else in an object (pure): URLs with a password in any string,
 * annotations whose key names a secret, and secret-valued flags in args/command. Each with the fix.
 */
export function inlineCredentials(obj: unknown): Array<{ field: string; message: string }> {
  const out: Array<{ field: string; message: string }> = [];
  const walk = (v: unknown, field: string, depth: number, inArgs: boolean): void => {
    if (depth > 64) return;
    if (typeof v === 'string') {
      if (urlPassword(v))
        out.push({
          field,
          message:
            'holds a URL with a password in it; put the password in a Secret and pass it by reference (an env var with valueFrom.secretKeyRef, or a credentials file mounted from the Secret), and drop it from the URL',
        });
      else if (hasAwsKeyId(v))
        out.push({
          field,
          message:
            "holds an AWS access key id; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from a Secret (valueFrom.secretKeyRef) or use the pod's role, and drop the key from here",
        });
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        if (inArgs && typeof x === 'string') {
          const f = SECRET_FLAG.exec(x);
          const value = f?.[2] ?? (f && typeof v[i + 1] === 'string' && !String(v[i + 1]).startsWith('-') ? String(v[i + 1]) : undefined);
          if (f && !NOT_A_SECRET_FLAG.test(f[1]) && value !== undefined && !/^\$\(|^\{\{/.test(value))
            out.push({
              field: `${field}[${i}]`,
              message: `passes a secret on the command line (--${f[1].replace(/^-+/, '')}); read it from an env var set by valueFrom.secretKeyRef (e.g. --${f[1].replace(/^-+/, '')}-env NAME) instead`,
            });
        }
        walk(x, `${field}[${i}]`, depth + 1, false);
      });
      return;
    }
    for (const [k, x] of Object.entries(v)) {
      const f = field ? `${field}.${k}` : k;
      if (k === 'annotations' && x && typeof x === 'object' && !Array.isArray(x)) {
        for (const [ak, av] of Object.entries(x as Record<string, unknown>)) {
          const last = ak.split('/').pop() ?? ak;
          if (typeof av === 'string' && av !== '' && isSecretName(last))
            out.push({
              field: `${f}.${ak}`,
              message: `puts a secret in an annotation (readable by anyone who can read the object); keep it in a Secret and reference it`,
            });
          else walk(av, `${f}.${ak}`, depth + 1, false);
        }
        continue;
      }
      walk(x, f, depth + 1, k === 'args' || k === 'command');
    }
  };
  walk(obj, '', 0, false);
  return out;
}

/** Validates a whole set: each object, then duplicates and cross-object rules. */
export function validateObjects(objects: readonly SourcedObject[]): Issue[] {
  const issues: Issue[] = [];
  const seen = new Map<string, SourcedObject>();
  for (const o of objects) {
    issues.push(...validateObject(o));
    const m = o.object.metadata;
    if (!m || typeof m.name !== 'string') continue;
    const group = String(o.object.apiVersion).split('/').slice(0, -1).join('/');
    const key = `${group}/${String(o.object.kind)}/${String(m.namespace ?? '')}/${m.name}`;
    const first = seen.get(key);
    if (first) {
      issues.push({
        path: objectPath(o),
        field: 'metadata.name',
        message: `'${m.name}' is also used by another ${String(o.object.kind)} (${objectPath(first)}); give one of them another name`,
      });
    } else seen.set(key, o);
  }
  // A GPU request on a runtime that can't use one.
  const runtimes = new Map<string, SourcedObject>();
  for (const o of objects)
    if (o.object.kind === 'ServingRuntime') runtimes.set(`${String(o.object.metadata?.namespace ?? '')}/${String(o.object.metadata?.name)}`, o);
  for (const o of objects) {
    if (o.object.kind !== 'InferenceService') continue;
    const gpus = isvcGpu(o.object);
    if (gpus === 0) continue;
    const rtName = (o.object.spec as { predictor?: { model?: { runtime?: string } } })?.predictor?.model?.runtime;
    const rt = runtimes.get(`${String(o.object.metadata?.namespace ?? '')}/${rtName}`);
    if (rt && rt.object.metadata?.annotations?.[GPU_CAPABLE_ANNOTATION] === 'false') {
      issues.push({ path: objectPath(o), field: 'resources.gpu', message: gpuOnCpuRuntime(gpus, rtName ?? '') });
    }
  }
  // A DriftMonitor's model and retrain pipeline should be in the set (when the set holds that namespace).
  const names = (kind: string, ns: string) =>
    objects.filter((o) => o.object.kind === kind && String(o.object.metadata?.namespace ?? '') === ns).map((o) => String(o.object.metadata?.name));
  for (const o of objects) {
    if (o.object.kind !== 'DriftMonitor' || !String(o.object.apiVersion).startsWith(`${GROUP}/`)) continue;
    const ns = String(o.object.metadata?.namespace ?? '');
    const spec = (o.object.spec ?? {}) as { model?: string; action?: { retrain?: { pipeline?: string } } };
    const models = names('Model', ns);
    if (spec.model && models.length > 0 && !models.includes(spec.model)) {
      issues.push({
        path: objectPath(o),
        field: 'spec.model',
        message: `names Model '${spec.model}', which is not synthesized in namespace '${ns}'; use one of ${models.join(', ')}`,
      });
    }
    const pipelines = names('WorkflowTemplate', ns);
    const p = spec.action?.retrain?.pipeline;
    if (p && pipelines.length > 0 && !pipelines.includes(p)) {
      issues.push({
        path: objectPath(o),
        field: 'spec.action.retrain.pipeline',
        message: `names pipeline '${p}', which is not synthesized in namespace '${ns}'; use one of ${pipelines.join(', ')}`,
      });
    }
    const wt = objects.find((x) => x.object.kind === 'WorkflowTemplate' && x.object.metadata?.name === p && String(x.object.metadata?.namespace ?? '') === ns);
    if (wt) {
      const declared = (((wt.object.spec as ArgoSpec | undefined)?.arguments?.parameters ?? []) as { name: string }[]).map((x) => x.name);
      const given = (spec.action?.retrain as { params?: Record<string, string> } | undefined)?.params ?? {};
      for (const k of Object.keys(given)) {
        if (!declared.includes(k))
          issues.push({ path: objectPath(o), field: `spec.action.retrain.params.${k}`, message: messages.unknownRetrainParam(k, p!, declared) });
      }
      const { uses } = componentParamIssues(objectPath(wt), wt.object.spec ?? {});
      issues.push(...paramValueIssues(objectPath(o), 'spec.action.retrain.params', given, p!, uses));
    }
  }
  // A TrainingRun's params, when its pipeline is in the set: a value its components refuse fails the run for good.
  for (const o of objects) {
    if (o.object.kind !== 'TrainingRun' || !String(o.object.apiVersion).startsWith(`${GROUP}/`)) continue;
    const ns = String(o.object.metadata?.namespace ?? '');
    const spec = (o.object.spec ?? {}) as { pipeline?: string; params?: Record<string, string> };
    if (!spec.pipeline || !spec.params) continue;
    const wt = objects.find(
      (x) => x.object.kind === 'WorkflowTemplate' && x.object.metadata?.name === spec.pipeline && String(x.object.metadata?.namespace ?? '') === ns,
    );
    if (!wt) continue;
    const { uses } = componentParamIssues(objectPath(wt), wt.object.spec ?? {});
    issues.push(...paramValueIssues(objectPath(o), 'spec.params', spec.params, spec.pipeline, uses));
  }
  return issues;
}

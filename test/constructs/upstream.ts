/**
 * Test-only: strict validators compiled from the real upstream CRDs in ../shared/upstream (read in
 * place, never copied). "Strict" = every object that lists its properties rejects unknown ones, as
 * `kubectl apply --validate=strict` would.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
export const UPSTREAM = join(import.meta.dirname, '..', '..', '..', 'shared', 'upstream');

type Schema = { [k: string]: unknown };

function closed(s: Schema): Schema {
  const out: Schema = { ...s };
  if (s.properties) {
    out.properties = Object.fromEntries(Object.entries(s.properties as Record<string, Schema>).map(([k, v]) => [k, closed(v)]));
    if (s.additionalProperties === undefined && !s['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  }
  if (s.items) out.items = closed(s.items as Schema);
  if (s.additionalProperties && typeof s.additionalProperties === 'object') out.additionalProperties = closed(s.additionalProperties as Schema);
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) if (Array.isArray(s[k])) out[k] = (s[k] as Schema[]).map(closed);
  // int-or-string has no `type`; make it explicit so ajv checks it.
  if (s['x-kubernetes-int-or-string']) {
    delete out.anyOf;
    out.type = ['integer', 'string'];
  }
  return out;
}

/**
 * Keeps only the parts of `s` that `values` (every instance at this position) reach. Compiling the
 * whole 2.7 MB Argo schema takes ~15 s; the pruned one milliseconds. Nothing is lost: a field the
 * object has keeps its full schema, a field it lacks can't fail (`required` lists are kept), and the
 * closed() pass still rejects unknown fields.
 */
function prune(s: Schema, values: unknown[]): Schema {
  const out: Schema = { ...s };
  const objs = values.filter((v): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v));
  if (s.properties) {
    const props = s.properties as Record<string, Schema>;
    const keys = new Set(objs.flatMap((o) => Object.keys(o)));
    out.properties = Object.fromEntries(
      [...keys]
        .filter((k) => props[k])
        .map((k) => [
          k,
          prune(
            props[k],
            objs.map((o) => o[k]).filter((v) => v !== undefined),
          ),
        ]),
    );
  }
  if (s.items)
    out.items = prune(
      s.items as Schema,
      values.flatMap((v) => (Array.isArray(v) ? v : [])),
    );
  if (s.additionalProperties && typeof s.additionalProperties === 'object')
    out.additionalProperties = prune(
      s.additionalProperties as Schema,
      objs.flatMap((o) => Object.values(o)),
    );
  return out;
}

const schemas = new Map<string, Schema>();

/** The openAPIV3Schema of `file` (relative to shared/upstream) at API `version`, parsed once. */
export function upstreamSchema(file: string, version: string): Schema {
  const key = `${file}@${version}`;
  const hit = schemas.get(key);
  if (hit) return hit;
  const path = join(UPSTREAM, file);
  if (!existsSync(path)) throw new Error(`upstream CRD ${path} is missing; tests read it from ../shared/upstream`);
  const crd = parse(readFileSync(path, 'utf8'), { maxAliasCount: -1 }) as { spec: { versions: { name: string; schema: { openAPIV3Schema: Schema } }[] } };
  const v = crd.spec.versions.find((x) => x.name === version);
  if (!v) throw new Error(`${file} serves no version ${version}`);
  schemas.set(key, v.schema.openAPIV3Schema);
  return v.schema.openAPIV3Schema;
}

/** A strict validator for `obj` against `file` at API `version`. */
export function upstreamValidator(file: string, version: string, obj: unknown): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  addFormats(ajv);
  return ajv.compile(closed(prune(upstreamSchema(file, version), [obj])));
}

export const UPSTREAM_SCHEMAS: Record<string, { file: string; version: string }> = {
  'argoproj.io/v1alpha1/WorkflowTemplate': { file: 'argo-workflows/argoproj.io_workflowtemplates.yaml', version: 'v1alpha1' },
  'argoproj.io/v1alpha1/CronWorkflow': { file: 'argo-workflows/argoproj.io_cronworkflows.yaml', version: 'v1alpha1' },
  'serving.kserve.io/v1beta1/InferenceService': { file: 'kserve/serving.kserve.io_inferenceservices.yaml', version: 'v1beta1' },
  'serving.kserve.io/v1alpha1/ServingRuntime': { file: 'kserve/serving.kserve.io_servingruntimes.yaml', version: 'v1alpha1' },
  'trainer.kubeflow.org/v1alpha1/TrainJob': { file: 'kubeflow-trainer/trainer.kubeflow.org_trainjobs.yaml', version: 'v1alpha1' },
};

/** Errors of `obj` against its upstream CRD, as 'path: message' lines (empty when valid). */
export function upstreamErrors(obj: { apiVersion: string; kind: string }): string[] {
  const s = UPSTREAM_SCHEMAS[`${obj.apiVersion}/${obj.kind}`];
  if (!s) throw new Error(`no upstream schema for ${obj.apiVersion} ${obj.kind}`);
  const v = upstreamValidator(s.file, s.version, obj);
  if (v(obj)) return [];
  return (v.errors ?? []).map(
    (e) =>
      `${e.instancePath || '/'}: ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : ''}`,
  );
}

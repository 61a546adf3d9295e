/**
 * Run-time validation of ghosteam custom resources against their own CRD schema (ajv, compiled once
 * per kind). Used by synth/validate and by the operator before it trusts an object.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { objectSchema, type JsonSchema } from './index.ts';
import { API_VERSION, KINDS } from './types.ts';
import { semanticErrors } from './semantics.ts';

// ajv-formats is CommonJS with `module.exports = plugin`; under NodeNext its declared default import
// is the module object, while at run time it is the plugin function.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** An ajv instance with the JSON Schema formats (date-time, uri, ...), as every validator here uses. */
export function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  return ajv;
}

/** Adds `additionalProperties: false` to every object that lists its properties, so typos are caught
 * (the API server would silently prune them). `metadata` stays open. */
function closed(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = { ...schema };
  if (schema.properties) {
    const props: JsonSchema = {};
    for (const [k, v] of Object.entries(schema.properties as Record<string, JsonSchema>)) props[k] = closed(v);
    out.properties = props;
    if (schema.additionalProperties === undefined) out.additionalProperties = false;
  }
  if (schema.items) out.items = closed(schema.items as JsonSchema);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    out.additionalProperties = closed(schema.additionalProperties as JsonSchema);
  }
  return out;
}

let compiled: Map<string, ValidateFunction> | undefined;

function validators(): Map<string, ValidateFunction> {
  if (compiled) return compiled;
  const ajv = createAjv();
  compiled = new Map(KINDS.map((k) => [k.kind, ajv.compile(closed(objectSchema(k)))]));
  return compiled;
}

/** Turns ajv's `/spec/rollout/steps/0` into `spec.rollout.steps[0]`. */
export function ajvFieldPath(e: ErrorObject): string {
  const parts = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    out = out ? `${out}.${missing}` : missing;
  }
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    out = out ? `${out}.${extra}` : extra;
  }
  return out;
}

/** A short sentence for one ajv error: what is wrong and how to fix it. */
export function ajvMessage(e: ErrorObject): string {
  switch (e.keyword) {
    case 'required':
      return 'is required; set it';
    case 'additionalProperties':
      return 'is not a known field; remove it or check its spelling';
    case 'enum':
      return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'type':
      return `must be of type ${(e.params as { type: string }).type}`;
    default:
      return e.message ?? 'is invalid';
  }
}

export interface FieldError {
  readonly field: string;
  readonly message: string;
}

/** Validates a ghosteam.io object against its schema, then the checks a schema cannot state (api/crds/semantics.ts); returns field errors (empty when valid). Unknown kinds are an error. */
export function validateGhosteamObject(obj: { apiVersion?: unknown; kind?: unknown }): FieldError[] {
  if (obj.apiVersion !== API_VERSION) {
    return [{ field: 'apiVersion', message: `must be '${API_VERSION}'` }];
  }
  const v = validators().get(String(obj.kind));
  if (!v) {
    return [{ field: 'kind', message: `'${String(obj.kind)}' is not a ghosteam kind; use one of ${KINDS.map((k) => k.kind).join(', ')}` }];
  }
  if (v(obj)) return semanticErrors(obj);
  return (v.errors ?? []).map((e) => ({ field: ajvFieldPath(e), message: ajvMessage(e) }));
}

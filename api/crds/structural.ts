/**
 * Converts a TypeBox schema into a Kubernetes *structural* openAPIV3Schema: every node has a `type`,
 * maps (`Type.Record`) become `additionalProperties`, literals become `enum`, free-form values carry
 * `x-kubernetes-preserve-unknown-fields`. Unions of objects are refused: Kubernetes can't express them
 * structurally, so the CRD types must not use them. Pure: no I/O.
 */
import type { TSchema } from '@sinclair/typebox';

export type JsonSchema = { [key: string]: unknown };

const KEEP = [
  'description',
  'format',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minItems',
  'maxItems',
  'enum',
  'default',
  // CEL rules the kube-apiserver runs (api/crds/semantics.ts), copied as they are.
  'x-kubernetes-validations',
] as const;

export function toStructural(schema: TSchema | JsonSchema, where = '$'): JsonSchema {
  const s = schema as JsonSchema;
  const out: JsonSchema = {};
  if (s.const !== undefined) {
    out.type = typeof s.const === 'number' ? (Number.isInteger(s.const) ? 'integer' : 'number') : typeof s.const;
    out.enum = [s.const];
    if (s.description) out.description = s.description;
    return out;
  }
  if (Array.isArray(s.anyOf) || Array.isArray(s.oneOf)) {
    const alts = (s.anyOf ?? s.oneOf) as JsonSchema[];
    if (alts.every((a) => a.const !== undefined && typeof a.const === 'string')) {
      return { type: 'string', enum: alts.map((a) => a.const), ...(s.description ? { description: s.description } : {}) };
    }
    throw new Error(`${where}: unions are not structural; use StringEnum or separate optional fields`);
  }
  if (s.type === undefined) {
    // Type.Unknown()/Type.Any(): free-form JSON.
    return { 'x-kubernetes-preserve-unknown-fields': true, ...(s.description ? { description: s.description } : {}) };
  }
  out.type = s.type;
  for (const k of KEEP) if (s[k] !== undefined) out[k] = Array.isArray(s[k]) ? [...(s[k] as unknown[])] : s[k];
  if (s.type === 'object') {
    const props = s.properties as Record<string, JsonSchema> | undefined;
    if (props) {
      const p: JsonSchema = {};
      for (const [k, v] of Object.entries(props)) p[k] = toStructural(v, `${where}.${k}`);
      out.properties = p;
      const req = s.required as string[] | undefined;
      if (req && req.length > 0) out.required = [...req];
    }
    const pattern = s.patternProperties as Record<string, JsonSchema> | undefined;
    if (pattern) {
      const values = Object.values(pattern);
      if (values.length !== 1) throw new Error(`${where}: only maps with one value type are structural`);
      out.additionalProperties = toStructural(values[0], `${where}.*`);
    } else if (s.additionalProperties && typeof s.additionalProperties === 'object') {
      out.additionalProperties = toStructural(s.additionalProperties as JsonSchema, `${where}.*`);
    }
    if (!props && !pattern && !(s.additionalProperties && typeof s.additionalProperties === 'object')) {
      out['x-kubernetes-preserve-unknown-fields'] = true;
    }
  } else if (s.type === 'array') {
    out.items = toStructural(s.items as JsonSchema, `${where}[]`);
  }
  return out;
}

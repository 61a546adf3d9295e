/**
 * TypeBox schemas → OpenAPI 3.1 components (pure). OpenAPI 3.1's schemas are JSON Schema, so a
 * TypeBox schema goes in as it is, less TypeBox's own keys; a schema with an `$id` becomes a named
 * component, referenced by `$ref` wherever it is used. Shared by every generated OpenAPI document
 * (the UI's API, the model server's).
 */
import type { TSchema } from '@sinclair/typebox';

/** Strips `$id`s, and turns schemas with an `$id` into $refs to components collected in `refs`. */
function plain(schema: unknown, refs: Map<string, unknown>, top = false): unknown {
  if (Array.isArray(schema)) return schema.map((s) => plain(s, refs));
  if (!schema || typeof schema !== 'object') return schema;
  const o = schema as Record<string, unknown>;
  if (typeof o.$id === 'string' && !top) {
    if (!refs.has(o.$id)) {
      refs.set(o.$id, null);
      refs.set(o.$id, plain(o, refs, true));
    }
    return { $ref: `#/components/schemas/${o.$id}` };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (k !== '$id') out[k] = plain(v, refs);
  return out;
}

/** `ref(schema)`: the schema as OpenAPI writes it (a $ref when it has an $id); `components()`: every named schema met so far. */
export function openApiSchemas(): { ref: (schema: TSchema) => unknown; components: () => Record<string, unknown> } {
  const refs = new Map<string, unknown>();
  return { ref: (schema) => plain(schema, refs), components: () => Object.fromEntries(refs) };
}

/**
 * The spec hash: `sha256:<hex>` of the canonical JSON of a PipelineSpec (keys sorted, construct
 * paths and local-only settings left out so that moving a construct doesn't count as a change). The Argo objects carry it as
 * `ghosteam.io/spec-hash`; GitOps and the operator compare it to decide whether a pipeline changed.
 */
import { createHash } from 'node:crypto';
import type { PipelineSpec } from './spec.ts';

export const SPEC_HASH_ANNOTATION = 'ghosteam.io/spec-hash';

/** Canonical JSON: object keys sorted, `undefined` dropped; arrays keep their order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

/** The spec with construct paths and local-only run settings (`local`) removed (of the pipeline and of each task). */
export function withoutPaths(spec: PipelineSpec): unknown {
  const strip = <T extends { readonly path: string }>(x: T): Omit<T, 'path'> & { path: undefined } => Object.assign({}, x, { path: undefined, local: undefined });
  return { ...strip(spec), tasks: spec.tasks.map(strip), exitHandler: spec.exitHandler ? strip(spec.exitHandler) : undefined };
}

export function pipelineSpecHash(spec: PipelineSpec): string {
  return `sha256:${createHash('sha256').update(canonicalJson(withoutPaths(spec))).digest('hex')}`;
}

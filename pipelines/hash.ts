/**
 * The spec hash: `sha256:<hex>` of the canonical JSON of a PipelineSpec (keys sorted, construct
 * paths and local-only settings left out so that moving a construct or pointing at another venv doesn't count as a change). The Argo objects carry it as
 * `ghosteam.io/spec-hash` (SPEC_HASH_ANNOTATION in api/objects.ts); GitOps and the operator compare it to decide whether a pipeline changed.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../api/json.ts';
import type { PipelineSpec } from './spec.ts';

/** The spec with construct paths and local-only run settings (`local`) removed (of the pipeline and of each task). */
export function withoutPaths(spec: PipelineSpec): unknown {
  const strip = <T extends { readonly path: string }>(x: T): Omit<T, 'path'> & { path: undefined } =>
    Object.assign({}, x, { path: undefined, local: undefined });
  return { ...strip(spec), tasks: spec.tasks.map(strip), exitHandler: spec.exitHandler ? strip(spec.exitHandler) : undefined };
}

export function pipelineSpecHash(spec: PipelineSpec): string {
  return `sha256:${createHash('sha256')
    .update(canonicalJson(withoutPaths(spec)))
    .digest('hex')}`;
}

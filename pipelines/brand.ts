/**
 * How a Pipeline construct is recognised without `instanceof` or class names: an app outside this
 * checkout may load its own copy of ghosteam, and a minifier renames classes. `Symbol.for` is shared
 * by every copy in the process (cdk8s's `Chart.isChart` works the same way).
 */
export const PIPELINE_BRAND = Symbol.for('ghosteam.pipeline');

/** True for a Pipeline construct from any copy of ghosteam. */
export function isPipelineConstruct(x: unknown): x is { toSpec(): unknown } {
  return typeof x === 'object' && x !== null && PIPELINE_BRAND in x && typeof (x as { toSpec?: unknown }).toSpec === 'function';
}

export const SWEEP_BRAND = Symbol.for('ghosteam.sweep');

/** True for a Sweep construct (pipelines/tuning/sweep.ts) from any copy of ghosteam. */
export function isSweepConstruct(x: unknown): x is { toSpec(): unknown } {
  return typeof x === 'object' && x !== null && SWEEP_BRAND in x && typeof (x as { toSpec?: unknown }).toSpec === 'function';
}

/**
 * An optimized model registered as a new version with lineage to the original: one rule for the
 * `optimize-onnx` component and `ghosteam optimize --register`. The version's lineage holds
 * `derivedFrom` (the original's `name@version`, or its source when it was a file or an artifact)
 * and `derivedFromDigest` (its sha256) beside the run's own lineage; its params say the steps and
 * level, its metrics are the report's figures. The same bytes registered again return the version
 * already there.
 */
import type { Lineage, ModelRegistry } from '../registry/types.ts';
import type { OptimizeReport } from './index.ts';

/** The figures of a report as one flat map of numbers (what a metrics artifact holds for gate/register). */
export function reportMetrics(r: OptimizeReport): Record<string, number> {
  const m: Record<string, number> = {
    sizeBytes: r.sizeBytes.optimized,
    originalSizeBytes: r.sizeBytes.original,
    sizeRatio: r.sizeBytes.ratio,
  };
  if (r.latencyMs) {
    m.latencyMsBatch1 = r.latencyMs.optimized.batch1;
    m.latencyMsBatch64 = r.latencyMs.optimized.batch64;
    m.originalLatencyMsBatch1 = r.latencyMs.original.batch1;
    m.originalLatencyMsBatch64 = r.latencyMs.original.batch64;
  }
  const v = r.validation;
  if (v?.metric && v.optimized !== undefined && v.original !== undefined) {
    m[v.metric] = v.optimized;
    m[`original_${v.metric}`] = v.original;
    if (v.delta !== undefined) m.metricDelta = v.delta;
    if (v.drop !== undefined) m.metricDrop = v.drop;
  }
  return m;
}

export interface RegisteredOptimized {
  readonly version: number;
  readonly reused: boolean;
  readonly derivedFrom: string;
  readonly alias?: string;
}

export async function registerOptimized(
  registry: ModelRegistry,
  name: string,
  file: string,
  report: OptimizeReport,
  o: { readonly lineage?: Lineage; readonly tags?: Readonly<Record<string, string>>; readonly alias?: string } = {},
): Promise<RegisteredOptimized> {
  const derivedFrom = report.model.source.startsWith('registry:') ? `${report.model.name}@${report.model.version}` : report.model.source;
  const lineage = { ...o.lineage, derivedFrom, derivedFromDigest: report.model.digest };
  const mv = await registry.registerVersion(name, {
    artifactPath: file,
    reuseIdentical: true,
    format: 'onnx',
    metrics: reportMetrics(report),
    params: { optimize: report.steps.join('+') || 'none', level: report.level, derivedFrom },
    tags: { ...o.tags },
    lineage,
  });
  if (o.alias) await registry.setAlias(name, o.alias, mv.version);
  return { version: mv.version, reused: !!mv.reused, derivedFrom, ...(o.alias ? { alias: o.alias } : {}) };
}

/** The line that says what a registration did, for the step's log and the CLI. */
export function registrationLine(name: string, r: RegisteredOptimized): string {
  return `${r.reused ? `${name} version ${r.version} already holds this model` : `registered ${name} version ${r.version}`} (from ${r.derivedFrom})${r.alias ? `; @${r.alias} points at it` : ''}`;
}

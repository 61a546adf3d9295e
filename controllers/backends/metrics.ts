/**
 * Canary metrics sources: Prometheus' query API (the model server's series, over the exact step
 * window) and the local model server's admin stats (counted since the version was loaded).
 */
import type { VersionMetrics } from '../planners/canary.ts';
import type { ModelSpec } from '../../api/crds/index.ts';
import type { MetricsSource, VersionQualityEstimated, VersionQualityObserved } from './types.ts';
import {
  ESTIMATED_QUALITY_METRICS,
  QUALITY_METRICS,
  QUALITY_TASKS,
  type EstimatedQualityMetric,
  type QualityMetric,
  type QualityTask,
} from '../../api/quality.ts';
import type { K8sObject } from '../../api/objects.ts';

type M = K8sObject & { spec: ModelSpec };

export class PrometheusMetrics implements MetricsSource {
  constructor(
    private readonly baseUrl: string,
    private readonly fetchFn: typeof fetch = fetch,
  ) {}

  private async scalar(query: string, now: number): Promise<number | null> {
    const u = new URL('/api/v1/query', this.baseUrl);
    u.searchParams.set('query', query);
    u.searchParams.set('time', String(now / 1000));
    const res = await this.fetchFn(u, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`Prometheus query failed (${res.status}): ${query}`);
    const body = (await res.json()) as { data?: { result?: Array<{ value: [number, string] }> } };
    const v = body.data?.result?.[0]?.value?.[1];
    if (v === undefined) return null;
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }

  async versionMetrics(m: M, version: number, sinceMs: number, now: number): Promise<VersionMetrics | undefined> {
    const w = `${Math.max(1, Math.round((now - sinceMs) / 1000))}s`;
    const sel = `model="${m.spec.modelRef.name}",version="${version}"`;
    const [req, err, p99] = await Promise.all([
      this.scalar(`sum(increase(ghosteam_model_requests_total{${sel}}[${w}]))`, now),
      this.scalar(`sum(increase(ghosteam_model_errors_total{${sel}}[${w}]))`, now),
      this.scalar(`histogram_quantile(0.99, sum by (le) (rate(ghosteam_model_request_duration_seconds_bucket{${sel}}[${w}])))`, now),
    ]);
    if (req === null) return undefined;
    return { requests: Math.round(req), errors: Math.round(err ?? 0), p99LatencyMs: p99 === null ? null : p99 * 1000 };
  }

  private async vector(query: string, now: number): Promise<Array<{ metric: Record<string, string>; value: number }>> {
    const u = new URL('/api/v1/query', this.baseUrl);
    u.searchParams.set('query', query);
    u.searchParams.set('time', String(now / 1000));
    const res = await this.fetchFn(u, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`Prometheus query failed (${res.status}): ${query}`);
    const body = (await res.json()) as { data?: { result?: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    return (body.data?.result ?? []).map((r) => ({ metric: r.metric, value: Number(r.value[1]) })).filter((r) => Number.isFinite(r.value));
  }

  /**
   * Quality from the model server's (and the payload sink's) gauges. Several replicas each hold the
   * labels that reached them: their values are averaged weighted by their labelled predictions (exact
   * for accuracy; an approximation for the others, which do not add up).
   */
  async versionQuality(m: M, version: number, now: number): Promise<VersionQualityObserved | undefined> {
    const sel = `model="${m.spec.modelRef.name}",version="${version}"`;
    const [samples, values] = await Promise.all([
      this.scalar(`sum(ghosteam_model_quality_samples{${sel}})`, now),
      this.vector(
        `sum by (metric) (ghosteam_model_quality{${sel}} * ignoring (metric) group_left ghosteam_model_quality_samples{${sel}}) / scalar(sum(ghosteam_model_quality_samples{${sel}}))`,
        now,
      ),
    ]);
    if (samples === null || samples === 0 || values.length === 0) return undefined;
    const metrics: { [K in QualityMetric]?: number } = {};
    for (const v of values) if ((QUALITY_METRICS as readonly string[]).includes(v.metric.metric)) metrics[v.metric.metric as QualityMetric] = v.value;
    const task: QualityTask =
      metrics.rmse !== undefined ? 'regression' : metrics.macroF1 !== undefined || metrics.precision === undefined ? 'multiclass' : 'binary';
    return { task, samples: Math.round(samples), windowSeconds: 0, metrics };
  }

  /** CBPE's estimate from the model server's ghosteam_model_quality_estimate gauges, weighted by the predictions each replica covers. */
  async versionQualityEstimate(m: M, version: number, now: number): Promise<VersionQualityEstimated | undefined> {
    const sel = `model="${m.spec.modelRef.name}",version="${version}"`;
    const [samples, values] = await Promise.all([
      this.scalar(`sum(ghosteam_model_quality_estimate_samples{${sel}})`, now),
      this.vector(
        `sum by (metric) (ghosteam_model_quality_estimate{${sel}} * ignoring (metric) group_left ghosteam_model_quality_estimate_samples{${sel}}) / scalar(sum(ghosteam_model_quality_estimate_samples{${sel}}))`,
        now,
      ),
    ]);
    if (samples === null || samples === 0 || values.length === 0) return undefined;
    const metrics: { [K in EstimatedQualityMetric]?: number } = {};
    for (const v of values)
      if ((ESTIMATED_QUALITY_METRICS as readonly string[]).includes(v.metric.metric)) metrics[v.metric.metric as EstimatedQualityMetric] = v.value;
    return { samples: Math.round(samples), metrics };
  }
}

/** The subset of ModelServerAdminClient the operator uses. */
/**
 * What the operator needs from the model server's admin API. ModelServerAdminClient
 * (components/model-server/admin-client.ts) satisfies it as is: cli/commands/operator.ts and the demo
 * pass one without a cast, so the compiler checks that they match.
 */
export interface ModelServerAdmin {
  stats(name: string): Promise<{
    readonly versions: Readonly<
      Record<
        string,
        {
          readonly requests: number;
          readonly errors: number;
          readonly latencyMs: { readonly p99: number; readonly window: number };
          readonly quality?: VersionQualityObserved;
          readonly qualityEstimate?: { readonly samples: number; readonly metrics: { readonly [K in EstimatedQualityMetric]?: { readonly value: number } } };
        }
      >
    >;
  }>;
  listModels(): Promise<
    ReadonlyArray<{
      readonly name: string;
      readonly versions: ReadonlyArray<{ readonly version: string; readonly source?: string }>;
      readonly traffic?: { readonly stable: string; readonly canary?: string; readonly canaryPercent?: number };
    }>
  >;
  load(spec: { readonly name: string; readonly version: string; readonly path: string; readonly stable?: boolean }): Promise<unknown>;
  unload(name: string, version?: string): Promise<void>;
  /** Without `canary` the split has none (the server treats an absent canary and null alike). */
  setTraffic(name: string, split: { readonly stable: string; readonly canary?: string; readonly canaryPercent?: number }): Promise<unknown>;
}

export class ModelServerMetrics implements MetricsSource {
  constructor(
    private readonly admin: ModelServerAdmin,
    readonly predictionDrift?: MetricsSource['predictionDrift'],
  ) {}
  async versionMetrics(m: M, version: number): Promise<VersionMetrics | undefined> {
    const s = await this.admin.stats(m.spec.modelRef.name).catch(() => undefined);
    const v = s?.versions[String(version)];
    if (!v) return undefined;
    return { requests: v.requests, errors: v.errors, p99LatencyMs: v.latencyMs.window ? v.latencyMs.p99 : null };
  }
  async versionQuality(m: M, version: number): Promise<VersionQualityObserved | undefined> {
    const s = await this.admin.stats(m.spec.modelRef.name).catch(() => undefined);
    const q = s?.versions[String(version)]?.quality;
    return q && (QUALITY_TASKS as readonly string[]).includes(q.task) && q.samples > 0 ? q : undefined;
  }
  async versionQualityEstimate(m: M, version: number): Promise<VersionQualityEstimated | undefined> {
    const s = await this.admin.stats(m.spec.modelRef.name).catch(() => undefined);
    const e = s?.versions[String(version)]?.qualityEstimate;
    if (!e || e.samples === 0) return undefined;
    const metrics: { [K in EstimatedQualityMetric]?: number } = {};
    for (const k of ESTIMATED_QUALITY_METRICS) if (e.metrics[k] !== undefined) metrics[k] = e.metrics[k].value;
    return { samples: e.samples, metrics };
  }
}

/**
 * Prometheus metrics (prom-client) per model and version, plus a small in-process window of recent
 * latencies per version so the admin API can answer "error rate and p99 of version 2" without a
 * Prometheus server (the operator's local mode reads that).
 *
 * Series:
 * - ghosteam_model_requests_total{model,version}            inference requests answered
 * - ghosteam_model_errors_total{model,version,code}          non-2xx answers, by HTTP status
 * - ghosteam_model_request_duration_seconds{model,version}   latency histogram (body read → response)
 * - ghosteam_model_batch_size{model,version}                 rows per onnxruntime run
 * - ghosteam_model_queue_delay_seconds{model,version}        time waiting for a batch
 * - ghosteam_model_payload_log_dropped_total                 payload records dropped (buffer full)
 * - ghosteam_server_inflight_requests                        requests in flight
 * Version is '' when the request never reached a version (unknown model, bad body).
 * With a memory budget, the cold-load, load, eviction and memory series of ./residency.ts too.
 */
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
const WINDOW = 2048;

export interface VersionStats {
  readonly requests: number;
  readonly errors: number;
  /** Errors by HTTP status code. */
  readonly errorsByCode: Record<string, number>;
  readonly errorRate: number;
  /** Over the last `window` requests, in milliseconds. */
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly window: number };
}

/** Per-(model, version) handles, resolved once so the hot path does no label lookups. */
export class VersionMetrics {
  requests = 0;
  errors = 0;
  readonly errorsByCode: Record<string, number> = {};
  private readonly window = new Float64Array(WINDOW);
  private filled = 0;
  private next = 0;
  constructor(
    private readonly m: ServerMetrics,
    readonly model: string,
    readonly version: string,
    private readonly reqChild = m.requests.labels(model, version),
    private readonly latChild = m.latency.labels(model, version),
    readonly batchChild = m.batchSize.labels(model, version),
    readonly queueChild = m.queueDelay.labels(model, version),
  ) {}

  ok(seconds: number): void {
    this.requests++;
    this.reqChild.inc();
    this.latChild.observe(seconds);
    this.window[this.next] = seconds * 1000;
    this.next = (this.next + 1) % WINDOW;
    if (this.filled < WINDOW) this.filled++;
  }

  error(code: number, seconds: number): void {
    this.requests++;
    this.errors++;
    this.errorsByCode[code] = (this.errorsByCode[code] ?? 0) + 1;
    this.reqChild.inc();
    this.m.errors.labels(this.model, this.version, String(code)).inc();
    this.latChild.observe(seconds);
  }

  /** The latencies of the last `window` answered requests, ms (unordered). */
  recent(): number[] {
    return Array.from(this.window.subarray(0, this.filled));
  }

  stats(): VersionStats {
    return versionStats(this.requests, this.errors, { ...this.errorsByCode }, this.recent());
  }
}

function versionStats(requests: number, errors: number, errorsByCode: Record<string, number>, recentMs: number[]): VersionStats {
  const w = recentMs.sort((a, b) => a - b);
  const q = (p: number) => (w.length ? w[Math.min(w.length - 1, Math.ceil(p * w.length) - 1)] : 0);
  return { requests, errors, errorsByCode, errorRate: requests ? errors / requests : 0, latencyMs: { p50: q(0.5), p99: q(0.99), window: w.length } };
}

/**
 * One version's stats over several server processes (a cluster's workers): counts add up, the error
 * rate is recomputed from them, and p50/p99 are taken over every worker's recent latencies together
 * (so the window is up to 2048 requests per worker).
 */
export function mergeVersionStats(parts: ReadonlyArray<{ readonly stats: VersionStats; readonly recent: readonly number[] }>): VersionStats {
  let requests = 0;
  let errors = 0;
  const byCode: Record<string, number> = {};
  const recent: number[] = [];
  for (const p of parts) {
    requests += p.stats.requests;
    errors += p.stats.errors;
    for (const [code, n] of Object.entries(p.stats.errorsByCode)) byCode[code] = (byCode[code] ?? 0) + n;
    for (const x of p.recent) recent.push(x);
  }
  return versionStats(requests, errors, byCode, recent);
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'ghosteam_model_requests_total',
    help: 'Inference requests answered',
    labelNames: ['model', 'version'],
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'ghosteam_model_errors_total',
    help: 'Inference requests answered with a non-2xx status, by code',
    labelNames: ['model', 'version', 'code'],
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'ghosteam_model_request_duration_seconds',
    help: 'Inference latency from body received to response written',
    labelNames: ['model', 'version'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'ghosteam_model_batch_size',
    help: 'Rows per onnxruntime run',
    labelNames: ['model', 'version'],
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });
  readonly queueDelay = new Histogram({
    name: 'ghosteam_model_queue_delay_seconds',
    help: 'Time a request waited for its batch to run',
    labelNames: ['model', 'version'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly payloadDropped = new Counter({
    name: 'ghosteam_model_payload_log_dropped_total',
    help: 'Payload log records dropped because the buffer was full',
    registers: [this.registry],
  });
  readonly payloadWritten = new Counter({ name: 'ghosteam_model_payload_log_written_total', help: 'Payload log records written', registers: [this.registry] });
  readonly inflight = new Gauge({ name: 'ghosteam_server_inflight_requests', help: 'Requests in flight', registers: [this.registry] });
  private readonly versions = new Map<string, VersionMetrics>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  forVersion(model: string, version: string): VersionMetrics {
    const key = `${model}\u0000${version}`;
    let v = this.versions.get(key);
    if (!v) {
      v = new VersionMetrics(this, model, version);
      this.versions.set(key, v);
    }
    return v;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

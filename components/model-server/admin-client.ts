/**
 * A small typed client for the model server's admin API, for the operator's local mode and the
 * demo (load a canary, shift traffic, read per-version error rate and p99).
 *
 * ```ts
 * const admin = new ModelServerAdminClient(server.url, { token });
 * await admin.load({ ref: 'fraud@3' });
 * await admin.setTraffic('fraud', { stable: '2', canary: '3', canaryPercent: 10 });
 * const { versions } = await admin.stats('fraud');   // versions['3'].errorRate, .latencyMs.p99
 * ```
 */
import type { ModelSpec } from './models.ts';
import type { LoadedVersionInfo, ModelInfo, ModelStats } from './server.ts';
import type { TrafficSplit } from './traffic.ts';

export class ModelServerAdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ModelServerAdminError';
  }
}

export class ModelServerAdminClient {
  private readonly base: string;
  constructor(
    baseUrl: string,
    private readonly opts: { token?: string; timeoutMs?: number } = {},
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    const res = await fetch(this.base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    if (!res.ok) {
      let msg = text;
      try {
        msg = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        /* not JSON */
      }
      throw new ModelServerAdminError(res.status, `${method} ${path}: ${res.status} ${msg}`);
    }
    return (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T;
  }

  /** Every loaded model with its versions and traffic split. */
  async listModels(): Promise<ModelInfo[]> {
    return (await this.call<{ models: ModelInfo[] }>('GET', '/admin/models')).models;
  }
  /** Loads a version (no-op when already loaded from the same file). `stable: true` also routes traffic to it. */
  load(spec: ModelSpec & { stable?: boolean }): Promise<LoadedVersionInfo> {
    return this.call('POST', '/admin/models', spec);
  }
  /** Unloads one version (after draining its queue), or the whole model when version is omitted. */
  async unload(name: string, version?: string): Promise<void> {
    await this.call(
      'DELETE',
      version === undefined ? `/admin/models/${encodeURIComponent(name)}` : `/admin/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`,
    );
  }
  getTraffic(name: string): Promise<TrafficSplit> {
    return this.call('GET', `/admin/models/${encodeURIComponent(name)}/traffic`);
  }
  setTraffic(name: string, split: TrafficSplit): Promise<TrafficSplit> {
    return this.call('PUT', `/admin/models/${encodeURIComponent(name)}/traffic`, split);
  }
  /** Per-version requests, errors (by code), error rate, and p50/p99 latency over the last 2048 requests. */
  stats(name: string): Promise<ModelStats> {
    return this.call('GET', `/admin/models/${encodeURIComponent(name)}/stats`);
  }
  /** Prometheus text exposition of /metrics. */
  metricsText(): Promise<string> {
    return this.call('GET', '/metrics');
  }
  async ready(): Promise<boolean> {
    const res = await fetch(`${this.base}/v2/health/ready`, { signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000) }).catch(() => undefined);
    await res?.arrayBuffer();
    return res?.status === 200;
  }
}

/**
 * Test doubles for the local model server's admin API (in-memory, with per-version stats the test
 * sets). The real server is exercised by components/model-server's own tests; here it stands in so
 * a test controls the canary's error rate and latency exactly.
 */
import type { ModelServerAdmin } from '../../controllers/backends/metrics.ts';

export class FakeModelServer implements ModelServerAdmin {
  readonly models = new Map<string, { versions: Map<string, string>; traffic?: { stable: string; canary?: string; canaryPercent?: number } }>();
  readonly stats_ = new Map<string, { requests: number; errors: number; p99: number }>();
  readonly calls: string[] = [];

  setStats(name: string, version: number, s: { requests: number; errors: number; p99: number }): void {
    this.stats_.set(`${name}@${version}`, s);
  }

  async listModels() {
    return [...this.models].map(([name, m]) => ({
      name,
      versions: [...m.versions].map(([version, source]) => ({ version, source })),
      ...(m.traffic ? { traffic: { ...m.traffic } } : {}),
    }));
  }
  async load(spec: { name: string; version: string; path: string; stable?: boolean }) {
    this.calls.push(`load ${spec.name}@${spec.version}`);
    let m = this.models.get(spec.name);
    if (!m) this.models.set(spec.name, (m = { versions: new Map() }));
    m.versions.set(spec.version, spec.path);
    if (spec.stable || !m.traffic) m.traffic = { stable: spec.version, canaryPercent: 0 };
    return {};
  }
  async unload(name: string, version?: string) {
    this.calls.push(`unload ${name}${version ? `@${version}` : ''}`);
    if (version === undefined) this.models.delete(name);
    else this.models.get(name)?.versions.delete(version);
  }
  async setTraffic(name: string, split: { stable: string; canary?: string | null; canaryPercent?: number }) {
    this.calls.push(`traffic ${name} ${split.stable}/${split.canary ?? '-'}/${split.canaryPercent ?? 0}`);
    const m = this.models.get(name)!;
    m.traffic = { stable: split.stable, ...(split.canary ? { canary: split.canary } : {}), canaryPercent: split.canaryPercent ?? 0 };
    return m.traffic;
  }
  async stats(name: string) {
    const versions: Record<string, { requests: number; errors: number; latencyMs: { p99: number; window: number } }> = {};
    for (const v of this.models.get(name)?.versions.keys() ?? []) {
      const s = this.stats_.get(`${name}@${v}`) ?? { requests: 0, errors: 0, p99: 0 };
      versions[v] = { requests: s.requests, errors: s.errors, latencyMs: { p99: s.p99, window: s.requests } };
    }
    return { versions };
  }
}

export function modelObject(
  name: string,
  over: {
    steps?: number[];
    intervalSeconds?: number;
    alias?: string;
    version?: number;
    maxErrorRate?: number;
    minRequests?: number;
    strategy?: 'canary' | 'direct';
    namespace?: string;
  } = {},
) {
  return {
    apiVersion: 'ghosteam.io/v1alpha1',
    kind: 'Model',
    metadata: { name, namespace: over.namespace ?? 'default' },
    spec: {
      modelRef: { name, ...(over.version !== undefined ? { version: over.version } : { alias: over.alias ?? 'latest' }) },
      format: 'onnx' as const,
      inferenceService: name,
      runtime: 'ghosteam-onnx',
      resources: { cpu: '100m', memory: '256Mi' },
      autoscaling: { minReplicas: 1, maxReplicas: 2, targetConcurrency: 8 },
      rollout: {
        strategy: over.strategy ?? 'canary',
        steps: over.steps ?? [25, 100],
        intervalSeconds: over.intervalSeconds ?? 1,
        thresholds: { maxErrorRate: over.maxErrorRate ?? 0.05, maxP99LatencyMs: 500 },
        minRequests: over.minRequests ?? 10,
      },
      payloadLogging: { enabled: false, mode: 'all' as const },
    },
  };
}

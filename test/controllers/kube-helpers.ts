/** Helpers for the operator's integration tests against the real kube-apiserver (peers harness). */
import { readFileSync, existsSync } from 'node:fs';
import { type KubeStore } from '../../controllers/runtime/kube-store.ts';
import { TYPES } from '../../controllers/runtime/store.ts';
import type { MetricsSource } from '../../controllers/backends/types.ts';
import type { VersionMetrics } from '../../controllers/planners/canary.ts';
import type { K8sObject } from '../../api/objects.ts';

export async function createNamespace(store: KubeStore, name: string): Promise<void> {
  await store.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

/**
 * Plays KServe: every InferenceService in `ns` whose status does not reflect its generation gets
 * Ready=True with observedGeneration = generation, as the KServe controller would once the
 * revision is up. Returns a stop function.
 */
export function playKServe(store: KubeStore, ns: string, opts: { intervalMs?: number; readyAfterMs?: number } = {}): () => void {
  let stopped = false;
  const seen = new Map<string, { gen: number; at: number }>();
  const loop = async () => {
    while (!stopped) {
      try {
        const { items } = await store.list(TYPES.InferenceService, ns);
        for (const i of items) {
          const gen = i.metadata.generation ?? 1;
          const st = (i.status ?? {}) as { observedGeneration?: number };
          if (st.observedGeneration === gen) continue;
          const s = seen.get(i.metadata.name);
          if (!s || s.gen !== gen) {
            seen.set(i.metadata.name, { gen, at: Date.now() });
            if (opts.readyAfterMs) continue;
          } else if (Date.now() - s.at < (opts.readyAfterMs ?? 0)) continue;
          const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
          await store
            .replaceStatus(TYPES.InferenceService, {
              ...i,
              status: {
                observedGeneration: gen,
                url: `http://${i.metadata.name}.${ns}.example.com`,
                conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
              },
            })
            .catch(() => undefined);
        }
      } catch {
        /* retry */
      }
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
    }
  };
  void loop();
  return () => {
    stopped = true;
  };
}

/** Canary metrics the test sets per version (stands in for Prometheus, which needs a model server in the cluster). */
export class TestMetrics implements MetricsSource {
  readonly byVersion = new Map<string, VersionMetrics>();
  set(model: string, version: number, m: VersionMetrics): void {
    this.byVersion.set(`${model}@${version}`, m);
  }
  async versionMetrics(m: K8sObject & { spec: { modelRef: { name: string } } }, version: number): Promise<VersionMetrics | undefined> {
    return this.byVersion.get(`${m.spec.modelRef.name}@${version}`);
  }
}

/** Same, read from a JSON file (for an operator in a child process): { "model@version": {requests, errors, p99LatencyMs} }. */
export class FileMetrics implements MetricsSource {
  constructor(private readonly file: string) {}
  async versionMetrics(m: K8sObject & { spec: { modelRef: { name: string } } }, version: number): Promise<VersionMetrics | undefined> {
    if (!existsSync(this.file)) return undefined;
    return (JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, VersionMetrics>)[`${m.spec.modelRef.name}@${version}`];
  }
}

export function conditionOf(
  o: K8sObject | undefined,
  type: string,
): { status: string; reason: string; message: string; lastTransitionTime: string } | undefined {
  return (
    (o?.status as { conditions?: Array<{ type: string; status: string; reason: string; message: string; lastTransitionTime: string }> } | undefined)
      ?.conditions ?? []
  ).find((c) => c.type === type);
}

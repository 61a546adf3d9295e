// Installs the real upstream CRDs (read in place from ../shared/upstream) and ghosteam's own CRDs
// into the peer API server, then waits until every one is Established.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { V1CustomResourceDefinition } from '@kubernetes/client-node';
import writeFileAtomic from 'write-file-atomic';
import { parseAllDocuments } from 'yaml';
import { cacheDir, repoRoot, shortHash, upstreamDir } from './config.ts';
import { KubeHttpError, rawKube } from './raw.ts';

/** The upstream CRD files the harness installs, relative to `upstreamDir`. A missing one is an error. */
export const UPSTREAM_CRD_FILES: readonly string[] = [
  'argo-workflows/argoproj.io_workflows.yaml',
  'argo-workflows/argoproj.io_workflowtemplates.yaml',
  'argo-workflows/argoproj.io_cronworkflows.yaml',
  'argo-workflows/argoproj.io_clusterworkflowtemplates.yaml',
  'kserve/serving.kserve.io_inferenceservices.yaml',
  'kserve/serving.kserve.io_servingruntimes.yaml',
  'kserve/serving.kserve.io_clusterservingruntimes.yaml',
  'kserve/serving.kserve.io_inferencegraphs.yaml',
  'kserve/serving.kserve.io_trainedmodels.yaml',
  'argo-cd/application-crd.yaml',
  'argo-cd/applicationset-crd.yaml',
  'argo-rollouts/rollout-crd.yaml',
  'argo-rollouts/analysis-template-crd.yaml',
  'kueue/kueue.x-k8s.io_workloads.yaml',
  'kueue/kueue.x-k8s.io_clusterqueues.yaml',
  'kueue/kueue.x-k8s.io_localqueues.yaml',
  'kueue/kueue.x-k8s.io_resourceflavors.yaml',
  // Katib's CRDs are schemaless upstream (x-kubernetes-preserve-unknown-fields); a Sweep with
  // cluster 'katib' synthesizes an Experiment (test/tuning/katib.test.ts).
  'katib/experiment.yaml',
  'katib/trial.yaml',
  'katib/suggestion.yaml',
];

/**
 * Parse a YAML file of CRDs. The upstream files are megabytes of YAML that take seconds to parse,
 * so the parsed JSON is cached under the cache dir, keyed by the file's content.
 */
export function loadCrdFile(path: string): V1CustomResourceDefinition[] {
  if (!existsSync(path)) {
    throw new Error(`${path}: CRD file not found; the upstream CRDs are read from ${upstreamDir} (set GHOSTEAM_UPSTREAM_DIR to move it)`);
  }
  const text = readFileSync(path, 'utf8');
  const cached = join(cacheDir, 'crd-json', `${shortHash(text)}.json`);
  if (existsSync(cached)) return JSON.parse(readFileSync(cached, 'utf8'));
  const docs = parseAllDocuments(text);
  const out: V1CustomResourceDefinition[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0].message}`);
    const obj = doc.toJS() as V1CustomResourceDefinition | null;
    if (obj === null) continue;
    if (obj.kind !== 'CustomResourceDefinition') throw new Error(`${path}: expected kind CustomResourceDefinition, found ${String(obj.kind)}`);
    out.push(obj);
  }
  mkdirSync(join(cacheDir, 'crd-json'), { recursive: true });
  writeFileAtomic.sync(cached, JSON.stringify(out));
  return out;
}

export function upstreamCrds(): V1CustomResourceDefinition[] {
  return UPSTREAM_CRD_FILES.flatMap((f) => loadCrdFile(join(upstreamDir, f)));
}

/** ghosteam's own CRDs, from `ghosteamCrds()` in api/crds/index.ts. */
export async function ghosteamCrdObjects(): Promise<V1CustomResourceDefinition[]> {
  const mod = (await import(pathToFileURL(join(repoRoot, 'api/crds/index.ts')).href)) as { ghosteamCrds?: () => unknown[] };
  if (typeof mod.ghosteamCrds !== 'function')
    throw new Error('api/crds/index.ts does not export ghosteamCrds(); the harness installs the ghosteam CRDs from it');
  return mod.ghosteamCrds() as V1CustomResourceDefinition[];
}

function isEstablished(crd: V1CustomResourceDefinition): boolean {
  return (crd.status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');
}

/**
 * Create (or replace, when it exists) each CRD, then wait until all are Established.
 * Returns the names installed. Goes through the raw client: see raw.ts for why.
 */
export async function installCrds(kubeconfigPath: string, crds: readonly V1CustomResourceDefinition[], timeoutMs = 60_000): Promise<string[]> {
  const kube = rawKube(kubeconfigPath);
  const base = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
  const names: string[] = [];
  for (const crd of crds) {
    const name = crd.metadata?.name;
    if (!name) throw new Error(`a CustomResourceDefinition without metadata.name (group ${crd.spec?.group ?? '?'})`);
    names.push(name);
    try {
      await kube.request('POST', base, crd);
    } catch (err) {
      if (!(err instanceof KubeHttpError) || err.status !== 409)
        throw new Error(`creating CRD ${name}: ${(err as Error).message.slice(0, 1000)}`, { cause: err });
      const current = await kube.request<V1CustomResourceDefinition>('GET', `${base}/${name}`);
      const body = { ...crd, metadata: { ...crd.metadata, resourceVersion: current.metadata?.resourceVersion } };
      await kube.request('PUT', `${base}/${name}`, body);
    }
  }
  return waitEstablished(kubeconfigPath, names, timeoutMs);
}

/** Wait until every named CRD has condition Established=True; returns the names. */
export async function waitEstablished(kubeconfigPath: string, names: readonly string[], timeoutMs = 60_000): Promise<string[]> {
  const kube = rawKube(kubeconfigPath);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await kube.request<{ items: V1CustomResourceDefinition[] }>('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions');
    const pending = names.filter((n) => !list.items.some((c) => c.metadata?.name === n && isEstablished(c)));
    if (pending.length === 0) return [...names];
    if (Date.now() > deadline) throw new Error(`CRDs not Established within ${timeoutMs / 1000}s: ${pending.join(', ')}`);
    await sleep(200);
  }
}

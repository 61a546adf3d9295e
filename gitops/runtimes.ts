/**
 * The two places `ghosteam watch` sends a commit:
 *  - `localRuntime` (controllers/watch-runtime.ts): the embedded default. The commit's ghosteam objects and its checkout go to the
 *    local operator's inbox (`ghosteam operator --local` applies them to its state, as a cluster
 *    would); a retrain is a TrainingRun there, run by the operator, which canaries and promotes the
 *    version and writes the pin back (with --git-repo). Watch only waits for the run to end.
 *  - `clusterRuntime` (`--apply`): server-side apply of every object to the current kubeconfig's
 *    cluster (field manager 'ghosteam-watch'), and a `TrainingRun` (reason git-change) per changed
 *    pipeline. The operator runs it, rolls the canary out and promotes; nothing is written back here.
 */
import type { WatchRuntime } from './watch.ts';
import { type K8sObject, PIPELINE_LABEL, REASON_LABEL, SOURCE_COMMIT_ANNOTATION, SPEC_HASH_ANNOTATION } from '../api/objects.ts';

/** The registered model a pipeline's register task names (its `name` argument), from the synthesized WorkflowTemplate. */
export function registeredModelOf(objects: readonly K8sObject[], pipeline: string, namespace?: string): string | undefined {
  const wt = objects.find(
    (o) => o.kind === 'WorkflowTemplate' && o.metadata.name === pipeline && (namespace === undefined || o.metadata.namespace === namespace),
  );
  const templates =
    (wt?.spec as { templates?: { dag?: { tasks?: { name: string; template?: string; arguments?: { parameters?: { name: string; value?: string }[] } }[] } }[] })
      ?.templates ?? [];
  for (const t of templates) {
    for (const task of t.dag?.tasks ?? []) {
      if (task.template !== 'register' && task.name !== 'register') continue;
      const name = task.arguments?.parameters?.find((p) => p.name === 'name')?.value;
      if (name && !name.includes('{{')) return name;
    }
  }
  return undefined;
}

/** @param o.kubeconfig a kubeconfig file; default: KUBECONFIG, ~/.kube/config or in-cluster. */
export async function clusterRuntime(o: { kubeconfig?: string; namespace?: string; log?: (line: string) => void }): Promise<WatchRuntime> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
  else kc.loadFromDefault();
  // The object goes to the API server as JSON, as written (api/kube-http.ts): client-node's
  // KubernetesObjectApi runs a built-in kind through its typed model first, which drops fields it
  // spells differently (a NetworkPolicy's ingress `from` became an allow-all rule).
  const { kubeRequest } = await import('../api/kube-http.ts');
  const store = { request: kubeRequest(kc) };
  const resources = new Map<string, Promise<Array<{ name: string; kind: string; namespaced: boolean }>>>();
  const discover = (base: string, fresh: boolean) => {
    if (fresh || !resources.has(base)) {
      const p = store.request<{ resources: Array<{ name: string; kind: string; namespaced: boolean }> }>('GET', base).then((r) => r.resources);
      p.catch(() => resources.delete(base));
      resources.set(base, p);
    }
    return resources.get(base)!;
  };
  const contextNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  const apply = async (obj: K8sObject) => {
    const base = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
    const find = (rs: Array<{ name: string; kind: string; namespaced: boolean }>) => rs.find((x) => x.kind === obj.kind && !x.name.includes('/'));
    // A kind missing from what was discovered may be a CRD applied just before: look again once.
    const r = find(await discover(base, false).catch(() => [])) ?? find(await discover(base, true));
    if (!r) throw new Error(`the cluster serves no ${obj.kind} in ${obj.apiVersion} (is its CRD installed?)`);
    const ns = r.namespaced ? `/namespaces/${encodeURIComponent(obj.metadata.namespace ?? o.namespace ?? contextNamespace ?? 'default')}` : '';
    const q = new URLSearchParams({ fieldManager: 'ghosteam-watch', force: 'true' });
    await store.request('PATCH', `${base}${ns}/${r.name}/${encodeURIComponent(obj.metadata.name)}?${q}`, obj, 'application/apply-patch+yaml');
  };
  return {
    name: `cluster ${kc.getCurrentCluster()?.server ?? '(current context)'}`,
    async apply(objects) {
      // CRDs first, then the rest in sync-wave order, as Argo CD would.
      const { applySyncWaves } = await import('../api/sync-waves.ts');
      const waved = applySyncWaves(objects).sort(
        (a, b) => Number(a.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0) - Number(b.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0),
      );
      for (const obj of waved) await apply(obj);
    },
    async retrain(start, ctx) {
      const model = registeredModelOf(ctx.objects, start.pipeline, start.namespace);
      const namespace = start.namespace ?? o.namespace ?? 'default';
      const name = `${start.pipeline}-${start.hash.replace(/^sha256:/, '').slice(0, 10)}`.slice(0, 63);
      await apply({
        apiVersion: 'ghosteam.io/v1alpha1',
        kind: 'TrainingRun',
        metadata: {
          name,
          namespace,
          labels: { [PIPELINE_LABEL]: start.pipeline, [REASON_LABEL]: 'git-change' },
          annotations: { [SOURCE_COMMIT_ANNOTATION]: start.commit, [SPEC_HASH_ANNOTATION]: start.hash },
        },
        spec: { pipeline: start.pipeline, reason: 'git-change', specHash: start.hash, gitCommit: start.commit, ...(model ? { model } : {}) },
      });
      o.log?.(`TrainingRun ${namespace}/${name} created (git-change); the operator runs and promotes it`);
      return { kind: 'submitted', run: name };
    },
  };
}

/**
 * KubeStore: the ObjectStore over the Kubernetes API server, on @kubernetes/client-node's KubeConfig
 * (KUBECONFIG, ~/.kube/config or in-cluster) for connection and auth, its Watch for streaming, and
 * plain JSON requests for CRUD (any kind, including custom resources and /status).
 */
import type { KubeConfig, Watch } from '@kubernetes/client-node';
import { KubeHttpError, kubeGetText, kubeRequest, type KubeRequest } from '../../api/kube-http.ts';
import { ApiError, type ListResult, type ObjectStore, type PodLog, type PodLogOptions, type ResourceType, type WatchEvent, type Watcher } from './store.ts';
import type { K8sObject } from '../../api/objects.ts';

/**
 * @kubernetes/client-node loads its whole generated API (about 21 MB of JavaScript in 2,500 files)
 * even though only KubeConfig and Watch are used here. Under tsx, Node caches the source map of
 * every one of those files for the life of the process (tsx turns source maps on for TypeScript
 * stack traces): 24 MB of an idle operator's 223 MB resident memory. So source maps are off while
 * it loads (its stack frames show the compiled .js positions), and back on for everything else.
 */
const clientNode = await (async () => {
  const sourceMaps = process.sourceMapsEnabled;
  process.setSourceMapsEnabled(false);
  try {
    return await import('@kubernetes/client-node');
  } finally {
    process.setSourceMapsEnabled(sourceMaps);
  }
})();

export function loadKubeConfig(kubeconfig?: string): KubeConfig {
  const kc = new clientNode.KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else if (process.env.KUBERNETES_SERVICE_HOST && !process.env.KUBECONFIG) kc.loadFromCluster();
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new Error('no Kubernetes cluster configured; set KUBECONFIG, or run in a cluster, or use --local');
  return kc;
}

export { plainHeaders } from '../../api/kube-http.ts';

export class KubeStore implements ObjectStore {
  readonly kind = 'kube' as const;
  /** JSON as written to the API server, with the kubeconfig's credentials (api/kube-http.ts). */
  private readonly http: KubeRequest;
  private readonly getText: ReturnType<typeof kubeGetText>;
  private readonly watcher: Watch;
  private readonly servedCache = new Map<string, boolean>();

  constructor(readonly kc: KubeConfig) {
    this.watcher = new clientNode.Watch(kc);
    this.http = kubeRequest(kc);
    this.getText = kubeGetText(kc);
  }

  path(t: ResourceType, namespace?: string, name?: string, sub?: string): string {
    const base = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
    const ns = t.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${base}${ns}/${t.plural}${name ? `/${encodeURIComponent(name)}` : ''}${sub ? `/${sub}` : ''}`;
  }

  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    try {
      return await this.http<T>(method, path, body, contentType);
    } catch (e) {
      if (e instanceof KubeHttpError) throw new ApiError(e.code, e.reason, e.message);
      throw e;
    }
  }

  /** GET pods/{pod}/log (RBAC: `get` on `pods/log`), asking for one byte more than the bound to know whether it cut. */
  async podLog(namespace: string, pod: string, o: PodLogOptions): Promise<PodLog> {
    const q = new URLSearchParams({ tailLines: String(o.tailLines), limitBytes: String(o.limitBytes + 1) });
    if (o.container) q.set('container', o.container);
    try {
      return await this.getText(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log?${q}`, o.limitBytes);
    } catch (e) {
      if (e instanceof KubeHttpError) throw new ApiError(e.code, e.reason, e.message);
      throw e;
    }
  }

  async get(t: ResourceType, namespace: string | undefined, name: string): Promise<K8sObject | undefined> {
    try {
      return await this.request<K8sObject>('GET', this.path(t, namespace, name));
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  async list(t: ResourceType, namespace?: string, labelSelector?: string): Promise<ListResult> {
    const items: K8sObject[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const q = new URLSearchParams({ limit: '500' });
      if (labelSelector) q.set('labelSelector', labelSelector);
      if (cont) q.set('continue', cont);
      const r = await this.request<{ items: K8sObject[]; metadata: { resourceVersion: string; continue?: string } }>('GET', `${this.path(t, namespace)}?${q}`);
      for (const o of r.items) items.push({ ...o, apiVersion: t.group ? `${t.group}/${t.version}` : t.version, kind: t.kind });
      rv = r.metadata.resourceVersion;
      cont = r.metadata.continue || undefined;
    } while (cont);
    return { items, resourceVersion: rv };
  }

  create(t: ResourceType, obj: K8sObject): Promise<K8sObject> {
    return this.request('POST', this.path(t, obj.metadata.namespace), obj);
  }

  replace(t: ResourceType, obj: K8sObject): Promise<K8sObject> {
    return this.request('PUT', this.path(t, obj.metadata.namespace, obj.metadata.name), obj);
  }

  replaceStatus(t: ResourceType, obj: K8sObject): Promise<K8sObject> {
    return this.request('PUT', this.path(t, obj.metadata.namespace, obj.metadata.name, t.statusSubresource ? 'status' : undefined), obj);
  }

  /** Server-side apply with a field manager (used for objects the operator fully owns). */
  apply(t: ResourceType, obj: K8sObject, fieldManager: string): Promise<K8sObject> {
    const q = new URLSearchParams({ fieldManager, force: 'true' });
    return this.request('PATCH', `${this.path(t, obj.metadata.namespace, obj.metadata.name)}?${q}`, obj, 'application/apply-patch+yaml');
  }

  async delete(t: ResourceType, namespace: string | undefined, name: string): Promise<void> {
    try {
      await this.request('DELETE', this.path(t, namespace, name));
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
  }

  async watch(
    t: ResourceType,
    namespace: string | undefined,
    resourceVersion: string,
    onEvent: (e: WatchEvent) => void,
    onDone: (err: unknown) => void,
  ): Promise<Watcher> {
    let finished = false;
    const done = (err: unknown) => {
      if (finished) return;
      finished = true;
      onDone(err);
    };
    const ctrl = await this.watcher.watch(
      this.path(t, namespace),
      { resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 },
      (type, obj) => {
        if (type === 'ERROR') {
          const s = obj as { code?: number; reason?: string; message?: string };
          done(new ApiError(s.code ?? 500, s.reason ?? 'Error', s.message ?? 'watch error'));
          return;
        }
        onEvent({ type: type as WatchEvent['type'], object: obj as K8sObject });
      },
      (err) => {
        const code = (err as { statusCode?: number } | null)?.statusCode;
        done(code ? new ApiError(code, code === 410 ? 'Gone' : 'Error', (err as Error).message) : err);
      },
    );
    return { stop: () => ctrl.abort() };
  }

  async served(t: ResourceType): Promise<boolean> {
    const key = `${t.group}/${t.version}/${t.plural}`;
    const hit = this.servedCache.get(key);
    if (hit !== undefined) return hit;
    try {
      const r = await this.request<{ resources: Array<{ name: string }> }>('GET', t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`);
      const ok = r.resources.some((x) => x.name === t.plural);
      this.servedCache.set(key, ok);
      return ok;
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) {
        this.servedCache.set(key, false);
        return false;
      }
      throw e;
    }
  }
}

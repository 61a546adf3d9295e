// A raw JSON client for the peer API server. @kubernetes/client-node re-serializes objects of the
// types it knows through its generated models, and drops keys those models don't name: a plain
// CustomResourceDefinition object loses every `x-kubernetes-*` schema key on the way out (the
// server then rejects the CRD as non-structural). Objects read from YAML go through this instead.
import { request as httpsRequest } from 'node:https';
import { kubeTls } from './state.ts';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export class KubeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: { reason?: string; message?: string; details?: unknown } | string,
    what: string,
  ) {
    super(`${what}: HTTP ${status}: ${typeof body === 'string' ? body : (body.message ?? JSON.stringify(body))}`);
  }
}

export interface RawKube {
  request<T = unknown>(method: string, path: string, body?: unknown, contentType?: string): Promise<T>;
  /** The collection path (…/namespaces/NS/plural) and the object path for `obj`, found by discovery. */
  paths(obj: KubeObject): Promise<{ collection: string; item: string }>;
  /** Server-side apply `obj` (force, field manager `ghosteam-peers` unless given). */
  apply<T = KubeObject>(obj: KubeObject, opts?: { dryRun?: boolean; fieldManager?: string }): Promise<T>;
}

export function rawKube(kubeconfigPath: string): RawKube {
  const tls = kubeTls(kubeconfigPath);
  const server = new URL(tls.server);
  const discovery = new Map<string, Promise<{ name: string; kind: string; namespaced: boolean }[]>>();

  function request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: server.hostname,
          port: server.port,
          path,
          method,
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          headers: { accept: 'application/json', ...(payload ? { 'content-type': contentType, 'content-length': payload.length } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              /* not JSON (e.g. a plain 404 page) */
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(parsed as T);
            else reject(new KubeHttpError(status, parsed as KubeHttpError['body'], `${method} ${path}`));
          });
        },
      );
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  async function paths(obj: KubeObject): Promise<{ collection: string; item: string }> {
    const base = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
    if (!discovery.has(base)) {
      discovery.set(
        base,
        request<{ resources: { name: string; kind: string; namespaced: boolean }[] }>('GET', base).then((r) => r.resources),
      );
    }
    const resource = (await discovery.get(base)!).find((r) => r.kind === obj.kind && !r.name.includes('/'));
    if (!resource) throw new Error(`the API server serves no kind ${obj.kind} in ${obj.apiVersion}`);
    const ns = obj.metadata?.namespace;
    if (resource.namespaced && !ns) throw new Error(`${obj.kind} ${obj.metadata?.name ?? ''} is namespaced but has no metadata.namespace`);
    const collection = `${base}${resource.namespaced ? `/namespaces/${encodeURIComponent(ns!)}` : ''}/${resource.name}`;
    return { collection, item: `${collection}/${encodeURIComponent(obj.metadata?.name ?? '')}` };
  }

  async function apply<T>(obj: KubeObject, opts: { dryRun?: boolean; fieldManager?: string } = {}): Promise<T> {
    const { item } = await paths(obj);
    const q = new URLSearchParams({ fieldManager: opts.fieldManager ?? 'ghosteam-peers', force: 'true' });
    if (opts.dryRun) q.set('dryRun', 'All');
    return request<T>('PATCH', `${item}?${q}`, obj, 'application/apply-patch+yaml');
  }

  return { request, paths, apply };
}

/**
 * JSON over HTTP to the Kubernetes API server with a kubeconfig's credentials (token, client
 * certificate, CA): what every ghosteam client of the API sends through, so objects go as written.
 * (client-node's typed API classes run built-in kinds through their generated models first, which
 * drop fields they spell differently: a NetworkPolicy's ingress `from` becomes `_from` and is lost.)
 */
import type { KubeConfig } from '@kubernetes/client-node';
import fetch, { type RequestInit } from 'node-fetch';
import { Agent as HttpsAgent } from 'node:https';
import { Agent as HttpAgent } from 'node:http';

/** Any headers shape (a Headers object, entries, a record) as a plain record of lower-case names. */
export function plainHeaders(h: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (h === undefined || h === null) return out;
  if (typeof (h as Headers).forEach === 'function' && !Array.isArray(h)) {
    (h as Headers).forEach((value, key) => (out[key.toLowerCase()] = value));
    return out;
  }
  const entries = Array.isArray(h) ? (h as [string, string][]) : Object.entries(h as Record<string, unknown>);
  for (const [k, v] of entries) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  return out;
}

/**
 * node-fetch options for the kubeconfig's current cluster: auth headers and a keep-alive agent with
 * its TLS settings, refreshed every minute (for expiring tokens).
 */
export function kubeFetchInit(kc: KubeConfig): () => Promise<RequestInit> {
  const server = kc.getCurrentCluster()!.server;
  let cached: { at: number; value: Promise<RequestInit> } | undefined;
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at > 60_000) {
      cached = {
        at: now,
        value: kc.applyToFetchOptions({}).then((init) => {
          // The client puts its TLS settings (CA, client certificate) on an https.Agent; keep them.
          const opts = init.agent instanceof HttpsAgent ? init.agent.options : {};
          init.agent = server.startsWith('https:')
            ? new HttpsAgent({ ...opts, keepAlive: true, maxSockets: 64 })
            : new HttpAgent({ keepAlive: true, maxSockets: 64 });
          // The client returns a fetch Headers object (the Authorization of a token, in-cluster or in
          // a kubeconfig, lives there); spreading one copies nothing, so make it a plain record once.
          init.headers = plainHeaders(init.headers);
          return init;
        }),
      };
    }
    return cached.value;
  };
}

/** An API server's refusal: the HTTP status, the Status's reason and message. */
export class KubeHttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KubeHttpError';
  }
}

export type KubeRequest = <T>(method: string, path: string, body?: unknown, contentType?: string) => Promise<T>;

/** A request function for the kubeconfig's current cluster: JSON in and out; a status ≥ 400 is a KubeHttpError. */
export function kubeRequest(kc: KubeConfig): KubeRequest {
  const server = kc.getCurrentCluster()!.server.replace(/\/$/, '');
  const init = kubeFetchInit(kc);
  return async <T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> => {
    const i = await init();
    const res = await fetch(server + path, {
      ...i,
      method,
      headers: { ...(i.headers as Record<string, string>), accept: 'application/json', ...(body !== undefined ? { 'Content-Type': contentType } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (res.status >= 400) throw refusal(method, path, res.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  };
}

/** An error status's body (a Status, or whatever the server sent) as a KubeHttpError. */
function refusal(method: string, path: string, code: number, text: string): KubeHttpError {
  let status: { reason?: string; message?: string } = {};
  try {
    status = JSON.parse(text) as typeof status;
  } catch {
    /* not a Status */
  }
  return new KubeHttpError(code, status.reason ?? String(code), status.message ?? `${method} ${path}: HTTP ${code} ${text.slice(0, 200)}`);
}

/**
 * A GET of a text resource (a pod's log) for the kubeconfig's current cluster: the body as text, at
 * most `maxBytes` of it read (the rest is not fetched: the response is cut off); a status ≥ 400 is a
 * KubeHttpError.
 */
export function kubeGetText(kc: KubeConfig): (path: string, maxBytes: number) => Promise<{ text: string; truncated: boolean }> {
  const server = kc.getCurrentCluster()!.server.replace(/\/$/, '');
  const init = kubeFetchInit(kc);
  return async (path, maxBytes) => {
    const i = await init();
    // Aborted once maxBytes are in: the rest of the body is never transferred.
    const stop = new AbortController();
    const res = await fetch(server + path, {
      ...i,
      method: 'GET',
      signal: stop.signal,
      headers: { ...(i.headers as Record<string, string>), accept: 'text/plain, application/json' },
    });
    if (res.status >= 400) throw refusal('GET', path, res.status, await res.text());
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    try {
      for await (const c of res.body as AsyncIterable<Buffer>) {
        chunks.push(c);
        size += c.length;
        if (size > maxBytes) {
          truncated = true;
          stop.abort();
          break;
        }
      }
    } catch (e) {
      if (!truncated) throw e;
    }
    const all = Buffer.concat(chunks);
    return { text: all.subarray(0, Math.min(all.length, maxBytes)).toString('utf8'), truncated };
  };
}

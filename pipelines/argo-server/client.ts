/**
 * A typed client of the Argo Workflows Server (openapi-fetch over the types `npm run gen:argo`
 * generates from Argo's own OpenAPI document). It is for what the Kubernetes API cannot serve:
 * submitting a Workflow from a WorkflowTemplate the way `argo submit --from` does (the server
 * resolves the template and its arguments), following the logs of a workflow's steps, and reading
 * the workflow archive (runs whose Workflow object is gone). Reading live Workflows works too.
 *
 * Authentication is a bearer token (`Authorization: Bearer …`): with the server's `--auth-mode
 * client`, a Kubernetes token whose RBAC then applies (`kubectl create token <sa>`). The token is
 * given to the client as a value; where it comes from (an environment variable, a file) is the
 * caller's business: see `resolveArgoServer`.
 */
import { readFile } from 'node:fs/promises';
import createClient from 'openapi-fetch';
import type { components, paths } from './schema.gen.ts';

type Schemas = components['schemas'];
export type ArgoWorkflow = Schemas['io.argoproj.workflow.v1alpha1.Workflow'];
export type ArgoNodeStatus = Schemas['io.argoproj.workflow.v1alpha1.NodeStatus'];
export type ArgoLogEntry = Schemas['io.argoproj.workflow.v1alpha1.LogEntry'];
export type ArgoVersion = Schemas['io.argoproj.workflow.v1alpha1.Version'];

export interface ArgoServerOptions {
  /** The server's base URL, e.g. https://argo.example.com:2746 (`argo server` listens on 2746). */
  readonly url: string;
  /** The bearer token, without the `Bearer ` prefix (one is stripped if present). */
  readonly token?: string;
  /** For tests. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Waits before each retry of a read the server answered 503 (see `retryingReads`). @default READ_RETRY_DELAYS_MS */
  readonly retryDelaysMs?: readonly number[];
}

/** 0.25 + 0.5 + 1 + 2 s: a server that has just (re)started reconnects its gateway within these. */
export const READ_RETRY_DELAYS_MS: readonly number[] = [250, 500, 1000, 2000];

/**
 * `fetch`, retrying a GET the server answered 503 (gRPC Unavailable through its HTTP gateway: the
 * gateway's connection to the server's own gRPC port is down, as for a moment after `argo server`
 * starts, each service reconnecting on its own backoff). Reads only: a 503 to a submission is
 * reported, never resent, since whether it reached the server is not known. After the last delay
 * the 503 is returned as it came.
 */
export function retryingReads(f: typeof fetch, delaysMs: readonly number[]): typeof fetch {
  return async (input, init) => {
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') return f(input, init);
    for (let attempt = 0; ; attempt++) {
      const res = await f(input instanceof Request ? input.clone() : input, init);
      const signal = input instanceof Request ? input.signal : init?.signal;
      if (res.status !== 503 || attempt >= delaysMs.length || signal?.aborted) return res;
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, delaysMs[attempt]));
    }
  };
}

/** What went wrong, for callers that react (`unreachable`: no HTTP answer at all). */
export type ArgoServerErrorCode = 'unreachable' | 'unauthenticated' | 'forbidden' | 'not-found' | 'invalid' | 'server';

export class ArgoServerError extends Error {
  constructor(
    readonly code: ArgoServerErrorCode,
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ArgoServerError';
  }
}

/** The HTTP status → our code (grpc-gateway maps gRPC codes onto these statuses). */
export function argoErrorCode(status: number): ArgoServerErrorCode {
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status >= 400 && status < 500) return 'invalid';
  return 'server';
}

/** Options of a submission from a template (SubmitOpts; parameters as `name=value` on the wire). */
export interface SubmitFromTemplate {
  readonly namespace: string;
  /** The WorkflowTemplate's (or ClusterWorkflowTemplate's) name. */
  readonly template: string;
  /** @default 'WorkflowTemplate' */
  readonly kind?: 'WorkflowTemplate' | 'ClusterWorkflowTemplate';
  readonly parameters?: Readonly<Record<string, string>>;
  readonly labels?: Readonly<Record<string, string>>;
  /** The Workflow's name; without it the server generates one from the template's name. */
  readonly name?: string;
  readonly generateName?: string;
  readonly entrypoint?: string;
  readonly serviceAccount?: string;
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** `k=v,k2=v2` for SubmitOpts.labels, refusing what the server would misparse (a ',' or '=' inside). */
export function labelsArg(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => {
      if (!LABEL_KEY.test(k)) throw new ArgoServerError('invalid', `label key '${k}' is not a valid Kubernetes label key`);
      if (/[,=]/.test(v)) throw new ArgoServerError('invalid', `label ${k}: value '${v}' must not contain ',' or '='`);
      return `${k}=${v}`;
    })
    .join(',');
}

/**
 * Splits a body of newline-delimited JSON (a grpc-gateway stream: `{"result":…}` or `{"error":…}`
 * per line) into its values; `rest` is an unfinished last line, to prepend to the next chunk.
 */
export function splitStream(buffered: string): { lines: unknown[]; rest: string } {
  const parts = buffered.split('\n');
  const rest = parts.pop() ?? '';
  const lines: unknown[] = [];
  for (const p of parts) {
    const t = p.trim();
    if (!t) continue;
    try {
      lines.push(JSON.parse(t));
    } catch {
      throw new ArgoServerError('server', `the Argo Server sent a stream line that is not JSON: ${t.slice(0, 200)}`);
    }
  }
  return { lines, rest };
}

export class ArgoServerClient {
  readonly url: string;
  private readonly hasToken: boolean;
  private readonly client: ReturnType<typeof createClient<paths>>;

  constructor(opts: ArgoServerOptions) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new ArgoServerError('invalid', `Argo Server URL '${opts.url}' is not a URL; give one like https://argo.example.com:2746`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ArgoServerError('invalid', `Argo Server URL '${opts.url}' must be http:// or https://`);
    if (u.username || u.password)
      throw new ArgoServerError('invalid', `Argo Server URL must not carry credentials; give the token by ARGO_TOKEN or a token file`);
    this.url = u.href.replace(/\/$/, '');
    const token = opts.token?.trim().replace(/^Bearer\s+/i, '');
    this.client = createClient<paths>({
      baseUrl: this.url,
      fetch: retryingReads(opts.fetch ?? globalThis.fetch, opts.retryDelaysMs ?? READ_RETRY_DELAYS_MS),
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
    this.hasToken = Boolean(token);
  }

  /** Awaits an openapi-fetch call; transport failures and error statuses become ArgoServerErrors that say what to do. */
  private async call<T>(what: string, p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
    let r: { data?: T; error?: unknown; response: Response };
    try {
      r = await p;
    } catch (err) {
      throw this.unreachable(what, err);
    }
    if (r.error !== undefined || !r.response.ok) throw this.failed(what, r.response, r.error);
    return r.data as T;
  }

  private unreachable(what: string, err: unknown): ArgoServerError {
    const c = (err as { cause?: { code?: string; message?: string } }).cause;
    const cause = c?.code ?? c?.message ?? (err as Error).message;
    return new ArgoServerError(
      'unreachable',
      `cannot reach the Argo Server at ${this.url} (${what}): ${cause}; check the URL (--argo-server or ARGO_SERVER) and that \`argo server\` is running`,
      undefined,
      { cause: err },
    );
  }

  private failed(what: string, res: Response, body: unknown): ArgoServerError {
    const b = (typeof body === 'object' && body !== null ? body : {}) as { message?: string; error?: string };
    const detail = b.message ?? b.error ?? (typeof body === 'string' && body ? body.slice(0, 300) : res.statusText);
    const code = argoErrorCode(res.status);
    const hint =
      code === 'unauthenticated'
        ? this.hasToken
          ? ': the server refused the token (expired, or not one its --auth-mode accepts); make a new one, e.g. `kubectl create token <service-account> -n <namespace>`'
          : ': the server needs a bearer token; set ARGO_TOKEN or pass --argo-token-file <file> (e.g. the output of `kubectl create token <service-account>`)'
        : code === 'forbidden'
          ? ": the token's identity lacks the RBAC for this; bind it a Role that allows it"
          : '';
    return new ArgoServerError(code, `Argo Server ${what} failed with HTTP ${res.status}: ${detail}${hint}`, res.status);
  }

  /** The server's version (GET /api/v1/version). */
  version(): Promise<ArgoVersion> {
    return this.call('version', this.client.GET('/api/v1/version'));
  }

  /** Live Workflows of a namespace, newest first. */
  async listWorkflows(namespace: string, opts: { labelSelector?: string; limit?: number } = {}): Promise<ArgoWorkflow[]> {
    const query: Record<string, string> = {};
    if (opts.labelSelector) query['listOptions.labelSelector'] = opts.labelSelector;
    if (opts.limit) query['listOptions.limit'] = String(opts.limit);
    const list = await this.call(
      `list workflows in ${namespace}`,
      this.client.GET('/api/v1/workflows/{namespace}', { params: { path: { namespace }, query } }),
    );
    return byNewest(list.items ?? []);
  }

  getWorkflow(namespace: string, name: string): Promise<ArgoWorkflow> {
    return this.call(`get workflow ${namespace}/${name}`, this.client.GET('/api/v1/workflows/{namespace}/{name}', { params: { path: { namespace, name } } }));
  }

  /** Submits a Workflow from a WorkflowTemplate (`argo submit --from workflowtemplate/<name>`); the server fills in the template's arguments. */
  submitFromTemplate(s: SubmitFromTemplate): Promise<ArgoWorkflow> {
    const opts: Schemas['io.argoproj.workflow.v1alpha1.SubmitOpts'] = {};
    if (s.parameters && Object.keys(s.parameters).length)
      opts.parameters = Object.entries(s.parameters)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${v}`);
    if (s.labels && Object.keys(s.labels).length) opts.labels = labelsArg(s.labels);
    if (s.name) opts.name = s.name;
    if (s.generateName) opts.generateName = s.generateName;
    if (s.entrypoint) opts.entryPoint = s.entrypoint;
    if (s.serviceAccount) opts.serviceAccount = s.serviceAccount;
    return this.call(
      `submit from ${s.kind ?? 'WorkflowTemplate'} ${s.namespace}/${s.template}`,
      this.client.POST('/api/v1/workflows/{namespace}/submit', {
        params: { path: { namespace: s.namespace } },
        body: { namespace: s.namespace, resourceKind: s.kind ?? 'WorkflowTemplate', resourceName: s.template, submitOptions: opts },
      }),
    );
  }

  /** Archived runs (the server's workflow archive; empty where the server has no archive configured). */
  async listArchivedWorkflows(opts: { namespace?: string; labelSelector?: string; namePrefix?: string; limit?: number } = {}): Promise<ArgoWorkflow[]> {
    const query: Record<string, string> = {};
    if (opts.namespace) query.namespace = opts.namespace;
    if (opts.labelSelector) query['listOptions.labelSelector'] = opts.labelSelector;
    if (opts.namePrefix) query.namePrefix = opts.namePrefix;
    if (opts.limit) query['listOptions.limit'] = String(opts.limit);
    const list = await this.call('list archived workflows', this.client.GET('/api/v1/archived-workflows', { params: { query } }));
    return byNewest(list.items ?? []);
  }

  getArchivedWorkflow(uid: string): Promise<ArgoWorkflow> {
    return this.call(`get archived workflow ${uid}`, this.client.GET('/api/v1/archived-workflows/{uid}', { params: { path: { uid } } }));
  }

  /**
   * The log lines of a workflow's steps (all its pods, or one), in the order the server sends them;
   * with `follow`, until the workflow ends. Each entry names the pod it came from.
   */
  async *logs(
    namespace: string,
    name: string,
    opts: { podName?: string; follow?: boolean; container?: string; grep?: string; signal?: AbortSignal } = {},
  ): AsyncGenerator<ArgoLogEntry> {
    const query: Record<string, string | boolean> = { 'logOptions.container': opts.container ?? 'main' };
    if (opts.podName) query.podName = opts.podName;
    if (opts.follow) query['logOptions.follow'] = true;
    if (opts.grep) query.grep = opts.grep;
    const what = `logs of workflow ${namespace}/${name}`;
    let r: { error?: unknown; response: Response };
    try {
      r = await this.client.GET('/api/v1/workflows/{namespace}/{name}/log', {
        params: { path: { namespace, name }, query },
        parseAs: 'stream',
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      throw this.unreachable(what, err);
    }
    if (r.error !== undefined || !r.response.ok) throw this.failed(what, r.response, r.error);
    const body = r.response.body;
    if (!body) return;
    const decoder = new TextDecoder();
    let buffered = '';
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffered += decoder.decode(value, { stream: true });
        const { lines, rest } = splitStream(buffered);
        buffered = rest;
        for (const l of lines) yield logLine(what, l);
      }
    } finally {
      // A caller that stops early (break) closes the connection instead of leaving it streaming.
      void reader.cancel().catch(() => undefined);
    }
    const { lines } = splitStream(buffered + decoder.decode() + '\n');
    for (const l of lines) yield logLine(what, l);
  }
}

function logLine(what: string, l: unknown): ArgoLogEntry {
  const v = l as { result?: ArgoLogEntry; error?: { message?: string; http_code?: number } };
  if (v.error) throw new ArgoServerError('server', `Argo Server ${what}: ${v.error.message ?? JSON.stringify(v.error)}`, v.error.http_code);
  return v.result ?? {};
}

function byNewest(items: ArgoWorkflow[]): ArgoWorkflow[] {
  const t = (w: ArgoWorkflow) => w.metadata.creationTimestamp ?? '';
  return [...items].sort((a, b) => t(b).localeCompare(t(a)) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
}

/** Where the server and the token come from: flags first, then the environment the `argo` CLI reads too. */
export interface ArgoServerSource {
  /** --argo-server: a URL, or host:port as ARGO_SERVER holds it. */
  readonly server?: string;
  /** --argo-token-file: a file holding the token (a mounted Secret, `kubectl create token … > file`). */
  readonly tokenFile?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The client options from flags and environment: ARGO_SERVER (`host:port`, https unless
 * ARGO_SECURE=false; or a full URL), ARGO_TOKEN (the token, `Bearer ` prefix optional) or
 * ARGO_TOKEN_FILE / --argo-token-file. Tokens are never taken from a flag's value: command lines
 * end up in shell history and `ps`.
 */
export async function resolveArgoServer(src: ArgoServerSource): Promise<{ url: string; token?: string; tokenFrom?: string }> {
  const env = src.env ?? process.env;
  const raw = src.server ?? env.ARGO_SERVER;
  if (!raw)
    throw new ArgoServerError(
      'invalid',
      'no Argo Server given: pass --argo-server <url> or set ARGO_SERVER (host:port, or a URL), e.g. ARGO_SERVER=https://argo.example.com:2746',
    );
  const secure = !/^(false|0|no)$/i.test(env.ARGO_SECURE ?? 'true');
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `${secure ? 'https' : 'http'}://${raw}`;
  const file = src.tokenFile ?? env.ARGO_TOKEN_FILE;
  if (file) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new ArgoServerError(
        'invalid',
        `cannot read the Argo token file ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); write the token there, e.g. \`kubectl create token <service-account> > ${file}\``,
      );
    }
    const token = text.trim();
    if (!token) throw new ArgoServerError('invalid', `the Argo token file ${file} is empty`);
    return { url, token, tokenFrom: file };
  }
  if (env.ARGO_TOKEN?.trim()) return { url, token: env.ARGO_TOKEN, tokenFrom: 'ARGO_TOKEN' };
  return { url };
}

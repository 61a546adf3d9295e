/**
 * `ghosteam ui`: a read-only web UI and JSON API over a UiSource (ui/source.ts) — the embedded
 * default's local state (the operator's state directory, the model registry, the local engine's run
 * records) or, in a cluster, the API server's objects and the registry (ui/cluster.ts). Pages are
 * server-rendered (ui/html.ts) from the same objects the API returns (ui/api.ts). Live updates: the
 * source reports changes (inotify on the local folders, watches on the API server; not polling) and
 * the server sends one `change` Server-Sent Event per burst; pages then fetch their fragment.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { readTls, watchTls, type TlsFiles } from '../components/security/tls.ts';
import { existsSync, readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ModelRegistry } from '../components/registry/types.ts';
import { localSource, LogUnavailableError, RunNotFoundError, type UiSource } from './source.ts';
import { ApiError } from '../controllers/runtime/store.ts';
import type { RunRecord } from '../pipelines/local/types.ts';
import { Value } from '@sinclair/typebox/value';
import {
  modelResponse,
  modelSummaries,
  openApiDocument,
  registeredModelResponse,
  registeredModelSummaries,
  RetrainRequestSchema,
  RolloutRequestSchema,
  runDetail,
  runSummary,
  versionView,
  type RunSummary,
  type Snapshot,
  type VersionView,
} from './api.ts';
import { ActionError, retrain, rolloutAction, type ActionTarget } from '../controllers/actions.ts';
import { AuthError, type Authenticator, type Principal } from '../components/security/auth.ts';
import type { AuditLog } from '../components/security/audit.ts';
import { readBody } from '../components/model-server/http.ts';
import { RequestError } from '../components/model-server/tensors.ts';
import { driftMonitorResponse, driftMonitorSummaries, experimentsResponse, UnknownRunError, type ExperimentQuery } from './monitors.ts';
import { driftMonitorLive, driftMonitorPage, driftMonitorsPage, driftRows, experimentsPage } from './monitor-pages.ts';
import {
  ACTIONS_JS,
  errorPage,
  LIVE_JS,
  loginPage,
  modelHref,
  modelLive,
  modelPage,
  modelsLive,
  modelsPage,
  registeredHref,
  registeredModelPage,
  runLive,
  runPage,
  runRows,
  runsPage,
  versionPage,
} from './html.ts';

export interface UiOptions {
  /** Where the data comes from (ui/source.ts); absent: the local files named below. */
  readonly source?: UiSource;
  /** The local operator's state directory (Models, TrainingRuns); absent: no models. */
  readonly stateDir?: string;
  /** The folder holding the local engine's `runs/` (the CLI's --store-dir); absent: no runs. */
  readonly runsRoot?: string;
  readonly registry?: ModelRegistry;
  /** Folders whose changes are pushed to the pages (the state, registry and runs folders). */
  readonly watchDirs?: readonly string[];
  readonly host?: string;
  readonly port?: number;
  /** Shown in the OpenAPI document. */
  readonly version?: string;
  /** A snapshot older than this is re-read in the background even without a change event (a remote registry cannot be watched). @default 5000 */
  readonly maxAgeMs?: number;
  /** Coalesces a burst of file writes into one event. @default 100 */
  readonly debounceMs?: number;
  /** Serve HTTPS with these files (re-read when they change). */
  readonly tls?: TlsFiles;
  /** The actions (rollout pause/resume/promote/abort, retrain); absent: the UI is read-only. */
  readonly actions?: UiActions;
  /**
   * Authenticated reads: every page, fragment, event stream and GET /api/… needs a credential one
   * of these accepts with the `view` (or `admin`) permission — a bearer token, or the HttpOnly
   * cookie POST /login sets from one. Absent: reads are open (the local default, on loopback).
   */
  readonly readers?: readonly Authenticator[];
}

/** The cookie POST /login sets (the credential itself, HttpOnly, SameSite=Strict; actions never read it). */
export const SESSION_COOKIE = 'ghosteam-ui';
const SESSION_SECONDS = 8 * 3600;

/** The first reader that accepts `credential` for `view`, else for `admin`; else the most telling refusal (403 over 401). */
export async function checkReader(readers: readonly Authenticator[], credential: string | undefined): Promise<Principal> {
  let refusal: AuthError | undefined;
  for (const a of readers)
    for (const permission of ['view', 'admin'] as const) {
      try {
        return await a.check(credential, { permission });
      } catch (e) {
        if (!(e instanceof AuthError)) throw e;
        if (!refusal || (refusal.status === 401 && e.status !== 401)) refusal = e;
      }
    }
  throw refusal ?? new AuthError(401, 'missing bearer token; send Authorization: Bearer <token>');
}

function cookieCredential(req: IncomingMessage): string | undefined {
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === SESSION_COOKIE && v.length) {
      try {
        return `Bearer ${decodeURIComponent(v.join('='))}`;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Where to go after signing in: a path on this UI only (no scheme, no other host). */
function safeNext(next: string | null | undefined): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
}

/** Actions need a credential: each needs the `admin` permission, and each attempt is audited. */
export interface UiActions {
  readonly target: ActionTarget;
  readonly auth: Authenticator;
  readonly audit?: AuditLog;
}

export interface UiServer {
  readonly url: string;
  readonly server: Server;
  /** Events sent so far (for tests and the status line). */
  readonly changes: () => number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;

/** A log page shows the last LOG_TAIL lines (?tail=N up to LOG_MAX_TAIL), never more than LOG_LIMIT_BYTES. */
export const LOG_TAIL = 1000;
export const LOG_MAX_TAIL = 100_000;
export const LOG_LIMIT_BYTES = 1024 * 1024;

function decode(segment: string, what: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `the ${what} in the path is not valid percent-encoding; encode it with encodeURIComponent`);
  }
}

/** The experiments page's query: each parameter checked, a bad one is a 400 naming it. */
function experimentQuery(p: URLSearchParams): ExperimentQuery {
  const one = (k: string): string | undefined => {
    const all = p.getAll(k);
    if (all.length > 1) throw new HttpError(400, `query parameter ${k} is given ${all.length} times; give it once`);
    if (all.length === 1 && all[0] === '') throw new HttpError(400, `query parameter ${k} is empty; give a value or leave it out`);
    return all[0];
  };
  const direction = one('direction');
  if (direction !== undefined && direction !== 'minimize' && direction !== 'maximize')
    throw new HttpError(400, `query parameter direction=${direction} must be minimize or maximize`);
  const limitText = one('limit');
  if (limitText !== undefined && (!/^[0-9]{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 1000))
    throw new HttpError(400, `query parameter limit=${limitText} must be a whole number from 1 to 1000`);
  const runs = p.getAll('run');
  if (runs.some((r) => r === '')) throw new HttpError(400, 'query parameter run is empty; give a run id (or a unique prefix) per run=');
  const experiment = one('experiment');
  const metric = one('metric');
  return {
    ...(experiment !== undefined ? { experiment } : {}),
    ...(metric !== undefined ? { metric } : {}),
    ...(direction !== undefined ? { direction } : {}),
    ...(runs.length ? { runs } : {}),
    limit: limitText !== undefined ? Number(limitText) : 100,
  };
}

export async function startUi(o: UiOptions): Promise<UiServer> {
  const maxAgeMs = o.maxAgeMs ?? 5000;
  const source =
    o.source ??
    localSource({
      ...(o.stateDir ? { stateDir: o.stateDir } : {}),
      ...(o.runsRoot ? { runsRoot: o.runsRoot } : {}),
      ...(o.registry ? { registry: o.registry } : {}),
      ...(o.watchDirs ? { watchDirs: o.watchDirs } : {}),
    });
  let cached: { at: number; snap: Promise<Snapshot> } | undefined;
  let seq = 0;

  // The snapshot is read at start, again (before the change event goes out) when the source
  // changes, and in the background when older than maxAgeMs; so a page never waits for a re-read
  // of a thousand models' files unless the state changed under it.
  let stale = true;
  const refresh = (): Promise<Snapshot> => {
    const snap = source.read();
    cached = { at: Date.now(), snap };
    stale = false;
    snap.catch(() => {
      if (cached?.snap === snap) cached = undefined;
    });
    return snap;
  };
  const snapshot = (): Promise<Snapshot> => {
    if (!cached || stale) return refresh();
    if (Date.now() - cached.at > maxAgeMs) {
      const served = cached.snap;
      void refresh().catch(() => {});
      return served;
    }
    return cached.snap;
  };
  const runs = (): Promise<RunRecord[]> => source.runs();
  /** Version `segment` of registered model `name` with the run that made it (when it is a run here); `hint`: the owner's path, for the 400's example. */
  async function versionOf(snap: Snapshot, name: string, segment: string, hint: string): Promise<{ view: VersionView; run?: RunSummary }> {
    if (!/^[1-9][0-9]{0,8}$/.test(segment))
      throw new HttpError(400, `version '${decode(segment, 'version')}' is not a version number; give a whole number ≥ 1, e.g. ${hint}/versions/1`);
    const all = snap.versions[name] ?? [];
    const v = all.find((x) => x.version === Number(segment));
    if (!v) throw new HttpError(404, `model '${name}' has no version ${segment}; it has ${all.map((x) => `v${x.version}`).join(', ') || 'none'}`);
    const view = versionView(v);
    const rs = view.runId
      ? await source.run(view.runId).then(
          (x) => runSummary(x, source.status(x)),
          () => undefined,
        )
      : undefined;
    return { view, ...(rs ? { run: rs } : {}) };
  }
  async function run(id: string): Promise<RunRecord> {
    try {
      return await source.run(id);
    } catch (e) {
      if (e instanceof RunNotFoundError) throw new HttpError(404, e.message);
      throw e;
    }
  }

  // --- live updates -------------------------------------------------------------------------
  const clients = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const changed = () => {
    stale = true;
    if (timer || closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      // Re-read first, then tell the pages: the fragments they fetch are then served at once.
      const emit = () => {
        seq++;
        for (const c of clients) c.write(`event: change\nid: ${seq}\ndata: {"seq":${seq}}\n\n`);
      };
      void snapshot().then(emit, emit);
    }, o.debounceMs ?? 100);
  };
  source.subscribe(changed);
  const heartbeat = setInterval(() => {
    for (const c of clients) c.write(': keep-alive\n\n');
  }, 15_000);
  heartbeat.unref();

  // --- routes -------------------------------------------------------------------------------
  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://ui');
    const parts = url.pathname.split('/').filter(Boolean);
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...SECURITY_HEADERS });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const json = (body: unknown) => send(200, 'application/json; charset=utf-8', JSON.stringify(body));
    const page = (body: string) => send(200, 'text/html; charset=utf-8', body);
    const isApi = parts[0] === 'api';
    const [p0, p1] = parts;

    try {
      if (req.method === 'POST' && isApi && isActionPath(parts)) return await action(req, res, parts);
      if (o.readers && req.method === 'POST' && p0 === 'login' && parts.length === 1) return await login(req, res);
      if (o.readers && !(p0 === 'healthz' && parts.length === 1) && !(p0 === 'static' && parts.length === 2) && req.method !== 'POST') {
        try {
          await checkReader(o.readers, req.headers.authorization ?? cookieCredential(req));
        } catch (e) {
          if (!(e instanceof AuthError)) throw e;
          const challenge = e.status === 401 ? 'Bearer' : 'Bearer error="insufficient_scope"';
          if (isApi || p0 === 'fragments') {
            res.writeHead(e.status, {
              'content-type': 'application/json; charset=utf-8',
              'www-authenticate': challenge,
              'cache-control': 'no-store',
              ...SECURITY_HEADERS,
            });
            return void res.end(JSON.stringify({ error: `${e.message} (this UI's reads need the view permission)` }));
          }
          res.writeHead(e.status, {
            'content-type': 'text/html; charset=utf-8',
            'www-authenticate': challenge,
            'cache-control': 'no-store',
            ...SECURITY_HEADERS,
          });
          return void res.end(loginPage(`${e.status === 401 ? 'Sign in to read this UI' : e.message}.`, safeNext(url.pathname + url.search)));
        }
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        throw new HttpError(
          405,
          `${req.method ?? ''} is not allowed here; the actions are POST /api/models/<namespace>/<name>/rollout and POST /api/trainingruns (see /api/openapi.json)`,
        );
      }
      const scope = isApi ? parts.slice(1) : p0 === 'fragments' ? parts.slice(1) : parts;
      const kind = isApi ? 'api' : p0 === 'fragments' ? 'fragment' : 'page';
      const [s0, s1, s2, s3, s4] = scope;

      if (kind === 'page' && parts.length === 0) {
        const snap = await snapshot();
        return page(modelsPage(modelSummaries(snap), registeredModelSummaries(snap)));
      }
      if (kind === 'page' && p0 === 'healthz' && parts.length === 1) return send(200, 'text/plain', 'ok\n');
      if (kind === 'page' && p0 === 'static' && p1 === 'live.js' && parts.length === 2) return send(200, 'text/javascript; charset=utf-8', LIVE_JS);
      if (kind === 'page' && p0 === 'static' && p1 === 'actions.js' && parts.length === 2) return send(200, 'text/javascript; charset=utf-8', ACTIONS_JS);
      if (kind === 'api' && s0 === 'openapi.json' && scope.length === 1) return json(openApiDocument(o.version ?? '0.0.0'));
      if (kind === 'api' && s0 === 'events' && scope.length === 1) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', ...SECURITY_HEADERS });
        res.write(`retry: 2000\nevent: hello\ndata: {"seq":${seq}}\n\n`);
        clients.add(res);
        req.on('close', () => clients.delete(res));
        return;
      }

      if (s0 === 'models') {
        if (scope.length === 1) {
          const snap = await snapshot();
          const models = modelSummaries(snap);
          const registeredModels = registeredModelSummaries(snap);
          if (kind === 'api') return json({ models, registeredModels });
          if (kind === 'fragment') return page(modelsLive(models, registeredModels).text);
        }
        if (scope.length >= 3) {
          const ns = decode(s1, 'namespace');
          const name = decode(s2, 'model name');
          const snap = await snapshot();
          const r = modelResponse(snap, ns, name);
          if (!r) throw new HttpError(404, `no Model '${name}' in namespace '${ns}'; the models are listed at /`);
          if (scope.length === 3) {
            if (kind === 'api') return json(r);
            if (kind === 'fragment') return page(modelLive(r).text);
            return page(modelPage(r, { actions: o.actions !== undefined }));
          }
          if (scope.length === 5 && s3 === 'versions' && kind !== 'fragment') {
            const { view, run } = await versionOf(snap, r.model.registered, s4, modelPathHint(ns, name));
            if (kind === 'api') return json({ version: view, ...(run ? { run } : {}) });
            return page(versionPage({ href: modelHref(ns, name), title: name }, view, run));
          }
        }
      }

      if (s0 === 'registered-models' && kind !== 'fragment' && (scope.length === 2 || (scope.length === 4 && s2 === 'versions'))) {
        const name = decode(s1, 'registered model name');
        const snap = await snapshot();
        const r = registeredModelResponse(snap, name);
        if (!r) throw new HttpError(404, `no registered model '${name}' in the registry; the registered models are listed at / and GET /api/models`);
        if (scope.length === 2) return kind === 'api' ? json(r) : page(registeredModelPage(r));
        const { view, run } = await versionOf(snap, name, s3, registeredHref(name));
        if (kind === 'api') return json({ version: view, ...(run ? { run } : {}) });
        return page(versionPage({ href: registeredHref(name), title: name }, view, run));
      }

      if ((kind === 'api' && s0 === 'driftmonitors') || (kind !== 'api' && s0 === 'drift')) {
        const snap = await snapshot();
        if (scope.length === 1) {
          const list = driftMonitorSummaries(snap.driftMonitors);
          if (kind === 'api') return json({ driftMonitors: list });
          if (kind === 'fragment') return page(driftRows(list).text);
          return page(driftMonitorsPage(list));
        }
        if (scope.length === 3) {
          const ns = decode(s1, 'namespace');
          const name = decode(s2, 'DriftMonitor name');
          const r = driftMonitorResponse(snap.driftMonitors, ns, name);
          if (!r) throw new HttpError(404, `no DriftMonitor '${name}' in namespace '${ns}'; the monitors are listed at /drift`);
          if (kind === 'api') return json(r);
          if (kind === 'fragment') return page(driftMonitorLive(r).text);
          return page(driftMonitorPage(r));
        }
      }

      if (s0 === 'experiments' && kind !== 'fragment' && scope.length === 1) {
        const q = experimentQuery(url.searchParams);
        const all = await runs();
        if (q.experiment !== undefined && !all.some((r) => r.pipeline === q.experiment))
          throw new HttpError(404, `no experiment '${q.experiment}' (no runs of that pipeline); the experiments are listed at /experiments`);
        let e;
        try {
          e = experimentsResponse(all, q);
        } catch (err) {
          if (err instanceof UnknownRunError) throw new HttpError(404, err.message);
          throw err;
        }
        if (kind === 'api') return json(e);
        return page(experimentsPage(e, { ...(q.experiment !== undefined ? { experiment: q.experiment } : {}), compare: (q.runs?.length ?? 0) > 0 }));
      }

      if (s0 === 'runs') {
        if (scope.length === 1) {
          const limitText = url.searchParams.get('limit');
          let limit = 100;
          if (limitText !== null) {
            if (!/^[0-9]{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 1000)
              throw new HttpError(400, `query parameter limit=${limitText} must be a whole number from 1 to 1000`);
            limit = Number(limitText);
          }
          const pipeline = url.searchParams.get('pipeline');
          const list = (await runs())
            .filter((r) => pipeline === null || r.pipeline === pipeline)
            .slice(0, limit)
            .map((r) => runSummary(r, source.status(r)));
          if (kind === 'api') return json({ runs: list });
          if (kind === 'fragment') return page(runRows(list).text);
          return page(runsPage(list));
        }
        const id = decode(s1, 'run id');
        if (scope.length === 2) {
          const rec = await run(id);
          const d = runDetail(rec, source.status(rec));
          if (kind === 'api') return json(d);
          if (kind === 'fragment') return page(runLive(d).text);
          return page(runPage(d));
        }
        if (scope.length === 4 && s2 === 'logs' && kind === 'page') {
          const tailText = url.searchParams.get('tail');
          if (tailText !== null && (!/^[0-9]{1,6}$/.test(tailText) || Number(tailText) < 1 || Number(tailText) > LOG_MAX_TAIL))
            throw new HttpError(400, `query parameter tail=${tailText} must be a whole number of lines from 1 to ${LOG_MAX_TAIL}`);
          const tailLines = tailText === null ? LOG_TAIL : Number(tailText);
          const r = await run(id);
          const node = r.nodes[decode(s3, 'task')];
          if (!node?.log) throw new HttpError(404, `run '${id}' has no log for task '${decode(s3, 'task')}'`);
          let log;
          try {
            log = await source.readLog(r, node, { tailLines, limitBytes: LOG_LIMIT_BYTES });
          } catch (e) {
            if (e instanceof LogUnavailableError) throw new HttpError(e.status, e.message);
            throw e;
          }
          const lines = log.text.split('\n').length - (log.text.endsWith('\n') ? 1 : 0);
          const note = log.truncated
            ? `… (cut at ${LOG_LIMIT_BYTES} bytes of the last ${tailLines} lines; ask for fewer with ?tail=N)\n`
            : lines >= tailLines
              ? `… (the last ${tailLines} lines; more with ?tail=N, up to ${LOG_MAX_TAIL})\n`
              : '';
          res.setHeader('x-ghosteam-log-lines', String(lines));
          return send(200, 'text/plain; charset=utf-8', note ? (log.truncated ? log.text + note : note + log.text) : log.text);
        }
      }
      throw new HttpError(
        404,
        `nothing at ${url.pathname}; the pages are /, /models/<namespace>/<name>, /drift, /drift/<namespace>/<name>, /runs, /runs/<id> and /experiments, the API is described at /api/openapi.json`,
      );
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      const message = e instanceof HttpError ? e.message : `internal error: ${(e as Error).message}`;
      if (status === 500) process.stderr.write(`ghosteam ui: ${req.method ?? ''} ${req.url ?? ''}: ${(e as Error).stack ?? String(e)}\n`);
      if (res.headersSent) return void res.end();
      if (isApi || parts[0] === 'fragments') {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...SECURITY_HEADERS });
        res.end(JSON.stringify({ error: message }));
      } else {
        res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS });
        res.end(errorPage(status, message));
      }
    }
  }

  // --- sign-in (authenticated reads) --------------------------------------------------------
  /** POST /login (a form: token, next): a token a reader accepts becomes the session cookie; 303 to `next`. */
  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let form: URLSearchParams;
    try {
      form = new URLSearchParams((await readBody(req, 16 * 1024)).toString('utf8'));
    } catch (e) {
      if (e instanceof RequestError) throw new HttpError(e.status === 413 ? 413 : 400, e.message);
      throw e;
    }
    const token = (form.get('token') ?? '').trim();
    const next = safeNext(form.get('next'));
    try {
      await checkReader(o.readers!, token ? `Bearer ${token}` : undefined);
    } catch (e) {
      if (!(e instanceof AuthError)) throw e;
      res.writeHead(e.status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS });
      return void res.end(loginPage(`${e.message}.`, next));
    }
    const cookie = `${SESSION_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_SECONDS}${o.tls ? '; Secure' : ''}`;
    res.writeHead(303, { location: next, 'set-cookie': cookie, 'cache-control': 'no-store', ...SECURITY_HEADERS });
    res.end();
  }

  // --- actions ------------------------------------------------------------------------------
  /** POST /api/models/{ns}/{name}/rollout {action} and POST /api/trainingruns {pipeline, ...}: 202 once handed to the operator. */
  async function action(req: IncomingMessage, res: ServerResponse, parts: string[]): Promise<void> {
    const reply = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS, ...extra });
      res.end(JSON.stringify(body));
    };
    const isRollout = parts[1] === 'models';
    const target = isRollout ? `${decode(parts[2], 'namespace')}/${decode(parts[3], 'model name')}` : 'trainingruns';
    const what = isRollout ? 'rollout' : 'retrain';
    if (!o.actions)
      return reply(405, {
        error: `this UI is read-only: start \`ghosteam ui\` with --token-env NAME or --auth-issuer/--auth-audience to allow actions, or use the CLI (ghosteam rollout, ghosteam retrain)`,
      });
    const acts = o.actions;
    let who: Principal;
    try {
      who = await acts.auth.check(req.headers.authorization, { permission: 'admin' });
    } catch (e) {
      if (!(e instanceof AuthError)) throw e;
      await acts.audit?.record({ who: e.subject ?? 'unknown', via: 'http', what, target, outcome: 'denied', error: e.message });
      const challenge: Record<string, string> =
        e.status === 401
          ? { 'www-authenticate': req.headers.authorization === undefined ? 'Bearer' : 'Bearer error="invalid_token"' }
          : e.status === 403
            ? { 'www-authenticate': 'Bearer error="insufficient_scope"' }
            : {};
      return reply(e.status, { error: e.message }, challenge);
    }
    const via = who.kind;
    let detail: Record<string, unknown> | undefined;
    try {
      const type = String(req.headers['content-type'] ?? '');
      if (!/^application\/json\b/i.test(type)) throw new HttpError(415, `send the action as JSON (content-type: application/json), not '${type || 'nothing'}'`);
      let body: unknown;
      try {
        body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
      } catch (e) {
        if (e instanceof RequestError) throw new HttpError(e.status === 413 ? 413 : 400, e.message);
        throw new HttpError(400, `the body is not JSON: ${(e as Error).message}`);
      }
      const schema = isRollout ? RolloutRequestSchema : RetrainRequestSchema;
      if (!Value.Check(schema, body)) {
        const first = [...Value.Errors(schema, body)][0];
        const field = first?.path ? first.path.slice(1).replace(/\//g, '.') : '';
        throw new HttpError(
          400,
          `${field ? `field '${field}'` : 'the body'}: ${first?.message ?? 'invalid'}; see ${isRollout ? 'RolloutRequest' : 'RetrainRequest'} in /api/openapi.json`,
        );
      }
      detail = body;
      const out = isRollout
        ? await rolloutAction(
            acts.target,
            decode(parts[2], 'namespace'),
            decode(parts[3], 'model name'),
            (body as { action: string }).action,
            `ui:${who.subject}`,
          )
        : await retrain(acts.target, body as { pipeline: string }, `ui:${who.subject}`);
      await acts.audit?.record({ who: who.subject, via, what: isRollout ? (body as { action: string }).action : what, target, outcome: 'success', detail });
      stale = true;
      return reply(202, {
        message: out.message,
        ...(out.inboxEntry ? { inboxEntry: out.inboxEntry } : {}),
        ...('run' in out ? { trainingRun: (out as { run: { metadata: { name: string } } }).run.metadata.name } : {}),
      });
    } catch (e) {
      // The API server's refusals (cluster mode) keep their meaning: the UI's own Kubernetes
      // identity lacking a right is a 403 that says which, an invalid object a 400.
      const api = e instanceof ApiError ? apiStatus(e) : undefined;
      const status = e instanceof HttpError || e instanceof ActionError ? e.status : (api ?? 500);
      const message =
        e instanceof ApiError && e.code === 403
          ? `the API server refused the UI's own identity: ${e.message}; give its ServiceAccount the action rules (ghosteam install --ui does)`
          : (e as Error).message;
      await acts.audit?.record({ who: who.subject, via, what, target, outcome: 'failure', ...(detail ? { detail } : {}), error: message });
      if (status === 500) throw e;
      return reply(status, { error: message });
    }
  }

  await snapshot().catch(() => undefined); // read once before serving: the first page does not wait for it
  const onRequest = (req: IncomingMessage, res: ServerResponse) => void route(req, res);
  const server = o.tls ? createHttpsServer(readTls(o.tls), onRequest) : createServer(onRequest);
  const stopTlsWatch = o.tls ? watchTls(server as HttpsServer, o.tls, (line) => process.stderr.write(`ghosteam ui: ${line}\n`)) : undefined;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `${o.tls ? 'https' : 'http'}://${host}:${addr.port}`,
    server,
    changes: () => seq,
    async close() {
      clearInterval(heartbeat);
      stopTlsWatch?.();
      closed = true;
      if (timer) clearTimeout(timer);
      await source.close();
      for (const c of clients) c.end();
      clients.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The UI's answer to an API server error an action met; undefined: a 500. */
const apiStatus = (e: ApiError): 400 | 403 | 404 | 409 | undefined =>
  e.code === 403 ? 403 : e.code === 404 ? 404 : e.code === 409 ? 409 : e.code === 422 ? 400 : undefined;

/** POST targets: /api/models/{ns}/{name}/rollout and /api/trainingruns. */
const isActionPath = (parts: readonly string[]): boolean =>
  (parts.length === 5 && parts[1] === 'models' && parts[4] === 'rollout') || (parts.length === 2 && parts[1] === 'trainingruns');

const modelPathHint = (ns: string, name: string): string => `/models/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`;

/**
 * Where `ghosteam ui --state <dir>` finds things: the operator state in `<dir>/state` (or `<dir>`
 * itself when it holds the operator's object folders, `Model.<group>/`), the registry in `<dir>/registry`, runs in `<dir>/runs`,
 * `<dir>/.ghosteam/runs` or `<dir>/repo/.ghosteam/runs` (the demo's layout).
 */
export function discoverState(dir: string): { stateDir?: string; registryDir?: string; runsRoot?: string } {
  const has = (p: string) => existsSync(p);
  const holdsObjects = (d: string) => has(d) && readdirSync(d).some((n) => n.startsWith('Model.') || n.startsWith('TrainingRun.') || n === 'inbox');
  const stateDir = holdsObjects(join(dir, 'state')) ? join(dir, 'state') : holdsObjects(dir) ? dir : undefined;
  const registryDir = has(join(dir, 'registry')) ? join(dir, 'registry') : undefined;
  const runsRoot = [dir, join(dir, '.ghosteam'), join(dir, 'repo', '.ghosteam')].find((r) => has(join(r, 'runs')));
  return { ...(stateDir ? { stateDir } : {}), ...(registryDir ? { registryDir } : {}), ...(runsRoot ? { runsRoot } : {}) };
}

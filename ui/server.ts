/**
 * `ghosteam ui`: a read-only web UI and JSON API over the embedded default's local state — the
 * operator's state directory (Models, TrainingRuns), the model registry and the local engine's run
 * records. Pages are server-rendered (ui/html.ts) from the same objects the API returns (ui/api.ts).
 * Live updates: the server watches the state, registry and runs folders (inotify, not polling) and
 * sends one `change` Server-Sent Event per burst of writes; pages then fetch their fragment.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ModelRegistry, ModelVersion } from '../components/registry/types.ts';
import { readStateObjects } from '../controllers/runtime/inbox.ts';
import { effectiveStatus, RunStore } from '../pipelines/local/store.ts';
import type { RunRecord } from '../pipelines/local/types.ts';
import { modelResponse, modelSummaries, openApiDocument, runDetail, runSummary, versionView, type Snapshot } from './api.ts';
import { errorPage, LIVE_JS, modelLive, modelPage, modelRows, modelsPage, runNodes, runPage, runRows, runsPage, versionPage } from './html.ts';

export interface UiOptions {
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
  /** A snapshot older than this is re-read even without a change event (a remote registry cannot be watched). @default 5000 */
  readonly maxAgeMs?: number;
  /** Coalesces a burst of file writes into one event. @default 100 */
  readonly debounceMs?: number;
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

function decode(segment: string, what: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `the ${what} in the path is not valid percent-encoding; encode it with encodeURIComponent`);
  }
}

export async function startUi(o: UiOptions): Promise<UiServer> {
  const maxAgeMs = o.maxAgeMs ?? 5000;
  const runStore = o.runsRoot ? new RunStore(o.runsRoot) : undefined;
  let cached: { at: number; snap: Promise<Snapshot> } | undefined;
  let seq = 0;

  async function read(): Promise<Snapshot> {
    const models = o.stateDir ? readStateObjects(o.stateDir, 'Model') : [];
    const trainingRuns = o.stateDir ? readStateObjects(o.stateDir, 'TrainingRun') : [];
    const versions: Record<string, ModelVersion[]> = {};
    if (o.registry) {
      for (const m of models) {
        const name = (m.spec as { modelRef?: { name?: string } } | undefined)?.modelRef?.name ?? m.metadata.name;
        if (!(name in versions)) versions[name] = (await o.registry.listVersions(name).catch(() => [])).sort((a, b) => a.version - b.version);
      }
    }
    return { models, trainingRuns, versions };
  }
  const snapshot = (): Promise<Snapshot> => {
    if (!cached || Date.now() - cached.at > maxAgeMs) cached = { at: Date.now(), snap: read() };
    return cached.snap;
  };
  const runs = async (): Promise<RunRecord[]> => (runStore ? runStore.list() : []);
  async function run(id: string): Promise<RunRecord> {
    if (!runStore) throw new HttpError(404, `no run '${id}': this UI has no runs folder (start it with --store-dir)`);
    try {
      return await runStore.load(id);
    } catch (e) {
      throw new HttpError(404, (e as Error).message);
    }
  }

  // --- live updates -------------------------------------------------------------------------
  const clients = new Set<ServerResponse>();
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    cached = undefined;
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      seq++;
      for (const c of clients) c.write(`event: change\nid: ${seq}\ndata: {"seq":${seq}}\n\n`);
    }, o.debounceMs ?? 100);
  };
  // One inotify watch per folder, not `recursive: true`: Node 20's recursive watcher on Linux
  // follows files, and loses a file once it is replaced by rename (every atomic write here).
  const watched = new Set<string>();
  const watchFolder = (d: string, depth: number) => {
    if (watched.has(d) || watched.size >= 4096) return;
    let w: FSWatcher;
    try {
      w = watch(d, (_event, name) => {
        changed();
        if (name && depth < 6) {
          const sub = join(d, name.toString());
          try {
            if (statSync(sub).isDirectory()) watchFolder(sub, depth + 1);
          } catch {
            // gone already (a temp file)
          }
        }
      });
    } catch {
      return; // a folder that cannot be watched still serves; its changes show after maxAgeMs
    }
    w.on('error', () => {});
    watched.add(d);
    watchers.push(w);
    if (depth < 6) for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) watchFolder(join(d, e.name), depth + 1);
  };
  for (const d of o.watchDirs ?? []) if (existsSync(d)) watchFolder(d, 0);
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
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        throw new HttpError(
          405,
          `${req.method ?? ''} is not allowed: this UI is read-only; use the CLI (ghosteam retrain, kubectl annotate ... ghosteam.io/rollout=promote|abort) to act`,
        );
      }
      const scope = isApi ? parts.slice(1) : p0 === 'fragments' ? parts.slice(1) : parts;
      const kind = isApi ? 'api' : p0 === 'fragments' ? 'fragment' : 'page';
      const [s0, s1, s2, s3, s4] = scope;

      if (kind === 'page' && parts.length === 0) return page(modelsPage(modelSummaries(await snapshot())));
      if (kind === 'page' && p0 === 'healthz' && parts.length === 1) return send(200, 'text/plain', 'ok\n');
      if (kind === 'page' && p0 === 'static' && p1 === 'live.js' && parts.length === 2) return send(200, 'text/javascript; charset=utf-8', LIVE_JS);
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
          const models = modelSummaries(await snapshot());
          if (kind === 'api') return json({ models });
          if (kind === 'fragment') return page(modelRows(models).text);
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
            return page(modelPage(r));
          }
          if (scope.length === 5 && s3 === 'versions' && kind !== 'fragment') {
            if (!/^[1-9][0-9]{0,8}$/.test(s4))
              throw new HttpError(
                400,
                `version '${decode(s4, 'version')}' is not a version number; give a whole number ≥ 1, e.g. ${modelPathHint(ns, name)}/versions/1`,
              );
            const v = (snap.versions[r.model.registered] ?? []).find((x) => x.version === Number(s4));
            if (!v)
              throw new HttpError(
                404,
                `model '${r.model.registered}' has no version ${s4}; it has ${r.model.versions.map((x) => `v${x}`).join(', ') || 'none'}`,
              );
            const view = versionView(v);
            let rs;
            if (view.runId && runStore)
              rs = await runStore.load(view.runId).then(
                (x) => runSummary(x, effectiveStatus(x)),
                () => undefined,
              );
            if (kind === 'api') return json({ version: view, ...(rs ? { run: rs } : {}) });
            return page(versionPage(ns, name, view, rs));
          }
        }
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
            .map((r) => runSummary(r, effectiveStatus(r)));
          if (kind === 'api') return json({ runs: list });
          if (kind === 'fragment') return page(runRows(list).text);
          return page(runsPage(list));
        }
        const id = decode(s1, 'run id');
        if (scope.length === 2) {
          const rec = await run(id);
          const d = runDetail(rec, effectiveStatus(rec));
          if (kind === 'api') return json(d);
          if (kind === 'fragment') return page(runNodes(d).text);
          return page(runPage(d));
        }
        if (scope.length === 4 && s2 === 'logs' && kind === 'page') {
          const r = await run(id);
          const node = r.nodes[decode(s3, 'task')];
          if (!node?.log) throw new HttpError(404, `run '${id}' has no log for task '${decode(s3, 'task')}'`);
          return send(200, 'text/plain; charset=utf-8', await runStore!.readLog(id, node.log));
        }
      }
      throw new HttpError(
        404,
        `nothing at ${url.pathname}; the pages are /, /models/<namespace>/<name>, /runs and /runs/<id>, the API is described at /api/openapi.json`,
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

  const server = createServer((req, res) => void route(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    server,
    changes: () => seq,
    async close() {
      clearInterval(heartbeat);
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
      for (const c of clients) c.end();
      clients.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

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

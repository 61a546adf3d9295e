/**
 * The feature server (`ghosteam features serve`): a feature service's features by entity key, read
 * from the online store under the service's missing/stale policy (online.ts).
 *
 *   GET  /v1/features?service=NAME&driver_id=1001              one entity, keys as query params
 *   POST /v1/features {"service":"NAME","entities":[{"driver_id":1001}, ...]}
 *        (or Feast's column form: "entities":{"driver_id":[1001,1002]})
 *   → 200 {"service","features":["view:feature",...],"rows":[{"values":[...],"status":["present"|"missing"|"stale",...]}]}
 *
 * A request the service cannot answer is a 4xx naming what to fix: an unknown service (404), a key
 * the service's views don't have, a missing key or one of the wrong type (400), a missing or stale
 * value under onMissing 'reject' (404). GET /metrics (Prometheus): requests by service and code,
 * feature values by status (present, missing, stale), latency. GET /healthz. The same bearer
 * token / OIDC options as the other servers: /v1/features needs 'infer', /metrics 'metrics'.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';
import { AuthError, createAuthenticator, type AuthOptions } from '../security/auth.ts';
import { readTls, watchTls, type TlsFiles } from '../security/tls.ts';
import { FeaturesError, joinKeysOf } from './columns.ts';
import type { OnlineStore } from './materialize.ts';
import { FeatureLookupError, getOnlineFeatures, serviceRefs, type ServiceDef } from './online.ts';

export interface FeatureServerOptions {
  readonly store: OnlineStore;
  readonly services: readonly ServiceDef[];
  /** @default 0 (any free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** A static bearer token (at least 8 characters). */
  readonly token?: string;
  readonly auth?: Omit<AuthOptions, 'token'>;
  /** Clock for freshness (tests). @default Date.now */
  readonly now?: () => number;
  /** Most entities in one request. @default 1000 */
  readonly maxEntities?: number;
  /** Serve HTTPS with these PEM files, re-read when they change (no restart). */
  readonly tls?: TlsFiles;
}

export interface FeatureServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY = 1 << 20;

/** The entity rows of a request body: a list of key objects, or Feast's { key: [values] } columns. */
export function entityRowsOf(entities: unknown): Record<string, unknown>[] {
  if (Array.isArray(entities)) {
    entities.forEach((e, i) => {
      if (e === null || typeof e !== 'object' || Array.isArray(e))
        throw new RequestError(400, `entities[${i}] must be an object of join key → value, e.g. {"driver_id": 1001}`);
    });
    return entities as Record<string, unknown>[];
  }
  if (entities !== null && typeof entities === 'object') {
    const cols = Object.entries(entities);
    if (cols.length === 0) throw new RequestError(400, 'entities is empty; give the join keys, e.g. {"driver_id": [1001]}');
    for (const [k, v] of cols) if (!Array.isArray(v)) throw new RequestError(400, `entities.${k} must be a list of values (Feast's column form)`);
    const n = (cols[0][1] as unknown[]).length;
    for (const [k, v] of cols)
      if ((v as unknown[]).length !== n) throw new RequestError(400, `entities.${k} has ${(v as unknown[]).length} values but entities.${cols[0][0]} has ${n}`);
    return Array.from({ length: n }, (_, i) => Object.fromEntries(cols.map(([k, v]) => [k, (v as unknown[])[i]])));
  }
  throw new RequestError(400, 'entities is missing; send {"service": NAME, "entities": [{"<join key>": value}]}');
}

export async function startFeatureServer(o: FeatureServerOptions): Promise<FeatureServer> {
  const auth = createAuthenticator({ ...o.auth, token: o.token });
  const now = o.now ?? Date.now;
  const maxEntities = o.maxEntities ?? 1000;
  const services = new Map<string, { def: ServiceDef; keys: Set<string> }>();
  for (const s of o.services) {
    serviceRefs(s); // every view is there
    const keys = new Set<string>();
    for (const v of s.views.values()) for (const k of joinKeysOf(v.entities)) keys.add(k.name);
    services.set(s.name, { def: s, keys });
  }
  const registry = new Registry();
  const requests = new Counter({
    name: 'ghosteam_feature_requests_total',
    help: 'Feature lookups by service and HTTP status',
    labelNames: ['service', 'code'],
    registers: [registry],
  });
  const values = new Counter({
    name: 'ghosteam_feature_values_total',
    help: 'Feature values served, by status: present, missing (no value for the entity), stale (older than the view TTL)',
    labelNames: ['service', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'ghosteam_feature_request_seconds',
    help: 'Feature lookup latency',
    labelNames: ['service'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25],
    registers: [registry],
  });

  const readBody = (req: IncomingMessage): Promise<unknown> =>
    new Promise((done, fail) => {
      const parts: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          fail(new RequestError(413, `the body is over ${MAX_BODY} bytes; send fewer entities per request`));
          req.destroy();
        } else parts.push(c);
      });
      req.on('end', () => {
        try {
          done(JSON.parse(Buffer.concat(parts).toString('utf8')));
        } catch {
          fail(new RequestError(400, 'the body is not JSON; send {"service": NAME, "entities": [...]}'));
        }
      });
      req.on('error', fail);
    });

  async function lookup(serviceName: unknown, rows: Record<string, unknown>[]): Promise<object> {
    if (typeof serviceName !== 'string' || !serviceName)
      throw new RequestError(400, `service is missing; name one of ${[...services.keys()].join(', ') || '(none)'}`);
    const s = services.get(serviceName);
    if (!s) throw new RequestError(404, `feature service '${serviceName}' is not served here; served: ${[...services.keys()].join(', ') || '(none)'}`);
    if (rows.length === 0) throw new RequestError(400, 'entities is empty; give at least one entity');
    if (rows.length > maxEntities) throw new RequestError(413, `${rows.length} entities in one request; send at most ${maxEntities}`);
    rows.forEach((r, i) => {
      for (const k of Object.keys(r))
        if (!s.keys.has(k))
          throw new RequestError(
            400,
            `${rows.length > 1 ? `entities[${i}]` : 'entities'}: '${k}' is not a join key of feature service '${serviceName}'; its keys are ${[...s.keys].join(', ')}`,
          );
    });
    const t0 = performance.now();
    try {
      const r = await getOnlineFeatures(o.store, s.def, rows, { now: now() });
      if (r.missing) values.inc({ service: serviceName, status: 'missing' }, r.missing);
      if (r.stale) values.inc({ service: serviceName, status: 'stale' }, r.stale);
      values.inc({ service: serviceName, status: 'present' }, rows.length * r.features.length - r.missing - r.stale);
      return { service: serviceName, features: r.features, rows: r.values.map((v, i) => ({ values: v, status: r.status[i] })) };
    } catch (e) {
      if (e instanceof FeatureLookupError) {
        // The policy refused: count what it refused for.
        values.inc({ service: serviceName, status: /is stale/.test(e.message) ? 'stale' : 'missing' });
        throw new RequestError(404, e.message);
      }
      if (e instanceof FeaturesError) throw new RequestError(400, e.message);
      throw e;
    } finally {
      latency.observe({ service: serviceName }, (performance.now() - t0) / 1000);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<{ service?: string }> {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      return {};
    }
    try {
      const p = auth.check(req.headers.authorization, { permission: url.pathname === '/metrics' ? 'metrics' : 'infer' });
      if (p instanceof Promise) await p;
    } catch (e) {
      if (e instanceof AuthError) throw new RequestError(e.status, e.message);
      throw e;
    }
    if (url.pathname === '/metrics') {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType }).end(text);
      return {};
    }
    if (url.pathname !== '/v1/features') throw new RequestError(404, `no route ${url.pathname}; use /v1/features, /metrics or /healthz`);
    let service: unknown;
    let rows: Record<string, unknown>[];
    if (method === 'GET') {
      service = url.searchParams.get('service');
      const keys: Record<string, unknown> = {};
      for (const [k, v] of url.searchParams) if (k !== 'service') keys[k] = v;
      rows = [keys];
    } else if (method === 'POST') {
      const body = await readBody(req);
      if (body === null || typeof body !== 'object' || Array.isArray(body))
        throw new RequestError(400, 'the body must be an object: {"service": NAME, "entities": [...]}');
      service = (body as Record<string, unknown>).service ?? (body as Record<string, unknown>).feature_service;
      rows = entityRowsOf((body as Record<string, unknown>).entities);
    } else throw new RequestError(405, `${method} is not allowed on /v1/features; use GET or POST`);
    const out = JSON.stringify(await lookup(service, rows));
    // Content-Length, not chunked framing: one write, and clients that frame by length read it.
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) }).end(out);
    return { service: service as string };
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).then(
      ({ service }) => {
        if (service) requests.inc({ service, code: '200' });
      },
      (e: Error) => {
        const status = e instanceof RequestError ? e.status : 500;
        const service = new URL(req.url ?? '/', 'http://x').searchParams.get('service') ?? '';
        requests.inc({ service: services.has(service) ? service : '', code: String(status) });
        if (!res.headersSent)
          res
            .writeHead(status, { 'content-type': 'application/json', ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}) })
            .end(JSON.stringify({ error: e instanceof RequestError ? e.message : `internal error: ${e.message}` }));
      },
    );
  };
  const server: Server = o.tls ? createHttpsServer(readTls(o.tls), onRequest) : createServer(onRequest);
  const stopTlsWatch = o.tls ? watchTls(server as HttpsServer, o.tls, (line) => process.stderr.write(`ghosteam features serve: ${line}\n`)) : undefined;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => done());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `${o.tls ? 'https' : 'http'}://${host}:${addr.port}`,
    server,
    close: () =>
      new Promise<void>((done) => {
        stopTlsWatch?.();
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

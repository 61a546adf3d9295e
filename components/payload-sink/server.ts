/**
 * The payload sink: an HTTP receiver for the CloudEvents of KServe's inference logger and of
 * ghosteam's model server, appending payload-log records (JSON Lines, ../drift/payload-log.ts reads
 * them) through the model server's rotating writer (PayloadLogger). In a cluster it is where the
 * InferenceService's `logger.url` points, and the file it writes is the one DriftMonitors read.
 *
 *   POST /            one CloudEvent (binary or structured) or a batch → 200 {"accepted": n}
 *   GET  /healthz     200 {"ok": true} (no token)
 *   GET  /metrics     Prometheus
 *
 * A bad event is a 400 {"error"}; a body over the limit 413; a missing or wrong bearer token 401.
 * Nothing a client sends yields a 5xx.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import { bearerCheck, readBody, send } from '../model-server/http.ts';
import { PayloadLogger } from '../model-server/payload-log.ts';
import { RequestError } from '../model-server/tensors.ts';
import { EventError, Pairer, parseCloudEvents, type SinkEvent } from './events.ts';

export interface PayloadSinkOptions {
  /** The JSON Lines file records are appended to (rotated to FILE.1 … at maxBytes). */
  readonly file: string;
  /** @default 8090 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** When set, POST / and /metrics need `Authorization: Bearer <token>` (at least 8 characters). */
  readonly token?: string;
  /** How long a KServe request waits for its response (and the other way round). @default 30000 */
  readonly pairTtlMs?: number;
  /** Unpaired halves held at most. @default 10000 */
  readonly maxPending?: number;
  /** @default 16 MiB */
  readonly maxBodyBytes?: number;
  /** Rotation of the file. @default 64 MiB, 5 files */
  readonly maxBytes?: number;
  readonly maxFiles?: number;
  /** @default 100 */
  readonly flushIntervalMs?: number;
  readonly now?: () => number;
}

export interface PayloadSink {
  readonly url: string;
  readonly port: number;
  readonly file: string;
  /** Counters, for tests and logs. */
  stats(): { accepted: number; rejected: number; written: number; dropped: number; pending: number; requestsAlone: number; responsesDropped: number; requestsDropped: number };
  /** Stops accepting, writes pending requests and flushes the file. */
  close(): Promise<void>;
}



export async function startPayloadSink(o: PayloadSinkOptions): Promise<PayloadSink> {
  const authorized = bearerCheck(o.token);
  const maxBody = o.maxBodyBytes ?? 16 * 1024 * 1024;
  const registry = new Registry();
  const events = new Counter({ name: 'ghosteam_payload_sink_events_total', help: 'CloudEvents accepted, by kind (request, response, record)', labelNames: ['kind'], registers: [registry] });
  const rejected = new Counter({ name: 'ghosteam_payload_sink_rejected_total', help: 'HTTP requests answered with a 4xx', labelNames: ['code'], registers: [registry] });
  const written = new Counter({ name: 'ghosteam_payload_sink_records_written_total', help: 'Payload records appended to the log', registers: [registry] });
  const dropped = new Counter({ name: 'ghosteam_payload_sink_records_dropped_total', help: 'Payload records dropped by the writer (buffer full or write failed)', registers: [registry] });
  const unpaired = new Counter({ name: 'ghosteam_payload_sink_unpaired_total', help: 'KServe halves whose other half did not come within the TTL: requests written alone, responses dropped, requests dropped (no model name)', labelNames: ['outcome'], registers: [registry] });
  const pendingGauge = new Gauge({ name: 'ghosteam_payload_sink_pending', help: 'KServe halves waiting for their other half', registers: [registry] });
  const writer = new PayloadLogger({ file: o.file, flushIntervalMs: o.flushIntervalMs ?? 100, ...(o.maxBytes ? { maxBytes: o.maxBytes } : {}), ...(o.maxFiles ? { maxFiles: o.maxFiles } : {}) }, (n) => dropped.inc(n), (n) => written.inc(n));
  const pairer = new Pairer({ ttlMs: o.pairTtlMs, maxPending: o.maxPending, now: o.now });
  let accepted = 0;
  let rejectedCount = 0;
  const last = { ...pairer.counts };
  const syncCounts = () => {
    const c = pairer.counts;
    unpaired.inc({ outcome: 'request_written' }, c.requestsAlone - last.requestsAlone);
    unpaired.inc({ outcome: 'response_dropped' }, c.responsesDropped - last.responsesDropped);
    unpaired.inc({ outcome: 'request_dropped' }, c.requestsDropped - last.requestsDropped);
    Object.assign(last, c);
    pendingGauge.set(pairer.size);
  };
  const expiry = setInterval(() => {
    for (const r of pairer.expire()) writer.push(r);
    syncCounts();
  }, Math.max(50, Math.min(1000, (o.pairTtlMs ?? 30_000) / 4)));
  expiry.unref();


  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    if (path === '/healthz') {
      if (method !== 'GET' && method !== 'HEAD') throw new RequestError(405, `${method} is not allowed on /healthz; use GET`);
      return send(res, 200, '{"ok":true}');
    }
    if (!authorized(req)) throw new RequestError(401, req.headers.authorization === undefined ? 'missing bearer token; send Authorization: Bearer <token>' : 'invalid bearer token');
    if (path === '/metrics') {
      if (method !== 'GET') throw new RequestError(405, `${method} is not allowed on /metrics; use GET`);
      syncCounts();
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
      return;
    }
    if (path !== '/') throw new RequestError(404, `no route ${path}; POST CloudEvents to /`);
    if (method !== 'POST') throw new RequestError(405, `${method} is not allowed on /; POST CloudEvents`);
    const body = (await readBody(req, maxBody)).toString('utf8');
    let evs: SinkEvent[];
    try {
      evs = parseCloudEvents(req.headers, body);
    } catch (e) {
      if (e instanceof EventError) throw new RequestError(400, e.message);
      throw e;
    }
    // A batch is taken in order: events before a bad one are kept, and the error names the bad one.
    for (const [i, ev] of evs.entries()) {
      try {
        if (ev.kind === 'record') writer.push(ev.record);
        else for (const r of pairer.add(ev)) writer.push(r);
      } catch (e) {
        if (!(e instanceof EventError)) throw e;
        accepted += i;
        throw new RequestError(400, evs.length > 1 ? `${e.message} (the ${i} events before it were accepted)` : e.message);
      }
      events.inc({ kind: ev.kind });
    }
    syncCounts();
    accepted += evs.length;
    send(res, 200, JSON.stringify({ accepted: evs.length }));
  }

  const server: Server = createServer({ requestTimeout: 60_000, headersTimeout: 30_000 }, (req, res) => {
    handle(req, res).catch((e: Error) => {
      const status = e instanceof RequestError ? e.status : 500;
      if (status < 500) {
        rejectedCount++;
        rejected.inc({ code: String(status) });
      }
      send(res, status, JSON.stringify({ error: status < 500 ? e.message : `internal error: ${e.message}` }), status === 401 ? { 'www-authenticate': 'Bearer' } : status === 405 ? { allow: 'GET, POST' } : {});
    });
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 8090, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    file: o.file,
    stats: () => ({ accepted, rejected: rejectedCount, written: writer.written, dropped: writer.dropped, pending: pairer.size, ...pairer.counts }),
    async close() {
      clearInterval(expiry);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      for (const r of pairer.drain()) writer.push(r);
      syncCounts();
      await writer.close();
    },
  };
}

/**
 * The payload sink: an HTTP receiver for the CloudEvents of KServe's inference logger and of
 * ghosteam's model server, appending payload-log records (JSON Lines, ../drift/payload-log.ts reads
 * them) through the shared JSON Lines writer (../model-server/jsonl-file.ts). In a cluster it is
 * where the InferenceService's `logger.url` points, and the file it writes is the one DriftMonitors read.
 *
 *   POST /            one CloudEvent (binary or structured) or a batch → 200 {"accepted": n}
 *   POST /v2/models/{name}/feedback   delayed labels joined to the logged predictions by request id
 *                     (../model-server/quality.ts: the same endpoint as the model server's; the
 *                     labels go to FILE.feedback, fsynced before the answer)
 *   GET  /healthz     200 {"ok": true}, or 503 {"ok": false, "reason"} while it cannot write (no token)
 *   GET  /metrics     Prometheus
 *
 * **A 2xx means durable.** The records of a request are written (and fsynced, with the default
 * policy `fsync: 'always'`; see ../model-server/jsonl-file.ts) before the answer. A KServe request or
 * response waiting for its other half is written to a journal (FILE.pending) before the answer, and
 * replayed on start, so `kill -9` loses nothing acknowledged. When it cannot keep that promise the
 * sink says no instead: 429 + Retry-After while the writer is behind (more than maxQueuedBytes
 * waiting) or a body waited 10 s for room in the in-flight budget, 503 + Retry-After while the disk refuses writes
 * (full, read-only); /healthz is then 503 and stderr says why, once per change.
 *
 * Memory is bounded by bytes: bodies in flight (maxInflightBytes), halves waiting for their pair
 * (maxPendingBytes; the oldest request is written alone when over), and the write queue.
 *
 * A bad event is a 400 {"error"}; a body over the limit 413; a missing or wrong bearer token 401.
 * Nothing a client sends yields a 5xx.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, rename, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { readBody, send } from '../model-server/http.ts';
import { AuthError, createAuthenticator, type AuthOptions } from '../security/auth.ts';
import { readTls, watchTls, type TlsFiles } from '../security/tls.ts';
import { recordJson, type PayloadRecord } from '../model-server/payload-log.ts';
import { JsonlFile, freeBytes, repairTornTail, type FsyncPolicy } from '../model-server/jsonl-file.ts';
import { RequestError } from '../model-server/tensors.ts';
import { EventError, Pairer, parseCloudEvents, type SinkEvent } from './events.ts';
import { QualityMonitor, registerQualityMetrics, type QualityOptions } from '../model-server/quality.ts';

export interface PayloadSinkOptions {
  /** The JSON Lines file records are appended to (rotated to FILE.1 … at maxBytes). */
  readonly file: string;
  /** @default 8090 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** When set, POST / and /metrics need `Authorization: Bearer <token>` (at least 8 characters). */
  readonly token?: string;
  /** OIDC/JWT tokens: POST / needs the `ingest` permission, /metrics `metrics` (see ../security/auth.ts). */
  readonly auth?: Omit<AuthOptions, 'token'>;
  /** HTTPS (re-read when the files change); with `clientCa`, only clients with a certificate it signed connect (mutual TLS). */
  readonly tls?: TlsFiles;
  /** How long a KServe request waits for its response (and the other way round). @default 30000 */
  readonly pairTtlMs?: number;
  /** Unpaired halves held at most. @default 10000 */
  readonly maxPending?: number;
  /** Bytes of unpaired halves held at most (their JSON). @default 32 MiB */
  readonly maxPendingBytes?: number;
  /** @default 16 MiB */
  readonly maxBodyBytes?: number;
  /** Body bytes being received and processed at once; a request beyond it waits (unread) for room, then gets a 429. @default 48 MiB */
  readonly maxInflightBytes?: number;
  /** Bytes waiting for the disk; more is a 429. @default 32 MiB */
  readonly maxQueuedBytes?: number;
  /** Rotation of the file. @default 64 MiB, 5 files */
  readonly maxBytes?: number;
  readonly maxFiles?: number;
  /** When the log is fsynced: 'always' (before each answer, group commit), 'interval', 'never'. @default 'always' */
  readonly fsync?: FsyncPolicy;
  /** Free bytes the disk needs before a sink that hit a write error takes events again (then a probe write decides). @default 64 KiB */
  readonly minFreeBytes?: number;
  /** Where state changes are reported. @default stderr */
  readonly log?: (line: string) => void;
  /**
   * Feedback (delayed labels) joined to the records this sink writes; the labels go to `file`
   * (default FILE.feedback). false turns the endpoint off.
   * @default {} (on, logged to FILE.feedback)
   */
  readonly quality?: false | QualityOptions;
  /** @deprecated records are written before the answer; kept so old callers still compile. */
  readonly flushIntervalMs?: number;
  readonly now?: () => number;
}

export interface PayloadSink {
  readonly url: string;
  readonly port: number;
  readonly file: string;
  /** Counters, for tests and logs. */
  stats(): {
    accepted: number;
    rejected: number;
    written: number;
    dropped: number;
    pending: number;
    requestsAlone: number;
    responsesDropped: number;
    requestsDropped: number;
    refused: number;
  };
  /** undefined while the sink takes events; else why not. */
  unready(): string | undefined;
  /** Stops accepting, writes pending requests and flushes the file. */
  close(): Promise<void>;
}

type Half = SinkEvent & { kind: 'request' | 'response' };

/** The journal of halves waiting for their pair: `{"add": half, "jid"}` lines and `{"done": jid}` lines. */
async function readJournal(file: string, log: (l: string) => void): Promise<Half[]> {
  const torn = await repairTornTail(file);
  if (torn) log(`payload sink journal ${file}: its last line was torn (${torn.bytes} bytes); moved them to ${torn.quarantine}`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  // Two passes: a half's done marker can land before its add line (concurrent commits).
  const adds = new Map<string, Half>();
  const done = new Set<string>();
  let bad = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const j = JSON.parse(line) as { add?: Half; done?: string; probe?: boolean };
      if (j.add && typeof j.add.jid === 'string' && (j.add.kind === 'request' || j.add.kind === 'response')) adds.set(j.add.jid, j.add);
      else if (typeof j.done === 'string') done.add(j.done);
      else if (j.probe !== true) bad++;
    } catch {
      bad++;
    }
  }
  if (bad > 0) log(`payload sink journal ${file}: skipped ${bad} unreadable line(s)`);
  return [...adds.values()].filter((h) => !done.has(h.jid!));
}

const journalLine = (h: Half): string => `{"add":${JSON.stringify(h)}}\n`;

/** Replaces `file` atomically with `text` (temporary file, fsync, rename, fsync of the directory). */
async function replaceFile(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  const d = await open(dirname(file), 'r');
  await d.sync().catch(() => undefined);
  await d.close();
}

/** A refusal the client should retry: 429 (busy) or 503 (cannot write), with Retry-After. */
class Refused extends RequestError {
  constructor(
    status: 429 | 503,
    message: string,
    readonly retryAfterS: number,
  ) {
    super(status, message);
  }
}

export async function startPayloadSink(o: PayloadSinkOptions): Promise<PayloadSink> {
  const auth = createAuthenticator({ ...o.auth, token: o.token });
  const maxBody = o.maxBodyBytes ?? 16 * 1024 * 1024;
  // One body of the largest size always fits, so a lone large event is never refused forever.
  const maxInflight = Math.max(o.maxInflightBytes ?? 48 * 1024 * 1024, maxBody);
  const maxQueued = o.maxQueuedBytes ?? 32 * 1024 * 1024;
  const minFree = o.minFreeBytes ?? 64 * 1024;
  const say = o.log ?? ((l: string) => void process.stderr.write(l + '\n'));
  const fsync = o.fsync ?? 'always';
  const registry = new Registry();
  const events = new Counter({
    name: 'ghosteam_payload_sink_events_total',
    help: 'CloudEvents accepted, by kind (request, response, record)',
    labelNames: ['kind'],
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'ghosteam_payload_sink_rejected_total',
    help: 'HTTP requests answered with a 4xx',
    labelNames: ['code'],
    registers: [registry],
  });
  const written = new Counter({ name: 'ghosteam_payload_sink_records_written_total', help: 'Payload records appended to the log', registers: [registry] });
  const dropped = new Counter({
    name: 'ghosteam_payload_sink_records_dropped_total',
    help: 'Acknowledged payload records that could not be written at shutdown (they stay in the journal for the next start)',
    registers: [registry],
  });
  const refusedCounter = new Counter({
    name: 'ghosteam_payload_sink_refused_total',
    help: 'POSTs refused for the client to retry: busy (429: writer behind, too many bytes in flight) or unwritable (503: disk full or failing)',
    labelNames: ['reason'],
    registers: [registry],
  });
  const readyGauge = new Gauge({
    name: 'ghosteam_payload_sink_ready',
    help: '1 while the sink takes events, 0 while it refuses them (see /healthz for why)',
    registers: [registry],
  });
  const unpaired = new Counter({
    name: 'ghosteam_payload_sink_unpaired_total',
    help: 'KServe halves whose other half did not come within the TTL: requests written alone, responses dropped, requests dropped (no model name)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const pendingGauge = new Gauge({ name: 'ghosteam_payload_sink_pending', help: 'KServe halves waiting for their other half', registers: [registry] });
  const pendingBytesGauge = new Gauge({
    name: 'ghosteam_payload_sink_pending_bytes',
    help: 'Bytes of the KServe halves waiting for their other half',
    registers: [registry],
  });
  const pairer = new Pairer({ ttlMs: o.pairTtlMs, maxPending: o.maxPending, maxPendingBytes: o.maxPendingBytes, now: o.now });
  const journalFile = `${o.file}.pending`;
  const openJournal = () => JsonlFile.open({ file: journalFile, maxBytes: Number.POSITIVE_INFINITY, fsync, log: say });

  // Halves acknowledged before the last stop or crash come back before anything new.
  const log = await JsonlFile.open({
    file: o.file,
    fsync,
    log: say,
    ...(o.maxBytes ? { maxBytes: o.maxBytes } : {}),
    ...(o.maxFiles ? { maxFiles: o.maxFiles } : {}),
  });
  const quality = o.quality === false ? undefined : await QualityMonitor.open({ file: `${o.file}.feedback`, log: say, ...o.quality });
  if (quality) {
    registerQualityMetrics(registry, quality);
    // Predictions logged before this start can still get their labels.
    await quality.seed(o.file);
  }
  const replayed = await readJournal(journalFile, say);
  if (replayed.length > 0) {
    const out: PayloadRecord[] = [];
    for (const h of replayed) out.push(...pairer.add(h));
    await log.append(out.map((r) => recordJson(r) + '\n').join(''));
    for (const r of out) quality?.observeRecord(r);
    pairer.takeReleased();
    say(`payload sink: ${replayed.length} KServe half/halves acknowledged before the last stop came back from ${journalFile}`);
  }
  await replaceFile(journalFile, pairer.held().map(journalLine).join(''));
  let journal = await openJournal();

  let accepted = 0;
  let rejectedCount = 0;
  let refusedCount = 0;
  let inflight = 0;
  let failure: string | undefined;
  let jidSeq = 0;
  const jidBase = `${Date.now().toString(36)}.${process.pid}`;
  const retry: PayloadRecord[] = [];
  let retryDone: string[] = [];
  let active = 0;
  let compacting: Promise<void> | undefined;
  const last = { ...pairer.counts };
  const syncCounts = () => {
    const c = pairer.counts;
    unpaired.inc({ outcome: 'request_written' }, c.requestsAlone - last.requestsAlone);
    unpaired.inc({ outcome: 'response_dropped' }, c.responsesDropped - last.responsesDropped);
    unpaired.inc({ outcome: 'request_dropped' }, c.requestsDropped - last.requestsDropped);
    Object.assign(last, c);
    pendingGauge.set(pairer.size);
    pendingBytesGauge.set(pairer.bytes);
  };
  const queued = () => log.queuedBytes + journal.queuedBytes;
  const unready = (): string | undefined =>
    failure ?? (queued() > maxQueued ? `the writer is behind: ${queued()} bytes wait for the disk (limit ${maxQueued})` : undefined);
  const setFailure = (e: Error): void => {
    const why = `cannot write ${o.file}: ${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.replace('  ', ' ');
    if (!failure) say(`payload sink: ${why}; answering 503 with Retry-After (and /healthz 503) until it can write again`);
    failure = why;
    readyGauge.set(0);
  };
  const clearFailure = (): void => {
    if (failure) say(`payload sink: writing ${o.file} again`);
    failure = undefined;
    readyGauge.set(1);
  };
  readyGauge.set(1);

  /** Writes records, then the journal's new halves and done markers; resolves when durable. */
  async function commit(records: PayloadRecord[], adds: string, done: string[]): Promise<void> {
    while (compacting) await compacting;
    active++;
    try {
      await log.append(records.map((r) => recordJson(r) + '\n').join(''));
      written.inc(records.length);
      for (const r of records) quality?.observeRecord(r);
      await journal.append(adds + done.map((j) => `{"done":${JSON.stringify(j)}}\n`).join(''));
    } finally {
      active--;
    }
  }

  /** Rewrites the journal with only the halves still waiting (no commit runs meanwhile). */
  async function compact(): Promise<void> {
    if (compacting) return compacting;
    compacting = (async () => {
      while (active > 0) await new Promise((r) => setTimeout(r, 2));
      await journal.close();
      try {
        await replaceFile(journalFile, pairer.held().map(journalLine).join(''));
        retryDone = [];
      } finally {
        journal = await openJournal();
      }
    })().finally(() => {
      compacting = undefined;
    });
    return compacting;
  }

  let ticking = false;
  const tick = async (): Promise<void> => {
    if (ticking) return;
    ticking = true;
    try {
      if (failure && (await freeBytes(dirname(o.file)).catch(() => 0)) < minFree) return;
      const recs = [...retry.splice(0), ...pairer.expire()];
      const done = [...retryDone.splice(0), ...pairer.takeReleased()];
      syncCounts();
      try {
        // While failing, a probe line proves the disk takes writes again.
        await commit(recs, failure ? '{"probe":true}\n' : '', done);
        clearFailure();
      } catch (e) {
        retry.unshift(...recs);
        retryDone.unshift(...done);
        setFailure(e as Error);
        return;
      }
      const limit = pairer.size === 0 ? 1 : Math.max(64 * 1024 * 1024, 4 * (o.maxPendingBytes ?? 32 * 1024 * 1024));
      if (journal.bytes >= limit) await compact().catch((e: Error) => setFailure(e));
    } finally {
      ticking = false;
    }
  };
  const expiry = setInterval(() => void tick(), Math.max(50, Math.min(1000, (o.pairTtlMs ?? 30_000) / 4)));
  expiry.unref();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    if (path === '/healthz') {
      if (method !== 'GET' && method !== 'HEAD') throw new RequestError(405, `${method} is not allowed on /healthz; use GET`);
      const why = unready();
      return why ? send(res, 503, JSON.stringify({ ok: false, reason: why })) : send(res, 200, '{"ok":true}');
    }
    try {
      const p = auth.check(req.headers.authorization, { permission: path === '/metrics' ? 'metrics' : 'ingest' });
      if (p instanceof Promise) await p;
    } catch (e) {
      if (e instanceof AuthError) throw new RequestError(e.status, e.message);
      throw e;
    }
    if (path === '/metrics') {
      if (method !== 'GET') throw new RequestError(405, `${method} is not allowed on /metrics; use GET`);
      syncCounts();
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
      return;
    }
    const fb = /^\/v2\/models\/([^/]+)\/feedback$/.exec(path);
    if (fb && quality) {
      if (method !== 'POST') throw new RequestError(405, `${method} is not allowed on ${path}; use POST`);
      let model: string;
      try {
        model = decodeURIComponent(fb[1]);
      } catch {
        throw new RequestError(400, `the path ${JSON.stringify(path)} has a malformed %-escape`);
      }
      const text = (await readBody(req, maxBody)).toString('utf8');
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        throw new RequestError(400, `the feedback body is not valid JSON: ${(e as Error).message}`);
      }
      return send(res, 200, JSON.stringify(await quality.feedback(model, parsed)));
    }
    if (path !== '/') throw new RequestError(404, `no route ${path}; POST CloudEvents to /`);
    if (method !== 'POST') throw new RequestError(405, `${method} is not allowed on /; POST CloudEvents`);
    if (failure) throw new Refused(503, `the payload sink cannot write its log (${failure}); nothing was accepted, retry later`, 5);
    const why = unready();
    if (why) throw new Refused(429, `${why}; nothing was accepted, retry later`, 1);
    const len = Number(req.headers['content-length']);
    const reserve = Number.isFinite(len) && len >= 0 && len <= maxBody ? len : maxBody;
    // The body is not read until its bytes fit (TCP holds the rest back); after a while, a 429.
    if (!(await admit(reserve)))
      throw new Refused(
        429,
        `${inflight} body bytes are being processed (limit ${maxInflight}) and this request waited ${ADMIT_WAIT_MS} ms; nothing was accepted, retry later`,
        1,
      );
    try {
      await receive(req, res);
    } finally {
      inflight -= reserve;
      wakeAdmissions();
    }
  }

  const ADMIT_WAIT_MS = 10_000;
  const waiting: Array<() => void> = [];
  const wakeAdmissions = (): void => {
    for (const w of waiting.splice(0)) w();
  };
  /** Takes `bytes` of the in-flight budget, waiting for it up to ADMIT_WAIT_MS; false if it never fit. */
  async function admit(bytes: number): Promise<boolean> {
    const deadline = Date.now() + ADMIT_WAIT_MS;
    while (inflight > 0 && inflight + bytes > maxInflight) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        waiting.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    inflight += bytes;
    return true;
  }

  async function receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = (await readBody(req, maxBody)).toString('utf8');
    let evs: SinkEvent[];
    try {
      evs = parseCloudEvents(req.headers, body);
    } catch (e) {
      if (e instanceof EventError) throw new RequestError(400, e.message);
      throw e;
    }
    // A batch is taken in order: events before a bad one are kept (and written), and the error names the bad one.
    const own: PayloadRecord[] = [];
    const derived: PayloadRecord[] = [];
    const adds: Half[] = [];
    let bad: EventError | undefined;
    let n = 0;
    for (const ev of evs) {
      try {
        if (ev.kind === 'record') own.push(ev.record);
        else {
          // Its share of the body is its size (serializing it again just to measure would cost as much as the rest).
          const sized: Half = { ...ev, jid: `${jidBase}.${jidSeq++}`, bytes: Math.ceil(body.length / evs.length) };
          derived.push(...pairer.add(sized));
          if (pairer.holds(sized)) adds.push(sized);
        }
      } catch (e) {
        if (!(e instanceof EventError)) throw e;
        bad = e;
        break;
      }
      events.inc({ kind: ev.kind });
      n++;
    }
    const released = pairer.takeReleased();
    const held = adds.filter((h) => pairer.holds(h));
    const heldIds = new Set(adds.map((h) => h.jid));
    const done = released.filter((j) => !heldIds.has(j)); // a new half already gone again needs no journal line
    syncCounts();
    try {
      await commit([...own, ...derived], held.map(journalLine).join(''), done);
    } catch (e) {
      // This request's own events are not acknowledged (it gets a 503 and retries); records made
      // from halves acknowledged earlier are kept for the next attempt.
      for (const h of held) pairer.drop(h);
      pairer.takeReleased();
      retry.push(...derived);
      retryDone.push(...done);
      setFailure(e as Error);
      throw new Refused(503, `the payload sink cannot write its log (${failure}); nothing of this request was accepted, retry later`, 5);
    }
    accepted += n;
    if (bad) throw new RequestError(400, evs.length > 1 ? `${bad.message} (the ${n} events before it were accepted)` : bad.message);
    send(res, 200, JSON.stringify({ accepted: n }));
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((e: Error) => {
      const status = e instanceof RequestError ? e.status : 500;
      if (e instanceof Refused) {
        refusedCount++;
        refusedCounter.inc({ reason: e.status === 503 ? 'unwritable' : 'busy' });
        req.resume(); // the body is not read: let it drain so the answer reaches the client
      } else if (status < 500) {
        rejectedCount++;
        rejected.inc({ code: String(status) });
      }
      const extra: Record<string, string> =
        e instanceof Refused
          ? { 'retry-after': String(e.retryAfterS) }
          : status === 401
            ? { 'www-authenticate': 'Bearer' }
            : status === 403
              ? { 'www-authenticate': 'Bearer error="insufficient_scope"' }
              : status === 405
                ? { allow: 'GET, POST' }
                : status === 503
                  ? { 'retry-after': '5' }
                  : {};
      const detail = e instanceof RequestError ? e.detail : undefined;
      send(res, status, JSON.stringify({ error: e instanceof RequestError ? e.message : `internal error: ${e.message}`, ...detail }), extra);
    });
  };
  const httpOptions = { requestTimeout: 60_000, headersTimeout: 30_000 };
  const server: Server | HttpsServer = o.tls ? createHttpsServer({ ...httpOptions, ...readTls(o.tls) }, onRequest) : createServer(httpOptions, onRequest);
  const stopTlsWatch = o.tls ? watchTls(server as HttpsServer, o.tls, say) : undefined;
  server.on('tlsClientError', (_err: Error, socket: Socket) => socket.destroy());
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
    url: `${o.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    file: o.file,
    stats: () => ({
      accepted,
      rejected: rejectedCount,
      refused: refusedCount,
      written: log.linesWritten,
      dropped: retry.length,
      pending: pairer.size,
      ...pairer.counts,
    }),
    unready,
    async close() {
      clearInterval(expiry);
      stopTlsWatch?.();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      while (ticking) await new Promise((r) => setTimeout(r, 5));
      const recs = [...retry.splice(0), ...pairer.drain()];
      const done = [...retryDone.splice(0), ...pairer.takeReleased()];
      syncCounts();
      try {
        await commit(recs, '', done);
        await journal.close();
        await replaceFile(journalFile, '');
      } catch (e) {
        // The journal still holds them: the next start writes them.
        dropped.inc(recs.length);
        say(`payload sink: could not write ${recs.length} record(s) at shutdown (${(e as Error).message}); they stay in ${journalFile} for the next start`);
        await journal.close().catch(() => undefined);
      }
      await log.close();
      await quality?.close();
    },
  };
}

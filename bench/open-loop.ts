/**
 * An open-loop HTTP/1.1 load generator for latency at a fixed request rate (used by bench:serve).
 *
 * Why not autocannon's `overallRate`: autocannon 9 gives each connection a quota of
 * rate/connections requests per second and refills it from a 1 s setInterval; within the second a
 * connection sends back to back, as fast as the server answers (lib/httpClient.js `_doRequest`,
 * `reqsMadeThisSecond`). At 5,000 req/s over 64 connections that is a closed-loop burst at the
 * server's full speed for the first ~0.3 s of every second and silence for the rest, so its "p99 at
 * 5,000 req/s" is the p99 of a saturated server. Its coordinated-omission correction also uses
 * `Math.ceil(1 / rate)` = 1 ms as the expected interval (rate is per second per connection), which
 * back-fills synthetic samples for every response slower than 1 ms.
 *
 * Here request i is due at start + i / rate (an even schedule, no bursts beyond the timer's 1 ms
 * granularity), goes out on any idle keep-alive connection, and waits in a backlog only when all
 * connections are busy. Latency is measured from the request's *due* time to the last byte of its
 * response, so a late generator or a full backlog counts against the server (no coordinated
 * omission); the generator's own lateness is reported separately (`sendLagMs`).
 *
 * Run as a child process (optionally pinned with taskset):
 *   node --import tsx bench/open-loop.ts '{"url":"http://127.0.0.1:8080/v2/models/fraud/infer","body":"...","rate":5000,"connections":64,"seconds":5}'
 * prints one JSON line (OpenLoopResult).
 */
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface OpenLoopOptions {
  readonly url: string;
  readonly body: string;
  readonly rate: number;
  readonly connections: number;
  readonly seconds: number;
  /** Unmeasured lead-in at the same rate. @default 1 */
  readonly warmupSeconds?: number;
  /** Also return every measured latency (due → response, ms), to merge windows. @default false */
  readonly raw?: boolean;
  /** How long after the schedule's end unanswered requests are given up (counted in errors). @default 10 */
  readonly giveUpSeconds?: number;
  /** `Authorization` header values; request i sends the (i mod n)-th. @default - no Authorization header */
  readonly authorizations?: readonly string[];
}

export interface Quantiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export interface OpenLoopResult {
  /** Responses per second achieved over the measured window. */
  readonly rps: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
  /** Due time → last response byte (ms, 0.01 ms resolution). */
  readonly latencyMs: Quantiles;
  /** Due time → the request's write: the generator's own contribution. */
  readonly sendLagMs: Quantiles;
  /** The request's write → last response byte: what the server and the network stack took. */
  readonly serviceMs: Quantiles;
  /** Requests that found every connection busy and waited in the backlog. */
  readonly backlogged: number;
  /** Every measured latency in ms (0.01 ms resolution), when asked for with `raw`. */
  readonly latencies?: number[];
}

/** Quantiles of a sample (sorted in place), rounded to 0.01 ms. */
export function quantiles(xs: Float64Array): Quantiles {
  xs.sort();
  const r = (v: number) => Math.round(v * 100) / 100;
  const q = (p: number) => (xs.length ? r(xs[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)]) : 0);
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: xs.length ? r(xs[xs.length - 1]) : 0 };
}

/** A socket that carries its connection's state. */
type ConnSocket = Socket & { conn: Conn };

/** One keep-alive connection of a generator: its socket, unparsed response bytes, and the request in flight. */
export interface Conn {
  readonly socket: Socket;
  buf: Buffer | undefined;
  /** Due time of the request in flight (its send time in a closed loop), -1 when idle. */
  due: number;
  sent: number;
  idx: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** The bytes of one POST with a JSON body (and an Authorization header when given), written as they are for every request. */
export function postBytes(url: string, body: string, authorization?: string): Buffer {
  const u = new URL(url);
  const b = Buffer.from(body);
  const auth = authorization !== undefined ? `authorization: ${authorization}\r\n` : '';
  return Buffer.concat([
    Buffer.from(`POST ${u.pathname}${u.search} HTTP/1.1\r\nhost: ${u.host}\r\n${auth}content-type: application/json\r\ncontent-length: ${b.length}\r\n\r\n`),
    b,
  ]);
}

/**
 * An answer this generator cannot time: it frames responses by Content-Length only, so a chunked
 * (or close-delimited) body would count as done at its headers — a latency too good to be true.
 * The run is refused with this error rather than reported.
 */
export class FramingError extends Error {}

/** The body length a response head declares; undefined when it relies on another framing (chunked, close). */
export function declaredBodyLength(head: string): number | undefined {
  const status = Number(head.slice(9, 12));
  // No body by definition (RFC 9112 §6.3): 1xx, 204, 304.
  if ((status >= 100 && status < 200) || status === 204 || status === 304) return 0;
  const m = /\r\ncontent-length:[ \t]*(\d+)[ \t]*(?:\r\n|$)/i.exec(head);
  if (!m || /\r\ntransfer-encoding:/i.test(head)) return undefined;
  return Number(m[1]);
}

/**
 * Opens `n` keep-alive connections to the URL's host. `onResponse(conn, status)` is called once per
 * complete response (Content-Length framing: the servers measured here send it; any other framing
 * destroys the connection with a FramingError), `onError(conn, err)` when a socket fails.
 */
export async function connectAll(
  url: string,
  n: number,
  onResponse: (c: Conn, status: number) => void,
  onError: (c: Conn, err?: Error) => void,
): Promise<Conn[]> {
  const u = new URL(url);
  function onData(this: ConnSocket, chunk: Buffer): void {
    const c = this.conn;
    c.buf = c.buf ? Buffer.concat([c.buf, chunk]) : chunk;
    for (;;) {
      const b: Buffer | undefined = c.buf;
      if (!b) return;
      const he: number = b.indexOf(HEADER_END);
      if (he < 0) return;
      const head = b.toString('latin1', 0, he);
      const len = declaredBodyLength(head);
      if (len === undefined) {
        c.buf = undefined;
        this.destroy(
          new FramingError(
            `${url} answered without Content-Length (${head.split('\r\n', 1)[0]}; ${/transfer-encoding:[^\r]*/i.exec(head)?.[0] ?? 'no length'}): this generator times Content-Length-framed answers only — make the server send Content-Length`,
          ),
        );
        return;
      }
      const end: number = he + 4 + len;
      if (b.length < end) return;
      const status = Number(head.slice(9, 12));
      c.buf = b.length > end ? b.subarray(end) : undefined;
      onResponse(c, status);
    }
  }
  function onSocketError(this: ConnSocket, err: Error): void {
    onError(this.conn, err);
  }
  const conns = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Conn>((resolve, reject) => {
          const plain = connect(Number(u.port), u.hostname);
          plain.setNoDelay(true);
          const c: Conn = { socket: plain, buf: undefined, due: -1, sent: 0, idx: -1 };
          // The connection rides on its socket, so the data handler finds it without a lookup.
          const socket: ConnSocket = Object.assign(plain, { conn: c });
          socket.once('connect', () => resolve(c));
          socket.once('error', reject);
        }),
    ),
  );
  for (const c of conns) {
    c.socket.removeAllListeners('error');
    c.socket.on('data', onData);
    c.socket.on('error', onSocketError);
  }
  return conns;
}

export async function openLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const requests = o.authorizations?.length ? o.authorizations.map((a) => postBytes(o.url, o.body, a)) : [postBytes(o.url, o.body)];
  const interval = 1000 / o.rate;
  const warm = (o.warmupSeconds ?? 1) * 1000;
  const total = Math.round(((warm + o.seconds * 1000) / 1000) * o.rate);
  const measuredFrom = Math.round((warm / 1000) * o.rate);
  const lat = new Float64Array(total - measuredFrom);
  const lag = new Float64Array(total - measuredFrom);
  const svc = new Float64Array(total - measuredFrom);
  const answered = new Uint8Array(total - measuredFrom);
  let done = 0;
  let measured = 0;
  let non2xx = 0;
  let errors = 0;
  let backlogged = 0;
  let firstMeasuredDue = 0;
  let lastEnd = 0;
  const idle: Conn[] = [];
  const backlog: number[] = []; // request indices
  let start = 0;
  let next = 0; // next request index to schedule
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((r) => {
    finish = r;
  });

  function send(c: Conn, i: number): void {
    c.due = start + i * interval;
    c.sent = performance.now();
    c.idx = i;
    c.socket.write(requests[i % requests.length]);
  }

  function complete(c: Conn, status: number): void {
    const end = performance.now();
    const i = c.idx;
    if (i >= measuredFrom) {
      const k = i - measuredFrom;
      answered[k] = 1;
      lat[k] = end - c.due;
      lag[k] = c.sent - c.due;
      svc[k] = end - c.sent;
      measured++;
      if (status < 200 || status > 299) non2xx++;
      lastEnd = end;
    }
    c.due = -1;
    done++;
    const b = backlog.shift();
    if (b !== undefined) send(c, b);
    else idle.push(c);
    if (done === total) finish();
  }

  let refused: FramingError | undefined;
  const conns = await connectAll(o.url, o.connections, complete, (c, err) => {
    if (err instanceof FramingError) {
      refused ??= err;
      finish();
      return;
    }
    errors++;
    if (c.due >= 0) complete(c, 0);
  });
  idle.push(...conns);

  start = performance.now() + 5;
  firstMeasuredDue = start + measuredFrom * interval;
  function tick(): void {
    if (refused) return;
    const now = performance.now();
    while (next < total && start + next * interval <= now) {
      const c = idle.pop();
      if (c) send(c, next);
      else {
        backlog.push(next);
        if (next >= measuredFrom) backlogged++;
      }
      next++;
    }
    if (next < total) setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
  }
  setTimeout(tick, 5);
  // A connection the server closed would leave its request unanswered: give up (10 s) after the schedule ends.
  const guard = setTimeout(
    () => {
      errors += total - done;
      finish();
    },
    warm + o.seconds * 1000 + (o.giveUpSeconds ?? 10) * 1000,
  );
  await finished;
  clearTimeout(guard);
  for (const c of conns) c.socket.destroy();
  if (refused) throw refused;
  // A request never answered (counted in errors) took at least until the generator gave up: its
  // latency is that lower bound, not the 0 its slot held, so the quantiles cannot look better for
  // it. Send lag and service time are known only for answered requests.
  const gaveUp = performance.now();
  const answeredIdx: number[] = [];
  for (let k = 0; k < lat.length; k++) {
    if (answered[k]) answeredIdx.push(k);
    else lat[k] = gaveUp - (start + (k + measuredFrom) * interval);
  }
  const only = (xs: Float64Array) => (answeredIdx.length === xs.length ? xs : Float64Array.from(answeredIdx, (k) => xs[k]));
  const span = (lastEnd - firstMeasuredDue) / 1000;
  return {
    rps: Math.round(measured / span),
    requests: measured,
    non2xx,
    errors,
    latencyMs: quantiles(lat),
    sendLagMs: quantiles(only(lag)),
    serviceMs: quantiles(only(svc)),
    backlogged,
    ...(o.raw ? { latencies: Array.from(lat, (v) => Math.round(v * 100) / 100) } : {}),
  };
}

/** A TCP port free on loopback right now (for a child server to listen on). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * The machine's CPU pressure counter (/proc/pressure/cpu, "some" total, µs): time during which some
 * task waited for a CPU, neighbours' work included. Its growth over a window, divided by the window,
 * is the share of the window a runnable task found no free CPU. NaN where the kernel has no PSI.
 */
export function cpuPressureSomeUs(): number {
  try {
    return Number(/some .*total=(\d+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))![1]);
  } catch {
    return Number.NaN;
  }
}

/** How long a process's main thread has sat runnable but not running (/proc/PID/schedstat, ns); 0 when unreadable. */
export function schedWaitNs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);
  } catch {
    return 0;
  }
}

/** Responses must keep up with at least this share of the schedule for a figure to be "at the rate". */
export const AT_RATE_MIN_SHARE = 0.97;
/** The generator's own lateness (due → write) p99 above which the tail is the generator's, not the server's (ms). */
export const AT_RATE_MAX_SEND_LAG_MS = 2;

/**
 * Why a fixed-rate result is not a latency at its rate, or null when it is (pure): the responses
 * fell behind the schedule (the server, or the machine, could not sustain the rate: the p99 is then
 * a queue's growth over the window), or the generator itself sent late (a busy machine starves it:
 * the lateness counts in every request's latency).
 */
export function atRateProblem(r: { readonly rate: number; readonly rps: number; readonly sendLagP99: number }): string | null {
  const why: string[] = [];
  if (r.rps < r.rate * AT_RATE_MIN_SHARE) why.push(`${r.rps} req/s achieved, under ${Math.round(AT_RATE_MIN_SHARE * 100)}% of ${r.rate}`);
  if (r.sendLagP99 > AT_RATE_MAX_SEND_LAG_MS) why.push(`the load generator sent late (lag p99 ${r.sendLagP99} ms > ${AT_RATE_MAX_SEND_LAG_MS} ms)`);
  return why.length ? why.join(', ') : null;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await openLoop(JSON.parse(process.argv[2]) as OpenLoopOptions);
  process.stdout.write(JSON.stringify(r) + '\n');
}

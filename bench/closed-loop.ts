/**
 * A lean closed-loop HTTP/1.1 load generator for throughput (used by bench:serve's tree-ensemble case).
 *
 * Each of `connections` keep-alive connections sends the same precomputed request, waits for the
 * whole response, and sends the next one at once: the load of `connections` clients that each wait
 * for their answer. It writes one Buffer per request and reads only the status line and
 * Content-Length of each answer, so it costs its CPU a few tens of µs per request. autocannon
 * (9, one thread) costs ~500 µs per request on the shared 2-core machine, more than the model
 * server it drives: against a fast server it measured its own limit (a throughput ratio capped at
 * about KServe's CPU per request over autocannon's). The generator's CPU per request is reported
 * beside every figure, so a run where it is still the limit says so.
 *
 * Run as a child process:
 *   node --import tsx bench/closed-loop.ts '{"url":"http://127.0.0.1:8080/v1/models/xgb:predict","body":"...","connections":64,"seconds":5}'
 * prints one JSON line (ClosedLoopResult).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connectAll, FramingError, postBytes, quantiles, type Conn } from './open-loop.ts';

export interface ClosedLoopOptions {
  readonly url: string;
  readonly body: string;
  readonly connections: number;
  readonly seconds: number;
  /** Unmeasured lead-in with the same load. @default 1 */
  readonly warmupSeconds?: number;
  /** The server's pid: its CPU time (/proc/PID/stat) over exactly the measured window is reported. */
  readonly serverPid?: number;
  /** A server of several processes (a primary and its workers): their CPU time together. */
  readonly serverPids?: readonly number[];
}

export interface ClosedLoopResult {
  /** Responses per second over the measured window. */
  readonly rps: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
  /** Write → last response byte (ms). */
  readonly p50: number;
  readonly p99: number;
  /** This generator's own CPU (user + system) per measured request, µs. */
  readonly generatorCpuUsPerReq: number;
  /** The server's CPU (all its threads) per measured request, µs, when serverPid was given. */
  readonly serverCpuUsPerReq?: number;
}

/** CPU seconds (user + system, all threads) a process has used. */
export function cpuSecondsOf(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

export async function closedLoop(o: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const request = postBytes(o.url, o.body);
  const warm = (o.warmupSeconds ?? 1) * 1000;
  const lat: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let measuring = false;
  let stopping = false;
  let inFlight = 0;
  let drained: () => void = () => undefined;

  function send(c: Conn): void {
    c.sent = performance.now();
    c.due = c.sent;
    inFlight++;
    c.socket.write(request);
  }
  function complete(c: Conn, status: number): void {
    const end = performance.now();
    inFlight--;
    if (measuring) {
      lat.push(end - c.sent);
      if (status < 200 || status > 299) non2xx++;
    }
    c.due = -1;
    if (!stopping) send(c);
    else if (inFlight === 0) drained();
  }
  let refused: FramingError | undefined;
  const conns = await connectAll(o.url, o.connections, complete, (c, err) => {
    if (err instanceof FramingError) refused ??= err;
    if (measuring) errors++;
    if (c.due >= 0) {
      c.due = -1;
      inFlight--;
      if (stopping && inFlight === 0) drained();
    }
  });
  for (const c of conns) send(c);
  await new Promise((r) => setTimeout(r, warm));
  measuring = true;
  const cpu0 = process.cpuUsage();
  const pids = o.serverPids ?? (o.serverPid ? [o.serverPid] : []);
  const serverCpu = (): number => pids.reduce((a, p) => a + cpuSecondsOf(p), 0);
  const s0 = serverCpu();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, o.seconds * 1000));
  measuring = false;
  const cpu = process.cpuUsage(cpu0);
  const s1 = serverCpu();
  const span = (performance.now() - t0) / 1000;
  stopping = true;
  // Answers still in flight are waited for (not counted), for at most 10 s; one never answered is an error.
  await new Promise<void>((r) => {
    drained = r;
    if (inFlight === 0) r();
    setTimeout(() => {
      errors += inFlight;
      r();
    }, 10_000).unref();
  });
  for (const c of conns) c.socket.destroy();
  if (refused) throw refused;
  const q = quantiles(Float64Array.from(lat));
  return {
    rps: Math.round(lat.length / span),
    requests: lat.length,
    non2xx,
    errors,
    p50: q.p50,
    p99: q.p99,
    generatorCpuUsPerReq: lat.length ? Math.round((cpu.user + cpu.system) / lat.length) : 0,
    ...(pids.length && lat.length ? { serverCpuUsPerReq: Math.round(((s1 - s0) * 1e6) / lat.length) } : {}),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await closedLoop(JSON.parse(process.argv[2]) as ClosedLoopOptions);
  process.stdout.write(JSON.stringify(r) + '\n');
}

/**
 * Live traffic for the demo: real Open Inference Protocol calls (`POST /v2/models/{name}/infer`)
 * over keep-alive HTTP at a steady rate, one row per request, from whichever period's rows are set.
 * It records what a client sees — per time bucket, the answers of each version (from the
 * `x-ghosteam-version` response header) and the errors — for the report's traffic chart.
 */
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface TrafficBucket {
  /** Wall-clock start of the bucket (ms). */
  readonly t: number;
  /** Successful answers per version. */
  readonly ok: Record<string, number>;
  /** Error answers (any non-2xx or a failed connection), by status code. */
  readonly errors: Record<string, number>;
  /** The traffic phase (which period's rows were sent). */
  phase: string;
}

export interface TrafficOptions {
  /** Model server base URL (http://127.0.0.1:PORT). */
  readonly url: string;
  readonly model: string;
  /** The model's input tensor name (from its metadata). */
  readonly input: string;
  /** Requests per second in total. */
  readonly rate: number;
  /** Requests in flight at most. @default 4 */
  readonly concurrency?: number;
  /** Width of a chart bucket. @default 1000 */
  readonly bucketMs?: number;
}

function post(agent: Agent, url: URL, body: string): Promise<{ status: number; version?: string }> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, version: res.headers['x-ghosteam-version'] as string | undefined }));
      res.on('error', () => resolve({ status: 0 }));
    });
    req.on('error', () => resolve({ status: 0 }));
    req.end(body);
  });
}

export class Traffic {
  readonly buckets: TrafficBucket[] = [];
  sent = 0;
  private rows: readonly number[][] = [];
  private phase = '';
  private next = 0;
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly agent: Agent;
  private readonly endpoint: URL;
  private readonly bucketMs: number;
  private readonly concurrency: number;

  constructor(private readonly o: TrafficOptions) {
    if (!(o.rate > 0)) throw new Error(`traffic rate must be positive; got ${o.rate}`);
    this.concurrency = o.concurrency ?? 4;
    this.bucketMs = o.bucketMs ?? 1000;
    this.agent = new Agent({ keepAlive: true, maxSockets: this.concurrency });
    this.endpoint = new URL(`/v2/models/${encodeURIComponent(o.model)}/infer`, o.url);
  }

  /** Sends these rows from now on (cycling through them). */
  use(rows: readonly number[][], phase: string): void {
    if (rows.length === 0) throw new Error(`traffic phase ${phase} has no rows`);
    this.rows = rows;
    this.phase = phase;
    this.next = 0;
  }

  get currentPhase(): string {
    return this.phase;
  }

  private bucket(now: number): TrafficBucket {
    const t = Math.floor(now / this.bucketMs) * this.bucketMs;
    let b = this.buckets[this.buckets.length - 1];
    if (!b || b.t !== t) {
      b = { t, ok: {}, errors: {}, phase: this.phase };
      this.buckets.push(b);
    }
    return b;
  }

  start(): void {
    if (this.running) return;
    if (this.rows.length === 0) throw new Error('call use(rows, phase) before start()');
    this.running = true;
    const interval = (1000 * this.concurrency) / this.o.rate;
    for (let w = 0; w < this.concurrency; w++) {
      this.loops.push(
        (async () => {
          let due = Date.now() + (w * interval) / this.concurrency;
          while (this.running) {
            const wait = due - Date.now();
            if (wait > 0) await sleep(wait);
            else if (wait < -interval * 4) due = Date.now(); // fell behind (a busy machine): don't burst to catch up
            if (!this.running) break;
            due += interval;
            const row = this.rows[this.next++ % this.rows.length];
            const body = JSON.stringify({ inputs: [{ name: this.o.input, shape: [1, row.length], datatype: 'FP32', data: row }] });
            this.sent++;
            const r = await post(this.agent, this.endpoint, body);
            const b = this.bucket(Date.now());
            if (r.status >= 200 && r.status < 300) b.ok[r.version ?? '?'] = (b.ok[r.version ?? '?'] ?? 0) + 1;
            else b.errors[String(r.status)] = (b.errors[String(r.status)] ?? 0) + 1;
          }
        })(),
      );
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
    this.agent.destroy();
  }

  /** Totals over all buckets. */
  totals(): { ok: Record<string, number>; errors: number } {
    const ok: Record<string, number> = {};
    let errors = 0;
    for (const b of this.buckets) {
      for (const [v, n] of Object.entries(b.ok)) ok[v] = (ok[v] ?? 0) + n;
      for (const n of Object.values(b.errors)) errors += n;
    }
    return { ok, errors };
  }
}

/**
 * Payload logging for drift monitoring. A sampled share of requests is recorded as
 *
 *   {"ts":"<ISO>","model":"fraud","version":"2","id":"<request id>",
 *    "inputs":{"<tensor>":{"shape":[n,k],"datatype":"FP32","data":[...]}},
 *    "outputs":{"<tensor>":{"shape":[n,1],"datatype":"FP32","data":[...]}}}
 *
 * (the drift monitor's reader depends on exactly this shape) and written either to a rotating JSON
 * Lines file or POSTed to an HTTP sink as a CloudEvents batch (`application/cloudevents-batch+json`,
 * type `io.ghosteam.inference.payload`), as KServe's logger posts to its sink.
 *
 * The request path only pushes a small object onto a bounded buffer. Serialisation and I/O happen
 * on a timer; when the buffer is full, records are dropped and counted, never waited for (a model
 * server's payload log is a sample for drift monitoring; inference never waits on it). The file is
 * written by ./jsonl-file.ts, which repairs a torn last line on open and never leaves one behind.
 */
import { randomUUID } from 'node:crypto';
import { JsonlFile, type FsyncPolicy } from './jsonl-file.ts';
import { toPlain, type OipDatatype, type TypedData } from './tensors.ts';

export interface PayloadTensor {
  readonly shape: readonly number[];
  readonly datatype: OipDatatype;
  readonly data: readonly unknown[] | TypedData | ArrayLike<unknown>;
}

export interface PayloadRecord {
  readonly ts: string;
  readonly model: string;
  readonly version: string;
  readonly id: string;
  /** The Kubernetes namespace of the InferenceService (records the payload sink got from KServe's logger); absent locally. */
  readonly namespace?: string;
  readonly inputs: Record<string, PayloadTensor>;
  readonly outputs: Record<string, PayloadTensor>;
}

export interface PayloadLogOptions {
  /** JSON Lines file; rotated to FILE.1 … FILE.<maxFiles> when it passes maxBytes. */
  readonly file?: string;
  /** HTTP(S) URL receiving CloudEvents batches. */
  readonly sinkUrl?: string;
  /** Share of requests recorded, 0–1. @default 1 */
  readonly sampleRate?: number;
  /** Records held before dropping. @default 10000 */
  readonly bufferSize?: number;
  /** @default 100 */
  readonly flushIntervalMs?: number;
  /** @default 64 MiB */
  readonly maxBytes?: number;
  /** Rotated files kept. @default 5 */
  readonly maxFiles?: number;
  /** Source attribute of the CloudEvents. @default 'ghosteam/model-server' */
  readonly source?: string;
  /** When the file is fsynced (see ./jsonl-file.ts). @default 'interval' */
  readonly fsync?: FsyncPolicy;
  /**
   * Instead of writing the file itself, hand each batch of JSON Lines to this function, which
   * resolves once they are written: a cluster worker's records go to the primary, the file's one
   * writer (./cluster.ts). A rejection counts the batch as dropped, as a failed write does.
   */
  readonly forward?: (lines: string) => Promise<void>;
}

/** Opens the payload log file as PayloadLogger does (rotation and fsync defaults included). */
export function openPayloadFile(opts: PayloadLogOptions & { readonly file: string }): Promise<JsonlFile> {
  return JsonlFile.open({ file: opts.file, maxBytes: opts.maxBytes ?? 64 * 1024 * 1024, maxFiles: opts.maxFiles ?? 5, fsync: opts.fsync ?? 'interval' });
}

function plainTensor(t: PayloadTensor): { shape: number[]; datatype: OipDatatype; data: unknown[] } {
  return { shape: [...t.shape], datatype: t.datatype, data: Array.isArray(t.data) ? (t.data as unknown[]) : toPlain(t.data, t.datatype) };
}

/** The JSON form of a record, with typed arrays turned into plain number arrays. */
export function recordJson(r: PayloadRecord): string {
  const map = (ts: Record<string, PayloadTensor>) => Object.fromEntries(Object.entries(ts).map(([k, v]) => [k, plainTensor(v)]));
  return JSON.stringify({
    ts: r.ts,
    model: r.model,
    version: r.version,
    id: r.id,
    ...(r.namespace ? { namespace: r.namespace } : {}),
    inputs: map(r.inputs),
    outputs: map(r.outputs),
  });
}

function lines(batch: readonly PayloadRecord[]): string {
  let text = '';
  for (const r of batch) text += recordJson(r) + '\n';
  return text;
}

export class PayloadLogger {
  private buffer: PayloadRecord[] = [];
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;
  private out: Promise<JsonlFile> | undefined;
  dropped = 0;
  written = 0;
  failed = 0;
  lastError: string | undefined;
  readonly sampleRate: number;
  private readonly bufferSize: number;

  constructor(
    private readonly opts: PayloadLogOptions,
    private readonly onDrop: (n: number) => void = () => {},
    private readonly onWrite: (n: number) => void = () => {},
  ) {
    if (!opts.file && !opts.sinkUrl) throw new Error('payload log needs a file or a sinkUrl');
    if (opts.sinkUrl && !/^https?:\/\//.test(opts.sinkUrl)) throw new Error(`payload log sinkUrl '${opts.sinkUrl}' must be an http:// or https:// URL`);
    this.sampleRate = opts.sampleRate ?? 1;
    if (!(this.sampleRate >= 0 && this.sampleRate <= 1)) throw new Error(`payload log sampleRate must be between 0 and 1; got ${opts.sampleRate}`);
    this.bufferSize = opts.bufferSize ?? 10000;
    this.timer = setInterval(() => void this.flush(), opts.flushIntervalMs ?? 100);
    this.timer.unref();
  }

  /** True when this request should be recorded (cheap; call before building the record). */
  sample(): boolean {
    return this.sampleRate >= 1 || (this.sampleRate > 0 && Math.random() < this.sampleRate);
  }

  /** Never blocks: queues the record, or drops and counts it when the buffer is full. */
  push(r: PayloadRecord): void {
    if (this.buffer.length >= this.bufferSize) {
      this.dropped++;
      this.onDrop(1);
      return;
    }
    this.buffer.push(r);
  }

  /** Writes what's buffered. Concurrent calls share one flush. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.buffer.length === 0) return Promise.resolve();
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = (this.opts.forward ? this.opts.forward(lines(batch)) : this.opts.file ? this.writeFile(batch) : this.post(batch))
      .then(() => {
        this.written += batch.length;
        this.onWrite(batch.length);
      })
      .catch((e: Error) => {
        this.failed += batch.length;
        this.dropped += batch.length;
        this.onDrop(batch.length);
        this.lastError = e.message;
      })
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  private async writeFile(batch: PayloadRecord[]): Promise<void> {
    const text = lines(batch);
    this.out ??= openPayloadFile({ ...this.opts, file: this.opts.file! });
    const out = await this.out.catch((e: Error) => {
      this.out = undefined; // try again on the next flush
      throw e;
    });
    await out.append(text);
  }

  private async post(batch: PayloadRecord[]): Promise<void> {
    const source = this.opts.source ?? 'ghosteam/model-server';
    const events = batch.map(
      (r) =>
        `{"specversion":"1.0","id":${JSON.stringify(r.id + ':' + randomUUID())},"source":${JSON.stringify(source)},"type":"io.ghosteam.inference.payload","time":${JSON.stringify(r.ts)},"subject":${JSON.stringify(`${r.model}/${r.version}`)},"datacontenttype":"application/json","data":${recordJson(r)}}`,
    );
    const res = await fetch(this.opts.sinkUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: `[${events.join(',')}]`,
      signal: AbortSignal.timeout(10000),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw new Error(`payload sink ${this.opts.sinkUrl} answered ${res.status}`);
  }

  /** Flushes everything and stops the timer. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    while (this.buffer.length > 0 || this.flushing) await this.flush();
    if (this.out) await (await this.out.catch(() => undefined))?.close();
  }
}

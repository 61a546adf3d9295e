/**
 * Batch-sized column buffers, reused. A streamed step that allocates a fresh Float64Array or
 * Int32Array per column per record batch hands V8 ~9 MB of new ArrayBuffer memory a batch (10M rows
 * × 20 columns: ~1.4 GB over an ingest); V8 counts ArrayBuffer memory as external memory and starts
 * a major GC every 64 MB of it, and the kernel faults in and zeroes every fresh page. Buffers taken
 * here come back when the dataset writer has written them (stream.ts: FileSink), so an ingest
 * cycles through the few batches in flight instead.
 *
 * Only buffers this pool lent come back: `give` ignores any other ArrayBuffer (a caller's own
 * arrays, Arrow's dictionaries), and a buffer is taken back once per loan. A taken buffer is not
 * zeroed: its user writes every slot it reads.
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly lent = new WeakSet<ArrayBuffer>();
  private freeBytes = 0;
  /** Loans served from the free list, for tests and profiles. */
  reused = 0;
  constructor(
    /** Free bytes kept at most; beyond, a returned buffer is left to the GC. */
    private readonly maxFreeBytes: number,
  ) {}

  /** An ArrayBuffer of exactly `bytes` bytes, reused when one is free (contents undefined). */
  take(bytes: number): ArrayBuffer {
    const list = this.free.get(bytes);
    let buf = list?.pop();
    if (buf) {
      this.freeBytes -= bytes;
      this.reused++;
    } else buf = new ArrayBuffer(bytes);
    this.lent.add(buf);
    return buf;
  }

  /** Returns a buffer this pool lent (no one reads or writes it any more); any other is ignored. */
  give(buf: ArrayBufferLike): void {
    if (!(buf instanceof ArrayBuffer) || !this.lent.has(buf)) return;
    this.lent.delete(buf);
    if (this.freeBytes + buf.byteLength > this.maxFreeBytes) return;
    let list = this.free.get(buf.byteLength);
    if (!list) this.free.set(buf.byteLength, (list = []));
    list.push(buf);
    this.freeBytes += buf.byteLength;
  }

  /**
   * Returns a loan that went to a worker thread and came back (batch prediction's model inputs): a
   * transferred ArrayBuffer arrives as a new object, which `give` can't recognise. Only a buffer
   * of `bytes` bytes, the size it was lent at, is kept; the caller hands each one back once.
   */
  giveMoved(buf: ArrayBufferLike, bytes: number): void {
    if (!(buf instanceof ArrayBuffer) || buf.byteLength !== bytes) return;
    if (this.freeBytes + bytes > this.maxFreeBytes) return;
    let list = this.free.get(bytes);
    if (!list) this.free.set(bytes, (list = []));
    list.push(buf);
    this.freeBytes += bytes;
  }

  /** Whether `view` spans the whole of a buffer this pool lent (so writing it out may return the buffer). */
  owns(view: ArrayBufferView): boolean {
    return view.byteOffset === 0 && view.buffer instanceof ArrayBuffer && view.byteLength === view.buffer.byteLength && this.lent.has(view.buffer);
  }

  float64(n: number): Float64Array {
    return new Float64Array(this.take(n * 8), 0, n);
  }

  int32(n: number): Int32Array {
    return new Int32Array(this.take(n * 4), 0, n);
  }
}

/** The process's pool of batch buffers (64 MiB free at most: a few batches of 20 columns). */
export const batchBuffers = new BufferPool(64 << 20);

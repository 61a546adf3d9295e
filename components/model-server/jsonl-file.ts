/**
 * The JSON Lines file writer behind every payload log (`ghosteam serve --payload-log` and the payload
 * sink): appends whole lines, rotates by size, and never leaves or builds on a torn line.
 *
 * - **Torn tail repair on open.** A `kill -9` or a full disk during an append can leave a last line
 *   without its newline. `open()` moves those bytes to `FILE.torn-<time>` (quarantine, for a human
 *   to look at), truncates the file after its last newline and says so through `log`, so the next
 *   record starts on a line of its own instead of being glued onto the broken one.
 * - **All or nothing per append.** When a write fails part way (ENOSPC, EIO), the file is truncated
 *   back to where the append began, and the caller's promise rejects: nothing half-written stays.
 * - **Group commit.** Appends that arrive while a write is in progress are written together by the
 *   next one, and with `fsync: 'always'` one fsync covers them all, so durability costs one fsync
 *   per batch of concurrent callers, not one per caller.
 *
 * Durability policy (`fsync`):
 *   'always'   append() resolves after write + fsync: the line survives kill -9 and power loss.
 *   'interval' append() resolves after write (the page cache: survives kill -9 of the process, not a
 *              power loss); fsync runs every `fsyncIntervalMs`.
 *   'never'    write only; the kernel flushes when it likes.
 */
import { open, rename, mkdir, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export const FSYNC_POLICIES = ['always', 'interval', 'never'] as const;
export type FsyncPolicy = (typeof FSYNC_POLICIES)[number];

export interface JsonlFileOptions {
  readonly file: string;
  /** Rotated to FILE.1 … FILE.<maxFiles> when an append would pass this size. @default 64 MiB */
  readonly maxBytes?: number;
  /** @default 5 */
  readonly maxFiles?: number;
  /** @default 'always' */
  readonly fsync?: FsyncPolicy;
  /** With fsync 'interval'. @default 1000 */
  readonly fsyncIntervalMs?: number;
  /** Where repairs and failures are reported (one sentence each). @default stderr */
  readonly log?: (line: string) => void;
  /** Clock for the quarantine file's name (tests). */
  readonly now?: () => Date;
}

export interface TornRepair {
  /** Bytes moved out of the log. */
  readonly bytes: number;
  /** Where they went. */
  readonly quarantine: string;
}

interface Pending {
  readonly text: string;
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

/**
 * Finds a torn last line of `file` (bytes after the last newline) and moves it to a quarantine file.
 * Returns what it did, or undefined when the file ends with a newline (or is empty or missing).
 */
export async function repairTornTail(file: string, now: () => Date = () => new Date()): Promise<TornRepair | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r+');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const size = (await fh.stat()).size;
    if (size === 0) return undefined;
    const last = Buffer.alloc(1);
    await fh.read(last, 0, 1, size - 1);
    if (last[0] === 0x0a) return undefined;
    // Scan backwards for the last newline, 64 KiB at a time.
    const chunk = Buffer.alloc(64 * 1024);
    let end = size;
    let cut = 0;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const { bytesRead } = await fh.read(chunk, 0, end - start, start);
      const nl = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (nl >= 0) {
        cut = start + nl + 1;
        break;
      }
      end = start;
    }
    const tail = Buffer.alloc(size - cut);
    await fh.read(tail, 0, tail.length, cut);
    const quarantine = `${file}.torn-${now().toISOString().replace(/[:.]/g, '-')}`;
    await writeFile(quarantine, tail, { flag: 'wx' });
    await fh.truncate(cut);
    await fh.sync();
    return { bytes: tail.length, quarantine };
  } finally {
    await fh.close();
  }
}

export class JsonlFile {
  private fh: FileHandle | undefined;
  private size = 0;
  private queue: Pending[] = [];
  private writing = false;
  private queuedBytesNow = 0;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The last write error (cleared by the next successful write). */
  lastError: NodeJS.ErrnoException | undefined;
  /** Lines written since open. */
  linesWritten = 0;
  readonly file: string;
  readonly policy: FsyncPolicy;
  private readonly maxBytes: number;
  private readonly maxFiles: number;
  private readonly log: (line: string) => void;

  private constructor(private readonly o: JsonlFileOptions) {
    this.file = o.file;
    this.policy = o.fsync ?? 'always';
    if (!FSYNC_POLICIES.includes(this.policy)) throw new Error(`fsync policy '${String(o.fsync)}' is not one of ${FSYNC_POLICIES.join(', ')}`);
    this.maxBytes = o.maxBytes ?? 64 * 1024 * 1024;
    this.maxFiles = o.maxFiles ?? 5;
    this.log = o.log ?? ((l) => process.stderr.write(l + '\n'));
  }

  /** Opens (creating the directory), repairing a torn last line first. */
  static async open(o: JsonlFileOptions): Promise<JsonlFile> {
    const f = new JsonlFile(o);
    await mkdir(dirname(o.file), { recursive: true });
    const torn = await repairTornTail(o.file, o.now);
    if (torn)
      f.log(
        `payload log ${o.file}: its last line was torn (${torn.bytes} bytes without a newline, left by a crash or a full disk); moved them to ${torn.quarantine} and truncated the log after its last whole line`,
      );
    await f.openHandle();
    if (f.policy === 'interval') {
      f.timer = setInterval(() => void f.syncIfDirty(), o.fsyncIntervalMs ?? 1000);
      f.timer.unref();
    }
    return f;
  }

  private async openHandle(): Promise<void> {
    this.fh = await open(this.file, 'a');
    this.size = (await this.fh.stat()).size;
  }

  /** Size of the current file. */
  get bytes(): number {
    return this.size;
  }

  /** Bytes handed to append() and not yet written. */
  get queuedBytes(): number {
    return this.queuedBytesNow;
  }

  /**
   * Appends `text` (one or more lines, each ending with '\n'). Resolves once written (and fsynced,
   * per the policy); rejects with the write's error, in which case none of `text` is in the file.
   */
  append(text: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`payload log ${this.file} is closed`));
    if (text.length === 0) return Promise.resolve();
    if (!text.endsWith('\n')) return Promise.reject(new Error('append() takes whole lines ending with a newline'));
    return new Promise<void>((resolve, reject) => {
      const bytes = Buffer.byteLength(text);
      this.queue.push({ text, bytes, resolve, reject });
      this.queuedBytesNow += bytes;
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        // One write per batch, but a rotation boundary between callers is respected.
        const batch: Pending[] = [];
        let bytes = 0;
        while (this.queue.length > 0 && (batch.length === 0 || bytes + this.queue[0].bytes <= 8 * 1024 * 1024)) {
          const p = this.queue.shift()!;
          batch.push(p);
          bytes += p.bytes;
        }
        this.queuedBytesNow -= bytes;
        try {
          await this.writeBatch(batch, bytes);
          this.lastError = undefined;
          for (const p of batch) p.resolve();
        } catch (e) {
          this.lastError = e as NodeJS.ErrnoException;
          for (const p of batch) p.reject(e as Error);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private async writeBatch(batch: Pending[], bytes: number): Promise<void> {
    if (this.size > 0 && this.size + bytes > this.maxBytes) await this.rotate();
    const fh = this.fh!;
    const before = this.size;
    const buf = Buffer.from(batch.length === 1 ? batch[0].text : batch.map((p) => p.text).join(''));
    try {
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await fh.write(buf, off, buf.length - off, null);
        off += bytesWritten;
      }
      if (this.policy === 'always') await fh.sync();
      else this.dirty = true;
    } catch (e) {
      // Take back what part of the batch reached the file: no torn line for the next append.
      await fh.truncate(before).catch(() => undefined);
      throw e;
    }
    this.size = before + buf.length;
    for (const p of batch) this.linesWritten += countLines(p.text);
  }

  private async rotate(): Promise<void> {
    await this.fh?.close();
    for (let i = this.maxFiles - 1; i >= 1; i--) await rename(`${this.file}.${i}`, `${this.file}.${i + 1}`).catch(() => {});
    await rename(this.file, `${this.file}.1`).catch(() => {});
    await this.openHandle();
    if (this.policy === 'always') {
      // The renames are durable only once the directory is.
      const dir = await open(dirname(this.file), 'r');
      await dir.sync().catch(() => undefined);
      await dir.close();
    }
  }

  private async syncIfDirty(): Promise<void> {
    if (!this.dirty || !this.fh) return;
    this.dirty = false;
    await this.fh.sync().catch(() => undefined);
  }

  /** Waits for queued appends, fsyncs and closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.writing || this.queue.length > 0) {
      if (!this.writing) void this.drain();
      await new Promise((r) => setImmediate(r));
    }
    if (this.timer) clearInterval(this.timer);
    if (this.fh) {
      await this.fh.sync().catch(() => undefined);
      await this.fh.close();
      this.fh = undefined;
    }
  }
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Free bytes for unprivileged writers on the file system holding `path` (statfs). */
export async function freeBytes(path: string): Promise<number> {
  const { statfs } = await import('node:fs/promises');
  const s = await statfs(path);
  return Number(s.bavail) * Number(s.bsize);
}

/** True when `file` exists. */
export async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

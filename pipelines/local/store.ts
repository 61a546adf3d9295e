/**
 * Local state of the engine under one root (default `.ghosteam/`):
 *   store/sha256/<2 hex>/<64 hex>   content-addressed artifacts (read-only files)
 *   store/corrupt/<64 hex>.<time>    artifacts whose bytes no longer matched their name (quarantined)
 *   cache/<2 hex>/<key>.json         step-cache entries: outputs (digests) and output params of a task
 *   runs/<run id>/record.json        run records;  runs/<run id>/logs/<node>.log  task logs
 *   work/<run id>/<node>/<attempt>/  scratch and output files of an attempt (removed when it ends)
 * Every file is written atomically (temporary file + rename), so a crash never leaves a torn file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { ParamValue } from '../../components/component.ts';
import type { ArtifactRef, RunRecord } from './types.ts';

/**
 * Writes `data` to `file` atomically: a sibling temporary file, then rename. With `mkdirs`, a missing
 * directory is made and the write tried again — cheaper than a mkdir before every write: on a busy
 * machine each filesystem call is a round trip through libuv's thread pool that costs milliseconds,
 * and the directory is there on every write but the first.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: { mkdirs?: boolean } = {}): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    try {
      await writeFile(tmp, data);
    } catch (e) {
      if (!opts.mkdirs || (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await mkdir(dirname(file), { recursive: true });
      await writeFile(tmp, data);
    }
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

export async function sha256File(file: string): Promise<{ hex: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { hex: h.digest('hex'), size };
}

export type Verdict = 'ok' | 'missing' | 'corrupt';

export interface VerifyReport {
  /** Files checked and their total size. */
  readonly checked: number;
  readonly bytes: number;
  /** Files whose bytes no longer match their digest (moved to store/corrupt/ when repairing). */
  readonly corrupt: ReadonlyArray<{ readonly digest: string; readonly actual: string; readonly path: string; readonly quarantined?: string }>;
  /** Names in the store that are not a digest (temporary files of a crashed writer, foreign files). */
  readonly foreign: readonly string[];
}

/**
 * Content-addressed artifacts. Every reuse is verified: `verify(digest)` hashes the file (once per
 * process for an unchanged inode/size/mtime/ctime) and moves a file whose bytes no longer match its
 * name to store/corrupt/, so the task that made it runs again and `put` stores good bytes. `put`
 * of content already stored verifies the existing file too and replaces it when corrupt (also
 * under --no-cache). `verifyAll` is the full check behind `ghosteam store verify`.
 */
export class ArtifactStore {
  readonly dir: string;
  readonly corruptDir: string;
  /** digest → the stat stamp it was verified at, in this process. */
  private readonly verified = new Map<string, string>();
  constructor(root: string) {
    this.dir = join(root, 'store', 'sha256');
    this.corruptDir = join(root, 'store', 'corrupt');
  }

  pathOf(digest: string): string {
    const hex = digest.replace(/^sha256:/, '');
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`'${digest}' is not a sha256 digest`);
    return join(this.dir, hex.slice(0, 2), hex);
  }

  async has(digest: string): Promise<boolean> {
    return stat(this.pathOf(digest)).then(
      (s) => s.isFile(),
      () => false,
    );
  }

  /**
   * Checks that the stored file's bytes still hash to `digest`. A corrupt file is quarantined
   * (store/corrupt/<hex>.<time>) and 'corrupt' returned: the caller must not use it.
   */
  async verify(digest: string): Promise<Verdict> {
    const path = this.pathOf(digest);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) return 'missing';
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    const want = `sha256:${digest.replace(/^sha256:/, '')}`;
    if (this.verified.get(want) === stamp) return 'ok';
    const { hex } = await sha256File(path);
    if (`sha256:${hex}` === want) {
      this.verified.set(want, stamp);
      return 'ok';
    }
    this.verified.delete(want);
    await this.quarantine(want);
    return 'corrupt';
  }

  /** Moves the stored file of `digest` to store/corrupt/; returns where it went. */
  async quarantine(digest: string): Promise<string> {
    const hex = digest.replace(/^sha256:/, '');
    await mkdir(this.corruptDir, { recursive: true });
    const dest = join(this.corruptDir, `${hex}.${new Date().toISOString().replace(/[:.]/g, '-')}`);
    await rename(this.pathOf(digest), dest);
    return dest;
  }

  /**
   * Moves `file` into the store (it is consumed) and returns its digest. Content already stored is
   * kept when its bytes are still right, and replaced when they are not; new content lands by
   * rename, so readers never see a partial file.
   */
  async put(file: string, kind: ArtifactRef['kind']): Promise<ArtifactRef> {
    const st = await stat(file);
    if (!st.isFile()) throw new Error(`'${file}' is not a regular file (artifacts are single files)`);
    const { hex, size } = await sha256File(file);
    const digest = `sha256:${hex}`;
    const dest = this.pathOf(digest);
    if ((await this.has(digest)) && (await this.verify(digest)) === 'ok') {
      await unlink(file).catch(() => {});
      return { kind, digest, size };
    }
    await mkdir(join(this.dir, hex.slice(0, 2)), { recursive: true });
    await chmod(file, 0o444);
    try {
      await rename(file, dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
      const tmp = `${dest}.${randomBytes(4).toString('hex')}.tmp`;
      await copyFile(file, tmp);
      await chmod(tmp, 0o444);
      await rename(tmp, dest);
      await unlink(file).catch(() => {});
    }
    const s2 = await stat(dest);
    this.verified.set(digest, `${s2.ino}:${s2.size}:${s2.mtimeMs}:${s2.ctimeMs}`);
    return { kind, digest, size };
  }

  /** Hashes every stored file; with `repair`, quarantines the corrupt ones so the next run rebuilds them. */
  async verifyAll(o: { repair?: boolean } = {}): Promise<VerifyReport> {
    let checked = 0;
    let bytes = 0;
    const corrupt: Array<{ digest: string; actual: string; path: string; quarantined?: string }> = [];
    const foreign: string[] = [];
    const prefixes = await readdir(this.dir).catch(() => [] as string[]);
    for (const pre of prefixes.sort()) {
      const names = await readdir(join(this.dir, pre)).catch(() => [] as string[]);
      for (const name of names.sort()) {
        const path = join(this.dir, pre, name);
        if (!/^[0-9a-f]{64}$/.test(name) || name.slice(0, 2) !== pre) {
          foreign.push(path);
          continue;
        }
        const { hex, size } = await sha256File(path);
        checked++;
        bytes += size;
        if (hex === name) continue;
        const entry: { digest: string; actual: string; path: string; quarantined?: string } = { digest: `sha256:${name}`, actual: `sha256:${hex}`, path };
        if (o.repair) entry.quarantined = await this.quarantine(entry.digest);
        corrupt.push(entry);
      }
    }
    return { checked, bytes, corrupt, foreign };
  }
}

export interface CacheEntry {
  readonly key: string;
  readonly task: string;
  readonly runId: string;
  readonly createdAt: string;
  readonly outputs: Record<string, ArtifactRef>;
  readonly outputParams: Record<string, ParamValue>;
}

export class StepCache {
  readonly dir: string;
  constructor(root: string) {
    this.dir = join(root, 'cache');
  }
  private file(key: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.json`);
  }
  async get(key: string): Promise<CacheEntry | undefined> {
    try {
      return JSON.parse(await readFile(this.file(key), 'utf8')) as CacheEntry;
    } catch {
      return undefined;
    }
  }
  async put(e: CacheEntry): Promise<void> {
    await writeFileAtomic(this.file(e.key), JSON.stringify(e), { mkdirs: true });
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A record's status as readers should see it: a 'Running' run whose process is gone was interrupted. */
export function effectiveStatus(r: RunRecord): RunRecord['status'] | 'Interrupted' {
  return r.status === 'Running' && (r.host !== hostname() || !isAlive(r.pid)) ? 'Interrupted' : r.status;
}

export class RunStore {
  readonly dir: string;
  constructor(root: string) {
    this.dir = join(root, 'runs');
  }
  runDir(id: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id)) throw new Error(`'${id}' is not a valid run id`);
    return join(this.dir, id);
  }
  async save(r: RunRecord): Promise<void> {
    await writeFileAtomic(join(this.runDir(r.id), 'record.json'), JSON.stringify(r, null, 2) + '\n', { mkdirs: true });
  }
  async load(id: string): Promise<RunRecord> {
    let text: string;
    try {
      text = await readFile(join(this.runDir(id), 'record.json'), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error(`run '${id}' not found in ${this.dir}; list runs with 'ghosteam runs list'`);
      }
      throw e;
    }
    try {
      return JSON.parse(text) as RunRecord;
    } catch (e) {
      throw new Error(`${join(this.runDir(id), 'record.json')}: not valid JSON (${(e as Error).message})`);
    }
  }
  /** All runs, newest first. Unreadable records are skipped. */
  async list(): Promise<RunRecord[]> {
    let ids: string[];
    try {
      ids = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: RunRecord[] = [];
    for (const id of ids) {
      try {
        out.push(await this.load(id));
      } catch {
        /* a run being created or a foreign file */
      }
    }
    return out.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : a.id < b.id ? 1 : -1));
  }
  async readLog(id: string, rel: string): Promise<string> {
    return readFile(join(this.runDir(id), rel), 'utf8').catch(() => '');
  }
}

export async function removeDir(d: string): Promise<void> {
  await rm(d, { recursive: true, force: true }).catch(() => {});
}

/**
 * Content digests of local files that tasks read by name (Component.fileParams), for step-cache
 * keys. Hashing is remembered by (inode, size, mtime) in cache/files.json, so an unchanged large
 * file is not read again on every run; any change to it is a new digest.
 */
export class FileDigests {
  private readonly path: string;
  /** Loaded once per run, shared by tasks digesting at the same time. */
  private memo: Promise<Record<string, { stat: string; digest: string }>> | undefined;
  /** Per run: each file is stat'd and hashed once, however many tasks read it. */
  private readonly pending = new Map<string, Promise<string>>();
  constructor(root: string) {
    this.path = join(root, 'cache', 'files.json');
  }
  /** 'sha256:…' of the file at `abs`, or 'missing' / 'unreadable:<code>' (the task then fails with its own message). */
  of(abs: string): Promise<string> {
    let p = this.pending.get(abs);
    if (!p) this.pending.set(abs, (p = this.digest(abs)));
    return p;
  }
  private async digest(abs: string): Promise<string> {
    let st;
    try {
      st = await stat(abs);
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `unreadable:${(e as NodeJS.ErrnoException).code ?? 'error'}`;
    }
    if (!st.isFile()) return 'not-a-file';
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    type Memo = Record<string, { stat: string; digest: string }>;
    const memo = await (this.memo ??= readFile(this.path, 'utf8').then(
      (t) => JSON.parse(t) as Memo,
      (): Memo => ({}),
    ));
    const hit = memo[abs];
    if (hit && hit.stat === stamp) return hit.digest;
    let digest: string;
    try {
      digest = `sha256:${(await sha256File(abs)).hex}`;
    } catch (e) {
      return `unreadable:${(e as NodeJS.ErrnoException).code ?? 'error'}`;
    }
    memo[abs] = { stat: stamp, digest };
    await mkdir(dirname(this.path), { recursive: true });
    await writeFileAtomic(this.path, JSON.stringify(memo));
    return digest;
  }
}

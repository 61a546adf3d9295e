/**
 * The local model registry: plain files under a directory (default `.ghosteam/registry`).
 *
 *   <root>/.registry.lock                          proper-lockfile lock (a directory while held)
 *   <root>/models/<name>/model.json                { name, description?, aliases, createdAt }
 *   <root>/models/<name>/versions/<n>/version.json the version record: its presence IS the version
 *   <root>/models/<name>/versions/<n>/<file>       the copied model file (e.g. model.onnx)
 *
 * A version's `source` is stored relative to the registry root (`models/<name>/versions/<n>/<file>`)
 * and read back as an absolute path under the root it is read from, so a copied or moved registry
 * serves its own files. Records written with an absolute source (before) are read as they are.
 *
 * Crash safety (a kill -9 at any moment): every JSON file is replaced atomically (write-file-atomic:
 * temp file, fsync, rename), and a version is committed by writing its version.json last, after its
 * model file is complete. A crash before that leaves a directory without version.json, which every
 * reader ignores and the next writer of that number clears.
 * Concurrency: every write holds one registry-wide lock, so version numbers are allocated under it
 * and two writers never take the same number. A lock left by a killed writer goes stale after
 * `lockStaleMs` and is taken over. Reads take no lock (they only see whole files).
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import lockfile from 'proper-lockfile';
import writeFileAtomic from 'write-file-atomic';
import { checkAlias, checkModelName, isModelName, notFoundAlias, notFoundModel, notFoundVersion, RegistryError } from './errors.ts';
import {
  digestMismatch,
  reusableVersion,
  type ModelRegistry,
  type ModelVersion,
  type RegisteredModel,
  type RegisteredVersion,
  type RegisterInput,
  type VersionRef,
} from './types.ts';

interface ModelRecord {
  name: string;
  description?: string;
  aliases: Record<string, number>;
  createdAt: string;
}

type VersionRecord = Omit<ModelVersion, 'aliases'>;

export interface LocalRegistryOptions {
  /** @default '.ghosteam/registry' (relative to the working directory) */
  readonly dir?: string;
  /** A lock older than this (its holder died) is taken over. @default 10000 */
  readonly lockStaleMs?: number;
  /** Clock, for tests. */
  readonly now?: () => Date;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  // One 1 MiB buffer read into again and again: a read stream's 64 KiB chunks are a new buffer and
  // a thread-pool round trip each (20,000 of them for a 1.3 GB batch prediction input).
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return 'sha256:' + h.digest('hex');
}

async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new RegistryError('INVALID', `${path} is not valid JSON (${(err as Error).message}); it was not written by ghosteam, restore it from a backup`, {
      cause: err,
    });
  }
}

export class LocalRegistry implements ModelRegistry {
  readonly kind = 'local' as const;
  readonly root: string;
  private readonly staleMs: number;
  private readonly now: () => Date;

  constructor(opts: LocalRegistryOptions = {}) {
    this.root = resolve(opts.dir ?? '.ghosteam/registry');
    this.staleMs = Math.max(2000, opts.lockStaleMs ?? 10000);
    this.now = opts.now ?? (() => new Date());
  }

  private modelDir(name: string): string {
    return join(this.root, 'models', name);
  }

  private versionDir(name: string, v: number): string {
    return join(this.modelDir(name), 'versions', String(v));
  }

  /** Runs `fn` holding the registry lock; throws if the lock was lost (so no write is committed unsafely). */
  private async locked<T>(fn: (assertHeld: () => void) => Promise<T>): Promise<T> {
    await mkdir(this.root, { recursive: true });
    let compromised: Error | undefined;
    const release = await lockfile.lock(this.root, {
      lockfilePath: join(this.root, '.registry.lock'),
      realpath: false,
      stale: this.staleMs,
      update: Math.floor(this.staleMs / 4),
      retries: { retries: 1000, factor: 1.3, minTimeout: 10, maxTimeout: 250, randomize: true },
      onCompromised: (err) => {
        compromised = err;
      },
    });
    const assertHeld = (): void => {
      if (compromised) throw new RegistryError('CONFLICT', `lost the registry lock at ${this.root} (${compromised.message}); nothing was committed, retry`);
    };
    try {
      return await fn(assertHeld);
    } finally {
      await release().catch(() => undefined);
    }
  }

  private async readModel(name: string): Promise<ModelRecord | undefined> {
    return readJson<ModelRecord>(join(this.modelDir(name), 'model.json'));
  }

  private async requireModel(name: string): Promise<ModelRecord> {
    checkModelName(name);
    const m = await this.readModel(name);
    if (!m) throw notFoundModel(name, `the local registry at ${this.root}`, await this.modelNames());
    return m;
  }

  private async modelNames(): Promise<string[]> {
    const names = await readdir(join(this.root, 'models')).catch(() => [] as string[]);
    const out: string[] = [];
    for (const n of names.sort()) if (await this.readModel(n)) out.push(n);
    return out;
  }

  /** Committed version numbers, ascending. */
  private async versionNumbers(name: string): Promise<number[]> {
    const dirs = await readdir(join(this.modelDir(name), 'versions')).catch(() => [] as string[]);
    const out: number[] = [];
    for (const d of dirs) {
      if (!/^[1-9]\d*$/.test(d)) continue;
      const ok = await stat(join(this.modelDir(name), 'versions', d, 'version.json')).then(
        () => true,
        () => false,
      );
      if (ok) out.push(Number(d));
    }
    return out.sort((a, b) => a - b);
  }

  private withAliases(rec: VersionRecord, model: ModelRecord): ModelVersion {
    const aliases = Object.entries(model.aliases)
      .filter(([, v]) => v === rec.version)
      .map(([a]) => a)
      .sort();
    return { ...rec, source: isAbsolute(rec.source) ? rec.source : join(this.root, rec.source), aliases };
  }

  async registerVersion(name: string, input: RegisterInput): Promise<RegisteredVersion> {
    checkModelName(name);
    const st = await stat(input.artifactPath).catch(() => undefined);
    if (!st?.isFile()) throw new RegistryError('INVALID', `cannot register '${name}': model file ${input.artifactPath} does not exist or is not a file`);
    const given = await sha256File(input.artifactPath);
    if (input.expectedDigest && given !== input.expectedDigest)
      throw new RegistryError('INVALID', digestMismatch(name, input.artifactPath, given, input.expectedDigest));
    return this.locked(async (assertHeld) => {
      const now = this.now().toISOString();
      let model = await this.readModel(name);
      if (model) {
        const reuse = reusableVersion(await this.listVersions(name), input, given);
        if (reuse) return reuse;
      }
      if (!model) {
        model = { name, aliases: {}, createdAt: now };
        await mkdir(this.modelDir(name), { recursive: true });
        await writeFileAtomic(join(this.modelDir(name), 'model.json'), JSON.stringify(model, null, 2) + '\n');
      }
      const numbers = await this.versionNumbers(name);
      const version = (numbers[numbers.length - 1] ?? 0) + 1;
      const dir = this.versionDir(name, version);
      // A directory here without version.json is the remains of a crashed writer: clear it.
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      const file = join(dir, basename(input.artifactPath));
      await copyFile(input.artifactPath, file + '.partial');
      await rename(file + '.partial', file);
      const digest = await sha256File(file);
      if (digest !== given) {
        await rm(dir, { recursive: true, force: true });
        throw new RegistryError(
          'CONFLICT',
          `cannot register '${name}': model file ${input.artifactPath} changed while it was copied (${given} before, ${digest} after); nothing was registered, retry`,
        );
      }
      const rec: VersionRecord = {
        name,
        version,
        source: relative(this.root, file).split(sep).join('/'),
        digest,
        format: input.format ?? 'onnx',
        tags: { ...(input.tags ?? {}) },
        metrics: { ...(input.metrics ?? {}) },
        params: { ...(input.params ?? {}) },
        lineage: { ...(input.lineage ?? {}) },
        createdAt: now,
      };
      assertHeld();
      await writeFileAtomic(join(dir, 'version.json'), JSON.stringify(rec, null, 2) + '\n');
      return this.withAliases(rec, model);
    });
  }

  async getVersion(name: string, version: number): Promise<ModelVersion> {
    const model = await this.requireModel(name);
    const rec = Number.isInteger(version) && version > 0 ? await readJson<VersionRecord>(join(this.versionDir(name, version), 'version.json')) : undefined;
    if (!rec) {
      const nums = await this.versionNumbers(name);
      throw notFoundVersion(name, version, nums[nums.length - 1]);
    }
    return this.withAliases(rec, model);
  }

  async resolve(name: string, ref: VersionRef): Promise<ModelVersion> {
    const model = await this.requireModel(name);
    if (typeof ref === 'number' || /^\d+$/.test(ref)) return this.getVersion(name, Number(ref));
    if (ref === 'latest') {
      const nums = await this.versionNumbers(name);
      if (!nums.length) throw notFoundVersion(name, 1, undefined);
      return this.getVersion(name, nums[nums.length - 1]);
    }
    const v = model.aliases[ref];
    if (v === undefined) throw notFoundAlias(name, ref, Object.keys(model.aliases).sort());
    return this.getVersion(name, v);
  }

  async listModels(): Promise<RegisteredModel[]> {
    // Side by side: the UI lists every registered model on each read (a thousand in bench:ui).
    const read = await Promise.all(
      (await this.listModelNames()).map(async (name): Promise<RegisteredModel | undefined> => {
        const m = await this.readModel(name);
        if (!m) return undefined;
        const nums = await this.versionNumbers(name);
        return { name, latestVersion: nums[nums.length - 1], aliases: { ...m.aliases }, ...(m.description ? { description: m.description } : {}) };
      }),
    );
    return read.filter((m): m is RegisteredModel => m !== undefined);
  }

  async listModelNames(): Promise<string[]> {
    // The folders' names only: one being created (no model.json yet) is listed, and listVersions says it does not exist.
    return (await readdir(join(this.root, 'models')).catch(() => [] as string[])).filter(isModelName).sort();
  }

  async listVersions(name: string): Promise<ModelVersion[]> {
    const model = await this.requireModel(name);
    const records = await Promise.all((await this.versionNumbers(name)).map((v) => readJson<VersionRecord>(join(this.versionDir(name, v), 'version.json'))));
    return records.filter((r): r is VersionRecord => r !== undefined).map((r) => this.withAliases(r, model));
  }

  async setAlias(name: string, alias: string, version: number): Promise<void> {
    checkAlias(alias);
    await this.locked(async (assertHeld) => {
      const model = await this.requireModel(name);
      await this.getVersion(name, version);
      model.aliases = { ...model.aliases, [alias]: version };
      assertHeld();
      await writeFileAtomic(join(this.modelDir(name), 'model.json'), JSON.stringify(model, null, 2) + '\n');
    });
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.locked(async (assertHeld) => {
      const model = await this.requireModel(name);
      if (!(alias in model.aliases)) throw notFoundAlias(name, alias, Object.keys(model.aliases).sort());
      const { [alias]: _, ...rest } = model.aliases;
      model.aliases = rest;
      assertHeld();
      await writeFileAtomic(join(this.modelDir(name), 'model.json'), JSON.stringify(model, null, 2) + '\n');
    });
  }

  async setTag(name: string, version: number, key: string, value: string): Promise<void> {
    if (!key) throw new RegistryError('INVALID', 'a tag key must not be empty');
    await this.locked(async (assertHeld) => {
      await this.requireModel(name);
      const rec = await readJson<VersionRecord>(join(this.versionDir(name, version), 'version.json'));
      if (!rec) {
        const nums = await this.versionNumbers(name);
        throw notFoundVersion(name, version, nums[nums.length - 1]);
      }
      const next: VersionRecord = { ...rec, tags: { ...rec.tags, [key]: String(value) } };
      assertHeld();
      await writeFileAtomic(join(this.versionDir(name, version), 'version.json'), JSON.stringify(next, null, 2) + '\n');
    });
  }

  async fetchArtifact(mv: ModelVersion): Promise<string> {
    const st = await stat(mv.source).catch(() => undefined);
    if (!st?.isFile()) throw new RegistryError('NOT_FOUND', `model file of ${mv.name} version ${mv.version} is missing at ${mv.source}`);
    return mv.source;
  }
}

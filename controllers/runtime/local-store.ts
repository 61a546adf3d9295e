/**
 * LocalStore: the ObjectStore of local mode. Objects are kept in memory and persisted one JSON file
 * per object under `<stateDir>/<kind.group>/<namespace>/<name>.json` (atomic writes), with the
 * global resourceVersion counter in `<stateDir>/rv`. Same semantics as the API server for what the
 * reconcilers rely on: resourceVersion, generation bumps on spec changes, a status subresource,
 * 409 Conflict / AlreadyExists, 404, finalizers with deletionTimestamp, and watch from a
 * resourceVersion with 410 Gone when it is older than the retained history.
 * One process owns a state directory at a time (a lock file enforces it).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import writeFileAtomic from 'write-file-atomic';
import lockfile from 'proper-lockfile';
import { ApiError, apiVersionOf, typeKey, type ListResult, type ObjectStore, type ResourceType, type WatchEvent, type Watcher } from './store.ts';
import { jsonEqual } from '../../api/json.ts';
import type { K8sObject } from '../../api/objects.ts';

interface Sub {
  key: string;
  namespace?: string;
  onEvent: (e: WatchEvent) => void;
  onDone: (err: unknown) => void;
}

export interface LocalStoreOptions {
  /** Directory for the state files; undefined keeps everything in memory (tests). */
  readonly stateDir?: string;
  /** Events retained for watch resumption. @default 10000 */
  readonly historySize?: number;
  readonly now?: () => number;
}

const clone = <T>(o: T): T => structuredClone(o);

/**
 * Take the state directory's lock (proper-lockfile, stale after 30 s without its mtime refresh) and
 * record the owner (pid, host) beside it. A lock whose recorded owner is a process of this host that
 * no longer exists (an operator killed with kill -9) is taken over at once instead of refusing every
 * restart for 30 s. A live owner, or one on another host, is refused with the fix.
 */
function lockStateDir(stateDir: string): () => void {
  const lockPath = join(stateDir, '.lock');
  const ownerPath = join(stateDir, '.lock-owner');
  const take = () => lockfile.lockSync(stateDir, { lockfilePath: lockPath, stale: 30_000 });
  let release: () => void;
  try {
    release = take();
  } catch {
    if (!ownerIsGone(ownerPath))
      throw new Error(`state directory ${stateDir} is in use by another ghosteam operator; stop it first (or remove ${lockPath} if it crashed)`);
    rmSync(lockPath, { recursive: true, force: true });
    try {
      release = take();
    } catch {
      throw new Error(`state directory ${stateDir} is in use by another ghosteam operator; stop it first (or remove ${lockPath} if it crashed)`);
    }
  }
  writeFileSync(ownerPath, JSON.stringify({ pid: process.pid, host: hostname() }));
  return release;
}

/** True when the recorded owner was a process on this host that has exited. */
function ownerIsGone(ownerPath: string): boolean {
  let owner: { pid?: unknown; host?: unknown };
  try {
    owner = JSON.parse(readFileSync(ownerPath, 'utf8'));
  } catch {
    return false;
  }
  if (typeof owner.pid !== 'number' || owner.host !== hostname() || owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export class LocalStore implements ObjectStore {
  readonly kind = 'local' as const;
  private readonly objects = new Map<string, Map<string, K8sObject>>();
  private readonly history: Array<{ rv: number; key: string; event: WatchEvent }> = [];
  private readonly subs = new Set<Sub>();
  private rv = 0;
  private release?: () => void;
  private readonly historySize: number;
  private readonly now: () => number;

  private constructor(
    private readonly dir: string | undefined,
    opts: LocalStoreOptions,
  ) {
    this.historySize = opts.historySize ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  static async open(opts: LocalStoreOptions = {}): Promise<LocalStore> {
    const s = new LocalStore(opts.stateDir, opts);
    if (opts.stateDir) {
      mkdirSync(opts.stateDir, { recursive: true });
      s.release = lockStateDir(opts.stateDir);
      s.load(opts.stateDir);
    }
    return s;
  }

  close(): void {
    for (const sub of this.subs) sub.onDone(null);
    this.subs.clear();
    this.release?.();
    this.release = undefined;
  }

  private load(dir: string): void {
    const rvFile = join(dir, 'rv');
    if (existsSync(rvFile)) this.rv = Number(readFileSync(rvFile, 'utf8')) || 0;
    for (const tk of readdirSync(dir, { withFileTypes: true })) {
      // Only '<Kind>.<group>' folders hold objects (inbox/ and the like are not tables).
      if (!tk.isDirectory() || !tk.name.includes('.')) continue;
      const m = new Map<string, K8sObject>();
      for (const ns of readdirSync(join(dir, tk.name), { withFileTypes: true })) {
        if (!ns.isDirectory()) continue;
        for (const f of readdirSync(join(dir, tk.name, ns.name))) {
          if (!f.endsWith('.json')) continue;
          const path = join(dir, tk.name, ns.name, f);
          let o: K8sObject;
          try {
            o = JSON.parse(readFileSync(path, 'utf8')) as K8sObject;
          } catch (e) {
            throw new Error(`${path}: not valid JSON (${(e as Error).message}); delete the file to drop the object`);
          }
          m.set(this.nk(o.metadata.namespace, o.metadata.name), o);
          this.rv = Math.max(this.rv, Number(o.metadata.resourceVersion) || 0);
        }
      }
      this.objects.set(tk.name, m);
    }
  }

  private nk(ns: string | undefined, name: string): string {
    return `${ns ?? '_'}/${name}`;
  }

  private table(t: ResourceType): Map<string, K8sObject> {
    const k = typeKey(t);
    let m = this.objects.get(k);
    if (!m) this.objects.set(k, (m = new Map()));
    return m;
  }

  private persist(t: ResourceType, o: K8sObject, deleted = false): void {
    if (!this.dir) return;
    const d = join(this.dir, typeKey(t), o.metadata.namespace ?? '_');
    const file = join(d, `${o.metadata.name}.json`);
    if (deleted) rmSync(file, { force: true });
    else {
      mkdirSync(d, { recursive: true });
      writeFileAtomic.sync(file, JSON.stringify(o, null, 1));
    }
    writeFileAtomic.sync(join(this.dir, 'rv'), String(this.rv));
  }

  private emit(t: ResourceType, type: WatchEvent['type'], o: K8sObject): void {
    const key = typeKey(t);
    const event: WatchEvent = { type, object: clone(o) };
    this.history.push({ rv: this.rv, key, event });
    if (this.history.length > this.historySize) this.history.splice(0, this.history.length - this.historySize);
    for (const s of this.subs) {
      if (s.key === key && (s.namespace === undefined || s.namespace === o.metadata.namespace)) {
        // Deliver asynchronously, as a network watch would.
        queueMicrotask(() => this.subs.has(s) && s.onEvent({ type, object: clone(o) }));
      }
    }
  }

  private notFound(t: ResourceType, ns: string | undefined, name: string): ApiError {
    return new ApiError(404, 'NotFound', `${t.plural}.${t.group || 'core'} "${name}" not found${ns ? ` in namespace ${ns}` : ''}`);
  }

  private check(t: ResourceType, obj: K8sObject): void {
    if (!obj?.metadata?.name) throw new ApiError(422, 'Invalid', `${t.kind}: metadata.name is required`);
    if (t.namespaced && !obj.metadata.namespace) throw new ApiError(422, 'Invalid', `${t.kind} ${obj.metadata.name}: metadata.namespace is required`);
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(obj.metadata.name) || obj.metadata.name.length > 253) {
      throw new ApiError(422, 'Invalid', `${t.kind} "${obj.metadata.name}": metadata.name must be a lower-case DNS-1123 subdomain`);
    }
  }

  async get(t: ResourceType, namespace: string | undefined, name: string): Promise<K8sObject | undefined> {
    const o = this.table(t).get(this.nk(t.namespaced ? namespace : undefined, name));
    return o ? clone(o) : undefined;
  }

  async list(t: ResourceType, namespace?: string, labelSelector?: string): Promise<ListResult> {
    const sel = parseSelector(labelSelector);
    const items = [...this.table(t).values()]
      .filter((o) => (namespace === undefined || o.metadata.namespace === namespace) && sel(o.metadata.labels ?? {}))
      .sort((a, b) => (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name))
      .map(clone);
    return { items, resourceVersion: String(this.rv) };
  }

  async create(t: ResourceType, obj: K8sObject): Promise<K8sObject> {
    this.check(t, obj);
    const m = this.table(t);
    const k = this.nk(obj.metadata.namespace, obj.metadata.name);
    if (m.has(k)) throw new ApiError(409, 'AlreadyExists', `${t.plural}.${t.group || 'core'} "${obj.metadata.name}" already exists`);
    const o = clone(obj);
    o.apiVersion = apiVersionOf(t);
    o.kind = t.kind;
    this.rv++;
    o.metadata = {
      ...o.metadata,
      uid: randomUUID(),
      resourceVersion: String(this.rv),
      generation: 1,
      creationTimestamp: new Date(this.now()).toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    delete o.metadata.deletionTimestamp;
    m.set(k, o);
    this.persist(t, o);
    this.emit(t, 'ADDED', o);
    return clone(o);
  }

  private current(t: ResourceType, obj: K8sObject): K8sObject {
    this.check(t, obj);
    const cur = this.table(t).get(this.nk(obj.metadata.namespace, obj.metadata.name));
    if (!cur) throw this.notFound(t, obj.metadata.namespace, obj.metadata.name);
    if (obj.metadata.resourceVersion !== undefined && obj.metadata.resourceVersion !== cur.metadata.resourceVersion) {
      throw new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${t.plural}.${t.group || 'core'} "${obj.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    return cur;
  }

  private commit(t: ResourceType, next: K8sObject, cur: K8sObject): K8sObject {
    if (jsonEqual(next, cur)) return clone(cur); // no-op writes keep the resourceVersion, like the API server
    this.rv++;
    next.metadata.resourceVersion = String(this.rv);
    const m = this.table(t);
    const k = this.nk(next.metadata.namespace, next.metadata.name);
    if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length) {
      m.delete(k);
      this.persist(t, next, true);
      this.emit(t, 'DELETED', next);
      return clone(next);
    }
    m.set(k, next);
    this.persist(t, next);
    this.emit(t, 'MODIFIED', next);
    return clone(next);
  }

  async replace(t: ResourceType, obj: K8sObject): Promise<K8sObject> {
    const cur = this.current(t, obj);
    const next = clone(obj);
    next.apiVersion = cur.apiVersion;
    next.kind = cur.kind;
    next.metadata = {
      ...next.metadata,
      uid: cur.metadata.uid,
      creationTimestamp: cur.metadata.creationTimestamp,
      generation: cur.metadata.generation,
      resourceVersion: cur.metadata.resourceVersion,
    };
    if (cur.metadata.deletionTimestamp) next.metadata.deletionTimestamp = cur.metadata.deletionTimestamp;
    else delete next.metadata.deletionTimestamp;
    if (t.statusSubresource) {
      if (cur.status === undefined) delete next.status;
      else next.status = clone(cur.status);
    }
    const { metadata: _a, status: _b, ...restNext } = next;
    const { metadata: _c, status: _d, ...restCur } = cur;
    if (!jsonEqual(restNext, restCur)) next.metadata.generation = (cur.metadata.generation ?? 1) + 1;
    return this.commit(t, next, cur);
  }

  async replaceStatus(t: ResourceType, obj: K8sObject): Promise<K8sObject> {
    const cur = this.current(t, obj);
    const next = clone(cur);
    if (obj.status === undefined) delete next.status;
    else next.status = clone(obj.status);
    return this.commit(t, next, cur);
  }

  async delete(t: ResourceType, namespace: string | undefined, name: string): Promise<void> {
    const cur = this.table(t).get(this.nk(t.namespaced ? namespace : undefined, name));
    if (!cur || cur.metadata.deletionTimestamp) return;
    const next = clone(cur);
    next.metadata.deletionTimestamp = new Date(this.now()).toISOString().replace(/\.\d+Z$/, 'Z');
    this.commit(t, next, cur);
  }

  async watch(
    t: ResourceType,
    namespace: string | undefined,
    resourceVersion: string,
    onEvent: (e: WatchEvent) => void,
    onDone: (err: unknown) => void,
  ): Promise<Watcher> {
    const from = Number(resourceVersion) || 0;
    const key = typeKey(t);
    const oldest = this.history.length ? this.history[0].rv : this.rv + 1;
    if (from < this.rv && from < oldest - 1) {
      queueMicrotask(() => onDone(new ApiError(410, 'Gone', `too old resource version: ${from} (${oldest - 1})`)));
      return { stop() {} };
    }
    const sub: Sub = { key, namespace, onEvent, onDone };
    const replay = this.history.filter((h) => h.rv > from && h.key === key && (namespace === undefined || h.event.object.metadata.namespace === namespace));
    this.subs.add(sub);
    queueMicrotask(() => {
      for (const h of replay) if (this.subs.has(sub)) onEvent({ type: h.event.type, object: clone(h.event.object) });
    });
    return {
      stop: () => {
        if (this.subs.delete(sub)) queueMicrotask(() => onDone(null));
      },
    };
  }

  async served(_t: ResourceType): Promise<boolean> {
    return _t.group !== 'kueue.x-k8s.io';
  }
}

/** Equality-based label selectors: 'a=b,c!=d,e' (what the reconcilers use). */
export function parseSelector(sel: string | undefined): (labels: Record<string, string>) => boolean {
  if (!sel) return () => true;
  const parts = sel
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      let m = /^([^!=]+)!=(.*)$/.exec(p);
      if (m) return (l: Record<string, string>) => l[m![1].trim()] !== m![2].trim();
      m = /^([^!=]+)==?(.*)$/.exec(p);
      if (m) return (l: Record<string, string>) => l[m[1].trim()] === m[2].trim();
      return (l: Record<string, string>) => p in l;
    });
  return (l) => parts.every((f) => f(l));
}

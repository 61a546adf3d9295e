/**
 * The Open Inference Protocol model repository extension, as Triton and KServe serve it
 * (https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_model_repository.md):
 *
 *   POST /v2/repository/index                  {"ready": true}?  → [{name, version, state, reason}]
 *   POST /v2/repository/models/{name}/load     {"parameters": {...}}?  → 200 {"name", "load": true, "versions"}
 *   POST /v2/repository/models/{name}/unload   {"parameters": {"unload_dependents": false}}?  → 200 {"name", "unload": true}
 *
 * It is a second front door to the server's own load/unload (the admin API's): no state of its own
 * but a memory of what was ever loaded, so an unloaded model stays in the index and `load` brings
 * it back. "The repository" is that memory plus the registry when the server has one: `load` of a
 * name never seen here resolves `NAME` (its latest version) in the registry. Load parameters:
 *   - none: reload every remembered version of the model, or the registry's latest;
 *   - `"ref": "fraud@champion"` (or `fraud:3`): a registry reference for this name;
 *   - `"path": "/models/fraud.onnx"`, optional `"version": "2"`: an ONNX file.
 * Triton's `config` and `file:` parameters (a Triton model configuration and its files) have no
 * meaning for ONNX files and are refused with a 400 that says so.
 *
 * The request parsing here is pure; ModelRepository holds the memory and calls the server.
 */
import type { ModelRegistry } from '../registry/types.ts';
import { parseModelRef } from '../registry/types.ts';
import type { ModelSpec } from './models.ts';
import { RequestError } from './tensors.ts';

/** One row of the index, as Triton writes it. */
export interface RepositoryIndexEntry {
  readonly name: string;
  readonly version?: string;
  /** READY (loaded; under a memory budget also evicted, which still answers: its reason says so) or UNAVAILABLE (known, not loaded). */
  readonly state: 'READY' | 'UNAVAILABLE';
  readonly reason: string;
}

/** What the repository needs from the server: its model lifecycle, nothing else. */
export interface RepositoryHost {
  load(spec: ModelSpec): Promise<{ name: string; version: string }>;
  unload(name: string): Promise<void>;
  /** Loaded models and their versions (with a memory budget: evicted ones too; they still serve). */
  loaded(): ReadonlyArray<{ name: string; versions: readonly string[] }>;
  /** With a memory budget: whether this loaded version's session is released now (the next request loads it). */
  evicted?(name: string, version: string): boolean;
  readonly registry?: ModelRegistry;
}

const bad = (m: string): RequestError => new RequestError(400, m);

/** The index's reason for a READY version whose session the memory budget released. */
export const EVICTED_REASON = 'no session under the memory budget (evicted, or not loaded yet); the next request loads it';

function parameters(body: unknown, what: string, allowed: readonly string[]): Record<string, unknown> {
  if (body === undefined) return {};
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad(`the ${what} request must be a JSON object like {"parameters": {...}}, or empty`);
  for (const k of Object.keys(body)) if (k !== 'parameters') throw bad(`the ${what} request has an unknown field '${k}'; only "parameters" is allowed`);
  const p = (body as { parameters?: unknown }).parameters;
  if (p === undefined) return {};
  if (!p || typeof p !== 'object' || Array.isArray(p)) throw bad(`'parameters' must be an object`);
  for (const k of Object.keys(p)) {
    if (allowed.includes(k)) continue;
    if (k === 'config' || k.startsWith('file:')) {
      throw bad(
        `parameters.${k === 'config' ? 'config' : k}: Triton model configurations and files don't apply here (the server loads ONNX files); pass {"parameters": {"path": "/models/model.onnx"}} or {"parameters": {"ref": "model@champion"}}`,
      );
    }
    throw bad(`unknown parameter '${k}' for ${what}; allowed: ${allowed.join(', ')}`);
  }
  return p as Record<string, unknown>;
}

/** `POST /v2/repository/index` body → whether to list only ready models. Empty body = all. */
export function parseIndexRequest(body: unknown): { ready: boolean } {
  if (body === undefined) return { ready: false };
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('the index request must be a JSON object like {"ready": true}, or empty');
  for (const k of Object.keys(body)) if (k !== 'ready') throw bad(`the index request has an unknown field '${k}'; only "ready" is allowed`);
  const ready = (body as { ready?: unknown }).ready;
  if (ready !== undefined && typeof ready !== 'boolean') throw bad("'ready' must be true or false");
  return { ready: ready === true };
}

/** What a load request asks for: an explicit spec, or "whatever the repository knows by this name". */
export type LoadRequest = { readonly kind: 'known' } | { readonly kind: 'spec'; readonly spec: ModelSpec };

export function parseLoadRequest(name: string, body: unknown): LoadRequest {
  const p = parameters(body, 'load', ['ref', 'path', 'version']);
  if (p.ref !== undefined && p.path !== undefined) throw bad('parameters.ref and parameters.path are exclusive; pass one');
  if (p.ref !== undefined) {
    if (typeof p.ref !== 'string') throw bad('parameters.ref must be a string like "fraud@champion"');
    if (p.version !== undefined) throw bad('parameters.version goes with parameters.path; a registry reference carries its version (fraud:3)');
    let refName: string;
    try {
      refName = parseModelRef(p.ref).name;
    } catch (e) {
      throw bad(`parameters.ref: ${(e as Error).message}`);
    }
    if (refName !== name) throw bad(`parameters.ref '${p.ref}' names model '${refName}', but the request loads '${name}'`);
    return { kind: 'spec', spec: { ref: p.ref } };
  }
  if (p.path !== undefined) {
    if (typeof p.path !== 'string' || p.path === '') throw bad('parameters.path must be a non-empty string');
    const v = p.version;
    if (v !== undefined && typeof v !== 'string' && !(typeof v === 'number' && Number.isInteger(v) && v >= 0))
      throw bad('parameters.version must be a string like "2"');
    return { kind: 'spec', spec: { name, version: v === undefined ? undefined : String(v), path: p.path } };
  }
  if (p.version !== undefined) throw bad('parameters.version goes with parameters.path');
  return { kind: 'known' };
}

/** `POST …/unload` body. `unload_dependents` is accepted (the server has no ensembles, so nothing depends on a model). */
export function parseUnloadRequest(body: unknown): void {
  const p = parameters(body, 'unload', ['unload_dependents']);
  if (p.unload_dependents !== undefined && typeof p.unload_dependents !== 'boolean') throw bad('parameters.unload_dependents must be true or false');
}

function byVersion(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  return Number.isFinite(na) && Number.isFinite(nb) ? na - nb : a.localeCompare(b);
}

/** The model repository over one server. */
export class ModelRepository {
  /** Every version ever loaded: name → version → the file it came from. */
  private readonly known = new Map<string, Map<string, { path: string; source: string }>>();

  /** Models that failed to load at startup (name → why); cleared when one loads. */
  private readonly failures = new Map<string, string>();

  constructor(private readonly host: RepositoryHost) {}

  /** A model the server could not load: listed UNAVAILABLE with the reason, and named in 404s. */
  fail(name: string, reason: string): void {
    this.failures.set(name, reason);
  }

  failure(name: string): string | undefined {
    return this.failures.get(name);
  }

  /** Called by the server for every version it loads, whichever door it came through. */
  remember(r: { name: string; version: string; path: string; source: string }): void {
    this.failures.delete(r.name);
    let m = this.known.get(r.name);
    if (!m) this.known.set(r.name, (m = new Map()));
    m.set(r.version, { path: r.path, source: r.source });
  }

  async index(body: unknown): Promise<RepositoryIndexEntry[]> {
    const { ready } = parseIndexRequest(body);
    const loaded = new Map(this.host.loaded().map((m) => [m.name, new Set(m.versions)]));
    const out: RepositoryIndexEntry[] = [];
    const names = new Set([...this.known.keys(), ...loaded.keys()]);
    for (const name of names) {
      const versions = new Set([...(this.known.get(name)?.keys() ?? []), ...(loaded.get(name) ?? [])]);
      for (const version of [...versions].sort(byVersion)) {
        const isLoaded = loaded.get(name)?.has(version) === true;
        if (ready && !isLoaded) continue;
        // An evicted version is READY: it answers inference (the request loads it, cold); only an
        // unloaded one is UNAVAILABLE (404 until loaded again). The reason says which is resident.
        const reason = !isLoaded ? 'unloaded' : this.host.evicted?.(name, version) ? EVICTED_REASON : '';
        out.push({ name, version, state: isLoaded ? 'READY' : 'UNAVAILABLE', reason });
      }
    }
    if (!ready) for (const [name, reason] of this.failures) if (!names.has(name)) out.push({ name, state: 'UNAVAILABLE', reason: `failed to load: ${reason}` });
    if (!ready && this.host.registry) {
      let listed;
      try {
        listed = await this.host.registry.listModels();
      } catch (e) {
        throw new RequestError(502, `can't list the ${this.host.registry.kind} registry: ${(e as Error).message}`);
      }
      for (const m of listed) {
        if (names.has(m.name) || this.failures.has(m.name)) continue;
        out.push({
          name: m.name,
          state: 'UNAVAILABLE',
          reason: `in the ${this.host.registry.kind} registry (latest version ${m.latestVersion ?? 'none'}); not loaded`,
        });
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name) || byVersion(a.version ?? '', b.version ?? ''));
  }

  /** Loads (or reloads) a model; returns the versions now loaded from this request. */
  async load(name: string, body: unknown): Promise<{ name: string; load: true; versions: string[] }> {
    const req = parseLoadRequest(name, body);
    if (req.kind === 'spec') {
      const v = await this.host.load(req.spec);
      return { name, load: true, versions: [v.version] };
    }
    const known = this.known.get(name);
    if (known && known.size > 0) {
      const versions: string[] = [];
      for (const [version, k] of [...known].sort((a, b) => byVersion(a[0], b[0]))) {
        versions.push((await this.host.load({ name, version, path: k.path })).version);
      }
      return { name, load: true, versions };
    }
    if (this.host.registry) {
      const v = await this.host.load({ ref: name });
      return { name, load: true, versions: [v.version] };
    }
    throw new RequestError(
      404,
      `model '${name}' is not in the repository: it was never loaded here and the server has no registry; pass {"parameters": {"path": "/models/${name}.onnx"}}`,
    );
  }

  async unload(name: string, body: unknown): Promise<{ name: string; unload: true }> {
    parseUnloadRequest(body);
    await this.host.unload(name);
    return { name, unload: true };
  }

  /**
   * Routes `/v2/repository/...` (parts after splitting the path: ['v2', 'repository', ...]).
   * `body` is the parsed JSON, or undefined for an empty body. Returns the JSON response text.
   */
  async route(method: string, parts: readonly string[], body: unknown): Promise<string> {
    const path = `/${parts.join('/')}`;
    const isIndex = parts.length === 3 && parts[2] === 'index';
    const isModel = parts.length === 5 && parts[2] === 'models' && (parts[4] === 'load' || parts[4] === 'unload');
    if (!isIndex && !isModel)
      throw new RequestError(
        404,
        `no route for ${method} ${path}; the repository extension has POST /v2/repository/index, /v2/repository/models/{name}/load and /v2/repository/models/{name}/unload`,
      );
    if (method !== 'POST') throw new RequestError(405, `${method} is not allowed on ${path}; use POST`);
    if (isIndex) return JSON.stringify(await this.index(body));
    const name = parts[3];
    return JSON.stringify(parts[4] === 'load' ? await this.load(name, body) : await this.unload(name, body));
  }
}

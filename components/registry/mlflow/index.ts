/**
 * The MLflow model registry, over MLflow's REST API (openapi-fetch, with types generated from
 * ./openapi.yaml by `npm run gen:mlflow`).
 *
 * How a version is stored:
 *   - an MLflow run in the experiment `experiment` (default 'ghosteam') holds the version's metrics
 *     and params (runs/log-batch) and the model file, uploaded as a run artifact through the
 *     server's artifact proxy (PUT /api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts/model/<file>;
 *     the server must serve artifacts, MLflow's default since 2.0);
 *   - the model version (model-versions/create) has source `<run artifact_uri>/model` and run_id,
 *     and tags: the user's tags, plus reserved `ghosteam.*` tags for the digest, format, file name
 *     and lineage (`ghosteam.lineage.runId`, `.pipeline`, `.datasetDigest`, `.gitCommit`, `.reason`, `.derivedFrom`).
 *   - aliases are MLflow registered-model aliases.
 * `fetchArtifact` downloads the file once into `cacheDir` and checks its sha256 against the digest.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import createClient from 'openapi-fetch';
import writeFileAtomic from 'write-file-atomic';
import { checkAlias, checkModelName, notFoundAlias, notFoundModel, notFoundVersion, RegistryError, type RegistryErrorCode } from '../errors.ts';
import {
  digestMismatch,
  reusableVersion,
  type ModelRegistry,
  type ModelVersion,
  type RegisteredModel,
  type RegisteredVersion,
  type RegisterInput,
  type VersionRef,
} from '../types.ts';
import type { components, paths } from './schema.gen.ts';

type MlModelVersion = components['schemas']['ModelVersion'];
type MlRegisteredModel = components['schemas']['RegisteredModel'];
type Tag = components['schemas']['Tag'];

export interface MlflowRegistryOptions {
  /** e.g. http://127.0.0.1:5000 (MLFLOW_TRACKING_URI). */
  readonly trackingUri: string;
  /** Experiment that holds the registration runs. @default 'ghosteam' */
  readonly experiment?: string;
  /** Where fetchArtifact keeps downloaded model files. @default '.ghosteam/mlflow-cache' */
  readonly cacheDir?: string;
  /** For tests. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

const TAG = 'ghosteam.';
const LINEAGE_KEYS = ['runId', 'pipeline', 'datasetDigest', 'gitCommit', 'gitDirty', 'reason', 'task', 'derivedFrom', 'derivedFromDigest'] as const;

/** Maps MLflow's error codes (databricks.proto ErrorCode) onto ours. */
function codeOf(mlflowCode: string | undefined, status: number): RegistryErrorCode {
  switch (mlflowCode) {
    case 'RESOURCE_DOES_NOT_EXIST':
    case 'NOT_FOUND':
      return 'NOT_FOUND';
    case 'RESOURCE_ALREADY_EXISTS':
    case 'ALREADY_EXISTS':
      return 'ALREADY_EXISTS';
    case 'INVALID_PARAMETER_VALUE':
    case 'BAD_REQUEST':
    case 'INVALID_STATE':
      return 'INVALID';
  }
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'ALREADY_EXISTS';
  if (status >= 400 && status < 500) return 'INVALID';
  return 'UNAVAILABLE';
}

/**
 * The MLmodel file of a version ghosteam registers: the `onnx` flavor and the `python_function`
 * flavor through mlflow.onnx, as `mlflow.onnx.log_model` writes them, so MLflow's own clients load it.
 */
export function mlmodelYaml(file: string, runId: string, size: number, nowMs: number): string {
  const created = new Date(nowMs).toISOString().replace('T', ' ').replace('Z', '000');
  return [
    'artifact_path: model',
    'flavors:',
    '  onnx:',
    '    code: null',
    `    data: ${JSON.stringify(file)}`,
    '    providers:',
    '    - CPUExecutionProvider',
    '  python_function:',
    '    code: null',
    `    data: ${JSON.stringify(file)}`,
    '    loader_module: mlflow.onnx',
    `model_size_bytes: ${size}`,
    `run_id: ${JSON.stringify(runId)}`,
    `utc_time_created: '${created}'`,
    '',
  ].join('\n');
}

export class MlflowError extends RegistryError {
  constructor(
    readonly operation: string,
    readonly mlflowCode: string,
    readonly status: number,
    detail: string,
  ) {
    super(codeOf(mlflowCode, status), `MLflow ${operation} failed: ${mlflowCode} (HTTP ${status}): ${detail}`);
    this.name = 'MlflowError';
  }
}

export class MlflowRegistry implements ModelRegistry {
  readonly kind = 'mlflow' as const;
  readonly trackingUri: string;
  private readonly experiment: string;
  private readonly cacheDir: string;
  private readonly client;
  private readonly fetchFn: typeof fetch;
  private experimentId?: Promise<string>;

  constructor(opts: MlflowRegistryOptions) {
    let url: URL;
    try {
      url = new URL(opts.trackingUri);
    } catch {
      throw new RegistryError('INVALID', `MLFLOW_TRACKING_URI '${opts.trackingUri}' is not a URL; write http(s)://host:port`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new RegistryError(
        'INVALID',
        `MLFLOW_TRACKING_URI '${opts.trackingUri}' must be an http(s) URL of an MLflow tracking server (file stores and databricks:// are not supported)`,
      );
    }
    this.trackingUri = opts.trackingUri.replace(/\/+$/, '');
    this.experiment = opts.experiment ?? 'ghosteam';
    this.cacheDir = resolve(opts.cacheDir ?? '.ghosteam/mlflow-cache');
    this.fetchFn = opts.fetch ?? globalThis.fetch;
    this.client = createClient<paths>({ baseUrl: this.trackingUri, fetch: this.fetchFn });
  }

  /** Awaits an openapi-fetch call and turns transport and MLflow errors into clear messages. */
  private async call<T>(operation: string, p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
    let r: { data?: T; error?: unknown; response: Response };
    try {
      r = await p;
    } catch (err) {
      const c = (err as { cause?: { code?: string; message?: string } }).cause;
      const cause = c?.code ?? c?.message ?? (err as Error).message;
      throw new RegistryError(
        'UNAVAILABLE',
        `cannot reach MLflow at ${this.trackingUri} (${operation}): ${cause}; check MLFLOW_TRACKING_URI and that the server is up`,
        { cause: err },
      );
    }
    if (r.error !== undefined || !r.response.ok) {
      const e = (r.error ?? {}) as { error_code?: string; message?: string };
      const detail = typeof r.error === 'string' ? r.error.slice(0, 300) : (e.message ?? r.response.statusText);
      throw new MlflowError(operation, e.error_code ?? `HTTP_${r.response.status}`, r.response.status, detail);
    }
    return r.data as T;
  }

  private async getExperimentId(): Promise<string> {
    this.experimentId ??= (async () => {
      try {
        const r = await this.call(
          'experiments/get-by-name',
          this.client.GET('/api/2.0/mlflow/experiments/get-by-name', { params: { query: { experiment_name: this.experiment } } }),
        );
        return r.experiment!.experiment_id!;
      } catch (err) {
        if (!(err instanceof RegistryError) || err.code !== 'NOT_FOUND') throw err;
      }
      try {
        const r = await this.call('experiments/create', this.client.POST('/api/2.0/mlflow/experiments/create', { body: { name: this.experiment } }));
        return r.experiment_id!;
      } catch (err) {
        // Another writer created it first.
        if (!(err instanceof RegistryError) || err.code !== 'ALREADY_EXISTS') throw err;
        const r = await this.call(
          'experiments/get-by-name',
          this.client.GET('/api/2.0/mlflow/experiments/get-by-name', { params: { query: { experiment_name: this.experiment } } }),
        );
        return r.experiment!.experiment_id!;
      }
    })();
    try {
      return await this.experimentId;
    } catch (err) {
      this.experimentId = undefined;
      throw err;
    }
  }

  /** 'mlflow-artifacts:/1/abc/artifacts' → '1/abc/artifacts' (the artifact proxy's path). */
  private proxyPath(uri: string): string {
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(uri);
    if (!m) {
      throw new RegistryError(
        'INVALID',
        `the MLflow server at ${this.trackingUri} does not proxy artifacts (artifact URI '${uri}'); start it with --serve-artifacts (the default since MLflow 2) and --artifacts-destination`,
      );
    }
    return m[1];
  }

  private artifactUrl(path: string): string {
    return `${this.trackingUri}/api/2.0/mlflow-artifacts/artifacts/${path.split('/').map(encodeURIComponent).join('/')}`;
  }

  async registerVersion(name: string, input: RegisterInput): Promise<RegisteredVersion> {
    checkModelName(name);
    const st = await stat(input.artifactPath).catch(() => undefined);
    if (!st?.isFile()) throw new RegistryError('INVALID', `cannot register '${name}': model file ${input.artifactPath} does not exist or is not a file`);
    const bytes = await readFile(input.artifactPath);
    const digest = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
    if (input.expectedDigest && digest !== input.expectedDigest)
      throw new RegistryError('INVALID', digestMismatch(name, input.artifactPath, digest, input.expectedDigest));
    // Exactly once per (lineage.runId, lineage.task): the key is in the version's tags
    // (ghosteam.lineage.runId/.task), set atomically by model-versions/create.
    if ((input.lineage?.runId && input.lineage.task) || input.reuseIdentical) {
      const existing = await this.versionsOf(name).catch((err) => {
        if (err instanceof RegistryError && err.code === 'NOT_FOUND') return [] as MlModelVersion[];
        throw err;
      });
      const light = existing.filter((v) => v.status !== 'FAILED_REGISTRATION').map((v) => this.lightVersion(v));
      const reuse = reusableVersion(light, input, digest);
      if (reuse) return { ...(await this.getVersion(name, reuse.version)), reused: reuse.reused };
    }
    const file = basename(input.artifactPath);
    const experimentId = await this.getExperimentId();
    const now = Date.now();
    const lineage = input.lineage ?? {};
    const lineageTags: Tag[] = LINEAGE_KEYS.filter((k) => lineage[k] !== undefined).map((k) => ({ key: `${TAG}lineage.${k}`, value: String(lineage[k]) }));
    const created = await this.call(
      'runs/create',
      this.client.POST('/api/2.0/mlflow/runs/create', {
        body: { experiment_id: experimentId, run_name: `register-${name}`, start_time: now, tags: [{ key: `${TAG}model`, value: name }, ...lineageTags] },
      }),
    );
    const run = created.run!.info!;
    const runId = run.run_id!;
    try {
      const metrics = Object.entries(input.metrics ?? {})
        .filter(([, v]) => Number.isFinite(v))
        .map(([key, value]) => ({ key, value, timestamp: now, step: 0 }));
      const params = Object.entries(input.params ?? {}).map(([key, value]) => ({ key, value: String(value) }));
      // log-batch takes at most 1000 metrics and 100 params per call.
      for (let i = 0; i < Math.max(metrics.length, params.length); i += 100) {
        await this.call(
          'runs/log-batch',
          this.client.POST('/api/2.0/mlflow/runs/log-batch', { body: { run_id: runId, metrics: metrics.slice(i, i + 100), params: params.slice(i, i + 100) } }),
        );
      }
      const dir = `${this.proxyPath(run.artifact_uri!)}/model`;
      await this.call(
        'mlflow-artifacts upload',
        this.client.PUT('/api/2.0/mlflow-artifacts/artifacts/{artifact_path}', {
          params: { path: { artifact_path: `${dir}/${file}` } },
          // The OpenAPI document types the artifact body as a string; it is raw bytes, sent as they are.
          body: bytes as unknown as string,
          // openapi-fetch's serializer returns its body type (string); a Buffer is what fetch must send.
          bodySerializer: (b: unknown) => b as Buffer as never,
          headers: { 'content-type': 'application/octet-stream' },
          // openapi-fetch encodes '/' inside a path param; the server's route wants real slashes.
          fetch: (req: Request) => this.fetchFn(new Request(this.artifactUrl(`${dir}/${file}`), req)),
        }),
      );
      // An MLmodel file beside it makes the version a real MLflow model of the onnx flavor:
      // mlflow.pyfunc.load_model('models:/NAME/VERSION') and mlflow.onnx.load_model read it.
      if ((input.format ?? 'onnx') === 'onnx') await this.upload(`${dir}/MLmodel`, Buffer.from(mlmodelYaml(file, runId, bytes.length, now)));
      try {
        await this.call('registered-models/create', this.client.POST('/api/2.0/mlflow/registered-models/create', { body: { name } }));
      } catch (err) {
        if (!(err instanceof RegistryError) || err.code !== 'ALREADY_EXISTS') throw err;
      }
      const tags: Tag[] = [
        ...Object.entries(input.tags ?? {}).map(([key, value]) => ({ key, value: String(value) })),
        { key: `${TAG}digest`, value: digest },
        { key: `${TAG}format`, value: input.format ?? 'onnx' },
        { key: `${TAG}file`, value: file },
        ...lineageTags,
      ];
      const mv = await this.call(
        'model-versions/create',
        this.client.POST('/api/2.0/mlflow/model-versions/create', {
          body: { name, source: `${run.artifact_uri}/model`, run_id: runId, tags },
        }),
      );
      let version = mv.model_version!;
      for (let i = 0; version.status === 'PENDING_REGISTRATION' && i < 100; i++) {
        await new Promise((r) => setTimeout(r, 100));
        version = (
          await this.call(
            'model-versions/get',
            this.client.GET('/api/2.0/mlflow/model-versions/get', { params: { query: { name, version: version.version! } } }),
          )
        ).model_version!;
      }
      if (version.status === 'FAILED_REGISTRATION')
        throw new RegistryError('UNAVAILABLE', `MLflow could not register ${name} version ${version.version}: ${version.status_message ?? 'no reason given'}`);
      await this.call('runs/update', this.client.POST('/api/2.0/mlflow/runs/update', { body: { run_id: runId, status: 'FINISHED', end_time: Date.now() } }));
      return this.toModelVersion(version, {
        metrics: Object.fromEntries(metrics.map((m) => [m.key, m.value])),
        params: Object.fromEntries(params.map((p) => [p.key, p.value])),
      });
    } catch (err) {
      await this.client.POST('/api/2.0/mlflow/runs/update', { body: { run_id: runId, status: 'FAILED', end_time: Date.now() } }).catch(() => undefined);
      throw err;
    }
  }

  /** A version's digest and lineage from its tags alone (no run data): enough to find a reusable one. */
  private lightVersion(mv: MlModelVersion): ModelVersion {
    const all = Object.fromEntries((mv.tags ?? []).map((t) => [t.key!, t.value ?? '']));
    const lineage: Record<string, string> = {};
    for (const [k, v] of Object.entries(all)) if (k.startsWith(`${TAG}lineage.`)) lineage[k.slice(TAG.length + 'lineage.'.length)] = v;
    return {
      name: mv.name!,
      version: Number(mv.version),
      source: mv.source ?? '',
      ...(all[`${TAG}digest`] ? { digest: all[`${TAG}digest`] } : {}),
      format: all[`${TAG}format`] ?? 'onnx',
      aliases: [],
      tags: {},
      metrics: {},
      params: {},
      lineage: lineage,
      createdAt: '',
    };
  }

  private async runData(runId: string | undefined): Promise<{ metrics: Record<string, number>; params: Record<string, string> }> {
    if (!runId) return { metrics: {}, params: {} };
    const r = await this.call('runs/get', this.client.GET('/api/2.0/mlflow/runs/get', { params: { query: { run_id: runId } } }));
    const d = r.run?.data ?? {};
    return {
      metrics: Object.fromEntries((d.metrics ?? []).map((m) => [m.key, m.value])),
      params: Object.fromEntries((d.params ?? []).map((p) => [p.key!, p.value ?? ''])),
    };
  }

  private async toModelVersion(mv: MlModelVersion, data?: { metrics: Record<string, number>; params: Record<string, string> }): Promise<ModelVersion> {
    const all = Object.fromEntries((mv.tags ?? []).map((t) => [t.key!, t.value ?? '']));
    const tags: Record<string, string> = {};
    const lineage: Record<string, string> = {};
    for (const [k, v] of Object.entries(all)) {
      if (k.startsWith(`${TAG}lineage.`)) lineage[k.slice(TAG.length + 'lineage.'.length)] = v;
      else if (!k.startsWith(TAG)) tags[k] = v;
    }
    const d = data ?? (await this.runData(mv.run_id));
    const file = all[`${TAG}file`];
    return {
      name: mv.name!,
      version: Number(mv.version),
      source: file ? `${mv.source}/${file}` : await this.storageUri(mv),
      ...(all[`${TAG}digest`] ? { digest: all[`${TAG}digest`] } : {}),
      format: all[`${TAG}format`] ?? 'onnx',
      aliases: [...(mv.aliases ?? [])].sort(),
      tags,
      metrics: d.metrics,
      params: d.params,
      lineage: lineage,
      createdAt: new Date(Number(mv.creation_timestamp ?? 0)).toISOString(),
    };
  }

  /**
   * Where a version's files are, for a storageUri (KServe's storage initializer copies it to
   * /mnt/models, where serve reads an MLflow model directory). A version MLflow itself logged
   * (mlflow.onnx.log_model with registered_model_name) has a source of `models:/m-<id>` (MLflow 3's
   * logged model) or `runs:/<run>/<path>`, which only MLflow resolves: ask it
   * (model-versions/get-download-uri) for the artifact location. Anything else is kept as it is.
   */
  private async storageUri(mv: MlModelVersion): Promise<string> {
    const source = mv.source ?? '';
    if (!/^(models|runs):\//.test(source)) return source;
    const q = new URLSearchParams({ name: mv.name!, version: String(mv.version) });
    try {
      const res = await this.fetchFn(`${this.trackingUri}/api/2.0/mlflow/model-versions/get-download-uri?${q}`);
      if (!res.ok) return source;
      return ((await res.json()) as { artifact_uri?: string }).artifact_uri ?? source;
    } catch {
      return source;
    }
  }

  private async registeredModel(name: string): Promise<MlRegisteredModel> {
    checkModelName(name);
    try {
      return (await this.call('registered-models/get', this.client.GET('/api/2.0/mlflow/registered-models/get', { params: { query: { name } } })))
        .registered_model!;
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'NOT_FOUND') {
        throw notFoundModel(
          name,
          `MLflow at ${this.trackingUri}`,
          (await this.listModels()).map((m) => m.name),
        );
      }
      throw err;
    }
  }

  private async versionsOf(name: string): Promise<MlModelVersion[]> {
    const out: MlModelVersion[] = [];
    let page_token: string | undefined;
    do {
      const r = await this.call(
        'model-versions/search',
        this.client.GET('/api/2.0/mlflow/model-versions/search', {
          params: { query: { filter: `name='${name}'`, max_results: 1000, ...(page_token ? { page_token } : {}) } },
        }),
      );
      out.push(...(r.model_versions ?? []));
      page_token = r.next_page_token || undefined;
    } while (page_token);
    return out.sort((a, b) => Number(a.version) - Number(b.version));
  }

  async getVersion(name: string, version: number): Promise<ModelVersion> {
    checkModelName(name);
    try {
      const r = await this.call(
        'model-versions/get',
        this.client.GET('/api/2.0/mlflow/model-versions/get', { params: { query: { name, version: String(version) } } }),
      );
      return await this.toModelVersion(r.model_version!);
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'NOT_FOUND') {
        await this.registeredModel(name);
        const vs = await this.versionsOf(name);
        throw notFoundVersion(name, version, vs.length ? Number(vs[vs.length - 1].version) : undefined);
      }
      throw err;
    }
  }

  async resolve(name: string, ref: VersionRef): Promise<ModelVersion> {
    if (typeof ref === 'number' || /^\d+$/.test(ref)) return this.getVersion(name, Number(ref));
    if (ref === 'latest') {
      await this.registeredModel(name);
      const vs = await this.versionsOf(name);
      if (!vs.length) throw notFoundVersion(name, 1, undefined);
      return this.toModelVersion(vs[vs.length - 1]);
    }
    const model = await this.registeredModel(name);
    const hit = (model.aliases ?? []).find((a) => a.alias === ref);
    if (!hit) throw notFoundAlias(name, ref, (model.aliases ?? []).map((a) => a.alias!).sort());
    return this.getVersion(name, Number(hit.version));
  }

  async listModels(): Promise<RegisteredModel[]> {
    const out: RegisteredModel[] = [];
    let page_token: string | undefined;
    do {
      const r = await this.call(
        'registered-models/search',
        this.client.GET('/api/2.0/mlflow/registered-models/search', {
          params: { query: { max_results: 1000, ...(page_token ? { page_token } : {}) } },
        }),
      );
      for (const m of r.registered_models ?? []) {
        const latest = (m.latest_versions ?? []).map((v) => Number(v.version)).reduce((a, b) => Math.max(a, b), 0);
        out.push({
          name: m.name!,
          ...(latest ? { latestVersion: latest } : {}),
          aliases: Object.fromEntries((m.aliases ?? []).map((a) => [a.alias!, Number(a.version)])),
          ...(m.description ? { description: m.description } : {}),
        });
      }
      page_token = r.next_page_token || undefined;
    } while (page_token);
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async listModelNames(): Promise<string[]> {
    return (await this.listModels()).map((m) => m.name);
  }

  async listVersions(name: string): Promise<ModelVersion[]> {
    await this.registeredModel(name);
    return Promise.all((await this.versionsOf(name)).map((v) => this.toModelVersion(v)));
  }

  async setAlias(name: string, alias: string, version: number): Promise<void> {
    checkAlias(alias);
    await this.getVersion(name, version);
    await this.call(
      'registered-models/alias (set)',
      this.client.POST('/api/2.0/mlflow/registered-models/alias', { body: { name, alias, version: String(version) } }),
    );
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    const model = await this.registeredModel(name);
    if (!(model.aliases ?? []).some((a) => a.alias === alias)) throw notFoundAlias(name, alias, (model.aliases ?? []).map((a) => a.alias!).sort());
    await this.call('registered-models/alias (delete)', this.client.DELETE('/api/2.0/mlflow/registered-models/alias', { body: { name, alias } }));
  }

  async setTag(name: string, version: number, key: string, value: string): Promise<void> {
    if (!key) throw new RegistryError('INVALID', 'a tag key must not be empty');
    if (key.startsWith(TAG)) throw new RegistryError('INVALID', `tag keys starting with '${TAG}' are reserved for ghosteam; choose another key than '${key}'`);
    await this.getVersion(name, version);
    await this.call(
      'model-versions/set-tag',
      this.client.POST('/api/2.0/mlflow/model-versions/set-tag', { body: { name, version: String(version), key, value: String(value) } }),
    );
  }

  private async upload(path: string, bytes: Buffer): Promise<void> {
    let res: Response;
    try {
      res = await this.fetchFn(this.artifactUrl(path), { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    } catch (err) {
      throw new RegistryError(
        'UNAVAILABLE',
        `cannot reach MLflow at ${this.trackingUri} (artifact upload): ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`,
        { cause: err },
      );
    }
    if (!res.ok) throw new MlflowError('mlflow-artifacts upload', `HTTP_${res.status}`, res.status, `${path}: ${(await res.text()).slice(0, 300)}`);
  }

  /** An artifact's bytes through the proxy, or undefined when it doesn't exist. */
  private async download(uri: string): Promise<Uint8Array | undefined> {
    let res: Response;
    try {
      res = await this.fetchFn(this.artifactUrl(this.proxyPath(uri)));
    } catch (err) {
      throw new RegistryError(
        'UNAVAILABLE',
        `cannot reach MLflow at ${this.trackingUri} (artifact download): ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`,
        { cause: err },
      );
    }
    if (res.status === 404) return undefined;
    if (!res.ok) throw new MlflowError('mlflow-artifacts download', `HTTP_${res.status}`, res.status, `${uri}: ${(await res.text()).slice(0, 300)}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /**
   * Downloads an MLflow model directory (its MLmodel and the onnx flavor's file) into `dest`; the
   * server then loads it as any MLflow model directory. For models logged by Python
   * (`mlflow.onnx.log_model`), not registered by ghosteam.
   */
  private async fetchMlflowModel(artifactUri: string, dest: string, what: string): Promise<string | undefined> {
    const base = artifactUri.replace(/\/+$/, '');
    const mlmodel = await this.download(`${base}/MLmodel`);
    if (!mlmodel) return undefined;
    const doc = parseYaml(Buffer.from(mlmodel).toString('utf8')) as { flavors?: Record<string, { data?: unknown }> } | null;
    const data = doc?.flavors?.onnx?.data;
    await mkdir(dest, { recursive: true });
    await writeFileAtomic(join(dest, 'MLmodel'), Buffer.from(mlmodel));
    if (typeof data === 'string' && /^[^/\\][^\\]*$/.test(data) && !data.split('/').includes('..')) {
      const bytes = await this.download(`${base}/${data}`);
      if (!bytes) throw new RegistryError('NOT_FOUND', `${what}: its MLmodel names ${data} in the onnx flavor, but ${base}/${data} does not exist`);
      await mkdir(dirname(join(dest, data)), { recursive: true });
      await writeFileAtomic(join(dest, data), Buffer.from(bytes));
    }
    return dest;
  }

  async fetchRunModel(uri: string): Promise<{ name: string; path: string }> {
    const m = /^runs:\/([0-9a-zA-Z]+)\/(.+?)\/*$/.exec(uri);
    if (!m) throw new RegistryError('INVALID', `'${uri}' is not an MLflow run URI; write runs:/RUN_ID/PATH`);
    const [, runId, path] = m;
    const r = await this.call('runs/get', this.client.GET('/api/2.0/mlflow/runs/get', { params: { query: { run_id: runId } } }));
    const name = path.split('/').pop()!;
    const dest = join(this.cacheDir, 'runs', runId, path);
    const fromRun = await this.fetchMlflowModel(`${r.run!.info!.artifact_uri}/${path}`, dest, uri);
    if (fromRun) return { name, path: fromRun };
    // MLflow 3 keeps a model logged in a run (log_model(name=...)) as a LoggedModel of its own.
    const outputs = ((r.run as { outputs?: { model_outputs?: Array<{ model_id?: string }> } }).outputs?.model_outputs ?? [])
      .map((o) => o.model_id)
      .filter((x): x is string => !!x);
    for (const id of outputs) {
      const res = await this.fetchFn(`${this.trackingUri}/api/2.0/mlflow/logged-models/${encodeURIComponent(id)}`).catch(() => undefined);
      if (!res?.ok) continue;
      const info = ((await res.json()) as { model?: { info?: { name?: string; artifact_uri?: string } } }).model?.info;
      if (info?.name === path && info.artifact_uri) {
        const got = await this.fetchMlflowModel(info.artifact_uri, dest, uri);
        if (got) return { name, path: got };
      }
    }
    throw new RegistryError(
      'NOT_FOUND',
      `${uri}: run ${runId} has no MLflow model at '${path}' (no MLmodel under its artifacts, and no logged model named '${path}')`,
    );
  }

  async fetchArtifact(mv: ModelVersion): Promise<string> {
    if (!mv.digest) {
      // Not registered by ghosteam (no digest tag): a model logged by MLflow itself; its MLmodel names the file.
      const q = new URLSearchParams({ name: mv.name, version: String(mv.version) });
      let res: Response;
      try {
        res = await this.fetchFn(`${this.trackingUri}/api/2.0/mlflow/model-versions/get-download-uri?${q}`);
      } catch (err) {
        throw new RegistryError('UNAVAILABLE', `cannot reach MLflow at ${this.trackingUri} (model-versions/get-download-uri): ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (!res.ok) throw new MlflowError('model-versions/get-download-uri', `HTTP_${res.status}`, res.status, (await res.text()).slice(0, 300));
      const uri = ((await res.json()) as { artifact_uri?: string }).artifact_uri ?? mv.source;
      const got = await this.fetchMlflowModel(uri, join(this.cacheDir, mv.name, String(mv.version), 'model'), `${mv.name} version ${mv.version}`);
      if (got) return got;
    }
    const dest = join(this.cacheDir, mv.name, String(mv.version), basename(mv.source));
    const cached = await readFile(dest).catch(() => undefined);
    const digestOf = (b: Uint8Array) => 'sha256:' + createHash('sha256').update(b).digest('hex');
    if (cached && (!mv.digest || digestOf(cached) === mv.digest)) return dest;
    const url = this.artifactUrl(this.proxyPath(mv.source));
    let res: Response;
    try {
      res = await this.fetchFn(url);
    } catch (err) {
      throw new RegistryError(
        'UNAVAILABLE',
        `cannot reach MLflow at ${this.trackingUri} (artifact download): ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`,
        { cause: err },
      );
    }
    if (!res.ok) throw new MlflowError('mlflow-artifacts download', `HTTP_${res.status}`, res.status, `${mv.source}: ${(await res.text()).slice(0, 300)}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (mv.digest && digestOf(bytes) !== mv.digest) {
      throw new RegistryError(
        'INVALID',
        `model file of ${mv.name} version ${mv.version} from ${mv.source} has digest ${digestOf(bytes)}, expected ${mv.digest}; the artifact was changed after registration`,
      );
    }
    await mkdir(join(this.cacheDir, mv.name, String(mv.version)), { recursive: true });
    await writeFileAtomic(dest, Buffer.from(bytes));
    return dest;
  }
}

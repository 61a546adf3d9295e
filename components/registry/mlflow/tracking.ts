/**
 * Experiment tracking in MLflow, over the same REST API as the registry (openapi-fetch, types from
 * ./openapi.yaml): one MLflow experiment per pipeline, one MLflow run per pipeline run, with params,
 * tags (ghosteam run id, git commit, pipeline, reason, parent sweep, registered version), metrics
 * with their per-step history (runs/log-batch) and the run's artifacts (the artifact proxy). So the
 * MLflow UI and Python's `mlflow.search_runs(experiment_names=[pipeline])` see every run.
 * Logging a run is idempotent by the ghosteam run id (tag `ghosteam.runId`): a run logged before is
 * returned, not logged twice.
 */
import { readFile } from 'node:fs/promises';
import createClient from 'openapi-fetch';
import { RegistryError } from '../errors.ts';
import { MlflowError } from './index.ts';
import type { components, paths } from './schema.gen.ts';

type Run = components['schemas']['Run'];

/** A finished run as tracking sees it: plain data (the local engine's run record maps onto it). */
export interface TrackedRun {
  /** The ghosteam run id (local run id or Argo workflow name). */
  readonly runId: string;
  readonly experiment: string;
  readonly status: 'Succeeded' | 'Failed' | 'Cancelled' | 'Running';
  readonly startTime: number;
  readonly endTime?: number;
  readonly params: Readonly<Record<string, string>>;
  readonly tags: Readonly<Record<string, string>>;
  /** Final values. */
  readonly metrics: Readonly<Record<string, number>>;
  /** Per-step values: key → [{ step, value }]. */
  readonly history: Readonly<Record<string, readonly { readonly step: number; readonly value: number }[]>>;
  /** Files to upload: artifact path inside the run → local file. */
  readonly artifacts: Readonly<Record<string, string>>;
}

/** A run read back from MLflow. */
export interface TrackedRunSummary {
  readonly mlflowRunId: string;
  readonly runId: string;
  readonly experiment: string;
  readonly status: string;
  readonly startTime: number;
  readonly params: Record<string, string>;
  readonly tags: Record<string, string>;
  readonly metrics: Record<string, number>;
}

const STATUS = { Succeeded: 'FINISHED', Failed: 'FAILED', Cancelled: 'KILLED', Running: 'RUNNING' } as const;

export class MlflowTracking {
  readonly trackingUri: string;
  private readonly client;
  private readonly fetchFn: typeof fetch;
  private readonly experiments = new Map<string, Promise<string>>();

  constructor(opts: { readonly trackingUri: string; readonly fetch?: typeof fetch }) {
    this.trackingUri = opts.trackingUri.replace(/\/+$/, '');
    this.fetchFn = opts.fetch ?? globalThis.fetch;
    this.client = createClient<paths>({ baseUrl: this.trackingUri, fetch: this.fetchFn });
  }

  /**
   * Awaits a request; a read (`send` given as a function) is sent once more when the server had closed
   * the kept-alive connection under it (MLflow's uvicorn drops idle connections after 5 s).
   */
  private async call<T>(
    operation: string,
    send: Promise<{ data?: T; error?: unknown; response: Response }> | (() => Promise<{ data?: T; error?: unknown; response: Response }>),
  ): Promise<T> {
    let r: { data?: T; error?: unknown; response: Response };
    try {
      try {
        r = await (typeof send === 'function' ? send() : send);
      } catch (err) {
        const code = (err as { cause?: { code?: string } }).cause?.code;
        if (typeof send !== 'function' || (code !== 'UND_ERR_SOCKET' && code !== 'ECONNRESET')) throw err;
        r = await send();
      }
    } catch (err) {
      const c = (err as { cause?: { code?: string } }).cause;
      throw new RegistryError(
        'UNAVAILABLE',
        `cannot reach MLflow at ${this.trackingUri} (${operation}): ${c?.code ?? (err as Error).message}; check MLFLOW_TRACKING_URI`,
        {
          cause: err,
        },
      );
    }
    if (r.error !== undefined || !r.response.ok) {
      const e = (r.error ?? {}) as { error_code?: string; message?: string };
      throw new MlflowError(operation, e.error_code ?? `HTTP_${r.response.status}`, r.response.status, e.message ?? r.response.statusText);
    }
    return r.data as T;
  }

  /** The experiment's id, created when missing (another writer creating it first is fine). */
  experimentId(name: string, create = true): Promise<string> {
    let p = this.experiments.get(name);
    if (!p) {
      p = (async () => {
        const get = async (): Promise<string | undefined> => {
          try {
            const r = await this.call('experiments/get-by-name', () =>
              this.client.GET('/api/2.0/mlflow/experiments/get-by-name', { params: { query: { experiment_name: name } } }),
            );
            return r.experiment?.experiment_id;
          } catch (err) {
            if (err instanceof RegistryError && err.code === 'NOT_FOUND') return undefined;
            throw err;
          }
        };
        const found = await get();
        if (found) return found;
        if (!create) throw new RegistryError('NOT_FOUND', `MLflow at ${this.trackingUri} has no experiment '${name}'`);
        try {
          return (await this.call('experiments/create', this.client.POST('/api/2.0/mlflow/experiments/create', { body: { name } }))).experiment_id!;
        } catch (err) {
          if (err instanceof RegistryError && err.code === 'ALREADY_EXISTS') return (await get())!;
          throw err;
        }
      })();
      this.experiments.set(name, p);
      p.catch(() => this.experiments.delete(name));
    }
    return p;
  }

  /** Runs of the experiments (newest first), optionally filtered (MLflow search syntax). */
  async searchRuns(experiments: readonly string[], filter?: string): Promise<TrackedRunSummary[]> {
    const ids: string[] = [];
    const names = new Map<string, string>();
    for (const e of experiments) {
      try {
        const id = await this.experimentId(e, false);
        ids.push(id);
        names.set(id, e);
      } catch (err) {
        if (!(err instanceof RegistryError && err.code === 'NOT_FOUND')) throw err;
      }
    }
    if (!ids.length) return [];
    const out: TrackedRunSummary[] = [];
    let page_token: string | undefined;
    do {
      const r = await this.call('runs/search', () =>
        this.client.POST('/api/2.0/mlflow/runs/search', {
          body: {
            experiment_ids: ids,
            max_results: 1000,
            order_by: ['attributes.start_time DESC'],
            ...(filter ? { filter } : {}),
            ...(page_token ? { page_token } : {}),
          },
        }),
      );
      for (const run of r.runs ?? []) out.push(this.summary(run, names));
      page_token = r.next_page_token || undefined;
    } while (page_token);
    return out;
  }

  private summary(run: Run, names: Map<string, string>): TrackedRunSummary {
    const tags = Object.fromEntries((run.data?.tags ?? []).map((t) => [t.key!, t.value ?? '']));
    return {
      mlflowRunId: run.info!.run_id!,
      runId: tags['ghosteam.runId'] ?? run.info!.run_name ?? run.info!.run_id!,
      experiment: names.get(run.info!.experiment_id!) ?? run.info!.experiment_id!,
      status: run.info!.status ?? 'RUNNING',
      startTime: Number(run.info!.start_time ?? 0),
      params: Object.fromEntries((run.data?.params ?? []).map((p) => [p.key!, p.value ?? ''])),
      tags,
      metrics: Object.fromEntries((run.data?.metrics ?? []).map((m) => [m.key, m.value])),
    };
  }

  /** Every value of a metric with its step, in step order. */
  async metricHistory(mlflowRunId: string, key: string): Promise<{ step: number; value: number }[]> {
    const r = await this.call('metrics/get-history', () =>
      this.client.GET('/api/2.0/mlflow/metrics/get-history', { params: { query: { run_id: mlflowRunId, metric_key: key } } }),
    );
    return (r.metrics ?? []).map((m) => ({ step: Number(m.step ?? 0), value: m.value })).sort((a, b) => a.step - b.step);
  }

  /** Logs a run (or returns the MLflow run that already holds this ghosteam run id). */
  async logRun(run: TrackedRun): Promise<{ mlflowRunId: string; created: boolean }> {
    const experimentId = await this.experimentId(run.experiment);
    const existing = await this.call('runs/search', () =>
      this.client.POST('/api/2.0/mlflow/runs/search', {
        body: { experiment_ids: [experimentId], filter: `tags.\`ghosteam.runId\` = '${run.runId.replace(/'/g, '')}'`, max_results: 1 },
      }),
    );
    const found = existing.runs?.[0];
    if (found && found.info?.status !== 'RUNNING') return { mlflowRunId: found.info!.run_id!, created: false };
    const created =
      found ??
      (
        await this.call(
          'runs/create',
          this.client.POST('/api/2.0/mlflow/runs/create', {
            body: {
              experiment_id: experimentId,
              run_name: run.runId,
              start_time: run.startTime,
              tags: Object.entries({ ...run.tags, 'ghosteam.runId': run.runId }).map(([key, value]) => ({ key, value })),
            },
          }),
        )
      ).run!;
    const id = created.info!.run_id!;
    const now = run.endTime ?? Date.now();
    const metrics = [
      ...Object.entries(run.history).flatMap(([key, points]) =>
        points.filter((p) => Number.isFinite(p.value)).map((p) => ({ key, value: p.value, step: p.step, timestamp: now })),
      ),
      ...Object.entries(run.metrics)
        .filter(([k, v]) => Number.isFinite(v) && !(k in run.history))
        .map(([key, value]) => ({ key, value, step: 0, timestamp: now })),
    ];
    const params = found ? [] : Object.entries(run.params).map(([key, value]) => ({ key, value: value.slice(0, 6000) }));
    // log-batch takes at most 1000 metrics and 100 params per call.
    for (let i = 0, j = 0; i < metrics.length || j < params.length; i += 1000, j += 100) {
      await this.call(
        'runs/log-batch',
        this.client.POST('/api/2.0/mlflow/runs/log-batch', { body: { run_id: id, metrics: metrics.slice(i, i + 1000), params: params.slice(j, j + 100) } }),
      );
    }
    const base = created.info!.artifact_uri ?? '';
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(base);
    for (const [path, file] of Object.entries(run.artifacts)) {
      if (!m)
        throw new RegistryError(
          'INVALID',
          `the MLflow server at ${this.trackingUri} does not proxy artifacts (artifact URI '${base}'); start it with --serve-artifacts to keep run artifacts`,
        );
      const url = `${this.trackingUri}/api/2.0/mlflow-artifacts/artifacts/${`${m[1]}/${path}`.split('/').map(encodeURIComponent).join('/')}`;
      const res = await this.fetchFn(url, { method: 'PUT', body: await readFile(file), headers: { 'content-type': 'application/octet-stream' } });
      const body = await res.text();
      if (!res.ok) throw new MlflowError('mlflow-artifacts upload', `HTTP_${res.status}`, res.status, `${path}: ${body.slice(0, 300)}`);
    }
    await this.call(
      'runs/update',
      this.client.POST('/api/2.0/mlflow/runs/update', { body: { run_id: id, status: STATUS[run.status], ...(run.endTime ? { end_time: run.endTime } : {}) } }),
    );
    return { mlflowRunId: id, created: true };
  }
}

/**
 * `ghosteam operator --local` as a long-running service: the local operator (controllers/local.ts)
 * plus what a cluster gives the cluster operator for free —
 *  - its dependencies checked before it starts (the model server answers, the registry lists), and
 *    watched while it runs: a dependency that goes away is logged as an error, not silently retried;
 *  - one registry: the pipelines it runs register into the registry it reads (the engine's register
 *    step is pointed at it), named in the start-up line;
 *  - an apply path for other processes (the inbox, controllers/runtime/inbox.ts): `ghosteam watch`
 *    hands it each commit's objects and app, `ghosteam retrain` a TrainingRun;
 *  - the app whose pipelines TrainingRuns run: --app, else the last one an inbox entry named
 *    (remembered in `<stateDir>/app.json` across restarts);
 *  - a handle that keeps the process alive until stop() (timers of the controllers are unref'd).
 */
import type { HealthSecurity } from './runtime/health.ts';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { ModelRegistry } from '../components/registry/types.ts';
import type { Logger } from './runtime/log.ts';
import type { K8sObject } from '../api/objects.ts';
import type { GitWriteBackOptions } from './reconcilers/writeback.ts';
import type { OperatorAudit } from './operator.ts';
import type { LocalPipeline } from './backends/local-pipelines.ts';
import { startLocalOperator, type LocalOperator } from './local.ts';
import { finishInboxEntry, readInbox, rejectInboxFile, type InboxApp } from './runtime/inbox.ts';

export interface LocalServiceOptions {
  readonly stateDir: string;
  readonly registry: ModelRegistry;
  /** How the registry is named in logs ("local registry /abs/dir", "MLflow http://…"). */
  readonly registryLabel: string;
  /** Environment that points the engine's register step at `registry` (GHOSTEAM_REGISTRY_DIR or MLFLOW_TRACKING_URI). */
  readonly registryEnv: Readonly<Record<string, string>>;
  readonly modelServerUrl: string;
  readonly payloadLog?: string;
  /** An app file whose pipelines TrainingRuns run (else the last one an inbox entry named). */
  readonly app?: string;
  /** ghosteam objects to apply at start (--manifests). */
  readonly manifests?: readonly K8sObject[];
  /** Alert rules (PrometheusRules from Alerts.of) to evaluate locally, and where to send what fires. @default - none */
  readonly alerts?: { readonly rules: readonly K8sObject[]; readonly webhook?: { readonly url: string; readonly bearerToken?: string } };
  /** The engine's store directory (artifacts, cache, run records), absolute. */
  readonly storeDir: string;
  readonly workers?: number;
  readonly healthPort?: number;
  readonly healthHost?: string;
  /** Auth (the `metrics` permission on /metrics) and TLS for the health/metrics server. */
  readonly healthSecurity?: HealthSecurity;
  readonly gitWriteBack?: GitWriteBackOptions;
  readonly audit?: OperatorAudit;
  readonly log: Logger;
  /** @default 1000 */
  readonly inboxPollMs?: number;
  /** How often the model server and registry are checked while running. @default 15000 */
  readonly dependencyCheckMs?: number;
  readonly resyncMs?: number;
}

export interface LocalService {
  readonly operator: LocalOperator;
  /** The health server's port, when --health-port was given. */
  readonly healthPort?: number;
  stop(): Promise<void>;
}

/** Why the model server at `url` cannot be used, or undefined when it answers. */
export async function modelServerProblem(url: string, timeoutMs = 5000): Promise<string | undefined> {
  try {
    const res = await fetch(new URL('/v2/health/live', url), { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok ? undefined : `model server ${url} answered ${res.status} on /v2/health/live`;
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return `model server ${url} is not reachable (${cause?.code ?? cause?.message ?? (e as Error).message})`;
  }
}

/** Why the registry cannot be used, or undefined when it lists its models. */
export async function registryProblem(registry: ModelRegistry, label: string): Promise<string | undefined> {
  try {
    await registry.listModels();
    return undefined;
  } catch (e) {
    return `${label} is not usable: ${(e as Error).message}`;
  }
}

async function loadApp(app: InboxApp): Promise<Map<string, LocalPipeline>> {
  const [{ loadPipelines }, { pipelineSpecHash }] = await Promise.all([import('../pipelines/local/load.ts'), import('../pipelines/hash.ts')]);
  const specs = await loadPipelines(app.file);
  return new Map(specs.map((p) => [p.name, { ...p, specHash: pipelineSpecHash(p), cwd: app.tree }]));
}

export async function startLocalService(o: LocalServiceOptions): Promise<LocalService> {
  const log = o.log;
  const problems = (await Promise.all([modelServerProblem(o.modelServerUrl), registryProblem(o.registry, o.registryLabel)])).filter(
    (p): p is string => p !== undefined,
  );
  if (problems.length)
    throw new Error(
      `${problems.join('; ')}. The local operator needs both: start the model server with \`ghosteam serve\` (same registry) and check --model-server/--registry-dir`,
    );
  // One registry: the pipelines this operator runs register where it reads.
  for (const [k, v] of Object.entries(o.registryEnv)) process.env[k] = v;

  const appFile = resolve(o.stateDir, 'app.json');
  let app: InboxApp | undefined = o.app ? { file: resolve(o.app), tree: process.cwd() } : undefined;
  if (!app && existsSync(appFile)) {
    try {
      app = JSON.parse(readFileSync(appFile, 'utf8')) as InboxApp;
    } catch {
      log.warn(`${appFile} is not valid JSON; TrainingRuns wait for the next commit \`ghosteam watch\` applies`);
    }
  }
  let pipelines = new Map<string, LocalPipeline>();
  if (app) {
    if (!existsSync(app.file)) log.warn(`the app ${app.file} is gone; TrainingRuns wait for the next commit \`ghosteam watch\` applies`);
    else pipelines = await loadApp(app);
  }

  const [{ ModelServerAdminClient }, { runPipeline }] = await Promise.all([
    import('../components/model-server/index.ts'),
    import('../pipelines/local/index.ts'),
  ]);
  const op = await startLocalOperator({
    stateDir: o.stateDir,
    registry: o.registry,
    modelServer: new ModelServerAdminClient(o.modelServerUrl),
    modelServerUrl: o.modelServerUrl,
    ...(o.payloadLog ? { payloadLog: o.payloadLog } : {}),
    engine: { run: runPipeline, pipelines: () => pipelines, storeDir: o.storeDir },
    log,
    workers: o.workers,
    healthPort: o.healthPort,
    healthHost: o.healthHost,
    healthSecurity: o.healthSecurity,
    ...(o.resyncMs ? { resyncMs: o.resyncMs } : {}),
    ...(o.gitWriteBack ? { gitWriteBack: o.gitWriteBack } : {}),
    ...(o.audit ? { audit: o.audit } : {}),
    ...(o.alerts ? { alerts: { rules: o.alerts.rules, ...(o.alerts.webhook ? { webhook: o.alerts.webhook } : {}) } } : {}),
  });
  if (op.alerts)
    log.info(
      `alert rules: ${op.alerts.rules.map((r) => `${r.alert} (${r.model})`).join(', ')}, evaluated over the model server's series${o.alerts?.webhook ? `, sent to ${o.alerts.webhook.url}` : ''}`,
    );

  const applyOne = async (obj: K8sObject): Promise<string> => {
    const ns = obj.metadata.namespace ?? 'default';
    const existed = await op.get(obj.kind as 'Model', ns, obj.metadata.name);
    await op.apply(obj);
    return `${obj.kind} ${ns}/${obj.metadata.name} ${existed ? 'applied' : 'created'}`;
  };
  for (const m of o.manifests ?? []) log.info(await applyOne(m));

  // The inbox: entries are applied one at a time, in order; an entry leaves the inbox only once applied.
  let draining: Promise<void> | undefined;
  const drain = async () => {
    for (const { file, entry, error } of await readInbox(o.stateDir)) {
      if (!entry) {
        log.error(`inbox entry ${file} is unreadable (${error}); moved to inbox/bad`);
        await rejectInboxFile(file);
        continue;
      }
      if (entry.app) {
        try {
          pipelines = await loadApp(entry.app);
        } catch (e) {
          log.error(`inbox entry ${entry.id}: loading the app ${entry.app.file} failed: ${(e as Error).message}; its TrainingRuns wait for an app that loads`);
        }
        app = entry.app;
        await writeFileAtomic(appFile, `${JSON.stringify(app)}\n`);
      }
      const applied: string[] = [];
      const refused: string[] = [];
      for (const obj of entry.objects) {
        try {
          applied.push(await applyOne(obj));
        } catch (e) {
          refused.push(`${obj.kind} ${obj.metadata?.namespace ?? 'default'}/${obj.metadata?.name}: ${(e as Error).message}`);
        }
      }
      for (const a of entry.annotate ?? []) {
        const id = `${a.kind} ${a.namespace}/${a.name}`;
        try {
          await op.annotate(a.kind, a.namespace, a.name, a.annotations);
          applied.push(
            `${id} annotated ${Object.entries(a.annotations)
              .map(([k, v]) => (v === null ? `${k}-` : `${k}=${v}`))
              .join(' ')}`,
          );
        } catch (e) {
          refused.push(`${id}: ${(e as Error).message}`);
        }
      }
      for (const r of refused) log.error(`inbox entry ${entry.id} (${entry.source}${entry.commit ? ` ${entry.commit.slice(0, 7)}` : ''}): refused ${r}`);
      log.info(`inbox entry ${entry.id} (${entry.source}${entry.commit ? ` ${entry.commit.slice(0, 7)}` : ''}) applied: ${applied.join(', ') || 'no objects'}`);
      await finishInboxEntry(file, { id: entry.id, appliedAt: new Date().toISOString(), applied, refused });
    }
  };
  const tick = () => {
    draining ??= drain()
      .catch((e) => log.error(`reading the inbox failed: ${(e as Error).message}`))
      .finally(() => {
        draining = undefined;
      });
  };
  tick();
  // Not unref'd: this interval is what keeps `ghosteam operator --local` running until it is stopped.
  const inboxTimer = setInterval(tick, o.inboxPollMs ?? 1000);

  let down: string | undefined;
  const depTimer = setInterval(() => {
    void Promise.all([modelServerProblem(o.modelServerUrl), registryProblem(o.registry, o.registryLabel)]).then((ps) => {
      const now = ps.filter(Boolean).join('; ') || undefined;
      if (now && now !== down) log.error(`${now}; canaries and registrations wait until it is back`);
      if (!now && down) log.info('the model server and the registry answer again');
      down = now;
    });
  }, o.dependencyCheckMs ?? 15_000);
  depTimer.unref();

  return {
    operator: op,
    healthPort: op.operator.manager.healthPort,
    async stop() {
      clearInterval(inboxTimer);
      clearInterval(depTimer);
      await draining;
      await op.stop();
    },
  };
}

/** The registry the local operator uses, its label for logs, and the environment that points the engine's register step at it. */
export function localRegistryChoice(
  f: { mlflowUri?: string; registryDir?: string },
  env: Readonly<Record<string, string | undefined>> = process.env,
): { trackingUri?: string; dir?: string; label: string; env: Record<string, string> } {
  const uri = f.mlflowUri ?? (f.registryDir ? undefined : env.MLFLOW_TRACKING_URI || undefined);
  if (uri) return { trackingUri: uri, label: `MLflow registry ${uri.replace(/\/\/[^@/]*@/, '//')}`, env: { MLFLOW_TRACKING_URI: uri } };
  const dir = resolve(f.registryDir ?? env.GHOSTEAM_REGISTRY_DIR ?? '.ghosteam/registry');
  return { dir, label: `local registry ${dir}`, env: { GHOSTEAM_REGISTRY_DIR: dir, MLFLOW_TRACKING_URI: '' } };
}

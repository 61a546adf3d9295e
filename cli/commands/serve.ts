/**
 * `ghosteam serve`: serves ONNX models over the Open Inference Protocol (and KServe V1 predict)
 * from the registry or from files, until SIGTERM/SIGINT, then drains in-flight requests and exits 0.
 *
 *   ghosteam serve --model fraud@champion --port 8080
 *   ghosteam serve --model ./fraud.onnx --model fraud:2=./fraud-v2.onnx --token-env SERVE_TOKEN
 *   ghosteam serve --model a=./a.onnx … --model z=./z.onnx --memory-budget 1GiB   (more models than fit)
 *
 * A file model without a version gets $GHOSTEAM_MODEL_VERSION, else 1 (in KServe, set it on the
 * predictor so the metrics' version label is the registry version).
 *
 * Beyond loopback (`--host 0.0.0.0`) it needs a token (`--token-env NAME`: the token by reference,
 * never on the command line) or `--unauthenticated`, said on purpose; the latter still prints a loud
 * WARNING. On SIGTERM/SIGINT it stops accepting, answers in-flight requests and requests on open
 * keep-alive connections with `Connection: close`, closes the rest after `--drain-timeout-ms`, and
 * exits 0; a second signal exits at once.
 */
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { startModelServer, parseModelSpec, SERVER_DEFAULTS, type ModelSpec, type ModelServerOptions } from '../../components/model-server/index.ts';
import { exposureWarning, isLoopback } from '../../components/model-server/http.ts';
import { intArg } from '../args.ts';
import { defaultWorkers, startServerCluster, workersFlag } from '../../components/model-server/cluster.ts';
import { parseDuration } from '../../api/names.ts';
import { MALLOC_MMAP_THRESHOLD, parseByteSize } from '../../components/model-server/residency.ts';
import { specName } from '../../components/model-server/models.ts';
import { FEATURE_SPEC_ENV, openOnlineStore, readModelFeatures, serviceStore } from '../../components/features/open-store.ts';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

function durationFlag(flag: string, value: string): number {
  let seconds: number;
  try {
    seconds = parseDuration(value);
  } catch (e) {
    throw new Error(`${flag}: ${(e as Error).message}`, { cause: e });
  }
  if (seconds <= 0) throw new Error(`${flag} must be longer than 0s; got '${value}'`);
  return seconds * 1000;
}
import { addSecurityOptions, authFromFlags, tlsFromFlags, type SecurityFlags } from '../security.ts';

interface ServeFlags extends SecurityFlags {
  auditLog?: string;
  model: string[];
  port: string;
  host: string;
  tokenEnv?: string;
  payloadLog?: string;
  payloadSink?: string;
  payloadSample: string;
  feedbackLog?: string;
  qualityWindow: string;
  batching: boolean;
  maxBatchSize: string;
  maxQueueDelayMs: string;
  maxBody: string;
  maxInflight: string;
  maxInflightPerConnection: string;
  maxResponseBytes: string;
  headersTimeoutMs: string;
  requestTimeoutMs: string;
  drainTimeoutMs: string;
  unauthenticated?: boolean;
  threads: string;
  memoryBudget?: string;
  workers?: string;
  admin?: boolean;
  registryDir?: string;
  mlflowUri?: string;
  featureService: string[];
  featuresApp?: string;
  featureSpec: string[];
}

/**
 * --feature-spec [MODEL=]FILE (default: $GHOSTEAM_FEATURE_SPEC): a model fed from the feature spec
 * file a Model with `features` synthesizes (its <model>-features ConfigMap, mounted in the
 * predictor); the store's URL from GHOSTEAM_ONLINE_STORE_URL (the Secret the views name). Without
 * MODEL= the file feeds the one model served (KServe's {{.Name}}). This path is what the
 * model-server image carries: no app is loaded.
 */
async function featureSpecs(flags: ServeFlags, models: readonly ModelSpec[]): Promise<NonNullable<ModelServerOptions['features']>> {
  const env = process.env[FEATURE_SPEC_ENV];
  const given = flags.featureSpec.length > 0 ? flags.featureSpec : env ? [env] : [];
  const out: Record<string, NonNullable<ModelServerOptions['features']>[string]> = {};
  for (const item of given) {
    const m = /^([A-Za-z0-9][-A-Za-z0-9_.]*)=(.+)$/.exec(item);
    let model: string;
    let file: string;
    if (m && !existsSync(item)) [model, file] = [m[1], m[2]];
    else {
      const names = [...new Set(models.map(specName))];
      if (names.length !== 1)
        throw new Error(
          `--feature-spec ${item}: ${names.length === 0 ? 'no --model is served' : `${names.length} models are served (${names.join(', ')})`}; write MODEL=FILE to say which model the file feeds`,
        );
      [model, file] = [names[0], item];
    }
    if (out[model]) throw new Error(`--feature-spec: model '${model}' is fed by two feature specs; give one`);
    const service = readModelFeatures(file);
    const [viewName, view] = serviceStore(service);
    out[model] = { service, store: await openOnlineStore(viewName, view, { baseDir: dirname(resolve(file)), readOnly: true }) };
  }
  return out;
}

/** --feature-service MODEL=SERVICE pairs: each service with its views' online store (opened read-only). */
async function featureInputs(flags: ServeFlags): Promise<ModelServerOptions['features']> {
  if (flags.featureService.length === 0) {
    if (flags.featuresApp) throw new Error('--features-app is set but no --feature-service MODEL=SERVICE names a service to use');
    return undefined;
  }
  if (!flags.featuresApp) throw new Error('--feature-service needs --features-app, the app file declaring the FeatureService');
  // The app's declarations and the stores load only here: the model-server image does not carry
  // them (it has no app to load); test/components/image.test.ts lists this as the one branch not carried.
  const { declaredFeatures } = await import('./features.ts').catch((e: unknown) => {
    if ((e as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw e;
    throw new Error(
      `--feature-service loads the app's feature declarations, which this installation does not carry (${(e as Error).message.split('\n')[0]}); ` +
        'run `ghosteam serve --feature-service` from the ghosteam npm package (npm install ghosteam); in the image, feed the model with --feature-spec (what a Model with features synthesizes)',
    );
  });
  const d = await declaredFeatures(flags.featuresApp);
  const out: Record<string, NonNullable<ModelServerOptions['features']>[string]> = {};
  for (const pair of flags.featureService) {
    const m = /^([A-Za-z0-9][-A-Za-z0-9_.]*)=([a-z0-9][-a-z0-9]*)$/.exec(pair);
    if (!m) throw new Error(`--feature-service '${pair}': write MODEL=SERVICE, e.g. fraud=fraud-features`);
    const svc = d.services.find((s) => s.name === m[2]);
    if (!svc)
      throw new Error(
        `--feature-service ${pair}: ${flags.featuresApp} declares no FeatureService '${m[2]}'; it declares ${d.services.map((s) => s.name).join(', ') || 'none'}`,
      );
    const [viewName, view] = serviceStore(svc);
    out[m[1]] = { service: svc, store: await openOnlineStore(viewName, view, { baseDir: d.appDir, readOnly: true }) };
  }
  return out;
}

export function register(program: Command): void {
  const cmd = program
    .command('serve')
    .description('Serve ONNX models over the Open Inference Protocol (KServe V2) and KServe V1')
    .option(
      '-m, --model <spec>',
      'a model: fraud@champion, fraud:3, models:/fraud@champion, models:/fraud/3, runs:/RUN_ID/model (registry), ./model.onnx, an MLflow model dir, or fraud:2=./model.onnx (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('-p, --port <port>', 'port to listen on (0 = any free port)', '8080')
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .option('--token-env <NAME>', 'environment variable holding a bearer token required on every endpoint but health')
    .option('--payload-log <file>', 'write sampled request/response records to this rotating JSON Lines file')
    .option('--payload-sink <url>', 'POST sampled records as CloudEvents to this URL instead of a file')
    .option('--payload-sample <rate>', 'share of requests recorded, 0-1', '1')
    .option(
      '--feedback-log <file>',
      'keep the labels POSTed to /v2/models/NAME/feedback in this JSON Lines file (fsynced; replayed on start) instead of memory only',
    )
    .option('--quality-window <duration>', 'sliding window the quality metrics from feedback cover (e.g. 30m, 1h, 1d)', '1h')
    .option('--no-batching', 'run every request alone (no dynamic batching)')
    .option('--max-batch-size <rows>', 'most rows merged into one model run', '64')
    .option('--max-queue-delay-ms <ms>', 'longest a request waits for a batch', '2')
    .option(
      '--max-body <bytes>',
      'largest request body (past it: 413, read and dropped up to 16 MiB so every client reads it)',
      String(SERVER_DEFAULTS.maxBodyBytes),
    )
    .option('--max-inflight <n>', 'requests in flight before answering 429 (a request counts once its body has arrived)', String(SERVER_DEFAULTS.maxInflight))
    .option(
      '--max-inflight-per-connection <n>',
      'requests in flight one connection may hold (HTTP pipelining) before its requests get 429',
      String(SERVER_DEFAULTS.maxInflightPerConnection),
    )
    .option(
      '--max-response-bytes <bytes>',
      'largest answer; a request whose answer would be larger gets 413 with the reason',
      String(SERVER_DEFAULTS.maxResponseBytes),
    )
    .option('--headers-timeout-ms <ms>', "deadline for a request's headers (past it: 408, connection closed)", String(SERVER_DEFAULTS.headersTimeoutMs))
    .option(
      '--request-timeout-ms <ms>',
      'deadline for a whole request, headers and body (past it: 408, connection closed)',
      String(SERVER_DEFAULTS.requestTimeoutMs),
    )
    .option(
      '--drain-timeout-ms <ms>',
      'on SIGTERM, how long in-flight and keep-alive requests are answered before every connection closes',
      String(SERVER_DEFAULTS.drainTimeoutMs),
    )
    .option('--unauthenticated', 'serve without a token on a non-loopback --host, on purpose (e.g. behind a mesh that authenticates); prints a warning')
    .option('--threads <n>', 'onnxruntime intra-op threads per model', '1')
    .option(
      '--memory-budget <size>',
      'resident memory the server may take (e.g. 1GiB, 512MiB): models are registered from their graph and loaded by their first request; past it the least recently used model is evicted and loaded again by its next request (single flight; cold loads in ghosteam_model_cold_load_seconds); a model larger than the budget is refused (default: no budget, every model loaded at start and kept)',
    )
    .option(
      '--workers <n>',
      'server processes sharing the port, each with its own onnxruntime sessions and its own copy of every model; "auto": one per CPU this process may use (its cgroup CPU quota included), 1 with OIDC, TLS, an audit log or a feedback log',
      '1',
    )
    .option('--admin', 'serve the /admin API (load/unload, traffic, stats) (default: on when bound to loopback or with a token)')
    .option('--no-admin', 'never serve the /admin API')
    .option(
      '--registry-dir <dir>',
      'local registry directory, also for loading by name through /v2/repository (default: $GHOSTEAM_REGISTRY_DIR or .ghosteam/registry)',
    )
    .option(
      '--mlflow-uri <url>',
      'use the MLflow registry at this tracking URI, also for loading by name through /v2/repository (default: $MLFLOW_TRACKING_URI)',
    )
    .option(
      '--feature-service <MODEL=SERVICE>',
      'feed MODEL from the FeatureService SERVICE declared in --features-app: its infer requests may send entity keys ({"entities": [{"driver_id": 1001}]}) instead of tensors (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--features-app <app>', "the app file declaring the FeatureServices --feature-service names (their online stores are the views' own)")
    .option(
      '--feature-spec <[MODEL=]FILE>',
      `feed MODEL (without MODEL=: the one model served) from a feature spec file, the <model>-features ConfigMap a Model with features synthesizes; Redis URL from $GHOSTEAM_ONLINE_STORE_URL (default: $${FEATURE_SPEC_ENV}) (repeatable)`,
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--audit-log <file>', 'append every admin action (load, unload, traffic) with who asked and the outcome to this JSON Lines file (fsynced)');
  addSecurityOptions(cmd, { routes: 'infer[:MODEL], admin, metrics' }).action(async (flags: ServeFlags) => {
    const memoryBudget = flags.memoryBudget === undefined ? undefined : parseByteSize(flags.memoryBudget);
    // glibc's malloc keeps the blocks of a released session for reuse (its mmap threshold rises after
    // the first large free), so RSS does not fall after an eviction and, as models churn, it grew past
    // the budget (bench:density: 1,274 MiB peak for 1 GiB). With the threshold fixed, large blocks go
    // back to the system at release (753 MiB peak). It can only be set before the process starts:
    // run this command again with it, passing signals on and exiting with its status.
    if (memoryBudget !== undefined && process.platform === 'linux' && process.env.MALLOC_MMAP_THRESHOLD_ === undefined) {
      const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
        stdio: 'inherit',
        env: { ...process.env, MALLOC_MMAP_THRESHOLD_: MALLOC_MMAP_THRESHOLD },
      });
      for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => child.kill(sig));
      process.exitCode = await new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig === 'SIGKILL' ? 137 : 1))));
      return;
    }
    // With no --model the server starts empty when something can load models into it: the local
    // operator (admin API) or /v2/repository loads from the named registry.
    if (flags.model.length === 0 && flags.registryDir === undefined && flags.mlflowUri === undefined)
      throw new Error(
        'no model to serve; pass --model fraud@champion or --model ./model.onnx, or --registry-dir <dir> to start empty and let the local operator load versions',
      );
    // In KServe each revision's pod serves {{.Name}}=/mnt/models; GHOSTEAM_MODEL_VERSION (set on the
    // predictor by the operator) labels it with its registry version, so per-version metrics line up.
    const envVersion = process.env.GHOSTEAM_MODEL_VERSION || undefined;
    if (envVersion !== undefined && !/^[A-Za-z0-9][-A-Za-z0-9_.]*$/.test(envVersion))
      throw new Error(`GHOSTEAM_MODEL_VERSION '${envVersion}' is not a version; use e.g. 3`);
    const models: ModelSpec[] = flags.model
      .map(parseModelSpec)
      .map((m) => ('path' in m && m.version === undefined && envVersion ? { ...m, version: envVersion } : m));
    let token: string | undefined;
    if (flags.tokenEnv) {
      token = process.env[flags.tokenEnv];
      if (!token) throw new Error(`--token-env ${flags.tokenEnv}: the environment variable is not set or empty`);
    }
    const auth = authFromFlags(flags);
    const tls = tlsFromFlags(flags);
    // Beyond loopback without a token anyone who reaches the address uses the server: only on purpose.
    if (!isLoopback(flags.host) && token === undefined && auth === undefined) {
      if (!flags.unauthenticated)
        throw new Error(
          `--host ${flags.host} without a token: anyone who can reach this address could use the server${flags.admin ? ' and its /admin API' : ''}. Pass --token-env NAME (a variable holding the token) or --auth-issuer/--auth-audience (OIDC tokens), bind 127.0.0.1, or pass --unauthenticated to serve without a token on purpose`,
        );
      process.stderr.write(`${exposureWarning('the model server', flags.host, token, flags.admin === true)}\n`);
    }
    if (!isLoopback(flags.host) && tls === undefined)
      process.stderr.write(
        `WARNING: the model server listens on ${flags.host} over plain HTTP: tokens and payloads cross the network in the clear. Pass --tls-cert and --tls-key (or terminate TLS in front of it).\n`,
      );
    const audit = flags.auditLog ? await (await import('../../components/security/audit.ts')).openAuditLog(flags.auditLog) : undefined;
    const sample = Number(flags.payloadSample);
    if (!(sample >= 0 && sample <= 1)) throw new Error(`--payload-sample expects a number from 0 to 1, got '${flags.payloadSample}'`);
    if (flags.payloadLog && flags.payloadSink) throw new Error('--payload-log and --payload-sink are exclusive; pick one');
    // A registry is opened for registry models, and whenever one is named: the model repository
    // extension (POST /v2/repository/models/NAME/load) then loads from it by name.
    const registry =
      models.some((m) => 'ref' in m) || flags.registryDir !== undefined || flags.mlflowUri !== undefined
        ? (await import('../../components/registry/index.ts')).openRegistry({ dir: flags.registryDir, trackingUri: flags.mlflowUri })
        : undefined;
    // More than one worker: processes sharing the port (components/model-server/cluster.ts). OIDC
    // verifiers, TLS, the audit log and the feedback log are not shared across processes yet.
    const fromApp = await featureInputs(flags);
    const fromSpecs = await featureSpecs(flags, models);
    for (const m of Object.keys(fromSpecs)) if (fromApp?.[m]) throw new Error(`model '${m}' is fed by both --feature-service and --feature-spec; give one`);
    const features = fromApp || Object.keys(fromSpecs).length ? { ...fromApp, ...fromSpecs } : undefined;
    const workers = workersFlag(flags.workers, { clusterable: !auth && !tls && !audit && !flags.feedbackLog && !features, cpus: defaultWorkers });
    if (memoryBudget !== undefined && workers > 1)
      throw new Error(
        `--memory-budget is one process's resident memory; with --workers ${flags.workers} every worker would hold its own copy of each model. Use --workers 1 with a budget, or run one server per budget`,
      );
    const opts: ModelServerOptions = {
      models,
      registry,
      host: flags.host,
      port: intArg('--port', flags.port, 0),
      token,
      ...(auth ? { auth } : {}),
      ...(tls ? { tls } : {}),
      ...(audit ? { audit } : {}),
      batching: flags.batching ? { maxBatchSize: intArg('--max-batch-size', flags.maxBatchSize, 1), maxQueueDelayMs: Number(flags.maxQueueDelayMs) } : false,
      maxBodyBytes: intArg('--max-body', flags.maxBody, 1),
      maxInflight: intArg('--max-inflight', flags.maxInflight, 1),
      maxInflightPerConnection: intArg('--max-inflight-per-connection', flags.maxInflightPerConnection, 1),
      maxResponseBytes: intArg('--max-response-bytes', flags.maxResponseBytes, 1),
      headersTimeoutMs: intArg('--headers-timeout-ms', flags.headersTimeoutMs, 1),
      requestTimeoutMs: intArg('--request-timeout-ms', flags.requestTimeoutMs, 1),
      drainTimeoutMs: intArg('--drain-timeout-ms', flags.drainTimeoutMs, 0),
      session: { intraOpThreads: intArg('--threads', flags.threads, 1) },
      ...(memoryBudget !== undefined ? { memoryBudget } : {}),
      ...(features ? { features } : {}),
      admin: flags.admin,
      // KServe's sklearn server answers V1 with predict_proba when PREDICT_PROBA=true; so does this one.
      v1PredictProba: (process.env.PREDICT_PROBA ?? '').toLowerCase() === 'true',
      payloadLog: flags.payloadLog || flags.payloadSink ? { file: flags.payloadLog, sinkUrl: flags.payloadSink, sampleRate: sample } : undefined,
      quality: { ...(flags.feedbackLog ? { file: flags.feedbackLog } : {}), windowMs: durationFlag('--quality-window', flags.qualityWindow) },
    };
    const { registry: _registry, ...shared } = opts;
    const server =
      workers > 1
        ? await startServerCluster({ ...shared, workers, registry: registry ? { dir: flags.registryDir, trackingUri: flags.mlflowUri } : undefined })
        : await startModelServer(opts);
    for (const f of server.failed) process.stderr.write(`not serving ${f.model}: ${f.error}\n`);
    const served = await server.models();
    if (workers > 1) process.stdout.write(`${workers} server workers\n`);
    for (const m of served) {
      process.stdout.write(`serving ${m.name} version ${m.versions.map((v) => v.version).join(', ')} (stable ${m.traffic.stable})\n`);
    }
    if (served.length === 0)
      process.stdout.write(`no model loaded yet: \`ghosteam operator --local --model-server ${server.url}\` loads registered versions through the admin API\n`);
    if (!server.admin && flags.admin === undefined)
      process.stdout.write('admin API off: the server is reachable beyond loopback without a token (pass --token-env, or --admin to force it on)\n');
    if (auth)
      process.stdout.write(
        `OIDC tokens from ${auth.jwt!.issuer} for audience ${[auth.jwt!.audience].flat().join(', ')}; grants: ${auth.grants!.length > 0 ? flags.authGrant.join(', ') : 'the default scopes ghosteam:infer[:MODEL], ghosteam:admin, ghosteam:metrics'}\n`,
      );
    // Handlers first, then the line that says the server is ready (a supervisor may stop it at once).
    const stopped = new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (sig: NodeJS.Signals): void => {
        if (stopping) {
          // A second signal: stop waiting for the drain.
          process.stderr.write(`${sig} again: exiting without waiting for the drain\n`);
          process.exit(1);
        }
        stopping = true;
        process.stderr.write(`${sig}: draining in-flight requests\n`);
        server
          .close()
          .then(() => audit?.close())
          // The online stores' connections (Redis) would keep the process alive after the drain.
          .then(async () => void (await Promise.all(Object.values(features ?? {}).map((f) => f.store.close()))))
          .then(resolve, (e: Error) => {
            process.stderr.write(`error while closing: ${e.message}\n`);
            process.exitCode = 1;
            resolve();
          });
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    process.stdout.write(`listening on ${server.url}\n`);
    await stopped;
  });
}

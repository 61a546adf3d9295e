/**
 * `ghosteam operator`: runs the operator against the cluster of the current kubeconfig (or
 * in-cluster), or with --local over the local state store, registry, model server and pipeline
 * engine (the embedded default). Runs until SIGTERM/SIGINT.
 *
 *   ghosteam operator --leader-elect --health-port 8081
 *   ghosteam operator --local --model-server http://127.0.0.1:8080 --manifests dist/
 */
import { Option, type Command } from 'commander';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LineCounter } from 'yaml';
import { parseYamlStream } from '../../charts/yaml-read.ts';
import { credentialsFromEnv } from '../../gitops/git.ts';
import { LOCK_FILE } from '../../gitops/lockfile.ts';
import type { GitWriteBackOptions } from '../../controllers/reconcilers/writeback.ts';
import { intArg } from '../args.ts';
import { writeBackTargetProblem } from '../../api/lock.ts';
import { API_VERSION } from '../../api/crds/types.ts';
import type { K8sObject } from '../../api/objects.ts';
import { ALERT_CONDITIONS_ANNOTATION } from '../../api/alert-rules.ts';
import { addSecurityOptions, authFromFlags, tlsFromFlags, type SecurityFlags } from '../security.ts';
import type { AuthOptions } from '../../components/security/auth.ts';

interface OperatorFlags extends SecurityFlags {
  metricsTokenEnv?: string;
  uiPort?: string;
  uiHost?: string;
  uiTokenEnv?: string;
  uiViewerTokenEnv?: string;
  uiAuthIssuer?: string;
  uiAuthAudience?: string;
  uiAuthGrant: string[];
  auditLog?: string;
  local?: boolean;
  stateDir: string;
  registryDir?: string;
  mlflowUri?: string;
  prometheusUrl?: string;
  modelServer?: string;
  manifests?: string;
  alertWebhook?: string;
  alertWebhookTokenEnv?: string;
  payloadLog?: string;
  payloadSinkPort?: string;
  app?: string;
  workers: string;
  healthPort?: string;
  bindAddress: string;
  leaderElect?: boolean;
  leaseNamespace?: string;
  namespace?: string;
  kubeconfig?: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  gitRepo?: string;
  gitBranch: string;
  lockFile: string;
  storeDir: string;
}

/**
 * The write-back settings of --git-repo/--git-branch/--lock-file; undefined without --git-repo.
 * `given` says which flags were typed (the others hold defaults). Credentials come from the
 * environment only (GHOSTEAM_GIT_TOKEN, GHOSTEAM_GIT_USERNAME, GHOSTEAM_GIT_PASSWORD), as for
 * `ghosteam watch`; a path is resolved like watch's repository argument.
 */
export function gitWriteBackFlags(
  f: { gitRepo?: string; gitBranch: string; lockFile: string },
  given: { gitBranch: boolean; lockFile: boolean },
  env: Readonly<Record<string, string | undefined>> = process.env,
): GitWriteBackOptions | undefined {
  if (f.gitRepo === undefined) {
    for (const flag of ['gitBranch', 'lockFile'] as const) {
      if (given[flag])
        throw new Error(`${flag === 'gitBranch' ? '--git-branch' : '--lock-file'} needs --git-repo <url> (the repository to write promoted versions back to)`);
    }
    return undefined;
  }
  const problem = writeBackTargetProblem({ repo: f.gitRepo, branch: f.gitBranch, lockFile: f.lockFile });
  if (problem) throw new Error(problem);
  const repo = f.gitRepo.trim();
  const branch = f.gitBranch;
  const lockFile = f.lockFile;
  const credentials = credentialsFromEnv(env);
  return {
    repo: /^[a-z][a-z0-9+.-]*:\/\/|^[^/]+@[^:]+:/i.test(repo) ? repo : resolve(repo),
    branch,
    lockFile,
    ...(credentials ? { credentials } : {}),
  };
}

/**
 * The UI settings of `--ui-*`; undefined without --ui-port. Tokens come from the environment only
 * (a Secret's key through secretKeyRef: `ghosteam install --ui-token-secret`/`--ui-viewer-token-secret`);
 * errors name the flag. With any credential the UI's reads are authenticated too (`readers`: the
 * viewer token, and whoever may act); with none, reads are open and actions off.
 */
export function uiFlags(
  f: Pick<OperatorFlags, 'uiPort' | 'uiHost' | 'uiTokenEnv' | 'uiViewerTokenEnv' | 'uiAuthIssuer' | 'uiAuthAudience' | 'uiAuthGrant' | 'authCaFile'>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): { port: number; actions?: Omit<AuthOptions, 'now'>; readers?: Omit<AuthOptions, 'now'>[] } | undefined {
  if (f.uiPort === undefined) {
    const stray =
      f.uiHost !== undefined
        ? '--ui-host'
        : f.uiTokenEnv !== undefined
          ? '--ui-token-env'
          : f.uiViewerTokenEnv !== undefined
            ? '--ui-viewer-token-env'
            : f.uiAuthIssuer !== undefined
              ? '--ui-auth-issuer'
              : undefined;
    if (stray) throw new Error(`${stray} needs --ui-port <port> (the port the UI listens on)`);
    return undefined;
  }
  const port = intArg('--ui-port', f.uiPort, 0);
  const fromEnv = (flag: string, name: string | undefined): string | undefined => {
    if (name === undefined) return undefined;
    const token = env[name];
    if (!token) throw new Error(`${flag} ${name}: the environment variable is not set or empty`);
    if (token.length < 8) throw new Error(`${flag} ${name}: the token is shorter than 8 characters; use a long random one (openssl rand -hex 32)`);
    return token;
  };
  const token = fromEnv('--ui-token-env', f.uiTokenEnv);
  const viewer = fromEnv('--ui-viewer-token-env', f.uiViewerTokenEnv);
  let jwt: Omit<AuthOptions, 'token'> | undefined;
  try {
    jwt = authFromFlags({
      authIssuer: f.uiAuthIssuer,
      authAudience: f.uiAuthAudience,
      authGrant: f.uiAuthGrant,
      authCaFile: f.uiAuthIssuer ? f.authCaFile : undefined,
    });
  } catch (e) {
    throw new Error((e as Error).message.replace(/--auth-/g, '--ui-auth-'));
  }
  const actions = token || jwt ? { ...(token ? { token } : {}), ...(jwt ?? {}) } : undefined;
  const readers = [...(viewer ? [{ token: viewer }] : []), ...(actions ? [actions] : [])];
  return { port, ...(actions ? { actions } : {}), ...(readers.length ? { readers } : {}) };
}

/** ghosteam objects (Model, DriftMonitor, TrainingRun) from a YAML file or the YAML files in a directory. */
export function readGhosteamManifests(path: string): K8sObject[] {
  return readManifests(path, isGhosteamObject);
}

/** The PrometheusRules `Alerts.of` synthesized (they carry their conditions), which the local operator evaluates. */
export function readAlertRules(path: string): K8sObject[] {
  return readManifests(path, (o): o is K8sObject => {
    const x = o as Partial<K8sObject> | null;
    return x?.kind === 'PrometheusRule' && x.metadata?.annotations?.[ALERT_CONDITIONS_ANNOTATION] !== undefined;
  });
}

function readManifests(path: string, keep: (o: unknown) => o is K8sObject): K8sObject[] {
  const out: K8sObject[] = [];
  let files: string[];
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new Error(
      `--manifests ${path}: no such file or directory; run 'ghosteam synth' first or point at the synthesized output (a YAML file or a directory of them)`,
    );
  }
  if (st.isDirectory())
    files = readdirSync(path)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
      .map((f) => join(path, f));
  else files = [path];
  for (const file of files) {
    // Linear in the file's size (the yaml package's own duplicate-key check is quadratic: minutes on a large map).
    const lc = new LineCounter();
    for (const d of parseYamlStream(readFileSync(file, 'utf8'), lc)) {
      if (d.errors.length) {
        const e = d.errors[0];
        const line = e.linePos?.[0].line ?? lc.linePos(e.pos[0]).line;
        throw new Error(`${file}:${line}: is not valid YAML (${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}); fix the syntax`);
      }
      const o: unknown = d.toJS();
      if (keep(o)) out.push(o);
    }
  }
  return out;
}

/** A ghosteam custom resource as synthesized: the rest is validated when the local operator applies it. */
function isGhosteamObject(o: unknown): o is K8sObject {
  if (!o || typeof o !== 'object') return false;
  const x = o as Partial<K8sObject>;
  return x.apiVersion === API_VERSION && typeof x.kind === 'string' && typeof x.metadata?.name === 'string';
}

/** Local mode's alert evaluation: the PrometheusRules in --manifests, sent to the log and --alert-webhook. */
export function alertsOf(f: { manifests?: string; alertWebhook?: string; alertWebhookTokenEnv?: string }): {
  alerts?: { rules: K8sObject[]; webhook?: { url: string; bearerToken?: string } };
} {
  if (f.alertWebhookTokenEnv && !f.alertWebhook) throw new Error('--alert-webhook-token-env needs --alert-webhook <url>');
  const rules = f.manifests ? readAlertRules(f.manifests) : [];
  if (rules.length === 0) {
    if (f.alertWebhook)
      throw new Error(
        `--alert-webhook: no PrometheusRule from Alerts.of in --manifests ${f.manifests ?? '(none given)'}; add alerts: Alerts.of() to a Model and synth`,
      );
    return {};
  }
  let bearerToken: string | undefined;
  if (f.alertWebhookTokenEnv) {
    bearerToken = process.env[f.alertWebhookTokenEnv];
    if (!bearerToken) throw new Error(`--alert-webhook-token-env ${f.alertWebhookTokenEnv}: that environment variable is empty or unset`);
  }
  return { alerts: { rules, ...(f.alertWebhook ? { webhook: { url: f.alertWebhook, ...(bearerToken ? { bearerToken } : {}) } } : {}) } };
}

export function register(program: Command): void {
  const command = program
    .command('operator')
    .description('Run the ghosteam operator (canaries, drift-triggered retraining, GPU placement)')
    .option('--local', 'run without a cluster, over the local state store (the embedded default)')
    .option('--state-dir <dir>', 'local mode: where objects are kept', '.ghosteam/state')
    .option('--registry-dir <dir>', 'local model registry directory (default: .ghosteam/registry)')
    .option('--mlflow-uri <url>', 'MLflow tracking URI of the model registry (default: MLFLOW_TRACKING_URI)')
    .option('--prometheus-url <url>', 'Prometheus base URL for canary analysis')
    .option('--model-server <url>', 'local mode: base URL of the ghosteam model server (admin API)')
    .option('--payload-log <file>', 'the payload log (JSON Lines) DriftMonitors read; local mode also uses it for canary prediction drift')
    .option(
      '--payload-sink-port <port>',
      'receive inference CloudEvents (KServe logger) on this port into --payload-log; one replica only: with several, run `ghosteam payload-sink` as a Deployment on a shared volume',
    )
    .option('--manifests <path>', 'local mode: apply the ghosteam objects in this YAML file, or the YAML files of this directory, at start')
    .option(
      '--alert-webhook <url>',
      "local mode: POST what the Models' alert rules (PrometheusRules in --manifests) fire or resolve here (Alertmanager's webhook payload)",
    )
    .option('--alert-webhook-token-env <NAME>', 'local mode: environment variable holding a bearer token for --alert-webhook')
    .option('--app <file>', 'local mode: the app whose pipelines TrainingRuns run (default: the one `ghosteam watch` applied last)')
    .option('--store-dir <dir>', "local mode: the engine's artifacts, cache and run records (as `ghosteam run --store-dir`)", '.ghosteam')
    .option('--workers <n>', 'workers per controller', '4')
    .option('--health-port <port>', 'serve /healthz, /readyz and /metrics on this port')
    .option('--bind-address <addr>', 'address for the health/metrics server', '127.0.0.1')
    .option('--leader-elect', 'take a coordination.k8s.io Lease so only one replica reconciles')
    .option('--lease-namespace <ns>', 'namespace of the leader Lease (default: POD_NAMESPACE or default)')
    .option('-n, --namespace <ns>', 'watch only this namespace')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: KUBECONFIG, in-cluster, or ~/.kube/config)')
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .option('--git-repo <url>', 'write promoted versions back to this Git repository (URL or path; off when absent)')
    .option('--git-branch <name>', 'branch the lock file lives on', 'main')
    .option('--lock-file <path>', "the lock file's path inside the repository", LOCK_FILE)
    .addHelpText(
      'after',
      `\nWrite-back (--git-repo): when a canary is promoted, the new version is committed to the lock file,
so Argo CD keeps it. Credentials: GHOSTEAM_GIT_TOKEN (and GHOSTEAM_GIT_USERNAME) or GHOSTEAM_GIT_PASSWORD;
never put them in the URL. Each Model shows the outcome in its WrittenBack condition.

Example:
  ghosteam operator --leader-elect --git-repo https://github.com/acme/ml.git --lock-file deploy/models.lock.json`,
    )
    .option(
      '--ui-port <port>',
      "serve the web UI (ghosteam ui's pages and /api) over this cluster's Models, DriftMonitors, TrainingRuns and Argo Workflows and the registry on this port; read-only unless --ui-token-env or --ui-auth-issuer",
    )
    .option('--ui-host <addr>', 'address for the UI (default: --bind-address)')
    .option(
      '--ui-token-env <NAME>',
      "environment variable holding the bearer token that allows the UI's actions (pause/resume/promote/abort, retrain) and reads",
    )
    .option(
      '--ui-viewer-token-env <NAME>',
      'environment variable holding a bearer token that allows reading the UI only; with any UI credential, reads need one (else they are open)',
    )
    .option('--ui-auth-issuer <iss>', "allow the UI's actions to OIDC/JWT bearer tokens from this issuer (with --ui-auth-audience)")
    .option('--ui-auth-audience <aud>', "the 'aud' the UI's tokens must carry (comma-separated for several)")
    .option(
      '--ui-auth-grant <grant>',
      'admin=CLAIM:VALUE: who may act in the UI (default: the scope ghosteam:admin; repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--metrics-token-env <NAME>', 'environment variable holding a bearer token required on /metrics of --health-port (probes stay open)')
    .option(
      '--audit-log <file>',
      "append every decision the operator acts on (promote, rollback, traffic change, pause, resume, retrain, write-back) to this JSON Lines file, fsynced, in `ghosteam serve --audit-log`'s format",
    );
  addSecurityOptions(command, { routes: 'metrics' }).action(async (f: OperatorFlags, cmd: Command) => {
    const gitWriteBack = gitWriteBackFlags(f, {
      gitBranch: cmd.getOptionValueSource('gitBranch') === 'cli',
      lockFile: cmd.getOptionValueSource('lockFile') === 'cli',
    });
    const workers = intArg('--workers', f.workers, 1);
    const auth = authFromFlags(f);
    const tls = tlsFromFlags(f);
    let metricsToken: string | undefined;
    if (f.metricsTokenEnv) {
      metricsToken = process.env[f.metricsTokenEnv];
      if (!metricsToken) throw new Error(`--metrics-token-env ${f.metricsTokenEnv}: the environment variable is not set or empty`);
    }
    const healthSecurity = { auth: { ...auth, ...(metricsToken ? { token: metricsToken } : {}) }, ...(tls ? { tls } : {}) };
    const healthPort = f.healthPort === undefined ? undefined : intArg('--health-port', f.healthPort, 0);
    const ui = uiFlags(f);
    if (ui && f.local) throw new Error('--ui-port serves the cluster UI; for the local operator run `ghosteam ui --state-dir <dir>` beside it');
    const sinkPort = f.payloadSinkPort === undefined ? undefined : intArg('--payload-sink-port', f.payloadSinkPort, 0);
    if (sinkPort !== undefined && !f.payloadLog)
      throw new Error('--payload-sink-port needs --payload-log <file> (the file the sink writes and DriftMonitors read)');
    const { createLogger } = await import('../../controllers/runtime/log.ts');
    const { openRegistry } = await import('../../components/registry/index.ts');
    const log = createLogger({ level: f.logLevel });
    // Listening for SIGTERM from the start: one that comes while the operator starts (a quick
    // rollout, a supervisor that gives up) stops it cleanly once started, instead of killing it
    // half-way through a reconcile.
    const signalled = new Promise<void>((resolve) => {
      const done = () => resolve();
      process.once('SIGTERM', done);
      process.once('SIGINT', done);
    });
    if (gitWriteBack) {
      const { redactUrl } = await import('../../gitops/git.ts');
      log.info(
        `write-back: promoted versions go to ${gitWriteBack.lockFile} on ${redactUrl(gitWriteBack.repo)} ${gitWriteBack.branch}${gitWriteBack.credentials ? ' (credentials from the environment)' : ''}`,
      );
    }
    // Who the audit lines name: this operator instance (its pod in a cluster).
    const auditLog = f.auditLog ? await (await import('../../components/security/audit.ts')).openAuditLog(resolve(f.auditLog)) : undefined;
    const audit = auditLog ? { log: auditLog, who: `ghosteam-operator@${process.env.POD_NAME ?? (await import('node:os')).hostname()}` } : undefined;
    if (auditLog) log.info(`audit log: ${auditLog.file}`);
    let stop: () => Promise<void>;
    if (f.local) {
      if (!f.modelServer) throw new Error('--local needs --model-server <url> (start one with `ghosteam serve`)');
      const { startLocalService, localRegistryChoice } = await import('../../controllers/local-service.ts');
      const choice = localRegistryChoice(f);
      const registry = openRegistry({ ...(choice.trackingUri ? { trackingUri: choice.trackingUri } : {}), ...(choice.dir ? { dir: choice.dir } : {}) });
      const service = await startLocalService({
        stateDir: resolve(f.stateDir),
        registry,
        registryLabel: choice.label,
        registryEnv: choice.env,
        modelServerUrl: f.modelServer,
        ...(f.payloadLog ? { payloadLog: resolve(f.payloadLog) } : {}),
        ...(f.app ? { app: f.app } : {}),
        manifests: f.manifests ? readGhosteamManifests(f.manifests) : [],
        ...alertsOf(f),
        storeDir: resolve(f.storeDir),
        workers,
        healthPort,
        healthHost: f.bindAddress,
        healthSecurity,
        log,
        ...(gitWriteBack ? { gitWriteBack } : {}),
        ...(audit ? { audit } : {}),
      });
      log.info(
        `local operator started: state ${resolve(f.stateDir)}, ${choice.label}, model server ${f.modelServer}, engine store ${resolve(f.storeDir)}${service.healthPort !== undefined ? `, health on ${f.bindAddress}:${service.healthPort}` : ''}`,
      );
      stop = () => service.stop();
    } else {
      const registry = openRegistry({ ...(f.mlflowUri ? { trackingUri: f.mlflowUri } : {}), ...(f.registryDir ? { dir: f.registryDir } : {}) });
      const { startOperator } = await import('../../controllers/operator.ts');
      const op = await startOperator({
        kubeconfig: f.kubeconfig,
        registry,
        prometheusUrl: f.prometheusUrl,
        ...(f.payloadLog ? { payloadLog: f.payloadLog } : {}),
        workers,
        healthPort,
        healthHost: f.bindAddress,
        healthSecurity,
        namespace: f.namespace,
        log,
        ...(gitWriteBack ? { gitWriteBack } : {}),
        ...(audit ? { audit } : {}),
        ...(f.leaderElect ? { leaderElection: { namespace: f.leaseNamespace ?? process.env.POD_NAMESPACE ?? 'default', identity: process.env.POD_NAME } } : {}),
      });
      log.info(
        `operator started: ${registry.kind === 'mlflow' ? `MLflow registry ${f.mlflowUri ?? process.env.MLFLOW_TRACKING_URI}` : `local registry ${resolve(f.registryDir ?? process.env.GHOSTEAM_REGISTRY_DIR ?? '.ghosteam/registry')}`}${op.manager.healthPort !== undefined ? `, health on ${f.bindAddress}:${op.manager.healthPort}` : ''}`,
      );
      stop = () => op.stop();
      if (ui) {
        try {
          const { clusterSource } = await import('../../ui/cluster.ts');
          const { startUi } = await import('../../ui/server.ts');
          const { createAuthenticator } = await import('../../components/security/auth.ts');
          const { PACKAGE_ROOT } = await import('../../api/own-files.ts');
          // The controllers' informers (this replica leads: it is past the Lease) are read as they are: no second watch per kind.
          const source = await clusterSource({
            store: op.store,
            registry,
            ...(f.namespace ? { namespace: f.namespace } : {}),
            log,
            shared: (t) => op.manager.informer(t),
          });
          const server = await startUi({
            source,
            host: f.uiHost ?? f.bindAddress,
            port: ui.port,
            version: (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version,
            ...(tls ? { tls } : {}),
            ...(ui.actions
              ? { actions: { target: { store: op.store }, auth: createAuthenticator({ ...ui.actions }), ...(auditLog ? { audit: auditLog } : {}) } }
              : {}),
            ...(ui.readers ? { readers: ui.readers.map((r) => createAuthenticator({ ...r })) } : {}),
          });
          if (!ui.readers)
            log.warn(
              `the UI's reads need no credential: anyone who reaches ${server.url} reads every model's lineage, params and step logs; give --ui-viewer-token-env or --ui-auth-issuer (ghosteam install --ui does)`,
            );
          log.info(
            `UI listening on ${server.url} (${ui.actions ? `actions on for the admin permission${auditLog ? ', audited' : ''}` : 'read-only'}; reads ${ui.readers ? 'need the view permission' : 'open'}; from the API server${f.namespace ? ` in ${f.namespace}` : ''} and the registry)`,
          );
          const stopOperator = stop;
          stop = async () => {
            await server.close();
            await source.close();
            await stopOperator();
          };
        } catch (e) {
          await stop();
          throw new Error(`--ui-port ${ui.port}: ${(e as Error).message}`);
        }
      }
    }
    let sinkStop: () => Promise<void> = async () => {};
    if (sinkPort !== undefined) {
      try {
        const { startPayloadSink } = await import('../../components/payload-sink/index.ts');
        const sink = await startPayloadSink({ file: resolve(f.payloadLog!), port: sinkPort, host: f.bindAddress });
        log.info(`payload sink listening on ${sink.url}, writing ${sink.file}`);
        sinkStop = () => sink.close();
      } catch (e) {
        await stop();
        throw new Error(`--payload-sink-port ${sinkPort}: ${(e as Error).message}`);
      }
    }
    await signalled;
    await stop();
    await sinkStop();
    await auditLog?.close();
  });
}

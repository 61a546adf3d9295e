/**
 * `ghosteam ui`: a web UI (and its JSON API) over the embedded default's local state, read-only unless given credentials:
 * models with their serving/canary versions and traffic, versions with lineage, live rollouts,
 * pipeline runs with their tasks. Runs until SIGTERM/SIGINT.
 *
 *   ghosteam ui --state .ghosteam/demo          # what `npm run demo` leaves behind
 *   ghosteam ui --state-dir .ghosteam/state --registry-dir .ghosteam/registry --store-dir .ghosteam
 *   ghosteam ui --kubeconfig ~/.kube/config -n ml    # a cluster's Models, DriftMonitors, Argo runs
 */
import { join, resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { intArg } from '../args.ts';
import { isLoopback } from '../../components/model-server/http.ts';
import { addSecurityOptions, authFromFlags, tlsFromFlags, type SecurityFlags } from '../security.ts';

interface UiFlags extends SecurityFlags {
  tokenEnv?: string;
  viewerTokenEnv?: string;
  auditLog?: string;
  port: string;
  host: string;
  state?: string;
  stateDir?: string;
  registryDir?: string;
  mlflowUri?: string;
  storeDir?: string;
  kubeconfig?: string;
  namespace?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('ui')
    .description(
      'Serve a web UI and JSON API over local state or a cluster: models, versions and lineage, live rollouts, pipeline runs (read-only unless given credentials)',
    )
    .option('-p, --port <port>', 'port to listen on (0 = any free port)', '8070')
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .option('--state <dir>', 'a folder of local state, such as the one `npm run demo` leaves (.ghosteam/demo): its state/, registry/ and runs are found in it')
    .option('--state-dir <dir>', "the local operator's state directory (default: <--state>/state, else .ghosteam/state)")
    .option('--registry-dir <dir>', 'local model registry directory (default: <--state>/registry, else $GHOSTEAM_REGISTRY_DIR or .ghosteam/registry)')
    .option('--mlflow-uri <url>', 'MLflow tracking URI of the model registry (default: $MLFLOW_TRACKING_URI unless a local registry is found)')
    .option('--store-dir <dir>', "the local engine's folder holding runs/ (default: found in --state, else .ghosteam)")
    .option(
      '--kubeconfig <file>',
      "read a cluster instead: its Models, TrainingRuns, DriftMonitors and Argo Workflows through the API server (watched), versions from the registry; actions patch and create the objects as this kubeconfig's user (what the operator serves with `ghosteam install --ui`)",
    )
    .option('-n, --namespace <ns>', 'with --kubeconfig: only this namespace')
    .option('--token-env <name>', 'allow actions to callers with the token held in this environment variable (never on the command line)')
    .option(
      '--viewer-token-env <name>',
      'reads (pages, /api, events) need a credential: this token (from the environment), or one that may act; with --kubeconfig any credential given makes reads need one',
    )
    .option('--audit-log <file>', 'append every action (and every refused attempt) with who asked and the outcome to this JSON Lines file (fsynced)')
    .addHelpText(
      'after',
      `
Pages: / (Models, and the registered models no Model serves), /models/<namespace>/<name> (status, live
canary analysis, versions, TrainingRuns), /models/<namespace>/<name>/versions/<n> (lineage, metrics,
params), /registered-models/<name>[/versions/<n>] (any registered model), /runs, /runs/<id> (tasks, cache
hits, outputs, logs, DAG). JSON API under /api (GET /api/models, ...), described by /api/openapi.json.
Pages update live from /api/events (Server-Sent Events sent when the state, registry or runs
folders change). Read-only by default; with --token-env or --auth-issuer the model page and
POST /api/models/<ns>/<name>/rollout, POST /api/trainingruns pause/resume/promote/abort a rollout
and start a retrain for callers with the admin permission, each recorded with --audit-log.`,
    );
  addSecurityOptions(cmd, { routes: 'admin (the actions)' }).action(async (f: UiFlags) => {
    const { discoverState, startUi } = await import('../../ui/server.ts');
    const { openRegistry } = await import('../../components/registry/index.ts');
    if (f.state && !existsSync(f.state))
      throw new Error(`--state ${f.state}: no such folder; run \`npm run demo\` (it leaves .ghosteam/demo) or point at your .ghosteam folder`);
    if (f.kubeconfig !== undefined && (f.state ?? f.stateDir ?? f.storeDir) !== undefined)
      throw new Error('--kubeconfig reads a cluster; --state, --state-dir and --store-dir read local state: give one or the other');
    if (f.namespace !== undefined && f.kubeconfig === undefined) throw new Error('--namespace needs --kubeconfig <file> (it scopes the cluster read)');
    const found = f.state ? discoverState(resolve(f.state)) : {};
    if (f.state && !found.stateDir && !found.runsRoot && !found.registryDir)
      throw new Error(`--state ${f.state}: holds no operator state (state/), registry (registry/) or runs (runs/); is it the folder \`npm run demo\` printed?`);
    const stateDir = resolve(f.stateDir ?? found.stateDir ?? '.ghosteam/state');
    const registryDir = f.registryDir ?? found.registryDir;
    const runsRoot = resolve(f.storeDir ?? found.runsRoot ?? '.ghosteam');
    const registry = openRegistry({ ...(f.mlflowUri ? { trackingUri: f.mlflowUri } : {}), ...(registryDir ? { dir: registryDir } : {}) });
    const localRegistryDir = registry.kind === 'local' ? resolve(registryDir ?? process.env.GHOSTEAM_REGISTRY_DIR ?? '.ghosteam/registry') : undefined;
    const fromEnv = (flag: string, name: string | undefined): string | undefined => {
      if (!name) return undefined;
      const t = process.env[name];
      if (!t) throw new Error(`${flag} ${name}: the environment variable is not set or empty`);
      if (t.length < 8) throw new Error(`${flag} ${name}: the token is shorter than 8 characters; use a long random one (openssl rand -hex 32)`);
      return t;
    };
    const token = fromEnv('--token-env', f.tokenEnv);
    const viewer = fromEnv('--viewer-token-env', f.viewerTokenEnv);
    const jwt = authFromFlags(f);
    const tls = tlsFromFlags(f);
    const { createAuthenticator } = await import('../../components/security/auth.ts');
    const actionsOn = token !== undefined || jwt !== undefined;
    const actorAuth = actionsOn ? createAuthenticator({ ...(token ? { token } : {}), ...(jwt ?? {}) }) : undefined;
    if (f.auditLog && !actionsOn) throw new Error('--audit-log records actions, which need --token-env or --auth-issuer; without them the UI is read-only');
    // Reads need a credential with --viewer-token-env, and over a cluster whenever a credential is
    // given; the local default stays open (bind loopback).
    const readsAuthenticated = viewer !== undefined || (f.kubeconfig !== undefined && actionsOn);
    if (!isLoopback(f.host) && !readsAuthenticated)
      process.stderr.write(
        `WARNING: the UI listens on ${f.host}; reading needs no credentials: anyone who can reach this address reads every model's lineage, params and run logs. Give --viewer-token-env, or bind 127.0.0.1 and reach it through an SSH tunnel or an authenticating proxy.\n`,
      );
    if (!isLoopback(f.host) && actionsOn && !tls)
      process.stderr.write(`WARNING: actions are on over plain HTTP on ${f.host}: tokens cross the network in the clear. Pass --tls-cert and --tls-key.\n`);
    const audit = f.auditLog ? await (await import('../../components/security/audit.ts')).openAuditLog(f.auditLog) : undefined;
    const { PACKAGE_ROOT } = await import('../../api/own-files.ts');
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
    let source;
    if (f.kubeconfig !== undefined) {
      const { KubeStore, loadKubeConfig } = await import('../../controllers/runtime/kube-store.ts');
      const { clusterSource } = await import('../../ui/cluster.ts');
      source = await clusterSource({
        store: new KubeStore(loadKubeConfig(f.kubeconfig)),
        registry,
        ...(f.namespace !== undefined ? { namespace: f.namespace } : {}),
      });
    } else {
      const { localSource } = await import('../../ui/source.ts');
      source = localSource({ stateDir, runsRoot, registry, watchDirs: [stateDir, resolve(runsRoot, 'runs'), ...(localRegistryDir ? [localRegistryDir] : [])] });
    }
    const ui = await startUi({
      source,
      host: f.host,
      port: intArg('--port', f.port, 0),
      version: pkg.version,
      ...(tls ? { tls } : {}),
      ...(actionsOn
        ? {
            actions: {
              target: source.target ?? { stateDir },
              auth: actorAuth!,
              ...(audit ? { audit } : {}),
            },
          }
        : {}),
      ...(readsAuthenticated ? { readers: [...(viewer ? [createAuthenticator({ token: viewer })] : []), ...(actorAuth ? [actorAuth] : [])] } : {}),
    });
    const stopped = new Promise<void>((done) => {
      const stop = (): void =>
        void ui
          .close()
          .then(() => source.close())
          .then(() => audit?.close())
          .then(done, done);
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    const where =
      f.kubeconfig !== undefined
        ? `the cluster of ${f.kubeconfig}${f.namespace !== undefined ? ` (namespace ${f.namespace})` : ''}, registry ${localRegistryDir ?? 'MLflow'}`
        : undefined;
    if (where)
      process.stdout.write(
        `ghosteam ui listening on ${ui.url} (${actionsOn ? `actions on for the admin permission${audit ? `, audited in ${f.auditLog}` : ''}` : 'read-only'}${readsAuthenticated ? ', reads need the view permission' : ''}; ${where})\n`,
      );
    else
      process.stdout.write(
        `ghosteam ui listening on ${ui.url} (${actionsOn ? `actions on for the admin permission${audit ? `, audited in ${f.auditLog}` : ''}` : 'read-only'}; operator state ${stateDir}${existsSync(stateDir) ? '' : ' — not there yet'}, registry ${localRegistryDir ?? 'MLflow'}, runs ${resolve(runsRoot, 'runs')})\n`,
      );
    await stopped;
  });
}

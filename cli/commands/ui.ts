/**
 * `ghosteam ui`: a read-only web UI (and its JSON API) over the embedded default's local state:
 * models with their serving/canary versions and traffic, versions with lineage, live rollouts,
 * pipeline runs with their tasks. Runs until SIGTERM/SIGINT.
 *
 *   ghosteam ui --state .ghosteam/demo          # what `npm run demo` leaves behind
 *   ghosteam ui --state-dir .ghosteam/state --registry-dir .ghosteam/registry --store-dir .ghosteam
 */
import { join, resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { intArg } from '../args.ts';
import { isLoopback } from '../../components/model-server/http.ts';

interface UiFlags {
  port: string;
  host: string;
  state?: string;
  stateDir?: string;
  registryDir?: string;
  mlflowUri?: string;
  storeDir?: string;
}

export function register(program: Command): void {
  program
    .command('ui')
    .description('Serve a read-only web UI and JSON API over local state: models, versions and lineage, live rollouts, pipeline runs')
    .option('-p, --port <port>', 'port to listen on (0 = any free port)', '8070')
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .option('--state <dir>', 'a folder of local state, such as the one `npm run demo` leaves (.ghosteam/demo): its state/, registry/ and runs are found in it')
    .option('--state-dir <dir>', "the local operator's state directory (default: <--state>/state, else .ghosteam/state)")
    .option('--registry-dir <dir>', 'local model registry directory (default: <--state>/registry, else $GHOSTEAM_REGISTRY_DIR or .ghosteam/registry)')
    .option('--mlflow-uri <url>', 'MLflow tracking URI of the model registry (default: $MLFLOW_TRACKING_URI unless a local registry is found)')
    .option('--store-dir <dir>', "the local engine's folder holding runs/ (default: found in --state, else .ghosteam)")
    .addHelpText(
      'after',
      `
Pages: / (models), /models/<namespace>/<name> (status, live canary analysis, versions, TrainingRuns),
/models/<namespace>/<name>/versions/<n> (lineage, metrics, params), /runs, /runs/<id> (tasks, cache
hits, outputs, logs). JSON API under /api (GET /api/models, ...), described by /api/openapi.json.
Pages update live from /api/events (Server-Sent Events sent when the state, registry or runs
folders change). Read-only: act with the CLI.`,
    )
    .action(async (f: UiFlags) => {
      const { discoverState, startUi } = await import('../../ui/server.ts');
      const { openRegistry } = await import('../../components/registry/index.ts');
      if (f.state && !existsSync(f.state))
        throw new Error(`--state ${f.state}: no such folder; run \`npm run demo\` (it leaves .ghosteam/demo) or point at your .ghosteam folder`);
      const found = f.state ? discoverState(resolve(f.state)) : {};
      if (f.state && !found.stateDir && !found.runsRoot && !found.registryDir)
        throw new Error(
          `--state ${f.state}: holds no operator state (state/), registry (registry/) or runs (runs/); is it the folder \`npm run demo\` printed?`,
        );
      const stateDir = resolve(f.stateDir ?? found.stateDir ?? '.ghosteam/state');
      const registryDir = f.registryDir ?? found.registryDir;
      const runsRoot = resolve(f.storeDir ?? found.runsRoot ?? '.ghosteam');
      const registry = openRegistry({ ...(f.mlflowUri ? { trackingUri: f.mlflowUri } : {}), ...(registryDir ? { dir: registryDir } : {}) });
      const localRegistryDir = registry.kind === 'local' ? resolve(registryDir ?? process.env.GHOSTEAM_REGISTRY_DIR ?? '.ghosteam/registry') : undefined;
      if (!isLoopback(f.host))
        process.stderr.write(
          `WARNING: the UI listens on ${f.host} with no authentication: anyone who can reach this address reads every model's lineage, params and run logs. Bind 127.0.0.1 and reach it through an SSH tunnel or an authenticating proxy.\n`,
        );
      const { PACKAGE_ROOT } = await import('../../api/own-files.ts');
      const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
      const ui = await startUi({
        stateDir,
        runsRoot,
        registry,
        watchDirs: [stateDir, resolve(runsRoot, 'runs'), ...(localRegistryDir ? [localRegistryDir] : [])],
        host: f.host,
        port: intArg('--port', f.port, 0),
        version: pkg.version,
      });
      const stopped = new Promise<void>((done) => {
        const stop = (): void => void ui.close().then(done, done);
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      process.stdout.write(
        `ghosteam ui listening on ${ui.url} (operator state ${stateDir}${existsSync(stateDir) ? '' : ' — not there yet'}, registry ${localRegistryDir ?? 'MLflow'}, runs ${resolve(runsRoot, 'runs')})\n`,
      );
      await stopped;
    });
}

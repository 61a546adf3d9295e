/**
 * `ghosteam features`: the feature store's commands.
 *
 *   ghosteam features materialize app.ts [--view NAME] [--start T] [--end T]
 *   ghosteam features materialize --view-json '<FeatureView spec>' --name NAME   (the CronWorkflow's form)
 *   ghosteam features serve app.ts [--port 6566] [--host 127.0.0.1]
 *
 * The online store is the one each view declares: a SQLite file (relative to the app's directory;
 * `--view-json` runs: the working directory), or Redis. A Redis store's URL comes from the environment
 * (GHOSTEAM_ONLINE_STORE_URL; in a cluster the synthesized CronWorkflow sets it from the view's
 * Secret), never from a flag.
 */
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { FeatureServiceSpec, FeatureViewSpec } from '../../api/crds/types.ts';
import { intArg } from '../args.ts';
import { addSecurityOptions, authFromFlags, tlsFromFlags, type SecurityFlags } from '../security.ts';

interface Declared {
  views: Map<string, FeatureViewSpec>;
  services: { name: string; spec: FeatureServiceSpec; views: ReadonlyMap<string, FeatureViewSpec> }[];
  appDir: string;
}

/** The FeatureViews and FeatureServices an app declares (also `ghosteam serve --features-app`). */
export async function declaredFeatures(appFile: string): Promise<Declared> {
  const { withSynthContext } = await import('../../api/context.ts');
  const { loadApp } = await import('../../api/app.ts');
  const { FeatureView, FeatureService } = await import('../../charts/index.ts');
  const file = resolve(appFile);
  const appDir = dirname(file);
  const app = await withSynthContext({ appDir }, () => loadApp(file));
  const views = new Map<string, FeatureViewSpec>();
  const services: Declared['services'] = [];
  for (const c of app.node.findAll()) {
    if (c instanceof FeatureView) views.set(c.name, c.spec);
    if (c instanceof FeatureService) services.push({ name: c.name, spec: c.spec, views: c.views });
  }
  return { views, services, appDir };
}

const timeArg = (flag: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new Error(`${flag} '${v}' is not a time; write RFC 3339, e.g. 2026-11-23T04:00:00Z`);
  return t;
};

export function register(program: Command): void {
  const cmd = program.command('features').description('Feature store: materialize feature views into the online store, serve features by entity key');
  cmd
    .command('materialize')
    .description("Write each online view's latest values into its online store, a chunk of event time at a time (resumes after its watermark)")
    .argument('[app]', 'the app file declaring the FeatureViews')
    .option('--view <name>', 'only this view (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--view-json <spec>', 'a FeatureView spec as JSON instead of an app (what the synthesized CronWorkflow passes), with --name')
    .option('--name <name>', 'the view name for --view-json')
    .option('--start <time>', 'earliest event time (RFC 3339) @default - after the watermark')
    .option('--end <time>', 'latest event time (RFC 3339) @default - now')
    .action(async (appFile: string | undefined, f: { view: string[]; viewJson?: string; name?: string; start?: string; end?: string }) => {
      const { materializeFeatureView } = await import('../../components/features/materialize-component.ts');
      let views: Map<string, FeatureViewSpec>;
      let baseDir = process.cwd();
      if (f.viewJson) {
        if (!f.name) throw new Error('--view-json needs --name, the view name');
        const { parseViewsParam } = await import('../../components/features/component.ts');
        views = parseViewsParam({ [f.name]: JSON.parse(f.viewJson) as unknown });
      } else {
        if (!appFile) throw new Error('give the app file (e.g. app.ts), or --view-json and --name');
        const d = await declaredFeatures(appFile);
        views = d.views;
        baseDir = d.appDir;
      }
      const names = f.view.length ? f.view : [...views.keys()].filter((n) => views.get(n)!.online);
      for (const n of names) if (!views.has(n)) throw new Error(`--view ${n}: no such feature view; declared: ${[...views.keys()].join(', ') || '(none)'}`);
      const end = timeArg('--end', f.end) ?? Date.now();
      const start = timeArg('--start', f.start);
      for (const name of names) {
        const r = await materializeFeatureView(name, views.get(name)!, { ...(start !== undefined ? { start } : {}), end, baseDir });
        process.stdout.write(
          `${name}: ${r.rowsWritten} entities written in ${r.chunks} chunks, up to ${new Date(r.until).toISOString()}${r.resumed ? ' (resumed after the watermark)' : ''}\n`,
        );
      }
    });
  const serve = cmd
    .command('serve')
    .description('Serve feature services over HTTP: GET/POST /v1/features (entity keys → feature values), /metrics, /healthz')
    .argument('<app>', 'the app file declaring the FeatureServices')
    .option('-p, --port <port>', 'port to listen on (0 = any free port)', '6566')
    .option('--host <addr>', 'address to bind (0.0.0.0 in a pod)', '127.0.0.1')
    .option('--service <name>', 'serve only this service (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--token-env <NAME>', 'environment variable holding a bearer token required on every route but /healthz');
  addSecurityOptions(serve, { routes: 'infer (/v1/features), metrics' }).action(
    async (appFile: string, f: SecurityFlags & { port: string; host: string; service: string[]; tokenEnv?: string }) => {
      const tls = tlsFromFlags(f);
      const d = await declaredFeatures(appFile);
      const services = f.service.length ? d.services.filter((s) => f.service.includes(s.name)) : d.services;
      for (const n of f.service)
        if (!d.services.some((s) => s.name === n))
          throw new Error(`--service ${n}: no such feature service; declared: ${d.services.map((s) => s.name).join(', ') || '(none)'}`);
      if (services.length === 0) throw new Error(`${appFile} declares no FeatureService; declare one to serve`);
      const refs = new Set(services.flatMap((s) => [...s.views.values()].map((v) => JSON.stringify(v.onlineStore ?? { type: 'sqlite' }))));
      if (refs.size > 1)
        throw new Error('the served views use more than one online store; serve each store with its own `ghosteam features serve --service ...`');
      const first = [...services[0].views.values()][0];
      const { openOnlineStore } = await import('../../components/features/open-store.ts');
      const store = await openOnlineStore(`${[...services[0].views.keys()][0]}`, first, { baseDir: d.appDir, readOnly: true });
      let token: string | undefined;
      if (f.tokenEnv) {
        token = process.env[f.tokenEnv];
        if (!token) throw new Error(`--token-env ${f.tokenEnv}: the environment variable is not set or empty`);
      }
      const auth = authFromFlags(f);
      const { startFeatureServer } = await import('../../components/features/server.ts');
      const server = await startFeatureServer({
        store,
        services,
        port: intArg('--port', f.port, 0),
        host: f.host,
        ...(token ? { token } : {}),
        ...(auth ? { auth } : {}),
        ...(tls ? { tls } : {}),
      });
      const stopped = new Promise<void>((done) => {
        const stop = () => void server.close().then(() => store.close().then(done, done));
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      process.stdout.write(`feature server listening on ${server.url}, serving ${services.map((s) => s.name).join(', ')}\n`);
      await stopped;
    },
  );
}

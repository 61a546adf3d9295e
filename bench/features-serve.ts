/**
 * bench:features' feature server, in its own process (as `ghosteam features serve` runs it): the
 * feature server over a SQLite file or Redis. Argument: JSON { kind, path, url, port, views, service }.
 * Prints "listening on URL"; stops on SIGTERM.
 */
import type { FeatureViewSpec } from '../api/crds/types.ts';
import type { OnlineStore } from '../components/features/materialize.ts';
import type { ServiceDef } from '../components/features/online.ts';
import { RedisOnlineStore } from '../components/features/redis-store.ts';
import { startFeatureServer } from '../components/features/server.ts';
import { SqliteOnlineStore } from '../components/features/sqlite-store.ts';

const o = JSON.parse(process.argv[2]) as {
  kind: 'sqlite' | 'redis';
  path: string;
  url: string;
  port: number;
  views: Record<string, FeatureViewSpec>;
  service: { name: string; spec: ServiceDef['spec'] };
};
const store: OnlineStore =
  o.kind === 'sqlite' ? SqliteOnlineStore.open({ path: o.path, readOnly: true }) : await RedisOnlineStore.connect({ url: o.url, prefix: 'bench:' });
const server = await startFeatureServer({
  store,
  services: [{ name: o.service.name, spec: o.service.spec, views: new Map(Object.entries(o.views)) }],
  port: o.port,
  now: () => Date.parse('2026-11-04T00:00:00Z'),
});
process.stdout.write(`listening on ${server.url}\n`);
process.once('SIGTERM', () => void server.close().then(() => store.close().then(() => process.exit(0))));

// Materialization and online lookup against a real redis-server (Debian's, installed by
// `npm run peers:up`; this file starts its own on a free port) and a SQLite file: chunked, resumable, newest value
// wins whatever the write order, and the service's policy for missing and stale values.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FeatureServiceSpec, FeatureViewSpec } from '../../api/crds/types.ts';
import { datasetFromColumns } from '../../components/dataset/index.ts';
import { chunks, latestPerKey, materializeView, prepareView } from '../../components/features/materialize.ts';
import { getOnlineFeatures, type ServiceDef } from '../../components/features/online.ts';
import { createClient } from '@redis/client';
import { RedisOnlineStore } from '../../components/features/redis-store.ts';
import { SqliteOnlineStore } from '../../components/features/sqlite-store.ts';
import type { OnlineStore } from '../../components/features/materialize.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRedis, uniqueName, type TestRedis } from '../peers/index.ts';

const H = 3_600_000;
const T0 = Date.parse('2026-11-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

const spec: FeatureViewSpec = {
  entities: [{ name: 'driver', joinKeys: [{ name: 'driver_id', type: 'int64' }] }],
  source: { kind: 'file', uri: 'd.parquet', format: 'parquet', timestampField: 'ts', createdTimestampField: 'created' },
  ttlSeconds: 2 * 3600,
  features: [
    { name: 'conv_rate', type: 'float64' },
    { name: 'city', type: 'string' },
  ],
  online: true,
};
// driver 1: 00:00, 05:00 (two rows; the later-created wins), 03:00 (late row); driver 2: 01:00; driver 3: 10:00.
const data = datasetFromColumns({
  driver_id: { type: 'numeric', cells: [1, 1, 1, 2, 1, 3] },
  ts: { type: 'string', cells: [iso(T0), iso(T0 + 5 * H), iso(T0 + 5 * H), iso(T0 + H), iso(T0 + 3 * H), iso(T0 + 10 * H)] },
  created: { type: 'string', cells: [iso(T0), iso(T0 + 6 * H), iso(T0 + 5 * H), iso(T0 + H), iso(T0 + 3 * H), iso(T0 + 10 * H)] },
  conv_rate: { type: 'numeric', cells: [0.1, 0.5, 0.4, 0.2, 0.3, 0.9] },
  city: { type: 'string', cells: ['paris', 'lyon', 'nice', 'rome', 'oslo', null] },
});

describe('materialization (pure parts)', () => {
  test('chunks cover the window exactly, in order', () => {
    assert.deepEqual(chunks(0, 9, 4), [
      { start: 0, end: 3 },
      { start: 4, end: 7 },
      { start: 8, end: 9 },
    ]);
    assert.deepEqual(chunks(5, 5, 10), [{ start: 5, end: 5 }]);
    assert.throws(() => chunks(5, 4, 1), { message: 'materialize: the end 1970-01-01T00:00:00.004Z is before the start 1970-01-01T00:00:00.005Z' });
  });

  test('latestPerKey: latest event time, ties to the later created time, inside the window only', () => {
    const v = prepareView('driver_stats', spec, data);
    const all = latestPerKey(v, T0, T0 + 24 * H);
    assert.deepEqual(
      all.map((r) => [r.key, r.eventTime - T0, r.values.conv_rate]),
      [
        ['1', 5 * H, 0.5],
        ['2', H, 0.2],
        ['3', 10 * H, 0.9],
      ],
    );
    assert.deepEqual(
      latestPerKey(v, T0, T0 + 4 * H).map((r) => [r.key, r.values.conv_rate, r.values.city]),
      [
        ['1', 0.3, 'oslo'],
        ['2', 0.2, 'rome'],
      ],
    );
  });
});

// The same behaviour from both stores: Redis (a real redis-server) and SQLite (a file, better-sqlite3).
const stores: [string, () => Promise<{ store?: OnlineStore; skip?: string; stop: () => Promise<void> }>][] = [
  [
    'Redis',
    async () => {
      const redis: TestRedis & { skip?: string } = await startTestRedis();
      if (redis.skip) return { skip: redis.skip, stop: () => redis.stop() };
      const store = await RedisOnlineStore.connect({ url: redis.url, prefix: `${uniqueName('t')}:` });
      return { store, stop: async () => (await store.close(), await redis.stop()) };
    },
  ],
  [
    'SQLite',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'ghosteam-sqlite-'));
      const store = SqliteOnlineStore.open({ path: join(dir, 'sub', 'online.db') });
      return Promise.resolve({ store, stop: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) });
    },
  ],
];

for (const [kind, open] of stores)
  describe(`${kind} online store`, () => {
    let opened: Awaited<ReturnType<typeof open>>;
    let store: OnlineStore;
    let redis: { skip?: string };
    before(async () => {
      opened = await open();
      redis = opened;
      if (opened.store) store = opened.store;
    });
    after(async () => {
      await opened?.stop();
    });

    test('materializes chunk by chunk, resumes after its watermark, and the newest value wins', async (t) => {
      if (redis.skip) return t.skip(redis.skip);
      const v = prepareView('driver_stats', spec, data);
      const first = await materializeView(store, 'driver_stats', v, { start: T0, end: T0 + 4 * H - 1, chunkMs: H });
      assert.deepEqual(first, { view: 'driver_stats', chunks: 4, rowsWritten: 3, until: T0 + 4 * H - 1, resumed: false });
      let rows = await store.read('driver_stats', ['1', '2', '3'], ['conv_rate', 'city']);
      assert.deepEqual(rows[0], { key: '1', eventTime: T0 + 3 * H, values: { conv_rate: 0.3, city: 'oslo' } });
      assert.equal(rows[2], undefined);

      // An incremental run: only the end; it resumes after the watermark.
      const second = await materializeView(store, 'driver_stats', v, { end: T0 + 24 * H, chunkMs: 6 * H });
      assert.equal(second.resumed, true);
      assert.equal(second.rowsWritten, 2);
      rows = await store.read('driver_stats', ['1', '2', '3'], ['conv_rate', 'city']);
      assert.deepEqual(
        rows.map((r) => r && [r.eventTime - T0, r.values.conv_rate, r.values.city]),
        [
          [5 * H, 0.5, 'lyon'],
          [H, 0.2, 'rome'],
          [10 * H, 0.9, null],
        ],
      );
      assert.equal(await store.getWatermark('driver_stats'), T0 + 24 * H);

      // Re-running an old window (a backfill) writes nothing older over newer values.
      await materializeView(store, 'driver_stats', v, { start: T0, end: T0 + 2 * H, chunkMs: H });
      assert.equal((await store.read('driver_stats', ['1'], ['conv_rate']))[0]!.values.conv_rate, 0.5);
    });

    const svc = (onMissing: FeatureServiceSpec['onMissing']): ServiceDef => ({
      name: 'fraud',
      spec: {
        features: [{ featureView: 'driver_stats', features: ['conv_rate', 'city'] }],
        onMissing,
        defaults: { 'driver_stats:conv_rate': -1, 'driver_stats:city': 'none' },
      },
      views: new Map([['driver_stats', spec]]),
    });

    test('lookup: present, missing and stale values under each policy, counted', async (t) => {
      if (redis.skip) return t.skip(redis.skip);
      const now = T0 + 11 * H; // driver 1's value is 6 h old (TTL 2 h): stale; driver 3's is 1 h old, city null; driver 9 unknown.
      const entities = [{ driver_id: 1 }, { driver_id: 3 }, { driver_id: '9' }];
      const nan = await getOnlineFeatures(store, svc('nan'), entities, { now });
      assert.deepEqual(nan.features, ['driver_stats:conv_rate', 'driver_stats:city']);
      assert.deepEqual(nan.values, [
        [null, null],
        [0.9, null],
        [null, null],
      ]);
      assert.deepEqual(nan.status, [
        ['stale', 'stale'],
        ['present', 'missing'],
        ['missing', 'missing'],
      ]);
      assert.equal(nan.stale, 2);
      assert.equal(nan.missing, 3);
      const def = await getOnlineFeatures(store, svc('default'), entities, { now });
      assert.deepEqual(def.values, [
        [-1, 'none'],
        [0.9, 'none'],
        [-1, 'none'],
      ]);
      await assert.rejects(getOnlineFeatures(store, svc('reject'), [{ driver_id: 1 }], { now }), {
        name: 'FeatureLookupError',
        message:
          "'driver_stats:conv_rate' for driver_id=1 is stale: its value is from 2026-11-01T05:00:00.000Z, older than the view's TTL of 7200s; materialize newer data",
      });
      await assert.rejects(getOnlineFeatures(store, svc('reject'), [{ driver_id: 9 }], { now }), {
        message: "'driver_stats:conv_rate' has no value for driver_id=9; the entity is unknown or its value was never materialized",
      });
      await assert.rejects(getOnlineFeatures(store, svc('nan'), [{ driver_id: 'x' }], { now }), {
        name: 'FeaturesError',
        message: `entities: join key 'driver_id' is "x", not a whole number (declared int64)`,
      });
    });

    test('a service over several views reads them all at once (one round trip on Redis), values in declared order', async (t) => {
      if (redis.skip) return t.skip(redis.skip);
      const now = T0 + 11 * H;
      // The real store, watched: how many reads are in flight together.
      let inFlight = 0;
      let most = 0;
      const watched: OnlineStore = {
        ...store,
        write: (v, r) => store.write(v, r),
        getWatermark: (v) => store.getWatermark(v),
        setWatermark: (v, u) => store.setWatermark(v, u),
        close: () => store.close(),
        read: async (view, keys, features) => {
          most = Math.max(most, ++inFlight);
          try {
            return await store.read(view, keys, features);
          } finally {
            inFlight--;
          }
        },
      };
      const multi: ServiceDef = {
        name: 'multi',
        spec: {
          features: [
            { featureView: 'driver_stats', features: ['city'] },
            { featureView: 'never_materialized', features: ['conv_rate'] },
            { featureView: 'driver_stats', features: ['conv_rate'] },
          ],
          onMissing: 'nan',
        },
        views: new Map([
          ['driver_stats', spec],
          ['never_materialized', spec],
        ]),
      };
      const r = await getOnlineFeatures(watched, multi, [{ driver_id: 3 }, { driver_id: 2 }], { now });
      assert.equal(most, 3, 'the three groups were read one after another');
      assert.deepEqual(r.features, ['driver_stats:city', 'never_materialized:conv_rate', 'driver_stats:conv_rate']);
      // driver 3: city null (missing), 1 h old; driver 2: 10 h old, stale under the 2 h TTL.
      assert.deepEqual(r.values, [
        [null, null, 0.9],
        [null, null, null],
      ]);
      assert.deepEqual(r.status, [
        ['missing', 'missing', 'present'],
        ['stale', 'missing', 'stale'],
      ]);
      // A bad key in a later group is refused before any read.
      most = 0;
      await assert.rejects(getOnlineFeatures(watched, multi, [{ driver_id: 'x' }], { now }), { name: 'FeaturesError' });
      assert.equal(most, 0);
    });
  });

describe('SQLite online store: files', () => {
  test('a reader sees what a writer commits (WAL), refuses writes, and a missing file is named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-sqlite-'));
    try {
      const path = join(dir, 'online.db');
      assert.throws(() => SqliteOnlineStore.open({ path, readOnly: true }), {
        message: new RegExp(`^cannot open the SQLite online store ${path}: .*; run 'ghosteam features materialize' first to create it$`),
      });
      const writer = SqliteOnlineStore.open({ path });
      const reader = SqliteOnlineStore.open({ path, readOnly: true });
      const v = prepareView('driver_stats', spec, data);
      await materializeView(writer, 'driver_stats', v, { start: T0, end: T0 + 2 * H, chunkMs: H });
      assert.deepEqual((await reader.read('driver_stats', ['2'], ['city']))[0], { key: '2', eventTime: T0 + H, values: { city: 'rome' } });
      await materializeView(writer, 'driver_stats', v, { end: T0 + 24 * H, chunkMs: H });
      assert.equal((await reader.read('driver_stats', ['1'], ['conv_rate']))[0]!.values.conv_rate, 0.5);
      assert.equal(await reader.getWatermark('driver_stats'), T0 + 24 * H);
      await assert.rejects(reader.write('driver_stats', []), { message: `the SQLite online store ${path} is open for reading only` });
      await reader.close();
      await writer.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Redis online store: writes', () => {
  test('250 keys in script calls of 100: only newer-or-equal event times replace a hash, and a flushed script cache is reloaded', async (t) => {
    const redis: TestRedis & { skip?: string } = await startTestRedis();
    if (redis.skip) return t.skip(redis.skip);
    const store = await RedisOnlineStore.connect({ url: redis.url, prefix: `${uniqueName('w')}:` });
    const admin = createClient({ url: redis.url });
    try {
      await admin.connect();
      const rows = (time: (i: number) => number, tag: string) =>
        Array.from({ length: 250 }, (_, i) => ({ key: String(i), eventTime: time(i), values: { tag: `${tag}${i}`, n: i } }));
      await store.write(
        'v',
        rows(() => 1000, 'a'),
      );
      // Even keys get an older time (kept as they are), keys divisible by 3 the same time (replaced), the rest newer.
      await admin.sendCommand(['SCRIPT', 'FLUSH']);
      await store.write(
        'v',
        rows((i) => (i % 2 === 0 && i % 3 !== 0 ? 999 : i % 3 === 0 ? 1000 : 1001), 'b'),
      );
      const got = await store.read(
        'v',
        rows(() => 0, '').map((r) => r.key),
        ['tag', 'n'],
      );
      got.forEach((r, i) => {
        const replaced = !(i % 2 === 0 && i % 3 !== 0);
        assert.deepEqual(
          r,
          { key: String(i), eventTime: replaced ? (i % 3 === 0 ? 1000 : 1001) : 1000, values: { tag: `${replaced ? 'b' : 'a'}${i}`, n: i } },
          `key ${i}`,
        );
      });
      // A replaced hash holds only the new fields: a feature dropped from the view does not linger.
      await store.write('v', [{ key: '1', eventTime: 2000, values: { n: 7 } }]);
      assert.deepEqual((await store.read('v', ['1'], ['tag', 'n']))[0], { key: '1', eventTime: 2000, values: { tag: null, n: 7 } });
    } finally {
      await admin.close();
      await store.close();
      await redis.stop();
    }
  });
});

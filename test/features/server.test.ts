// The feature server (`ghosteam features serve`'s HTTP side) over a real redis-server (this file
// starts its own): GET and POST /v1/features answer the service's features for entity keys after
// materialization, a value older than the view's TTL or never written follows the service's policy
// (null, the default, or a 404 naming the feature), bad requests get a 4xx naming the key or the
// service, and /metrics counts present, missing and stale values.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FeatureServiceSpec, FeatureViewSpec } from '../../api/crds/types.ts';
import { datasetFromColumns } from '../../components/dataset/index.ts';
import { materializeView, prepareView } from '../../components/features/materialize.ts';
import type { ServiceDef } from '../../components/features/online.ts';
import { RedisOnlineStore } from '../../components/features/redis-store.ts';
import { startFeatureServer, type FeatureServer } from '../../components/features/server.ts';
import { materializeFeaturesComponent } from '../../components/features/materialize-component.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRedis, uniqueName, type TestRedis } from '../peers/index.ts';

const H = 3_600_000;
const T0 = Date.parse('2026-11-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

const spec: FeatureViewSpec = {
  entities: [{ name: 'driver', joinKeys: [{ name: 'driver_id', type: 'int64' }] }],
  source: { kind: 'file', uri: 'd.parquet', format: 'parquet', timestampField: 'ts' },
  ttlSeconds: 2 * 3600,
  features: [
    { name: 'conv_rate', type: 'float64' },
    { name: 'trips', type: 'int64' },
  ],
  online: true,
};
// driver 1: latest at 09:00 (fresh at 10:00); driver 2: latest at 05:00 (stale at 10:00: TTL 2 h); driver 3: none.
const data = datasetFromColumns({
  driver_id: { type: 'numeric', cells: [1, 1, 2, 2] },
  ts: { type: 'string', cells: [iso(T0 + 8 * H), iso(T0 + 9 * H), iso(T0 + 4 * H), iso(T0 + 5 * H)] },
  conv_rate: { type: 'numeric', cells: [0.1, 0.7, 0.3, 0.4] },
  trips: { type: 'numeric', cells: [10, 11, 20, 21] },
});
const NOW = T0 + 10 * H;
const service = (name: string, onMissing: FeatureServiceSpec['onMissing']): ServiceDef => ({
  name,
  spec: {
    features: [{ featureView: 'driver_stats', features: ['conv_rate', 'trips'] }],
    onMissing,
    defaults: { 'driver_stats:conv_rate': -1, 'driver_stats:trips': 0 },
  },
  views: new Map([['driver_stats', spec]]),
});

describe('feature server over Redis', () => {
  let redis: TestRedis & { skip?: string };
  let store: RedisOnlineStore;
  let server: FeatureServer;
  before(async () => {
    redis = await startTestRedis();
    if (redis.skip) return;
    store = await RedisOnlineStore.connect({ url: redis.url, prefix: `${uniqueName('srv')}:` });
    await materializeView(store, 'driver_stats', prepareView('driver_stats', spec, data), { end: NOW, chunkMs: 6 * H });
    server = await startFeatureServer({
      store,
      services: [service('nan-features', 'nan'), service('default-features', 'default'), service('strict-features', 'reject')],
      now: () => NOW,
      token: 'a-test-token-123',
    });
  });
  after(async () => {
    await server?.close();
    await store?.close();
    await redis?.stop();
  });
  const call = async (path: string, body?: unknown, token = 'a-test-token-123') => {
    const res = await fetch(server.url + path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
  };

  test('GET and POST answer the latest materialized values; stale and missing follow the policy', async (t) => {
    if (redis.skip) return t.skip(redis.skip);
    const get = await call('/v1/features?service=nan-features&driver_id=1');
    assert.equal(get.status, 200, JSON.stringify(get.body));
    assert.deepEqual(get.body, {
      service: 'nan-features',
      features: ['driver_stats:conv_rate', 'driver_stats:trips'],
      rows: [{ values: [0.7, 11], status: ['present', 'present'] }],
    });
    const post = await call('/v1/features', { service: 'nan-features', entities: [{ driver_id: 1 }, { driver_id: 2 }, { driver_id: 3 }] });
    assert.deepEqual(
      post.body.rows.map((r: { values: unknown[]; status: string[] }) => [r.values, r.status]),
      [
        [
          [0.7, 11],
          ['present', 'present'],
        ],
        [
          [null, null],
          ['stale', 'stale'],
        ],
        [
          [null, null],
          ['missing', 'missing'],
        ],
      ],
    );
    // Feast's column form, and the 'default' policy.
    const feastForm = await call('/v1/features', { feature_service: 'default-features', entities: { driver_id: [2, 3, 1] } });
    assert.deepEqual(
      feastForm.body.rows.map((r: { values: unknown[] }) => r.values),
      [
        [-1, 0],
        [-1, 0],
        [0.7, 11],
      ],
    );
    const strict = await call('/v1/features', { service: 'strict-features', entities: [{ driver_id: 2 }] });
    assert.equal(strict.status, 404);
    assert.match(
      strict.body.error,
      /'driver_stats:conv_rate' for driver_id=2 is stale: its value is from 2026-11-01T05:00:00.000Z, older than the view's TTL of 7200s/,
    );
    const unknown = await call('/v1/features?service=strict-features&driver_id=3');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /has no value for driver_id="3"; the entity is unknown or its value was never materialized/);
  });

  test('bad requests: 4xx naming the key, the type, the service or the token', async (t) => {
    if (redis.skip) return t.skip(redis.skip);
    const cases: [string, unknown, number, RegExp][] = [
      ['/v1/features?service=nan-features&driver=1', undefined, 400, /'driver' is not a join key of feature service 'nan-features'; its keys are driver_id/],
      ['/v1/features?service=nan-features&driver_id=abc', undefined, 400, /join key 'driver_id' is "abc", not a whole number \(declared int64\)/],
      ['/v1/features', { service: 'nan-features', entities: [{ driver_id: 1.5 }] }, 400, /join key 'driver_id' is 1.5, not a whole number/],
      ['/v1/features', { service: 'nan-features', entities: [{}] }, 400, /join key 'driver_id' is missing; give driver_id/],
      [
        '/v1/features',
        { service: 'nope', entities: [{ driver_id: 1 }] },
        404,
        /feature service 'nope' is not served here; served: nan-features, default-features, strict-features/,
      ],
      ['/v1/features', { service: 'nan-features', entities: { driver_id: [1, 2], x: [1] } }, 400, /entities.x has 1 values but entities.driver_id has 2/],
      ['/v1/features', { entities: [{ driver_id: 1 }] }, 400, /service is missing/],
    ];
    for (const [path, body, status, message] of cases) {
      const r = await call(path, body);
      assert.equal(r.status, status, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error, message);
    }
    const noToken = await call('/v1/features?service=nan-features&driver_id=1', undefined, 'wrong-token-xyz');
    assert.equal(noToken.status, 401);
  });

  test('/metrics counts present, missing and stale values and requests by code', async (t) => {
    if (redis.skip) return t.skip(redis.skip);
    const before = await call('/metrics');
    const count = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
    const stale = /ghosteam_feature_values_total\{service="nan-features",status="stale"\} (\d+)/;
    const missing = /ghosteam_feature_values_total\{service="nan-features",status="missing"\} (\d+)/;
    const present = /ghosteam_feature_values_total\{service="nan-features",status="present"\} (\d+)/;
    await call('/v1/features', { service: 'nan-features', entities: [{ driver_id: 1 }, { driver_id: 2 }, { driver_id: 3 }, { driver_id: 3 }] });
    const afterText = (await call('/metrics')).body as string;
    assert.equal(count(afterText, stale) - count(before.body, stale), 2);
    assert.equal(count(afterText, missing) - count(before.body, missing), 4);
    assert.equal(count(afterText, present) - count(before.body, present), 2);
    assert.match(afterText, /ghosteam_feature_requests_total\{service="nan-features",code="200"\} \d+/);
    assert.match(afterText, /ghosteam_feature_request_seconds_bucket/);
  });
});

describe('the materialize-features step (what the CronWorkflow of a scheduled FeatureView runs)', () => {
  let redis: TestRedis & { skip?: string };
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-mat-'));
  before(async () => {
    redis = await startTestRedis();
  });
  after(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('reads the declared CSV source and writes the latest value of each key into Redis, resuming on the next run', async (t) => {
    if (redis.skip) return t.skip(redis.skip);
    const file = join(dir, 'stats.csv');
    writeFileSync(file, `driver_id,ts,conv_rate,trips\n1,${iso(T0)},0.1,1\n1,${iso(T0 + H)},0.2,2\n2,${iso(T0)},0.5,5\n`);
    const view: FeatureViewSpec = {
      ...spec,
      source: { kind: 'file', uri: file, format: 'csv', timestampField: 'ts' },
      onlineStore: { type: 'redis', secretRef: { name: 's', key: 'url' } },
    };
    const outputs: Record<string, unknown> = {};
    const run = (end: string) =>
      materializeFeaturesComponent.run({
        params: { view: 'driver_stats', spec: JSON.parse(JSON.stringify(view)), end },
        inputs: {},
        outputs: {},
        workDir: dir,
        signal: new AbortController().signal,
        log: () => {},
        progress: () => {},
        setOutput: (k, v) => (outputs[k] = v),
      });
    const saved = process.env.GHOSTEAM_ONLINE_STORE_URL;
    process.env.GHOSTEAM_ONLINE_STORE_URL = redis.url;
    try {
      await run(iso(T0 + 2 * H));
      assert.deepEqual(outputs, { rowsWritten: 2, chunks: 1, until: iso(T0 + 2 * H) });
      writeFileSync(file, `driver_id,ts,conv_rate,trips\n1,${iso(T0)},0.1,1\n1,${iso(T0 + H)},0.2,2\n2,${iso(T0)},0.5,5\n2,${iso(T0 + 3 * H)},0.6,6\n`);
      await run(iso(T0 + 4 * H));
      assert.equal(outputs.rowsWritten, 1, 'the second run starts after the watermark: only the new row');
      const store = await RedisOnlineStore.connect({ url: redis.url });
      const rows = await store.read('driver_stats', ['1', '2'], ['conv_rate', 'trips']);
      await store.close();
      assert.deepEqual(
        rows.map((r) => r && [r.eventTime - T0, r.values.conv_rate, r.values.trips]),
        [
          [H, 0.2, 2],
          [3 * H, 0.6, 6],
        ],
      );
      delete process.env.GHOSTEAM_ONLINE_STORE_URL;
      await assert.rejects(
        run(iso(T0 + 5 * H)),
        /its online store is Redis; set GHOSTEAM_ONLINE_STORE_URL to its redis:\/\/ URL \(in a cluster it comes from the Secret s\/url\)/,
      );
    } finally {
      if (saved === undefined) delete process.env.GHOSTEAM_ONLINE_STORE_URL;
      else process.env.GHOSTEAM_ONLINE_STORE_URL = saved;
    }
  });
});

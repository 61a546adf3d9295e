// The model server's FeatureService lookup: a model fed by a feature service takes entity keys,
// the server reads the features from the online store (a real redis-server started by this file, and
// a SQLite file), runs the model (an ONNX MLP, 16 features → 1 score), answers what the model gives
// for those features (checked against the network's own forward pass), logs the features and the
// prediction in the payload log, follows the service's policy for stale and missing values (NaN,
// default, 404), counts them in /metrics, and answers a bad key with a 400 naming the field.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { FeatureServiceSpec, FeatureViewSpec } from '../../api/crds/types.ts';
import { datasetFromColumns } from '../../components/dataset/index.ts';
import { materializeView, prepareView, type OnlineStore } from '../../components/features/materialize.ts';
import type { ServiceDef } from '../../components/features/online.ts';
import { RedisOnlineStore } from '../../components/features/redis-store.ts';
import { SqliteOnlineStore } from '../../components/features/sqlite-store.ts';
import { startModelServer, type ModelServer } from '../../components/model-server/index.ts';
import { denseNetForward } from '../../components/onnx/index.ts';
import { startTestRedis, uniqueName, type TestRedis } from '../peers/index.ts';
import { completeJsonLines, get, post, tempDir, writeFraudModel } from '../model-server/fixtures.ts';

const H = 3_600_000;
const NOW = Date.now();
const iso = (ms: number) => new Date(ms).toISOString();
const K = 16;
const names = Array.from({ length: K }, (_, j) => `f${j}`);

const spec: FeatureViewSpec = {
  entities: [{ name: 'card', joinKeys: [{ name: 'card_id', type: 'int64' }] }],
  source: { kind: 'file', uri: 'cards.parquet', format: 'parquet', timestampField: 'ts' },
  ttlSeconds: 2 * 3600,
  features: names.map((name) => ({ name, type: 'float64' as const })),
  online: true,
};
// card 1 and 2: fresh (an hour old; card 2 has no value for f3); card 3: stale (5 h old, TTL 2 h); card 4: none.
const value = (card: number, j: number) => Math.fround(((card * 7 + j * 3) % 11) / 2);
const cards = [1, 2, 3];
const data = datasetFromColumns({
  card_id: { type: 'numeric', cells: cards },
  ts: { type: 'string', cells: [iso(NOW - H), iso(NOW - H), iso(NOW - 5 * H)] },
  ...Object.fromEntries(names.map((n, j) => [n, { type: 'numeric' as const, cells: cards.map((c) => (c === 2 && j === 3 ? null : value(c, j))) }])),
});
const service = (name: string, onMissing: FeatureServiceSpec['onMissing']): ServiceDef => ({
  name,
  spec: {
    features: [{ featureView: 'card_stats', features: names }],
    onMissing,
    ...(onMissing === 'default' ? { defaults: Object.fromEntries(names.map((n) => [`card_stats:${n}`, 0.5])) } : {}),
  },
  views: new Map([['card_stats', spec]]),
});

const stores: [string, () => Promise<{ store?: OnlineStore; skip?: string; stop: () => Promise<void> }>][] = [
  [
    'Redis',
    async () => {
      const redis: TestRedis & { skip?: string } = await startTestRedis();
      if (redis.skip) return { skip: redis.skip, stop: () => redis.stop() };
      const store = await RedisOnlineStore.connect({ url: redis.url, prefix: `${uniqueName('ms')}:` });
      return { store, stop: async () => (await store.close(), await redis.stop()) };
    },
  ],
  ['SQLite', () => Promise.resolve({ store: SqliteOnlineStore.open({ path: join(tempDir(), 'online.db') }), stop: () => Promise.resolve() })],
];

for (const [kind, open] of stores)
  describe(`model server with a FeatureService over ${kind}`, () => {
    let opened: Awaited<ReturnType<typeof open>>;
    let server: ModelServer;
    const dir = tempDir();
    const fraud = writeFraudModel(dir, 7);
    const log = join(dir, 'payload.jsonl');
    before(async () => {
      opened = await open();
      if (!opened.store) return;
      await materializeView(opened.store, 'card_stats', prepareView('card_stats', spec, data), { end: NOW, chunkMs: 24 * H });
      const writeIdentity = writeFraudModel(dir, 8, 'strict.onnx');
      const third = writeFraudModel(dir, 9, 'defaults.onnx');
      server = await startModelServer({
        port: 0,
        processMetrics: false,
        quality: false,
        models: [
          { name: 'fraud', path: fraud.path },
          { name: 'strict', path: writeIdentity.path },
          { name: 'defaults', path: third.path },
        ],
        features: {
          fraud: { service: service('fraud-features', 'nan'), store: opened.store },
          strict: { service: service('strict-features', 'reject'), store: opened.store },
          defaults: { service: service('default-features', 'default'), store: opened.store },
        },
        payloadLog: { file: log, flushIntervalMs: 20 },
      });
    });
    after(async () => {
      await server?.close();
      await opened?.stop();
    });
    const infer = (model: string, body: unknown) => post(`${server.url}/v2/models/${model}/infer`, JSON.stringify(body));
    const expected = (row: number[]) => denseNetForward(fraud.net, [row])[0];

    test('entity keys in, the model run on their features, features + prediction in the payload log', async (t) => {
      if (opened.skip) return t.skip(opened.skip);
      const r = await infer('fraud', { id: 'req-1', entities: [{ card_id: 1 }, { card_id: '2' }] });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const scores = r.json.outputs[0].data as number[];
      const row1 = names.map((_, j) => value(1, j));
      const row2 = names.map((_, j) => (j === 3 ? NaN : value(2, j)));
      assert.ok(Math.abs(scores[0] - expected(row1)) < 1e-5, `card 1: ${scores[0]} vs ${expected(row1)}`);
      // A missing value under 'nan' reaches the model as NaN (and so its score).
      assert.ok(Number.isNaN(expected(row2)) ? scores[1] === null : Math.abs(scores[1] - expected(row2)) < 1e-5, `card 2: ${scores[1]}`);
      // Tensors still work for the same model.
      const plain = await infer('fraud', { inputs: [{ name: 'input', shape: [1, K], datatype: 'FP32', data: row1 }] });
      assert.equal(plain.status, 200, JSON.stringify(plain.json));
      assert.equal(plain.json.outputs[0].data[0], scores[0]);
      // The log is written in the background: wait for the record.
      let rec: { inputs: Record<string, { shape: number[]; data: (number | null)[] }>; outputs: Record<string, { data: number[] }> } | undefined;
      for (let i = 0; i < 100 && !rec; i++) {
        await new Promise((done) => setTimeout(done, 50));
        rec = completeJsonLines(log).find((x) => x.id === 'req-1');
      }
      assert.ok(rec, 'the request is in the payload log');
      if (!rec) return;
      assert.deepEqual(rec.inputs.input.shape, [2, K]);
      assert.deepEqual(rec.inputs.input.data.slice(0, K), row1);
      assert.equal(rec.inputs.input.data[K + 3], null, "card 2's missing f3 is logged as missing");
      assert.equal(rec.outputs[Object.keys(rec.outputs)[0]].data[0], scores[0]);
    });

    test('stale and missing values: NaN, the default, or a 404 naming the feature; counted in /metrics', async (t) => {
      if (opened.skip) return t.skip(opened.skip);
      const nan = await infer('fraud', { entities: [{ card_id: 3 }, { card_id: 4 }] });
      assert.equal(nan.status, 200);
      const def = await infer('defaults', { entities: [{ card_id: 3 }] });
      assert.equal(def.status, 200);
      const defaultsNet = writeFraudModel(tempDir(), 9).net;
      assert.ok(Math.abs(def.json.outputs[0].data[0] - denseNetForward(defaultsNet, [names.map(() => 0.5)])[0]) < 1e-5);
      const stale = await infer('strict', { entities: [{ card_id: 3 }] });
      assert.equal(stale.status, 404);
      assert.match(
        stale.json.error,
        /^'card_stats:f0' for card_id=3 is stale: its value is from .*, older than the view's TTL of 7200s; materialize newer data$/,
      );
      const unknown = await infer('strict', { entities: [{ card_id: 4 }] });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.json.error, "'card_stats:f0' has no value for card_id=4; the entity is unknown or its value was never materialized");
      const m = await get(`${server.url}/metrics`);
      const text = typeof m.json === 'string' ? m.json : String(m.json);
      const count = (model: string, status: string) =>
        Number(new RegExp(`ghosteam_model_feature_values_total\\{model="${model}",status="${status}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
      assert.ok(
        count('fraud', 'stale') >= K,
        text
          .split('\n')
          .filter((l) => l.includes('feature_values'))
          .join('\n'),
      );
      assert.ok(count('fraud', 'missing') >= K + 1);
      assert.ok(count('fraud', 'present') >= 2 * K - 1);
      assert.equal(count('strict', 'stale'), 1);
      assert.equal(count('strict', 'missing'), 1);
    });

    test('bad entity keys: a 400 naming the field', async (t) => {
      if (opened.skip) return t.skip(opened.skip);
      let r = await infer('fraud', { entities: [{ card_id: 1 }, { driver_id: 1 }] });
      assert.equal(r.status, 400);
      assert.equal(r.json.error, "entities[1].driver_id: 'driver_id' is not a join key of feature service 'fraud-features'; its keys are card_id");
      r = await infer('fraud', { entities: [{ card_id: 'abc' }] });
      assert.equal(r.status, 400);
      assert.equal(r.json.error, `entities: join key 'card_id' is "abc", not a whole number (declared int64)`);
      r = await infer('fraud', { entities: [{}] });
      assert.equal(r.status, 400);
      assert.equal(r.json.error, "entities: join key 'card_id' is missing; give card_id");
      r = await infer('fraud', { entities: [] });
      assert.equal(r.status, 400);
      assert.match(r.json.error, /^'entities' must be a non-empty list/);
    });
  });

describe('model server: a FeatureService that does not fit the model', () => {
  test('is refused when the model loads, naming the model, the input and the count', async () => {
    const dir = tempDir();
    const m = writeFraudModel(dir, 1);
    const store = SqliteOnlineStore.open({ path: join(dir, 'online.db') });
    const five: ServiceDef = { ...service('five', 'nan'), spec: { features: [{ featureView: 'card_stats', features: names.slice(0, 5) }], onMissing: 'nan' } };
    await assert.rejects(
      startModelServer({
        port: 0,
        processMetrics: false,
        quality: false,
        models: [{ name: 'fraud', path: m.path }],
        features: { fraud: { service: five, store } },
      }),
      { message: /^model 'fraud': its input 'input' is FP32 \[-1, 16\], but feature service 'five' gives 5 numeric features per entity \(\[N, 5\]\)$/ },
    );
    await store.close();
  });
});

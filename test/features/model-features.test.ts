// A Model that names a FeatureService, end to end: synth renders the `<model>-features` ConfigMap
// (the service and its views, what the server reads), mounts it in the predictor, passes the Redis
// URL by secretKeyRef and records the service in the Model resource; the InferenceService is valid
// against the upstream KServe CRD (../shared/upstream, read in place); bad declarations are synth
// errors naming the construct. Then the model server is started the way the synthesized objects
// start it (the ServingRuntime's args with {{.Name}}, the predictor's env, the ConfigMap's file at
// its mount path, the Secret's value = a real redis-server) and answers entity-key requests,
// logging what the model saw.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Chart } from 'cdk8s';
import { Entity, FeatureService, FeatureSource, FeatureView, Field, Model, OnlineStore } from '../../charts/index.ts';
import { validateGhosteamObject } from '../../api/crds/validate.ts';
import { computePlan } from '../../gitops/plan.ts';
import { datasetFromColumns } from '../../components/dataset/index.ts';
import { materializeView, prepareView } from '../../components/features/materialize.ts';
import { parseModelFeatures } from '../../components/features/open-store.ts';
import { RedisOnlineStore } from '../../components/features/redis-store.ts';
import { denseNetForward } from '../../components/onnx/index.ts';
import { find, issuesOf, synth } from '../constructs/helpers.ts';
import { upstreamErrors } from '../constructs/upstream.ts';
import { startTestRedis, uniqueName, type TestRedis } from '../peers/index.ts';
import { completeJsonLines, post, tempDir, watchServe, writeFraudModel } from '../model-server/fixtures.ts';

const K = 16;
const dataOf = (o: unknown) => (o as { data: Record<string, string> }).data;
const names = Array.from({ length: K }, (_, j) => `f${j}`);
const card = Entity.of('card', { card_id: 'int64' });

/** A chart with a Redis-backed view of K features, a service over it and a Model taking it. */
function declare(opts: { view?: string; features?: 'construct' | 'name'; store?: OnlineStore; types?: 'float' | 'string'; online?: boolean } = {}) {
  const app = new App();
  const c = new Chart(app, 'test', { namespace: 'ml' });
  const view = new FeatureView(c, opts.view ?? 'card-stats', {
    entities: [card],
    source: FeatureSource.file('data/cards.parquet', { timestampField: 'ts' }),
    ttl: '2h',
    features: names.map((n, j) => (opts.types === 'string' && j === 3 ? Field.string(n) : Field.float64(n))),
    onlineStore: opts.store ?? OnlineStore.redis({ name: 'feature-store', key: 'url' }),
    ...(opts.online === false ? { online: false } : {}),
  });
  const features = () => (opts.features === 'name' ? 'card-features' : svc);
  let svc!: FeatureService;
  if (opts.features === 'name') {
    // Declared after the Model: a name is resolved once the app is complete.
    new Model(c, 'fraud', { registry: 'fraud@champion', useLockFile: false, features: features() });
    svc = new FeatureService(c, 'card-features', { features: [view] });
    return { app, chart: c, view, svc };
  }
  svc = new FeatureService(c, 'card-features', { features: [view] });
  const model = new Model(c, 'fraud', { registry: 'fraud@champion', useLockFile: false, features: features() });
  return { app, chart: c, view, svc, model };
}

describe('Model with a FeatureService: synth', () => {
  test('renders the feature spec ConfigMap, mounts it, passes the Redis URL by Secret reference; valid upstream', () => {
    const { app, svc } = declare();
    const objects = synth(app).objects;
    const cm = find(objects, 'ConfigMap', 'fraud-features');
    const doc = parseModelFeatures(JSON.parse(dataOf(cm)['features.json']), 'the ConfigMap');
    assert.equal(doc.name, 'card-features');
    assert.deepEqual(doc.spec, svc.spec);
    assert.deepEqual(doc.views.get('card-stats'), svc.views.get('card-stats'));
    const isvc = find(objects, 'InferenceService', 'fraud');
    const pred = isvc.spec.predictor;
    assert.deepEqual(pred.volumes, [{ name: 'ghosteam-features', configMap: { name: 'fraud-features' } }]);
    assert.deepEqual(pred.model.volumeMounts, [{ name: 'ghosteam-features', mountPath: '/etc/ghosteam/features', readOnly: true }]);
    const env = Object.fromEntries(pred.model.env.map((e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e.value ?? e.valueFrom]));
    assert.equal(env.GHOSTEAM_FEATURE_SPEC, '/etc/ghosteam/features/features.json');
    assert.deepEqual(env.GHOSTEAM_ONLINE_STORE_URL, { secretKeyRef: { name: 'feature-store', key: 'url' } });
    assert.match(isvc.metadata.annotations['ghosteam.io/features-digest'], /^[0-9a-f]{16}$/);
    assert.ok(!JSON.stringify(objects).includes('redis://'), 'no connection URL in the manifests');
    assert.deepEqual(upstreamErrors(isvc as { apiVersion: string; kind: string }), []);
    const m = find(objects, 'Model', 'fraud');
    assert.equal(m.spec.featureService, 'card-features');
    assert.deepEqual(
      m.spec.features,
      names.map((n) => `card-stats:${n}`),
    );
    assert.deepEqual(validateGhosteamObject(m), []);
  });

  test('a service named by string is found in the app, even declared after the Model', () => {
    const objects = synth(declare({ features: 'name' }).app).objects;
    assert.equal(find(objects, 'Model', 'fraud').spec.featureService, 'card-features');
    assert.ok(find(objects, 'ConfigMap', 'fraud-features'));
  });

  test('ghosteam plan shows a change of the features the model takes', () => {
    const base = synth(declare().app).objects;
    const app = new App();
    const c = new Chart(app, 'test', { namespace: 'ml' });
    const view = new FeatureView(c, 'card-stats', {
      entities: [card],
      source: FeatureSource.file('data/cards.parquet', { timestampField: 'ts' }),
      ttl: '2h',
      features: names.map((n) => Field.float64(n)),
      onlineStore: OnlineStore.redis({ name: 'feature-store', key: 'url' }),
    });
    const svc = new FeatureService(c, 'card-features', { features: [view.select(...names.slice(0, 8))] });
    new Model(c, 'fraud', { registry: 'fraud@champion', useLockFile: false, features: svc });
    const plan = computePlan(base, synth(app).objects);
    const model = plan.models.find((x) => x.name === 'fraud');
    assert.ok(model, JSON.stringify(plan.changed));
    assert.ok(
      model.details.some((d) => /^features\b/.test(d) && d.includes('card-stats:f15')),
      model.details.join(' | '),
    );
    assert.deepEqual(plan.changed.map((r) => `${r.kind}/${r.name}`).sort(), [
      'ConfigMap/fraud-features',
      'FeatureService/card-features',
      'InferenceService/fraud',
      'Model/fraud',
    ]);
  });

  test('bad declarations are synth errors naming the construct and the fix', () => {
    const app = new App();
    const c = new Chart(app, 'test', { namespace: 'ml' });
    new Model(c, 'fraud', { registry: 'fraud', useLockFile: false, features: 'nope' });
    assert.deepEqual(
      issuesOf(() => synth(app)),
      ["test/fraud: 'features' names FeatureService 'nope', which the app does not declare; it declares none"],
    );
    assert.deepEqual(
      issuesOf(() => declare({ store: OnlineStore.sqlite() })),
      [
        "test/fraud: 'features' reads feature view 'card-stats', whose online values are in a local SQLite file, which a predictor pod does not have; declare the view with onlineStore: OnlineStore.redis({ name, key }) (locally, serve with 'ghosteam serve --feature-service')",
      ],
    );
    assert.deepEqual(
      issuesOf(() => declare({ types: 'string' })),
      [
        "test/fraud: 'features' takes the string feature 'card-stats:f3' of FeatureService 'card-features', which cannot feed the model's numeric input; encode it as a number in the view",
      ],
    );
    assert.deepEqual(
      issuesOf(() => declare({ online: false })),
      [
        "test/fraud: 'features' reads feature view 'card-stats' (FeatureService 'card-features'), which is not online (online: false); make it online and materialize it",
      ],
    );
  });
});

describe('Model with a FeatureService: the server started as the synthesized spec starts it, over a real Redis', () => {
  let redis: TestRedis & { skip?: string };
  const dir = tempDir();
  const viewName = uniqueName('cards').replace(/[^a-z0-9-]/g, '-');
  const NOW = Date.now();
  const value = (c: number, j: number) => Math.fround(((c * 5 + j * 3) % 13) / 4);
  let fraud: ReturnType<typeof writeFraudModel>;
  let run: { args: string[]; env: Record<string, string>; payloadLog: string };

  before(async () => {
    redis = await startTestRedis();
    if (redis.skip) return;
    const { app, view } = declare({ view: viewName });
    const objects = synth(app).objects;
    const runtime = find(objects, 'ServingRuntime');
    const isvc = find(objects, 'InferenceService', 'fraud');
    const cm = find(objects, 'ConfigMap', 'fraud-features');
    // The container: the runtime's args ({{.Name}} = the InferenceService), the predictor's env, the
    // ConfigMap's files at their mount path, the model where KServe's storage initializer puts it.
    const mnt = join(dir, 'mnt-models');
    mkdirSync(mnt);
    fraud = writeFraudModel(mnt, 3, 'model.onnx');
    const mounts: Record<string, string> = { '/mnt/models': mnt };
    for (const vm of isvc.spec.predictor.model.volumeMounts) {
      const vol = isvc.spec.predictor.volumes.find((v: { name: string }) => v.name === vm.name);
      const local = join(dir, vm.name);
      mkdirSync(local);
      assert.equal(vol.configMap.name, cm.metadata.name);
      for (const [f, text] of Object.entries(dataOf(cm))) writeFileSync(join(local, f), text);
      mounts[vm.mountPath] = local;
    }
    // A path under a mount, alone or after NAME=, is the local directory's.
    const local = (p: string) => Object.entries(mounts).reduce((s, [from, to]) => s.replace(new RegExp(`(^|=)${from}(?=/|$)`), `$1${to}`), p);
    const secrets: Record<string, string> = { 'feature-store/url': redis.url };
    const env: Record<string, string> = {};
    for (const e of isvc.spec.predictor.model.env)
      env[e.name] = e.value !== undefined ? local(e.value) : secrets[`${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`];
    const args = (runtime.spec.containers[0].args as string[]).map((a) => local(a.replace('{{.Name}}', isvc.metadata.name)));
    const payloadLog = join(dir, 'payload.jsonl');
    // The image's entrypoint is `serve --host 0.0.0.0`; here loopback and a free port. The payload log
    // stands in for KServe's logger agent (the same records, written by the server itself).
    run = { args: ['serve', '--host', '127.0.0.1', ...args, '--port', '0', '--payload-log', payloadLog], env, payloadLog };
    // Materialize cards 1 and 2 (card 2 lacks f5) into the same Redis with the store's default prefix.
    const store = await RedisOnlineStore.connect({ url: redis.url });
    const cards = [1, 2];
    const data = datasetFromColumns({
      card_id: { type: 'numeric', cells: cards },
      ts: { type: 'string', cells: cards.map(() => new Date(NOW - 60_000).toISOString()) },
      ...Object.fromEntries(names.map((n, j) => [n, { type: 'numeric' as const, cells: cards.map((c) => (c === 2 && j === 5 ? null : value(c, j))) }])),
    });
    await materializeView(store, viewName, prepareView(viewName, view.spec, data), { end: NOW, chunkMs: 86_400_000 });
    await store.close();
  });
  after(async () => await redis?.stop());

  test('entity keys in, the features looked up in Redis, the model run, features + prediction in the payload log', async (t) => {
    if (redis.skip) return t.skip(redis.skip);
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'ghosteam.mjs');
    const child = spawn(process.execPath, [bin, ...run.args], { cwd: dir, env: { ...process.env, ...run.env } });
    const watched = watchServe(child);
    try {
      const url = await watched.url;
      const r = await post(`${url}/v2/models/fraud/infer`, JSON.stringify({ id: 'k-1', entities: [{ card_id: 1 }, { card_id: 2 }] }));
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const row1 = names.map((_, j) => value(1, j));
      const want = denseNetForward(fraud.net, [row1])[0];
      assert.ok(Math.abs(r.json.outputs[0].data[0] - want) < 1e-5, `${r.json.outputs[0].data[0]} vs ${want}`);
      const unknown = await post(`${url}/v2/models/fraud/infer`, JSON.stringify({ entities: [{ card_id: 'x' }] }));
      assert.equal(unknown.status, 400);
      assert.equal(unknown.json.error, `entities: join key 'card_id' is "x", not a whole number (declared int64)`);
      let rec: { inputs: Record<string, { shape: number[]; data: (number | null)[] }>; outputs: Record<string, { data: number[] }> } | undefined;
      for (let i = 0; i < 100 && !rec; i++) {
        await new Promise((done) => setTimeout(done, 50));
        rec = completeJsonLines(run.payloadLog).find((x) => x.id === 'k-1');
      }
      assert.ok(rec, `the request is in the payload log\n${watched.output()}`);
      assert.deepEqual(rec.inputs.input.shape, [2, K]);
      assert.deepEqual(rec.inputs.input.data.slice(0, K), row1);
      assert.equal(rec.inputs.input.data[K + 5], null, "card 2's missing f5 is logged as missing (NaN to the model)");
      assert.equal(rec.outputs[Object.keys(rec.outputs)[0]].data[0], r.json.outputs[0].data[0]);
    } finally {
      await new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.on('exit', () => done());
        child.kill('SIGTERM');
      });
    }
  });

  test('without the Secret (no GHOSTEAM_ONLINE_STORE_URL) the server refuses to start, saying where the URL comes from', async (t) => {
    if (redis.skip) return t.skip(redis.skip);
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'ghosteam.mjs');
    const { GHOSTEAM_ONLINE_STORE_URL: _url, ...env } = run.env;
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'GHOSTEAM_ONLINE_STORE_URL'));
    const child = spawn(process.execPath, [bin, ...run.args], { cwd: dir, env: { ...clean, ...env } });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    const code = await new Promise<number | null>((done) => child.on('exit', done));
    assert.notEqual(code, 0);
    assert.match(
      err,
      new RegExp(
        `feature view '${viewName}': its online store is Redis; set GHOSTEAM_ONLINE_STORE_URL to its redis:// URL \\(in a cluster it comes from the Secret feature-store/url\\)`,
      ),
    );
  });
});

// The feature store from the command line, on the embedded default store (SQLite, the app's
// .ghosteam/online.db): `ghosteam features materialize app.ts` fills it, `ghosteam features serve`
// answers from it, and `ghosteam serve --feature-service MODEL=SERVICE --features-app app.ts` runs a
// model (the fraud MLP, 16 features) on the features of the entity keys a request sends.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { denseNetForward } from '../../components/onnx/index.ts';
import { post, tempDir, watchServe, writeFraudModel } from '../model-server/fixtures.ts';

const repo = join(import.meta.dirname, '../..');
const bin = join(repo, 'bin/ghosteam.mjs');
const K = 16;
const NOW = Date.now();
const value = (card: number, j: number) => Math.fround(((card * 5 + j) % 13) / 4);

describe('ghosteam features + serve on SQLite', () => {
  const dir = tempDir('ghosteam-features-cli-');
  after(() => rmSync(dir, { recursive: true, force: true }));
  const fraud = writeFraudModel(dir, 11);
  const header = ['card_id', 'ts', ...Array.from({ length: K }, (_, j) => `f${j}`)];
  const lines = [header.join(',')];
  for (const card of [1, 2]) lines.push([card, new Date(NOW - 3_600_000).toISOString(), ...Array.from({ length: K }, (_, j) => value(card, j))].join(','));
  writeFileSync(join(dir, 'cards.csv'), lines.join('\n') + '\n');
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  writeFileSync(
    join(dir, 'app.ts'),
    `import { Chart } from ${JSON.stringify(join(repo, 'node_modules/cdk8s/lib/index.js'))};
import { Entity, FeatureService, FeatureSource, FeatureView, Field } from ${JSON.stringify(join(repo, 'charts/index.ts'))};
export default (app) => {
  const c = new Chart(app, 'features');
  const card = Entity.of('card', { card_id: 'int64' });
  const stats = new FeatureView(c, 'card-stats', {
    entities: [card],
    source: FeatureSource.file('cards.csv', { timestampField: 'ts' }),
    ttl: '1d',
    features: Array.from({ length: ${K} }, (_, j) => Field.float64('f' + j)),
  });
  new FeatureService(c, 'card-features', { features: [stats], onMissing: 'reject' });
};
`,
  );
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', timeout: 240_000 });

  test('materialize fills the app-relative SQLite store, and again resumes after its watermark', () => {
    let r = run('features', 'materialize', 'app.ts');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^card-stats: 2 entities written in \d+ chunks, up to /);
    assert.ok(existsSync(join(dir, '.ghosteam/online.db')));
    r = run('features', 'materialize', 'app.ts');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^card-stats: 0 entities written in \d+ chunks, up to .* \(resumed after the watermark\)$/m);
  });

  const serve = async (args: string[], check: (url: string) => Promise<void>) => {
    const child = spawn(process.execPath, [bin, ...args, '--port', '0'], { cwd: dir });
    const watched = watchServe(child);
    try {
      await check((await watched.url).replace(/,$/, ''));
    } finally {
      await new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.on('exit', () => done());
        child.kill('SIGTERM');
      });
    }
  };

  test('features serve answers from it', async () => {
    await serve(['features', 'serve', 'app.ts'], async (url) => {
      const r = await post(`${url}/v1/features`, JSON.stringify({ service: 'card-features', entities: [{ card_id: 2 }] }));
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.deepEqual(
        r.json.rows[0].values,
        Array.from({ length: K }, (_, j) => value(2, j)),
      );
    });
  });

  test('serve --feature-service: entity keys in, the model run on their features; an unknown card is a 404 (reject)', async () => {
    await serve(['serve', '--model', `fraud=${fraud.path}`, '--feature-service', 'fraud=card-features', '--features-app', 'app.ts'], async (url) => {
      const r = await post(`${url}/v2/models/fraud/infer`, JSON.stringify({ entities: [{ card_id: 1 }, { card_id: 2 }] }));
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const want = denseNetForward(
        fraud.net,
        [1, 2].map((c) => Array.from({ length: K }, (_, j) => value(c, j))),
      );
      r.json.outputs[0].data.forEach((v: number, i: number) => assert.ok(Math.abs(v - want[i]) < 1e-5, `${v} vs ${want[i]}`));
      const missing = await post(`${url}/v2/models/fraud/infer`, JSON.stringify({ entities: [{ card_id: 9 }] }));
      assert.equal(missing.status, 404);
      assert.equal(missing.json.error, "'card-stats:f0' has no value for card_id=9; the entity is unknown or its value was never materialized");
    });
  });

  test('serve --feature-service without --features-app, or naming an unknown service, says what to give', () => {
    let r = run('serve', '--model', `fraud=${fraud.path}`, '--feature-service', 'fraud=card-features');
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim(), 'error: --feature-service needs --features-app, the app file declaring the FeatureService');
    r = run('serve', '--model', `fraud=${fraud.path}`, '--feature-service', 'fraud=nope', '--features-app', 'app.ts');
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim(), "error: --feature-service fraud=nope: app.ts declares no FeatureService 'nope'; it declares card-features");
  });
});

// `ghosteam ui` over a real local state (LocalStore objects, a LocalRegistry, a real local-engine
// run): every API response checked against the schema the OpenAPI document is generated from,
// pages rendered from the same objects, clear 400/404/405s, and a live change pushed as one
// Server-Sent Event when the operator writes a status.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { tempDir } from '../engine/helpers.ts';
import { openApiDocument } from '../../ui/api.ts';
import { discoverState, startUi, type UiServer } from '../../ui/server.ts';
import { createAuthenticator } from '../../components/security/auth.ts';
import { writeAlertState } from '../../controllers/runtime/alert-state.ts';
import { esc, html } from '../../ui/html.ts';
import { dagSvg, layoutDag, type DagInput } from '../../ui/dag.ts';

const n = (id: string, ...dependsOn: string[]): DagInput => ({ id, dependsOn });
import { MODEL, NS, REGISTERED, UNSERVED, uiFixture, type UiFixture } from './fixture.ts';
import { get, getJson, schemaErrors } from './client.ts';

describe('ghosteam ui over a real local state', () => {
  let fx: UiFixture;
  let ui: UiServer;
  let cleanup: () => Promise<void>;
  before(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    fx = await uiFixture(t.dir);
    const found = discoverState(t.dir);
    assert.deepEqual(found, { stateDir: fx.stateDir, registryDir: fx.registryDir, runsRoot: fx.runsRoot }, 'the demo layout is found from its top folder');
    ui = await startUi({ stateDir: fx.stateDir, runsRoot: fx.runsRoot, registry: fx.registry, watchDirs: [fx.stateDir, fx.registryDir], debounceMs: 50 });
  });
  after(async () => {
    await ui?.close();
    fx?.close();
    await cleanup?.();
  });

  test('GET /api/models lists the Model with serving and canary versions, traffic, aliases and rollout, as its schema says', async () => {
    const r = await getJson(`${ui.url}/api/models`);
    assert.equal(r.status, 200);
    assert.deepEqual(schemaErrors('ModelsResponse', r.json), []);
    const [m] = r.json.models as Record<string, unknown>[];
    assert.equal(m.name, MODEL);
    assert.equal(m.namespace, NS);
    assert.equal(m.registered, REGISTERED);
    assert.equal(m.stable, 1);
    assert.equal(m.canary, 2);
    assert.equal(m.trafficPercent, 10);
    assert.equal(m.step, 0, 'status.stepIndex (ghosteam status read a field the status never had, so the step was always missing)');
    assert.equal(m.champion, 1);
    assert.deepEqual(m.versions, [1, 2]);
    assert.equal(m.rolloutReason, 'StepPassed');
  });

  test('GET /api/models lists every registered model by name, with the Models serving it; one no Model serves has its own pages', async () => {
    const r = await getJson(`${ui.url}/api/models`);
    assert.deepEqual(schemaErrors('ModelsResponse', r.json), []);
    const registered = r.json.registeredModels as {
      name: string;
      versions: number[];
      latest?: number;
      aliases: Record<string, number>;
      servedBy: string[];
      latestMetrics: Record<string, number>;
    }[];
    assert.deepEqual(
      registered.map((m) => [m.name, m.servedBy]),
      [
        [UNSERVED, []],
        [REGISTERED, [`${NS}/${MODEL}`]],
      ],
    );
    const fraud = registered.find((m) => m.name === REGISTERED)!;
    assert.deepEqual([fraud.versions, fraud.latest, fraud.aliases], [[1, 2], 2, { champion: 1 }]);
    assert.deepEqual(registered.find((m) => m.name === UNSERVED)!.latestMetrics, { accuracy: 0.91 });

    // The Models page lists it under the registered models no Model serves, linked to its page.
    const home = await get(`${ui.url}/`);
    assert.match(home.body, new RegExp(`<tr data-registered="${UNSERVED}">`));
    assert.doesNotMatch(home.body, new RegExp(`data-registered="${REGISTERED}"`), 'a served model is in the Models table, not listed twice');
    const pageOf = await get(`${ui.url}/registered-models/${UNSERVED}`);
    assert.equal(pageOf.status, 200);
    assert.match(pageOf.body, /No Model serves it/);
    assert.match(pageOf.body, new RegExp(`href="/registered-models/${UNSERVED}/versions/1"`));

    const one = await getJson(`${ui.url}/api/registered-models/${UNSERVED}`);
    assert.equal(one.status, 200);
    assert.deepEqual(schemaErrors('RegisteredModelResponse', one.json), []);
    assert.deepEqual(
      (one.json.versions as { version: number; pipeline: string }[]).map((v) => [v.version, v.pipeline]),
      [[1, 'churn-train']],
    );
    const v = await getJson(`${ui.url}/api/registered-models/${UNSERVED}/versions/1`);
    assert.equal(v.status, 200);
    assert.deepEqual(schemaErrors('VersionResponse', v.json), []);
    assert.equal((v.json.run as { id: string }).id, fx.run.id, 'the version links to the local run that registered it');
    const vp = await get(`${ui.url}/registered-models/${UNSERVED}/versions/1`);
    assert.match(vp.body, new RegExp(`<a href="/registered-models/${UNSERVED}">${UNSERVED}</a> v1`));

    // A served one's registry page links to its Model; unknown names and versions are 404s, a bad version a 400.
    assert.match((await get(`${ui.url}/registered-models/${REGISTERED}`)).body, new RegExp(`href="/models/${NS}/${MODEL}"`));
    const missing = await getJson(`${ui.url}/api/registered-models/nope`);
    assert.equal(missing.status, 404);
    assert.match(String(missing.json.error), /no registered model 'nope'/);
    assert.equal((await getJson(`${ui.url}/api/registered-models/${UNSERVED}/versions/9`)).status, 404);
    assert.equal((await getJson(`${ui.url}/api/registered-models/${UNSERVED}/versions/x`)).status, 400);
    assert.equal((await get(`${ui.url}/registered-models/__proto__`)).status, 404);
  });

  test('a Model, a version and a run: lineage joins the registry and the engine run that produced the version', async () => {
    const m = await getJson(`${ui.url}/api/models/${NS}/${MODEL}`);
    assert.equal(m.status, 200);
    assert.deepEqual(schemaErrors('ModelResponse', m.json), []);
    assert.deepEqual(
      (m.json.versions as { version: number }[]).map((v) => v.version),
      [2, 1],
      'newest first',
    );
    assert.equal((m.json.trainingRuns as { reason: string; registeredVersion: number }[])[0].registeredVersion, 2);

    const v = await getJson(`${ui.url}/api/models/${NS}/${MODEL}/versions/2`);
    assert.equal(v.status, 200);
    assert.deepEqual(schemaErrors('VersionResponse', v.json), []);
    const version = v.json.version as Record<string, unknown>;
    assert.equal(version.reason, 'drift');
    assert.equal(version.runId, fx.run.id);
    assert.deepEqual(version.metrics, { rocAuc: 0.86 });
    assert.equal((v.json.run as { status: string; tasks: number }).status, 'Succeeded');
    assert.equal((v.json.run as { tasks: number }).tasks, 2);

    const runs = await getJson(`${ui.url}/api/runs`);
    assert.deepEqual(schemaErrors('RunsResponse', runs.json), []);
    assert.deepEqual(
      (runs.json.runs as { id: string }[]).map((r) => r.id),
      [fx.run.id],
    );
    const run = await getJson(`${ui.url}/api/runs/${fx.run.id}`);
    assert.deepEqual(schemaErrors('RunDetail', run.json), []);
    const nodes = run.json.nodes as { id: string; state: string; outputs: Record<string, { digest: string }>; hasLog: boolean }[];
    assert.deepEqual(
      nodes.map((n) => [n.id, n.state]),
      [
        ['prep', 'Succeeded'],
        ['train', 'Succeeded'],
      ],
    );
    assert.equal(nodes[1].outputs.model.digest, fx.run.nodes.train.outputs.model.digest);
    const log = await get(`${ui.url}/runs/${fx.run.id}/logs/train`);
    assert.equal(log.status, 200);
    assert.match(log.body, /trained/);
  });

  test('pages are rendered from the same objects: the models table, the model, the version lineage, the run', async () => {
    const home = await get(`${ui.url}/`);
    assert.equal(home.status, 200);
    assert.match(home.type, /text\/html/);
    assert.match(home.headers['content-security-policy'] as string, /default-src 'self'/);
    assert.match(home.body, new RegExp(`href="/models/${NS}/${MODEL}">${MODEL}</a>`));
    assert.match(home.body, /10% on v2/);
    const page = await get(`${ui.url}/models/${NS}/${MODEL}`);
    assert.match(page.body, /Canary analysis/);
    assert.match(page.body, /<td>v2<\/td><td>1<\/td><td>10%<\/td><td>120<\/td>/);
    const version = await get(`${ui.url}/models/${NS}/${MODEL}/versions/2`);
    assert.match(version.body, /Triggered by<\/dt><dd>drift/);
    assert.match(version.body, new RegExp(`href="/runs/${fx.run.id}">${fx.run.id}</a>`));
    const run = await get(`${ui.url}/runs/${fx.run.id}`);
    assert.match(run.body, /data-node="train"/);
    // The DAG: both tasks drawn, prep in the first column, one edge prep → train.
    assert.match(run.body, /<g data-dag-node="prep" data-state="Succeeded">.*<rect x="1" y="1"/);
    assert.match(run.body, /<g data-dag-node="train" data-state="Succeeded">.*<rect x="225" y="1"/);
    assert.equal((run.body.match(/<path d="M[\d.]+,[\d.]+ C/g) ?? []).length, 1);
    const frag = await get(`${ui.url}/fragments/runs/${fx.run.id}`);
    assert.match(frag.body, /data-dag-node="train"/, 'the live fragment carries the DAG');
  });

  test('the DAG layout: columns by longest chain, rows in order, missing and cyclic dependencies cannot break it', () => {
    const cases: [string, DagInput[], Record<string, [number, number]>, number][] = [
      ['empty', [], {}, 0],
      ['chain', [n('a'), n('b', 'a'), n('c', 'b')], { a: [0, 0], b: [1, 0], c: [2, 0] }, 2],
      ['diamond', [n('a'), n('b', 'a'), n('c', 'a'), n('d', 'b', 'c')], { a: [0, 0], b: [1, 0], c: [1, 1], d: [2, 0] }, 4],
      ['longest chain wins', [n('a'), n('b', 'a'), n('c', 'a', 'b')], { a: [0, 0], b: [1, 0], c: [2, 0] }, 3],
      ['independent roots', [n('a'), n('b'), n('c', 'b')], { a: [0, 0], b: [0, 1], c: [1, 0] }, 1],
      ['unknown dependency ignored', [n('a', 'ghost')], { a: [0, 0] }, 0],
      ['cycle terminates', [n('a', 'b'), n('b', 'a')], { a: [2, 0], b: [1, 0] }, 2],
    ];
    for (const [name, nodes, at, edges] of cases) {
      const l = layoutDag(nodes);
      assert.deepEqual(Object.fromEntries([...l.at].map(([id, p]) => [id, [p.col, p.row]])), at, name);
      assert.equal(l.edges.length, edges, name);
    }
    assert.match(dagSvg([{ id: '<x>', dependsOn: [], state: 'Failed' }]).text, /&lt;x&gt;/, 'names are escaped');
  });

  test('bad input: unknown model, version or run is a 404 naming it; malformed queries are 400s naming the parameter; writes are 405', async () => {
    const cases: [string, number, RegExp][] = [
      [`/api/models/${NS}/nope`, 404, /no Model 'nope' in namespace 'fraud'/],
      [`/models/${NS}/nope`, 404, /no Model &#39;nope&#39;/],
      [`/api/models/${NS}/${MODEL}/versions/9`, 404, /model 'fraud' has no version 9; it has v1, v2/],
      [`/api/models/${NS}/${MODEL}/versions/two`, 400, /version 'two' is not a version number/],
      [`/api/runs/no-such-run`, 404, /run 'no-such-run' not found/],
      [`/api/runs/..%2f..%2fetc`, 404, /not a valid run id/],
      [`/api/runs?limit=abc`, 400, /limit=abc must be a whole number from 1 to 1000/],
      [`/api/runs?limit=0`, 400, /limit=0 must/],
      [`/api/models/%E0%A4%A/x`, 400, /not valid percent-encoding/],
      [`/nowhere`, 404, /nothing at \/nowhere/],
    ];
    for (const [path, status, message] of cases) {
      const r = await get(`${ui.url}${path}`);
      assert.equal(r.status, status, `${path}: ${r.body.slice(0, 200)}`);
      assert.match(r.body, message, path);
    }
    const post = await get(`${ui.url}/api/models`, 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.match(post.body, /the actions are POST \/api\/models\/<namespace>\/<name>\/rollout/);
    const act = await get(`${ui.url}/api/models/${NS}/${MODEL}/rollout`, 'POST');
    assert.equal(act.status, 405, 'a UI started without credentials takes no action');
    assert.match(act.body, /this UI is read-only: start `ghosteam ui` with --token-env NAME or --auth-issuer/);
  });

  test('a status the operator writes reaches a subscriber as one change event, and the API then shows it', async () => {
    const events: string[] = [];
    const ac = new AbortController();
    const res = await fetch(`${ui.url}/api/events`, { signal: ac.signal });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const seen = (async () => {
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += value;
        for (const m of buf.matchAll(/event: (\w+)/g)) events.push(m[1]);
        buf = buf.slice(buf.lastIndexOf('\n\n') + 2);
        if (events.includes('change')) return;
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    const before = ui.changes();
    await fx.step(1, 50);
    await Promise.race([seen, new Promise((_, reject) => setTimeout(() => reject(new Error(`no change event in 5 s; got ${events.join(',')}`)), 5000))]);
    ac.abort();
    assert.deepEqual(events.slice(0, 2), ['hello', 'change']);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(ui.changes() - before, 1, 'a burst of writes is one event');
    const r = await getJson(`${ui.url}/api/models`);
    assert.equal((r.json.models as { trafficPercent: number }[])[0].trafficPercent, 50);
  });

  test('the OpenAPI document comes from the response schemas and names every route', () => {
    const doc = openApiDocument('1.2.3') as { paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    assert.deepEqual(Object.keys(doc.paths), [
      '/api/driftmonitors',
      '/api/driftmonitors/{namespace}/{name}',
      '/api/experiments',
      '/api/models',
      '/api/models/{namespace}/{name}',
      '/api/models/{namespace}/{name}/versions/{version}',
      '/api/registered-models/{name}',
      '/api/registered-models/{name}/versions/{version}',
      '/api/runs',
      '/api/runs/{id}',
      '/api/models/{namespace}/{name}/rollout',
      '/api/trainingruns',
    ]);
    const paths = doc.paths as Record<string, Record<string, { security?: unknown; requestBody?: unknown }>>;
    assert.ok(paths['/api/trainingruns'].post.requestBody, 'actions are POSTs with a JSON body');
    assert.deepEqual(paths['/api/models/{namespace}/{name}/rollout'].post.security, [{ bearer: [] }]);
    for (const name of ['ModelSummary', 'Version', 'RunSummary', 'RunDetail', 'ModelResponse', 'DriftMonitorResponse', 'ExperimentsResponse', 'Error'])
      assert.ok(doc.components.schemas[name], name);
    assert.doesNotMatch(JSON.stringify(doc), /"\$id"/);
    // The checker used above does refuse what the document does not allow.
    assert.notDeepEqual(schemaErrors('ModelsResponse', { models: [{ name: 1 }] }), []);
    assert.notDeepEqual(schemaErrors('RunSummary', { id: 'x', pipeline: 'p', status: 'Succeeded', startedAt: 'now', gitCommit: 7, tasks: 1, cached: 0 }), []);
  });

  test("an optimized version shows what it was derived from, linked to that version's page", async () => {
    const file = join(fx.dir, 'model-int8.onnx');
    await writeFile(file, 'int8 bytes');
    const v2 = (await fx.registry.listVersions(REGISTERED)).find((v) => v.version === 2)!;
    const mv = await fx.registry.registerVersion(REGISTERED, {
      artifactPath: file,
      format: 'onnx',
      metrics: {},
      params: { optimize: 'quantize' },
      lineage: { reason: 'manual', derivedFrom: `${REGISTERED}@2`, derivedFromDigest: v2.digest },
    });
    const v = await getJson(`${ui.url}/api/models/${NS}/${MODEL}/versions/${mv.version}`);
    assert.equal(v.status, 200);
    assert.deepEqual(schemaErrors('VersionResponse', v.json), []);
    const view = v.json.version as { derivedFrom?: string; derivedFromDigest?: string };
    assert.deepEqual([view.derivedFrom, view.derivedFromDigest], [`${REGISTERED}@2`, v2.digest]);
    const page = await get(`${ui.url}/models/${NS}/${MODEL}/versions/${mv.version}`);
    assert.match(page.body, new RegExp(`<dt>Derived from</dt><dd class="derived"><a href="/models/${NS}/${MODEL}/versions/2">${REGISTERED}@2</a>`));
    // A trained version has no such line.
    assert.doesNotMatch((await get(`${ui.url}/models/${NS}/${MODEL}/versions/2`)).body, /Derived from/);
  });

  test("the embedded operator's firing alerts show on the model page, live", async () => {
    const none = await getJson(`${ui.url}/api/models/${NS}/${MODEL}`);
    assert.deepEqual(none.json.alerts, []);
    // As the local operator's evaluator writes it (controllers/runtime/alert-state.ts), for this model and another.
    const at = Date.UTC(2026, 11, 2, 6, 0);
    const alert = (model: string, state: 'pending' | 'firing', name: string) => ({
      alert: name,
      labels: { alertname: name, model, version: '2', severity: 'warning' },
      annotations: { summary: `${name} on ${model} v2` },
      value: 0.71,
      state,
      activeAt: at,
      ...(state === 'firing' ? { firedAt: at + 60_000 } : {}),
    });
    await writeAlertState(
      fx.stateDir,
      [alert(REGISTERED, 'pending', 'GhosteamModelP99High'), alert(REGISTERED, 'firing', 'GhosteamModelAccuracyLow'), alert('other', 'firing', 'X')],
      at,
    );
    const m = await eventuallyJson(`${ui.url}/api/models/${NS}/${MODEL}`, (j) => (j.alerts as unknown[]).length > 0);
    assert.deepEqual(schemaErrors('ModelResponse', m), []);
    assert.deepEqual(
      (m.alerts as { alert: string; state: string; since: string }[]).map((a) => [a.alert, a.state, a.since]),
      [
        ['GhosteamModelAccuracyLow', 'firing', new Date(at + 60_000).toISOString()],
        ['GhosteamModelP99High', 'pending', new Date(at).toISOString()],
      ],
      "firing first; only this model's",
    );
    const page = await get(`${ui.url}/models/${NS}/${MODEL}`);
    assert.match(page.body, /<tr data-alert="GhosteamModelAccuracyLow">[\s\S]*firing[\s\S]*GhosteamModelAccuracyLow on fraud v2/);
    await writeAlertState(fx.stateDir, [], at);
    await eventuallyJson(`${ui.url}/api/models/${NS}/${MODEL}`, (j) => (j.alerts as unknown[]).length === 0);
  });

  test('html escapes every interpolated value', () => {
    assert.equal(esc(`<script>"&'`), '&lt;script&gt;&quot;&amp;&#39;');
    const h = html; // not formatted as HTML by prettier, so the whitespace is what is tested
    assert.equal(h`<td>${'<b>'}</td>${h`<i>${'&'}</i>`}`.text, '<td>&lt;b&gt;</td><i>&amp;</i>');
  });
});

describe('authenticated reads (readers)', () => {
  const VIEWER = 'viewer-token-0123456789';
  const ADMIN = 'admin-token-0123456789';
  let fx: UiFixture;
  let ui: UiServer;
  let cleanup: () => Promise<void>;
  before(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    fx = await uiFixture(t.dir);
    const admin = createAuthenticator({ token: ADMIN });
    ui = await startUi({
      stateDir: fx.stateDir,
      runsRoot: fx.runsRoot,
      registry: fx.registry,
      actions: { target: { stateDir: fx.stateDir }, auth: admin },
      readers: [createAuthenticator({ token: VIEWER }), admin],
    });
  });
  after(async () => {
    await ui?.close();
    fx?.close();
    await cleanup?.();
  });

  test('without a credential every read is a 401 (the sign-in page for a page); health and static files stay open', async () => {
    for (const path of ['/api/models', `/api/models/${NS}/${MODEL}`, '/api/runs', '/api/openapi.json', '/api/events', `/fragments/models/${NS}/${MODEL}`]) {
      const r = await fetch(`${ui.url}${path}`);
      assert.equal(r.status, 401, path);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer', path);
      assert.match(((await r.json()) as { error: string }).error, /view permission/, path);
    }
    const page = await fetch(`${ui.url}/runs?limit=5`);
    assert.equal(page.status, 401);
    const body = await page.text();
    assert.match(body, /<form method="post" action="\/login">/);
    assert.match(body, /name="next" value="\/runs\?limit=5"/);
    assert.equal((await fetch(`${ui.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${ui.url}/static/live.js`)).status, 200);
    assert.equal((await fetch(`${ui.url}/api/models`, { headers: { authorization: 'Bearer wrong-token-000' } })).status, 401);
  });

  test('the viewer token and the admin token read; the viewer token cannot act', async () => {
    for (const tok of [VIEWER, ADMIN]) assert.equal((await fetch(`${ui.url}/api/models`, { headers: { authorization: `Bearer ${tok}` } })).status, 200);
    const act = await fetch(`${ui.url}/api/models/${NS}/${MODEL}/rollout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${VIEWER}` },
      body: '{"action":"pause"}',
    });
    assert.equal(act.status, 401);
  });

  test('POST /login sets an HttpOnly, SameSite=Strict cookie and goes back to a path on this UI only; the cookie reads, never acts', async () => {
    const login = (token: string, next: string) =>
      fetch(`${ui.url}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, next }).toString(),
      });
    const bad = await login('not-the-token', '/runs');
    assert.equal(bad.status, 401);
    assert.equal(bad.headers.get('set-cookie'), null);
    const ok = await login(VIEWER, '/runs?limit=5');
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), '/runs?limit=5');
    const cookie = ok.headers.get('set-cookie')!;
    assert.match(cookie, /^ghosteam-ui=[^;]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=28800$/);
    for (const evil of ['//evil.example/x', 'https://evil.example/', '/\\evil.example'])
      assert.equal((await login(VIEWER, evil)).headers.get('location'), '/', evil);
    const jar = cookie.split(';')[0];
    const r = await fetch(`${ui.url}/runs`, { headers: { cookie: jar } });
    assert.equal(r.status, 200);
    assert.match(await r.text(), new RegExp(fx.run.id));
    // Actions read the Authorization header only (a cookie would let another site's form act).
    const act = await fetch(`${ui.url}/api/models/${NS}/${MODEL}/rollout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `ghosteam-ui=${ADMIN}` },
      body: '{"action":"pause"}',
    });
    assert.equal(act.status, 401);
  });
});

test('ghosteam ui through the real CLI (compiled build or sources): finds the demo layout from --state, serves, stops on SIGTERM', async () => {
  const { spawn } = await import('node:child_process');
  const { join } = await import('node:path');
  const t = await tempDir();
  const fx = await uiFixture(t.dir);
  fx.close();
  const child = spawn(process.execPath, [join(import.meta.dirname, '../../bin/ghosteam.mjs'), 'ui', '--port', '0', '--state', t.dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line in 60 s: ${out}`)), 60_000);
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on (http:\/\/\S+) \(read-only; operator state ([^,]+),/.exec(out);
        if (m) {
          clearTimeout(timer);
          assert.equal(m[2], fx.stateDir);
          resolve(m[1]);
        }
      });
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.on('exit', (code) => reject(new Error(`exited ${String(code)}: ${out}`)));
    });
    const r = await getJson(`${url}/api/models`);
    assert.equal((r.json.models as { name: string }[])[0].name, MODEL);
    const runs = await getJson(`${url}/api/runs`);
    assert.equal((runs.json.runs as { id: string }[])[0].id, fx.run.id, 'runs found in repo/.ghosteam as the demo lays them out');
  } finally {
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    await t.cleanup();
  }
});

/** Polls a JSON URL until `ok` holds (10 s); returns the body. */
async function eventuallyJson(url: string, ok: (j: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {};
  for (let i = 0; i < 100; i++) {
    last = (await getJson(url)).json;
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${url} never matched: ${JSON.stringify(last).slice(0, 500)}`);
}

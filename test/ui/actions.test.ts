// The UI's actions (pause/resume/promote/abort a rollout, start a retrain) over a real local state:
// refused without credentials (405), without a token (401), with a bad one (401), with a real OIDC
// token lacking the admin permission (403, from the zitadel/oidc peer over TLS); malformed bodies
// are 400s naming the field; every attempt is in the audit log, whose hash chain verifies. A granted
// action lands in the local operator's inbox, and the real local operator (`ghosteam operator
// --local`'s service, with a real model server) applies it to the Model. The CLI's
// `ghosteam rollout` takes the same path.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tempDir } from '../engine/helpers.ts';
import { startUi, type UiServer } from '../../ui/server.ts';
import { createAuthenticator } from '../../components/security/auth.ts';
import { openAuditLog, verifyAuditChain, type AuditLog } from '../../components/security/audit.ts';
import { checkRolloutAction } from '../../controllers/actions.ts';
import { readInbox, readStateObjects } from '../../controllers/runtime/inbox.ts';
import { startOidc, type OidcPeer } from '../peers/oidc.ts';
import { makeCa, makeLeaf } from '../security/certs.ts';
import { MODEL, NS, uiFixture, type UiFixture } from './fixture.ts';

const run = promisify(execFile);
const TOKEN = 'ui-actions-token-0123456789';

function call(
  url: string,
  opts: { method?: string; token?: string; body?: string; type?: string; ca?: string } = {},
): Promise<{ status: number; json: Record<string, string>; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': opts.type ?? 'application/json' };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    const req = (url.startsWith('https') ? httpsRequest : httpRequest)(
      url,
      { method: opts.method ?? 'POST', headers, ...(opts.ca ? { ca: opts.ca } : {}) },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text || '{}') as Record<string, string>, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

test('which rollout actions a Model takes now (pure)', () => {
  const m = (status: Record<string, unknown>, annotation?: string) => ({
    apiVersion: 'ghosteam.io/v1alpha1',
    kind: 'Model',
    metadata: { name: 'm', namespace: 'ns', ...(annotation ? { annotations: { 'ghosteam.io/rollout': annotation } } : {}) },
    status,
  });
  const canary = { stableVersion: 1, canaryVersion: 2 };
  const idle = { stableVersion: 3 };
  const cases: [Record<string, unknown>, string | undefined, string, number | undefined, RegExp?][] = [
    [canary, undefined, 'promote', undefined],
    [canary, undefined, 'abort', undefined],
    [canary, undefined, 'pause', undefined],
    [canary, 'pause', 'resume', undefined],
    [canary, 'pause', 'pause', 409, /is paused already/],
    [canary, undefined, 'resume', 409, /is not paused/],
    [idle, undefined, 'promote', 409, /no rollout in progress \(it serves version 3\)/],
    [idle, undefined, 'abort', 409, /abort acts on a canary/],
    [idle, undefined, 'pause', undefined],
    [{}, undefined, 'promote', 409, /Model ns\/m has no rollout in progress: promote/],
    [canary, undefined, 'rollback', 400, /'rollback' is not a rollout action; use one of pause, resume, promote, abort/],
    [canary, undefined, '', 400, /not a rollout action/],
  ];
  for (const [status, annotation, action, want, message] of cases) {
    const e = checkRolloutAction(m(status, annotation), action);
    assert.equal(e?.status, want, `${action} on ${JSON.stringify(status)} ${annotation ?? ''}`);
    if (message) assert.match(e!.message, message);
  }
});

describe('UI actions with a static token, audited', () => {
  let fx: UiFixture;
  let ui: UiServer;
  let audit: AuditLog;
  let auditFile: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    fx = await uiFixture(t.dir);
    auditFile = join(t.dir, 'audit.jsonl');
    audit = await openAuditLog(auditFile);
    ui = await startUi({
      stateDir: fx.stateDir,
      runsRoot: fx.runsRoot,
      registry: fx.registry,
      actions: { target: { stateDir: fx.stateDir }, auth: createAuthenticator({ token: TOKEN }), audit },
    });
  });
  after(async () => {
    await ui?.close();
    await audit?.close();
    fx?.close();
    await cleanup?.();
  });

  test('refusals: no token 401, a wrong token 401, bad bodies 400 naming the field, not JSON 415, unknown Model 404, nothing to resume 409', async () => {
    const url = `${ui.url}/api/models/${NS}/${MODEL}/rollout`;
    const cases: [string, Parameters<typeof call>[1], number, RegExp][] = [
      [url, { body: '{"action":"promote"}' }, 401, /./],
      [url, { body: '{"action":"promote"}', token: 'not-the-token-at-all' }, 401, /./],
      [url, { body: '{"action":"explode"}', token: TOKEN }, 400, /field 'action'/],
      [url, { body: '{"action":"pause","extra":1}', token: TOKEN }, 400, /field 'extra'|the body/],
      [url, { body: '{"action":', token: TOKEN }, 400, /the body is not JSON/],
      [url, { body: 'action=pause', token: TOKEN, type: 'application/x-www-form-urlencoded' }, 415, /send the action as JSON/],
      [`${ui.url}/api/models/${NS}/nope/rollout`, { body: '{"action":"pause"}', token: TOKEN }, 404, /no Model fraud\/nope; the Models are fraud\/fraud-model/],
      [url, { body: '{"action":"resume"}', token: TOKEN }, 409, /is not paused; nothing to resume/],
      [`${ui.url}/api/trainingruns`, { body: '{"pipeline":"Bad_Name"}', token: TOKEN }, 400, /field 'pipeline'/],
      [`${ui.url}/api/trainingruns`, { body: '{"pipeline":"never-ran"}', token: TOKEN }, 404, /has never run pipeline never-ran/],
    ];
    for (const [u, o, status, message] of cases) {
      const r = await call(u, o);
      assert.equal(r.status, status, `${o?.body}: ${JSON.stringify(r.json)}`);
      assert.match(r.json.error, message, o?.body);
    }
    assert.equal((await call(url, { body: '{}' })).headers['www-authenticate'], 'Bearer');
    assert.deepEqual(await readInbox(fx.stateDir), [], 'nothing refused reached the operator');
  });

  test('promote and retrain reach the inbox; each attempt is audited; the chain verifies', async () => {
    const before = (await readFile(auditFile, 'utf8')).split('\n').filter(Boolean).length;
    const p = await call(`${ui.url}/api/models/${NS}/${MODEL}/rollout`, { body: '{"action":"promote"}', token: TOKEN });
    assert.equal(p.status, 202, JSON.stringify(p.json));
    assert.match(p.json.message, /promote of Model fraud\/fraud-model handed to the local operator/);
    const r = await call(`${ui.url}/api/trainingruns`, { body: JSON.stringify({ pipeline: 'fraud-train', params: { epochs: '7' } }), token: TOKEN });
    assert.equal(r.status, 202, JSON.stringify(r.json));
    assert.match(r.json.trainingRun, /^fraud-train-manual-\d{17}-[a-z0-9]{4}$/);
    const inbox = await readInbox(fx.stateDir);
    assert.equal(inbox.length, 2);
    assert.deepEqual(inbox[0].entry?.annotate, [{ kind: 'Model', namespace: NS, name: MODEL, annotations: { 'ghosteam.io/rollout': 'promote' } }]);
    assert.equal(inbox[0].entry?.source, 'ui:static-token');
    const tr = inbox[1].entry!.objects[0];
    assert.deepEqual(tr.spec, { pipeline: 'fraud-train', reason: 'manual', specHash: `sha256:${'cd'.repeat(32)}`, params: { epochs: '7' }, model: 'fraud' });
    assert.equal(tr.metadata.namespace, NS, "the namespace of the pipeline's earlier TrainingRuns");

    const text = await readFile(auditFile, 'utf8');
    assert.equal(verifyAuditChain(text), undefined);
    const lines = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { who: string; what: string; target: string; outcome: string });
    assert.ok(before >= 9, `the refused attempts were audited too (${before})`);
    assert.ok(lines.some((l) => l.outcome === 'denied' && l.what === 'rollout'));
    assert.deepEqual(
      lines.slice(-2).map((l) => [l.who, l.what, l.target, l.outcome]),
      [
        ['static-token', 'promote', `${NS}/${MODEL}`, 'success'],
        ['static-token', 'retrain', 'trainingruns', 'success'],
      ],
    );
  });

  test('the model page shows the actions and loads their script; the script is served', async () => {
    const page = await new Promise<string>((resolve, reject) =>
      httpRequest(`${ui.url}/models/${NS}/${MODEL}`, (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString()));
        res.on('end', () => resolve(b));
      })
        .on('error', reject)
        .end(),
    );
    assert.match(page, /<button type="button" data-rollout="promote">promote<\/button>/);
    assert.match(page, /data-retrain="fraud-train"/);
    assert.match(page, /<script src="\/static\/actions.js"><\/script>/);
    const js = await fetch(`${ui.url}/static/actions.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /text\/javascript/);
    assert.match(await js.text(), /method: 'POST'/);
  });
});

describe('UI actions with OIDC tokens over TLS (a real OpenID Provider)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let fx: UiFixture;
  let ui: UiServer;
  let op: OidcPeer;
  let caPem: string;
  before(async () => {
    const t = await tempDir();
    dir = t.dir;
    cleanup = t.cleanup;
    const ca = makeCa(dir);
    const idp = makeLeaf(dir, ca, 'issuer');
    const leaf = makeLeaf(dir, ca, 'ui');
    caPem = readFileSync(ca.cert, 'utf8');
    op = await startOidc({ dir, cert: idp.cert, key: idp.key, ca: ca.cert });
    fx = await uiFixture(join(dir, 'state-root'));
    ui = await startUi({
      stateDir: fx.stateDir,
      runsRoot: fx.runsRoot,
      registry: fx.registry,
      tls: { cert: leaf.cert, key: leaf.key },
      actions: {
        target: { stateDir: fx.stateDir },
        auth: createAuthenticator({ jwt: { issuer: op.issuer, audience: op.issuer, caFile: ca.cert }, grants: [] }),
      },
    });
  });
  after(async () => {
    await ui?.close();
    fx?.close();
    await op?.stop();
    await cleanup?.();
  });

  test('a token without ghosteam:admin is a 403; with it the action is taken, under its subject', async () => {
    assert.match(ui.url, /^https:/);
    const url = `${ui.url}/api/models/${NS}/${MODEL}/rollout`;
    const plain = await call(url, { ca: caPem, token: await op.token(), body: '{"action":"pause"}' });
    assert.equal(plain.status, 403, JSON.stringify(plain.json));
    assert.equal(plain.headers['www-authenticate'], 'Bearer error="insufficient_scope"');
    const admin = await call(url, { ca: caPem, token: await op.token(['ghosteam:admin']), body: '{"action":"pause"}' });
    assert.equal(admin.status, 202, JSON.stringify(admin.json));
    const inbox = await readInbox(fx.stateDir);
    assert.equal(inbox.length, 1);
    assert.match(inbox[0].entry!.source, /^ui:\S+/);
    assert.notEqual(inbox[0].entry!.source, 'ui:static-token');
  });
});

describe('the real local operator applies what the UI and `ghosteam rollout` hand it', () => {
  test('ghosteam rollout pause (real CLI) → the running local operator annotates the Model; resume removes the pause', async () => {
    const t = await tempDir();
    const fx = await uiFixture(t.dir);
    fx.close(); // the operator owns the state directory from here
    const { startModelServer } = await import('../../components/model-server/index.ts');
    const { startLocalService } = await import('../../controllers/local-service.ts');
    const { createLogger } = await import('../../controllers/runtime/log.ts');
    const server = await startModelServer({ port: 0, models: [], registry: fx.registry, processMetrics: false, log: () => undefined });
    const svc = await startLocalService({
      stateDir: fx.stateDir,
      registry: fx.registry,
      registryLabel: 'test registry',
      registryEnv: {},
      modelServerUrl: server.url,
      storeDir: fx.runsRoot,
      log: createLogger({ level: 'error' }),
      inboxPollMs: 100,
    });
    const cli = join(import.meta.dirname, '../../bin/ghosteam.mjs');
    try {
      const out = await run(process.execPath, [cli, 'rollout', 'pause', MODEL, '--state-dir', fx.stateDir, '--wait', '20']);
      assert.match(out.stdout, /pause of Model fraud\/fraud-model handed to the local operator/);
      assert.match(out.stdout, /applied: Model fraud\/fraud-model annotated ghosteam.io\/rollout=pause/);
      const m = readStateObjects(fx.stateDir, 'Model').find((x) => x.metadata.name === MODEL);
      assert.equal(m?.metadata.annotations?.['ghosteam.io/rollout'], 'pause');
      assert.deepEqual(m?.spec, { modelRef: { name: 'fraud' } }, 'the spec is left as it was');
      const again = await run(process.execPath, [cli, 'rollout', 'pause', MODEL, '--state-dir', fx.stateDir]).catch((e: { stderr: string; code: number }) => e);
      assert.equal((again as { code: number }).code, 1);
      assert.match((again as { stderr: string }).stderr, /is paused already; resume it/);
      const bad = await run(process.execPath, [cli, 'rollout', 'rollback', MODEL, '--state-dir', fx.stateDir]).catch((e: { stderr: string }) => e);
      assert.match(bad.stderr, /'rollback' is not a rollout action; use one of pause, resume, promote, abort/);
      const resumed = await run(process.execPath, [cli, 'rollout', 'resume', MODEL, '--state-dir', fx.stateDir, '--wait', '20']);
      assert.match(resumed.stdout, /applied: Model fraud\/fraud-model annotated ghosteam.io\/rollout=resume/);
    } finally {
      await svc.stop();
      await server.close();
      await t.cleanup();
    }
  });
});

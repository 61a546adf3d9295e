// The Argo Server client's pure parts, table-tested, and its errors for a server that is not there
// (a closed loopback port: a real refused connection, no mock). The client against the real
// argo-server is in server.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argoErrorCode, ArgoServerClient, ArgoServerError, labelsArg, resolveArgoServer, splitStream } from '../../pipelines/argo-server/client.ts';
import { argoRunDetail, argoRunRow, spanMs, stepCounts, stepNodes } from '../../cli/commands/runs-cluster.ts';
import { argoPodName, podOfNode } from '../../pipelines/argo-pods.ts';
import type { ArgoWorkflow } from '../../pipelines/argo-server/client.ts';
import { freePort } from '../peers/daemons.ts';

describe('resolveArgoServer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'argo-token-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'tok-from-file\n');
  const cases: { name: string; src: Parameters<typeof resolveArgoServer>[0]; want?: { url: string; token?: string; tokenFrom?: string }; err?: RegExp }[] = [
    { name: 'host:port is https by default', src: { env: { ARGO_SERVER: 'argo.example:2746' } }, want: { url: 'https://argo.example:2746' } },
    { name: 'ARGO_SECURE=false makes it http', src: { env: { ARGO_SERVER: '127.0.0.1:2746', ARGO_SECURE: 'false' } }, want: { url: 'http://127.0.0.1:2746' } },
    { name: 'a URL is kept', src: { server: 'http://h:1', env: { ARGO_SERVER: 'ignored:2' } }, want: { url: 'http://h:1' } },
    {
      name: 'ARGO_TOKEN',
      src: { env: { ARGO_SERVER: 'h:1', ARGO_TOKEN: 'Bearer abc' } },
      want: { url: 'https://h:1', token: 'Bearer abc', tokenFrom: 'ARGO_TOKEN' },
    },
    {
      name: 'a token file wins over ARGO_TOKEN',
      src: { tokenFile, env: { ARGO_SERVER: 'h:1', ARGO_TOKEN: 'env' } },
      want: { url: 'https://h:1', token: 'tok-from-file', tokenFrom: tokenFile },
    },
    {
      name: 'ARGO_TOKEN_FILE',
      src: { env: { ARGO_SERVER: 'h:1', ARGO_TOKEN_FILE: tokenFile } },
      want: { url: 'https://h:1', token: 'tok-from-file', tokenFrom: tokenFile },
    },
    { name: 'no server', src: { env: {} }, err: /no Argo Server given: pass --argo-server <url> or set ARGO_SERVER/ },
    {
      name: 'a missing token file',
      src: { tokenFile: join(dir, 'nope'), env: { ARGO_SERVER: 'h:1' } },
      err: /cannot read the Argo token file .*nope \(ENOENT\)/,
    },
  ];
  for (const c of cases)
    it(c.name, async () => {
      if (c.err) await assert.rejects(resolveArgoServer(c.src), c.err);
      else assert.deepEqual(await resolveArgoServer(c.src), c.want);
    });
  it('an empty token file is an error', async () => {
    const empty = join(dir, 'empty');
    writeFileSync(empty, '  \n');
    await assert.rejects(resolveArgoServer({ tokenFile: empty, env: { ARGO_SERVER: 'h:1' } }), /the Argo token file .*empty is empty/);
  });
});

describe('ArgoServerClient', () => {
  it('refuses a URL that is not http(s) or carries credentials', () => {
    assert.throws(() => new ArgoServerClient({ url: 'not a url' }), /is not a URL/);
    assert.throws(() => new ArgoServerClient({ url: 'ftp://h' }), /must be http:\/\/ or https:\/\//);
    assert.throws(() => new ArgoServerClient({ url: 'https://u:p@h' }), /must not carry credentials/);
  });
  it('says the server is unreachable, naming it and what to check', async () => {
    const port = await freePort();
    const c = new ArgoServerClient({ url: `http://127.0.0.1:${port}` });
    await assert.rejects(c.listWorkflows('argo'), (e: unknown) => {
      assert.ok(e instanceof ArgoServerError);
      assert.equal(e.code, 'unreachable');
      assert.match(e.message, new RegExp(`cannot reach the Argo Server at http://127.0.0.1:${port} \\(list workflows in argo\\): ECONNREFUSED; check the URL`));
      return true;
    });
    const logs = c.logs('argo', 'wf');
    await assert.rejects(logs.next(), /cannot reach the Argo Server .*logs of workflow argo\/wf/);
  });
  it('retries a read the server answers 503 (its gateway reconnecting), never a submission', async () => {
    // A loopback server that answers as argo server's gateway does while its connection to its own
    // gRPC port is down (503, the gRPC error as JSON), then recovers. The real startup race cannot
    // be produced on demand; the client against the real server is in test/cluster/argo-server.test.ts.
    const seen: string[] = [];
    let unavailable = 2;
    const srv = createServer((req, res) => {
      seen.push(`${req.method} ${req.url?.split('?')[0]}`);
      if (unavailable > 0 || req.method === 'POST') {
        unavailable--;
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 14, message: 'connection error: desc = "transport: Error while dialing: connect: connection refused"' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ items: [{ metadata: { name: 'wf-1', namespace: 'argo' } }] }));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    try {
      const c = new ArgoServerClient({ url, token: 't', retryDelaysMs: [5, 5, 5] });
      const list = await c.listWorkflows('argo');
      assert.deepEqual(
        list.map((w) => w.metadata.name),
        ['wf-1'],
      );
      assert.deepEqual(seen, Array(3).fill('GET /api/v1/workflows/argo'), 'two 503s, then the answer');
      seen.length = 0;
      await assert.rejects(c.submitFromTemplate({ namespace: 'argo', template: 't' }), (e: unknown) => {
        assert.ok(e instanceof ArgoServerError && e.status === 503, String(e));
        assert.match(e.message, /HTTP 503: connection error/);
        return true;
      });
      assert.deepEqual(seen, ['POST /api/v1/workflows/argo/submit'], 'a submission is sent once');
      seen.length = 0;
      unavailable = 10;
      await assert.rejects(c.getWorkflow('argo', 'wf-1'), /HTTP 503/);
      assert.equal(seen.length, 4, 'the first try and one per delay, then the 503 is reported');
    } finally {
      srv.close();
    }
  });
  it('maps HTTP statuses onto codes', () => {
    assert.deepEqual([401, 403, 404, 400, 409, 500, 503].map(argoErrorCode), [
      'unauthenticated',
      'forbidden',
      'not-found',
      'invalid',
      'invalid',
      'server',
      'server',
    ]);
  });
});

describe('labelsArg and splitStream', () => {
  it('joins labels sorted, refusing what the server would misparse', () => {
    assert.equal(labelsArg({ b: '2', 'ghosteam.io/pipeline': 'train' }), 'b=2,ghosteam.io/pipeline=train');
    assert.throws(() => labelsArg({ a: 'x,y' }), /label a: value 'x,y' must not contain/);
    assert.throws(() => labelsArg({ 'bad key!': 'x' }), /label key 'bad key!' is not a valid/);
  });
  it('splits newline-delimited JSON, keeping an unfinished line', () => {
    assert.deepEqual(splitStream('{"result":{"content":"a"}}\n\n{"result":'), { lines: [{ result: { content: 'a' } }], rest: '{"result":' });
    assert.deepEqual(splitStream(''), { lines: [], rest: '' });
    assert.throws(() => splitStream('<html>\n'), /a stream line that is not JSON: <html>/);
  });
});

const wf = (nodes: Record<string, unknown>, status: Record<string, unknown> = {}): ArgoWorkflow =>
  ({
    metadata: { name: 'train-abc', namespace: 'argo', uid: 'u1', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { workflowTemplateRef: { name: 'train' }, arguments: { parameters: [{ name: 'lr', value: '0.1' }] } },
    status: { phase: 'Succeeded', startedAt: '2026-01-01T00:00:01Z', finishedAt: '2026-01-01T00:01:31Z', nodes, ...status },
  }) as unknown as ArgoWorkflow;

describe('runs --cluster formatting', () => {
  const nodes = {
    'train-abc': { id: 'train-abc', name: 'train-abc', displayName: 'train-abc', type: 'DAG', phase: 'Succeeded' },
    'train-abc-1': {
      id: 'train-abc-1',
      name: 'train-abc.ingest',
      displayName: 'ingest',
      type: 'Pod',
      phase: 'Succeeded',
      startedAt: '2026-01-01T00:00:01Z',
      finishedAt: '2026-01-01T00:00:11Z',
      outputs: { parameters: [{ name: 'rows', value: '42' }] },
    },
    'train-abc-2': {
      id: 'train-abc-2',
      name: 'train-abc.gate',
      displayName: 'gate',
      type: 'Pod',
      phase: 'Failed',
      message: 'exit 1',
      startedAt: '2026-01-01T00:00:12Z',
      finishedAt: '2026-01-01T00:00:13Z',
    },
    'train-abc-3': { id: 'train-abc-3', name: 'train-abc.register', displayName: 'register', type: 'Skipped', phase: 'Skipped' },
  };
  it('spanMs', () => {
    assert.equal(spanMs('2026-01-01T00:00:00Z', '2026-01-01T00:00:01.5Z'), 1500);
    assert.equal(spanMs('2026-01-01T00:00:00Z', undefined), undefined);
    assert.equal(spanMs('2026-01-01T00:00:02Z', '2026-01-01T00:00:01Z'), undefined);
    assert.equal(spanMs('garbage', '2026-01-01T00:00:01Z'), undefined);
  });
  it('steps in start order, counted like local tasks', () => {
    assert.deepEqual(
      stepNodes(wf(nodes)).map((n) => n.displayName),
      ['ingest', 'gate', 'register'],
    );
    assert.equal(stepCounts(wf(nodes)), '1/2 succeeded, 1 skipped, 1 failed');
    assert.equal(stepCounts(wf({})), '0/0 succeeded');
  });
  it('a list row and a detail', () => {
    assert.deepEqual(argoRunRow(wf(nodes), 'argo'), [
      'train-abc',
      'train',
      'Succeeded',
      '2026-01-01 00:00:01',
      '1m30s',
      '-',
      '1/2 succeeded, 1 skipped, 1 failed',
      'argo:argo',
    ]);
    assert.equal(argoRunRow(wf({}, { phase: '', startedAt: undefined, finishedAt: undefined }), 'archive')[2], 'Pending');
    const d = argoRunDetail(wf(nodes), 'archive');
    assert.match(d.head[0], /train-abc {2}pipeline train \(archived Argo Workflow in argo\)/);
    assert.equal(d.head[4], 'params    lr="0.1"');
    assert.deepEqual(d.steps.slice(1), [
      ['ingest', 'Succeeded', '10.0s', 'train-abc-1', ''],
      ['gate', 'Failed', '1.0s', 'train-abc-2', 'exit 1'],
      ['register', 'Skipped', '-', 'train-abc-3', ''],
    ]);
    assert.deepEqual(d.outputs, ['  ingest.rows  = "42"']);
  });
  it('matches pods to nodes under both pod-name formats', () => {
    const w = { metadata: { name: 'train-abc' } };
    const n = { id: 'train-abc-1234567', name: 'train-abc.ingest', type: 'Pod', templateName: 'ingest' };
    assert.equal(podOfNode(w, n, 'train-abc-1234567'), true); // v1: the node id
    assert.equal(podOfNode(w, n, 'train-abc-ingest-1234567'), true); // v2: <wf>-<template>-<hash>
    assert.equal(podOfNode(w, n, 'train-abc-ingest-7654321'), false);
    assert.equal(podOfNode(w, n, 'train-abc-split-1234567'), false);
  });
  it("names a step's pod as Argo does", () => {
    const w = (annotations?: Record<string, string>) => ({ metadata: { name: 'train-abc', ...(annotations ? { annotations } : {}) } });
    const n = { id: 'train-abc-1234567', type: 'Pod', templateName: 'ingest' };
    assert.equal(argoPodName(w(), n), 'train-abc-ingest-1234567');
    assert.equal(argoPodName(w({ 'workflows.argoproj.io/pod-name-format': 'v1' }), n), 'train-abc-1234567');
    // A step from a WorkflowTemplate reference names its template there.
    assert.equal(argoPodName(w(), { id: 'train-abc-42', type: 'Pod', templateRef: { template: 'train' } }), 'train-abc-train-42');
    // No template name: the id (Argo falls back to v1).
    assert.equal(argoPodName(w(), { id: 'train-abc-42', type: 'Pod' }), 'train-abc-42');
    // A containerSet container runs in its boundary's pod.
    assert.equal(argoPodName(w(), { id: 'train-abc-9', type: 'Container', boundaryID: 'train-abc-42', templateName: 'set' }), 'train-abc-set-42');
    // A long name is cut in the prefix, never in the hash, to 253 characters.
    const long = 'w'.repeat(200);
    const p = argoPodName({ metadata: { name: long } }, { id: `${long}-3456789012`, type: 'Pod', templateName: 't'.repeat(100) });
    assert.equal(p.length, 253);
    assert.ok(p.endsWith('-3456789012'));
  });
});

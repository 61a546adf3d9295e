/**
 * The UI's cluster mode against the REAL kube-apiserver of the peers harness (no kubelet: the test
 * plays the operator and Argo by writing status): the pages and the API list the Models,
 * DriftMonitors and Argo Workflows created through the API server; a status patch reaches an open
 * Server-Sent Events stream through the informers' watch; an action with the token annotates the
 * Model (or creates a TrainingRun) and is audited; without a token it is a 401, and a UI whose own
 * ServiceAccount holds only the read rules (UI_READ_RULES) reads every page but its action is a 403
 * from the API server, audited as a failure — and with UI_ACTION_RULES added, the same action and a
 * retrain go through.
 */
import { after, before, describe, test } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { uniqueName, usePeers } from '../peers/index.ts';
import { KubeStore, loadKubeConfig } from '../../controllers/runtime/kube-store.ts';
import { TYPES } from '../../controllers/runtime/store.ts';
import { LocalRegistry } from '../../components/registry/local.ts';
import { createAuthenticator } from '../../components/security/auth.ts';
import { openAuditLog, type AuditLog } from '../../components/security/audit.ts';
import { startUi, type UiServer } from '../../ui/server.ts';
import { clusterSource, workflowRun } from '../../ui/cluster.ts';
import type { UiSource } from '../../ui/source.ts';
import { Informer } from '../../controllers/runtime/informer.ts';
import { createLogger } from '../../controllers/runtime/log.ts';
import { UI_ACTION_RULES, UI_READ_RULES } from '../../charts/operator-install.ts';
import type { K8sObject } from '../../api/objects.ts';
import { modelObject } from '../controllers/fakes.ts';
import { workflow } from './workflow-fixture.ts';

const peers = await usePeers(['kube']);
const TOKEN = 'ui-cluster-token-0123456789';
const HASH = `sha256:${'cd'.repeat(32)}`;

describe('workflowRun (pure)', () => {
  test('step nodes become tasks with their edges through retry nodes, cache hits and numeric outputs', () => {
    const r = workflowRun(workflow('ns'));
    assert.equal(r.pipeline, 'fraud-train');
    assert.equal(r.status, 'Succeeded');
    assert.equal(r.durationMs, 180_000);
    assert.deepEqual(r.order, ['prep', 'train']);
    assert.deepEqual(r.nodes.train.dependsOn, ['prep']);
    assert.deepEqual(r.nodes.prep.dependsOn, []);
    assert.equal(r.nodes.prep.cached, true);
    assert.equal(r.nodes.train.cached, undefined);
    assert.deepEqual(
      r.nodes.train.attempts.map((a) => [a.outcome, a.message]),
      [
        ['Failed', 'OOMKilled'],
        ['Succeeded', undefined],
      ],
    );
    assert.equal(r.nodes.train.durationMs, 120_000);
    assert.deepEqual(r.nodes.train.outputParams, { auc: 0.91, note: 'ok' }, "the last attempt's outputs");
    assert.deepEqual(r.params, { rows: '1000' });
    assert.equal(r.gitCommit, 'b'.repeat(40));
    // Each step's log is its pod's (Argo's v2 pod names), a retried step's its last attempt's.
    assert.equal(r.nodes.prep.log, 'fraud-train-x7k2p-prep-1');
    assert.equal(r.nodes.train.log, 'fraud-train-x7k2p-train-4');
    // Output artifacts where the repository stored them: the default bucket's key, a bucket, a URL.
    assert.deepEqual(r.nodes.prep.externalOutputs, {
      data: { store: 's3', location: 'fraud-train-x7k2p/fraud-train-x7k2p-prep-1/data.tgz' },
      report: { store: 's3', location: 's3://reports/r/1.html' },
      card: { store: 'http', location: 'https://store.example/c.json' },
    });
    assert.equal(r.nodes.train.externalOutputs, undefined);
    const failed = workflowRun({ ...workflow('ns'), status: { phase: 'Error', message: 'pod deleted' } });
    assert.equal(failed.status, 'Failed');
    assert.equal(failed.message, 'pod deleted');
    assert.deepEqual(failed.order, []);
  });
});

describe('UI cluster mode against the API server', { skip: peers.skip }, () => {
  let admin: KubeStore;
  let dir: string;
  let source: UiSource;
  let ui: UiServer;
  let audit: AuditLog;
  let readerUi: UiServer | undefined;
  let readerSource: UiSource | undefined;
  const ns = uniqueName('gt-ui');

  before(async () => {
    admin = new KubeStore(loadKubeConfig(peers.kubeconfig));
    dir = mkdtempSync(join(tmpdir(), 'gt-ui-cluster-'));
    await admin.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const registry = new LocalRegistry({ dir: join(dir, 'registry') });
    writeFileSync(join(dir, 'm.onnx'), 'model');
    for (const v of [1, 2])
      await registry.registerVersion('fraud', {
        artifactPath: join(dir, 'm.onnx'),
        format: 'onnx',
        metrics: { auc: 0.8 + v / 100 },
        params: {},
        lineage: { runId: 'fraud-train-x7k2p', pipeline: 'fraud-train', reason: v === 2 ? 'drift' : 'manual' },
      });
    const model = await admin.create(TYPES.Model, modelObject('fraud', { namespace: ns }));
    await admin.replaceStatus(TYPES.Model, { ...model, status: { phase: 'Ready', stableVersion: 1, trafficPercent: 0 } });
    await admin.create(TYPES.WorkflowTemplate, {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'WorkflowTemplate',
      metadata: { name: 'fraud-train', namespace: ns, annotations: { 'ghosteam.io/spec-hash': HASH } },
      spec: { entrypoint: 'main', templates: [{ name: 'main', container: { image: 'busybox', command: ['true'] } }] },
    });
    // A second pipeline for the read-only UI's retrain (manual TrainingRun names are per second).
    await admin.create(TYPES.WorkflowTemplate, {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'WorkflowTemplate',
      metadata: { name: 'fraud-train-b', namespace: ns, annotations: { 'ghosteam.io/spec-hash': HASH } },
      spec: { entrypoint: 'main', templates: [{ name: 'main', container: { image: 'busybox', command: ['true'] } }] },
    });
    await admin.create(TYPES.Workflow, workflow(ns));
    await admin.create(TYPES.DriftMonitor, {
      apiVersion: 'ghosteam.io/v1alpha1',
      kind: 'DriftMonitor',
      metadata: { name: 'fraud-drift', namespace: ns },
      spec: {
        model: 'fraud',
        reference: { uri: 'file:///ref.parquet', format: 'parquet' },
        features: [{ name: 'amount', type: 'numerical' }],
        test: 'psi',
        thresholds: { driftShare: 0.5 },
        window: { seconds: 3600, minSamples: 100 },
        schedule: '0 * * * *',
        action: { retrain: { pipeline: 'fraud-train', cooldownSeconds: 86400 } },
      },
    });
    source = await clusterSource({ store: admin, registry, namespace: ns });
    audit = await openAuditLog(join(dir, 'audit.jsonl'));
    ui = await startUi({ source, debounceMs: 50, actions: { target: source.target!, auth: createAuthenticator({ token: TOKEN }), audit } });
  });
  after(async () => {
    await readerUi?.close();
    await readerSource?.close();
    await ui?.close();
    await source?.close();
    await audit?.close();
    await admin.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  test('the API and the pages list the Models, versions from the registry, DriftMonitors and Argo runs', async () => {
    const models = (await (await fetch(`${ui.url}/api/models`)).json()) as {
      models: { name: string; namespace: string; stable?: number; versions: number[] }[];
    };
    assert.deepEqual(
      models.models.map((m) => [m.namespace, m.name]),
      [[ns, 'fraud']],
    );
    assert.deepEqual([models.models[0].stable, models.models[0].versions], [1, [1, 2]]);
    const one = (await (await fetch(`${ui.url}/api/models/${ns}/fraud`)).json()) as { versions: { version: number; reason?: string }[] };
    assert.deepEqual(
      one.versions.map((v) => [v.version, v.reason]),
      [
        [2, 'drift'],
        [1, 'manual'],
      ],
    );
    const version = (await (await fetch(`${ui.url}/api/models/${ns}/fraud/versions/2`)).json()) as { run?: { id: string; cached: number } };
    assert.equal(version.run?.id, 'fraud-train-x7k2p', 'the version links to the Argo run that produced it');
    const page = await (await fetch(`${ui.url}/`)).text();
    assert.match(page, new RegExp(`${ns}`));
    const monitors = (await (await fetch(`${ui.url}/api/driftmonitors`)).json()) as { driftMonitors: { name: string }[] };
    assert.deepEqual(
      monitors.driftMonitors.map((m) => m.name),
      ['fraud-drift'],
    );
    const runs = (await (await fetch(`${ui.url}/api/runs`)).json()) as { runs: { id: string; status: string; tasks: number; cached: number }[] };
    assert.deepEqual(runs.runs, [
      {
        id: 'fraud-train-x7k2p',
        pipeline: 'fraud-train',
        status: 'Succeeded',
        startedAt: '2026-12-02T06:00:00.000Z',
        finishedAt: '2026-12-02T06:03:00.000Z',
        durationMs: 180_000,
        gitCommit: 'b'.repeat(40),
        tasks: 2,
        cached: 1,
      },
    ]);
    const runPage = await (await fetch(`${ui.url}/runs/fraud-train-x7k2p`)).text();
    assert.match(runPage, />prep</);
    assert.match(runPage, />train</);
    const exp = (await (await fetch(`${ui.url}/api/experiments?metric=train.auc`)).json()) as { runs: { id: string; metrics: Record<string, number> }[] };
    assert.equal(exp.runs[0]?.metrics['train.auc'], 0.91);
    assert.equal((await fetch(`${ui.url}/runs/no-such-run`)).status, 404);
    assert.equal((await fetch(`${ui.url}/api/models/${ns}/nope`)).status, 404);
  });

  test("with the operator's informers shared, the source opens no second watch of their kinds", async () => {
    const watches: string[] = [];
    const counting: typeof admin = Object.create(admin, {
      watch: {
        value: (...a: Parameters<KubeStore['watch']>) => {
          watches.push(a[0].kind);
          return admin.watch(...a);
        },
      },
    });
    const log = createLogger({ level: 'error' });
    const models = new Informer(counting, TYPES.Model, [], log, { namespace: ns });
    await models.start();
    const shared = await clusterSource({ store: counting, namespace: ns, shared: (t) => (t.kind === 'Model' ? models : undefined) });
    try {
      assert.deepEqual(
        watches.filter((k) => k === 'Model'),
        ['Model'],
        "only the shared informer's watch",
      );
      assert.ok(watches.includes('DriftMonitor') && watches.includes('TrainingRun'), 'the kinds not shared are watched by the source');
      assert.deepEqual(
        (await shared.read()).models.map((m) => m.metadata.name),
        ['fraud'],
      );
      let changed = 0;
      shared.subscribe(() => changed++);
      const cur = (await admin.get(TYPES.Model, ns, 'fraud'))!;
      await admin.replace(TYPES.Model, { ...cur, metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, seen: 'yes' } } });
      for (let i = 0; i < 50 && !changed; i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(changed > 0, "the shared informer's event reached the source");
    } finally {
      await shared.close();
      assert.ok(models.hasSynced, 'closing the source leaves the shared informer running');
      models.stop();
    }
  });

  test('a status patch arrives live over Server-Sent Events (a watch event, not a poll)', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${ui.url}/api/events`, { signal: ctl.signal });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let text = '';
    const until = async (re: RegExp) => {
      const deadline = Date.now() + 15_000;
      while (!re.test(text)) {
        if (Date.now() > deadline) throw new Error(`no ${re} in the event stream: ${text}`);
        const { value, done } = await reader.read();
        if (done) throw new Error('the event stream ended');
        text += dec.decode(value);
      }
    };
    await until(/event: hello/);
    const cur = (await admin.get(TYPES.Model, ns, 'fraud'))!;
    await admin.replaceStatus(TYPES.Model, {
      ...cur,
      status: {
        phase: 'Progressing',
        stableVersion: 1,
        canaryVersion: 2,
        stepIndex: 0,
        trafficPercent: 10,
        rollout: { phase: 'Progressing', reason: 'StepPassed', message: 'canary v2 at 10%' },
        analysis: [
          { step: 0, version: 2, trafficPercent: 10, checkedAt: new Date().toISOString(), passed: true, requests: 120, errorRate: 0.001, p99LatencyMs: 8 },
        ],
      },
    });
    await until(/event: change/);
    ctl.abort();
    const m = (await (await fetch(`${ui.url}/api/models/${ns}/fraud`)).json()) as { model: { canary?: number; trafficPercent?: number } };
    assert.equal(m.model.canary, 2);
    assert.equal(m.model.trafficPercent, 10);
    const fragment = await (await fetch(`${ui.url}/fragments/models/${ns}/fraud`)).text();
    assert.match(fragment, /10%/);
  });

  test('an action with the token annotates the Model and is audited; without one it is a 401', async () => {
    const no = await fetch(`${ui.url}/api/models/${ns}/fraud/rollout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"action":"pause"}',
    });
    assert.equal(no.status, 401);
    const ok = await fetch(`${ui.url}/api/models/${ns}/fraud/rollout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: '{"action":"pause"}',
    });
    assert.equal(ok.status, 202, await ok.clone().text());
    const m = await admin.get(TYPES.Model, ns, 'fraud');
    assert.equal(m?.metadata.annotations?.['ghosteam.io/rollout'], 'pause');
    const retrain = await fetch(`${ui.url}/api/trainingruns`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ pipeline: 'fraud-train', namespace: ns }),
    });
    assert.equal(retrain.status, 202, await retrain.clone().text());
    const { trainingRun } = (await retrain.json()) as { trainingRun: string };
    const created = await admin.get(TYPES.TrainingRun, ns, trainingRun);
    assert.equal((created?.spec as { reason?: string }).reason, 'manual');
    assert.equal((created?.spec as { specHash?: string }).specHash, HASH);
    const lines = readFileSync(join(dir, 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { who: string; what: string; target: string; outcome: string });
    assert.deepEqual(
      lines.map((l) => [l.what, l.target, l.outcome]),
      [
        ['rollout', `${ns}/fraud`, 'denied'],
        ['pause', `${ns}/fraud`, 'success'],
        ['retrain', 'trainingruns', 'success'],
      ],
    );
  });

  test('over every namespace, run ids are namespace-qualified: the same Workflow name in two namespaces is two runs', async () => {
    const other = uniqueName('gt-ui2');
    await admin.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: other } });
    // A Workflow name of this test's own (the API server keeps other tests' namespaces' objects: no namespace controller runs).
    const wfName = uniqueName('wf');
    const named = (n: string) => JSON.parse(JSON.stringify(workflow(n)).replaceAll('fraud-train-x7k2p', wfName)) as K8sObject;
    await admin.create(TYPES.Workflow, named(ns));
    await admin.create(TYPES.Workflow, named(other));
    const wide = await clusterSource({ store: admin });
    const wideUi = await startUi({ source: wide });
    try {
      const ids = ((await (await fetch(`${wideUi.url}/api/runs?limit=1000`)).json()) as { runs: { id: string }[] }).runs
        .map((r) => r.id)
        .filter((id) => id === `${ns}:${wfName}` || id === `${other}:${wfName}`)
        .sort();
      assert.deepEqual(ids, [`${ns}:${wfName}`, `${other}:${wfName}`].sort());
      const one = await fetch(`${wideUi.url}/api/runs/${encodeURIComponent(`${other}:${wfName}`)}`);
      assert.equal(one.status, 200);
      assert.equal(((await one.json()) as { run: { id: string } }).run.id, `${other}:${wfName}`);
      // The bare name (how a version's lineage names its run) is ambiguous here: a 404 naming both.
      const bare = await fetch(`${wideUi.url}/runs/${wfName}`);
      assert.equal(bare.status, 404);
      const text = await bare.text();
      assert.ok(text.includes(`/runs/${ns}:${wfName}`) && text.includes(`/runs/${other}:${wfName}`), text);
      // With one left, the bare name finds it.
      await admin.delete(TYPES.Workflow, other, wfName);
      await eventuallyStatus(`${wideUi.url}/api/runs/${wfName}`, 200);
      // The single-namespace UI keeps plain names.
      await eventuallyStatus(`${ui.url}/api/runs/${wfName}`, 200);
    } finally {
      await wideUi.close();
      await wide.close();
      await admin.request('DELETE', `/api/v1/namespaces/${other}`).catch(() => {});
    }
  });

  test('a UI whose ServiceAccount holds only the read rules reads every page, its action is a 403; the action rules allow it', async () => {
    await admin.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'ui-reader' } });
    const rules = (r: readonly { apiGroups: readonly string[]; resources: readonly string[]; verbs: readonly string[] }[]) =>
      r.map((x) => ({ apiGroups: [...x.apiGroups], resources: [...x.resources], verbs: [...x.verbs] }));
    await admin.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'ui-read' },
      rules: rules(UI_READ_RULES),
    });
    await admin.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'ui-read' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ui-read' },
      subjects: [{ kind: 'ServiceAccount', name: 'ui-reader', namespace: ns }],
    });
    const tr = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${ns}/serviceaccounts/ui-reader/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 600 },
    });
    const base = YAML.parse(readFileSync(peers.kubeconfig, 'utf8')) as { clusters: { name: string; cluster: Record<string, unknown> }[] };
    const kubeconfig = join(dir, 'reader-kubeconfig');
    writeFileSync(
      kubeconfig,
      YAML.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: base.clusters[0].cluster }],
        users: [{ name: 'u', user: { token: tr.status.token } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const store = new KubeStore(loadKubeConfig(kubeconfig));
    readerSource = await clusterSource({ store, namespace: ns });
    readerUi = await startUi({ source: readerSource, actions: { target: readerSource.target!, auth: createAuthenticator({ token: TOKEN }), audit } });
    for (const path of ['/api/models', `/api/models/${ns}/fraud`, '/api/driftmonitors', '/api/runs', '/', '/drift', '/runs', '/experiments']) {
      const r = await fetch(`${readerUi.url}${path}`);
      assert.equal(r.status, 200, `${path}: ${await r.text()}`);
    }
    const models = (await (await fetch(`${readerUi.url}/api/models`)).json()) as { models: { name: string }[] };
    assert.deepEqual(
      models.models.map((m) => m.name),
      ['fraud'],
    );
    const r = await fetch(`${readerUi.url}/api/models/${ns}/fraud/rollout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: '{"action":"resume"}',
    });
    assert.equal(r.status, 403);
    assert.match(((await r.json()) as { error: string }).error, /refused the UI's own identity.*ui-reader/s);
    const last = JSON.parse(readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n').at(-1)!) as { what: string; outcome: string };
    assert.deepEqual([last.what, last.outcome], ['rollout', 'failure']);
    assert.equal((await admin.get(TYPES.Model, ns, 'fraud'))?.metadata.annotations?.['ghosteam.io/rollout'], 'pause', 'the refused resume changed nothing');

    // With the action rules added (and nothing more), the same action goes through.
    await admin.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'ui-act' },
      rules: rules(UI_ACTION_RULES),
    });
    await admin.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'ui-act' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ui-act' },
      subjects: [{ kind: 'ServiceAccount', name: 'ui-reader', namespace: ns }],
    });
    const act = async () =>
      fetch(`${readerUi!.url}/api/models/${ns}/fraud/rollout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: '{"action":"resume"}',
      });
    // RBAC changes reach the authorizer's cache within moments: retry briefly.
    let granted = await act();
    for (let i = 0; granted.status === 403 && i < 20; i++) {
      await new Promise((r) => setTimeout(r, 250));
      granted = await act();
    }
    assert.equal(granted.status, 202, await granted.clone().text());
    assert.equal((await admin.get(TYPES.Model, ns, 'fraud'))?.metadata.annotations?.['ghosteam.io/rollout'], 'resume');
    const retrain = await fetch(`${readerUi.url}/api/trainingruns`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ pipeline: 'fraud-train-b', namespace: ns }),
    });
    assert.equal(retrain.status, 202, await retrain.clone().text());
  });
});

describe('ghosteam operator --ui-port (the real CLI) against the API server', { skip: peers.skip }, () => {
  test('serves the cluster UI beside the controllers; an action with the token is audited in the operator log', async () => {
    const admin = new KubeStore(loadKubeConfig(peers.kubeconfig));
    const ns = uniqueName('gt-ui-op');
    const dir = mkdtempSync(join(tmpdir(), 'gt-ui-op-'));
    await admin.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const child = spawn(
      process.execPath,
      [
        join(import.meta.dirname, '../../bin/ghosteam.mjs'),
        'operator',
        '--kubeconfig',
        peers.kubeconfig,
        '--namespace',
        ns,
        '--registry-dir',
        join(dir, 'registry'),
        '--audit-log',
        join(dir, 'audit.jsonl'),
        '--ui-port',
        '0',
        '--ui-token-env',
        'GT_UI_TOKEN',
      ],
      // No MLflow from the peers' environment: the local registry above.
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MLFLOW_TRACKING_URI: '', GT_UI_TOKEN: TOKEN } },
    );
    let out = '';
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const on = (c: Buffer) => {
          out += c;
          const m = /UI listening on (http:\/\/[^\s"]+)/.exec(out);
          if (m) resolve(m[1]);
        };
        child.stdout.on('data', on);
        child.stderr.on('data', on);
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      await admin.create(TYPES.Model, modelObject('fraud', { namespace: ns }));
      // With a UI credential, reads need one too: 401 without, the token reads.
      const anonymous = await fetch(`${url}/api/models`);
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer');
      assert.equal((await fetch(`${url}/`)).status, 401, 'the page is the sign-in page');
      // The informers' watch brings the new Model to the UI.
      let names: string[] = [];
      for (let i = 0; i < 60 && !names.includes('fraud'); i++) {
        names = (
          (await (await fetch(`${url}/api/models`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { models: { name: string }[] }
        ).models.map((m) => m.name);
        if (!names.includes('fraud')) await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(names, ['fraud']);
      const r = await fetch(`${url}/api/models/${ns}/fraud/rollout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: '{"action":"pause"}',
      });
      assert.equal(r.status, 202, await r.clone().text());
      assert.equal((await admin.get(TYPES.Model, ns, 'fraud'))?.metadata.annotations?.['ghosteam.io/rollout'], 'pause');
      const code = await new Promise<number | null>((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', resolve);
        child.kill('SIGTERM');
      });
      assert.equal(code, 0, out);
      const lines = readFileSync(join(dir, 'audit.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { who: string; via: string; what: string; target: string; outcome: string });
      assert.ok(
        lines.some((l) => l.who === 'static-token' && l.what === 'pause' && l.target === `${ns}/fraud` && l.outcome === 'success'),
        JSON.stringify(lines),
      );
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await admin.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ghosteam ui --kubeconfig (the real CLI)', { skip: peers.skip }, () => {
  test("reads a cluster's namespace over the user's kubeconfig; --kubeconfig with --state is refused", async () => {
    const admin = new KubeStore(loadKubeConfig(peers.kubeconfig));
    const ns = uniqueName('gt-ui-cli');
    const dir = mkdtempSync(join(tmpdir(), 'gt-ui-cli-'));
    await admin.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await admin.create(TYPES.Model, modelObject('churn', { namespace: ns }));
    const bin = join(import.meta.dirname, '../../bin/ghosteam.mjs');
    const child = spawn(process.execPath, [bin, 'ui', '--kubeconfig', peers.kubeconfig, '-n', ns, '--port', '0', '--registry-dir', join(dir, 'registry')], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MLFLOW_TRACKING_URI: '' },
    });
    let out = '';
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const on = (c: Buffer) => {
          out += c;
          const m = /ghosteam ui listening on (\S+) \(read-only; the cluster of /.exec(out);
          if (m) resolve(m[1]);
        };
        child.stdout.on('data', on);
        child.stderr.on('data', on);
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      const models = (await (await fetch(`${url}/api/models`)).json()) as { models: { namespace: string; name: string }[] };
      assert.deepEqual(
        models.models.map((m) => `${m.namespace}/${m.name}`),
        [`${ns}/churn`],
      );
    } finally {
      child.removeAllListeners('exit');
      child.kill('SIGTERM');
      await admin.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
    const both = spawnSync(process.execPath, [bin, 'ui', '--kubeconfig', peers.kubeconfig, '--state', '.'], { encoding: 'utf8' });
    assert.equal(both.status, 1);
    assert.match(both.stderr, /--kubeconfig reads a cluster; --state, --state-dir and --store-dir read local state: give one or the other/);
  });
});

/** Polls a URL until it answers `status` (10 s). */
async function eventuallyStatus(url: string, status: number): Promise<void> {
  let last = 0;
  for (let i = 0; i < 100; i++) {
    last = (await fetch(url)).status;
    if (last === status) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(last, status, url);
}

// The UI's cluster mode in a real browser: `ghosteam ui --kubeconfig` (the real CLI, as a
// ServiceAccount holding exactly UI_READ_RULES) over the peers' REAL kube-apiserver, opened in
// Debian's Chromium driven by Playwright. The test plays the operator and Argo by writing objects
// and status through the API server (no kubelet here: step logs from real pods are
// test/cluster/ui-logs.test.ts). Checked in the browser: the models page from the Model CRs, a
// canary step arriving live when the Model's status changes (Server-Sent Events from a watch
// event, no reload), the model page, a run's DAG from a Workflow, an action refused with 403 (the
// API server denies the UI's identity), and the 404 page of an unknown model — after signing in:
// a UI given a credential over a cluster authenticates reads too. A screenshot goes
// to GHOSTEAM_UI_SCREENSHOTS when set (docs/ui-cluster.png for the README).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { chromium, type Browser, type Page } from 'playwright-core';
import { uniqueName, usePeers } from '../peers/index.ts';
import { ensureChromium } from '../peers/install.ts';
import { KubeStore, loadKubeConfig } from '../../controllers/runtime/kube-store.ts';
import { TYPES } from '../../controllers/runtime/store.ts';
import { LocalRegistry } from '../../components/registry/local.ts';
import { UI_READ_RULES } from '../../charts/operator-install.ts';
import { modelObject } from '../controllers/fakes.ts';
import { workflow } from './workflow-fixture.ts';
import { ROLLOUT_ANNOTATION } from '../../controllers/reconcilers/model.ts';

const peers = await usePeers(['kube']);
const TOKEN = 'ui-browser-cluster-token-0123456789';

describe('ghosteam ui --kubeconfig in headless Chromium', { skip: peers.skip }, () => {
  const ns = uniqueName('gt-uib');
  let admin: KubeStore;
  let dir: string;
  let shots: string;
  let child: ChildProcess | undefined;
  let url: string;
  let browser: Browser;
  let page: Page;
  let out = '';

  const canary = (stepIndex: number, trafficPercent: number) => ({
    phase: 'Progressing',
    stableVersion: 1,
    canaryVersion: 2,
    stepIndex,
    trafficPercent,
    analysis: Array.from({ length: stepIndex + 1 }, (_, i) => ({
      step: i,
      version: 2,
      trafficPercent: [10, 50, 100][i],
      checkedAt: new Date(Date.UTC(2026, 11, 2, 6, 10 + i)).toISOString(),
      passed: true,
      requests: 200 * (i + 1),
      errorRate: 0.001,
      p99LatencyMs: 8.25,
    })),
    rollout: { phase: 'Progressing', reason: 'StepPassed', message: `canary v2 at ${trafficPercent}%` },
  });

  async function setStatus(status: Record<string, unknown>): Promise<void> {
    const cur = (await admin.get(TYPES.Model, ns, 'fraud'))!;
    await admin.replaceStatus(TYPES.Model, { ...cur, status });
  }

  before(async () => {
    admin = new KubeStore(loadKubeConfig(peers.kubeconfig));
    dir = mkdtempSync(join(tmpdir(), 'gt-uib-'));
    shots = process.env.GHOSTEAM_UI_SCREENSHOTS ?? join(dir, 'shots');
    mkdirSync(shots, { recursive: true });
    await admin.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    // The registry the UI reads versions from: two versions, v2 trained by the Argo run below.
    const registry = new LocalRegistry({ dir: join(dir, 'registry') });
    writeFileSync(join(dir, 'm.onnx'), 'model');
    for (const v of [1, 2])
      await registry.registerVersion('fraud', {
        artifactPath: join(dir, 'm.onnx'),
        format: 'onnx',
        metrics: { auc: 0.8 + v / 100 },
        params: {},
        lineage: { runId: v === 2 ? 'fraud-train-x7k2p' : 'fraud-train-older', pipeline: 'fraud-train', reason: v === 2 ? 'drift' : 'manual' },
      });
    await admin.create(TYPES.Model, modelObject('fraud', { namespace: ns }));
    await setStatus(canary(0, 10));
    await admin.create(TYPES.Workflow, workflow(ns));

    // The UI's identity: a ServiceAccount with exactly the read rules (no right to annotate a Model).
    await admin.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'ui' } });
    await admin.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'ui-read' },
      rules: UI_READ_RULES.map((r) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] })),
    });
    await admin.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'ui-read' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ui-read' },
      subjects: [{ kind: 'ServiceAccount', name: 'ui', namespace: ns }],
    });
    const tr = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${ns}/serviceaccounts/ui/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 900 },
    });
    const base = YAML.parse(readFileSync(peers.kubeconfig, 'utf8')) as { clusters: { cluster: Record<string, unknown> }[] };
    const kubeconfig = join(dir, 'ui.kubeconfig');
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

    const bin = join(import.meta.dirname, '../../bin/ghosteam.mjs');
    const c = spawn(
      process.execPath,
      [
        bin,
        'ui',
        '--kubeconfig',
        kubeconfig,
        '-n',
        ns,
        '--port',
        '0',
        '--registry-dir',
        join(dir, 'registry'),
        '--token-env',
        'UI_TOKEN',
        '--audit-log',
        join(dir, 'audit.jsonl'),
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MLFLOW_TRACKING_URI: '', UI_TOKEN: TOKEN } },
    );
    child = c;
    url = await new Promise<string>((resolve, reject) => {
      const on = (b: Buffer) => {
        out += b;
        const m = /ghosteam ui listening on (\S+) /.exec(out);
        if (m) resolve(m[1]);
      };
      c.stdout.on('data', on);
      c.stderr.on('data', on);
      c.once('exit', (code) => reject(new Error(`ghosteam ui exited ${code}: ${out}`)));
    });
    const executablePath = await ensureChromium((l) => process.stderr.write(`${l}\n`));
    browser = await chromium.launch({
      executablePath,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  });

  after(async () => {
    await browser?.close();
    if (child && child.exitCode === null) {
      child.removeAllListeners('exit');
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await admin?.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  test('the models page lists the Model CR; a status change on the API server arrives live, without a reload', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // Reads need a credential (a UI given one over a cluster): the sign-in page, then the cookie.
    const first = await page.goto(`${url}/`);
    assert.equal(first?.status(), 401);
    await page.locator('#login-token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${url}/`);
    const row = page.locator(`tr[data-model="${ns}/fraud"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /Progressing[\s\S]*v1[\s\S]*v2[\s\S]*10% on v2/);
    await page.locator('#live-state', { hasText: 'live' }).waitFor({ timeout: 10_000 });
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    await setStatus(canary(1, 50));
    await row.locator('.traffic', { hasText: '50% on v2' }).waitFor({ timeout: 10_000 });
    assert.deepEqual(navigations, [], 'updated in place from the watch event, not reloaded');
    assert.deepEqual(errors, []);
  });

  test("the model page: versions from the registry, the canary analysis; an action the UI's identity may not do is a 403", async () => {
    await page.goto(`${url}/models/${ns}/fraud`);
    assert.equal(await page.locator('table.analysis tbody tr').count(), 2);
    await page.getByRole('link', { name: 'v2', exact: true }).first().waitFor();
    await page.screenshot({ path: join(shots, 'ui-cluster.png'), fullPage: true });
    // No token: 401 from the UI. The right token: the UI asks the API server, which refuses its ServiceAccount.
    await page.getByRole('button', { name: 'pause' }).click();
    await page.locator('#action-result', { hasText: /^401: / }).waitFor({ timeout: 10_000 });
    await page.locator('#action-token').fill(TOKEN);
    await page.locator('#action-token').dispatchEvent('change');
    await page.getByRole('button', { name: 'pause' }).click();
    const result = page.locator('#action-result', { hasText: /^403: / });
    await result.waitFor({ timeout: 10_000 });
    assert.match(await result.innerText(), /forbidden|may not|cannot/i);
    const cur = (await admin.get(TYPES.Model, ns, 'fraud'))!;
    assert.equal(cur.metadata.annotations?.[ROLLOUT_ANNOTATION], undefined, 'the Model was not changed');
    const audit = readFileSync(join(dir, 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { what: string; outcome: string });
    assert.deepEqual(
      audit.map((a) => a.outcome),
      ['denied', 'failure'],
    );
  });

  test("a version links to the Argo run; the run page draws the Workflow's DAG", async () => {
    await page.goto(`${url}/models/${ns}/fraud/versions/2`);
    await page.getByRole('link', { name: 'fraud-train-x7k2p' }).click();
    await page.waitForURL(/\/runs\/fraud-train-x7k2p$/);
    const dag = page.locator('.dagbox svg');
    await dag.waitFor();
    const text = await dag.innerText().catch(async () => (await dag.textContent()) ?? '');
    assert.match(text, /prep/);
    assert.match(text, /train/);
    assert.equal((await page.locator('.dagbox svg path, .dagbox svg line').count()) >= 1, true, 'an edge prep → train');
    assert.match(await page.locator('tr[data-node="prep"]').innerText(), /Succeeded[\s\S]*cache hit/);
    assert.match(await page.locator('tr[data-node="prep"]').innerText(), /fraud-train-x7k2p-prep-1\/data\.tgz/);
    await page.screenshot({ path: join(shots, 'ui-cluster-run.png'), fullPage: true });
    // The step's log is its pod's, read through the API server: this API server has no kubelet and
    // no such pod, so the log page says the pod is gone (a 404, not a 500).
    const [logPage] = await Promise.all([page.waitForNavigation(), page.locator('tr[data-node="prep"]').getByRole('link', { name: 'log' }).click()]);
    assert.equal(logPage?.status(), 404);
    assert.match(await page.locator('body').innerText(), /gone with its pod fraud-train-x7k2p-prep-1|gone with its pod .*\/fraud-train-x7k2p-prep-1/);
  });

  test('an unknown model is the 404 page, naming it', async () => {
    const r = await page.goto(`${url}/models/${ns}/nope`);
    assert.equal(r?.status(), 404);
    assert.match(await page.locator('body').innerText(), /nope/);
  });
});

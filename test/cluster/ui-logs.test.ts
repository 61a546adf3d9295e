/**
 * The web UI in a cluster shows a step's log and output artifacts from real pods: the Argo
 * controller (v3.7.3) runs a Workflow on the test cluster's kubelet — a step that logs 1,500 lines
 * and writes an artifact into the S3 artifact repository, and a step that reads it — and a UI over
 * the API server, running as a ServiceAccount holding exactly UI_READ_RULES, serves each step's log
 * read through pods/log (the pod named as Argo names it, bounded to a tail: the same lines the
 * admin reads, the emissary executor's own `argo=true` lines included), lists the artifact
 * where the repository stored it (the object is there under that key), answers 403 (not 500) when
 * its identity lacks `get` on pods/log, and 404 once the pod is gone.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import YAML from 'yaml';
import { ARGO_NAMESPACE } from '../peers/cluster/config.ts';
import { ARTIFACT_BUCKET, WORKFLOW_SERVICE_ACCOUNT } from '../peers/cluster/argo.ts';
import { readClusterState } from '../peers/cluster/node.ts';
import { noTrafficLeavesTheMachine, RESTRICTED, useCluster, waitFor, workflowLogs, type WorkflowLike } from './harness.ts';
import { KubeStore, loadKubeConfig } from '../../controllers/runtime/kube-store.ts';
import { ghosteamCrdObjects, installCrds } from '../peers/crds.ts';
import { UI_READ_RULES } from '../../charts/operator-install.ts';
import { clusterSource } from '../../ui/cluster.ts';
import { LOG_TAIL, startUi, type UiServer } from '../../ui/server.ts';
import type { UiSource } from '../../ui/source.ts';
import type { RunDetail } from '../../ui/api.ts';

const cluster = await useCluster(['components']);
const name = `ui-logs-${process.pid}`;
const LINES = 1500;

/** The `main` container's whole log, read as the cluster admin. */
async function mainLog(pod: string): Promise<string> {
  // rawKube parses a body that is JSON: a log of one JSON line comes back as an object.
  const log = await cluster.kube.request<unknown>('GET', `/api/v1/namespaces/${ARGO_NAMESPACE}/pods/${pod}/log?container=main`);
  return typeof log === 'string' ? log : JSON.stringify(log);
}

type Rule = { readonly apiGroups: readonly string[]; readonly resources: readonly string[]; readonly verbs: readonly string[] };

describe("the UI's step logs and artifacts from real pods", { skip: cluster.skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gt-ui-logs-'));
  const opened: { ui: UiServer; source: UiSource }[] = [];
  const accounts: string[] = [];

  /** A UI over the API server as a fresh ServiceAccount holding exactly `rules` in the Argo namespace. */
  async function uiAs(account: string, rules: readonly Rule[]): Promise<UiServer> {
    const kube = cluster.kube;
    const ns = ARGO_NAMESPACE;
    accounts.push(account);
    await kube.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: account } });
    await kube.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: account },
      rules: rules.map((r) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] })),
    });
    await kube.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: account },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: account },
      subjects: [{ kind: 'ServiceAccount', name: account, namespace: ns }],
    });
    const tr = await kube.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${ns}/serviceaccounts/${account}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 900 },
    });
    const base = YAML.parse(readFileSync(cluster.kubeconfig, 'utf8')) as { clusters: { cluster: Record<string, unknown> }[] };
    const kubeconfig = join(dir, `${account}.kubeconfig`);
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
    const source = await clusterSource({ store: new KubeStore(loadKubeConfig(kubeconfig)), namespace: ns });
    const ui = await startUi({ source });
    opened.push({ ui, source });
    return ui;
  }

  after(async () => {
    for (const o of opened) {
      await o.ui.close();
      await o.source.close();
    }
    const kube = cluster.kube;
    await kube?.request('DELETE', `/apis/argoproj.io/v1alpha1/namespaces/${ARGO_NAMESPACE}/workflows/${name}`).catch(() => {});
    for (const a of accounts) {
      await kube?.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ARGO_NAMESPACE}/rolebindings/${a}`).catch(() => {});
      await kube?.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ARGO_NAMESPACE}/roles/${a}`).catch(() => {});
      await kube?.request('DELETE', `/api/v1/namespaces/${ARGO_NAMESPACE}/serviceaccounts/${a}`).catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  });

  let wf: WorkflowLike;
  before(async () => {
    // The UI lists the ghosteam kinds too: their CRDs, as `ghosteam install` puts them.
    await installCrds(cluster.kubeconfig, await ghosteamCrdObjects(), 120_000);
    const image = cluster.image('components');
    const container = (script: string) => ({
      image,
      imagePullPolicy: 'Never',
      command: ['node', '-e', script],
      securityContext: RESTRICTED,
      volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
    });
    await cluster.kube.apply({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Workflow',
      metadata: { name, namespace: ARGO_NAMESPACE },
      spec: {
        entrypoint: 'main',
        serviceAccountName: WORKFLOW_SERVICE_ACCOUNT,
        securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
        volumes: [{ name: 'tmp', emptyDir: {} }],
        templates: [
          {
            name: 'main',
            dag: {
              tasks: [
                { name: 'produce', template: 'produce' },
                {
                  name: 'consume',
                  template: 'consume',
                  dependencies: ['produce'],
                  arguments: { artifacts: [{ name: 'data', from: '{{tasks.produce.outputs.artifacts.data}}' }] },
                },
              ],
            },
          },
          {
            name: 'produce',
            container: container(
              `const fs=require('fs');fs.writeFileSync('/tmp/data.csv','a,b\\n1,2\\n3,4\\n');for(let i=0;i<${LINES};i++)console.log('produce line '+i);`,
            ),
            outputs: { artifacts: [{ name: 'data', path: '/tmp/data.csv' }] },
          },
          {
            name: 'consume',
            inputs: { artifacts: [{ name: 'data', path: '/tmp/in/data.csv' }] },
            container: container("const t=require('fs').readFileSync('/tmp/in/data.csv','utf8');console.log('consumed rows',t.trim().split('\\n').length-1)"),
          },
        ],
      },
    });
    wf = await waitFor(
      `Workflow ${name} to finish`,
      async () => {
        const w = await cluster.kube.request<WorkflowLike>('GET', `/apis/argoproj.io/v1alpha1/namespaces/${ARGO_NAMESPACE}/workflows/${name}`);
        return ['Succeeded', 'Failed', 'Error'].includes(w.status?.phase ?? '') ? w : undefined;
      },
      420_000,
    );
    assert.equal(wf.status?.phase, 'Succeeded', `${wf.status?.message ?? ''}\n${await workflowLogs(cluster.kube, ARGO_NAMESPACE, name)}`);
  });

  test('as exactly UI_READ_RULES: each step’s log from its pod, bounded to a tail, and the artifact where the repository stored it', async () => {
    const ui = await uiAs(`ui-read-${process.pid}`, UI_READ_RULES);
    const run = await waitFor(`run ${name} in the UI`, async () => {
      const r = await fetch(`${ui.url}/api/runs/${name}`);
      return r.status === 200 ? ((await r.json()) as RunDetail) : undefined;
    });
    const produce = run.nodes.find((n) => n.id === 'produce')!;
    assert.equal(produce.hasLog, true);
    // The artifact: where Argo's S3 repository put it, and the object is there (s3proxy keeps it as a file).
    assert.equal(produce.artifacts?.length, 1, JSON.stringify(produce));
    const art = produce.artifacts[0];
    assert.equal(art.name, 'data');
    assert.equal(art.store, 's3');
    assert.match(art.location, new RegExp(`^${name}/.+/data\\.tgz$`));
    const store = readClusterState()!.objectStore!;
    assert.ok(existsSync(join(store.dir, ARTIFACT_BUCKET, art.location)), `the object ${art.location} is in bucket ${ARTIFACT_BUCKET}`);
    const page = await (await fetch(`${ui.url}/runs/${name}`)).text();
    assert.ok(page.includes(art.location), 'the run page lists the artifact');
    assert.ok(page.includes(`/runs/${name}/logs/produce`), 'the run page links the log');

    // The default tail: the last LOG_TAIL lines of the pod's log exactly as the admin reads it
    // (the step's 1,500 lines, then the emissary executor's own `argo=true` lines), with a note.
    const podName = `${name}-produce-${Object.entries(wf.status!.nodes!)
      .find(([, n]) => n.displayName === 'produce')![0]
      .slice(name.length + 1)}`;
    const full = (await mainLog(podName)).trimEnd().split('\n');
    assert.ok(full.length > LOG_TAIL, `the pod's log has ${full.length} lines`);
    const r = await fetch(`${ui.url}/runs/${name}/logs/produce`);
    assert.equal(r.status, 200);
    const lines = (await r.text()).trimEnd().split('\n');
    assert.match(lines[0], new RegExp(`the last ${LOG_TAIL} lines`));
    const got = lines.slice(1);
    const brief = (l: string[]) => `${l.length} lines: ${JSON.stringify(l.slice(0, 2))} … ${JSON.stringify(l.slice(-2))}`;
    assert.ok(JSON.stringify(got) === JSON.stringify(full.slice(-LOG_TAIL)), `got ${brief(got)}; the pod's last ${LOG_TAIL}: ${brief(full.slice(-LOG_TAIL))}`);
    // The step's own lines in that tail are its last ones, in order.
    const own = got.filter((l) => l.startsWith('produce line '));
    assert.equal(own.at(-1), `produce line ${LINES - 1}`);
    assert.deepEqual(
      own,
      Array.from({ length: own.length }, (_, i) => `produce line ${LINES - own.length + i}`),
    );
    // ?tail=N: exactly the pod's last N lines.
    const five = (await (await fetch(`${ui.url}/runs/${name}/logs/produce?tail=5`)).text()).trimEnd().split('\n');
    assert.deepEqual(five.slice(1), full.slice(-5));
    assert.equal((await fetch(`${ui.url}/runs/${name}/logs/produce?tail=0`)).status, 400);
    // A short log is whole, with no note.
    const consume = await (await fetch(`${ui.url}/runs/${name}/logs/consume`)).text();
    assert.match(consume, /^consumed rows 2$/m);
    assert.doesNotMatch(consume, /^… /);
  });

  test('without get on pods/log the log is a 403 naming the rule; a deleted pod’s log is a 404', async () => {
    const noLogs = UI_READ_RULES.filter((r) => !(r.resources as readonly string[]).includes('pods/log'));
    const ui = await uiAs(`ui-nolog-${process.pid}`, noLogs);
    await waitFor(`run ${name} in the UI`, async () => (await fetch(`${ui.url}/api/runs/${name}`)).status === 200);
    const denied = await fetch(`${ui.url}/runs/${name}/logs/produce`);
    assert.equal(denied.status, 403);
    assert.match(await denied.text(), /pods\/log/);
    // The reader UI again, after the pod is gone.
    const reader = opened[0].ui;
    const pods = await cluster.kube.request<{ items: { metadata: { name: string } }[] }>(
      'GET',
      `/api/v1/namespaces/${ARGO_NAMESPACE}/pods?labelSelector=workflows.argoproj.io/workflow=${name}`,
    );
    const consumePod = pods.items.map((p) => p.metadata.name).find((p) => p.startsWith(`${name}-consume-`))!;
    assert.ok(consumePod, pods.items.map((p) => p.metadata.name).join(', '));
    await cluster.kube.request('DELETE', `/api/v1/namespaces/${ARGO_NAMESPACE}/pods/${consumePod}?gracePeriodSeconds=0`);
    const gone = await waitFor(`the log of ${consumePod} to be gone`, async () => {
      const r = await fetch(`${reader.url}/runs/${name}/logs/consume`);
      return r.status === 404 ? r : undefined;
    });
    assert.match(await gone.text(), /gone with its pod/);
  });

  noTrafficLeavesTheMachine();
});

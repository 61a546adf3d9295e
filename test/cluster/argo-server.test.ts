/**
 * The typed Argo Server client and `ghosteam runs list|show --cluster` against the real Argo Server
 * (`argo server` from the argo CLI, built from the Argo Workflows v3.7.3 module) in front of the
 * test cluster, where the real controller runs the submitted Workflow on real pods: submit from a
 * WorkflowTemplate, read the run, follow its step's log, and the CLI's table and log output. The
 * server runs with `--auth-mode client`: every call carries a ServiceAccount token (TokenRequest)
 * and has exactly that account's RBAC. Cluster suite only: a cold build of the argo CLI takes
 * longer than CI's budget (docs/cluster.md).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ArgoServerClient, ArgoServerError } from '../../pipelines/argo-server/client.ts';
import { ARGO_NAMESPACE } from '../peers/cluster/config.ts';
import { ensureArgo, WORKFLOW_SERVICE_ACCOUNT } from '../peers/cluster/argo.ts';
import { argoServerLogTail, serviceAccountToken, startArgoServer, type ArgoServerPeer } from '../peers/argo-server.ts';
import type { KubeObject } from '../peers/index.ts';
import { noTrafficLeavesTheMachine, RESTRICTED, useCluster, waitFor } from './harness.ts';

const cluster = await useCluster(['components']);
const ns = ARGO_NAMESPACE;
const id = process.pid;
const templateName = `hello-${id}`;
const runName = `hello-${id}-a1`;

describe('the Argo Server client and `ghosteam runs --cluster` against the real argo server', { skip: cluster.skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ghosteam-argo-server-'));
  let server: ArgoServerPeer;
  let token = '';
  let weakToken = '';
  const cli = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, ['bin/ghosteam.mjs', ...args], {
      cwd: join(import.meta.dirname, '../..'),
      encoding: 'utf8',
      env: { ...process.env, ARGO_SERVER: '', ARGO_TOKEN: '', ARGO_TOKEN_FILE: '', ...env },
    });

  before(async () => {
    const { argo } = await ensureArgo(['argo'], (l) => process.stderr.write(`[argo] ${l}\n`));
    // runner: what `ghosteam runs` and a submitting user need; nobody: a token without RBAC.
    const objs: KubeObject[] = [
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: `runner-${id}`, namespace: ns } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: `nobody-${id}`, namespace: ns } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: `runner-${id}`, namespace: ns },
        rules: [
          { apiGroups: ['argoproj.io'], resources: ['workflows'], verbs: ['get', 'list', 'watch', 'create'] },
          { apiGroups: ['argoproj.io'], resources: ['workflowtemplates'], verbs: ['get', 'list'] },
          { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: `runner-${id}`, namespace: ns },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `runner-${id}` },
        subjects: [{ kind: 'ServiceAccount', name: `runner-${id}`, namespace: ns }],
      },
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'WorkflowTemplate',
        metadata: { name: templateName, namespace: ns, labels: { 'ghosteam.io/pipeline': templateName } },
        spec: {
          entrypoint: 'main',
          serviceAccountName: WORKFLOW_SERVICE_ACCOUNT,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          arguments: { parameters: [{ name: 'who', value: 'nobody' }] },
          templates: [
            {
              name: 'main',
              inputs: { parameters: [{ name: 'who' }] },
              container: {
                image: cluster.image('components'),
                command: ['node', '-e', 'console.log(`hello ${process.argv[1]} from a pod`)', '{{inputs.parameters.who}}'],
                securityContext: RESTRICTED,
              },
            },
          ],
        },
      },
    ];
    for (const o of objs) await cluster.kube.apply(o);
    token = await serviceAccountToken(cluster.kube, ns, `runner-${id}`);
    weakToken = await serviceAccountToken(cluster.kube, ns, `nobody-${id}`);
    server = await startArgoServer({ argo, kubeconfig: cluster.kubeconfig, namespace: ns });
  });
  after(async () => {
    await server?.stop();
    for (const path of [
      `/apis/argoproj.io/v1alpha1/namespaces/${ns}/workflows/${runName}`,
      `/apis/argoproj.io/v1alpha1/namespaces/${ns}/workflowtemplates/${templateName}`,
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/runner-${id}`,
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles/runner-${id}`,
      `/api/v1/namespaces/${ns}/serviceaccounts/runner-${id}`,
      `/api/v1/namespaces/${ns}/serviceaccounts/nobody-${id}`,
    ])
      await cluster.kube?.request('DELETE', path).catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  });

  test('reads the server version: v3.7.x, the module it was built from', async () => {
    const v = await new ArgoServerClient({ url: server.url, token }).version();
    assert.match(v.version, /^v3\.7\.\d+/, argoServerLogTail(server));
  });

  test('submits from the WorkflowTemplate; the controller runs it on a pod; the client follows its log', async () => {
    const c = new ArgoServerClient({ url: server.url, token });
    const wf = await c.submitFromTemplate({
      namespace: ns,
      template: templateName,
      parameters: { who: 'ghosteam' },
      labels: { 'ghosteam.io/reason': 'manual' },
      name: runName,
    });
    assert.equal(wf.metadata.name, runName);
    assert.equal(wf.spec.workflowTemplateRef?.name, templateName);
    const done = await waitFor(
      `Workflow ${runName} to finish`,
      async () => {
        const w = await c.getWorkflow(ns, runName);
        return ['Succeeded', 'Failed', 'Error'].includes(w.status?.phase ?? '') ? w : undefined;
      },
      300_000,
    );
    assert.equal(done.status?.phase, 'Succeeded', JSON.stringify(done.status?.nodes));
    const lines: string[] = [];
    for await (const l of c.logs(ns, runName)) lines.push(l.content ?? '');
    assert.ok(
      lines.some((l) => l.includes('hello ghosteam from a pod')),
      `log lines: ${JSON.stringify(lines)}`,
    );
    const list = await c.listWorkflows(ns, { labelSelector: `workflows.argoproj.io/workflow-template=${templateName}` });
    assert.deepEqual(
      list.map((w) => w.metadata.name),
      [runName],
    );
    assert.deepEqual(await c.listArchivedWorkflows({ namespace: ns }), [], 'no archive database is configured here');
  });

  test('says what is wrong: no token, a token without RBAC, an unknown workflow', async () => {
    await assert.rejects(new ArgoServerClient({ url: server.url }).listWorkflows(ns), (e: unknown) => {
      assert.ok(e instanceof ArgoServerError && e.code === 'unauthenticated', String(e));
      assert.match(e.message, /HTTP 401.*the server needs a bearer token; set ARGO_TOKEN or pass --argo-token-file/);
      return true;
    });
    await assert.rejects(new ArgoServerClient({ url: server.url, token: 'not-a-token' }).listWorkflows(ns), /HTTP 401.*the server refused the token/);
    await assert.rejects(new ArgoServerClient({ url: server.url, token: weakToken }).listWorkflows(ns), (e: unknown) => {
      assert.ok(e instanceof ArgoServerError && e.code === 'forbidden', String(e));
      assert.match(e.message, /HTTP 403.*lacks the RBAC/);
      return true;
    });
    await assert.rejects(
      new ArgoServerClient({ url: server.url, token }).getWorkflow(ns, 'nope'),
      (e: unknown) => e instanceof ArgoServerError && e.code === 'not-found',
    );
  });

  test('`ghosteam runs list|show --cluster` shows the run beside local ones, with its log', () => {
    const tokenFile = join(tmp, 'token');
    writeFileSync(tokenFile, token + '\n', { mode: 0o600 });
    const flags = ['--cluster', '--argo-server', server.url, '--argo-token-file', tokenFile, '--argo-namespace', ns, '--store-dir', join(tmp, 'store')];
    const l = cli(['runs', 'list', ...flags]);
    assert.equal(l.status, 0, l.stderr);
    assert.match(l.stdout, /^RUN +PIPELINE +STATUS +STARTED +DURATION +COMMIT +TASKS +WHERE$/m);
    assert.match(l.stdout, new RegExp(`^${runName} +${templateName} +Succeeded .* 1/1 succeeded +argo:${ns}$`, 'm'), l.stdout);
    const s = cli(['runs', 'show', runName, '--logs', ...flags]);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, new RegExp(`${runName} +pipeline ${templateName} \\(Argo Workflow in ${ns}\\)`), s.stdout);
    assert.match(s.stdout, /^params +.*who="ghosteam"/m, s.stdout);
    assert.match(s.stdout, /hello ghosteam from a pod/, s.stdout);
    // ARGO_SERVER + ARGO_TOKEN from the environment, as the argo CLI reads them.
    const e = cli(['runs', 'show', runName, '--cluster', '--argo-namespace', ns], {
      ARGO_SERVER: server.url.replace('http://', ''),
      ARGO_SECURE: 'false',
      ARGO_TOKEN: `Bearer ${token}`,
    });
    assert.equal(e.status, 0, e.stderr);
    const missing = cli(['runs', 'show', 'nope', ...flags]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, new RegExp(`no Argo Workflow 'nope' in namespace ${ns} \\(live or archived\\)`));
    const noToken = cli(['runs', 'list', '--cluster', '--argo-server', server.url, '--argo-namespace', ns]);
    assert.equal(noToken.status, 1);
    assert.match(noToken.stderr, /needs a bearer token; set ARGO_TOKEN or pass --argo-token-file/);
    assert.equal(noToken.stdout, '', 'nothing is printed before the error');
  });

  noTrafficLeavesTheMachine();
});

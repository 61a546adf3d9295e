/**
 * KubeStore authenticates with a bearer token, as the operator does in a pod (in-cluster config is
 * a ServiceAccount token) or with a token kubeconfig. Against the REAL kube-apiserver from the
 * peers harness: a ServiceAccount gets a token from the TokenRequest API and a Role that lets it read
 * Leases in one namespace (the operator's leader election); KubeStore with that token reads one there and is refused, as that
 * ServiceAccount (not as system:anonymous), in another. The store used to drop the token: the
 * client returns its headers as a fetch Headers object, and spreading one copies nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { uniqueName, usePeers } from '../peers/index.ts';
import { KubeStore, loadKubeConfig, plainHeaders } from '../../controllers/runtime/kube-store.ts';
import { ApiError, TYPES } from '../../controllers/runtime/store.ts';

const peers = await usePeers(['kube']);

describe('plainHeaders', () => {
  test('reads a Headers object, entries and records alike', () => {
    const h = new Headers();
    h.set('Authorization', 'Bearer t');
    assert.deepEqual(plainHeaders(h), { authorization: 'Bearer t' });
    assert.deepEqual(plainHeaders([['X-A', '1']]), { 'x-a': '1' });
    assert.deepEqual(plainHeaders({ 'X-B': ['1', '2'] }), { 'x-b': '1, 2' });
    assert.deepEqual(plainHeaders(undefined), {});
  });
});

describe('KubeStore with a ServiceAccount token', { skip: peers.skip }, () => {
  let admin: KubeStore;
  let dir: string;
  const ns = uniqueName('gt-sa');
  const other = uniqueName('gt-sa-other');

  before(async () => {
    admin = new KubeStore(loadKubeConfig(peers.kubeconfig));
    dir = mkdtempSync(join(tmpdir(), 'gt-sa-'));
    for (const n of [ns, other]) await admin.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } });
    for (const n of [ns, other])
      await admin.request('POST', `/apis/coordination.k8s.io/v1/namespaces/${n}/leases`, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'lease' },
        spec: { holderIdentity: n },
      });
    await admin.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader' } });
    await admin.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'read-leases' },
      rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list'] }],
    });
    await admin.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'read-leases' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-leases' },
      subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
    });
  });
  after(async () => {
    for (const n of [ns, other]) await admin.request('DELETE', `/api/v1/namespaces/${n}`).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  test('reads what its Role allows and is refused as itself elsewhere', async () => {
    const tr = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${ns}/serviceaccounts/reader/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 600 },
    });
    // The admin kubeconfig's cluster (server, CA), with the token as the only credential.
    const base = YAML.parse(readFileSync(peers.kubeconfig, 'utf8')) as { clusters: { name: string; cluster: Record<string, unknown> }[] };
    const kubeconfig = join(dir, 'token-kubeconfig');
    writeFileSync(
      kubeconfig,
      YAML.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [base.clusters[0]],
        users: [{ name: 'reader', user: { token: tr.status.token } }],
        contexts: [{ name: 'reader', context: { cluster: base.clusters[0].name, user: 'reader' } }],
        'current-context': 'reader',
      }),
    );
    const store = new KubeStore(loadKubeConfig(kubeconfig));
    const lease = await store.get(TYPES.Lease, ns, 'lease');
    assert.equal((lease as { spec?: { holderIdentity?: string } } | undefined)?.spec?.holderIdentity, ns);
    await assert.rejects(
      () => store.get(TYPES.Lease, other, 'lease'),
      (e: unknown) =>
        e instanceof ApiError && e.code === 403 && e.message.includes(`system:serviceaccount:${ns}:reader`) && !e.message.includes('system:anonymous'),
    );
  });
});

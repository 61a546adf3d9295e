/**
 * `ghosteam install --ui`: the UI port on the operator's pods and its Service, the token by Secret
 * reference, auth on by default (actions need a credential and the audit log), the NetworkPolicy,
 * no RBAC beyond what the UI reads and its actions write (the operator's rules already hold them),
 * the restricted pod unchanged; the CLI's output accepted by the REAL API server (server-side
 * dry-run). `ghosteam operator --ui-*` flags checked the same way.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseAllDocuments } from 'yaml';
import {
  missingRules,
  OPERATOR_RULES,
  operatorInstallManifests,
  UI_ACCESS_LABEL,
  UI_ACTION_RULES,
  UI_PORT,
  UI_READ_RULES,
} from '../../charts/operator-install.ts';
import { writeOperatorChart } from '../../charts/operator-helm.ts';
import { installUi } from '../../cli/commands/install.ts';
import { uiFlags } from '../../cli/commands/operator.ts';
import type { K8sObject } from '../../api/objects.ts';
import { uniqueName, usePeers } from '../peers/index.ts';
import { rawKube } from '../peers/raw.ts';

const peers = await usePeers(['kube']);

type Any = any;
const byKind = (objs: K8sObject[], kind: string, name?: string) => objs.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name)) as Any;

describe('install --ui manifests', () => {
  const plain = operatorInstallManifests({ namespace: 'gs', crds: false, audit: {} });
  const withUi = operatorInstallManifests({ namespace: 'gs', crds: false, audit: {}, ui: { tokenSecret: { name: 'ui-token' } } });

  test('the UI port on the pod and the Service, the token from a Secret, the operator started with --ui-port', () => {
    const c = byKind(withUi, 'Deployment').spec.template.spec.containers[0];
    const at = (flag: string) => c.args[c.args.indexOf(flag) + 1];
    assert.equal(at('--ui-port'), String(UI_PORT));
    assert.equal(at('--ui-host'), '0.0.0.0');
    assert.equal(at('--ui-token-env'), 'GHOSTEAM_UI_TOKEN');
    assert.deepEqual(
      c.env.find((e: Any) => e.name === 'GHOSTEAM_UI_TOKEN'),
      { name: 'GHOSTEAM_UI_TOKEN', valueFrom: { secretKeyRef: { name: 'ui-token', key: 'token' } } },
    );
    assert.deepEqual(
      c.ports.find((p: Any) => p.name === 'http-ui'),
      { name: 'http-ui', containerPort: UI_PORT, protocol: 'TCP' },
    );
    assert.deepEqual(
      byKind(withUi, 'Service').spec.ports.map((p: Any) => [p.name, p.targetPort]),
      [
        ['http-metrics', 'http-metrics'],
        ['http-ui', 'http-ui'],
      ],
    );
    const np = byKind(withUi, 'NetworkPolicy', 'ghosteam-operator');
    assert.deepEqual(np.spec.ingress.find((r: Any) => r.ports[0].port === 'http-ui').from, [
      { namespaceSelector: { matchLabels: { [UI_ACCESS_LABEL]: 'true' } } },
    ]);
    // Without --ui: none of it.
    const pc = byKind(plain, 'Deployment').spec.template.spec.containers[0];
    assert.ok(!pc.args.includes('--ui-port'));
    assert.ok(!pc.ports.some((p: Any) => p.name === 'http-ui'));
    assert.equal(byKind(plain, 'Service').spec.ports.length, 1);
  });

  test("the restricted pod is unchanged and the RBAC gains exactly what the UI needs beyond the controllers' rules: get on pods/log", () => {
    const pod = (objs: K8sObject[]) => byKind(objs, 'Deployment').spec.template.spec;
    assert.deepEqual(pod(withUi).securityContext, pod(plain).securityContext);
    assert.deepEqual(pod(withUi).containers[0].securityContext, pod(plain).containers[0].securityContext);
    assert.deepEqual(pod(withUi).volumes, pod(plain).volumes);
    const podLog = { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] };
    // The controllers' roles are unchanged; the UI's one extra rule is a ClusterRole of its own, bound to the operator.
    assert.deepEqual(byKind(withUi, 'ClusterRole', 'ghosteam-operator').rules, byKind(plain, 'ClusterRole', 'ghosteam-operator').rules);
    assert.deepEqual(missingRules([...UI_READ_RULES, ...UI_ACTION_RULES], OPERATOR_RULES), [podLog]);
    assert.deepEqual(byKind(withUi, 'ClusterRole', 'ghosteam-operator-ui').rules, [podLog]);
    assert.deepEqual(byKind(withUi, 'ClusterRoleBinding', 'ghosteam-operator-ui').subjects, [
      { kind: 'ServiceAccount', name: 'ghosteam-operator', namespace: 'gs' },
    ]);
    assert.equal(byKind(plain, 'ClusterRole', 'ghosteam-operator-ui'), undefined);
    // The read rules are reads only (pod logs by name: no list or watch of pods); the actions write exactly one verb on one resource each.
    for (const r of UI_READ_RULES) assert.deepEqual([...r.verbs], (r.resources as readonly string[]).includes('pods/log') ? ['get'] : ['get', 'list', 'watch']);
    assert.deepEqual(
      UI_ACTION_RULES.flatMap((r) => r.resources.map((x) => `${x}:${r.verbs.filter((v) => v !== 'get').join(',')}`)),
      ['models:update', 'trainingruns:create', 'workflowtemplates:'],
    );
    // missingRules itself: per group, resource and verb.
    assert.deepEqual(
      missingRules(
        [{ apiGroups: ['a', 'b'], resources: ['x'], verbs: ['get', 'update'] }],
        [
          { apiGroups: ['a'], resources: ['x', 'y'], verbs: ['get', 'update'] },
          { apiGroups: ['b'], resources: ['x'], verbs: ['get'] },
        ],
      ),
      [{ apiGroups: ['b'], resources: ['x'], verbs: ['update'] }],
    );
  });

  test('OIDC by issuer and audience; read-only needs a viewer token and no audit log', () => {
    const oidc = operatorInstallManifests({
      crds: false,
      audit: {},
      ui: { oidc: { issuer: 'https://id.example.com/realms/ml', audience: 'ghosteam-ui', grants: ['admin=groups:ml-admins'] } },
    });
    const args: string[] = byKind(oidc, 'Deployment').spec.template.spec.containers[0].args;
    assert.deepEqual(args.slice(args.indexOf('--ui-auth-issuer')), [
      '--ui-auth-issuer',
      'https://id.example.com/realms/ml',
      '--ui-auth-audience',
      'ghosteam-ui',
      '--ui-auth-grant',
      'admin=groups:ml-admins',
    ]);
    const ro = operatorInstallManifests({ crds: false, ui: { readOnly: true, port: 9000, viewerTokenSecret: { name: 'ui-viewer' } } });
    const c = byKind(ro, 'Deployment').spec.template.spec.containers[0];
    assert.equal(c.args[c.args.indexOf('--ui-port') + 1], '9000');
    assert.ok(!c.args.includes('--ui-token-env') && !c.args.includes('--ui-auth-issuer'));
    // The viewer token from its Secret, as an env var (never read through the API).
    assert.deepEqual(c.args.slice(c.args.indexOf('--ui-viewer-token-env'), c.args.indexOf('--ui-viewer-token-env') + 2), [
      '--ui-viewer-token-env',
      'GHOSTEAM_UI_VIEWER_TOKEN',
    ]);
    assert.deepEqual(c.env.find((e: Any) => e.name === 'GHOSTEAM_UI_VIEWER_TOKEN').valueFrom, { secretKeyRef: { name: 'ui-viewer', key: 'token' } });
  });

  test('auth is on by default: bad UI settings name the field or flag and the fix', async () => {
    const none0 = { uiAuthGrant: [] as string[] };
    assert.throws(
      () => operatorInstallManifests({ audit: {}, ui: {} }),
      /actions need credentials \(auth is on by default\).*--ui-token-secret.*--ui-read-only/,
    );
    assert.throws(() => operatorInstallManifests({ ui: { tokenSecret: { name: 't' } } }), /actions are audited: add audit \(--audit-log/);
    assert.throws(() => operatorInstallManifests({ ui: { readOnly: true, tokenSecret: { name: 't' } } }), /ui\.readOnly serves no actions/);
    assert.throws(() => operatorInstallManifests({ audit: {}, ui: { tokenSecret: { name: 'Bad_Name' } } }), /ui\.tokenSecret 'Bad_Name'/);
    assert.throws(() => operatorInstallManifests({ audit: {}, ui: { oidc: { issuer: 'http://id', audience: 'a' } } }), /must be an https:\/\/ URL/);
    assert.throws(
      () => operatorInstallManifests({ audit: {}, ui: { oidc: { issuer: 'https://id', audience: 'a', grants: ['infer=x:y'] } } }),
      /admin=CLAIM:VALUE/,
    );
    assert.throws(() => operatorInstallManifests({ ui: { readOnly: true, port: 8081 } }), /taken by the operator's metrics port/);
    // Reads need a credential too: read-only needs the viewer token's Secret.
    assert.throws(
      () => operatorInstallManifests({ ui: { readOnly: true } }),
      /the UI's reads need a credential \(secure by default\): give ui\.viewerTokenSecret/,
    );
    assert.throws(() => operatorInstallManifests({ ui: { readOnly: true, viewerTokenSecret: { name: 'Bad_Name' } } }), /ui\.viewerTokenSecret 'Bad_Name'/);
    assert.deepEqual(installUi({ ...none0, ui: true, uiReadOnly: true, uiViewerTokenSecret: 'v' }), { viewerTokenSecret: { name: 'v' }, readOnly: true });
    const none = { uiAuthGrant: [] as string[] };
    assert.throws(() => installUi({ ...none, uiTokenSecret: 'x' }), /--ui-token-secret needs --ui/);
    assert.throws(() => installUi({ ...none, ui: true, uiAuthIssuer: 'https://id' }), /--ui-auth-issuer needs --ui-auth-audience/);
    assert.deepEqual(installUi({ ...none, ui: true, uiTokenSecret: 'x' }), { tokenSecret: { name: 'x' } });
    assert.equal(installUi(none), undefined);
    await assert.rejects(
      writeOperatorChart(join(tmpdir(), uniqueName('helm-ui')), { ui: { tokenSecret: { name: 't' } } }),
      /--helm with --ui: the chart serves the UI read-only.*--ui-read-only/,
    );
  });
});

describe('ghosteam operator --ui-* flags', () => {
  test('the token from the environment only; errors name the flag', () => {
    const none = { uiAuthGrant: [] as string[] };
    assert.equal(uiFlags(none), undefined);
    assert.throws(() => uiFlags({ ...none, uiTokenEnv: 'T' }), /--ui-token-env needs --ui-port/);
    assert.deepEqual(uiFlags({ ...none, uiPort: '8070' }), { port: 8070 });
    assert.throws(() => uiFlags({ ...none, uiPort: '8070', uiTokenEnv: 'T' }, {}), /--ui-token-env T: the environment variable is not set/);
    assert.throws(() => uiFlags({ ...none, uiPort: '8070', uiTokenEnv: 'T' }, { T: 'short' }), /shorter than 8 characters/);
    // A credential makes reads need one too: whoever may act reads; a viewer token only reads.
    assert.deepEqual(uiFlags({ ...none, uiPort: '8070', uiTokenEnv: 'T' }, { T: '0123456789abcdef' }), {
      port: 8070,
      actions: { token: '0123456789abcdef' },
      readers: [{ token: '0123456789abcdef' }],
    });
    assert.deepEqual(uiFlags({ ...none, uiPort: '8070', uiViewerTokenEnv: 'V' }, { V: 'viewer-0123456789' }), {
      port: 8070,
      readers: [{ token: 'viewer-0123456789' }],
    });
    assert.throws(() => uiFlags({ ...none, uiViewerTokenEnv: 'V' }), /--ui-viewer-token-env needs --ui-port/);
    assert.throws(
      () => uiFlags({ ...none, uiPort: '8070', uiAuthIssuer: 'https://id.example.com' }),
      /--ui-auth-issuer https:\/\/id.example.com needs --ui-auth-audience/,
    );
    const jwt = uiFlags({ uiPort: '0', uiAuthIssuer: 'https://id.example.com', uiAuthAudience: 'ui', uiAuthGrant: ['admin=groups:ml'] });
    assert.equal(jwt?.actions?.jwt?.issuer, 'https://id.example.com');
    assert.deepEqual(jwt?.actions?.grants, [{ permission: 'admin', claim: 'groups', value: 'ml' }]);
  });
});

describe('install --ui output against the API server', { skip: peers.skip }, () => {
  test('every object of `ghosteam install --dry-run --ui` is accepted (server-side dry-run)', async () => {
    const ns = uniqueName('gt-ui-inst');
    const r = spawnSync(
      process.execPath,
      ['bin/ghosteam.mjs', 'install', '--dry-run', '--no-crds', '-n', ns, '--ui', '--ui-token-secret', 'ui-token', '--audit-log'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const objs = parseAllDocuments(r.stdout).map((d) => d.toJS() as K8sObject);
    const refused = spawnSync(process.execPath, ['bin/ghosteam.mjs', 'install', '--dry-run', '--ui'], { encoding: 'utf8' });
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /auth is on by default/);
    const kube = rawKube(peers.kubeconfig);
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, { fieldManager: 'ghosteam-test' });
    try {
      let deployment: Any;
      for (const o of objs) {
        if (o.kind === 'Namespace') continue; // created above (a dry-run of it would not make the others' namespace)
        // Cluster-scoped RBAC objects carry fixed names: a dry-run neither creates nor collides with them.
        const applied = await kube.apply<Any>(o as never, { dryRun: true, fieldManager: 'ghosteam-dry-run' });
        if (o.kind === 'Deployment') deployment = applied;
      }
      const c = deployment.spec.template.spec.containers[0];
      assert.ok(c.args.includes('--ui-port'));
      assert.equal(c.env.find((e: Any) => e.name === 'GHOSTEAM_UI_TOKEN').valueFrom.secretKeyRef.name, 'ui-token');
      assert.equal(deployment.spec.template.spec.securityContext.runAsNonRoot, true);
    } finally {
      await kube.request('DELETE', `/api/v1/namespaces/${ns}`);
    }
  });
});

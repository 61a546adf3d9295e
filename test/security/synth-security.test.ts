// What synth adds for security (#23): a NetworkPolicy with each Model (checked by the real API
// server, server-side dry-run) and the inline-credentials lint naming the construct path and the fix.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { App, Chart } from 'cdk8s';
import { Model } from '../../charts/model.ts';
import { validateObjects } from '../../charts/validate.ts';
import { AUDIT_CLAIM, AUDIT_DIR, DEFAULT_DENY, operatorInstallManifests } from '../../charts/operator-install.ts';
import { installAudit } from '../../cli/commands/install.ts';
import { writeOperatorChart } from '../../charts/operator-helm.ts';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { formatIssue } from '../../api/errors.ts';
import { uniqueName, usePeers } from '../peers/index.ts';
import { rawKube } from '../peers/raw.ts';

const peers = await usePeers(['kube']);

function synthModel(props: Partial<ConstructorParameters<typeof Model>[2]> = {}) {
  const app = new App();
  const chart = new Chart(app, 'ml', { namespace: 'ml' });
  new Model(chart, 'fraud', { registry: 'fraud@champion', useLockFile: false, ...props });
  return chart.toJson();
}

describe('a NetworkPolicy with each Model', () => {
  test('only the gateway namespaces, the operator and the declared callers reach the predictor pods', () => {
    const objs = synthModel({ network: { allowFrom: [{ namespace: 'batch', podLabels: { app: 'scorer' } }] } }) as Array<Record<string, any>>;
    const np = objs.find((o) => o.kind === 'NetworkPolicy')!;
    assert.equal(np.metadata.name, 'fraud-predictor');
    assert.deepEqual(np.spec.podSelector, { matchLabels: { 'serving.kserve.io/inferenceservice': 'fraud' } });
    assert.deepEqual(np.spec.policyTypes, ['Ingress']);
    assert.deepEqual(np.spec.ingress[0].from, [
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } } },
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'knative-serving' } } },
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ghosteam-system' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ghosteam-operator' } },
      },
      // Prometheus scrapes /metrics: canary analysis and the Model's alerts read those series.
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
      },
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'batch' } }, podSelector: { matchLabels: { app: 'scorer' } } },
    ]);
    assert.equal((synthModel({ network: false }) as Array<Record<string, any>>).filter((o) => o.kind === 'NetworkPolicy').length, 0);
    // Another ingress and no Prometheus: exactly those peers.
    const other = (
      synthModel({ network: { gatewayNamespaces: ['ingress-nginx'], operatorNamespace: 'mlops', prometheus: false } }) as Array<Record<string, any>>
    ).find((o) => o.kind === 'NetworkPolicy')!;
    assert.deepEqual(other.spec.ingress[0].from, [
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'mlops' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ghosteam-operator' } },
      },
    ]);
  });

  test('bad network settings name the field and the fix', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ allowFrom: [{}] }, /ml\/fraud: 'network\.allowFrom\[0\]' names nobody; give a namespace, podLabels, or both/],
      [{ allowFrom: [{ namespace: 'Batch_Jobs' }] }, /'network\.allowFrom\[0\]\.namespace'.*Batch_Jobs/],
      [{ allowFrom: [{ podLabels: { 'bad key!': 'x' } }] }, /'network\.allowFrom\[0\]\.podLabels' 'bad key!' is not a label key/],
      [{ allowFrom: [{ podLabels: { app: 'has space' } }] }, /'network\.allowFrom\[0\]\.podLabels\.app' 'has space' is not a label value/],
      [{ prometheus: { namespace: 'mon', podLabels: { app: '-x' } } }, /'network\.prometheus\.podLabels\.app' '-x' is not a label value/],
      [{ gatewayNamespaces: ['istio-system', 'Not DNS'] }, /'network\.gatewayNamespaces\[1\]'.*Not DNS/],
      [{ operatorNamespace: 'x'.repeat(64) }, /'network\.operatorNamespace'/],
    ];
    for (const [network, msg] of cases) assert.throws(() => synthModel({ network: network as never }), msg, JSON.stringify(network));
  });

  test('auth on the Model reaches the predictor as GHOSTEAM_AUTH_* (what ghosteam serve reads); a bad grant names the field', () => {
    const objs = synthModel({ auth: { issuer: 'https://idp.example.com', audience: 'fraud-api', grants: ['infer=groups:fraud-callers'] } }) as Array<
      Record<string, any>
    >;
    const env = objs.find((o) => o.kind === 'InferenceService')!.spec.predictor.model.env as Array<{ name: string; value: string }>;
    assert.deepEqual(
      env.filter((e) => e.name.startsWith('GHOSTEAM_AUTH_')),
      [
        { name: 'GHOSTEAM_AUTH_ISSUER', value: 'https://idp.example.com' },
        { name: 'GHOSTEAM_AUTH_AUDIENCE', value: 'fraud-api' },
        { name: 'GHOSTEAM_AUTH_GRANTS', value: 'infer=groups:fraud-callers' },
      ],
    );
    assert.throws(
      () => synthModel({ auth: { issuer: 'http://idp', audience: 'a', grants: ['everything'] } }),
      (e: Error) => {
        assert.match(e.message, /ml\/fraud: 'auth.issuer' 'http:\/\/idp' must be an https:\/\/ URL/);
        assert.match(e.message, /ml\/fraud: 'auth.grants\[0\]' grant 'everything' is not PERMISSION\[:MODEL\]=CLAIM:VALUE/);
        return true;
      },
    );
  });

  test('the real API server accepts the NetworkPolicy (server-side apply, dryRun=All)', { skip: peers.skip }, async () => {
    const kube = rawKube(peers.kubeconfig);
    const ns = uniqueName('np');
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, { fieldManager: 'ghosteam-test' });
    try {
      const objs = synthModel({ network: { allowFrom: [{ podLabels: { app: 'x' } }, { namespace: 'batch' }] } }) as Array<Record<string, any>>;
      const np = objs.find((o) => o.kind === 'NetworkPolicy')!;
      const applied = await kube.apply<Record<string, any>>({ ...np, metadata: { ...np.metadata, namespace: ns } } as never, {
        dryRun: true,
        fieldManager: 'ghosteam-dry-run',
      });
      assert.equal(applied.kind, 'NetworkPolicy');
      // The server kept every peer as written (nothing dropped or defaulted away).
      assert.deepEqual(applied.spec.podSelector, np.spec.podSelector);
      assert.deepEqual(applied.spec.ingress, np.spec.ingress);
      assert.deepEqual(applied.spec.policyTypes, ['Ingress']);
      // And refuses a broken one: the check is real.
      await assert.rejects(
        kube.apply({ ...np, metadata: { ...np.metadata, namespace: ns }, spec: { ...np.spec, policyTypes: ['Sideways'] } } as never, {
          dryRun: true,
          fieldManager: 'ghosteam-dry-run',
        }),
        /policyTypes|Sideways/,
      );
    } finally {
      await kube.request('DELETE', `/api/v1/namespaces/${ns}`);
    }
  });

  test("the real API server accepts ghosteam install's NetworkPolicies, payload sink included (dryRun=All)", { skip: peers.skip }, async () => {
    const kube = rawKube(peers.kubeconfig);
    const ns = uniqueName('npi');
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, { fieldManager: 'ghosteam-test' });
    try {
      const nps = operatorInstallManifests({ namespace: ns, replicas: 1, payloadSink: {}, crds: false }).filter((o) => o.kind === 'NetworkPolicy') as Array<
        Record<string, any>
      >;
      assert.deepEqual(
        nps.map((o) => o.metadata.name),
        [DEFAULT_DENY, 'ghosteam-operator'],
      );
      // Default-deny: every pod of the namespace, no ingress rule at all.
      assert.deepEqual(nps[0].spec, { podSelector: {}, policyTypes: ['Ingress'] });
      // The operator: metrics from any namespace's pods, the sink only from KServe's pods.
      assert.deepEqual(
        nps[1].spec.ingress.map((r: any) => r.ports[0].port),
        ['http-metrics', 'http-payloads'],
      );
      assert.deepEqual(nps[1].spec.ingress[1].from, [
        { namespaceSelector: {}, podSelector: { matchExpressions: [{ key: 'serving.kserve.io/inferenceservice', operator: 'Exists' }] } },
      ]);
      for (const np of nps) {
        const applied = await kube.apply<Record<string, any>>(np as never, { dryRun: true, fieldManager: 'ghosteam-dry-run' });
        assert.deepEqual(applied.spec.ingress ?? [], np.spec.ingress ?? []);
      }
      // Without the sink, no payload port is opened.
      const plain = operatorInstallManifests({ namespace: ns, crds: false }).find(
        (o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'ghosteam-operator',
      ) as any;
      assert.deepEqual(
        plain.spec.ingress.map((r: any) => r.ports[0].port),
        ['http-metrics'],
      );
    } finally {
      await kube.request('DELETE', `/api/v1/namespaces/${ns}`);
    }
  });
});

describe("the operator's audit log in the install", () => {
  const deploymentOf = (objs: ReturnType<typeof operatorInstallManifests>) => objs.find((o) => o.kind === 'Deployment') as Record<string, any>;
  test('on a claim the install creates: one file per pod (the kubelet expands $(POD_NAME)), RWX with several replicas', () => {
    const objs = operatorInstallManifests({ namespace: 'gs', crds: false, replicas: 2, audit: { size: '5Gi', storageClassName: 'nfs' } });
    const pvc = objs.find((o) => o.kind === 'PersistentVolumeClaim') as Record<string, any>;
    assert.equal(pvc.metadata.name, AUDIT_CLAIM);
    assert.deepEqual(pvc.spec, { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '5Gi' } }, storageClassName: 'nfs' });
    const pod = deploymentOf(objs).spec.template.spec;
    const c = pod.containers[0];
    const i = c.args.indexOf('--audit-log');
    assert.equal(c.args[i + 1], `${AUDIT_DIR}/$(POD_NAME).jsonl`);
    // $(POD_NAME) only expands when POD_NAME is in the container's env.
    assert.ok(c.env.some((e: any) => e.name === 'POD_NAME' && e.valueFrom.fieldRef.fieldPath === 'metadata.name'));
    assert.deepEqual(
      c.volumeMounts.find((m: any) => m.name === 'audit'),
      { name: 'audit', mountPath: AUDIT_DIR },
    );
    assert.deepEqual(
      pod.volumes.find((v: any) => v.name === 'audit'),
      { name: 'audit', persistentVolumeClaim: { claimName: AUDIT_CLAIM } },
    );
    // One replica: ReadWriteOnce; an existing claim: no claim created, that one mounted.
    const one = operatorInstallManifests({ crds: false, replicas: 1, audit: {} }).find((o) => o.kind === 'PersistentVolumeClaim') as any;
    assert.deepEqual(one.spec.accessModes, ['ReadWriteOnce']);
    const own = operatorInstallManifests({ crds: false, audit: { claimName: 'my-audit' } });
    assert.equal(own.filter((o) => o.kind === 'PersistentVolumeClaim').length, 0);
    assert.equal(deploymentOf(own).spec.template.spec.volumes.find((v: any) => v.name === 'audit').persistentVolumeClaim.claimName, 'my-audit');
    // Off by default: no claim, no flag.
    const off = operatorInstallManifests({ crds: false });
    assert.equal(off.filter((o) => o.kind === 'PersistentVolumeClaim').length, 0);
    assert.ok(!deploymentOf(off).spec.template.spec.containers[0].args.includes('--audit-log'));
  });

  test('bad audit settings name the field or flag and the fix', async () => {
    assert.throws(
      () => operatorInstallManifests({ replicas: 2, audit: { accessMode: 'ReadWriteOnce' } }),
      /audit\.accessMode ReadWriteOnce with 2 replicas.*ReadWriteMany/,
    );
    assert.throws(() => operatorInstallManifests({ audit: { size: 'lots' } }), /audit\.size 'lots' is not a quantity; write e\.g\. 1Gi/);
    assert.throws(() => operatorInstallManifests({ audit: { claimName: 'Bad_Name' } }), /audit\.claimName 'Bad_Name'/);
    assert.throws(() => operatorInstallManifests({ audit: { claimName: 'a', size: '1Gi' } }), /leave audit\.size/);
    assert.throws(() => installAudit({ auditLogSize: '2Gi' }), /--audit-log-size needs --audit-log/);
    assert.throws(() => installAudit({ auditLogClaim: 'x', auditLogStorageClass: 'y' }), /--audit-log-claim names an existing claim/);
    assert.deepEqual(installAudit({ auditLog: true, auditLogSize: '2Gi' }), { size: '2Gi' });
    await assert.rejects(writeOperatorChart(join(tmpdir(), uniqueName('helm-audit')), { audit: {} }), /--helm with --audit-log: the chart does not template/);
    assert.equal(installAudit({}), undefined);
  });

  test('the real API server accepts the claim and the Deployment that mounts it (dryRun=All)', { skip: peers.skip }, async () => {
    const kube = rawKube(peers.kubeconfig);
    const ns = uniqueName('audit');
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, { fieldManager: 'ghosteam-test' });
    try {
      const objs = operatorInstallManifests({ namespace: ns, crds: false, replicas: 2, audit: {} });
      for (const o of objs.filter((x) => x.kind === 'PersistentVolumeClaim' || x.kind === 'Deployment')) {
        const applied = await kube.apply<Record<string, any>>(o as never, { dryRun: true, fieldManager: 'ghosteam-dry-run' });
        if (o.kind === 'Deployment') assert.ok(applied.spec.template.spec.containers[0].args.includes(`${AUDIT_DIR}/$(POD_NAME).jsonl`));
        else assert.deepEqual(applied.spec.accessModes, ['ReadWriteMany']);
      }
    } finally {
      await kube.request('DELETE', `/api/v1/namespaces/${ns}`);
    }
  });
});

describe('inline credentials are refused by synth/validate with the construct path', () => {
  test('a URL with a password, a secret flag and a secret annotation', () => {
    const obj = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x', annotations: { 'ghosteam.io/construct-path': 'app/fraud/serve', 'example.com/api-token': 'abc123' } },
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'c',
                args: ['--mlflow-uri', 'https://user:hunter2@mlflow.example.com', '--token', 's3cr3t', '--token-env', 'SERVE_TOKEN'],
              },
            ],
          },
        },
      },
    };
    const issues = validateObjects([{ object: obj, source: 'app.yaml' }])
      .filter((i) => /password|secret/.test(i.message))
      .map(formatIssue);
    assert.deepEqual(issues, [
      "app/fraud/serve: 'metadata.annotations.example.com/api-token' puts a secret in an annotation (readable by anyone who can read the object); keep it in a Secret and reference it",
      "app/fraud/serve: 'spec.template.spec.containers[0].args[1]' holds a URL with a password in it; put the password in a Secret and pass it by reference (an env var with valueFrom.secretKeyRef, or a credentials file mounted from the Secret), and drop it from the URL",
      "app/fraud/serve: 'spec.template.spec.containers[0].args[2]' passes a secret on the command line (--token); read it from an env var set by valueFrom.secretKeyRef (e.g. --token-env NAME) instead",
    ]);
  });
});

// `ghosteam install --payload-sink`: the operator hosts the sink, a Service fronts it, and the
// Deployment stays under the restricted Pod Security Standard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { operatorInstallManifests, payloadSinkUrl } from '../../charts/operator-install.ts';

type Container = {
  args: string[];
  ports: Array<{ name: string; containerPort: number }>;
  volumeMounts: Array<{ name: string; mountPath: string }>;
  securityContext: Record<string, unknown>;
  resources: { limits: { memory: string } };
};
type Deployment = {
  spec: {
    replicas: number;
    template: {
      metadata: { labels: Record<string, string> };
      spec: { containers: Container[]; volumes: Array<{ name: string; emptyDir: { sizeLimit: string } }> };
    };
  };
};
type Service = {
  metadata: { name: string; namespace: string };
  spec: { selector: Record<string, string>; ports: Array<{ port: number; targetPort: string }> };
};

test('payloadSink: the operator serves the sink on a named port into an emptyDir, behind the ghosteam-payload-sink Service', () => {
  const objs = operatorInstallManifests({ replicas: 1, payloadSink: {}, namespace: 'mlops' });
  const d = objs.find((o) => o.kind === 'Deployment') as unknown as Deployment;
  const c = d.spec.template.spec.containers[0];
  const arg = (flag: string) => c.args[c.args.indexOf(flag) + 1];
  assert.equal(arg('--payload-log'), '/var/lib/ghosteam/payloads/payloads.jsonl');
  assert.equal(arg('--payload-sink-port'), '8090');
  assert.equal(arg('--bind-address'), '0.0.0.0');
  assert.deepEqual(
    c.ports.find((p) => p.name === 'http-payloads'),
    { name: 'http-payloads', containerPort: 8090, protocol: 'TCP' },
  );
  assert.deepEqual(
    c.volumeMounts.find((m) => m.name === 'payloads'),
    { name: 'payloads', mountPath: '/var/lib/ghosteam/payloads' },
  );
  assert.deepEqual(
    d.spec.template.spec.volumes.find((v) => v.name === 'payloads'),
    { name: 'payloads', emptyDir: { sizeLimit: '1Gi' } },
  );
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.resources.limits.memory, '640Mi');
  const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'ghosteam-payload-sink') as unknown as Service;
  assert.equal(svc.metadata.namespace, 'mlops');
  assert.deepEqual(
    svc.spec.ports.map((p) => [p.port, p.targetPort]),
    [[80, 'http-payloads']],
  );
  for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(d.spec.template.metadata.labels[k], v);
  assert.equal(payloadSinkUrl('mlops'), `http://${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local/`);
  // Without it: no sink flags, no Service, no volume.
  const plain = operatorInstallManifests();
  assert.equal(
    plain.some((o) => o.metadata.name === 'ghosteam-payload-sink'),
    false,
  );
  assert.equal(
    (plain.find((o) => o.kind === 'Deployment') as unknown as Deployment).spec.template.spec.containers[0].args.includes('--payload-sink-port'),
    false,
  );
  assert.deepEqual(
    (operatorInstallManifests({ replicas: 1, payloadSink: { sizeLimit: '5Gi' } }).find((o) => o.kind === 'Deployment') as unknown as Deployment).spec.template
      .spec.volumes[1],
    { name: 'payloads', emptyDir: { sizeLimit: '5Gi' } },
  );
});

test('payloadSink needs one replica', () => {
  assert.throws(() => operatorInstallManifests({ payloadSink: {} }), {
    message:
      "payloadSink: the sink keeps the payload log in the operator's pod, so it needs replicas 1 (got 2); with several replicas, run `ghosteam payload-sink` as its own Deployment on a ReadWriteMany volume",
  });
});

test('ghosteam install --dry-run --payload-sink: one replica by default, --replicas 2 is refused', () => {
  const bin = join(import.meta.dirname, '../../bin/ghosteam.mjs');
  const r = spawnSync(process.execPath, [bin, 'install', '--dry-run', '--payload-sink', '--no-crds'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout);
  const objs = (Array.isArray(docs) ? docs : [docs]).map((x) => x.toJS() as { kind: string; metadata: { name: string }; spec: { replicas?: number } });
  assert.equal(objs.find((o) => o.kind === 'Deployment')?.spec.replicas, 1);
  assert.deepEqual(
    objs.filter((o) => o.kind === 'Service').map((o) => o.metadata.name),
    ['ghosteam-operator-metrics', 'ghosteam-payload-sink'],
  );
  const bad = spawnSync(process.execPath, [bin, 'install', '--dry-run', '--payload-sink', '--replicas', '2'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.equal(
    bad.stderr.trim(),
    "error: --payload-sink keeps the payload log in the operator's pod, so it needs --replicas 1 (got 2); with several replicas, run `ghosteam payload-sink` as its own Deployment on a ReadWriteMany volume",
  );
});

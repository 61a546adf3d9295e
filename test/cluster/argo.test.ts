/**
 * The real Argo Workflows controller (v3.7.3, built from the Go module by `npm run cluster:up`)
 * runs a Workflow on real pods: the emissary executor (argoexec) moves an output artifact through
 * the cluster's S3 artifact repository (s3proxy) into the next step, an output parameter drives
 * `when` (one step runs, the other is Skipped), and nothing of it leaves the machine.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ARGO_NAMESPACE } from '../peers/cluster/config.ts';
import { ARTIFACT_BUCKET, WORKFLOW_SERVICE_ACCOUNT } from '../peers/cluster/argo.ts';
import { readClusterState } from '../peers/cluster/node.ts';
import { captureClusterEgress, RESTRICTED, useCluster, waitFor, type Capture, type WorkflowLike } from './harness.ts';

const cluster = await useCluster(['components']);
const name = `artifacts-${process.pid}`;

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('the Argo Workflows controller on the test cluster', { skip: cluster.skip }, () => {
  let capture: Capture;
  before(async () => {
    capture = await captureClusterEgress();
  });
  after(async () => {
    await cluster.kube?.request('DELETE', `/apis/argoproj.io/v1alpha1/namespaces/${ARGO_NAMESPACE}/workflows/${name}`).catch(() => {});
  });

  test('a Workflow passes an artifact through the S3 repository and a parameter drives when', async () => {
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
            steps: [
              [{ name: 'produce', template: 'produce' }],
              [
                {
                  name: 'consume',
                  template: 'consume',
                  when: "'{{steps.produce.outputs.parameters.verdict}}' == 'go'",
                  arguments: { artifacts: [{ name: 'data', from: '{{steps.produce.outputs.artifacts.data}}' }] },
                },
                {
                  name: 'never',
                  template: 'consume',
                  when: "'{{steps.produce.outputs.parameters.verdict}}' != 'go'",
                  arguments: { artifacts: [{ name: 'data', from: '{{steps.produce.outputs.artifacts.data}}' }] },
                },
              ],
            ],
          },
          {
            name: 'produce',
            container: container(
              "const fs=require('fs');fs.writeFileSync('/tmp/data.csv','a,b\\n1,2\\n3,4\\n');fs.writeFileSync('/tmp/verdict','go');console.log('produced')",
            ),
            outputs: {
              artifacts: [{ name: 'data', path: '/tmp/data.csv' }],
              parameters: [{ name: 'verdict', valueFrom: { path: '/tmp/verdict' } }],
            },
          },
          {
            name: 'consume',
            inputs: { artifacts: [{ name: 'data', path: '/tmp/in/data.csv' }] },
            container: container(
              "const fs=require('fs');const t=fs.readFileSync('/tmp/in/data.csv','utf8');const n=t.trim().split('\\n').length-1;fs.writeFileSync('/tmp/rows',String(n));console.log('rows',n)",
            ),
            outputs: { parameters: [{ name: 'rows', valueFrom: { path: '/tmp/rows' } }] },
          },
        ],
      },
    });
    const wf = await waitFor(
      `Workflow ${name} to finish`,
      async () => {
        const w = await cluster.kube.request<WorkflowLike>('GET', `/apis/argoproj.io/v1alpha1/namespaces/${ARGO_NAMESPACE}/workflows/${name}`);
        return ['Succeeded', 'Failed', 'Error'].includes(w.status?.phase ?? '') ? w : undefined;
      },
      420_000,
    );
    const nodes = Object.values(wf.status?.nodes ?? {});
    const byName = (n: string) => nodes.find((x) => x.displayName === n);
    assert.equal(wf.status?.phase, 'Succeeded', `${wf.status?.message ?? ''}\n${JSON.stringify(nodes.map((n) => [n.displayName, n.phase, n.message]))}`);
    assert.equal(byName('produce')?.phase, 'Succeeded');
    assert.equal(byName('consume')?.phase, 'Succeeded');
    assert.equal(byName('never')?.phase, 'Skipped');
    assert.equal(byName('consume')?.outputs?.parameters?.find((p) => p.name === 'rows')?.value, '2');
    // The artifact went through the object store: s3proxy keeps it as a file under the bucket.
    const store = readClusterState()!.objectStore!;
    const objects = filesUnder(join(store.dir, ARTIFACT_BUCKET, name));
    assert.ok(
      objects.some((f) => f.endsWith('data.tgz')),
      `no data.tgz under ${join(store.dir, ARTIFACT_BUCKET, name)}: ${objects.join(', ')}`,
    );
  });

  test('none of the cluster traffic left the machine', async () => {
    const packets = await capture.stop();
    assert.deepEqual(packets, [], `packets of the cluster's addresses on the outward interface:\n${packets.slice(0, 20).join('\n')}`);
  });
});

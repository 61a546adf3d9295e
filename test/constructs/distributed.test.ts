// A distributed container step in a cluster: an Argo resource template that creates a Kubeflow
// Trainer TrainJob (valid against the upstream CRD), queued for Kueue as one gang, with the same
// contract environment as any step; the WorkflowTemplate around it stays valid too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { App, Chart } from 'cdk8s';
import { ContainerComponent, Pipeline, compileArgo } from '../../pipelines/index.ts';
import { KUEUE_QUEUE_LABEL, TRAINJOB_QUEUE, trainJobManifest } from '../../pipelines/argo.ts';
import { upstreamErrors } from './upstream.ts';

test('distributed: { workers, gpusPerWorker } synthesizes to a TrainJob valid against the upstream CRD, queued for Kueue', () => {
  const p = new Pipeline(new Chart(new App(), 'c'), 'ddp');
  const fit = ContainerComponent.define({
    name: 'fit-ddp',
    image: 'ghcr.io/acme/ddp:1',
    command: ['python', 'fit.py'],
    params: { epochs: { type: 'number', default: 3 } },
    distributed: { workers: 4, gpusPerWorker: 2 },
  });
  p.component('fit', fit, { timeout: '1h' });
  const spec = p.toSpec();
  const wt = compileArgo(spec).workflowTemplate;
  assert.deepEqual(upstreamErrors(wt as never), []);
  const tpl = (
    wt.spec.templates as unknown as {
      name: string;
      resource?: { action: string; manifest: string; successCondition: string; failureCondition: string; setOwnerReference: boolean };
    }[]
  ).find((t) => t.name === 'fit-trainjob')!;
  assert.equal(tpl.resource!.action, 'create');
  assert.equal(tpl.resource!.setOwnerReference, true);
  assert.equal(tpl.resource!.successCondition, 'status.conditions.#(type=="Complete").status == True');
  const job = JSON.parse(tpl.resource!.manifest) as {
    metadata: { labels: Record<string, string> };
    spec: {
      trainer: { numNodes: number; resourcesPerNode: { limits: Record<string, string> }; env: { name: string; value?: string }[] };
      activeDeadlineSeconds: number;
    };
  };
  assert.deepEqual(job, trainJobManifest(spec.tasks[0], spec));
  assert.deepEqual(upstreamErrors(job as never), []);
  assert.equal(job.metadata.labels[KUEUE_QUEUE_LABEL], TRAINJOB_QUEUE);
  assert.equal(job.spec.trainer.numNodes, 4);
  assert.equal(job.spec.trainer.resourcesPerNode.limits['nvidia.com/gpu'], '2');
  assert.equal(job.spec.activeDeadlineSeconds, 3600);
  assert.deepEqual(
    job.spec.trainer.env.find((e) => e.name === 'GHOSTEAM_PARAM_EPOCHS'),
    { name: 'GHOSTEAM_PARAM_EPOCHS', value: '{{inputs.parameters.epochs}}' },
  );
  assert.ok(job.spec.trainer.env.some((e) => e.name === 'GHOSTEAM_OUTPUT_PARAMS_DIR'));
  // The pods get the contract paths on the workflow's exchange volume, where stage-in/stage-out move Argo's artifacts.
  const mounts = (
    job.spec as unknown as {
      runtimePatches: {
        trainingRuntimeSpec: {
          template: {
            spec: {
              replicatedJobs: { template: { spec: { template: { spec: { containers: { volumeMounts: { mountPath: string; subPath?: string }[] }[] } } } } }[];
            };
          };
        };
      }[];
    }
  ).runtimePatches[0].trainingRuntimeSpec.template.spec.replicatedJobs[0].template.spec.template.spec.containers[0].volumeMounts;
  assert.deepEqual(
    mounts.filter((m) => m.subPath).map((m) => [m.mountPath, m.subPath]),
    [
      ['/tmp/inputs', 'fit/inputs'],
      ['/tmp/outputs', 'fit/outputs'],
    ],
  );
  const names = (wt.spec.templates as unknown as { name: string }[]).map((t) => t.name);
  for (const n of ['fit', 'fit-stage-in', 'fit-trainjob', 'fit-stage-out']) assert.ok(names.includes(n), n);
  assert.equal((wt.spec as unknown as { volumeClaimTemplates: { metadata: { name: string } }[] }).volumeClaimTemplates[0].metadata.name, 'ghosteam-exchange');
  // A broken manifest would fail the same check: the validator is strict.
  assert.notDeepEqual(upstreamErrors({ ...job, spec: { ...job.spec, trainer: { ...job.spec.trainer, numNodes: 'four' } } } as never), []);
});

type Pvc = { metadata: { name: string }; spec: { accessModes: string[]; storageClassName?: string; resources: { requests: { storage: string } } } };
const pvcOf = (p: Pipeline): Pvc => (compileArgo(p.toSpec()).workflowTemplate.spec as unknown as { volumeClaimTemplates: Pvc[] }).volumeClaimTemplates[0];
const ddp = (exchange?: { size?: string; storageClass?: string }) =>
  ContainerComponent.define({
    name: 'fit-ddp',
    image: 'ghcr.io/acme/ddp:1',
    command: ['python', 'fit.py'],
    distributed: { workers: 2, ...(exchange ? { exchange } : {}) },
  });

test('the exchange volume: 10Gi on the default class unless the step says; the sum over distributed steps; one class per pipeline', () => {
  const plain = new Pipeline(new Chart(new App(), 'c'), 'ddp');
  plain.component('fit', ddp());
  assert.deepEqual(pvcOf(plain).spec, { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '10Gi' } } });

  const sized = new Pipeline(new Chart(new App(), 'c'), 'ddp');
  sized.component('fit', ddp({ size: '200Gi', storageClass: 'nfs-client' }));
  const pvc = pvcOf(sized);
  assert.deepEqual(pvc.spec, { accessModes: ['ReadWriteMany'], storageClassName: 'nfs-client', resources: { requests: { storage: '200Gi' } } });
  assert.deepEqual(upstreamErrors(compileArgo(sized.toSpec()).workflowTemplate as never), []);

  // Two distributed steps: each has its folders on the one volume, so it holds both.
  const two = new Pipeline(new Chart(new App(), 'c'), 'ddp');
  const a = two.component('a', ddp({ size: '1536Mi' }));
  two.component('b', ddp({ size: '1Gi', storageClass: 'cephfs' }), { after: [a] });
  assert.deepEqual(pvcOf(two).spec, { accessModes: ['ReadWriteMany'], storageClassName: 'cephfs', resources: { requests: { storage: '2560Mi' } } });
  // A plain container task declares it the same way.
  const raw = new Pipeline(new Chart(new App(), 'c'), 'ddp');
  raw.task('fit', { image: 'ghcr.io/acme/ddp:1', command: ['python', 'fit.py'], distributed: { workers: 3, exchange: { size: '3Gi' } } });
  assert.equal(pvcOf(raw).spec.resources.requests.storage, '3Gi');

  const clash = new Pipeline(new Chart(new App(), 'c'), 'ddp');
  const x = clash.component('x', ddp({ storageClass: 'nfs-client' }));
  clash.component('y', ddp({ storageClass: 'cephfs' }), { after: [x] });
  assert.throws(() => clash.toSpec(), /distributed\.exchange\.storageClass.*'cephfs' but task 'x' names 'nfs-client'.*one storage class/s);
});

test('a bad exchange size or storage class is refused where it is declared, naming the field and the fix', () => {
  assert.throws(() => ddp({ size: '10 GB' }), /container component 'fit-ddp': distributed\.exchange\.size is '10 GB'; give a storage quantity such as '500Mi'/);
  assert.throws(() => ddp({ size: '0' }), /distributed\.exchange\.size is '0'/);
  assert.throws(() => ddp({ storageClass: 'NFS_Client' }), /distributed\.exchange\.storageClass is 'NFS_Client'; give the name of a StorageClass/);
  const p = new Pipeline(new Chart(new App(), 'c'), 'ddp');
  assert.throws(
    () => p.task('fit', { image: 'ghcr.io/acme/ddp:1', command: ['python', 'fit.py'], distributed: { workers: 2, exchange: { size: '-1Gi' } } }),
    /fit.*distributed\.exchange\.size/s,
  );
});

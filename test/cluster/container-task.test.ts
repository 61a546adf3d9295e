/**
 * A Python container task gets the same I/O contract on the cluster as in the local engine: the
 * same pipeline (test/cluster/fixtures/python-task: two plain-Python steps in an image built from
 * Debian's python3) runs with `ghosteam run` here and, synthesized by `ghosteam synth`, as a
 * Workflow on the real Argo controller; every output artifact (compared byte for byte, through
 * the S3 artifact repository) and every output param must agree.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { ARGO_NAMESPACE } from '../peers/cluster/config.ts';
import { ARTIFACT_BUCKET, WORKFLOW_SERVICE_ACCOUNT } from '../peers/cluster/argo.ts';
import { ensureFixtureImage } from '../peers/cluster/images.ts';
import { readClusterState } from '../peers/cluster/node.ts';
import type { KubeObject } from '../peers/index.ts';
import { noTrafficLeavesTheMachine, useCluster, waitFor, type WorkflowLike, workflowLogs } from './harness.ts';

const cluster = await useCluster([]);
const repo = join(import.meta.dirname, '../..');
const fixture = join(import.meta.dirname, 'fixtures/python-task');
const name = `py-contract-${process.pid}`;
// Rows of this run's own: with the same params Argo would reuse an earlier run's memoized `make`.
const rows = 100 + (process.pid % 1000);

interface LocalRun {
  status: string;
  nodes: Record<string, { state: string; outputs: Record<string, { digest: string }>; outputParams: Record<string, unknown> }>;
}

const ghosteam = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, ['bin/ghosteam.mjs', ...args], { cwd: repo, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });

describe('a Python container task: the same outputs locally and on the cluster', { skip: cluster.skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ghosteam-cluster-python-'));
  after(async () => {
    await cluster.kube?.request('DELETE', `/apis/argoproj.io/v1alpha1/namespaces/${ARGO_NAMESPACE}/workflows/${name}`).catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  });

  test('ghosteam run and the Argo Workflow agree on every output artifact and param', async () => {
    const state = readClusterState()!;
    const image = await ensureFixtureImage('python-task', fixture, state.containerdSocket, (l) => process.stderr.write(`[images] ${l}\n`));
    const env = { GHOSTEAM_TEST_PYTHON_IMAGE: image, MLFLOW_TRACKING_URI: '' };

    // Locally.
    const store = join(tmp, 'store');
    const run = ghosteam(['run', 'test/cluster/fixtures/python-task/app.ts', '--store-dir', store, '--param', `rows=${rows}`], env);
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    const runId = readdirSync(join(store, 'runs'))[0];
    const show = ghosteam(['runs', 'show', runId, '--json', '--store-dir', store], env);
    assert.equal(show.status, 0, show.stderr);
    const local = JSON.parse(show.stdout) as LocalRun;
    assert.equal(local.status, 'Succeeded');

    // On the cluster: the WorkflowTemplate synth writes, and a Workflow from it.
    const synth = ghosteam(['synth', 'test/cluster/fixtures/python-task/app.ts', '--out', join(tmp, 'synth')], env);
    assert.equal(synth.status, 0, synth.stderr);
    const template = readdirSync(join(tmp, 'synth'))
      .flatMap((f) => parseAllDocuments(readFileSync(join(tmp, 'synth', f), 'utf8')).map((d) => d.toJS() as KubeObject))
      .find((o) => o?.kind === 'WorkflowTemplate')!;
    await cluster.kube.apply({ ...template, metadata: { ...template.metadata, namespace: ARGO_NAMESPACE } });
    await cluster.kube.apply({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Workflow',
      metadata: { name, namespace: ARGO_NAMESPACE },
      spec: {
        workflowTemplateRef: { name: template.metadata!.name },
        serviceAccountName: WORKFLOW_SERVICE_ACCOUNT,
        arguments: { parameters: [{ name: 'rows', value: String(rows) }] },
      },
    });
    const t0 = Date.now();
    const wf = await waitFor(
      `Workflow ${name} to finish`,
      async () => {
        const w = await cluster.kube.request<WorkflowLike>('GET', `/apis/argoproj.io/v1alpha1/namespaces/${ARGO_NAMESPACE}/workflows/${name}`);
        return ['Succeeded', 'Failed', 'Error'].includes(w.status?.phase ?? '') ? w : undefined;
      },
      420_000,
    );
    const nodes = Object.values(wf.status?.nodes ?? {}).filter((n) => n.type === 'Pod');
    const summary = nodes.map((n) => `${n.displayName}: ${n.phase}${n.message ? ` (${n.message})` : ''}`).join('\n');
    if (wf.status?.phase !== 'Succeeded')
      assert.fail(`${wf.status?.phase}: ${wf.status?.message ?? ''}\n${summary}\n${await workflowLogs(cluster.kube, ARGO_NAMESPACE, name)}`);
    process.stderr.write(`[cluster] ${name} Succeeded in ${Math.round((Date.now() - t0) / 1000)} s\n`);

    const objectStore = state.objectStore!;
    for (const task of ['make', 'summarize']) {
      const pod = nodes.find((n) => n.displayName === task)!;
      const mine = local.nodes[task];
      assert.equal(mine.state, 'Succeeded');
      // Output params: Argo keeps the file's text; the local engine reads it as JSON when it parses
      // (else the text), so the values must agree, not the spelling: Python writes 5.0 for a float
      // the local record holds as 5 (a run whose mean came out whole failed on this in CI).
      const asValue = (text: string | undefined): unknown => {
        try {
          return JSON.parse(text ?? 'null');
        } catch {
          return text;
        }
      };
      const podParams = Object.fromEntries((pod.outputs?.parameters ?? []).map((p) => [p.name, asValue(p.value)]));
      assert.deepEqual(podParams, mine.outputParams, `${task}: output params`);
      // Output artifacts: Argo keeps each as a .tgz in the bucket; unpacked, the bytes must be the local engine's.
      for (const [out, ref] of Object.entries(mine.outputs)) {
        const key = pod.outputs?.artifacts?.find((a) => a.name === out)?.s3?.key;
        assert.ok(key, `${task}: no S3 key for output artifact ${out}: ${JSON.stringify(pod.outputs)}`);
        const dir = join(tmp, 'unpacked', task, out);
        mkdirSync(dir, { recursive: true });
        const tar = spawnSync('tar', ['-xzf', join(objectStore.dir, ARTIFACT_BUCKET, key), '-C', dir], { encoding: 'utf8' });
        assert.equal(tar.status, 0, tar.stderr);
        const bytes = readFileSync(join(dir, out));
        assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, ref.digest, `${task}: output artifact ${out} differs from the local run's`);
      }
    }
    // The summary names the contract variables the step saw: the same set in both back ends.
    const summaryJson = JSON.parse(readFileSync(join(tmp, 'unpacked', 'summarize', 'summary', 'summary'), 'utf8')) as {
      contract: string[];
      rows: number;
      notes: boolean;
    };
    assert.equal(summaryJson.rows, rows);
    // `make`'s optional `notes` was never written: no artifact, and `summarize` ran without it.
    assert.equal(summaryJson.notes, false);
    assert.equal(
      nodes.find((n) => n.displayName === 'make')!.outputs?.artifacts?.find((a) => a.name === 'notes'),
      undefined,
    );
    assert.deepEqual(summaryJson.contract, [
      'GHOSTEAM_INPUT_NOTES',
      'GHOSTEAM_INPUT_TABLE',
      'GHOSTEAM_OUTPUT_PARAMS_DIR',
      'GHOSTEAM_OUTPUT_SUMMARY',
      'GHOSTEAM_PARAM_TOTAL',
      'GHOSTEAM_PIPELINE',
      'GHOSTEAM_RUN_ID',
      'GHOSTEAM_TASK',
      'GHOSTEAM_WORK_DIR',
    ]);
  });

  noTrafficLeavesTheMachine();
});

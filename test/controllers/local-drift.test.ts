/**
 * Local mode: a DriftMonitor reads a real payload log (the model server's JSON Lines format) with the
 * real drift library, writes per-feature results, and starts exactly one TrainingRun; the run goes
 * through a pipeline engine and registers a version with lineage in the real local registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildReferenceSummary } from '../../components/drift/index.ts';
import { LocalRegistry } from '../../components/registry/local.ts';
import { startLocalOperator } from '../../controllers/local.ts';
import { payloadDriftChecker } from '../../controllers/backends/drift-check.ts';
import type { RunPipeline } from '../../controllers/backends/local-pipelines.ts';
import type { PipelineSpec } from '../../pipelines/spec.ts';
import type { DriftMonitorStatus, TrainingRunStatus } from '../../api/crds/index.ts';
import { FakeModelServer } from './fakes.ts';
import { writeFraudModel } from '../model-server/fixtures.ts';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}
function normal(r: () => number, mean: number, sd: number) {
  return mean + sd * Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

test('drift in the payload log → one TrainingRun → pipeline run → registered version with lineage', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gt-localdrift-'));
  try {
    const r = rng(7);
    const ref = Array.from({ length: 2000 }, () => [normal(r, 0, 1), normal(r, 5, 2)]);
    const summary = buildReferenceSummary([
      { name: 'amount', type: 'numeric', values: Float64Array.from(ref.map((x) => x[0])) },
      { name: 'age', type: 'numeric', values: Float64Array.from(ref.map((x) => x[1])) },
    ] as never);
    writeFileSync(join(dir, 'reference.json'), JSON.stringify(summary));
    // Current traffic: 'amount' shifted by 2 sd; 'age' unchanged.
    const now = Date.now();
    const lines: string[] = [];
    for (let i = 0; i < 600; i++) {
      const row = [normal(r, 2, 1), normal(r, 5, 2)];
      lines.push(
        JSON.stringify({
          ts: new Date(now - 60_000 + i * 50).toISOString(),
          model: 'fraud',
          version: '1',
          id: `r${i}`,
          inputs: { input: { shape: [1, 2], datatype: 'FP32', data: row } },
          outputs: { prob: { shape: [1, 1], datatype: 'FP32', data: [0.1] } },
        }),
      );
    }
    writeFileSync(join(dir, 'payload.jsonl'), lines.join('\n') + '\n');

    const registry = new LocalRegistry({ dir: join(dir, 'registry') });
    const runs: string[] = [];
    // The pipeline engine stands in as a function with runPipeline's contract: it writes the run record.
    const run: RunPipeline = async (spec, opts) => {
      runs.push(opts.runId!);
      // A real ONNX file: the operator registers only an ONNX artifact (export-onnx's 'onnx' output).
      const { path: model } = writeFraudModel(dir, 7, 'trained.onnx');
      const { sha256File } = await import('../../components/registry/local.ts');
      const digest = await sha256File(model);
      const hex = digest.replace(/^sha256:/, '');
      const storeDir = join(dir, '.ghosteam');
      mkdirSync(join(storeDir, 'store', 'sha256', hex.slice(0, 2)), { recursive: true });
      copyFileSync(model, join(storeDir, 'store', 'sha256', hex.slice(0, 2), hex));
      const rec = {
        version: 1,
        id: opts.runId!,
        pipeline: spec.name,
        pipelinePath: spec.path,
        status: 'Succeeded',
        params: {},
        gitCommit: null,
        startedAt: new Date().toISOString(),
        finishedAt: new Date().toISOString(),
        pid: process.pid,
        host: 'x',
        nodes: {
          export: {
            id: 'export',
            task: 'export',
            path: 'p',
            state: 'Succeeded',
            attempts: [],
            outputs: { onnx: { kind: 'model', digest, size: statSync(model).size } },
            outputParams: {},
          },
        },
      };
      mkdirSync(join(storeDir, 'runs', opts.runId!), { recursive: true });
      writeFileSync(join(storeDir, 'runs', opts.runId!, 'record.json'), JSON.stringify(rec));
      return rec as never;
    };
    const pipeline = {
      name: 'fraud-train',
      path: 'app/fraud-train',
      params: [],
      tasks: [],
      specHash: `sha256:${'1'.repeat(64)}`,
    } as unknown as PipelineSpec & { specHash: string };
    const op = await startLocalOperator({
      registry,
      modelServer: new FakeModelServer(),
      engine: { run, pipelines: new Map([[pipeline.name, pipeline]]), cwd: dir },
      driftCheck: payloadDriftChecker({ payloadLog: () => join(dir, 'payload.jsonl') }),
    });
    try {
      await op.apply({
        apiVersion: 'ghosteam.io/v1alpha1',
        kind: 'DriftMonitor',
        metadata: { name: 'fraud-drift', namespace: 'default' },
        spec: {
          model: 'fraud',
          reference: { uri: join(dir, 'reference.json'), format: 'jsonl' },
          features: [
            { name: 'amount', type: 'numerical' },
            { name: 'age', type: 'numerical' },
          ],
          test: 'psi',
          thresholds: { driftShare: 0.5 },
          window: { seconds: 3600, minSamples: 100 },
          schedule: '0 * * * *',
          action: { retrain: { pipeline: 'fraud-train', cooldownSeconds: 86400 } },
        },
      });
      const mon = await op.waitFor('DriftMonitor', 'default', 'fraud-drift', (o) => !!(o.status as DriftMonitorStatus | undefined)?.lastTriggeredRun);
      const st = mon.status as DriftMonitorStatus;
      assert.equal(st.datasetDrift, true);
      assert.equal(st.samples, 600);
      const byName = Object.fromEntries((st.features ?? []).map((f) => [f.name, f]));
      assert.equal(byName.amount.drifted, true);
      assert.equal(byName.age.drifted, false);
      assert.equal(byName.amount.test, 'psi');
      // What the UI's drift page draws: per-feature histograms (compacted for status) and the history of checks.
      for (const f of [byName.amount, byName.age]) {
        const h = f.histogram!;
        assert.equal(h.kind, 'numeric', `${f.name} has a numeric histogram`);
        assert.ok(h.reference.length >= 2 && h.reference.length <= 20, `${f.name}: ${h.reference.length} bins`);
        assert.equal(h.edges!.length, h.reference.length + 1);
        assert.equal(h.current.length, h.reference.length);
        for (const side of [h.reference, h.current]) assert.ok(Math.abs(side.reduce((a, b) => a + b, 0) - 1) < 1e-3, `${f.name}: shares sum to 1`);
      }
      const gap = (h: NonNullable<(typeof byName)['amount']['histogram']>) => h.reference.reduce((s, r, i) => s + Math.abs(r - h.current[i]), 0);
      assert.ok(gap(byName.amount.histogram!) > gap(byName.age.histogram!), "the drifted feature's histograms differ more than the stable one's");
      assert.equal(st.history?.length, 1, 'one check, one history point');
      assert.equal(st.history[0].time, st.lastCheckTime);
      assert.equal(st.history[0].samples, 600);
      assert.equal(st.history[0].driftShare, st.driftShare);
      assert.equal(st.history[0].datasetDrift, true);
      const tr = await op.waitFor('TrainingRun', 'default', st.lastTriggeredRun!, (o) => (o.status as TrainingRunStatus | undefined)?.phase === 'Succeeded');
      const v = (tr.status as TrainingRunStatus).registeredVersion!;
      const mv = await registry.getVersion('fraud', v);
      assert.equal(mv.lineage.reason, 'drift');
      assert.equal(mv.lineage.runId, st.lastTriggeredRun);
      assert.deepEqual(runs, [st.lastTriggeredRun]);
      assert.equal((await op.list('TrainingRun')).length, 1);
    } finally {
      await op.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The XGBoost example (examples/xgboost-python): a Python container component between built-ins.
// It synthesizes to YAML valid against the upstream Argo CRD with the contract paths the local run
// uses; run locally with the peers venv's real Python (pandas reads split's Arrow datasets, XGBoost
// trains, onnxmltools exports), it passes the built-in gate, is registered, and our model server
// serves it with the probabilities XGBoost itself computed.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { App } from 'cdk8s';
import { withSynthContext } from '../../api/context.ts';
import { compileArgo } from '../../pipelines/index.ts';
import { collectPipelines } from '../../pipelines/local/load.ts';
import { ArtifactStore } from '../../pipelines/local/store.ts';
import xgboostApp from '../../examples/xgboost-python/app.ts';
import { upstreamErrors } from '../constructs/upstream.ts';
import { watchServe } from '../model-server/fixtures.ts';
import { usePeers } from '../peers/index.ts';

const root = join(import.meta.dirname, '..', '..');
const appFile = join(root, 'examples', 'xgboost-python', 'app.ts');
const bin = join(root, 'bin', 'ghosteam.mjs');

test('the XGBoost example synthesizes to a valid WorkflowTemplate whose Python step gets the contract', () => {
  const app = new App();
  const [spec] = withSynthContext({ appDir: dirname(appFile) }, () => {
    xgboostApp(app);
    return collectPipelines([app]);
  });
  const wt = compileArgo(spec).workflowTemplate;
  assert.deepEqual(upstreamErrors(wt as never), []);
  const train = (
    wt.spec.templates as unknown as { name: string; container: { command: string[]; env: { name: string; value?: string }[]; image: string } }[]
  ).find((t) => t.name === 'train')!;
  assert.deepEqual(train.container.command, ['python', 'train.py']);
  assert.equal(train.container.image, 'ghcr.io/ghosteam/examples-xgboost:0.1.0');
  const env = Object.fromEntries(train.container.env.map((e) => [e.name, e.value]));
  assert.equal(env.GHOSTEAM_INPUT_TRAIN, '/tmp/inputs/train');
  assert.equal(env.GHOSTEAM_OUTPUT_MODEL, '/tmp/outputs/model');
  assert.equal(env.GHOSTEAM_PARAM_MAX_DEPTH, '{{inputs.parameters.maxDepth}}');
  assert.doesNotMatch(JSON.stringify(wt), /\.venv|examples\/xgboost-python/, 'local settings stay out of the cluster YAML');
});

const peers = await usePeers(['python']);

describe('the XGBoost example, run locally with the peers venv', { skip: peers.skip }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ghosteam-xgb-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test(
    "python step trains on split's datasets, passes the gate, registers; the served ONNX gives XGBoost's probabilities",
    { timeout: 10 * 60_000 },
    async () => {
      const env = {
        ...process.env,
        XGB_VENV: dirname(dirname(peers.python)),
        MLFLOW_TRACKING_URI: '',
        GHOSTEAM_REGISTRY_DIR: join(dir, 'registry'),
        FORCE_COLOR: '0',
      };
      const run = spawnSync(process.execPath, [bin, 'run', appFile, '--param', 'rounds=150', '--json'], { cwd: dir, env, encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr + run.stdout.slice(-4000));
      const events = run.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; runId: string; status?: string });
      const runId = events[0].runId;
      const rec = JSON.parse(readFileSync(join(dir, '.ghosteam', 'runs', runId, 'record.json'), 'utf8')) as {
        status: string;
        nodes: Record<string, { state: string; outputs: Record<string, { digest: string }>; outputParams: Record<string, unknown> }>;
      };
      assert.equal(rec.status, 'Succeeded');
      const train = rec.nodes.train;
      assert.ok((train.outputParams.auc as number) >= 0.78, `auc ${String(train.outputParams.auc)}`);
      assert.equal(train.outputParams.features && (train.outputParams.features as string[]).length, 16);
      assert.equal(rec.nodes.gate.outputParams.passed, true);
      assert.equal(rec.nodes.register.state, 'Succeeded');
      assert.equal(rec.nodes.register.outputParams.modelRef, 'fraud-xgb@1');

      const store = new ArtifactStore(join(dir, '.ghosteam'));
      const expected = JSON.parse(readFileSync(store.pathOf(train.outputs.predictions.digest), 'utf8')) as { rows: number[][]; probability: number[] };
      const child = spawn(process.execPath, [bin, 'serve', '--registry-dir', join(dir, 'registry'), '--model', 'fraud-xgb:1', '--port', '0'], { env });
      const served = watchServe(child);
      try {
        const url = await served.url;
        const res = await fetch(`${url}/v2/models/fraud-xgb/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: [{ name: 'input', shape: [expected.rows.length, 16], datatype: 'FP32', data: expected.rows.flat() }] }),
        });
        const body = (await res.json()) as { outputs: { name: string; shape: number[]; data: number[] }[] };
        assert.equal(res.status, 200, JSON.stringify(body));
        const probs = body.outputs.find((o) => o.name === 'probabilities')!;
        assert.deepEqual(probs.shape, [expected.rows.length, 2]);
        for (let i = 0; i < expected.rows.length; i++) {
          assert.ok(
            Math.abs(probs.data[i * 2 + 1] - expected.probability[i]) < 1e-5,
            `row ${i}: served ${probs.data[i * 2 + 1]}, XGBoost ${expected.probability[i]}`,
          );
        }
      } finally {
        child.kill('SIGTERM');
      }
    },
  );
});

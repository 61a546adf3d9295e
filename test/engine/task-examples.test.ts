// The multiclass (examples/wine) and regression (examples/diabetes) examples, end to end with the
// real CLI: `ghosteam run` trains, evaluates with the task's metrics, gates, exports ONNX and
// registers; `ghosteam serve` serves the registered model; its predictions on the held-out rows,
// scored by scikit-learn (the peers' venv, pins in test/peers/versions.json), give the metrics
// evaluate wrote. scikit-learn also fits its own model on the same split (read by pandas from the
// Arrow datasets split wrote): ours must be about as good. Both examples also synthesize to objects
// valid against the upstream CRDs (test/peers/dry-run-examples.test.ts applies every object to the
// real API server).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'cdk8s';
import { withSynthContext } from '../../api/context.ts';
import { readDataset } from '../../components/dataset/index.ts';
import { featureMatrix } from '../../components/train-tabular/features.ts';
import { synthApp } from '../../charts/synth.ts';
import { checkPipelineSpec } from '../../pipelines/check.ts';
import { collectPipelines } from '../../pipelines/local/load.ts';
import { ArtifactStore } from '../../pipelines/local/store.ts';
import wineApp from '../../examples/wine/app.ts';
import diabetesApp from '../../examples/diabetes/app.ts';
import { UPSTREAM_SCHEMAS, upstreamErrors } from '../constructs/upstream.ts';
import { watchServe } from '../model-server/fixtures.ts';
import { usePeers } from '../peers/index.ts';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'ghosteam.mjs');

interface Case {
  readonly example: string;
  readonly app: (app: App) => void;
  readonly model: string;
  readonly task: 'multiclass' | 'regression';
  readonly output: string;
  readonly width: number;
}
const cases: Case[] = [
  { example: 'wine', app: wineApp, model: 'wine', task: 'multiclass', output: 'probabilities', width: 3 },
  { example: 'diabetes', app: diabetesApp, model: 'diabetes', task: 'regression', output: 'prediction', width: 1 },
];

for (const c of cases) {
  test(`examples/${c.example} synthesizes objects valid against the upstream CRDs, the pipeline free of synth-time issues`, async () => {
    const dir = mkdtempSync(join(tmpdir(), `ghosteam-${c.example}-synth-`));
    const cwd = process.cwd();
    try {
      process.chdir(dir); // the app copies its shipped CSV under the current directory
      const { objects } = await synthApp(join(root, 'examples', c.example, 'app.ts'), { sourceCommit: false });
      const kinds = objects.map((o) => `${String(o.apiVersion)}/${String(o.kind)}`);
      for (const kind of ['argoproj.io/v1alpha1/WorkflowTemplate', 'serving.kserve.io/v1beta1/InferenceService', 'ghosteam.io/v1alpha1/Model'])
        assert.ok(kinds.includes(kind), `no ${kind} in ${kinds.join(', ')}`);
      for (const o of objects) {
        const type = `${String(o.apiVersion)}/${String(o.kind)}`;
        if (UPSTREAM_SCHEMAS[type]) assert.deepEqual(upstreamErrors(o as { apiVersion: string; kind: string }), [], type);
      }
      const app = new App();
      const [spec] = withSynthContext({ appDir: join(root, 'examples', c.example) }, () => {
        c.app(app);
        return collectPipelines([app]);
      });
      assert.deepEqual(checkPipelineSpec(spec), []);
      assert.ok(existsSync(join(dir, 'data', c.example, `${c.example}.csv`)), 'the shipped CSV is copied where the data param points');
    } finally {
      process.chdir(cwd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

const peers = await usePeers(['python']);

/** scikit-learn on what evaluate saw: the served predictions against the test set's labels, and a model of its own on the same split. */
const ORACLE = `
import json, sys, warnings
# The served probabilities are float32: they sum to 1 within float32 precision, not float64's.
warnings.filterwarnings('ignore', message='The y_prob values do not sum to one')
import numpy as np, pandas as pd
from sklearn import metrics
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
a = json.load(open(sys.argv[1]))
train, test = pd.read_feather(a['train']), pd.read_feather(a['test'])
y = test[a['label']].to_numpy()
pred = np.array(a['served'], dtype=np.float64).reshape(len(test), a['width'])
X, Xt = train[a['features']].to_numpy(), test[a['features']].to_numpy()
if a['task'] == 'multiclass':
    labels = [int(c) for c in a['classes']]
    out = dict(
        accuracy=metrics.accuracy_score(y, pred.argmax(1)),
        macroF1=metrics.f1_score(y, pred.argmax(1), average='macro'),
        logLoss=metrics.log_loss(y, pred, labels=labels),
        confusion=metrics.confusion_matrix(y, pred.argmax(1), labels=labels).tolist(),
        sklearnAccuracy=make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(X, train[a['label']]).score(Xt, y))
else:
    p = pred[:, 0]
    out = dict(
        rmse=metrics.root_mean_squared_error(y, p),
        mae=metrics.mean_absolute_error(y, p),
        r2=metrics.r2_score(y, p),
        sklearnR2=LinearRegression().fit(X, train[a['label']]).score(Xt, y))
out['rows'] = len(test)
print(json.dumps(out))
`;

describe('the wine and diabetes examples, run and served, scored by scikit-learn', { skip: peers.skip }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ghosteam-task-examples-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const c of cases) {
    test(`${c.example} (${c.task}): run → evaluate → gate → register → serve → predict; metrics match scikit-learn`, { timeout: 5 * 60_000 }, async (t) => {
      const cwd = join(dir, c.example);
      const registry = join(cwd, 'registry');
      const env = { ...process.env, MLFLOW_TRACKING_URI: '', GHOSTEAM_REGISTRY_DIR: registry, FORCE_COLOR: '0' };
      const appFile = join(root, 'examples', c.example, 'app.ts');
      mkdirSync(cwd, { recursive: true });
      const run = spawnSync(process.execPath, [bin, 'run', appFile, '--json'], { cwd, env, encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr + run.stdout.slice(-4000));
      const runId = (JSON.parse(run.stdout.trim().split('\n')[0]) as { runId: string }).runId;
      const rec = JSON.parse(readFileSync(join(cwd, '.ghosteam', 'runs', runId, 'record.json'), 'utf8')) as {
        status: string;
        nodes: Record<string, { state: string; outputs: Record<string, { digest: string }>; outputParams: Record<string, unknown> }>;
      };
      assert.equal(rec.status, 'Succeeded');
      for (const t of ['ingest', 'validate', 'split', 'train', 'evaluate', 'gate', 'export-onnx', 'register']) assert.equal(rec.nodes[t].state, 'Succeeded', t);
      assert.equal(rec.nodes.train.outputParams.task, c.task);
      assert.equal(rec.nodes.evaluate.outputParams.task, c.task);
      assert.equal(rec.nodes.gate.outputParams.passed, true);
      assert.equal(rec.nodes.register.outputParams.modelRef, `${c.model}@1`);

      const store = new ArtifactStore(join(cwd, '.ghosteam'));
      const at = (task: string, output: string) => store.pathOf(rec.nodes[task].outputs[output].digest);
      const evaluated = JSON.parse(readFileSync(at('evaluate', 'metrics'), 'utf8')) as {
        task: string;
        rows: number;
        metrics: Record<string, number>;
        confusion?: number[][];
        classes?: string[];
      };
      assert.equal(evaluated.task, c.task);
      const features = rec.nodes['export-onnx'].outputParams.features as string[];
      const test_ = await readDataset(at('split', 'test'));
      const x = featureMatrix(test_, features, 'test');

      const child = spawn(process.execPath, [bin, 'serve', '--registry-dir', registry, '--model', `${c.model}:1`, '--port', '0'], { env });
      const served = watchServe(child);
      let out: { name: string; shape: number[]; data: number[] };
      try {
        const url = await served.url;
        const res = await fetch(`${url}/v2/models/${c.model}/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: [{ name: 'input', shape: [test_.rows, features.length], datatype: 'FP32', data: Array.from(x) }] }),
        });
        const body = (await res.json()) as { outputs: { name: string; shape: number[]; data: number[] }[] };
        assert.equal(res.status, 200, JSON.stringify(body));
        out = body.outputs.find((o) => o.name === c.output)!;
        assert.ok(out, `no '${c.output}' output in ${JSON.stringify(body.outputs.map((o) => o.name))}`);
        assert.deepEqual(out.shape, [test_.rows, c.width]);
      } finally {
        child.kill('SIGTERM');
      }

      const args = join(cwd, 'oracle.json');
      writeFileSync(
        args,
        JSON.stringify({
          train: at('split', 'train'),
          test: at('split', 'test'),
          label: 'target',
          features,
          task: c.task,
          width: c.width,
          classes: evaluated.classes ?? ['0', '1', '2'],
          served: out.data,
        }),
      );
      const sk = JSON.parse(execFileSync(peers.python, ['-c', ORACLE, args], { encoding: 'utf8' })) as Record<string, number & number[][]>;
      assert.equal(evaluated.rows, sk.rows);
      t.diagnostic(`evaluate ${JSON.stringify(evaluated.metrics)}; scikit-learn ${JSON.stringify(sk)}`);
      // evaluate scores with the float64 DenseNet forward pass, the server with onnxruntime in float32.
      const close = (name: string, tol: number) =>
        assert.ok(
          Math.abs(evaluated.metrics[name] - sk[name]) <= tol * Math.max(1, Math.abs(sk[name])),
          `${name}: evaluate ${evaluated.metrics[name]}, scikit-learn on the served predictions ${sk[name]}`,
        );
      if (c.task === 'multiclass') {
        assert.equal(evaluated.metrics.accuracy, sk.accuracy);
        close('macroF1', 1e-9);
        close('logLoss', 1e-4);
        assert.deepEqual(evaluated.confusion, sk.confusion);
        assert.ok(evaluated.metrics.accuracy >= sk.sklearnAccuracy - 0.06, `accuracy ${evaluated.metrics.accuracy}, scikit-learn's own ${sk.sklearnAccuracy}`);
      } else {
        close('rmse', 1e-4);
        close('mae', 1e-4);
        close('r2', 1e-4);
        assert.ok(evaluated.metrics.r2 >= sk.sklearnR2 - 0.05, `r2 ${evaluated.metrics.r2}, scikit-learn's least squares ${sk.sklearnR2}`);
      }
    });
  }
});

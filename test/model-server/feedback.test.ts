/**
 * Delayed ground truth on the model server: POST /v2/models/{name}/feedback joins labels to answered
 * predictions by request id; quality per version over the window goes to the stats and /metrics.
 * Quality is checked against scikit-learn (the peers' Python) on the same predictions and labels;
 * the server is real (onnxruntime, HTTP), the feedback log is a real file, reopened after close.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { computeQuality, parseFeedback, QualityMonitor } from '../../components/model-server/quality.ts';
import { startModelServer, type ModelServer } from '../../components/model-server/server.ts';
import { mulberry32 } from '../../components/random.ts';
import { usePeers } from '../peers/index.ts';
import { get, inferBody, post, rows, tempDir, writeFraudModel } from './fixtures.ts';

const peers = await usePeers(['python']);
const py = (code: string, input: unknown): any => JSON.parse(execFileSync(peers.python, ['-c', code], { input: JSON.stringify(input), encoding: 'utf8' }));

describe('parseFeedback', () => {
  const now = Date.parse('2026-12-02T04:00:00Z');
  const table: Array<[string, unknown, string]> = [
    ['no id', { label: 1 }, "feedback.id must be the request id (a non-empty string: the 'id' of the inference answer); got a undefined"],
    ['a numeric id', { id: 7, label: 1 }, "feedback.id must be the request id (a non-empty string: the 'id' of the inference answer); got 7"],
    ['a string label', { id: 'a', label: 'fraud' }, 'feedback.label must be a number or a boolean (or an array of them, one per row); got the string "fraud"'],
    ['a null label', { id: 'a', label: null }, 'feedback.label must be a number or a boolean (or an array of them, one per row); got null'],
    [
      'a bad item in a batch',
      [
        { id: 'a', label: 1 },
        { id: 'b', label: [1, 'x'] },
      ],
      'feedback[1].label[1] must be a number or a boolean; got the string "x"',
    ],
    [
      'a bad timestamp',
      { id: 'a', label: 1, timestamp: 'yesterday' },
      'feedback.timestamp must be an RFC 3339 time ("2026-12-02T03:00:00Z") or epoch milliseconds; got the string "yesterday"',
    ],
    ['an unknown field', { id: 'a', label: 1, lable: 0 }, 'feedback.lable is not a feedback field; the fields are id, label, timestamp and row'],
    ['a negative row', { id: 'a', label: 1, row: -1 }, 'feedback.row must be a row index (an integer >= 0); got -1'],
    ['row with a label array', { id: 'a', label: [1], row: 0 }, 'feedback: give either a label array (one per row) or a row with one label, not both'],
    ['an empty batch', [], 'the feedback body is an empty array; send {"id": "<request id>", "label": <label>} or an array of them'],
    ['a string body', 'a', 'feedback must be a JSON object like {"id": "<request id>", "label": 1}; got the string "a"'],
  ];
  for (const [what, body, message] of table) test(`refuses ${what}`, () => assert.throws(() => parseFeedback(body, now), { status: 400, message }));

  test('takes one item, a batch, a row and a timestamp', () => {
    assert.deepEqual(parseFeedback({ id: 'a', label: true }, now), [{ id: 'a', label: true, timestamp: now }]);
    assert.deepEqual(
      parseFeedback(
        [
          { id: 'a', label: [0, 1], timestamp: '2026-12-02T03:00:00Z' },
          { id: 'b', row: 2, label: 3.5 },
        ],
        now,
      ),
      [
        { id: 'a', label: [0, 1], timestamp: Date.parse('2026-12-02T03:00:00Z') },
        { id: 'b', row: 2, label: 3.5, timestamp: now },
      ],
    );
  });

  test('a batch over maxItems is a 413', () => {
    assert.throws(
      () =>
        parseFeedback(
          [
            { id: 'a', label: 1 },
            { id: 'b', label: 1 },
          ],
          now,
          1,
        ),
      {
        status: 413,
        message: 'the feedback body has 2 items; at most 1 go in one request, send the rest in further requests',
      },
    );
  });
});

describe('quality metrics against scikit-learn', { skip: peers.skip }, () => {
  const r = mulberry32(5);
  test('multiclass accuracy and macro F1', () => {
    const k = 4;
    const samples = Array.from({ length: 600 }, () => {
      const y = Math.floor(r() * k);
      const p = Array.from({ length: k }, (_, j) => r() + (j === y ? 0.35 : 0));
      return { y, p };
    });
    const ours = computeQuality('multiclass', samples, k);
    const ref = py(
      `import json,sys
from sklearn import metrics
d=json.load(sys.stdin); y=[s['y'] for s in d]; yh=[max(range(len(s['p'])), key=lambda j: s['p'][j]) for s in d]
print(json.dumps(dict(accuracy=metrics.accuracy_score(y,yh), macroF1=metrics.f1_score(y,yh,average='macro'))))`,
      samples,
    );
    assert.ok(Math.abs(ours.accuracy! - ref.accuracy) < 1e-12, `accuracy ${ours.accuracy} vs ${ref.accuracy}`);
    assert.ok(Math.abs(ours.macroF1! - ref.macroF1) < 1e-12, `macroF1 ${ours.macroF1} vs ${ref.macroF1}`);
  });

  test('regression RMSE and MAE', () => {
    const samples = Array.from({ length: 500 }, () => {
      const y = r() * 100;
      return { y, p: [y + (r() - 0.5) * 20] };
    });
    const ours = computeQuality('regression', samples, 1);
    const ref = py(
      `import json,sys,math
from sklearn import metrics
d=json.load(sys.stdin); y=[s['y'] for s in d]; p=[s['p'][0] for s in d]
print(json.dumps(dict(rmse=math.sqrt(metrics.mean_squared_error(y,p)), mae=metrics.mean_absolute_error(y,p))))`,
      samples,
    );
    assert.ok(Math.abs(ours.rmse! - ref.rmse) < 1e-9);
    assert.ok(Math.abs(ours.mae! - ref.mae) < 1e-9);
  });

  test('binary metrics and a two-column classifier (probability of class 1 is column 1)', () => {
    const samples = Array.from({ length: 400 }, () => {
      const y = r() < 0.4 ? 1 : 0;
      const p1 = Math.min(1, Math.max(0, 0.4 + (y ? 0.2 : -0.15) + (r() - 0.5) * 0.7));
      return { y, p: [1 - p1, p1] };
    });
    const ours = computeQuality('binary', samples, 2);
    const ref = binaryOracle(
      samples.map((s) => s.y),
      samples.map((s) => s.p[1]),
    );
    for (const k of Object.keys(ref) as Array<keyof typeof ref>) assert.ok(Math.abs(ours[k]! - ref[k]) < 1e-9, `${k}: ours ${ours[k]}, sklearn ${ref[k]}`);
  });
});

/** scikit-learn's binary metrics at threshold 0.5, and the expected calibration error from calibration_curve's bins. */
function binaryOracle(y: number[], p: number[]): { accuracy: number; precision: number; recall: number; f1: number; rocAuc: number; calibrationError: number } {
  return py(
    `import json,sys
import numpy as np
from sklearn import metrics
from sklearn.calibration import calibration_curve
d=json.load(sys.stdin); y=np.array(d['y']); p=np.array(d['p']); yh=(p>=0.5).astype(int)
fr,mp=calibration_curve(y,p,n_bins=10,strategy='uniform')
# calibration_curve's own binning (searchsorted on the inner edges), for the bin weights
ids=np.searchsorted(np.linspace(0.0,1.0,11)[1:-1],p); counts=np.bincount(ids,minlength=10); counts=counts[counts>0]
ece=float(np.sum(counts/len(p)*np.abs(fr-mp)))
print(json.dumps(dict(accuracy=metrics.accuracy_score(y,yh),precision=metrics.precision_score(y,yh,zero_division=0),recall=metrics.recall_score(y,yh,zero_division=0),f1=metrics.f1_score(y,yh,zero_division=0),rocAuc=metrics.roc_auc_score(y,p),calibrationError=ece)))`,
    { y, p },
  );
}

describe('POST /v2/models/{name}/feedback', () => {
  const dir = tempDir('ghosteam-feedback-');
  const model = writeFraudModel(dir, 1);
  const file = join(dir, 'feedback.jsonl');
  let server: ModelServer;
  const infer = async (n: number, seed: number, id?: string, version?: string): Promise<{ id: string; scores: number[] }> => {
    const path = version ? `/v2/models/fraud/versions/${version}/infer` : '/v2/models/fraud/infer';
    const res = await post(server.url + path, inferBody(rows(n, seed), id ? { id } : {}));
    assert.equal(res.status, 200, JSON.stringify(res.json));
    return { id: res.json.id, scores: res.json.outputs[0].data };
  };
  const feedback = (body: unknown) => post(`${server.url}/v2/models/fraud/feedback`, JSON.stringify(body));

  before(async () => {
    server = await startModelServer({
      port: 0,
      models: [{ name: 'fraud', version: '1', path: model.path }],
      processMetrics: false,
      quality: { file, windowMs: 3_600_000 },
    });
  });
  after(() => server?.close());

  test('joins labels to predictions; quality equals scikit-learn on the same pairs', { skip: peers.skip }, async () => {
    const r = mulberry32(9);
    const ys: number[] = [];
    const ps: number[] = [];
    const batch: Array<{ id: string; label: number }> = [];
    for (let i = 0; i < 120; i++) {
      const { id, scores } = await infer(1, 1000 + i);
      // Labels that agree with the model more often than not, so every metric is informative.
      const y = r() < 0.75 ? (scores[0] >= 0.5 ? 1 : 0) : scores[0] >= 0.5 ? 0 : 1;
      ys.push(y);
      ps.push(scores[0]);
      batch.push({ id, label: y });
    }
    const res = await feedback(batch);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(res.json, { accepted: 120, matched: 120, duplicates: 0, corrected: 0, late: 0, unmatched: 0, unmatchedIds: [] });
    const stats = await get(`${server.url}/admin/models/fraud/stats`);
    const q = stats.json.versions['1'].quality;
    assert.equal(q.task, 'binary');
    assert.equal(q.samples, 120);
    const ref = binaryOracle(ys, ps);
    for (const k of Object.keys(ref) as Array<keyof typeof ref>)
      assert.ok(Math.abs(q.metrics[k] - ref[k]) < 1e-6, `${k}: ours ${q.metrics[k]}, sklearn ${ref[k]}`);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const acc = /^ghosteam_model_quality\{model="fraud",version="1",metric="accuracy"\} (\S+)$/m.exec(metrics);
    assert.ok(acc, metrics);
    assert.ok(Math.abs(Number(acc[1]) - ref.accuracy) < 1e-9);
    assert.match(metrics, /^ghosteam_model_quality_samples\{model="fraud",version="1"\} 120$/m);
    assert.match(metrics, /^ghosteam_model_feedback_total\{model="fraud",version="1",outcome="matched"\} 120$/m);
  });

  test('an unknown request id is a 404 that counts it and keeps the label; a prediction logged later joins it', async () => {
    const res = await feedback({ id: 'later-1', label: 1 });
    assert.equal(res.status, 404);
    assert.equal(res.json.unmatched, 1);
    assert.deepEqual(res.json.unmatchedIds, ['later-1']);
    assert.match(
      res.json.error,
      /^no prediction of model 'fraud' has the request id 'later-1' \(unknown, or older than the last 100000 predictions\); the label is kept/,
    );
    assert.equal(server.quality!.pendingLabels, 1);
    const before = server.quality!.quality('fraud', '1')?.samples ?? 0;
    await infer(1, 77, 'later-1');
    assert.equal(server.quality!.pendingLabels, 0);
    assert.equal(server.quality!.quality('fraud', '1')!.samples, before + 1);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^ghosteam_model_feedback_total\{model="fraud",version="",outcome="unmatched"\} 1$/m);
  });

  test('KServe V1: a predict sent with X-Request-Id takes labels by that id; one without (its answer names no id) is not remembered', async () => {
    const v1 = (headers: Record<string, string>) => post(`${server.url}/v1/models/fraud:predict`, JSON.stringify({ instances: rows(1, 4242) }), headers);
    const n0 = server.quality!.rememberedPredictions;
    const anonymous = await v1({});
    assert.equal(anonymous.status, 200, JSON.stringify(anonymous.json));
    assert.equal(server.quality!.rememberedPredictions, n0, 'a prediction no client can name is not kept');
    const named = await v1({ 'x-request-id': 'v1-req-1' });
    assert.equal(named.status, 200, JSON.stringify(named.json));
    assert.equal(server.quality!.rememberedPredictions, n0 + 1);
    const res = await feedback({ id: 'v1-req-1', label: 1 });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.matched, 1);
  });

  test('a label of the wrong type is a 400 naming it, and nothing of that request is taken', async () => {
    const { id } = await infer(1, 5);
    const other = await infer(1, 6);
    const res = await feedback([
      { id: other.id, label: 1 },
      { id, label: 7 },
    ]);
    assert.equal(res.status, 400);
    assert.equal(res.json.error, "feedback[1].label is 7, but model 'fraud' version '1' is a binary model: send 0 or 1 (or false/true)");
    // The first item was not taken: sending it now is a match, not a duplicate.
    const again = await feedback({ id: other.id, label: 1 });
    assert.equal(again.json.matched, 1);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /outcome="invalid"\} [1-9]/);
  });

  test('duplicates are counted and ignored; a different label corrects; rows of a batch request', async () => {
    const { id } = await infer(3, 11);
    assert.deepEqual((await feedback({ id, label: [1, 0, 1] })).json, {
      accepted: 3,
      matched: 3,
      duplicates: 0,
      corrected: 0,
      late: 0,
      unmatched: 0,
      unmatchedIds: [],
    });
    const n = server.quality!.quality('fraud', '1')!.samples;
    assert.equal((await feedback({ id, label: [1, 0, 1] })).json.duplicates, 3);
    const fix = await feedback({ id, row: 1, label: 1 });
    assert.equal(fix.json.corrected, 1);
    assert.equal(server.quality!.quality('fraud', '1')!.samples, n);
    const bad = await feedback({ id, label: [1, 0] });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error, `feedback.label has 2 labels but request '${id}' had 3 rows; send one label per row, or one label with its row`);
    const single = await feedback({ id, label: 1 });
    assert.equal(single.json.error, `feedback: request '${id}' had 3 rows; send a label array (one per row) or give the row`);
  });

  test('a label older than the window is late: joined and logged, not in the window', async () => {
    const { id } = await infer(1, 12);
    const n = server.quality!.quality('fraud', '1')!.samples;
    const res = await feedback({ id, label: 0, timestamp: new Date(Date.now() - 2 * 3_600_000).toISOString() });
    assert.equal(res.json.late, 1);
    assert.equal(server.quality!.quality('fraud', '1')!.samples, n);
  });

  test('a flood of concurrent feedback: every label answered 200 and counted, none lost', async () => {
    const ids = await Promise.all(Array.from({ length: 150 }, (_, i) => infer(1, 3000 + i).then((x) => x.id)));
    const n = server.quality!.quality('fraud', '1')!.samples;
    const answers = await Promise.all(ids.map((id) => feedback({ id, label: 1 })));
    assert.deepEqual(
      answers.map((a) => a.status),
      ids.map(() => 200),
    );
    assert.equal(server.quality!.quality('fraud', '1')!.samples, n + 150);
    const logged = readFileSync(file, 'utf8').trim().split('\n');
    for (const id of ids)
      assert.ok(
        logged.some((l) => l.includes(`"id":"${id}"`)),
        `label for ${id} is in the log`,
      );
  });

  test('feedback for a model that is not loaded is a 404; GET is a 405', async () => {
    const res = await post(`${server.url}/v2/models/nope/feedback`, JSON.stringify({ id: 'a', label: 1 }));
    assert.equal(res.status, 404);
    assert.match(res.json.error, /model 'nope' is not loaded/);
    assert.equal((await get(`${server.url}/v2/models/fraud/feedback`)).status, 405);
  });

  test('the log survives a restart: windows, duplicates and pending labels come back', async () => {
    const before = server.quality!.quality('fraud', '1')!;
    await feedback({ id: 'never-seen', label: 0 });
    const { id } = await infer(1, 99);
    await feedback({ id, label: 1 });
    const after = server.quality!.quality('fraud', '1')!;
    assert.equal(after.samples, before.samples + 1);
    await server.close();
    const reopened = await QualityMonitor.open({ file, windowMs: 3_600_000 });
    try {
      const q = reopened.quality('fraud', '1')!;
      assert.equal(q.samples, after.samples);
      assert.deepEqual(q.metrics, after.metrics);
      assert.equal(reopened.pendingLabels, 1);
      // The same label again after the restart is a duplicate, once the prediction is known again.
      reopened.observe('fraud', '1', id, { output: { shape: [1, 1], datatype: 'FP32', data: [0.5] } });
      const res = await reopened.feedback('fraud', { id, label: 1 });
      assert.equal(res.duplicates, 1);
    } finally {
      await reopened.close();
    }
  });
});

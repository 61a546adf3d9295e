// Delayed labels at the payload sink: the real model server posts its CloudEvents to the real sink,
// labels arrive later at the sink's POST /v2/models/{name}/feedback and join the logged predictions
// by request id, also after the sink restarts (it re-reads its own payload log); the model server
// does the same from its payload-log file.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startPayloadSink } from '../../components/payload-sink/index.ts';
import { startModelServer } from '../../components/model-server/index.ts';
import { tempDir, writeFraudModel, rows, inferBody, post } from '../model-server/fixtures.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const dir = () => {
  const d = tempDir('ghosteam-sink-fb-');
  dirs.push(d);
  return d;
};

describe('feedback at the payload sink', () => {
  test('labels join the predictions the sink logged, before and after a restart; unknown ids are 404 and counted', async () => {
    const d = dir();
    const file = join(d, 'payloads.jsonl');
    let sink = await startPayloadSink({ port: 0, file });
    const server = await startModelServer({
      port: 0,
      processMetrics: false,
      quality: false,
      models: [{ name: 'fraud', version: '3', path: writeFraudModel(d, 4).path }],
      payloadLog: { sinkUrl: `${sink.url}/`, flushIntervalMs: 10 },
    });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await post(`${server.url}/v2/models/fraud/infer`, inferBody(rows(1, 40 + i)));
      ids.push(res.json.id);
    }
    await server.close(); // posts what's buffered
    const fb = (body: unknown) => post(`${sink.url}/v2/models/fraud/feedback`, JSON.stringify(body));
    const first = await fb(ids.slice(0, 3).map((id, i) => ({ id, label: i % 2 })));
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.equal(first.json.matched, 3);
    const unknown = await fb({ id: 'nobody', label: 1 });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.unmatched, 1);
    const bad = await fb({ id: ids[3], label: 'yes' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error, 'feedback.label must be a number or a boolean (or an array of them, one per row); got the string "yes"');
    const metrics = await (await fetch(`${sink.url}/metrics`)).text();
    assert.match(metrics, /^ghosteam_model_quality_samples\{model="fraud",version="3"\} 3$/m);
    assert.match(metrics, /^ghosteam_model_feedback_total\{model="fraud",version="",outcome="unmatched"\} 1$/m);
    await sink.close();

    sink = await startPayloadSink({ port: 0, file });
    try {
      const again = await fb([
        { id: ids[0], label: 0 },
        { id: ids[4], label: 1 },
      ]);
      assert.equal(again.status, 200, JSON.stringify(again.json));
      assert.equal(again.json.duplicates, 1, 'the label sent before the restart is known');
      assert.equal(again.json.matched, 1, 'a prediction logged before the restart still joins');
      const m = await (await fetch(`${sink.url}/metrics`)).text();
      assert.match(m, /^ghosteam_model_quality_samples\{model="fraud",version="3"\} 4$/m);
    } finally {
      await sink.close();
    }
  });

  test('the model server re-reads its payload-log file: a request answered before a restart gets its label', async () => {
    const d = dir();
    const model = writeFraudModel(d, 5);
    const payloads = join(d, 'payloads.jsonl');
    const opts = {
      port: 0,
      processMetrics: false,
      models: [{ name: 'fraud', version: '1', path: model.path }],
      payloadLog: { file: payloads, flushIntervalMs: 10 },
      quality: { file: join(d, 'feedback.jsonl') },
    };
    let server = await startModelServer(opts);
    const res = await post(`${server.url}/v2/models/fraud/infer`, inferBody(rows(1, 1)));
    await server.close();
    server = await startModelServer(opts);
    try {
      const fb = await post(`${server.url}/v2/models/fraud/feedback`, JSON.stringify({ id: res.json.id, label: 1 }));
      assert.equal(fb.status, 200, JSON.stringify(fb.json));
      assert.equal(fb.json.matched, 1);
    } finally {
      await server.close();
    }
  });
});

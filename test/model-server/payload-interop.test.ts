// The server's payload log must be readable by the drift monitor's reader (components/drift), unchanged.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startModelServer } from '../../components/model-server/index.ts';
import { readPayloadLog } from '../../components/drift/payload-log.ts';
import { denseNetForward } from '../../components/onnx/index.ts';
import { tempDir, writeFraudModel, rows, inferBody, post } from './fixtures.ts';

describe('payload log → drift reader', () => {
  test('every served row comes back with its features and prediction, in order', async () => {
    const dir = tempDir();
    const m = writeFraudModel(dir, 9);
    const file = join(dir, 'payload.jsonl');
    const s = await startModelServer({ port: 0, processMetrics: false, models: [{ name: 'fraud', path: m.path }], payloadLog: { file, flushIntervalMs: 10 } });
    const sent = [rows(2, 1), rows(3, 2), rows(1, 3)];
    for (const x of sent) assert.equal((await post(`${s.url}/v2/models/fraud/infer`, inferBody(x))).status, 200);
    await s.close(); // flushes the log
    const features = m.net.featureNames;
    const batches = [];
    for await (const b of readPayloadLog(file, { features, outputTensor: 'probability', outputNames: ['p'], model: 'fraud', version: '1' })) batches.push(b);
    assert.deepEqual(
      batches.map((b) => b.rows),
      [2, 3, 1],
    );
    batches.forEach((b, i) => {
      assert.equal(b.width, 17);
      const want = denseNetForward(m.net, sent[i]);
      for (let r = 0; r < b.rows; r++) {
        for (let c = 0; c < 16; c++) assert.equal(b.data[r * 17 + c], sent[i][r][c]);
        assert.ok(Math.abs((b.data[r * 17 + 16] as number) - want[r]) < 1e-5);
      }
    });
  });
});

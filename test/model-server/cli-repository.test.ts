// `ghosteam serve --registry-dir DIR` opens the registry even when every --model is a file, so the
// model repository extension can load registry models by name at runtime.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { LocalRegistry } from '../../components/registry/index.ts';
import { denseNetForward } from '../../components/onnx/index.ts';
import { tempDir, writeFraudModel, rows, inferBody, post, watchServe } from './fixtures.ts';

const bin = join(import.meta.dirname, '../../bin/ghosteam.mjs');

describe('ghosteam serve with a registry and the repository extension', () => {
  test('loads a registry model by name through POST /v2/repository/models/NAME/load, then serves it', async () => {
    const dir = tempDir();
    const registryDir = join(dir, 'registry');
    const churn = writeFraudModel(dir, 12);
    await new LocalRegistry({ dir: registryDir }).registerVersion('churn', { artifactPath: churn.path });
    const fraud = writeFraudModel(dir, 11);
    const child = spawn(process.execPath, [bin, 'serve', '--model', `fraud=${fraud.path}`, '--port', '0', '--registry-dir', registryDir], {
      env: { ...process.env, MLFLOW_TRACKING_URI: '' },
    });
    const served = watchServe(child);
    try {
      const url = await served.url;
      const index = await post(`${url}/v2/repository/index`, '');
      assert.deepEqual(index.json, [
        { name: 'churn', state: 'UNAVAILABLE', reason: 'in the local registry (latest version 1); not loaded' },
        { name: 'fraud', version: '1', state: 'READY', reason: '' },
      ]);
      assert.deepEqual((await post(`${url}/v2/repository/models/churn/load`, '')).json, { name: 'churn', load: true, versions: ['1'] });
      const x = rows(2, 5);
      const r = await post(`${url}/v2/models/churn/infer`, inferBody(x));
      assert.equal(r.status, 200);
      denseNetForward(churn.net, x).forEach((p, i) => assert.ok(Math.abs(r.json.outputs[0].data[i] - p) < 1e-5));
    } finally {
      const code = await new Promise<number | null>((resolve) => {
        child.on('exit', resolve);
        child.kill('SIGTERM');
      });
      assert.equal(code, 0, served.output());
    }
  });
});

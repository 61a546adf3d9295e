/**
 * The shared registry suite against a real MLflow tracking server from the peers harness
 * (`npm run peers:up`, or MLFLOW_TRACKING_URI=http://127.0.0.1:PORT of a server started by hand
 * with `mlflow server --host 127.0.0.1 --artifacts-destination DIR`).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { MlflowError, MlflowRegistry, RegistryError } from '../../components/registry/index.ts';
import { usePeers } from '../peers/index.ts';
import { runRegistrySuite } from './suite.ts';

const peers = await usePeers(['mlflow']);
const peer = { url: peers.mlflowUrl, skip: peers.skip };
const runId = randomBytes(4).toString('hex');
const cacheDir = mkdtempSync(join(tmpdir(), 'ghosteam-mlflow-cache-'));

runRegistrySuite(
  'mlflow',
  async () => ({
    registry: new MlflowRegistry({ trackingUri: peer.url, experiment: `ghosteam-test-${runId}`, cacheDir }),
    model: (b) => `${b}-${runId}`,
  }),
  { skip: peer.skip },
);

describe('MLflow registry specifics', { skip: peer.skip }, () => {
  test('an MLflow error keeps its code and message', async () => {
    const reg = new MlflowRegistry({ trackingUri: peer.url, experiment: `ghosteam-test-${runId}`, cacheDir });
    const f = join(cacheDir, 'm.onnx');
    writeFileSync(f, 'x');
    await reg.registerVersion(`dup-${runId}`, { artifactPath: f });
    // Creating the registered model again is what MLflow answers with RESOURCE_ALREADY_EXISTS.
    const res = await fetch(`${peer.url}/api/2.0/mlflow/registered-models/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: `dup-${runId}` }),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error_code: string }).error_code, 'RESOURCE_ALREADY_EXISTS');
    // Through the client, the same condition becomes a clear MlflowError.
    const client = reg as unknown as { call: (op: string, p: Promise<unknown>) => Promise<unknown> };
    await assert.rejects(
      client.call(
        'registered-models/create',
        Promise.resolve({
          error: { error_code: 'RESOURCE_ALREADY_EXISTS', message: `Registered Model (name=dup-${runId}) already exists.` },
          response: new Response(null, { status: 400 }),
        }),
      ),
      (err: unknown) => {
        assert.ok(err instanceof MlflowError);
        assert.equal(err.code, 'ALREADY_EXISTS');
        assert.equal(
          err.message,
          `MLflow registered-models/create failed: RESOURCE_ALREADY_EXISTS (HTTP 400): Registered Model (name=dup-${runId}) already exists.`,
        );
        return true;
      },
    );
  });

  test('an unreachable server is named in the error', async () => {
    // A port that was just free: nothing listens there.
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const reg = new MlflowRegistry({ trackingUri: `http://127.0.0.1:${port}`, cacheDir });
    await assert.rejects(reg.listModels(), (err: unknown) => {
      assert.ok(err instanceof RegistryError);
      assert.equal(err.code, 'UNAVAILABLE');
      assert.equal(
        err.message,
        `cannot reach MLflow at http://127.0.0.1:${port} (registered-models/search): ECONNREFUSED; check MLFLOW_TRACKING_URI and that the server is up`,
      );
      return true;
    });
  });
});

const withPython = await usePeers(['mlflow', 'python']);

describe("MLflow's own client reads what the registry wrote", { skip: withPython.skip }, () => {
  test('models:/NAME@ALIAS downloads the same bytes, with metrics on the run', async () => {
    const reg = new MlflowRegistry({ trackingUri: withPython.mlflowUrl, experiment: `ghosteam-test-${runId}`, cacheDir });
    const name = `pyread-${runId}`;
    const f = join(cacheDir, 'model.onnx');
    const bytes = randomBytes(5000);
    writeFileSync(f, bytes);
    const mv = await reg.registerVersion(name, { artifactPath: f, metrics: { rocAuc: 0.87 } });
    await reg.setAlias(name, 'champion', mv.version);
    const out = execFileSync(
      withPython.python,
      [
        '-c',
        `import mlflow, json, os, hashlib
from mlflow import MlflowClient
mlflow.set_tracking_uri(${JSON.stringify(withPython.mlflowUrl)})
c = MlflowClient()
v = c.get_model_version_by_alias(${JSON.stringify(name)}, 'champion')
d = mlflow.artifacts.download_artifacts(artifact_uri=f'models:/${name}@champion', dst_path=${JSON.stringify(join(cacheDir, 'py'))})
files = sorted(f for f in os.listdir(d) if f != 'registered_model_meta')  # MLflow 3 writes this on a models:/ download
digest = 'sha256:' + hashlib.sha256(open(os.path.join(d, 'model.onnx'), 'rb').read()).hexdigest()
print(json.dumps({'version': v.version, 'files': files, 'digest': digest, 'auc': c.get_run(v.run_id).data.metrics['rocAuc']}))`,
      ],
      { encoding: 'utf8', env: { ...process.env, MLFLOW_TRACKING_URI: withPython.mlflowUrl } },
    );
    const r = JSON.parse(out.trim().split('\n').pop()!);
    // The MLmodel beside the file makes the version an MLflow model of the onnx flavor.
    assert.deepEqual(r, { version: String(mv.version), files: ['MLmodel', 'model.onnx'], digest: mv.digest, auc: 0.87 });
  });
});

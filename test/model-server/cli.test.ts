import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { denseNetForward } from '../../components/onnx/index.ts';
import { tempDir, writeFraudModel, rows, inferBody, post, watchServe } from './fixtures.ts';
import { LocalRegistry } from '../../components/registry/index.ts';

const bin = join(import.meta.dirname, '../../bin/ghosteam.mjs');

describe('ghosteam serve', () => {
  test('--help exits 0 and starts with Usage:', () => {
    const r = spawnSync(process.execPath, [bin, 'serve', '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^Usage: ghosteam serve/);
    assert.match(r.stdout, /--token-env <NAME>/);
  });

  test('without a model it says what to pass', () => {
    const r = spawnSync(process.execPath, [bin, 'serve'], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.equal(
      r.stderr.trim(),
      'error: no model to serve; pass --model fraud@champion or --model ./model.onnx, or --registry-dir <dir> to start empty and let the local operator load versions',
    );
  });

  test("the help's own example, fraud@champion, on a fresh registry: says what to serve instead, then serves once the alias is set", async () => {
    const dir = tempDir();
    const reg = join(dir, 'registry');
    const serve = (...a: string[]) => spawnSync(process.execPath, [bin, 'serve', '--registry-dir', reg, '--port', '0', ...a], { encoding: 'utf8' });
    let r = serve('--model', 'fraud@champion');
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr.trim(),
      `error: can't resolve 'fraud@champion' in the local registry: model 'fraud' is not registered in the local registry at ${reg} (the registry is empty); register a version first (\`ghosteam run app.ts\` trains and registers one), or point --registry-dir/--mlflow-uri at the registry that has it`,
    );
    const registry = new LocalRegistry({ dir: reg });
    await registry.registerVersion('fraud', { artifactPath: writeFraudModel(dir, 4).path });
    await registry.registerVersion('fraud', { artifactPath: writeFraudModel(dir, 5).path });
    r = serve('--model', 'fraud@champion');
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr.trim(),
      "error: can't resolve 'fraud@champion' in the local registry: model 'fraud' has no alias 'champion' (it has no aliases); no version of 'fraud' has the alias 'champion' yet (the operator sets it when it promotes a version); serve a version instead: --model fraud:2 (the latest of 2) or --model fraud@latest",
    );
    await registry.setAlias('fraud', 'champion', 1);
    const child = spawn(process.execPath, [bin, 'serve', '--registry-dir', reg, '--port', '0', '--model', 'fraud@champion']);
    const served = watchServe(child);
    await served.url;
    assert.match(served.output(), /serving fraud version 1/);
    await new Promise<void>((resolve) => {
      child.on('exit', () => resolve());
      child.kill('SIGTERM');
    });
  });

  test('a missing token variable is an error', () => {
    const r = spawnSync(process.execPath, [bin, 'serve', '--model', 'x.onnx', '--token-env', 'GHOSTEAM_NOPE_TOKEN'], {
      encoding: 'utf8',
      env: { ...process.env, GHOSTEAM_NOPE_TOKEN: '' },
    });
    assert.equal(r.stderr.trim(), 'error: --token-env GHOSTEAM_NOPE_TOKEN: the environment variable is not set or empty');
  });

  test('serves a file with a token, answers, and exits 0 on SIGTERM', async () => {
    const dir = tempDir();
    const m = writeFraudModel(dir, 4);
    const child = spawn(process.execPath, [bin, 'serve', '--model', `fraud=${m.path}`, '--port', '0', '--token-env', 'SERVE_TOKEN'], {
      env: { ...process.env, SERVE_TOKEN: 'token-abcdefgh', GHOSTEAM_MODEL_VERSION: '7' },
    });
    const served = watchServe(child);
    const url = await served.url;
    assert.match(served.output(), /serving fraud version 7 \(stable 7\)/); // from GHOSTEAM_MODEL_VERSION
    const x = rows(2, 1);
    const r = await post(`${url}/v2/models/fraud/infer`, inferBody(x), { authorization: 'Bearer token-abcdefgh' });
    assert.equal(r.status, 200);
    assert.equal(r.json.model_version, '7');
    const want = denseNetForward(m.net, x);
    r.json.outputs[0].data.forEach((v: number, i: number) => assert.ok(Math.abs(v - want[i]) < 1e-5));
    assert.equal((await post(`${url}/v2/models/fraud/infer`, inferBody(x))).status, 401);
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', resolve);
      child.kill('SIGTERM');
    });
    assert.equal(code, 0);
    assert.match(served.output(), /SIGTERM: draining in-flight requests/);
  });
});

// Proof that the mlflow peer is a real MLflow tracking server with its model registry, spoken to
// over the REST API that ghosteam's MLflow registry uses.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueName, usePeers } from './index.ts';

const peers = await usePeers(['mlflow']);

async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(`${peers.mlflowUrl}/api/2.0/mlflow/${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

describe('mlflow peer (tracking server + model registry)', { skip: peers.skip }, () => {
  test('GET experiments/search answers with the Default experiment', async () => {
    const { status, json } = await call('GET', 'experiments/search?max_results=100');
    assert.equal(status, 200);
    const names = (json.experiments as { name: string }[]).map((e) => e.name);
    assert.ok(names.includes('Default'), names.join(', '));
  });

  test('a model registered through the REST API reads back with its version', async () => {
    const name = uniqueName('fraud');
    const created = await call('POST', 'registered-models/create', { name, description: 'fraud detector', tags: [{ key: 'team', value: 'risk' }] });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    assert.equal(created.json.registered_model.name, name);

    const exp = await call('POST', 'experiments/create', { name: uniqueName('peers-exp') });
    assert.equal(exp.status, 200, JSON.stringify(exp.json));
    const run = await call('POST', 'runs/create', { experiment_id: exp.json.experiment_id, start_time: Date.now() });
    assert.equal(run.status, 200, JSON.stringify(run.json));
    const runId = run.json.run.info.run_id as string;
    const source = `${run.json.run.info.artifact_uri as string}/model`;

    const version = await call('POST', 'model-versions/create', { name, source, run_id: runId });
    assert.equal(version.status, 200, JSON.stringify(version.json));
    assert.equal(version.json.model_version.version, '1');

    const got = await call('GET', `registered-models/get?name=${encodeURIComponent(name)}`);
    assert.equal(got.status, 200);
    assert.equal(got.json.registered_model.name, name);
    assert.equal(got.json.registered_model.description, 'fraud detector');
    assert.deepEqual(got.json.registered_model.tags, [{ key: 'team', value: 'risk' }]);

    const mv = await call('GET', `model-versions/get?name=${encodeURIComponent(name)}&version=1`);
    assert.equal(mv.status, 200);
    assert.equal(mv.json.model_version.source, source);
    assert.equal(mv.json.model_version.run_id, runId);
  });

  test('registering the same name twice is a 400 RESOURCE_ALREADY_EXISTS, not a server error', async () => {
    const name = uniqueName('dup');
    assert.equal((await call('POST', 'registered-models/create', { name })).status, 200);
    const again = await call('POST', 'registered-models/create', { name });
    assert.equal(again.status, 400);
    assert.equal(again.json.error_code, 'RESOURCE_ALREADY_EXISTS');
  });
});

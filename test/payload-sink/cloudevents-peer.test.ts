// The sink against an independent CloudEvents implementation: the CloudEvents Python SDK (in the peers
// venv, as a dependency of kserve) encodes KServe logger-shaped events in binary mode, as KServe's Go
// logger does with sdk-go, and a batch in structured mode, and posts them to the real sink.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { usePeers } from '../peers/index.ts';
import { startPayloadSink } from '../../components/payload-sink/index.ts';
import { tempDir } from '../model-server/fixtures.ts';

const peers = await usePeers(['python']);

const SCRIPT = String.raw`
import json, sys, urllib.request
from cloudevents.http import CloudEvent
from cloudevents.conversion import to_binary, to_structured
url = sys.argv[1]
def post(headers, body):
    req = urllib.request.Request(url, data=body, headers=headers, method='POST')
    try:
        with urllib.request.urlopen(req) as r:
            return [r.status, json.loads(r.read())]
    except urllib.error.HTTPError as e:
        return [e.code, json.loads(e.read())]
out = []
ext = {'inferenceservicename': 'iris', 'namespace': 'ml', 'component': 'predictor', 'endpoint': 'iris-predictor-default'}
for kind, data in [('response', {'predictions': [1, 1]}), ('request', {'instances': [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]})]:
    ev = CloudEvent({'type': 'org.kubeflow.serving.inference.' + kind, 'source': 'http://localhost:9081/', 'id': 'py-1', 'time': '2026-11-23T07:00:00Z', 'datacontenttype': 'application/json', **ext}, data)
    headers, body = to_binary(ev)
    out.append(post(headers, body))
rec = {'ts': '2026-11-23T07:00:01Z', 'model': 'iris', 'version': '2', 'id': 'py-2', 'inputs': {'x': {'shape': [1, 2], 'datatype': 'FP32', 'data': [1.5, 2.5]}}, 'outputs': {}}
ev = CloudEvent({'type': 'io.ghosteam.inference.payload', 'source': 'python', 'id': 'py-2'}, rec)
headers, body = to_structured(ev)
out.append(post(headers, body))
bad = CloudEvent({'type': 'org.kubeflow.serving.inference.request', 'source': 's', 'id': 'py-3', 'inferenceservicename': 'iris'}, {'instances': [[1, 2], [3]]})
headers, body = to_binary(bad)
out.append(post(headers, body))
print(json.dumps(out))
`;

describe('CloudEvents Python SDK → sink', { skip: peers.skip }, () => {
  test('binary-mode KServe pairs and a structured event are written; a ragged body is a 400', async () => {
    const dir = tempDir('ghosteam-sink-peer-');
    try {
      const file = join(dir, 'payloads.jsonl');
      const sink = await startPayloadSink({ port: 0, file, flushIntervalMs: 10 });
      let replies;
      try {
        const { stdout } = await promisify(execFile)(peers.python, ['-c', SCRIPT, `${sink.url}/`], { timeout: 60_000 });
        replies = JSON.parse(stdout);
      } finally {
        await sink.close();
      }
      assert.deepEqual(replies, [
        [200, { accepted: 1 }],
        [200, { accepted: 1 }],
        [200, { accepted: 1 }],
        [400, { error: 'event py-3: instances is ragged: rows must all have 2 values' }],
      ]);
      const lines = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(lines, [
        {
          ts: '2026-11-23T07:00:00.000Z',
          model: 'iris',
          version: '',
          id: 'py-1',
          namespace: 'ml',
          inputs: { instances: { shape: [2, 4], datatype: 'FP64', data: [6.8, 2.8, 4.8, 1.4, 6.0, 3.4, 4.5, 1.6] } },
          outputs: { predictions: { shape: [2], datatype: 'FP64', data: [1, 1] } },
        },
        {
          ts: '2026-11-23T07:00:01Z',
          model: 'iris',
          version: '2',
          id: 'py-2',
          inputs: { x: { shape: [1, 2], datatype: 'FP32', data: [1.5, 2.5] } },
          outputs: {},
        },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

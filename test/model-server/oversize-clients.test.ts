// An oversized body gets a 413 that real clients read (#25): Python's urllib (with Content-Length
// and chunked) and tritonclient[http] (JSON and binary tensors) write the whole body before reading
// the answer, so a server that answered and closed at once made them see a reset or a broken pipe.
// Real clients from the peers' Python venv (test/peers/versions.json pins tritonclient[http]).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { usePeers } from '../peers/index.ts';
import { startModelServer, type ModelServer } from '../../components/model-server/index.ts';
import { tempDir, writeFraudModel } from './fixtures.ts';

const run = promisify(execFile);
const peers = await usePeers(['python']);
const LIMIT = 1024 * 1024;

describe('an oversized body: real Python clients read the 413 and its message', { skip: peers.skip }, () => {
  const dir = tempDir();
  const m = writeFraudModel(dir, 5);
  let s: ModelServer;
  before(async () => {
    s = await startModelServer({ port: 0, processMetrics: false, maxBodyBytes: LIMIT, models: [{ name: 'fraud', path: m.path }] });
  });
  after(() => s.close());

  test('urllib (Content-Length and chunked) and tritonclient (JSON and binary) get 413, not a reset', async () => {
    // 50,000 rows: about 4 MB of JSON and 3.2 MB of binary tensor data, over the 1 MiB limit and
    // under the 16 MiB drain bound.
    const { stdout } = await run(peers.python, [join(import.meta.dirname, 'py/oversize.py'), s.url.replace('http://', ''), '50000'], {
      timeout: 120_000,
      maxBuffer: 1024 * 1024,
    });
    const out = JSON.parse(stdout) as Record<string, { status?: number; error?: string; connection?: string; exception?: string }> & { bytes: number };
    assert.ok(out.bytes > LIMIT);
    assert.deepEqual(out.urllib, { status: 413, error: `request body is ${out.bytes} bytes; the limit is ${LIMIT}`, connection: 'close' });
    assert.deepEqual(out.urllib_chunked, { status: 413, error: `request body exceeds the limit of ${LIMIT} bytes`, connection: 'close' });
    for (const k of ['triton_json', 'triton_binary']) {
      assert.equal(out[k].exception, undefined, `${k}: ${JSON.stringify(out[k])}`);
      assert.equal(out[k].status, 413, k);
      assert.match(out[k].error!, new RegExp(`^request body is \\d+ bytes; the limit is ${LIMIT}$`), k);
    }
    // The server is fine afterwards.
    const ok = await fetch(`${s.url}/v2/health/ready`);
    assert.equal(ok.status, 200);
  });
});

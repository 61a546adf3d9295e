// Stored artifacts are verified: a byte flipped in store/sha256 is found on reuse (the task runs
// again and good bytes replace the file, with the cache and with --no-cache alike), by
// `ghosteam store verify`, and never registered (the register step passes the recorded digest).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runPipeline } from '../../pipelines/local/engine.ts';
import { ArtifactStore } from '../../pipelines/local/store.ts';
import { LocalRegistry } from '../../components/registry/index.ts';
import { register } from '../../components/register/index.ts';
import { catalog, collect, comp, pipeline, task, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(() => cleanup());

async function flipByte(path: string): Promise<void> {
  await chmod(path, 0o644);
  const b = await readFile(path);
  b[0] ^= 0xff;
  await writeFile(path, b);
  await chmod(path, 0o444);
}

function fixture() {
  const calls = { make: 0 };
  const make = comp('make', async (ctx) => {
    calls.make++;
    await writeFile(ctx.outputs.model, 'the model bytes');
  });
  const spec = pipeline('sv', [task('make', { component: { name: 'make', version: '1' }, outputs: { model: { kind: 'model' } } })]);
  return { calls, make, spec };
}

describe('artifact store verification', () => {
  test('a corrupt cached output is quarantined and rebuilt, not reused', async () => {
    const sd = join(dir, 'a');
    const f = fixture();
    const first = await runPipeline(f.spec, { storeDir: sd, components: catalog(f.make) });
    const digest = first.nodes.make.outputs.model.digest;
    const store = new ArtifactStore(sd);
    await flipByte(store.pathOf(digest));
    const c = collect();
    const second = await runPipeline(f.spec, { storeDir: sd, components: catalog(f.make), onEvent: c.onEvent });
    assert.equal(f.calls.make, 2, 'the task ran again');
    assert.equal(second.nodes.make.cached, undefined);
    assert.equal(second.nodes.make.outputs.model.digest, digest);
    assert.equal(await readFile(store.pathOf(digest), 'utf8'), 'the model bytes', 'good bytes replaced the corrupt file');
    assert.ok(
      c.events.some(
        (e) =>
          e.type === 'log' &&
          /stored output 'model' \(sha256:[0-9a-f]{64}\) no longer matches its digest; moved it to .*store\/corrupt and running the task again/.test(
            (e as { line: string }).line,
          ),
      ),
    );
    assert.equal((await readdir(store.corruptDir)).length, 1);
    // --no-cache: the task runs, and put() replaces a corrupt stored copy instead of keeping it.
    await flipByte(store.pathOf(digest));
    await runPipeline(f.spec, { storeDir: sd, components: catalog(f.make), cache: false });
    assert.equal(await readFile(store.pathOf(digest), 'utf8'), 'the model bytes');
  });

  test('ghosteam store verify reports and quarantines corrupt files (exit 1), then all match (exit 0)', async () => {
    const sd = join(dir, 'b');
    const f = fixture();
    const r = await runPipeline(f.spec, { storeDir: sd, components: catalog(f.make) });
    const store = new ArtifactStore(sd);
    const path = store.pathOf(r.nodes.make.outputs.model.digest);
    await flipByte(path);
    const bin = join(import.meta.dirname, '../../bin/ghosteam.mjs');
    const bad = spawnSync(process.execPath, [bin, 'store', 'verify', '--store-dir', sd], { encoding: 'utf8' });
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(
      bad.stdout,
      new RegExp(
        `^corrupt: ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\n  recorded sha256:[0-9a-f]{64}\n  actual   sha256:[0-9a-f]{64}\n  moved to .*store/corrupt/.*; the next run that needs it rebuilds it\n1 artifact\\(s\\), 0\\.0 MB checked in [0-9.]+ s: 1 corrupt\n$`,
      ),
    );
    const good = spawnSync(process.execPath, [bin, 'store', 'verify', '--store-dir', sd], { encoding: 'utf8' });
    assert.equal(good.status, 0);
    assert.match(good.stdout, /^0 artifact\(s\), 0\.0 MB checked in [0-9.]+ s: all match their digests\n$/);
  });

  test('the register step refuses bytes that differ from the digest the engine recorded', async () => {
    const reg = join(dir, 'reg');
    const model = join(dir, 'model.onnx');
    await writeFile(model, 'flipped bytes');
    const logs: string[] = [];
    await assert.rejects(
      register.run({
        params: {
          name: 'fraud',
          registry: reg,
          'ghosteam.inputDigests': { model: 'sha256:' + 'a'.repeat(64) },
          'ghosteam.runId': 'r1',
          'ghosteam.task': 'register',
        },
        inputs: { model },
        outputs: {},
        log: (l: string) => logs.push(l),
        setOutput: () => {},
        progress: () => {},
      } as never),
      /cannot register 'fraud': model file .*model\.onnx hashes to sha256:[0-9a-f]{64}, but its recorded digest is sha256:a{64} \(its bytes changed after they were stored\); nothing was registered/,
    );
    assert.deepEqual(await new LocalRegistry({ dir: reg }).listModels(), []);
  });
});

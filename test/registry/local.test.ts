import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LocalRegistry, openRegistry, MlflowRegistry } from '../../components/registry/index.ts';
import { runRegistrySuite } from './suite.ts';

runRegistrySuite('local', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-reg-'));
  return { registry: new LocalRegistry({ dir }), model: (b) => b };
});

const writer = fileURLToPath(new URL('./fixtures/writer.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

function startWriter(dir: string, id: string, count: number, alias = false) {
  const child = spawn(process.execPath, ['--import', 'tsx', writer, dir, id, String(count), ...(alias ? ['--alias'] : [])], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, out, err })),
  );
  return { child, done, lines: () => out.split('\n').filter(Boolean) };
}

const sha = (p: string) => 'sha256:' + createHash('sha256').update(readFileSync(p)).digest('hex');

describe('local registry: real processes', () => {
  test('4 concurrent writer processes never lose or share a version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-reg-conc-'));
    const writers = ['a', 'b', 'c', 'd'].map((id) => startWriter(dir, id, 6));
    const results = await Promise.all(writers.map((w) => w.done));
    for (const r of results) assert.equal(r.code, 0, r.err);
    const claimed = results.flatMap((r) =>
      r.out
        .split('\n')
        .filter(Boolean)
        .map((l) => Number(l.split(' ')[2])),
    );
    assert.deepEqual(
      claimed.sort((a, b) => a - b),
      Array.from({ length: 24 }, (_, i) => i + 1),
    );
    const versions = await new LocalRegistry({ dir }).listVersions('m');
    assert.equal(versions.length, 24);
    assert.deepEqual(new Set(versions.map((v) => v.lineage.runId)).size, 24);
    for (const v of versions) assert.equal(sha(v.source), v.digest);
  });

  test('kill -9 at random moments never corrupts the registry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-reg-kill-'));
    let committed = 0;
    for (let round = 0; round < 5; round++) {
      // Two writers race; both are killed with SIGKILL at a random moment.
      const ws = [startWriter(dir, `k${round}a`, 0, true), startWriter(dir, `k${round}b`, 0, true)];
      // Wait until both are writing (start-up time varies a lot on a busy machine), then kill them
      // at a random moment within the next few registrations.
      const t0 = Date.now();
      while (ws.some((w) => w.lines().length === 0) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, Math.random() * 300));
      for (const w of ws) w.child.kill('SIGKILL');
      const rs = await Promise.all(ws.map((w) => w.done));
      for (const r of rs) assert.equal(r.signal, 'SIGKILL', r.err);
      committed += ws.reduce((a, w) => a + w.lines().length, 0);
    }
    assert.ok(committed >= 4, `the writers committed only ${committed} versions before being killed; the test exercised too little`);
    const reg = new LocalRegistry({ dir, lockStaleMs: 2000 });
    const versions = await reg.listVersions('m');
    // Every version a writer reported is there, numbers are contiguous, every file is whole.
    assert.ok(versions.length >= committed, `${versions.length} versions, ${committed} reported`);
    assert.deepEqual(
      versions.map((v) => v.version),
      Array.from({ length: versions.length }, (_, i) => i + 1),
    );
    for (const v of versions) assert.equal(sha(v.source), v.digest, `version ${v.version}`);
    const champion = (await reg.listModels())[0].aliases.champion;
    assert.ok(champion === undefined || (champion >= 1 && champion <= versions.length));
    // A stale lock left by a killed writer is taken over: the registry stays writable.
    const f = join(dir, 'after.onnx');
    writeFileSync(f, 'after');
    const next = await reg.registerVersion('m', { artifactPath: f });
    assert.equal(next.version, versions.length + 1);
  });
});

describe('openRegistry', () => {
  test('MLFLOW_TRACKING_URI selects MLflow, otherwise the local registry', () => {
    assert.ok(openRegistry({ env: { MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000' } }) instanceof MlflowRegistry);
    const local = openRegistry({ env: { GHOSTEAM_REGISTRY_DIR: '/tmp/x-reg' } });
    assert.ok(local instanceof LocalRegistry);
    assert.equal(local.root, '/tmp/x-reg');
    assert.throws(() => openRegistry({ env: { MLFLOW_TRACKING_URI: 'file:///tmp/mlruns' } }), {
      message: "MLFLOW_TRACKING_URI 'file:///tmp/mlruns' must be an http(s) URL of an MLflow tracking server (file stores and databricks:// are not supported)",
    });
  });

  test('a corrupt JSON file is reported with its path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-reg-bad-'));
    const reg = new LocalRegistry({ dir });
    const f = join(dir, 'x.onnx');
    writeFileSync(f, 'x');
    await reg.registerVersion('m', { artifactPath: f });
    writeFileSync(join(dir, 'models/m/model.json'), '{not json');
    await assert.rejects(reg.listModels(), /models\/m\/model\.json is not valid JSON/);
  });
});

describe('registry-relative sources', () => {
  test('a copied registry serves its own files; old absolute entries still read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-reg-rel-'));
    const f = join(dir, 'in.onnx');
    writeFileSync(f, 'model bytes');
    const reg = new LocalRegistry({ dir: join(dir, 'a') });
    const v = await reg.registerVersion('m', { artifactPath: f });
    assert.equal(v.source, join(dir, 'a', 'models/m/versions/1/in.onnx'));
    assert.equal(
      JSON.parse(readFileSync(join(dir, 'a/models/m/versions/1/version.json'), 'utf8')).source,
      'models/m/versions/1/in.onnx',
      'stored relative to the registry',
    );
    cpSync(join(dir, 'a'), join(dir, 'b'), { recursive: true });
    rmSync(join(dir, 'a'), { recursive: true });
    const copy = new LocalRegistry({ dir: join(dir, 'b') });
    const got = await copy.resolve('m', 'latest');
    assert.equal(got.source, join(dir, 'b', 'models/m/versions/1/in.onnx'));
    assert.equal(readFileSync(await copy.fetchArtifact(got), 'utf8'), 'model bytes');
    // setTag keeps the stored source relative.
    await copy.setTag('m', 1, 'k', 'v');
    assert.equal(JSON.parse(readFileSync(join(dir, 'b/models/m/versions/1/version.json'), 'utf8')).source, 'models/m/versions/1/in.onnx');
    // A record written by an older ghosteam, with an absolute source, reads as it is.
    const rec = JSON.parse(readFileSync(join(dir, 'b/models/m/versions/1/version.json'), 'utf8'));
    writeFileSync(join(dir, 'b/models/m/versions/1/version.json'), JSON.stringify({ ...rec, source: f }));
    assert.equal((await copy.getVersion('m', 1)).source, f);
  });
});

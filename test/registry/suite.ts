/**
 * The one test suite every ModelRegistry implementation passes (local and MLflow).
 * `make` returns a registry whose model names don't collide with earlier runs (MLflow's server is
 * shared), through `model(base)`.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { RegistryError, type ModelRegistry } from '../../components/registry/index.ts';

export interface SuiteTarget {
  readonly registry: ModelRegistry;
  /** A model name unique to this run. */
  model(base: string): string;
}

function modelFile(content = randomBytes(1000)): { path: string; digest: string; bytes: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-suite-'));
  const path = join(dir, 'model.onnx');
  writeFileSync(path, content);
  return { path, digest: 'sha256:' + createHash('sha256').update(content).digest('hex'), bytes: content };
}

async function rejects(p: Promise<unknown>, code: string, message: RegExp | string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

export function runRegistrySuite(name: string, make: () => Promise<SuiteTarget>, opts: { skip?: string | boolean } = {}): void {
  describe(`ModelRegistry contract: ${name}`, { skip: opts.skip }, () => {
    test('registers versions 1, 2 with metrics, params, tags, lineage and the file digest', async () => {
      const { registry, model } = await make();
      const m = model('fraud');
      const f1 = modelFile();
      const v1 = await registry.registerVersion(m, {
        artifactPath: f1.path,
        metrics: { rocAuc: 0.91, logLoss: 0.3 },
        params: { epochs: '20' },
        tags: { team: 'risk' },
        lineage: { runId: 'run-42', pipeline: 'fraud', datasetDigest: 'sha256:abc', gitCommit: 'deadbeef', reason: 'manual' },
      });
      assert.equal(v1.name, m);
      assert.equal(v1.version, 1);
      assert.equal(v1.digest, f1.digest);
      assert.equal(v1.format, 'onnx');
      assert.deepEqual(v1.metrics, { rocAuc: 0.91, logLoss: 0.3 });
      assert.deepEqual(v1.params, { epochs: '20' });
      assert.deepEqual(v1.tags, { team: 'risk' });
      assert.deepEqual(v1.lineage, { runId: 'run-42', pipeline: 'fraud', datasetDigest: 'sha256:abc', gitCommit: 'deadbeef', reason: 'manual' });
      assert.deepEqual(v1.aliases, []);
      assert.ok(!Number.isNaN(Date.parse(v1.createdAt)));
      // A version made from v1 without training (optimize-onnx) names it in its lineage.
      const derived = { derivedFrom: `${m}@1`, derivedFromDigest: f1.digest };
      const v2 = await registry.registerVersion(m, { artifactPath: modelFile().path, lineage: derived });
      assert.equal(v2.version, 2);
      assert.deepEqual((await registry.getVersion(m, 2)).lineage, derived);
      const again = await registry.getVersion(m, 1);
      assert.deepEqual(again, v1);
      assert.deepEqual(
        (await registry.listVersions(m)).map((v) => v.version),
        [1, 2],
      );
    });

    test('resolves numbers, latest and aliases; moving an alias takes it off the old version', async () => {
      const { registry, model } = await make();
      const m = model('alias');
      await registry.registerVersion(m, { artifactPath: modelFile().path });
      await registry.registerVersion(m, { artifactPath: modelFile().path });
      assert.equal((await registry.resolve(m, 'latest')).version, 2);
      assert.equal((await registry.resolve(m, 1)).version, 1);
      assert.equal((await registry.resolve(m, '1')).version, 1);
      await registry.setAlias(m, 'champion', 1);
      await registry.setAlias(m, 'challenger', 2);
      assert.deepEqual((await registry.resolve(m, 'champion')).aliases, ['champion']);
      await registry.setAlias(m, 'champion', 2);
      assert.deepEqual((await registry.getVersion(m, 1)).aliases, []);
      assert.deepEqual((await registry.getVersion(m, 2)).aliases, ['challenger', 'champion']);
      const listed = (await registry.listModels()).find((x) => x.name === m);
      assert.deepEqual(listed, { name: m, latestVersion: 2, aliases: { challenger: 2, champion: 2 } });
      const names = await registry.listModelNames();
      assert.ok(names.includes(m), `${m} in ${names.join(', ')}`);
      assert.deepEqual(
        names,
        (await registry.listModels()).map((x) => x.name),
        'the same models as listModels, in its order',
      );
      await registry.deleteAlias(m, 'challenger');
      await rejects(registry.resolve(m, 'challenger'), 'NOT_FOUND', `model '${m}' has no alias 'challenger'; its aliases: champion`);
      await rejects(registry.deleteAlias(m, 'nope'), 'NOT_FOUND', `model '${m}' has no alias 'nope'; its aliases: champion`);
    });

    test('sets tags on a version', async () => {
      const { registry, model } = await make();
      const m = model('tags');
      await registry.registerVersion(m, { artifactPath: modelFile().path, tags: { a: '1' } });
      await registry.setTag(m, 1, 'validated', 'true');
      assert.deepEqual((await registry.getVersion(m, 1)).tags, { a: '1', validated: 'true' });
    });

    test('fetchArtifact gives back the registered bytes', async () => {
      const { registry, model } = await make();
      const m = model('fetch');
      const f = modelFile(randomBytes(70_000));
      const v = await registry.registerVersion(m, { artifactPath: f.path });
      const path = await registry.fetchArtifact(await registry.resolve(m, 'latest'));
      assert.ok(readFileSync(path).equals(f.bytes));
      assert.equal(v.digest, f.digest);
    });

    test('clear errors for unknown models, versions and bad input', async () => {
      const { registry, model } = await make();
      const m = model('errs');
      await rejects(registry.resolve(model('missing'), 'latest'), 'NOT_FOUND', new RegExp(`^model '${model('missing')}' is not registered in `));
      await registry.registerVersion(m, { artifactPath: modelFile().path });
      await rejects(registry.getVersion(m, 7), 'NOT_FOUND', `model '${m}' has no version 7 (versions 1..1)`);
      await rejects(
        registry.setAlias(m, 'latest', 1),
        'INVALID',
        `'latest' is not a valid alias; use letters, digits, '-' and '_', starting with a letter (not 'latest' or v<number>), e.g. champion`,
      );
      await rejects(registry.setAlias(m, 'champion', 9), 'NOT_FOUND', `model '${m}' has no version 9 (versions 1..1)`);
      await rejects(
        registry.registerVersion(m, { artifactPath: '/nonexistent/model.onnx' }),
        'INVALID',
        `cannot register '${m}': model file /nonexistent/model.onnx does not exist or is not a file`,
      );
      await rejects(
        registry.registerVersion('bad name', { artifactPath: modelFile().path }),
        'INVALID',
        `'bad name' is not a valid model name; use letters, digits, '-', '_' and '.', starting with a letter or digit`,
      );
    });

    test('concurrent registrations in one process get distinct versions', async () => {
      const { registry, model } = await make();
      const m = model('conc');
      const vs = await Promise.all(
        Array.from({ length: 6 }, (_, i) => registry.registerVersion(m, { artifactPath: modelFile().path, lineage: { runId: `r${i}` } })),
      );
      assert.deepEqual(
        vs.map((v) => v.version).sort((a, b) => a - b),
        [1, 2, 3, 4, 5, 6],
      );
      const listed = await registry.listVersions(m);
      assert.deepEqual(listed.map((v) => v.lineage.runId).sort(), ['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
    });

    test('exactly once per (run, task): a second registration returns the first version', async () => {
      const { registry, model } = await make();
      const m = model('once');
      const lineage = { runId: 'run-9', task: 'register', reason: 'manual' };
      const first = await registry.registerVersion(m, { artifactPath: modelFile().path, lineage });
      assert.equal(first.reused, undefined);
      // The resumed run's register step: other bytes even (retrained), still the same version.
      const again = await registry.registerVersion(m, { artifactPath: modelFile().path, lineage });
      assert.deepEqual([again.version, again.reused, again.digest], [first.version, 'run', first.digest]);
      assert.deepEqual(again.lineage, lineage);
      // Another task of the same run, or the same task of another run, is a new version.
      const other = await registry.registerVersion(m, { artifactPath: modelFile().path, lineage: { ...lineage, task: 'register-2' } });
      const next = await registry.registerVersion(m, { artifactPath: modelFile().path, lineage: { ...lineage, runId: 'run-10' } });
      assert.deepEqual([other.version, next.version], [2, 3]);
      assert.equal((await registry.listVersions(m)).length, 3);
    });

    test('identical bytes reuse the existing version with reuseIdentical; a wrong expectedDigest registers nothing', async () => {
      const { registry, model } = await make();
      const m = model('same');
      const f = modelFile();
      const v1 = await registry.registerVersion(m, { artifactPath: f.path, reuseIdentical: true });
      const v1again = await registry.registerVersion(m, { artifactPath: f.path, reuseIdentical: true, lineage: { runId: 'cached-rerun' } });
      assert.deepEqual([v1again.version, v1again.reused], [v1.version, 'digest']);
      const v2 = await registry.registerVersion(m, { artifactPath: f.path });
      assert.deepEqual([v2.version, v2.reused], [2, undefined], 'without reuseIdentical the same bytes are a new version');
      const bad = 'sha256:' + '0'.repeat(64);
      await rejects(
        registry.registerVersion(m, { artifactPath: f.path, expectedDigest: bad }),
        'INVALID',
        `cannot register '${m}': model file ${f.path} hashes to ${f.digest}, but its recorded digest is ${bad} (its bytes changed after they were stored); nothing was registered. Check the store with 'ghosteam store verify' and run the pipeline again`,
      );
      assert.equal((await registry.listVersions(m)).length, 2);
      const ok = await registry.registerVersion(m, { artifactPath: modelFile().path, expectedDigest: undefined });
      assert.equal(ok.version, 3);
    });
  });
}

// The image can't be built here (no container engine); these checks keep its inputs consistent.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startModelServer } from '../../components/model-server/index.ts';
import { MALLOC_MMAP_THRESHOLD } from '../../components/model-server/residency.ts';
import { tempDir, writeFraudModel, get } from './fixtures.ts';

const root = join(import.meta.dirname, '../..');
const dockerfile = readFileSync(join(root, 'images/model-server/Dockerfile'), 'utf8');

describe('images/model-server', () => {
  test('its dependency versions equal the root package.json', () => {
    const img = JSON.parse(readFileSync(join(root, 'images/model-server/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const [name, v] of Object.entries(img.dependencies)) assert.equal(v, pkg.dependencies[name], `${name}: image ${v}, root ${pkg.dependencies[name]}`);
    // and the image's lockfile pins the same versions as the root lockfile for the packages both hold
    type Lock = { packages: Record<string, { version?: string }> };
    const imgLock = JSON.parse(readFileSync(join(root, 'images/model-server/package-lock.json'), 'utf8')) as Lock;
    const rootLock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as Lock;
    for (const name of Object.keys(img.dependencies)) {
      assert.equal(imgLock.packages[`node_modules/${name}`]?.version, rootLock.packages[`node_modules/${name}`]?.version, `${name} in the lockfiles`);
    }
  });
  test("sets glibc's MALLOC_MMAP_THRESHOLD_ to what `serve --memory-budget` runs with, so the server starts once", () => {
    const env = [...dockerfile.matchAll(/^ENV (.+)$/gm)].flatMap((m) => m[1].split(/\s+/));
    assert.ok(env.includes(`MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD}`), `the final stage's ENV lines: ${env.join(' ')}`);
    // in the final stage (the one the ENTRYPOINT runs), not only in the deps stage
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    assert.match(final, new RegExp(`^ENV .*\\bMALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD}\\b`, 'm'));
  });
  test('runs as a non-root numeric user and every COPY source exists', () => {
    assert.match(dockerfile, /^USER 65532:65532$/m);
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(\S+) /gm)) assert.ok(existsSync(join(root, m[1])), `COPY source ${m[1]} is missing`);
  });
  test('a model directory with one .onnx file (KServe /mnt/models) is served; two files are refused', async () => {
    const dir = tempDir();
    const models = join(dir, 'mnt-models');
    mkdirSync(models);
    writeFraudModel(models, 1, 'model.onnx');
    const s = await startModelServer({ port: 0, processMetrics: false, models: [{ name: 'fraud', path: models }] });
    try {
      assert.equal((await get(`${s.url}/v2/models/fraud/ready`)).status, 200);
    } finally {
      await s.close();
    }
    writeFraudModel(models, 2, 'other.onnx');
    await assert.rejects(startModelServer({ port: 0, models: [{ name: 'fraud', path: models }] }), {
      message: `model 'fraud': directory ${models} holds 2 .onnx files (model.onnx, other.onnx); it must hold exactly one, or an MLflow MLmodel file, or pass the file's path`,
    });
  });
});

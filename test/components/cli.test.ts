import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LocalRegistry } from '../../components/registry/index.ts';

// Each CLI call starts node + tsx (seconds on a busy machine), so the calls run in parallel.
const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/ghosteam.mjs');
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'ghosteam-cli-'));

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const r = await run(process.execPath, [bin, ...args], { cwd: dir, env: { ...process.env, ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('ghosteam component / models (CLI)', () => {
  test('--help exits 0 and starts with Usage:', async () => {
    const rs = await Promise.all(
      [
        ['component', 'run', '--help'],
        ['models', '--help'],
      ].map((args) => cli(args)),
    );
    for (const r of rs) {
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^Usage:/);
    }
  });

  test('runs a component with output params as files, and reports user errors in one line', async () => {
    writeFileSync(join(dir, 'small.csv'), 'a,b\n1,x\n2,y\n');
    const [ok, unknown, missing, badParam] = await Promise.all([
      cli(['component', 'run', 'ingest', '--param', 'path=small.csv', '--output', 'dataset=out/ds', '--output-params-dir', 'out/params', '--json']),
      cli(['component', 'run', 'trian']),
      cli(['component', 'run', 'split', '--output', 'train=a', '--output', 'test=b']),
      cli(['component', 'run', 'ingest', '--param', 'path=small.csv', '--param', 'format=xls', '--output', 'dataset=o']),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    // Every declared output param is a file, set or not (Argo's valueFrom.path needs it): a file
    // source has no Kafka range.
    assert.deepEqual(readdirSync(join(dir, 'out/params')).sort(), ['columns', 'digest', 'kafkaOffsets', 'rows']);
    assert.equal(readFileSync(join(dir, 'out/params/kafkaOffsets'), 'utf8'), 'null');
    assert.equal(readFileSync(join(dir, 'out/params/rows'), 'utf8'), '2');
    assert.equal(JSON.parse(ok.stdout).digest, readFileSync(join(dir, 'out/params/digest'), 'utf8'));
    assert.equal(unknown.code, 1);
    assert.equal(
      unknown.stderr,
      "error: unknown component 'trian'; built-in components: batch-predict, drift, evaluate, export-onnx, gate, get-historical-features, ingest, materialize-features, optimize-onnx, register, split, sweep-controller, train-tabular, validate\n",
    );
    assert.equal(missing.stderr, "error: component 'split' needs input 'dataset': add --input dataset=PATH\n");
    assert.equal(badParam.stderr, "error: ingest: param 'format' must be one of auto, csv, jsonl, parquet, got 'xls'\n");
  });

  test('models list and show read the configured registry', async () => {
    const regDir = join(dir, 'cli-reg');
    const f = join(dir, 'm.onnx');
    writeFileSync(f, 'model');
    const reg = new LocalRegistry({ dir: regDir });
    await reg.registerVersion('churn', { artifactPath: f, metrics: { rocAuc: 0.8123456 } });
    await reg.registerVersion('churn', { artifactPath: f });
    await reg.setAlias('churn', 'champion', 1);
    const env = { GHOSTEAM_REGISTRY_DIR: regDir, MLFLOW_TRACKING_URI: '' };
    const [list, listJson, show, showJson, bad] = await Promise.all([
      cli(['models', 'list'], env),
      cli(['models', 'list', '--json'], env),
      cli(['models', 'show', 'churn@champion'], env),
      cli(['models', 'show', 'churn', '--json'], env),
      cli(['models', 'show', 'churn@stable'], env),
    ]);
    assert.equal(list.stdout, 'MODEL  LATEST  ALIASES\nchurn  2       champion=1\n');
    assert.deepEqual(JSON.parse(listJson.stdout), [{ name: 'churn', latestVersion: 2, aliases: { champion: 1 } }]);
    assert.match(show.stdout, /^churn version 1 {2}@champion\n/);
    assert.match(show.stdout, /\n {2}metrics {3}rocAuc=0\.8123\n/);
    const shown = JSON.parse(showJson.stdout);
    assert.deepEqual(
      shown.map((v: { version: number }) => v.version),
      [1, 2],
    );
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, "error: model 'churn' has no alias 'stable'; its aliases: champion\n");
  });
});

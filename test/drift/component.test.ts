import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetFromColumns, writeDataset, type Cell } from '../../components/dataset/index.ts';
import { driftComponent } from '../../components/drift/index.ts';
import type { ParamValue } from '../../components/component.ts';
import { mulberry32 } from '../../components/random.ts';

const rand = mulberry32(3);
const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());

async function run(params: Record<string, ParamValue>, shift: number) {
  const dir = mkdtempSync(join(tmpdir(), 'drift-comp-'));
  const make = (n: number, s: number) =>
    datasetFromColumns({
      amount: { type: 'numeric', cells: Array.from({ length: n }, (): Cell => normal() + s) },
      country: { type: 'categorical', cells: Array.from({ length: n }, (): Cell => (rand() < 0.5 + s / 4 ? 'US' : 'DE')) },
    });
  await writeDataset(join(dir, 'ref.arrow'), make(500, 0));
  await writeDataset(join(dir, 'cur.arrow'), make(400, shift));
  const out: Record<string, ParamValue> = {};
  const logs: string[] = [];
  const ctx = {
    params,
    inputs: { reference: join(dir, 'ref.arrow'), current: join(dir, 'cur.arrow') },
    outputs: { result: join(dir, 'result.json'), report: join(dir, 'report.html'), summary: join(dir, 'summary.json') },
    workDir: dir,
    signal: new AbortController().signal,
    log: (l: string) => logs.push(l),
    progress: () => {},
    setOutput: (k: string, v: ParamValue) => {
      out[k] = v;
    },
  };
  await driftComponent.run(ctx);
  return { out, logs, dir, ctx };
}

test('the drift component writes the result, report and summary and sets its output params', async () => {
  const { out, dir, logs } = await run({}, 1);
  const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
  assert.equal(out.datasetDrift, result.datasetDrift);
  assert.equal(out.driftShare, result.driftShare);
  assert.deepEqual(
    out.driftedColumns,
    result.columns.filter((c: { drifted: boolean }) => c.drifted).map((c: { name: string }) => c.name),
  );
  assert.equal(result.datasetDrift, true);
  assert.match(readFileSync(join(dir, 'report.html'), 'utf8'), /^<!doctype html>/);
  assert.equal(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).kind, 'reference');
  assert.match(logs[0], /^dataset drift: 2 of 2 columns drifted \(amount, country\)$/);
});

test('failOnDrift fails the step; a bad param names itself', async () => {
  await assert.rejects(run({ failOnDrift: true }, 1), /^Error: drift: dataset drift \(2 of 2 columns: amount, country\)$/);
  await assert.rejects(run({ tests: 'bogus' }, 0), {
    message: `drift: param 'tests' must be auto or one of ks, chisquare, wasserstein, psi, jensenshannon, got "bogus"`,
  });
});

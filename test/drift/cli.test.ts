/** `ghosteam drift` end to end through the real CLI entry (bin/ghosteam.mjs). */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { mulberry32 } from '../../components/random.ts';

const root = new URL('../..', import.meta.url).pathname;
const rand = mulberry32(5);
const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());

function cli(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/ghosteam.mjs'), ...args], { cwd: root, encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function csv(rows: number, shift: number, missingEvery = 0): string {
  const lines = ['amount,age,country'];
  for (let i = 0; i < rows; i++) {
    const amt = missingEvery && i % missingEvery === 0 ? '' : (50 + shift * 10 + 10 * normal()).toFixed(3);
    lines.push(`${amt},${20 + Math.floor(rand() * 50)},${['US', 'DE', 'FR', ...(shift ? ['JP'] : [])][Math.floor(rand() * (shift ? 4 : 3))]}`);
  }
  return lines.join('\n') + '\n';
}

describe('ghosteam drift', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drift-cli-'));
  const ref = join(dir, 'ref.csv');
  const same = join(dir, 'same.csv');
  const drifted = join(dir, 'drifted.jsonl');
  const pq = join(dir, 'cur.parquet');
  before(() => {
    writeFileSync(ref, csv(800, 0, 50));
    writeFileSync(same, csv(600, 0));
    const rows = csv(600, 1)
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    writeFileSync(drifted, rows.map(([a, b, c]) => JSON.stringify({ amount: Number(a), age: Number(b), country: c })).join('\n') + '\n');
    const cols = { amount: [] as number[], age: [] as number[], country: [] as string[] };
    for (const [a, b, c] of rows) {
      cols.amount.push(Number(a));
      cols.age.push(Number(b));
      cols.country.push(c);
    }
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'amount', data: cols.amount, type: 'DOUBLE' },
        { name: 'age', data: cols.age, type: 'DOUBLE' },
        { name: 'country', data: cols.country, type: 'STRING' },
      ],
    });
    writeFileSync(pq, Buffer.from(buf));
  });

  test('--help exits 0 and starts with Usage:', () => {
    const r = cli(['drift', '--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^Usage: ghosteam drift/);
  });

  test('no drift: exit 0 and a table', () => {
    const r = cli(['drift', '--reference', ref, '--current', same]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^column\s+type\s+test\s+statistic\s+p-value/);
    assert.match(r.stdout, /No dataset drift: \d of 3 columns drifted/);
  });

  test('drift: exit 1, JSON in the documented shape, missing counted', () => {
    const r = cli(['drift', '--reference', ref, '--current', drifted, '--json']);
    assert.equal(r.status, 1, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.datasetDrift, true);
    assert.equal(typeof j.driftShare, 'number');
    for (const c of j.columns) {
      for (const k of ['name', 'type', 'test', 'statistic', 'pValue', 'threshold', 'drifted', 'missing']) assert.ok(k in c, `${c.name} lacks ${k}`);
      assert.deepEqual(Object.keys(c.missing), ['reference', 'current']);
    }
    const amount = j.columns.find((c: { name: string }) => c.name === 'amount');
    assert.equal(amount.test, 'ks');
    assert.equal(amount.missing.reference, 16);
    const country = j.columns.find((c: { name: string }) => c.name === 'country');
    assert.equal(country.test, 'chisquare');
    assert.ok(country.unseen.JP > 0);
  });

  test("--delimiter and --format read semicolon exports the extension does not name; the verdicts are the comma files'", () => {
    const semi = (src: string, name: string): string => {
      const p = join(dir, name);
      writeFileSync(p, readFileSync(src, 'utf8').replaceAll(',', ';'));
      return p;
    };
    const refSemi = semi(ref, 'ref-semicolon.txt');
    const sameSemi = semi(same, 'same-semicolon.dat');
    const want = JSON.parse(cli(['drift', '-r', ref, '-c', same, '--json']).stdout);
    const r = cli(['drift', '-r', refSemi, '-c', sameSemi, '--delimiter', ';', '--format', 'csv', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).columns, want.columns);
    const noFormat = cli(['drift', '-r', refSemi, '-c', sameSemi, '--delimiter', ';']);
    assert.equal(noFormat.status, 2);
    assert.match(noFormat.stderr, /same-semicolon\.dat: can't tell the format from the extension '\.dat'/);
    const bad = cli(['drift', '-r', refSemi, '-c', sameSemi, '--delimiter', ';;']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--delimiter ';;': give one character/);
  });

  test('--tests forces a test where it applies; Parquet input', () => {
    const r = cli(['drift', '-r', ref, '-c', pq, '--tests', 'psi', '--json']);
    assert.ok(r.status === 0 || r.status === 1, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(
      j.columns.map((c: { test: string }) => c.test),
      ['psi', 'psi', 'psi'],
    );
    assert.ok(j.columns.every((c: { pValue: unknown }) => c.pValue === null));
  });

  test('--report writes one self-contained HTML file; --png one chart per feature', () => {
    const html = join(dir, 'drift.html');
    const png = join(dir, 'png');
    const r = cli(['drift', '-r', ref, '-c', drifted, '--report', html, '--png', png]);
    assert.equal(r.status, 1, r.stderr);
    const text = readFileSync(html, 'utf8');
    assert.match(text, /Dataset drift detected/);
    assert.equal((text.match(/<svg /g) ?? []).length, 3);
    assert.doesNotMatch(text, /<script|<link|src="http|href="http/);
    assert.deepEqual(readdirSync(png).sort(), ['age.png', 'amount.png', 'country.png']);
    assert.deepEqual([...readFileSync(join(png, 'amount.png')).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });

  test('errors exit 2 with one clear line', () => {
    const missing = cli(['drift', '-r', join(dir, 'nope.csv'), '-c', same]);
    assert.equal(missing.status, 2);
    assert.equal(missing.stderr.trim(), `error: cannot read ${join(dir, 'nope.csv')}: ENOENT`);
    const badTest = cli(['drift', '-r', ref, '-c', same, '--tests', 'bogus']);
    assert.equal(badTest.status, 2);
    assert.match(badTest.stderr, /argument 'bogus' is invalid/);
    const noCurrent = cli(['drift', '-r', ref]);
    assert.equal(noCurrent.status, 2);
    assert.equal(noCurrent.stderr.trim(), 'error: give the current data: --current FILE or --current-log PAYLOADS.jsonl --features a,b,…');
  });

  test('--current-log compares a payload log with the reference summary', () => {
    const log = join(dir, 'payloads.jsonl');
    const lines: string[] = [];
    for (let i = 0; i < 50; i++) {
      const data: number[] = [];
      for (let r = 0; r < 10; r++) data.push(50 + 30 + 10 * normal(), 20 + Math.floor(rand() * 50));
      lines.push(
        JSON.stringify({
          ts: new Date(Date.UTC(2026, 10, 23, 0, i)).toISOString(),
          model: 'fraud',
          version: '1',
          id: String(i),
          inputs: { x: { shape: [10, 2], datatype: 'FP32', data } },
        }),
      );
    }
    writeFileSync(log, lines.join('\n') + '\n');
    const summary = join(dir, 'ref-summary.json');
    const r = cli(['drift', '-r', ref, '--current-log', log, '--features', 'amount,age', '--json', '--save-summary', summary]);
    assert.equal(r.status, 1, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.rows.current, 500);
    assert.equal(j.columns.find((c: { name: string }) => c.name === 'amount').drifted, true);
    assert.equal(JSON.parse(readFileSync(summary, 'utf8')).kind, 'reference');
    // A torn line (kill -9 or a full disk during an append) in the middle and at the end is skipped
    // and counted; the verdict over the other rows is the same.
    const torn = join(dir, 'torn.jsonl');
    writeFileSync(torn, [...lines.slice(0, 25), '{"ts":"2026-11-23T00:25:00.000Z","model":"fr', ...lines.slice(25), '{"ts":"2026'].join('\n'));
    const t = cli(['drift', '-r', ref, '--current-log', torn, '--features', 'amount,age', '--json']);
    assert.equal(t.status, 1, t.stderr);
    assert.equal(JSON.parse(t.stdout).rows.current, 500);
    assert.equal(
      t.stderr.trim(),
      `warning: skipped 2 unreadable line(s) of ${torn} (the first: ${torn}:26: not valid JSON); drift is computed over the other 50 record(s)`,
    );
    // Nothing readable at all is still an error.
    writeFileSync(torn, '{"ts":\n');
    const none = cli(['drift', '-r', ref, '--current-log', torn, '--features', 'amount,age']);
    assert.equal(none.status, 2);
    assert.equal(none.stderr.trim(), `error: ${torn}: none of its 1 record(s) could be read; the first: ${torn}:1: not valid JSON`);
  });
});

/** `ghosteam validate-data` end to end through the real CLI entry (bin/ghosteam.mjs): exit 0/1/2 like `ghosteam drift`. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { datasetFromColumns, writeDataset } from '../../components/dataset/index.ts';
import { pgExec, uniqueName, usePeers } from '../peers/index.ts';
import { runCli } from '../cli/run-cli.ts';

const peers = await usePeers(['postgres']);

const root = new URL('../..', import.meta.url).pathname;
function cli(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/ghosteam.mjs'), ...args], { cwd: root, encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('ghosteam validate-data', () => {
  const dir = mkdtempSync(join(tmpdir(), 'validate-data-cli-'));
  const data = join(dir, 'orders.csv');
  writeFileSync(data, 'id,email,amount\n1,a@x.fr,10\n2,bad,20\n3,c@x.fr,\n4,d@x.fr,40\n');
  const suite = (expectations: unknown[]): string => {
    const p = join(dir, `suite-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(p, JSON.stringify({ name: 'orders', expectations }));
    return p;
  };
  const ok = suite([
    { type: 'expect_column_values_to_be_unique', kwargs: { column: 'id' } },
    { type: 'expect_column_values_to_match_regex', kwargs: { column: 'email', regex: '@', mostly: 0.75 } },
  ]);
  const failing = suite([
    { type: 'expect_column_values_to_match_regex', kwargs: { column: 'email', regex: '@' } },
    { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'amount' } },
    { type: 'expect_table_row_count_change_to_be_between', kwargs: { min_value: 0.9, max_value: 1.1 } },
  ]);

  test('exit 0 when every expectation is met', () => {
    const r = cli(['validate-data', data, '--suite', ok]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /passed: 2 of 2 expectations met \(suite orders\)/);
  });

  test('exit 1 on failed expectations, naming column and rows; --json is the GE suite result; --previous feeds row-count change', async () => {
    const prev = join(dir, 'prev.arrow');
    await writeDataset(prev, datasetFromColumns({ id: { type: 'numeric', cells: [1, 2] } }));
    const out = join(dir, 'result.json');
    const r = cli(['validate-data', data, '--suite', failing, '--previous', prev, '--out', out]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /FAILED: 0 of 3 expectations met/);
    assert.match(r.stdout, /FAIL expect_column_values_to_match_regex: column 'email' values not matching \/@\/: 1 of 4 rows fail .*rows 2 \(1-based\)/);
    assert.match(r.stdout, /FAIL expect_column_values_to_not_be_null: column 'amount' is missing values: 1 of 4 rows fail .*rows 3/);
    assert.match(r.stdout, /2\.0000× the previous run's 2/);
    const j = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(j.success, false);
    assert.deepEqual(j.statistics, { evaluated_expectations: 3, successful_expectations: 0, unsuccessful_expectations: 3, success_percent: 0 });
    assert.equal(j.results[0].result.unexpected_count, 1);
    assert.deepEqual(j.results[0].result.partial_unexpected_list, ['bad']);
    const js = cli(['validate-data', data, '--suite', failing, '--json']);
    assert.equal(js.status, 1);
    assert.equal(JSON.parse(js.stdout).results[2].success, true, 'without --previous, row-count change passes');
  });

  test('--report writes the self-contained HTML data report: the failed expectation, its sample values, the profile', () => {
    const html = join(dir, 'report.html');
    const r = cli(['validate-data', data, '--suite', failing, '--report', html]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /Data report written to .*report\.html/);
    const text = readFileSync(html, 'utf8');
    assert.match(text, /<span class="verdict fail">FAILED<\/span>/);
    assert.match(text, /<code>expect_column_values_to_match_regex<\/code><\/td><td>email<\/td><td>1 of 4 \(25\.00%\)/);
    assert.match(text, /<code>&quot;bad&quot;<\/code> <span class="rows">rows 2<\/span>/);
    // The profile: amount has one missing value of four, and a histogram.
    assert.match(text, /<h3>amount<\/h3><table><tr><th>type<\/th><td>numeric<\/td><\/tr><tr><th>missing<\/th><td>1 \(25\.00%\)/);
    assert.match(text, /<svg class="hist"/);
    assert.doesNotMatch(text, /<script|(src|href)=["']?(https?:)?\/\//, 'opens offline: no scripts, nothing fetched');
  });

  test('bad data exits 2 naming the file and the line or byte', () => {
    const ragged = join(dir, 'ragged.csv');
    writeFileSync(ragged, 'id,email\n1,a@x\n2\n');
    let r = cli(['validate-data', ragged, '--suite', ok]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /ragged\.csv:3: expected 2 fields \(as in the header\) but found 1/);
    const latin = join(dir, 'latin.csv');
    writeFileSync(latin, Buffer.concat([Buffer.from('id,email\n1,caf'), Buffer.from([0xe9]), Buffer.from('@x\n')]));
    r = cli(['validate-data', latin, '--suite', ok]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /latin\.csv: byte 14 \(line 2\): 0xe9 is not valid UTF-8/);
  });

  test("--delimiter and --format read what the extension doesn't say; a GE 0.x suite loads", () => {
    // A semicolon-separated export named .txt, and the same with an extension ingest can't place.
    const semi = join(dir, 'orders-semicolon.txt');
    writeFileSync(semi, 'id;email;amount\n1;a@x.fr;10\n2;bad;20\n');
    const dat = join(dir, 'orders.dat');
    writeFileSync(dat, readFileSync(semi));
    const ge0 = join(dir, 'ge0-suite.json');
    writeFileSync(
      ge0,
      JSON.stringify({
        expectation_suite_name: 'orders.warning',
        ge_cloud_id: null,
        data_asset_type: null,
        meta: { great_expectations_version: '0.18.19' },
        expectations: [{ expectation_type: 'expect_column_values_to_match_regex', kwargs: { column: 'email', regex: '@', mostly: 0.5 }, meta: {} }],
      }),
    );
    let r = cli(['validate-data', semi, '--suite', ge0]);
    assert.equal(r.status, 1, 'read with commas, the one column is id;email;amount');
    assert.match(r.stdout, /column 'email' is missing; the dataset's columns are id;email;amount/);
    r = cli(['validate-data', semi, '--suite', ge0, '--delimiter', ';', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    assert.equal(res.meta?.expectation_suite_name ?? res.suite_name, 'orders.warning');
    assert.equal(res.results[0].result.unexpected_count, 1);
    r = cli(['validate-data', dat, '--suite', ge0, '--delimiter', ';']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /orders\.dat: can't tell the format from the extension '\.dat'; name it \.csv, \.tsv, \.jsonl or \.parquet, or give the format/);
    r = cli(['validate-data', dat, '--suite', ge0, '--delimiter', ';', '--format', 'csv']);
    assert.equal(r.status, 0, r.stderr);
    r = cli(['validate-data', semi, '--suite', ge0, '--delimiter', ';;']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--delimiter ';;': give one character/);
    r = cli(['validate-data', semi, '--suite', ge0, '--format', 'xlsx']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--format 'xlsx': give csv, jsonl or parquet/);
    const tsv = join(dir, 'orders.tab');
    writeFileSync(tsv, 'id\temail\n1\ta@x\n');
    r = cli(['validate-data', tsv, '--suite', ge0, '--format', 'csv', '--delimiter', '\\t']);
    assert.equal(r.status, 0, r.stderr);
  });

  test('exit 2 naming the place: a bad suite, a missing suite, unreadable data', () => {
    const typo = suite([{ type: 'expect_column_values_to_match_regex', kwargs: { column: 'email', regexp: '@' } }]);
    let r = cli(['validate-data', data, '--suite', typo]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /suite-.*\.json\.expectations\[0\]\.kwargs: 'expect_column_values_to_match_regex' has no kwarg 'regexp'/);
    r = cli(['validate-data', data, '--suite', join(dir, 'nope.json')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--suite .*nope\.json: cannot read it \(ENOENT\)/);
    const notJson = join(dir, 'bad.json');
    writeFileSync(notJson, '{"expectations": [');
    r = cli(['validate-data', data, '--suite', notJson]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--suite .*bad\.json: not JSON/);
    r = cli(['validate-data', join(dir, 'missing.csv'), '--suite', ok]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /missing\.csv.*ENOENT/);
    r = cli(['validate-data', data]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--suite/);
  });
});

describe('ghosteam validate-data on remote sources: --query (real PostgreSQL), --header (an HTTP server of the test)', { skip: peers.skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'validate-data-remote-'));
  const table = uniqueName('vd').replace(/-/g, '_');
  const suite = join(dir, 'suite.json');
  writeFileSync(
    suite,
    JSON.stringify({
      name: 'tx',
      expectations: [
        { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'amount' } },
        { type: 'expect_column_values_to_be_in_set', kwargs: { column: 'country', value_set: ['FR', 'US'] } },
      ],
    }),
  );
  const u = () => new URL(peers.databaseUrl);
  const pgEnv = () => ({ PGUSER: decodeURIComponent(u().username), PGPASSWORD: decodeURIComponent(u().password) });
  let base = '';
  const seen: (string | undefined)[] = [];
  const srv = createServer((req, res) => {
    seen.push(req.headers.authorization);
    if (req.headers.authorization !== 'Bearer t0ken') {
      res.writeHead(401).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/csv' }).end('amount,country\n1.5,FR\n2,DE\n');
  });
  before(async () => {
    await pgExec(peers.databaseUrl, [
      `CREATE TABLE ${table} (id bigint, amount numeric, country text)`,
      `INSERT INTO ${table} VALUES (1, 1.5, 'FR'), (2, NULL, 'US'), (3, 4, 'FR')`,
    ]);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  });
  after(async () => {
    srv.close();
    await pgExec(peers.databaseUrl, [`DROP TABLE IF EXISTS ${table}`]);
  });

  test('--query reads a postgres:// source with PGUSER/PGPASSWORD; without it, the error says how', async () => {
    const src = `postgres://${u().host}${u().pathname}`;
    let r = await runCli(['validate-data', src, '--suite', suite, '--query', `SELECT amount, country FROM ${table} ORDER BY id`, '--json'], pgEnv());
    assert.equal(r.status, 1, r.stderr);
    const res = JSON.parse(r.stdout);
    assert.equal(res.results[0].success, false);
    assert.equal(res.results[0].result.unexpected_count, 1);
    assert.deepEqual(res.results[0].result.partial_unexpected_index_list, [1]);
    assert.equal(res.results[1].success, true);
    r = await runCli(['validate-data', src, '--suite', suite], pgEnv());
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no SQL; set param query \(--query on the command line\)/);
  });

  test('--header sends a header from an environment variable; a literal value is refused', async () => {
    let r = await runCli(['validate-data', `${base}/tx.csv`, '--suite', suite, '--header', 'Authorization=env:VD_TOKEN'], { VD_TOKEN: 'Bearer t0ken' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /FAIL expect_column_values_to_be_in_set: column 'country'.*1 of 2 rows/);
    assert.equal(seen.at(-1), 'Bearer t0ken');
    r = await runCli(['validate-data', `${base}/tx.csv`, '--suite', suite, '--header', 'Authorization=Bearer t0ken'], {});
    assert.equal(r.status, 2);
    assert.doesNotMatch(r.stderr, /t0ken/, 'a literal secret is never echoed');
    r = await runCli(['validate-data', `${base}/tx.csv`, '--suite', suite, '--header', 'Authorization'], {});
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--header 'Authorization': give NAME=env:VAR/);
  });
});

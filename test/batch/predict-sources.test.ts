// Batch prediction reads what ingest reads: a postgres:// query (the peers' real PostgreSQL), an
// https:// resource with a header from an environment variable (an HTTP server of the test; a TLS
// server would only add a certificate to trust), and a file whose name does not tell its format.
// Each scores exactly what the same rows in a local CSV file score, the lineage names the source as
// the user gave it (not the scratch copy), and every wrong combination of flags or props is an
// error naming the flag or the field — through the CLI entry, the local engine and the construct.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { App, Chart } from 'cdk8s';
import { denseNetToOnnx } from '../../components/onnx/index.ts';
import { randomDenseNet } from '../../components/onnx/random.ts';
import { renderText } from '../../components/batch/placeholders.ts';
import { BatchPrediction, Secret, batchPredictionIssues, type BatchPredictionProps } from '../../pipelines/index.ts';
import { runPipeline } from '../../pipelines/local/engine.ts';
import { tempDir } from '../model-server/fixtures.ts';
import { pgExec, uniqueName, usePeers } from '../peers/index.ts';
import { runCli } from '../cli/run-cli.ts';

const peers = await usePeers(['postgres']);
const ROWS = 500;

describe('ghosteam predict on the sources ingest reads', { skip: peers.skip }, () => {
  const dir = tempDir('ghosteam-predict-sources-');
  const model = join(dir, 'dense.onnx');
  writeFileSync(model, denseNetToOnnx({ ...randomDenseNet([4, 8, 1], 7), featureNames: ['a', 'b', 'c', 'd'], classes: ['ok', 'fraud'] }));
  const rows = Array.from({ length: ROWS }, (_, i) => ({
    n: i,
    id: `id-${i}`,
    day: i % 2 ? '2031-04-01' : '2031-04-02',
    a: i / 100,
    b: (i % 7) / 4,
    c: Math.round(Math.sin(i) * 1e4) / 1e4,
    d: i % 2,
  }));
  const csvOf = (rs: typeof rows) => ['id,a,b,c,d', ...rs.map((r) => `${r.id},${r.a},${r.b},${r.c},${r.d}`)].join('\n') + '\n';
  const csv = join(dir, 'today.csv');
  writeFileSync(csv, csvOf(rows));
  const table = uniqueName('bp').replace(/-/g, '_');
  const u = () => new URL(peers.databaseUrl);
  const db = () => `postgres://${u().host}${u().pathname}`;
  const pgEnv = () => ({ PGUSER: decodeURIComponent(u().username), PGPASSWORD: decodeURIComponent(u().password) });
  const seen: (string | undefined)[] = [];
  let base = '';
  const srv = createServer((req, res) => {
    seen.push(req.headers.authorization);
    if (req.headers.authorization !== 'Bearer s3cret') res.writeHead(401).end();
    else if (req.url === '/exports/today.csv' || req.url === '/exports/today') res.writeHead(200, { 'content-type': 'text/csv' }).end(readFileSync(csv));
    else res.writeHead(404).end();
  });
  let reference = '';

  before(async () => {
    await pgExec(peers.databaseUrl, [
      `CREATE TABLE ${table} (n int, id text, day date, a double precision, b double precision, c double precision, d double precision)`,
      ...rows.map((r) => [`INSERT INTO ${table} VALUES ($1, $2, $3, $4, $5, $6, $7)`, [r.n, r.id, r.day, r.a, r.b, r.c, r.d]] as const),
    ]);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    // What the same rows score from a local file: the reference every source must give.
    const r = await runCli(['predict', '-m', model, '-i', csv, '-o', join(dir, 'reference.csv'), '--threads', '1']);
    assert.equal(r.status, 0, r.stderr);
    reference = readFileSync(join(dir, 'reference.csv'), 'utf8');
    assert.equal(reference.split('\n')[0], 'id,probability,label');
  });
  after(async () => {
    srv.close();
    await pgExec(peers.databaseUrl, [`DROP TABLE IF EXISTS ${table}`]);
  });
  const lineageOf = (out: string) => JSON.parse(readFileSync(`${out}.lineage.json`, 'utf8')) as { input: { path: string; format: string; rows: number } };

  test('postgres:// with --query scores the rows as the file does; the lineage names the database, not the scratch copy', async () => {
    const out = join(dir, 'from-pg.csv');
    const query = `SELECT id, a, b, c, d FROM ${table} ORDER BY n`;
    const r = await runCli(['predict', '-m', model, '-i', db(), '--query', query, '-o', out, '--threads', '1'], pgEnv());
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(out, 'utf8'), reference);
    const l = lineageOf(out);
    assert.equal(l.input.path, db());
    assert.equal(l.input.format, 'arrow');
    assert.equal(l.input.rows, ROWS);

    // A query that fails names the database and PostgreSQL's reason; nothing is written.
    const bad = join(dir, 'bad-pg.csv');
    const e = await runCli(['predict', '-m', model, '-i', db(), '--query', `SELECT id, a, b, c, nope FROM ${table}`, '-o', bad], pgEnv());
    assert.notEqual(e.status, 0);
    assert.match(e.stderr, new RegExp(`${db().replace(/[/.]/g, '\\$&')}.*column "nope" does not exist`));
    assert.ok(!existsSync(bad) && !existsSync(`${bad}.lineage.json`));
    // A query whose rows lack a feature names the database, not a temporary file.
    const short = await runCli(['predict', '-m', model, '-i', db(), '--query', `SELECT id, a, b, c FROM ${table}`, '-o', bad], pgEnv());
    assert.notEqual(short.status, 0);
    assert.match(short.stderr, new RegExp(`${db().replace(/[/.]/g, '\\$&')} has no column 'd'`));
    assert.doesNotMatch(short.stderr, /ghosteam-predict-sql-/);
  });

  test('https:// with --header from an environment variable; without it, the refusal names the URL and the fix', async () => {
    const out = join(dir, 'from-http.csv');
    const url = `${base}/exports/today.csv`;
    const r = await runCli(['predict', '-m', model, '-i', url, '--header', 'Authorization=env:EXPORT_TOKEN', '-o', out, '--threads', '1'], {
      EXPORT_TOKEN: 'Bearer s3cret',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(seen.at(-1), 'Bearer s3cret');
    assert.equal(readFileSync(out, 'utf8'), reference);
    assert.equal(lineageOf(out).input.path, url);

    const denied = join(dir, 'denied.csv');
    const e = await runCli(['predict', '-m', model, '-i', url, '-o', denied]);
    assert.notEqual(e.status, 0);
    assert.match(e.stderr, /exports\/today\.csv: HTTP 401 .*refused the credentials/);
    assert.ok(!existsSync(denied));
    const literal = await runCli(['predict', '-m', model, '-i', url, '--header', 'Authorization=Bearer s3cret', '-o', denied]);
    assert.notEqual(literal.status, 0);
    assert.match(literal.stderr, /header 'Authorization' must be a reference 'env:NAME'/);
    assert.doesNotMatch(literal.stderr, /s3cret/, 'a literal secret is never echoed');
    // A URL whose path does not tell the format: --format does.
    const noExt = await runCli(['predict', '-m', model, '-i', `${base}/exports/today`, '--header', 'Authorization=env:T', '-o', denied], {
      T: 'Bearer s3cret',
    });
    assert.match(noExt.stderr, /exports\/today: can't tell the format .*or give its format \(--format/);
    const withFormat = await runCli(
      ['predict', '-m', model, '-i', `${base}/exports/today`, '--format', 'csv', '--header', 'Authorization=env:T', '-o', join(dir, 'from-http-2.csv')],
      { T: 'Bearer s3cret' },
    );
    assert.equal(withFormat.status, 0, withFormat.stderr);
    assert.equal(readFileSync(join(dir, 'from-http-2.csv'), 'utf8'), reference);
  });

  test('a file whose extension does not tell: --format; wrong flag combinations are refused before anything is read', async () => {
    const dat = join(dir, 'today.dat');
    copyFileSync(csv, dat);
    const out = join(dir, 'from-dat.csv');
    let r = await runCli(['predict', '-m', model, '-i', dat, '-o', out]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /today\.dat: can't tell the format from the extension '\.dat'.*or give its format \(--format/);
    r = await runCli(['predict', '-m', model, '-i', dat, '--format', 'csv', '-o', out, '--threads', '1']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(out, 'utf8'), reference);

    const refused: [string[], RegExp][] = [
      [['-i', csv, '--query', 'SELECT 1'], /param query \(--query\) is SQL for a postgres:\/\/ input/],
      [['-i', db()], /no SQL; set param query \(--query on the command line\)/],
      [['-i', csv, '--header', 'Authorization=env:X'], /param headers \(--header\) are sent to an https:\/\/ input/],
      [['-i', 'kafka://127.0.0.1:9/tx'], /a Kafka topic is a stream; ingest it in a pipeline/],
      [['-i', 'ftp://host/x.csv'], /'ftp:\/\/' is not a source batch prediction reads/],
      [['-i', `${base}/exports/today.csv`, '--resume'], /--resume knows the input by its file's size and time.*save it to a file/],
      [['-i', csv, '--format', 'xml'], /--format 'xml': give csv, jsonl, parquet or arrow/],
      [['-i', db(), '--query', 'SELECT 1', '--format', 'csv'], /a postgres:\/\/ query's rows are read as a table/],
    ];
    for (const [args, message] of refused) {
      const o = join(dir, 'refused.csv');
      const e = await runCli(['predict', '-m', model, ...args, '-o', o]);
      assert.notEqual(e.status, 0, args.join(' '));
      assert.match(e.stderr, message, args.join(' '));
      assert.ok(!existsSync(o), args.join(' '));
    }
  });

  test('ghosteam drift compares two postgres:// queries (--reference-query, --current-query) as it compares the same rows in files', async () => {
    const odd = rows.filter((r) => r.day === '2031-04-01');
    const early = rows.filter((r) => r.n < 150);
    writeFileSync(join(dir, 'ref.csv'), csvOf(odd));
    writeFileSync(join(dir, 'cur.csv'), csvOf(early));
    const opts = ['--columns', 'a,b,c,d', '--share', '0.25', '--json'];
    const files = await runCli(['drift', '-r', join(dir, 'ref.csv'), '-c', join(dir, 'cur.csv'), ...opts]);
    assert.equal(files.status, 1, files.stderr);
    const q = (where: string) => `SELECT id, a, b, c, d FROM ${table} WHERE ${where} ORDER BY n`;
    const sql = await runCli(
      ['drift', '-r', db(), '--reference-query', q(`day = '2031-04-01'`), '-c', db(), '--current-query', q('n < 150'), ...opts],
      pgEnv(),
    );
    assert.equal(sql.status, 1, sql.stderr);
    assert.deepEqual(JSON.parse(sql.stdout), JSON.parse(files.stdout), 'the same verdicts, statistics and p-values');
    assert.ok((JSON.parse(sql.stdout) as { columns: { name: string; verdict: string }[] }).columns.some((c) => c.name === 'a' && c.verdict === 'drift'));
    // A flag that would be ignored is refused (exit 2), naming it.
    const wrong = await runCli(['drift', '-r', join(dir, 'ref.csv'), '--reference-query', 'SELECT 1', '-c', join(dir, 'cur.csv')]);
    assert.equal(wrong.status, 2);
    assert.match(wrong.stderr, /--reference-query is SQL for a postgres:\/\/ reference/);
    const noHttps = await runCli(['drift', '-r', join(dir, 'ref.csv'), '-c', join(dir, 'cur.csv'), '--header', 'Authorization=env:T']);
    assert.equal(noHttps.status, 2);
    assert.match(noHttps.stderr, /--header is sent to an https:\/\/ source/);
    // An https:// current behind a header.
    const web = await runCli(['drift', '-r', join(dir, 'ref.csv'), '-c', `${base}/exports/today.csv`, '--header', 'Authorization=env:T', '--json'], {
      T: 'Bearer s3cret',
    });
    assert.ok(web.status === 0 || web.status === 1, web.stderr);
    assert.equal(seen.at(-1), 'Bearer s3cret');
  });

  test(
    "BatchPrediction over a postgres:// query: {date} in the query renders from runTime; the step's lineage names the database",
    { timeout: 240_000 },
    async () => {
      const out = join(dir, 'daily-{date}.csv');
      const props: BatchPredictionProps = {
        model,
        input: db(),
        query: `SELECT id, a, b, c, d FROM ${table} WHERE day = '{date}' ORDER BY n`,
        output: out,
      };
      const app = new App();
      const bp = new BatchPrediction(new Chart(app, 'jobs'), 'score-sql', props);
      // The credentials as a pod gets them from a Secret: in the environment (a literal PGPASSWORD in env is refused at synth).
      const saved = { PGUSER: process.env.PGUSER, PGPASSWORD: process.env.PGPASSWORD };
      Object.assign(process.env, pgEnv());
      let r;
      try {
        r = await runPipeline(bp.pipeline.toSpec(), { storeDir: join(dir, 'state'), isolation: 'inline', gitCommit: null, params: { runTime: '2031-04-01' } });
      } finally {
        for (const [k, v] of Object.entries(saved))
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
      }
      assert.equal(r.status, 'Succeeded', JSON.stringify(r.nodes.predict, null, 1));
      const written = join(dir, 'daily-2031-04-01.csv');
      const expected = reference
        .trim()
        .split('\n')
        .filter((line, i) => i === 0 || rows[i - 1].day === '2031-04-01');
      assert.equal(readFileSync(written, 'utf8').trim(), expected.join('\n'));
      assert.equal(lineageOf(written).input.path, db());
      assert.equal(r.nodes.predict.outputParams.rows, ROWS / 2);
    },
  );
});

describe('BatchPrediction props for remote inputs are checked at synth, naming the field', () => {
  const base: BatchPredictionProps = {
    model: 'fraud@champion',
    input: 'postgres://db.internal/shop',
    query: 'SELECT * FROM tx',
    output: 's3://data/scores/{date}.parquet',
  };
  const issues = (p: Partial<BatchPredictionProps>) => batchPredictionIssues('jobs/score', { ...base, ...p }).map((i) => `${i.field}: ${i.message}`);

  test('valid: a query over postgres://, an https:// export with a header from a Secret, a file with its format given', () => {
    assert.deepEqual(issues({}), []);
    assert.deepEqual(
      issues({
        input: 'https://exports.example.com/today.parquet',
        query: undefined,
        headers: { Authorization: 'env:TOKEN' },
        env: { TOKEN: Secret.fromSecret('exports', 'token') },
      }),
      [],
    );
    assert.deepEqual(issues({ input: 'https://exports.example.com/today?day=1', query: undefined, format: 'csv' }), []);
    assert.deepEqual(issues({ input: '/data/today.dat', query: undefined, format: 'csv' }), []);
  });

  const cases: [string, Partial<BatchPredictionProps>, RegExp][] = [
    ['postgres without a query', { query: undefined }, /^query: is missing; a postgres:\/\/ input needs the SQL/],
    ['a query for a file', { input: '/data/today.csv' }, /^query: is SQL for a postgres:\/\/ input/],
    ['a password in the URI', { input: 'postgres://ml:hunter2@db/shop' }, /^input: holds a password; .*PGPASSWORD by reference/],
    ['a format for a query', { format: 'csv' }, /^format: is for a file; a query's rows are read as a table/],
    ['headers for a non-https input', { headers: { Authorization: 'env:T' }, env: { T: 'x' } }, /^headers: are sent to an https:\/\/ input/],
    [
      'a literal header',
      { input: 'https://x.example.com/a.csv', query: undefined, headers: { Authorization: 'Bearer abc' } },
      /^headers\.Authorization: is not a reference/,
    ],
    [
      'a header env var not set',
      { input: 'https://x.example.com/a.csv', query: undefined, headers: { Authorization: 'env:T' } },
      /^headers\.Authorization: reads env T, which env does not set/,
    ],
    ['an https path with no extension', { input: 'https://x.example.com/export', query: undefined }, /^input: .*has no table extension; .*or set format/],
    ['a kafka topic', { input: 'kafka://broker:9092/tx', query: undefined }, /^input: .*is a Kafka topic, a stream; ingest it in a pipeline/],
    ['an unknown format', { input: '/data/a.csv', query: undefined, format: 'xml' as 'csv' }, /^format: is 'xml'; give csv, jsonl, parquet or arrow/],
  ];
  for (const [name, p, message] of cases)
    test(name, () => {
      const got = issues(p);
      assert.ok(
        got.some((m) => message.test(m)),
        `${name}: ${JSON.stringify(got)}`,
      );
    });

  test('the synthesized step carries format, query and headers as params', () => {
    const app = new App();
    const bp = new BatchPrediction(new Chart(app, 'jobs'), 'score-web', {
      ...base,
      input: 'https://exports.example.com/today',
      query: undefined,
      format: 'csv',
      headers: { Authorization: 'env:TOKEN' },
      env: { TOKEN: Secret.fromSecret('exports', 'token') },
    });
    const params = bp.pipeline.toSpec().tasks.find((t) => t.name === 'predict')!.params;
    assert.deepEqual(params.format, { kind: 'literal', value: 'csv' });
    assert.deepEqual(params.headers, { kind: 'literal', value: { Authorization: 'env:TOKEN' } });
  });

  test('renderText renders the known placeholders in a query and leaves other braces (a JSON literal) alone', () => {
    const at = new Date('2031-04-01T05:06:07Z');
    assert.equal(
      renderText(`SELECT * FROM t WHERE day = '{date}' AND h = {hour} AND j @> '{"k": 1}'::jsonb`, at),
      `SELECT * FROM t WHERE day = '2031-04-01' AND h = 05 AND j @> '{"k": 1}'::jsonb`,
    );
    assert.equal(renderText('{datetime}/{year}-{month}-{day} {unknown}', at), '20310401T050607Z/2031-04-01 {unknown}');
  });
});

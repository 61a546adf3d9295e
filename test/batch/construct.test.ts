// The BatchPrediction construct: it synthesizes an Argo WorkflowTemplate and CronWorkflow that the
// upstream Argo CRDs accept (strict), and the same pipeline runs on the local engine with the real
// catalog: fraud@champion resolved at run time (moving the alias changes the next run's model), id
// columns kept, lineage, the payload log; s3:// input and output against the peers' s3proxy; bad
// props are synth-time errors naming the construct path and the field, bad data run-time errors
// naming the column, and nothing half-written.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { App, Chart } from 'cdk8s';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BatchPrediction, Schedule, Secret, type BatchPredictionProps } from '../../pipelines/index.ts';
import { runPipeline } from '../../pipelines/local/engine.ts';
import { openRegistry } from '../../components/registry/index.ts';
import { denseNetToOnnx } from '../../components/onnx/index.ts';
import { randomDenseNet } from '../../components/onnx/random.ts';
import { s3ClientConfig } from '../../components/ingest/s3.ts';
import { find, issuesOf, synth } from '../constructs/helpers.ts';
import { upstreamErrors } from '../constructs/upstream.ts';
import { tempDir } from '../engine/helpers.ts';
import { uniqueName, usePeers } from '../peers/index.ts';

const peers = await usePeers(['s3']);
const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/ghosteam.mjs', import.meta.url));

const base: BatchPredictionProps = {
  model: 'fraud@champion',
  input: 's3://data/fraud/today.parquet',
  output: 's3://data/fraud/scores.parquet',
  idColumns: ['tx'],
};

function declare(props: Partial<BatchPredictionProps> = {}, id = 'score-daily') {
  const app = new App();
  const chart = new Chart(app, 'jobs', { namespace: 'ml' });
  const bp = new BatchPrediction(chart, id, { ...base, ...props });
  return { app, bp };
}

describe('BatchPrediction synthesizes Argo objects', () => {
  test('a WorkflowTemplate running batch-predict and a CronWorkflow on the schedule, valid against the upstream Argo CRDs', () => {
    const { app } = declare({
      schedule: Schedule.cron('0 4 * * *', { timezone: 'UTC' }),
      payloadLog: { path: '/payloads/fraud.jsonl', sample: 0.1 },
      overwrite: true,
      env: { AWS_ACCESS_KEY_ID: Secret.fromSecret('s3', 'id'), AWS_SECRET_ACCESS_KEY: Secret.fromSecret('s3', 'secret') },
    });
    const objects = synth(app).objects;
    const wt = find(objects, 'WorkflowTemplate', 'score-daily');
    const cron = find(objects, 'CronWorkflow', 'score-daily');
    for (const o of [wt, cron]) assert.deepEqual(upstreamErrors(o), [], `${o.kind} against argoproj.io's CRD`);
    assert.deepEqual(cron.spec.schedules, ['0 4 * * *']);
    assert.equal(cron.spec.timezone, 'UTC');
    assert.equal(cron.spec.concurrencyPolicy, 'Forbid');
    assert.deepEqual(cron.spec.workflowSpec, { workflowTemplateRef: { name: 'score-daily' } });
    // The pipeline params input/output, with the props as defaults (one run can point elsewhere).
    assert.deepEqual(
      wt.spec.arguments.parameters.map((p: { name: string; value?: string }) => [p.name, p.value]),
      [
        ['input', 's3://data/fraud/today.parquet'],
        ['output', 's3://data/fraud/scores.parquet'],
        ['runTime', ''],
      ],
    );
    const step = wt.spec.templates.find((t: { name: string }) => t.name === 'predict');
    assert.deepEqual(step.container.command, ['ghosteam', 'component', 'run', 'batch-predict']);
    for (const a of ['model={{inputs.parameters.model}}', 'input={{inputs.parameters.input}}', 'payloadLog={{inputs.parameters.payloadLog}}'])
      assert.ok(step.container.args.includes(a), `${a} in ${JSON.stringify(step.container.args)}`);
    const dag = wt.spec.templates.find((t: { dag?: unknown }) => t.dag).dag.tasks[0];
    const arg = (n: string) => dag.arguments.parameters.find((p: { name: string }) => p.name === n)?.value;
    assert.equal(arg('model'), 'fraud@champion');
    assert.equal(arg('input'), '{{workflow.parameters.input}}');
    assert.equal(arg('runTime'), '{{workflow.parameters.runTime}}');
    assert.equal(arg('idColumns'), '["tx"]');
    assert.equal(arg('payloadSample'), '0.1');
    assert.deepEqual(
      step.container.env.find((e: { name: string }) => e.name === 'AWS_SECRET_ACCESS_KEY'),
      { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 's3', key: 'secret' } } },
    );
    assert.equal(step.container.resources.requests.cpu, '2');
    // Not memoized: the alias moves and the input changes under one name.
    assert.equal(step.memoize, undefined);
  });

  test('a scheduled job writing one path every run needs a time placeholder in it, or overwrite', () => {
    const schedule = Schedule.cron('0 4 * * *');
    assert.deepEqual(
      issuesOf(() => declare({ schedule })),
      [
        "jobs/score-daily: 'output' 's3://data/fraud/scores.parquet' is written by every scheduled run, and the second would find it there and be refused; put a time placeholder in the path ({date}, {datetime}, {year}, {month}, {day}, {hour}), e.g. 's3://data/fraud/scores-{date}.parquet', or set overwrite: true",
      ],
    );
    for (const ok of [{ output: 's3://data/fraud/{year}/{month}/scores-{date}.parquet' }, { overwrite: true }]) {
      const objects = synth(declare({ schedule, ...ok }).app).objects;
      for (const o of objects) assert.deepEqual(upstreamErrors(o), [], `${o.kind} against argoproj.io's CRD`);
    }
    // On demand, one path is fine: a second run is refused at run time unless overwrite.
    assert.doesNotThrow(() => declare({}));
  });

  test('without a schedule: only the WorkflowTemplate (run on demand)', () => {
    const objects = synth(declare().app).objects;
    assert.deepEqual(objects.map((o) => o.kind).sort(), ['WorkflowTemplate']);
  });

  test('bad props are synth-time errors naming the construct path, the field and the fix', () => {
    const cases: [Partial<BatchPredictionProps>, RegExp][] = [
      [{ model: 'fraud' }, /jobs\/score-daily: 'model' 'fraud' names no version or alias; write 'fraud@champion'/],
      [{ model: 'models:/fraud/x/y' }, /jobs\/score-daily: 'model' 'models:\/fraud\/x\/y' is not an MLflow model URI/],
      [
        { input: 'ftp://example.com/today.parquet' },
        /'input' 'ftp:\/\/example.com\/today.parquet' is not a source batch prediction reads; give a file path, s3:/,
      ],
      [{ output: 'https://example.com/scores.parquet' }, /'output' 'https:\/\/example.com\/scores.parquet' is not a file path or an s3:\/\/ URI/],
      [{ input: 'data/today.xlsx' }, /'input' 'data\/today.xlsx' has no table extension; end it in .csv, .jsonl, .parquet or .arrow/],
      [{ output: 's3://Data_Bucket/scores.parquet' }, /'output' 's3:\/\/Data_Bucket\/scores.parquet' is not an S3 object URL/],
      [{ output: base.input }, /'output' is the input; write the predictions somewhere else/],
      [{ idColumns: ['tx', 'tx'] }, /'idColumns' lists 'tx' twice/],
      [{ idColumns: ['amount'], features: ['amount', 'age'] }, /'idColumns' 'amount' is also a feature; an id column is copied, not scored/],
      [{ payloadLog: { path: '/p.jsonl', sample: 2 } }, /'payloadLog.sample' is 2; give the share of batches logged, from 0 to 1/],
      [{ batchRows: 0 }, /'batchRows' is 0; give a positive whole number/],
      [{ registry: 'https://user:pw@mlflow.example.com' }, /'registry' holds a password; give the tracking URI without credentials/],
      [
        { output: 's3://data/fraud/scores-{dat}.parquet' },
        /'output' 's3:\/\/data\/fraud\/scores-\{dat\}.parquet' has the placeholder \{dat\}, which is not one of \{date\}, \{datetime\}/,
      ],
    ];
    for (const [props, want] of cases) {
      const issues = issuesOf(() => declare(props));
      assert.equal(issues.length, 1, `${JSON.stringify(props)}: ${issues.join(' | ')}`);
      assert.match(issues[0], want);
    }
    assert.match(issuesOf(() => declare({}, 'Score_Daily'))[0], /jobs\/Score_Daily: 'name' 'Score_Daily' .*use 'score-daily'/);
    // A literal secret in env is refused by the pipeline step, with the step's path.
    assert.match(
      issuesOf(() => declare({ env: { AWS_SECRET_ACCESS_KEY: 'abc' } }))[0],
      /jobs\/score-daily\/pipeline\/predict: 'env.AWS_SECRET_ACCESS_KEY' looks like a secret/,
    );
  });
});

describe('BatchPrediction on the local engine', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let registryDir: string;
  const ROWS = 3000;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    registryDir = join(dir, 'registry');
    const reg = openRegistry({ dir: registryDir });
    for (const seed of [1, 2]) {
      const f = join(dir, `m${seed}.onnx`);
      await writeFile(f, denseNetToOnnx(randomDenseNet([4, 16, 1], seed)));
      await reg.registerVersion('fraud', { artifactPath: f });
    }
    await reg.setAlias('fraud', 'champion', 1);
    const lines = ['tx,f0,f1,f2,f3,region'];
    for (let i = 0; i < ROWS; i++) lines.push(`T${String(i).padStart(5, '0')},${i % 7},${(i * 0.37) % 5},${(i * 1.3) % 11},${i % 3},${['eu', 'us'][i % 2]}`);
    await writeFile(join(dir, 'today.csv'), lines.join('\n') + '\n');
  });
  after(() => cleanup());

  const spec = (props: Partial<BatchPredictionProps>) =>
    declare({ model: 'fraud@champion', input: join(dir, 'today.csv'), output: join(dir, 'scores.csv'), registry: registryDir, ...props }).bp.pipeline.toSpec();

  test('scores the table with fraud@champion: id columns kept, lineage, payload log; the next run follows the alias', { timeout: 240_000 }, async () => {
    const log = join(dir, 'payloads.jsonl');
    const s = spec({ payloadLog: { path: log }, overwrite: true, batchRows: 1000 });
    const r1 = await runPipeline(s, { storeDir: join(dir, 'state'), runId: 'bp-1', gitCommit: null });
    assert.equal(r1.status, 'Succeeded', JSON.stringify(r1.nodes.predict, null, 1));
    const o = r1.nodes.predict.outputParams;
    assert.equal(o.rows, ROWS);
    assert.equal(o.modelVersion, '1');
    assert.match(String(o.inputDigest), /^sha256:[0-9a-f]{64}$/);
    const text = await readFile(join(dir, 'scores.csv'), 'utf8');
    const [header, first] = text.split('\n');
    assert.equal(header, 'tx,probability', 'only the id column is kept (region is neither id nor feature)');
    assert.match(first, /^T00000,0\.\d+$/);
    assert.equal(text.trim().split('\n').length, ROWS + 1);
    const lineage = JSON.parse(await readFile(join(dir, 'scores.csv.lineage.json'), 'utf8'));
    assert.equal(lineage.model.name, 'fraud');
    assert.equal(lineage.model.version, '1');
    assert.equal(lineage.input.rows, ROWS);
    assert.equal(lineage.input.digest, o.inputDigest);
    const logged = (await readFile(log, 'utf8')).trim().split('\n');
    assert.equal(logged.length, 3, 'one payload record per batch of 1,000');

    // The alias moves; the step is never cached, so the next run scores with version 2.
    await openRegistry({ dir: registryDir }).setAlias('fraud', 'champion', 2);
    const r2 = await runPipeline(s, { storeDir: join(dir, 'state'), runId: 'bp-2', gitCommit: null });
    assert.equal(r2.status, 'Succeeded', JSON.stringify(r2.nodes.predict, null, 1));
    assert.ok(!r2.nodes.predict.cached, 'never from the step cache');
    assert.equal(r2.nodes.predict.outputParams.modelVersion, '2');
    assert.notEqual(await readFile(join(dir, 'scores.csv'), 'utf8'), text, 'another model, other scores');
  });

  test('bad data: a missing feature column, an existing output; the step fails terminally naming it, nothing half-written', { timeout: 240_000 }, async () => {
    await writeFile(join(dir, 'short.csv'), 'tx,f0,f1,f2\nA,1,2,3\n');
    const r = await runPipeline(spec({ input: join(dir, 'short.csv'), output: join(dir, 'short-scores.csv') }), {
      storeDir: join(dir, 'state'),
      isolation: 'inline',
      gitCommit: null,
    });
    assert.equal(r.status, 'Failed');
    assert.match(r.nodes.predict.message ?? '', /f3/);
    assert.equal(r.nodes.predict.terminal, true);
    assert.ok(!existsSync(join(dir, 'short-scores.csv')));
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith('.tmp')),
      [],
      'no temporary file left',
    );

    const before = await readFile(join(dir, 'scores.csv'), 'utf8');
    const again = await runPipeline(spec({}), { storeDir: join(dir, 'state'), isolation: 'inline', gitCommit: null });
    assert.equal(again.status, 'Failed');
    assert.match(again.nodes.predict.message ?? '', /scores.csv already exists; .*overwrite/);
    assert.equal(await readFile(join(dir, 'scores.csv'), 'utf8'), before, 'the existing output untouched');
  });

  test(
    '{date} in the output renders from the runTime param (else the step start, UTC); the same day again is refused, naming the rendered path',
    { timeout: 240_000 },
    async () => {
      const s = spec({ output: join(dir, 'daily', 'scores-{date}.csv'), schedule: Schedule.cron('0 4 * * *') });
      const at = { runTime: '2031-03-31T23:30:00-02:00' }; // 2031-04-01 in UTC (not today)
      const r1 = await runPipeline(s, { storeDir: join(dir, 'state'), isolation: 'inline', gitCommit: null, params: at });
      assert.equal(r1.status, 'Succeeded', JSON.stringify(r1.nodes.predict, null, 1));
      const written = join(dir, 'daily', 'scores-2031-04-01.csv');
      assert.equal(r1.nodes.predict.outputParams.output, written);
      assert.equal((await readFile(written, 'utf8')).trim().split('\n').length, ROWS + 1);
      assert.deepEqual(await readdir(join(dir, 'daily')), ['scores-2031-04-01.csv', 'scores-2031-04-01.csv.lineage.json']);
      const again = await runPipeline(s, { storeDir: join(dir, 'state'), isolation: 'inline', gitCommit: null, params: at });
      assert.equal(again.status, 'Failed');
      assert.equal(again.nodes.predict.terminal, true);
      assert.match(again.nodes.predict.message ?? '', /daily\/scores-2031-04-01.csv already exists; set param overwrite: true/);
      // No runTime: today's date, in UTC.
      const today = new Date().toISOString().slice(0, 10);
      const r3 = await runPipeline(s, { storeDir: join(dir, 'state'), isolation: 'inline', gitCommit: null });
      assert.equal(r3.status, 'Succeeded', JSON.stringify(r3.nodes.predict, null, 1));
      assert.match(String(r3.nodes.predict.outputParams.output), new RegExp(`scores-(${today}|\\d{4}-\\d{2}-\\d{2})\\.csv$`));
      assert.ok(existsSync(String(r3.nodes.predict.outputParams.output)));
      const bad = await runPipeline(s, { storeDir: join(dir, 'state'), isolation: 'inline', gitCommit: null, params: { runTime: 'yesterday' } });
      assert.equal(bad.status, 'Failed');
      assert.match(bad.nodes.predict.message ?? '', /runTime 'yesterday' is not an RFC 3339 time; write e.g. 2026-12-02T04:00:00Z/);
    },
  );

  test('as its container runs it: `ghosteam component run batch-predict` with the params as text', { timeout: 240_000 }, async () => {
    const out = join(dir, 'cli');
    const args = (output: string) => [
      BIN,
      'component',
      'run',
      'batch-predict',
      ...[
        'model=fraud@champion',
        `input=${join(dir, 'today.csv')}`,
        `output=${output}`,
        'idColumns=["tx","region"]',
        'batchRows=500',
        `registry=${registryDir}`,
        'overwrite=false',
      ].flatMap((p) => ['--param', p]),
      '--output',
      `lineage=${join(out, 'lineage.json')}`,
      '--output-params-dir',
      join(out, 'params'),
    ];
    const env = process.env;
    await run(process.execPath, args(join(out, 'scores.parquet')), { env, timeout: 200_000 });
    const param = (n: string) => readFile(join(out, 'params', n), 'utf8');
    assert.equal(await param('rows'), String(ROWS));
    assert.equal(await param('modelVersion'), String((await openRegistry({ dir: registryDir }).resolve('fraud', 'champion')).version));
    assert.equal(await param('output'), join(out, 'scores.parquet'));
    const lineage = JSON.parse(await readFile(join(out, 'lineage.json'), 'utf8'));
    assert.deepEqual(
      lineage.output.columns.map((c: { name: string }) => c.name),
      ['tx', 'region', 'probability'],
    );
    // The same output again: a terminal failure, in one line on stderr.
    const again = await run(process.execPath, args(join(out, 'scores.parquet')), { env, timeout: 200_000 }).then(
      () => assert.fail('expected a failure'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /scores.parquet already exists; set param overwrite: true to replace it/);
  });

  describe('s3:// input and output (the peers’ s3proxy)', { skip: peers.skip }, () => {
    const saved = { ...process.env };
    before(() => {
      Object.assign(process.env, {
        S3_ENDPOINT: peers.s3.endpoint,
        AWS_ACCESS_KEY_ID: peers.s3.accessKey,
        AWS_SECRET_ACCESS_KEY: peers.s3.secretKey,
        AWS_REGION: peers.s3.region,
      });
    });
    after(() => {
      for (const k of ['S3_ENDPOINT', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    });

    test('reads the object, uploads the predictions and their lineage; an existing output object is refused', { timeout: 240_000 }, async () => {
      const prefix = uniqueName('bp');
      const client = new S3Client(s3ClientConfig(process.env));
      try {
        await client.send(new PutObjectCommand({ Bucket: 'data', Key: `${prefix}/today.csv`, Body: await readFile(join(dir, 'today.csv')) }));
        const s = spec({ input: `s3://data/${prefix}/today.csv`, output: `s3://data/${prefix}/scores.jsonl`, idColumns: ['tx', 'region'] });
        const r = await runPipeline(s, { storeDir: join(dir, 'state-s3'), isolation: 'inline', gitCommit: null });
        assert.equal(r.status, 'Succeeded', JSON.stringify(r.nodes.predict, null, 1));
        assert.ok(r.nodes.predict.sources?.input?.identity, 'the run records the input object’s identity');
        const get = async (key: string) => await (await client.send(new GetObjectCommand({ Bucket: 'data', Key: key }))).Body!.transformToString();
        const rows = (await get(`${prefix}/scores.jsonl`)).trim().split('\n');
        assert.equal(rows.length, ROWS);
        assert.deepEqual(Object.keys(JSON.parse(rows[0])), ['tx', 'region', 'probability']);
        const lineage = JSON.parse(await get(`${prefix}/scores.jsonl.lineage.json`));
        assert.equal(lineage.model.version, r.nodes.predict.outputParams.modelVersion);
        assert.equal(lineage.input.rows, ROWS);
        // The objects as named, not the step's scratch copies of them.
        assert.equal(lineage.input.path, `s3://data/${prefix}/today.csv`);
        assert.equal(lineage.output.path, `s3://data/${prefix}/scores.jsonl`);
        const again = await runPipeline(s, { storeDir: join(dir, 'state-s3'), isolation: 'inline', gitCommit: null });
        assert.equal(again.status, 'Failed');
        assert.match(again.nodes.predict.message ?? '', new RegExp(`s3://data/${prefix}/scores.jsonl already exists; set param overwrite: true`));
      } finally {
        client.destroy();
      }
    });

    test('ghosteam predict takes s3:// input and output too', { timeout: 240_000 }, async () => {
      const prefix = uniqueName('predict');
      const client = new S3Client(s3ClientConfig(process.env));
      try {
        await client.send(new PutObjectCommand({ Bucket: 'data', Key: `${prefix}/today.csv`, Body: await readFile(join(dir, 'today.csv')) }));
        const out = `s3://data/${prefix}/scores.csv`;
        const args = [
          BIN,
          'predict',
          '--model',
          'fraud@1',
          '--registry-dir',
          registryDir,
          '--input',
          `s3://data/${prefix}/today.csv`,
          '--output',
          out,
          '--keep',
          'tx',
        ];
        const env = { ...process.env, MLFLOW_TRACKING_URI: '' };
        const { stdout } = await run(process.execPath, args, { env, timeout: 200_000 });
        assert.match(stdout, new RegExp(`wrote ${out} \\(${ROWS} rows; lineage in ${out}.lineage.json\\)`));
        const get = async (key: string) => await (await client.send(new GetObjectCommand({ Bucket: 'data', Key: key }))).Body!.transformToString();
        const text = await get(`${prefix}/scores.csv`);
        assert.equal(text.split('\n')[0], 'tx,probability');
        assert.equal(text.trim().split('\n').length, ROWS + 1);
        const lineage = JSON.parse(await get(`${prefix}/scores.csv.lineage.json`));
        assert.equal(lineage.model.version, '1');
        assert.deepEqual([lineage.input.path, lineage.output.path], [`s3://data/${prefix}/today.csv`, out]);
        const again = await run(process.execPath, args, { env, timeout: 200_000 }).then(
          () => assert.fail('expected a failure'),
          (e: { stderr: string }) => e,
        );
        assert.match(again.stderr, /scores.csv already exists; pass --overwrite/);
        assert.equal(await get(`${prefix}/scores.csv`), text, 'the existing object untouched');
      } finally {
        client.destroy();
      }
    });
  });
});

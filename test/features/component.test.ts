// get-historical-features as a pipeline step: declared through FeatureService.historicalFeatures,
// run by the local engine (ingest → point-in-time join → train-tabular), its output equal to the
// library join on the same data, synthesized into the Argo WorkflowTemplate as `ghosteam component
// run get-historical-features`, and bad sources failing the step with the view and the column named.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Chart } from 'cdk8s';
import { Entity, FeatureService, FeatureSource, FeatureView, Field } from '../../charts/index.ts';
import { cellAt, readDataset, type Dataset } from '../../components/dataset/index.ts';
import { getHistoricalFeatures } from '../../components/features/historical.ts';
import { readViewSource } from '../../components/features/sources.ts';
import { ingestFile } from '../../components/ingest/index.ts';
import { compileArgo } from '../../pipelines/argo.ts';
import { Pipeline } from '../../pipelines/index.ts';
import { runPipeline } from '../../pipelines/local/engine.ts';
import { ArtifactStore } from '../../pipelines/local/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'ghosteam-hist-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse('2026-11-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const H = 3_600_000;

// Driver stats every hour for 6 drivers over two days; trips grows with the hour, so a value from the future would show.
const statsRows = ['driver_id,event_timestamp,conv_rate,trips'];
for (let h = 0; h < 48; h++)
  for (let d = 1; d <= 6; d++) if ((h + d) % 5 !== 0) statsRows.push(`${d},${iso(T0 + h * H)},${((h * 7 + d * 13) % 100) / 100},${h * 10 + d}`);
writeFileSync(join(dir, 'stats.csv'), statsRows.join('\n') + '\n');
// Entity rows: a driver, a time (on and between the hours), a label.
const entityRows = ['driver_id,event_timestamp,label'];
for (let i = 0; i < 120; i++) entityRows.push(`${1 + (i % 7)},${iso(T0 + ((i * 37) % 50) * H + (i % 3) * 20 * 60_000)},${i % 2}`);
writeFileSync(join(dir, 'entities.csv'), entityRows.join('\n') + '\n');

function declare(source: FeatureSource, ttl: string | number = '3h') {
  const app = new App();
  const chart = new Chart(app, 'ml', { namespace: 'ml' });
  const driver = Entity.of('driver', { driver_id: 'int64' });
  const stats = new FeatureView(chart, 'driver-stats', { entities: [driver], source, ttl, features: [Field.float64('conv_rate'), Field.int64('trips')] });
  const service = new FeatureService(chart, 'fraud-features', { features: [stats] });
  const pipeline = new Pipeline(chart, 'train', {});
  const ingest = pipeline.component('ingest', 'ingest', { params: { path: join(dir, 'entities.csv') } });
  const features = service.historicalFeatures(pipeline, 'features', { entities: ingest.outputs.dataset });
  pipeline.component('train', 'train-tabular', {
    inputs: { train: features.outputs.dataset },
    params: { label: 'label', task: 'binary', features: ['conv_rate', 'trips'], epochs: 2, backend: 'cpu' },
  });
  return { app, chart, pipeline, service, stats };
}

const cells = (ds: Dataset, name: string) => {
  const c = ds.columns.find((x) => x.name === name)!;
  return Array.from({ length: ds.rows }, (_, i) => cellAt(c, i));
};

describe('get-historical-features step', () => {
  test('the local engine joins point-in-time and trains on the result; the rows equal the library join', async () => {
    const { pipeline, stats } = declare(FeatureSource.file(join(dir, 'stats.csv'), { timestampField: 'event_timestamp' }));
    const run = await runPipeline(pipeline.toSpec(), { storeDir: join(dir, 'state'), cwd: dir, gitCommit: null, isolation: 'inline' });
    assert.equal(run.status, 'Succeeded', JSON.stringify(Object.values(run.nodes).map((n) => [n.task, n.state, n.message])));
    const node = Object.values(run.nodes).find((n) => n.task === 'features')!;
    const out = await readDataset(new ArtifactStore(join(dir, 'state')).pathOf(node.outputs.dataset.digest));
    const expected = getHistoricalFeatures(
      await ingestFile(join(dir, 'entities.csv')),
      [{ name: 'driver-stats', spec: stats.spec, data: await readViewSource('driver-stats', stats.spec) }],
      ['driver-stats:conv_rate', 'driver-stats:trips'],
    );
    assert.deepEqual(
      out.columns.map((c) => c.name),
      ['driver_id', 'event_timestamp', 'label', 'conv_rate', 'trips'],
    );
    assert.deepEqual(cells(out, 'trips'), cells(expected, 'trips'));
    assert.deepEqual(cells(out, 'conv_rate'), cells(expected, 'conv_rate'));
    // Point-in-time by construction: trips = hour*10 + driver, so a value's hour is never after the row's time, and within 3 h.
    const times = cells(out, 'event_timestamp').map((t) => Date.parse(t as string));
    const drivers = cells(out, 'driver_id') as number[];
    let found = 0;
    cells(out, 'trips').forEach((v, i) => {
      if (v === null) return;
      found++;
      const at = T0 + Math.floor((v as number) / 10) * H;
      assert.equal((v as number) % 10, drivers[i]);
      assert.ok(at <= times[i] && at >= times[i] - 3 * H, `row ${i}: value from ${iso(at)} for a row at ${iso(times[i])}`);
    });
    assert.ok(found > 60 && found < 120, `${found} of 120 rows found a value`);
    assert.deepEqual(node.outputParams, { rows: 120, features: 2, found: found / 120 });
    assert.equal(Object.values(run.nodes).find((n) => n.task === 'train')!.state, 'Succeeded');
  });

  test('synthesizes as ghosteam component run get-historical-features, with the views and features as params', () => {
    const { pipeline } = declare(FeatureSource.file('data/stats.parquet', { timestampField: 'event_timestamp' }));
    const compiled = JSON.stringify(compileArgo(pipeline.toSpec()));
    assert.match(compiled, /get-historical-features/);
    const wt = compileArgo(pipeline.toSpec()).workflowTemplate as unknown as {
      spec: {
        templates: {
          name: string;
          container?: { args?: string[] };
          dag?: { tasks: { name: string; arguments?: { parameters?: { name: string; value: string }[] } }[] };
        }[];
      };
    };
    const tpl = wt.spec.templates.find((t) => t.name === 'features')!;
    assert.deepEqual(tpl.container!.args!.slice(0, 6), [
      '--param',
      'features={{inputs.parameters.features}}',
      '--param',
      'views={{inputs.parameters.views}}',
      '--input',
      'entities=/tmp/inputs/entities',
    ]);
    const task = wt.spec.templates.find((t) => t.dag)!.dag!.tasks.find((t) => t.name === 'features')!;
    const params = Object.fromEntries(task.arguments!.parameters!.map((p) => [p.name, p.value]));
    assert.deepEqual(JSON.parse(params.features), ['driver-stats:conv_rate', 'driver-stats:trips']);
    const views = JSON.parse(params.views);
    assert.deepEqual(Object.keys(views), ['driver-stats']);
    assert.equal(views['driver-stats'].ttlSeconds, 10800);
    assert.equal(views['driver-stats'].source.uri, 'data/stats.parquet');
  });

  test('a source without the declared timestamp column fails the step naming the view, the column and what the file has', async () => {
    writeFileSync(join(dir, 'bad.csv'), 'driver_id,ts,conv_rate,trips\n1,2026-11-01T00:00:00Z,0.5,3\n');
    const { pipeline } = declare(FeatureSource.file(join(dir, 'bad.csv'), { timestampField: 'event_timestamp' }));
    const run = await runPipeline(pipeline.toSpec(), { storeDir: join(dir, 'state2'), cwd: dir, gitCommit: null, isolation: 'inline' });
    assert.equal(run.status, 'Failed');
    const node = Object.values(run.nodes).find((n) => n.task === 'features')!;
    assert.equal(node.state, 'Failed');
    assert.match(
      node.message ?? '',
      /feature view 'driver-stats': source .*bad\.csv has no timestamp column 'event_timestamp'; its columns are driver_id, ts, conv_rate, trips/,
    );
    assert.equal(node.attempts.length, 1, 'a bad source is terminal: not retried');
    assert.equal(node.attempts[0].terminal, true);
  });
});

describe('get-historical-features streams the entity rows', () => {
  test('an entity file of many record batches (string keys) is joined batch by batch, equal to the whole-table join; a bad row is named by its row in the file', async () => {
    const customer = Entity.of('customer', { customer_id: 'string' });
    const app = new App();
    const chart = new Chart(app, 'ml', { namespace: 'ml' });
    const rowsCsv = ['customer_id,ts,score'];
    for (let h = 0; h < 30; h++) for (let c = 0; c < 9; c++) if ((h + c) % 4 !== 0) rowsCsv.push(`c${c},${iso(T0 + h * H)},${h * 100 + c}`);
    writeFileSync(join(dir, 'scores.csv'), rowsCsv.join('\n') + '\n');
    const view = new FeatureView(chart, 'scores', {
      entities: [customer],
      source: FeatureSource.file(join(dir, 'scores.csv'), { timestampField: 'ts' }),
      ttl: '5h',
      features: [Field.float64('score')],
    });
    // Five batches of 50 rows; each batch's customers differ, so its string dictionary does too.
    const batches: Dataset[] = Array.from({ length: 5 }, (_, b) => ({
      rows: 50,
      columns: [
        {
          name: 'customer_id',
          type: 'string' as const,
          values: Array.from({ length: 50 }, (_, i) => (i % 11 === 0 ? null : `c${(i * 7 + b * 3) % (10 + b)}`)),
        },
        {
          name: 'event_timestamp',
          type: 'string' as const,
          values: Array.from({ length: 50 }, (_, i) => iso(T0 + ((i * 13 + b * 17) % 34) * H + (i % 4) * 15 * 60_000)),
        },
      ],
    }));
    const { writeDatasetChunks } = await import('../../components/dataset/stream.ts');
    const { runComponent } = await import('../../components/run.ts');
    const { getHistoricalFeaturesComponent } = await import('../../components/features/component.ts');
    await writeDatasetChunks(join(dir, 'many.arrow'), batches);
    const params = { views: JSON.parse(JSON.stringify({ scores: view.spec })), features: ['scores:score'] };
    const out = await runComponent(getHistoricalFeaturesComponent, {
      inputs: { entities: join(dir, 'many.arrow') },
      outputs: { dataset: join(dir, 'many-out.arrow') },
      params,
    });
    assert.equal(out.rows, 250);
    const got = await readDataset(join(dir, 'many-out.arrow'));
    const expected = getHistoricalFeatures(
      await readDataset(join(dir, 'many.arrow')),
      [{ name: 'scores', spec: view.spec, data: await readViewSource('scores', view.spec) }],
      ['scores:score'],
    );
    assert.deepEqual(cells(got, 'customer_id'), cells(expected, 'customer_id'));
    assert.deepEqual(cells(got, 'score'), cells(expected, 'score'));
    const found = cells(got, 'score').filter((v) => v !== null).length;
    assert.ok(found > 50 && found < 250, `${found} of 250 found: both hits and misses are exercised`);
    assert.equal(out.found, found / 250);
    // A row with no event time in the fourth batch: named by its row in the file, not in the batch.
    const times = batches[3].columns[1] as { readonly values: readonly (string | null)[] };
    const bad: Dataset = {
      rows: 50,
      columns: [batches[3].columns[0], { name: 'event_timestamp', type: 'string', values: times.values.map((v, i) => (i === 7 ? null : v)) }],
    };
    await writeDatasetChunks(join(dir, 'bad.arrow'), [...batches.slice(0, 3), bad, batches[4]]);
    await assert.rejects(
      runComponent(getHistoricalFeaturesComponent, { inputs: { entities: join(dir, 'bad.arrow') }, outputs: { dataset: join(dir, 'bad-out.arrow') }, params }),
      { message: "entities: row 157: timestamp column 'event_timestamp' is empty; every entity row needs its event time" },
    );
  });
});

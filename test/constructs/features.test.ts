// The feature store's constructs: Entity, FeatureView, FeatureService synthesize to ghosteam
// FeatureView/FeatureService resources that the CRD schema accepts, and bad declarations fail at
// synth time with the construct path, the field and the fix.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Entity, FeatureService, FeatureSource, FeatureView, Field, OnlineStore } from '../../charts/index.ts';
import { validateGhosteamObject } from '../../api/crds/validate.ts';
import { ghosteamCrds } from '../../api/crds/index.ts';
import { Schedule } from '../../pipelines/index.ts';
import { chart, find, issuesOf, synth } from './helpers.ts';

const driver = Entity.of('driver', { driver_id: 'int64' });
const customer = Entity.of('customer', { customer_id: 'string' });

function declare() {
  const { app, chart: c } = chart('ml');
  const stats = new FeatureView(c, 'driver-stats', {
    entities: [driver],
    source: FeatureSource.file('data/driver_stats.parquet', { timestampField: 'event_timestamp', createdTimestampField: 'created' }),
    ttl: '2h',
    features: [Field.float64('conv_rate'), Field.int64('trips')],
    onlineStore: OnlineStore.redis({ name: 'feature-store', key: 'url' }),
    materialize: { schedule: Schedule.cron('*/30 * * * *'), chunk: '6h' },
  });
  const profile = new FeatureView(c, 'customer-profile', {
    entities: [customer],
    source: FeatureSource.uri('s3://features/profile.parquet', { timestampField: 'ts' }),
    ttl: 0,
    features: [Field.string('tier'), Field.bool('active')],
  });
  const svc = new FeatureService(c, 'fraud-features', {
    features: [stats.select('conv_rate'), profile],
    onMissing: 'default',
    defaults: { 'driver-stats:conv_rate': 0, 'customer-profile:tier': 'none', 'customer-profile:active': false },
  });
  return { app, stats, profile, svc };
}

describe('feature store constructs', () => {
  test('a FeatureView synthesizes the registry entry: entities, source, TTL in seconds, typed features, online store by Secret reference', () => {
    const { app } = declare();
    const objects = synth(app).objects;
    const fv = find(objects, 'FeatureView', 'driver-stats');
    assert.equal(fv.apiVersion, 'ghosteam.io/v1alpha1');
    assert.deepEqual(fv.spec, {
      entities: [{ name: 'driver', joinKeys: [{ name: 'driver_id', type: 'int64' }] }],
      source: { kind: 'file', uri: 'data/driver_stats.parquet', format: 'parquet', timestampField: 'event_timestamp', createdTimestampField: 'created' },
      ttlSeconds: 7200,
      features: [
        { name: 'conv_rate', type: 'float64' },
        { name: 'trips', type: 'int64' },
      ],
      online: true,
      onlineStore: { type: 'redis', secretRef: { name: 'feature-store', key: 'url' } },
      materialization: { schedule: '*/30 * * * *', chunkSeconds: 21600 },
    });
    assert.equal(find(objects, 'FeatureView', 'customer-profile').spec.onlineStore.type, 'sqlite', 'SQLite is the embedded default');
    assert.equal(find(objects, 'FeatureView', 'customer-profile').spec.ttlSeconds, 0);
    for (const o of objects.filter((x) => x.apiVersion === 'ghosteam.io/v1alpha1'))
      assert.deepEqual(validateGhosteamObject(o), [], `${o.kind}/${o.metadata.name}`);
    assert.ok(!JSON.stringify(objects).includes('redis://'), 'no connection URL in the manifests');
  });

  test('a scheduled view synthesizes an Argo CronWorkflow running materialize-features, the store URL by secretKeyRef', () => {
    const { app } = declare();
    const objects = synth(app).objects;
    const cron = find(objects, 'CronWorkflow', 'materialize-driver-stats');
    assert.deepEqual(cron.spec.schedules, ['*/30 * * * *']);
    assert.deepEqual(cron.spec.workflowSpec, { workflowTemplateRef: { name: 'materialize-driver-stats' } });
    const wt = find(objects, 'WorkflowTemplate', 'materialize-driver-stats');
    const step = wt.spec.templates.find((t: { name: string }) => t.name === 'materialize');
    assert.ok(step.container.args.includes('view={{inputs.parameters.view}}'), JSON.stringify(step.container.args));
    assert.deepEqual(
      step.container.env.find((e: { name: string }) => e.name === 'GHOSTEAM_ONLINE_STORE_URL'),
      { name: 'GHOSTEAM_ONLINE_STORE_URL', valueFrom: { secretKeyRef: { name: 'feature-store', key: 'url' } } },
    );
    const dag = wt.spec.templates.find((t: { dag?: unknown }) => t.dag).dag.tasks[0];
    const spec = JSON.parse(dag.arguments.parameters.find((p: { name: string }) => p.name === 'spec').value);
    assert.equal(spec.materialization.chunkSeconds, 21600);
    // The view without a schedule gets none.
    assert.ok(!objects.some((o) => o.kind === 'CronWorkflow' && o.metadata.name === 'materialize-customer-profile'));
  });

  test('a FeatureService lists its features per view, in order, with the missing-value policy', () => {
    const { app, svc } = declare();
    const fs = find(synth(app).objects, 'FeatureService', 'fraud-features');
    assert.deepEqual(fs.spec, {
      features: [
        { featureView: 'driver-stats', features: ['conv_rate'] },
        { featureView: 'customer-profile', features: ['tier', 'active'] },
      ],
      onMissing: 'default',
      defaults: { 'driver-stats:conv_rate': 0, 'customer-profile:tier': 'none', 'customer-profile:active': false },
    });
    assert.deepEqual(svc.featureRefs, ['driver-stats:conv_rate', 'customer-profile:tier', 'customer-profile:active']);
    assert.deepEqual([...svc.views.keys()], ['driver-stats', 'customer-profile']);
  });

  test('the CRDs: kubectl get featureviews / featureservices, with short names and printer columns', () => {
    const crds = ghosteamCrds();
    const fv = crds.find((c) => c.metadata.name === 'featureviews.ghosteam.io');
    const fs = crds.find((c) => c.metadata.name === 'featureservices.ghosteam.io');
    assert.ok(fv && fs);
    assert.deepEqual(fv.spec.names.shortNames, ['fv']);
    assert.deepEqual(
      fv.spec.versions[0].additionalPrinterColumns.map((p) => p.name),
      ['Entities', 'TTL', 'Online', 'Materialized', 'Age'],
    );
    assert.deepEqual(fs.spec.names.shortNames, ['fs']);
  });

  test('bad declarations: every problem, with the path, the field and the fix', () => {
    const { chart: c } = chart();
    assert.deepEqual(
      issuesOf(
        () =>
          new FeatureView(c, 'Bad_View', {
            entities: [],
            source: FeatureSource.file('x.parquet', { timestampField: 'conv_rate' }),
            ttl: 'a day',
            features: [Field.float64('conv_rate')],
          }),
      ),
      [
        "test/Bad_View: 'name' 'Bad_View' is not a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit); use 'bad-view'",
        "test/Bad_View: 'entities' is empty; name what the features are about, e.g. [Entity.of('driver', { driver_id: 'int64' })]",
        "test/Bad_View: 'features' 'conv_rate' is both the timestamp field and feature 'conv_rate'; each column has one role",
        "test/Bad_View: 'ttl' 'a day' is not a duration; write e.g. '30s', '5m', '1h30m' or '7d', or 0 for no limit",
      ],
    );
    assert.throws(() => FeatureSource.file('x.parquet', { timestampField: '' }), {
      message: "FeatureSource.file('x.parquet'): give timestampField, the column that says when each value became true",
    });
    assert.throws(() => FeatureSource.file('x.bin', { timestampField: 'ts' }), {
      message: "FeatureSource.file('x.bin'): can't tell the format from the extension; name a .parquet, .csv, .jsonl or .arrow file or set format",
    });
    assert.throws(() => Entity.of('driver', { driver_id: 'float' as never }), {
      message: "Entity.of('driver'): join key 'driver_id' has type 'float'; use one of int64, string",
    });
    assert.throws(() => Entity.of('driver', {}), { message: "Entity.of('driver'): give at least one join key, e.g. { driver_id: 'int64' }" });
    assert.throws(() => Field.float64('conv rate'), {
      message: "Field.float64: 'conv rate' is not a column name; use letters, digits and '_', not starting with a digit",
    });
  });

  test('a FeatureService naming a feature its view lacks, or a default that does not fit, fails at synth', () => {
    const { chart: c } = chart();
    const v = new FeatureView(c, 'driver-stats', {
      entities: [driver],
      source: FeatureSource.file('d.parquet', { timestampField: 'ts' }),
      ttl: '1h',
      features: [Field.float64('conv_rate'), Field.int64('trips')],
    });
    assert.deepEqual(
      issuesOf(
        () => new FeatureService(c, 'svc', { features: [v.select('conv_rate', 'speed')], onMissing: 'default', defaults: { 'driver-stats:conv_rate': 'x' } }),
      ),
      [
        "test/svc: 'features[0]' 'driver-stats' has no feature 'speed'; it has conv_rate, trips",
        `test/svc: 'defaults.driver-stats:conv_rate' ("x") does not fit the feature's type float64`,
      ],
    );
    assert.deepEqual(
      issuesOf(() => new FeatureService(c, 'svc2', { features: [v], onMissing: 'default' })),
      ["test/svc2: 'defaults' has no value for driver-stats:conv_rate, driver-stats:trips; onMissing 'default' needs one per feature"],
    );
  });
});

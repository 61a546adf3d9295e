// Historical retrieval on datasets: the output shape, the type checks and the errors that name the
// view, the column and the row.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FeatureViewSpec } from '../../api/crds/types.ts';
import { cellAt, datasetFromColumns, type Dataset } from '../../components/dataset/index.ts';
import { getHistoricalFeatures, type ViewData } from '../../components/features/historical.ts';
import { encodeKeyValues, parseTimestamp } from '../../components/features/columns.ts';

const spec: FeatureViewSpec = {
  entities: [{ name: 'driver', joinKeys: [{ name: 'driver_id', type: 'int64' }] }],
  source: { kind: 'file', uri: 'd.parquet', format: 'parquet', timestampField: 'ts' },
  ttlSeconds: 3600,
  features: [
    { name: 'conv_rate', type: 'float64' },
    { name: 'city', type: 'string' },
  ],
  online: true,
};
const data = datasetFromColumns({
  driver_id: { type: 'numeric', cells: [1, 1, 2] },
  ts: { type: 'string', cells: ['2026-11-01T00:00:00Z', '2026-11-01T01:00:00Z', '2026-11-01T00:30:00Z'] },
  conv_rate: { type: 'numeric', cells: [0.1, 0.2, 0.3] },
  city: { type: 'categorical', cells: ['paris', 'lyon', 'nice'] },
});
const view: ViewData = { name: 'driver_stats', spec, data };
const entities = (cells: Record<string, { type: 'numeric' | 'string'; cells: (number | string | null)[] }>): Dataset => datasetFromColumns(cells);
const col = (ds: Dataset, name: string) => {
  const c = ds.columns.find((x) => x.name === name)!;
  return Array.from({ length: ds.rows }, (_, i) => cellAt(c, i));
};

describe('getHistoricalFeatures', () => {
  const rows = entities({
    driver_id: { type: 'numeric', cells: [1, 1, 2, 3, 1] },
    event_timestamp: {
      type: 'string',
      cells: ['2026-11-01T00:59:59Z', '2026-11-01T01:00:00', '2026-11-01T02:00:00Z', '2026-11-01T01:00:00Z', '2026-11-01T02:00:01Z'],
    },
  });

  test('keeps every entity row and column in order and adds the features; categorical stays categorical', () => {
    const out = getHistoricalFeatures(rows, [view], ['driver_stats:conv_rate', 'driver_stats:city']);
    assert.deepEqual(
      out.columns.map((c) => `${c.name}:${c.type}`),
      ['driver_id:numeric', 'event_timestamp:string', 'conv_rate:numeric', 'city:categorical'],
    );
    // 00:59:59 → the 00:00 row; 01:00 (no offset: UTC) → the 01:00 row; driver 2 at 02:00 → its 00:30 row is 1.5 h old, past
    // the 1 h TTL → null; driver 3 has no rows → null; driver 1 at 02:00:01 → the 01:00 row is 1 h 1 s old → null.
    assert.deepEqual(col(out, 'conv_rate'), [0.1, 0.2, null, null, null]);
    assert.deepEqual(col(out, 'city'), ['paris', 'lyon', null, null, null]);
  });

  test('fullFeatureNames names columns view__feature', () => {
    const out = getHistoricalFeatures(rows, [view], ['driver_stats:conv_rate'], { fullFeatureNames: true });
    assert.deepEqual(
      out.columns.map((c) => c.name),
      ['driver_id', 'event_timestamp', 'driver_stats__conv_rate'],
    );
  });

  const cases: [string, () => unknown, string][] = [
    [
      'an unknown view',
      () => getHistoricalFeatures(rows, [view], ['trips:count']),
      "features: 'trips:count' names feature view 'trips', which is not declared; declared: driver_stats",
    ],
    [
      'an unknown feature',
      () => getHistoricalFeatures(rows, [view], ['driver_stats:speed']),
      "features: 'driver_stats:speed': view 'driver_stats' has no feature 'speed'; it has conv_rate, city",
    ],
    [
      'a malformed reference',
      () => getHistoricalFeatures(rows, [view], ['conv_rate']),
      "features: 'conv_rate' is not a feature reference; write 'view:feature', e.g. 'driver_stats:conv_rate'",
    ],
    [
      'the entity rows lack the timestamp column',
      () => getHistoricalFeatures(entities({ driver_id: { type: 'numeric', cells: [1] } }), [view], ['driver_stats:conv_rate']),
      "entity rows: has no timestamp column 'event_timestamp'; its columns are: driver_id",
    ],
    [
      'the entity rows lack a join key',
      () => getHistoricalFeatures(entities({ event_timestamp: { type: 'string', cells: ['2026-11-01T00:00:00Z'] } }), [view], ['driver_stats:conv_rate']),
      "entity rows: has no join key column 'driver_id'; its columns are: event_timestamp",
    ],
    [
      'a join key of the wrong type',
      () =>
        getHistoricalFeatures(
          entities({ driver_id: { type: 'string', cells: ['a'] }, event_timestamp: { type: 'string', cells: ['2026-11-01T00:00:00Z'] } }),
          [view],
          ['driver_stats:conv_rate'],
        ),
      "entity rows: join key 'driver_id' is declared int64 but the column is string; give whole numbers, or declare the key as string",
    ],
    [
      'a fractional int64 key',
      () =>
        getHistoricalFeatures(
          entities({
            driver_id: { type: 'numeric', cells: [1, 1.5] },
            event_timestamp: { type: 'string', cells: ['2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z'] },
          }),
          [view],
          ['driver_stats:conv_rate'],
        ),
      "entity rows: row 1: join key 'driver_id' is 1.5, not a whole number (declared int64)",
    ],
    [
      'an unparseable time',
      () =>
        getHistoricalFeatures(
          entities({ driver_id: { type: 'numeric', cells: [1] }, event_timestamp: { type: 'string', cells: ['yesterday'] } }),
          [view],
          ['driver_stats:conv_rate'],
        ),
      "entity rows: row 0: timestamp column 'event_timestamp' holds 'yesterday', not an RFC 3339 time; write e.g. 2026-11-23T04:00:00Z",
    ],
    [
      'an empty time',
      () =>
        getHistoricalFeatures(
          entities({ driver_id: { type: 'numeric', cells: [1] }, event_timestamp: { type: 'string', cells: [null] } }),
          [view],
          ['driver_stats:conv_rate'],
        ),
      "entity rows: row 0: timestamp column 'event_timestamp' is empty; every entity row needs its event time",
    ],
    [
      'a numeric timestamp column',
      () =>
        getHistoricalFeatures(
          entities({ driver_id: { type: 'numeric', cells: [1] }, event_timestamp: { type: 'numeric', cells: [5] } }),
          [view],
          ['driver_stats:conv_rate'],
        ),
      "entity rows: timestamp column 'event_timestamp' is numeric, not a time; store event times as timestamps (pandas datetime64, Arrow timestamp) or RFC 3339 text",
    ],
    [
      'the source lacks its timestamp column',
      () => getHistoricalFeatures(rows, [{ ...view, spec: { ...spec, source: { ...spec.source, timestampField: 'event_time' } } }], ['driver_stats:conv_rate']),
      "feature view 'driver_stats': has no timestamp column 'event_time'; its columns are: driver_id, ts, conv_rate, city",
    ],
    [
      'a feature whose column has another type',
      () => getHistoricalFeatures(rows, [{ ...view, spec: { ...spec, features: [{ name: 'city', type: 'float64' }] } }], ['driver_stats:city']),
      "feature view 'driver_stats': feature 'city' is declared float64 but the column is categorical; fix the declaration or the data",
    ],
    [
      'two views giving the same column',
      () => getHistoricalFeatures(rows, [view, { ...view, name: 'other' }], ['driver_stats:conv_rate', 'other:conv_rate']),
      "entity rows: output column 'conv_rate' would appear twice (feature view 'other' and an earlier view or an entity column); set fullFeatureNames to name features view__feature",
    ],
  ];
  for (const [name, fn, message] of cases) test(`error: ${name}`, () => assert.throws(fn, { name: 'FeaturesError', message }));
});

describe('keys and times', () => {
  test('RFC 3339 with and without offsets; a date alone is midnight UTC', () => {
    assert.equal(parseTimestamp('2026-11-01T01:00:00Z'), Date.UTC(2026, 10, 1, 1));
    assert.equal(parseTimestamp('2026-11-01T01:00:00'), Date.UTC(2026, 10, 1, 1));
    assert.equal(parseTimestamp('2026-11-01 01:00:00.250'), Date.UTC(2026, 10, 1, 1, 0, 0, 250));
    assert.equal(parseTimestamp('2026-11-01T03:00:00+02:00'), Date.UTC(2026, 10, 1, 1));
    assert.equal(parseTimestamp('2026-11-01'), Date.UTC(2026, 10, 1));
    assert.ok(Number.isNaN(parseTimestamp('soon')));
  });

  test('an online key: types checked, numbers as text accepted for int64', () => {
    const keys = [
      { name: 'driver_id', type: 'int64' as const },
      { name: 'city', type: 'string' as const },
    ];
    assert.equal(encodeKeyValues(keys, { driver_id: 7, city: 'paris' }, 'request'), '7\u001fparis');
    assert.equal(encodeKeyValues(keys, { driver_id: '7', city: 'paris' }, 'request'), '7\u001fparis');
    assert.throws(() => encodeKeyValues(keys, { driver_id: 'seven', city: 'paris' }, 'request'), {
      message: `request: join key 'driver_id' is "seven", not a whole number (declared int64)`,
    });
    assert.throws(() => encodeKeyValues(keys, { driver_id: 7, city: 3 }, 'request'), {
      message: "request: join key 'city' is 3, not a string (declared string)",
    });
    assert.throws(() => encodeKeyValues(keys, { city: 'paris' }, 'request'), { message: "request: join key 'driver_id' is missing; give driver_id, city" });
  });
});

// The fast Parquet path for feature sources (DuckDB, components/features/parquet-fast.ts) against
// ingest's reader on the same file written by pandas (the peers' Python): the same keys, event times
// (a UTC-aware column, a naive one, one with another offset) and feature values, missing values
// included; a file with a string feature falls back to ingest's reader; a missing column is named.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { FeatureViewSpec } from '../../api/crds/types.ts';
import { cellAt } from '../../components/dataset/index.ts';
import { timestampsOf } from '../../components/features/columns.ts';
import { readParquetFast } from '../../components/features/parquet-fast.ts';
import { readViewSource, viewColumns } from '../../components/features/sources.ts';
import { ingestFile } from '../../components/ingest/index.ts';
import { usePeers } from '../peers/index.ts';

const peers = await usePeers(['python']);

const WRITE = `
import sys, pandas as pd, numpy as np
n = 500
rng = np.random.default_rng(3)
t = pd.Timestamp("2026-11-01T00:00:00Z") + pd.to_timedelta(rng.integers(0, 86_400_000, n), unit="ms")
df = pd.DataFrame({
  "driver_id": rng.integers(1, 50, n).astype("int64"),
  "ts": t,
  "naive": t.tz_localize(None),
  "paris": t.tz_convert("Europe/Paris"),
  "rate": np.where(rng.random(n) < 0.1, np.nan, np.round(rng.random(n), 3)),
  "trips": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 100, n)), dtype="Int64"),
  "city": rng.choice(["a", "b"], n),
})
df.to_parquet(sys.argv[1] + "/v.parquet", index=False)
`;

const spec = (timestampField: string, features: FeatureViewSpec['features']): FeatureViewSpec => ({
  entities: [{ name: 'driver', joinKeys: [{ name: 'driver_id', type: 'int64' }] }],
  source: { kind: 'file', uri: 'v.parquet', format: 'parquet', timestampField },
  ttlSeconds: 0,
  features,
  online: true,
});
const numeric: FeatureViewSpec['features'] = [
  { name: 'rate', type: 'float64' },
  { name: 'trips', type: 'int64' },
];

describe('feature sources: Parquet through DuckDB equals ingest', { skip: peers.skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-pq-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  if (!peers.skip) execFileSync(peers.python, ['-c', WRITE, dir]);

  for (const tsField of ['ts', 'naive', 'paris'])
    test(`keys, times (${tsField}) and features, missing values included`, async () => {
      const s = spec(tsField, numeric);
      const fast = await readParquetFast(join(dir, 'v.parquet'), [
        { name: 'driver_id', kind: 'number' },
        { name: tsField, kind: 'time' },
        { name: 'rate', kind: 'number' },
        { name: 'trips', kind: 'number' },
      ]);
      assert.ok(fast, 'the fast path applies to numbers and timestamps');
      const viaSource = await readViewSource('v', s, { baseDir: dir });
      const slow = await ingestFile(join(dir, 'v.parquet'), { format: 'parquet', types: viewColumns(s), columns: Object.keys(viewColumns(s)) });
      assert.equal(viaSource.rows, 500);
      assert.deepEqual(timestampsOf(viaSource, tsField, 'v'), timestampsOf(slow, tsField, 'v'));
      for (const c of ['driver_id', 'rate', 'trips']) {
        const a = viaSource.columns.find((x) => x.name === c)!;
        const b = slow.columns.find((x) => x.name === c)!;
        const cells = (col: typeof a) => Array.from({ length: 500 }, (_, i) => cellAt(col, i));
        assert.deepEqual(cells(a), cells(b), c);
      }
      assert.ok(
        Array.from({ length: 500 }, (_, i) =>
          cellAt(
            viaSource.columns.find((x) => x.name === 'rate')!,
            i,
          ),
        ).some((v) => v === null),
        'the data has missing values',
      );
    });

  test('a string feature, or a column the file lacks, is read by ingest (which names the column)', async () => {
    const withString = spec('ts', [...numeric, { name: 'city', type: 'string' }]);
    assert.equal(await readParquetFast(join(dir, 'v.parquet'), [{ name: 'city', kind: 'number' }]), undefined);
    const ds = await readViewSource('v', withString, { baseDir: dir });
    assert.equal(
      cellAt(
        ds.columns.find((x) => x.name === 'city')!,
        0,
      ) !== null,
      true,
    );
    await assert.rejects(readViewSource('v', spec('ts', [{ name: 'nope', type: 'float64' }]), { baseDir: dir }), {
      message: /^feature view 'v': source v\.parquet has no declared column 'nope'; its columns are /,
    });
  });
});

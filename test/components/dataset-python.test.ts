/**
 * Dataset artifacts against the real pandas and pyarrow from the peers' venv (pins in
 * test/peers/versions.json): what the built-ins write, Python reads with the same values, types and
 * categories; what Python writes (pandas' default LZ4 Feather, ZSTD, uncompressed) the built-ins
 * read; and a round trip through pandas keeps the schema.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cellAt, datasetFromColumns, datasetSchema, readDataset, writeDataset, type Dataset } from '../../components/dataset/index.ts';
import { usePeers } from '../peers/index.ts';

const peers = await usePeers(['python']);
const dir = mkdtempSync(join(tmpdir(), 'ghosteam-ds-py-'));
const py = (code: string): string => execFileSync(peers.python, ['-c', code], { encoding: 'utf8' });
const cells = (ds: Dataset) => Object.fromEntries(ds.columns.map((c) => [c.name, Array.from({ length: ds.rows }, (_, i) => cellAt(c, i))]));

function sample(): Dataset {
  return datasetFromColumns({
    amount: { type: 'numeric', cells: [1.5, null, -3, 1e300, 0] },
    country: { type: 'categorical', cells: ['FR', 'US', null, 'FR', 'DE'], categories: ['FR', 'US', 'DE'] },
    fraud: { type: 'boolean', cells: [true, false, null, true, false] },
    note: { type: 'string', cells: ['a "quoted" ü', null, '', 'x\ny', 'z'] },
  });
}

describe('dataset artifacts with real pandas and pyarrow (Python peer)', { skip: peers.skip }, () => {
  test('pandas and pyarrow read what the built-ins write, with the same values, types and categories', async () => {
    const path = join(dir, 'ours.arrow');
    await writeDataset(path, sample());
    const out = JSON.parse(
      py(`import json, pandas as pd, pyarrow.feather as feather, math
t = feather.read_table('${path}')
df = pd.read_feather('${path}')
def cell(v):
    if v is None or (isinstance(v, float) and math.isnan(v)): return None
    return v.item() if hasattr(v, 'item') else v
print(json.dumps(dict(
  arrow={f.name: str(f.type) for f in t.schema},
  dtypes={c: str(df[c].dtype) for c in df.columns},
  categories=list(df['country'].cat.categories), ordered=bool(df['country'].cat.ordered),
  values={c: [cell(v) for v in df[c].astype(object)] for c in df.columns})))`),
    );
    assert.deepEqual(out.arrow, { amount: 'double', country: 'dictionary<values=string, indices=int32, ordered=0>', fraud: 'bool', note: 'string' });
    assert.deepEqual(out.dtypes, { amount: 'float64', country: 'category', fraud: 'object', note: 'object' });
    assert.deepEqual(out.categories, ['FR', 'US', 'DE']);
    assert.equal(out.ordered, false);
    assert.deepEqual(out.values, cells(sample()));
  });

  for (const compression of ['default (lz4)', 'zstd', 'uncompressed']) {
    test(`the built-ins read a dataset pandas wrote with df.to_feather, compression ${compression}`, async () => {
      const path = join(dir, `pd-${compression.split(' ')[0]}.feather`);
      const arg = compression.startsWith('default') ? '' : `, compression='${compression}'`;
      py(`import pandas as pd, numpy as np
df = pd.DataFrame({
  'amount': [1.5, np.nan, -3.0, 4.25],
  'count': pd.Series([1, 2, 3, 40000000000], dtype='int64'),
  'small': pd.Series([1, -2, 3, 4], dtype='int8'),
  'ratio': pd.Series([0.5, 1.5, np.nan, 2], dtype='float32'),
  'country': pd.Categorical(['FR', 'US', None, 'FR'], categories=['US', 'FR']),
  'fraud': [True, False, True, False],
  'note': ['a', None, 'ü', 'x\\ny'],
  'day': pd.to_datetime(['2024-01-01', '2024-01-02', None, '2024-01-04']),
})
df.to_feather('${path}'${arg})`);
      const ds = await readDataset(path);
      assert.deepEqual(datasetSchema(ds), [
        { name: 'amount', type: 'numeric' },
        { name: 'count', type: 'numeric' },
        { name: 'small', type: 'numeric' },
        { name: 'ratio', type: 'numeric' },
        { name: 'country', type: 'categorical', categories: ['US', 'FR'] },
        { name: 'fraud', type: 'boolean' },
        { name: 'note', type: 'string' },
        { name: 'day', type: 'string' },
      ]);
      assert.deepEqual(cells(ds), {
        amount: [1.5, null, -3, 4.25],
        count: [1, 2, 3, 40000000000],
        small: [1, -2, 3, 4],
        ratio: [0.5, 1.5, null, 2],
        country: ['FR', 'US', null, 'FR'],
        fraud: [true, false, true, false],
        note: ['a', null, 'ü', 'x\ny'],
        day: ['2024-01-01T00:00:00.000Z', '2024-01-02T00:00:00.000Z', null, '2024-01-04T00:00:00.000Z'],
      });
    });
  }

  test('a round trip through pandas (read_feather, to_feather) keeps schema, types, categories and values', async () => {
    const ours = join(dir, 'rt.arrow');
    const back = join(dir, 'rt-back.feather');
    await writeDataset(ours, sample());
    py(`import pandas as pd
pd.read_feather('${ours}').to_feather('${back}')`);
    const ds = await readDataset(back);
    assert.deepEqual(datasetSchema(ds), datasetSchema(sample()));
    assert.deepEqual(cells(ds), cells(sample()));
  });
});

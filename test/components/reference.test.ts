/**
 * Cross-checks against the reference implementations in the peers' Python venv (mlflow brings
 * scikit-learn, pandas and pyarrow): evaluate's metrics against scikit-learn on the same
 * predictions, and ingest against Parquet files written by pyarrow (dictionary encoding, snappy,
 * nulls, int64, timestamps) and CSV written by pandas.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cellAt, type Dataset } from '../../components/dataset/index.ts';
import { evaluateBinary } from '../../components/evaluate/metrics.ts';
import { ingestFile } from '../../components/ingest/index.ts';
import { mulberry32 } from '../../components/random.ts';
import { usePeers } from '../peers/index.ts';

const peers = await usePeers(['python']);
const dir = mkdtempSync(join(tmpdir(), 'ghosteam-ref-'));
const py = (code: string, input = ''): string => execFileSync(peers.python, ['-c', code], { input, encoding: 'utf8' });
const cells = (ds: Dataset, name: string) => {
  const c = ds.columns.find((x) => x.name === name)!;
  return Array.from({ length: ds.rows }, (_, i) => cellAt(c, i));
};

describe('reference implementations (Python peer)', { skip: peers.skip }, () => {
  test('metrics equal scikit-learn on 5,000 predictions (with ties)', () => {
    const r = mulberry32(11);
    const y: number[] = [];
    const p: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const yi = r() < 0.3 ? 1 : 0;
      // Rounded scores create ties, which AUC must count as half.
      p.push(Math.round(Math.min(0.999, Math.max(0.001, 0.3 + (yi ? 0.25 : -0.1) + (r() - 0.5) * 0.6)) * 50) / 50);
      y.push(yi);
    }
    const ours = evaluateBinary(y, p, 0.5, 10);
    const ref = JSON.parse(
      py(
        `import json,sys
from sklearn import metrics
from sklearn.calibration import calibration_curve
d=json.load(sys.stdin); y=d['y']; p=d['p']; yh=[1 if v>=0.5 else 0 for v in p]
tn,fp,fn,tp=[int(v) for v in metrics.confusion_matrix(y,yh).ravel()]
fr,mp=calibration_curve(y,p,n_bins=10,strategy='uniform')
print(json.dumps(dict(accuracy=metrics.accuracy_score(y,yh),precision=metrics.precision_score(y,yh),recall=metrics.recall_score(y,yh),f1=metrics.f1_score(y,yh),rocAuc=metrics.roc_auc_score(y,p),logLoss=metrics.log_loss(y,p),cm=[tp,fp,tn,fn],frac=list(fr),meanp=list(mp))))`,
        JSON.stringify({ y, p }),
      ),
    );
    for (const k of ['accuracy', 'precision', 'recall', 'f1', 'rocAuc', 'logLoss'] as const) {
      assert.ok(Math.abs(ours.metrics[k] - ref[k]) < 1e-9, `${k}: ours ${ours.metrics[k]}, sklearn ${ref[k]}`);
    }
    assert.deepEqual([ours.confusion.tp, ours.confusion.fp, ours.confusion.tn, ours.confusion.fn], ref.cm);
    // sklearn drops empty bins; compare the non-empty ones in order.
    const bins = ours.calibration.filter((b) => b.count > 0);
    assert.equal(bins.length, ref.frac.length);
    bins.forEach((b, i) => {
      assert.ok(Math.abs(b.fractionPositive! - ref.frac[i]) < 1e-9);
      assert.ok(Math.abs(b.meanPredicted! - ref.meanp[i]) < 1e-9);
    });
  });

  test('ingest reads Parquet written by pyarrow (snappy, dictionary, nulls, int64, timestamps)', async () => {
    const path = join(dir, 'pa.parquet');
    py(`import pyarrow as pa, pyarrow.parquet as pq, datetime as dt
t=pa.table({'id':pa.array([1,2,3,4,5],pa.int64()),'amount':[1.5,None,3.25,4.0,-2.0],'country':pa.array(['FR','US','FR',None,'US']).dictionary_encode(),'fraud':[True,False,None,True,False],'ts':pa.array([dt.datetime(2024,1,1+i,12,0,0) for i in range(5)],pa.timestamp('ms'))})
pq.write_table(t,'${path}',compression='snappy')`);
    const ds = await ingestFile(path, { types: { country: 'categorical' } });
    assert.deepEqual(Object.fromEntries(ds.columns.map((c) => [c.name, c.type])), { id: 'numeric', amount: 'numeric', country: 'categorical', fraud: 'boolean', ts: 'string' });
    assert.deepEqual(cells(ds, 'id'), [1, 2, 3, 4, 5]);
    assert.deepEqual(cells(ds, 'amount'), [1.5, null, 3.25, 4, -2]);
    assert.deepEqual(cells(ds, 'country'), ['FR', 'US', 'FR', null, 'US']);
    assert.deepEqual(cells(ds, 'fraud'), [true, false, null, true, false]);
    assert.equal(cells(ds, 'ts')[0], '2024-01-01T12:00:00.000Z');
  });

  test('ingest reads CSV written by pandas (quoting, embedded newlines, NaN) like pandas reads it back', async () => {
    const path = join(dir, 'pd.csv');
    py(`import pandas as pd, numpy as np
pd.DataFrame({'a':[1.0,np.nan,3.5],'note':['x, "quoted"','two\\nlines',None],'flag':[True,False,True]}).to_csv('${path}',index=False)`);
    const ds = await ingestFile(path);
    const back = JSON.parse(py(`import pandas as pd, json
df=pd.read_csv('${path}')
print(json.dumps({c:[None if pd.isna(v) else (v.item() if hasattr(v,'item') else v) for v in df[c]] for c in df.columns}))`));
    for (const name of ['a', 'note', 'flag']) assert.deepEqual(cells(ds, name), back[name], name);
  });
});

/**
 * Cross-checks against the reference implementations in the peers' Python venv (mlflow brings
 * scikit-learn, pandas and pyarrow): evaluate's metrics against scikit-learn on the same
 * predictions, and ingest against Parquet files written by pyarrow (dictionary encoding, snappy,
 * nulls, int64, timestamps) and CSV written by pandas.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cellAt, type Dataset } from '../../components/dataset/index.ts';
import { evaluateAnomaly, evaluateBinary, evaluateMulticlass, evaluateRegression } from '../../components/evaluate/metrics.ts';
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

  test('multiclass, regression and anomaly metrics equal scikit-learn and numpy', () => {
    const r = mulberry32(21);
    const n = 3000;
    const C = 4;
    const y: number[] = [];
    const p: number[] = [];
    const yr: number[] = [];
    const pr: number[] = [];
    const score: number[] = [];
    const lab: number[] = [];
    for (let i = 0; i < n; i++) {
      const k = Math.floor(r() * C);
      y.push(k);
      const w = Array.from({ length: C }, (_, j) => (j === k ? 1.5 : 0.3) + r());
      const s = w.reduce((a, b) => a + b, 0);
      p.push(...w.map((v) => v / s));
      const t = r() * 100;
      yr.push(t);
      pr.push(t + (r() - 0.5) * 20);
      const a = r() < 0.1 ? 1 : 0;
      lab.push(a);
      score.push(Math.round((a ? 1 : 0) + r() * 2) / 4 + r() * 0.01);
    }
    const mc = evaluateMulticlass(y, p, ['a', 'b', 'c', 'd']);
    const rg = evaluateRegression(yr, pr);
    const an = evaluateAnomaly(score, lab);
    const ref = JSON.parse(
      py(
        `import json,sys
import numpy as np
from sklearn import metrics
d=json.load(sys.stdin); y=d['y']; P=np.array(d['p']).reshape(-1,4); yh=P.argmax(1)
print(json.dumps(dict(accuracy=metrics.accuracy_score(y,yh),macroF1=metrics.f1_score(y,yh,average='macro'),logLoss=metrics.log_loss(y,P,labels=[0,1,2,3]),cm=metrics.confusion_matrix(y,yh,labels=[0,1,2,3]).tolist(),
 rmse=float(np.sqrt(metrics.mean_squared_error(d['yr'],d['pr']))),mae=metrics.mean_absolute_error(d['yr'],d['pr']),r2=metrics.r2_score(d['yr'],d['pr']),
 q=[float(np.quantile(d['s'],q)) for q in (0.5,0.9,0.95,0.99)],mean=float(np.mean(d['s'])),auc=metrics.roc_auc_score(d['lab'],d['s']))))`,
        JSON.stringify({ y, p, yr, pr, s: score, lab }),
      ),
    );
    const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ours ${a}, reference ${b}`);
    close(mc.metrics.accuracy, ref.accuracy, 'accuracy');
    close(mc.metrics.macroF1, ref.macroF1, 'macroF1');
    close(mc.metrics.logLoss, ref.logLoss, 'logLoss');
    assert.deepEqual(mc.confusion, ref.cm);
    close(rg.metrics.rmse, ref.rmse, 'rmse');
    close(rg.metrics.mae, ref.mae, 'mae');
    close(rg.metrics.r2, ref.r2, 'r2');
    [an.metrics.scoreP50, an.metrics.scoreP90, an.metrics.scoreP95, an.metrics.scoreP99].forEach((v, i) => close(v, ref.q[i], `quantile ${i}`));
    close(an.metrics.scoreMean, ref.mean, 'mean');
    close(an.metrics.rocAuc!, ref.auc, 'anomaly rocAuc');
  });

  test('ingest reads Parquet written by pyarrow (snappy, dictionary, nulls, int64, timestamps)', async () => {
    const path = join(dir, 'pa.parquet');
    py(`import pyarrow as pa, pyarrow.parquet as pq, datetime as dt
t=pa.table({'id':pa.array([1,2,3,4,5],pa.int64()),'amount':[1.5,None,3.25,4.0,-2.0],'country':pa.array(['FR','US','FR',None,'US']).dictionary_encode(),'fraud':[True,False,None,True,False],'ts':pa.array([dt.datetime(2024,1,1+i,12,0,0) for i in range(5)],pa.timestamp('ms'))})
pq.write_table(t,'${path}',compression='snappy')`);
    const ds = await ingestFile(path, { types: { country: 'categorical' } });
    assert.deepEqual(Object.fromEntries(ds.columns.map((c) => [c.name, c.type])), {
      id: 'numeric',
      amount: 'numeric',
      country: 'categorical',
      fraud: 'boolean',
      ts: 'string',
    });
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
    const back = JSON.parse(
      py(`import pandas as pd, json
df=pd.read_csv('${path}')
print(json.dumps({c:[None if pd.isna(v) else (v.item() if hasattr(v,'item') else v) for v in df[c]] for c in df.columns}))`),
    );
    for (const name of ['a', 'note', 'flag']) assert.deepEqual(cells(ds, name), back[name], name);
  });
});

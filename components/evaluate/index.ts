/**
 * evaluate: scores a trained model on a held-out dataset with the metrics that fit its task, and
 * with a `gate` param also decides whether the model may be registered (the `gate` component does
 * the same on its own).
 *   binary      accuracy, precision, recall, F1, ROC AUC, log loss, ECE, a confusion matrix and a
 *               calibration table (params: threshold 0.5, bins 10)
 *   multiclass  accuracy, macroF1, logLoss, a confusion matrix and per-class precision/recall/F1
 *   regression  rmse, mae, r2
 *   anomaly     score quantiles (scoreMean, scoreP50/P90/P95/P99); ROC AUC of the score when the
 *               test set has the label column (param `label`, or the one the model was trained with)
 * Output: `metrics`, JSON { task, rows, metrics, ... }.
 * Output params: every metric any task has (components/evaluate/task-metrics.ts; null where it does
 * not apply), `task`, and `passed` (true without a gate).
 * Predictions use the pure-JS DenseNet forward pass (the ONNX graph's semantics); missing
 * feature values are filled with the training mean.
 */
import writeFileAtomic from 'write-file-atomic';
import { defineComponent } from '../component.ts';
import { readDataset } from '../dataset/index.ts';
import { checkGate, type Gate } from '../gate/logic.ts';
import { Params } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { classVector, featureMatrix, forwardDenseNet, labelInfo, labelVector, regressionVector } from '../train-tabular/features.ts';
import { readModel } from '../train-tabular/model.ts';
import { evaluateAnomaly, evaluateBinary, evaluateMulticlass, evaluateRegression } from './metrics.ts';
import { ALL_METRICS } from './task-metrics.ts';

export * from './metrics.ts';
export * from './task-metrics.ts';

export const evaluate = defineComponent({
  name: 'evaluate',
  version: '2',
  description: "Scores a model on a test set with its task's metrics (binary, multiclass, regression, anomaly) and optionally gates it",
  inputs: [
    { name: 'model', kind: 'model' },
    { name: 'test', kind: 'dataset' },
  ],
  outputs: [{ name: 'metrics', kind: 'metrics' }],
  outputParams: [...ALL_METRICS, 'task', 'passed'],
  params: PARAMS.evaluate,
  async run(ctx) {
    const p = new Params('evaluate', ctx, PARAMS.evaluate);
    const model = await readModel(p.input('model'));
    const ds = await readDataset(p.input('test'));
    const where = 'evaluate';
    const task = model.task ?? model.net.task ?? 'binary';
    const x = featureMatrix(ds, model.net.featureNames, where, model.net.normalize?.mean);
    const { out } = forwardDenseNet(model.net, x, ds.rows);
    let doc: { task: string; metrics: Record<string, number | undefined> } & Record<string, unknown>;
    let summary: string;
    const f = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(4));
    if (task === 'binary') {
      const y = labelVector(ds, { column: model.label!, positive: model.positive! }, where);
      const ev = evaluateBinary(y, out, p.number('threshold', 0.5, { min: 0, max: 1 }), p.number('bins', 10, { min: 1, integer: true }));
      doc = { task, ...ev, metrics: { ...ev.metrics } };
      const m = ev.metrics;
      summary = `accuracy ${f(m.accuracy)}, precision ${f(m.precision)}, recall ${f(m.recall)}, f1 ${f(m.f1)}, rocAuc ${f(m.rocAuc)}, logLoss ${f(m.logLoss)}`;
    } else if (task === 'multiclass') {
      const classes = model.classes ?? model.net.classes ?? [];
      const ev = evaluateMulticlass(classVector(ds, model.label!, classes, where), out, classes);
      doc = { ...ev, metrics: { ...ev.metrics } };
      summary = `accuracy ${f(ev.metrics.accuracy)}, macroF1 ${f(ev.metrics.macroF1)}, logLoss ${f(ev.metrics.logLoss)}`;
    } else if (task === 'regression') {
      const ev = evaluateRegression(regressionVector(ds, model.label!, where), out);
      doc = { ...ev, metrics: { ...ev.metrics } };
      summary = `rmse ${f(ev.metrics.rmse)}, mae ${f(ev.metrics.mae)}, r2 ${f(ev.metrics.r2)}`;
    } else {
      const label = p.string('label', undefined) ?? model.label;
      const hasLabel = label !== undefined && ds.columns.some((c) => c.name === label);
      const y = hasLabel ? labelVector(ds, labelInfo(ds, label, p.string('positive', undefined), where), where) : undefined;
      const ev = evaluateAnomaly(out, y);
      doc = { ...ev, ...(hasLabel ? { label } : {}), metrics: { ...ev.metrics } };
      summary = `score p50 ${f(ev.metrics.scoreP50)}, p90 ${f(ev.metrics.scoreP90)}, p99 ${f(ev.metrics.scoreP99)}${hasLabel ? `, rocAuc ${f(ev.metrics.rocAuc)} against '${label}'` : ' (no label column: no AUC)'}`;
    }
    const numeric = Object.fromEntries(Object.entries(doc.metrics).filter((e): e is [string, number] => typeof e[1] === 'number'));
    // `auc` is another name for rocAuc (an output param and a gate metric).
    if (numeric.rocAuc !== undefined) numeric.auc = numeric.rocAuc;
    const gateSpec = p.has('gate') ? p.json<Gate>('gate') : undefined;
    const g = gateSpec ? checkGate(numeric, gateSpec) : undefined;
    await writeFileAtomic(p.output('metrics'), JSON.stringify({ ...doc, ...(g ? { gate: g } : {}) }, null, 2) + '\n');
    for (const k of ALL_METRICS) {
      const v = numeric[k];
      ctx.setOutput(k, v !== undefined && Number.isFinite(v) ? v : null);
    }
    ctx.setOutput('task', task);
    ctx.setOutput('passed', g ? g.passed : true);
    ctx.log(`${ds.rows} rows, ${task}: ${summary}`);
    if (g) ctx.log(g.passed ? 'gate passed' : `gate rejected the model: ${g.reasons.join('; ')}`);
  },
});

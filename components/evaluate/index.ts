/**
 * evaluate: scores a trained model on a held-out dataset: accuracy, precision, recall, F1, ROC AUC,
 * log loss, expected calibration error, a confusion matrix and a calibration table. With a `gate`
 * param it also decides whether the model may be registered (the `gate` component does the same
 * on its own).
 *
 * Params: threshold (0.5), bins (calibration bins, 10), gate (optional; see components/gate).
 * Output: `metrics`, JSON { rows, threshold, metrics, confusion, calibration, gate? }.
 * Output params: accuracy, precision, recall, f1, rocAuc (also as `auc`), logLoss, ece, passed (true without a gate).
 * Predictions use the pure-JS DenseNet forward pass (the ONNX graph's semantics); missing
 * feature values are filled with the training mean.
 */
import writeFileAtomic from 'write-file-atomic';
import { defineComponent } from '../component.ts';
import { readDataset } from '../dataset/index.ts';
import { checkGate, type Gate } from '../gate/logic.ts';
import { Params } from '../params.ts';
import { featureMatrix, labelVector, predictDenseNet } from '../train-tabular/features.ts';
import { readModel } from '../train-tabular/model.ts';
import { evaluateBinary } from './metrics.ts';

export * from './metrics.ts';

export const evaluate = defineComponent({
  name: 'evaluate',
  version: '1',
  description: 'Scores a model on a test set (accuracy, precision, recall, F1, ROC AUC, log loss, calibration) and optionally gates it',
  inputs: [
    { name: 'model', kind: 'model' },
    { name: 'test', kind: 'dataset' },
  ],
  outputs: [{ name: 'metrics', kind: 'metrics' }],
  outputParams: ['accuracy', 'precision', 'recall', 'f1', 'auc', 'rocAuc', 'logLoss', 'ece', 'positiveRate', 'passed'],
  async run(ctx) {
    const p = new Params('evaluate', ctx);
    const model = await readModel(p.input('model'));
    const ds = await readDataset(p.input('test'));
    const where = 'evaluate';
    const x = featureMatrix(ds, model.net.featureNames, where, model.net.normalize?.mean);
    const y = labelVector(ds, { column: model.label, positive: model.positive }, where);
    const prob = predictDenseNet(model.net, x, ds.rows);
    const ev = evaluateBinary(y, prob, p.number('threshold', 0.5, { min: 0, max: 1 }), p.number('bins', 10, { min: 1, integer: true }));
    const gateSpec = p.has('gate') ? p.json<Gate>('gate') : undefined;
    const g = gateSpec ? checkGate({ ...ev.metrics }, gateSpec) : undefined;
    await writeFileAtomic(p.output('metrics'), JSON.stringify({ ...ev, ...(g ? { gate: g } : {}) }, null, 2) + '\n');
    for (const [k, v] of Object.entries(ev.metrics)) ctx.setOutput(k, Number.isFinite(v) ? v : null);
    ctx.setOutput('auc', Number.isFinite(ev.metrics.rocAuc) ? ev.metrics.rocAuc : null);
    ctx.setOutput('passed', g ? g.passed : true);
    const m = ev.metrics;
    ctx.log(`${ds.rows} rows: accuracy ${m.accuracy.toFixed(4)}, precision ${m.precision.toFixed(4)}, recall ${m.recall.toFixed(4)}, f1 ${m.f1.toFixed(4)}, rocAuc ${m.rocAuc.toFixed(4)}, logLoss ${m.logLoss.toFixed(4)}`);
    if (g) ctx.log(g.passed ? 'gate passed' : `gate rejected the model: ${g.reasons.join('; ')}`);
  },
});

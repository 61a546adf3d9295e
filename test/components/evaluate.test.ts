import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { calibration, confusion, evaluateBinary, logLoss, rocAuc } from '../../components/evaluate/metrics.ts';
import { checkGate, parseRule } from '../../components/gate/logic.ts';

describe('binary metrics', () => {
  const y = [1, 0, 1, 1, 0, 0, 1, 0];
  const p = [0.9, 0.1, 0.4, 0.8, 0.6, 0.2, 0.7, 0.3];

  test('confusion, precision, recall, F1, accuracy at a threshold', () => {
    assert.deepEqual(confusion(y, p, 0.5), { tp: 3, fp: 1, tn: 3, fn: 1 });
    const e = evaluateBinary(y, p, 0.5, 4);
    assert.equal(e.metrics.accuracy, 6 / 8);
    assert.equal(e.metrics.precision, 3 / 4);
    assert.equal(e.metrics.recall, 3 / 4);
    assert.equal(e.metrics.f1, 3 / 4);
    assert.equal(e.metrics.positiveRate, 0.5);
  });

  test('ROC AUC counts ordered pairs, ties as half', () => {
    // Positives 0.9 0.4 0.8 0.7 vs negatives 0.1 0.6 0.2 0.3: 16 pairs, 0.4<0.6 is the only miss.
    assert.equal(rocAuc(y, p), 15 / 16);
    assert.equal(rocAuc([1, 0], [0.5, 0.5]), 0.5);
    assert.equal(rocAuc([1, 1, 0, 0], [0.2, 0.1, 0.9, 0.8]), 0);
    assert.ok(Number.isNaN(rocAuc([1, 1], [0.2, 0.3])));
  });

  test('log loss and calibration', () => {
    assert.ok(Math.abs(logLoss([1, 0], [0.8, 0.4]) - -(Math.log(0.8) + Math.log(0.6)) / 2) < 1e-12);
    assert.ok(Number.isFinite(logLoss([1], [0])));
    const cal = calibration(y, p, 2);
    assert.deepEqual(
      cal.map((b) => [b.lower, b.upper, b.count]),
      [
        [0, 0.5, 4],
        [0.5, 1, 4],
      ],
    );
    assert.ok(Math.abs(cal[0].meanPredicted! - 0.25) < 1e-12);
    assert.equal(cal[0].fractionPositive, 0.25);
    assert.equal(cal[1].fractionPositive, 0.75);
    assert.equal(calibration([1], [1], 3)[2].count, 1);
    // Bins are (lower, upper]: a score on an edge belongs to the lower bin (as in scikit-learn).
    assert.deepEqual(
      calibration([0, 1, 1], [0.5, 0.5, 0], 2).map((b) => b.count),
      [3, 0],
    );
    assert.deepEqual(
      calibration([0, 1], [0.3, 0.30001], 10)
        .map((b) => b.count)
        .slice(2, 4),
      [1, 1],
    );
  });
});

describe('gate', () => {
  test('rules: operators, bare numbers, and clear reasons', () => {
    assert.deepEqual(parseRule('a', '<= 0.4'), { op: '<=', threshold: 0.4 });
    assert.deepEqual(parseRule('a', 0.8), { op: '>=', threshold: 0.8 });
    assert.deepEqual(parseRule('a', '0.8'), { op: '>=', threshold: 0.8 });
    assert.throws(() => parseRule('rocAuc', 'at least 0.8'), {
      message: "gate: rule for 'rocAuc' is 'at least 0.8'; write '>= 0.8', '<= 0.4' (or a bare number for >=)",
    });
    const r = checkGate({ rocAuc: 0.71, logLoss: 0.3, f1: NaN }, { rocAuc: '>= 0.8', logLoss: '<= 0.45' });
    assert.equal(r.passed, false);
    assert.deepEqual(r.reasons, ['rocAuc is 0.71; required >= 0.8']);
    assert.equal(checkGate({ rocAuc: 0.9 }, { rocAuc: 0.8 }).passed, true);
    assert.deepEqual(checkGate({ f1: NaN }, { f1: '> 0' }).reasons, ['f1 is undefined; required > 0']);
    assert.throws(() => checkGate({ rocAuc: 1 }, { auroc: 0.5 }), { message: "gate: unknown metric 'auroc'; the metrics are rocAuc" });
  });
});

/**
 * gate: reads a metrics artifact (from evaluate) and decides whether the model may be registered.
 *
 * Params:
 *   gate          { metric: rule }, e.g. {"rocAuc": ">= 0.85", "logLoss": "<= 0.45"} (see logic.ts)
 *   failOnReject  fail the step when the gate rejects (default false: downstream `when` reads `passed`)
 * Output params: passed (boolean), reasons (list of strings).
 */
import { readFile } from 'node:fs/promises';
import { defineComponent } from '../component.ts';
import { Params } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { checkGate, type Gate } from './logic.ts';

export { checkGate, parseRule, type Gate, type GateResult, type GateCheck } from './logic.ts';

export const gate = defineComponent({
  name: 'gate',
  version: '1',
  description: 'Thresholds on evaluation metrics decide whether a model may be registered (output param passed)',
  inputs: [{ name: 'metrics', kind: 'metrics' }],
  outputs: [],
  outputParams: ['passed', 'reasons'],
  params: PARAMS.gate,
  async run(ctx) {
    const p = new Params('gate', ctx, PARAMS.gate);
    const path = p.input('metrics');
    const doc = JSON.parse(await readFile(path, 'utf8')) as { metrics?: Record<string, number> };
    if (!doc.metrics || typeof doc.metrics !== 'object') throw new Error(`gate: ${path} has no 'metrics' object; connect evaluate's metrics output`);
    // `auc` is another name for rocAuc, as in evaluate's output params.
    const r = checkGate(typeof doc.metrics.rocAuc === 'number' ? { ...doc.metrics, auc: doc.metrics.rocAuc } : doc.metrics, p.json<Gate>('gate'));
    ctx.setOutput('passed', r.passed);
    ctx.setOutput('reasons', [...r.reasons]);
    ctx.log(
      r.passed ? `gate passed: ${r.checks.map((c) => `${c.metric} ${c.op} ${c.threshold}`).join(', ')}` : `gate rejected the model: ${r.reasons.join('; ')}`,
    );
    if (!r.passed && p.boolean('failOnReject', false)) throw new Error(`gate rejected the model: ${r.reasons.join('; ')}`);
  },
});

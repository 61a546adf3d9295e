/**
 * drift: compares a current dataset with a reference dataset (both Arrow datasets, e.g. from ingest) column by column.
 *
 * Params:
 *   tests        'auto' (default) or one test for every column where it applies: ks, chisquare, wasserstein, psi, jensenshannon
 *   driftShare   dataset drift when the drifted share of columns is >= this (default 0.5)
 *   correction   none | bonferroni | fdr (default none)
 *   bins         quantile bins for PSI / Jensen-Shannon on numeric columns (default 10)
 *   columns      only these columns (list; default all of the reference)
 *   failOnDrift  fail the step when the dataset drifted (default false: downstream `when` reads datasetDrift)
 * Outputs: result (DriftResult JSON), report (HTML, optional), summary (the reference's streaming summary, optional).
 * Output params: datasetDrift (boolean), driftShare (number), driftedColumns (list of names).
 */
import { readDataset } from '../dataset/index.ts';
import { defineComponent } from '../component.ts';
import { Params } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import writeFileAtomic from 'write-file-atomic';
import { datasetColumns } from './io.ts';
import { detectDriftParallel } from './parallel.ts';
import { renderHtmlReport } from './report.ts';
import { buildReferenceSummary } from './summary.ts';
import { TEST_NAMES, type Correction, type TestName } from './types.ts';

export const driftComponent = defineComponent({
  name: 'drift',
  version: '1',
  description: 'Data drift between a reference and a current dataset (KS, chi-square, Wasserstein, PSI, Jensen-Shannon; Evidently auto rule)',
  inputs: [
    { name: 'reference', kind: 'dataset', description: 'Reference data (e.g. the training set)' },
    { name: 'current', kind: 'dataset', description: 'Current data (e.g. recent traffic)' },
  ],
  outputs: [
    { name: 'result', kind: 'metrics', description: 'DriftResult JSON' },
    { name: 'report', kind: 'file', optional: true, description: 'Self-contained HTML report' },
    { name: 'summary', kind: 'file', optional: true, description: "The reference's streaming summary (for DriftMonitors)" },
  ],
  outputParams: ['datasetDrift', 'driftShare', 'driftedColumns'],
  params: PARAMS.drift,
  async run(ctx) {
    const p = new Params('drift', ctx, PARAMS.drift);
    const tests = p.string('tests', 'auto');
    if (tests !== 'auto' && !TEST_NAMES.includes(tests as TestName))
      throw new Error(`drift: param 'tests' must be auto or one of ${TEST_NAMES.join(', ')}, got ${JSON.stringify(tests)}`);
    const correction = p.string('correction', 'none');
    if (!['none', 'bonferroni', 'fdr'].includes(correction))
      throw new Error(`drift: param 'correction' must be none, bonferroni or fdr, got ${JSON.stringify(correction)}`);
    const bins = p.number('bins', 10, { min: 2, max: 10000, integer: true });
    const opts = {
      tests: tests as TestName | 'auto',
      driftShare: p.number('driftShare', 0.5, { min: 0, max: 1 }),
      correction: correction as Correction,
      bins,
      ...(p.has('columns') ? { columns: p.list('columns') } : {}),
    };
    const ref = datasetColumns(await readDataset(p.input('reference')));
    const cur = datasetColumns(await readDataset(p.input('current')));
    const result = await detectDriftParallel(ref, cur, opts);
    await writeFileAtomic(p.output('result'), JSON.stringify({ ...result, columns: result.columns.map(({ histogram: _h, ...c }) => c) }, null, 2));
    if (ctx.outputs.report) await writeFileAtomic(ctx.outputs.report, renderHtmlReport(result, { title: 'Data drift report' }));
    if (ctx.outputs.summary) await writeFileAtomic(ctx.outputs.summary, JSON.stringify(buildReferenceSummary(ref, { bins })));
    const drifted = result.columns.filter((c) => c.drifted).map((c) => c.name);
    ctx.setOutput('datasetDrift', result.datasetDrift);
    ctx.setOutput('driftShare', result.driftShare);
    ctx.setOutput('driftedColumns', drifted);
    ctx.log(
      `${result.datasetDrift ? 'dataset drift' : 'no dataset drift'}: ${drifted.length} of ${result.testedColumns} columns drifted${drifted.length ? ` (${drifted.join(', ')})` : ''}`,
    );
    if (result.datasetDrift && p.boolean('failOnDrift', false))
      throw new Error(`drift: dataset drift (${drifted.length} of ${result.testedColumns} columns: ${drifted.join(', ')})`);
  },
});

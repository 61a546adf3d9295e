/**
 * One measured run of ingest → validate → split on a source file, in its own process so that its
 * peak RSS is its own (bench/data.ts runs it). Args: SOURCE WORKDIR [ENGINE auto|duckdb|js] [ingest: stop
 * after ingest]. Prints one JSON line.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readDatasetChunks } from '../components/dataset/index.ts';
import { ingestToFile } from '../components/ingest/index.ts';
import { splitFile } from '../components/split/index.ts';
import { checkSuite } from '../components/validate/expectations.ts';
import { dataReportHtml, validateChunks } from '../components/validate/index.ts';
import { writeFileSync } from 'node:fs';

const [source, work, engine = 'auto', only] = process.argv.slice(2);
mkdirSync(work, { recursive: true });
const ds = join(work, 'dataset.arrow');
const suite = checkSuite({
  name: 'bench',
  expectations: [
    { type: 'expect_table_row_count_to_be_between', kwargs: { min_value: 1 } },
    { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'id' } },
    { type: 'expect_column_values_to_be_between', kwargs: { column: 'f2', min_value: 0, max_value: 1000 } },
    { type: 'expect_column_values_to_be_in_set', kwargs: { column: 'country', value_set: ['FR', 'US', 'DE', 'ES', 'IT'] } },
    { type: 'expect_column_values_to_match_regex', kwargs: { column: 'segment', regex: '^seg' } },
    { type: 'expect_column_mean_to_be_between', kwargs: { column: 'f3', min_value: 0, max_value: 1000 } },
    { type: 'expect_column_quantile_values_to_be_between', kwargs: { column: 'f4', quantile_ranges: { quantiles: [0.5], value_ranges: [[0, 1000]] } } },
    { type: 'expect_column_pair_values_a_to_be_greater_than_b', kwargs: { column_A: 'f5', column_B: 'f6', mostly: 0.1 } },
  ],
});
const mem = () => Math.round(process.resourceUsage().maxRSS / 1024);
const t0 = performance.now();
const ing = await ingestToFile(source, ds, { engine: engine as 'auto' | 'duckdb' | 'js' });
const t1 = performance.now();
if (only === 'ingest') {
  rmSync(work, { recursive: true, force: true });
  process.stdout.write(
    JSON.stringify({
      rows: ing.rows,
      columns: ing.schema.length,
      passes: ing.passes,
      engine: ing.engine,
      digest: ing.digest,
      ingestS: (t1 - t0) / 1000,
      peakRssMb: mem(),
    }) + '\n',
  );
  process.exit(0);
}
const v = await validateChunks(readDatasetChunks(ds), { suite });
writeFileSync(join(work, 'report.html'), dataReportHtml(v, source));
const t2 = performance.now();
const sp = await splitFile(ds, join(work, 'train.arrow'), join(work, 'test.arrow'), { testFraction: 0.2, seed: 42, stratify: 'label' });
const t3 = performance.now();
rmSync(work, { recursive: true, force: true });
process.stdout.write(
  JSON.stringify({
    rows: ing.rows,
    columns: ing.schema.length,
    passes: ing.passes,
    engine: ing.engine,
    fallback: ing.fallback,
    digest: ing.digest,
    ingestS: (t1 - t0) / 1000,
    validateS: (t2 - t1) / 1000,
    splitS: (t3 - t2) / 1000,
    trainRows: sp.trainRows,
    expectationsMet: v.expectations!.statistics.successful_expectations,
    peakRssMb: mem(),
  }) + '\n',
);

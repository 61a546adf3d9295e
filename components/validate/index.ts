/**
 * validate: checks a dataset against a declared schema (in the spirit of Great Expectations and
 * Pandera) and writes a report of violations with row numbers and counts. The step fails when the
 * share of rows with any violation exceeds `maxFailureRate`, or on any dataset-level violation
 * (a missing column, a wrong type, a row count out of bounds).
 *
 * Params (schema, suite or both):
 *   schema          ValidationSchema (below), as JSON
 *   suite           an expectation suite, as JSON: Great Expectations' names, kwargs and `mostly`
 *                   ({"expectations": [{"type": "expect_column_values_to_match_regex", "kwargs": {...}}]};
 *                   expectations.ts). The step fails when any expectation fails; the report carries
 *                   the results in GE's terms under `expectations`.
 *   maxFailureRate  share of rows allowed to violate, [0, 1] (default 0)
 *   failOnViolation fail the step past the threshold (default true); false only reports
 * Output params: passed (boolean), violations (total count), failureRate, expectationsFailed (count).
 * Row numbers in the report are 1-based data rows (row 1 is the first row after a CSV header).
 */
import writeFileAtomic from 'write-file-atomic';
import { defineComponent } from '../component.ts';
import { cellAt, readDatasetChunks, rowObject, type Cell, type Column, type ColumnType, type Dataset, type NumericColumn } from '../dataset/index.ts';
import { Params, ParamError } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { TerminalFailure } from '../../api/failure.ts';
import { checkSuite, summarizeSuite, SuiteEvaluator, type EvaluateOptions, type ExpectationSuite, type SuiteResult } from './expectations.ts';
import { Profiler, type DataProfile } from './profile.ts';
import { renderDataReport } from './report.ts';

export interface ColumnRule {
  readonly type?: ColumnType;
  /** @default true */
  readonly nullable?: boolean;
  readonly min?: number;
  readonly max?: number;
  /** Allowed values (categorical or string columns). */
  readonly allowed?: readonly string[];
  readonly unique?: boolean;
}

export interface ValidationSchema {
  readonly columns?: Readonly<Record<string, ColumnRule>>;
  readonly rows?: { readonly min?: number; readonly max?: number };
}

export type Check = 'missing-column' | 'type' | 'row-count' | 'not-null' | 'min' | 'max' | 'allowed' | 'unique';

export interface Violation {
  /** Absent for dataset-level checks (row-count). */
  readonly column?: string;
  readonly check: Check;
  readonly count: number;
  /** Up to 20 example row numbers (1-based). */
  readonly rows: readonly number[];
  readonly message: string;
}

export interface ValidationReport {
  readonly passed: boolean;
  readonly rows: number;
  /** Rows with at least one violation. */
  readonly failingRows: number;
  readonly failureRate: number;
  readonly maxFailureRate: number;
  readonly violations: readonly Violation[];
  /** The expectation suite's results (param `suite`), in Great Expectations' terms. */
  readonly expectations?: SuiteResult;
}

const EXAMPLES = 20;
const RULE_KEYS = new Set(['type', 'nullable', 'min', 'max', 'allowed', 'unique']);

/** Checks the schema itself, so a typo ('nullabel') is an error rather than a silently ignored rule. */
export function checkSchema(s: unknown): ValidationSchema {
  if (s === null || typeof s !== 'object' || Array.isArray(s))
    throw new ParamError(`validate: param 'schema' must be an object like {"columns": {"amount": {"min": 0}}, "rows": {"min": 1}}`);
  const o = s as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (k !== 'columns' && k !== 'rows') throw new ParamError(`validate: schema has unknown key '${k}'; use 'columns' and 'rows'`);
  for (const [name, rule] of Object.entries((o.columns ?? {}) as Record<string, unknown>)) {
    if (rule === null || typeof rule !== 'object') throw new ParamError(`validate: schema.columns.${name} must be an object`);
    for (const k of Object.keys(rule))
      if (!RULE_KEYS.has(k)) throw new ParamError(`validate: schema.columns.${name} has unknown rule '${k}'; use ${[...RULE_KEYS].join(', ')}`);
  }
  return o;
}

/** Pure: validates a dataset and returns the report. */
export function validateDataset(ds: Dataset, schema: ValidationSchema, maxFailureRate = 0): ValidationReport {
  const v = new SchemaValidator(ds, schema, maxFailureRate);
  v.update(ds);
  return v.finish();
}

interface RuleState {
  readonly column: string;
  readonly check: Check;
  readonly message: string;
  readonly hit: (c: Column, i: number) => boolean;
  count: number;
  readonly rows: number[];
}

/**
 * The schema checks a chunk at a time. Memory: the example rows, plus one entry per distinct value
 * for `unique` columns. `failingSample` keeps the first 20 failing rows whole, for the HTML report.
 */
export class SchemaValidator {
  private readonly fixed: Violation[] = [];
  private readonly rules: { j: number; states: RuleState[] }[] = [];
  private datasetLevel = false;
  private rows = 0;
  private failingRows = 0;
  readonly failingSample: { row: number; values: Record<string, Cell> }[] = [];

  constructor(
    schemaChunk: Dataset,
    private readonly schema: ValidationSchema,
    private readonly maxFailureRate = 0,
  ) {
    for (const [name, rule] of Object.entries(schema.columns ?? {})) {
      const j = schemaChunk.columns.findIndex((c) => c.name === name);
      if (j < 0) {
        this.datasetLevel = true;
        this.fixed.push({ column: name, check: 'missing-column', count: 1, rows: [], message: `column '${name}' is missing` });
        continue;
      }
      const col = schemaChunk.columns[j];
      if (rule.type && col.type !== rule.type) {
        this.datasetLevel = true;
        this.fixed.push({ column: name, check: 'type', count: 1, rows: [], message: `column '${name}' is ${col.type}; expected ${rule.type}` });
        continue;
      }
      const states: RuleState[] = [];
      const add = (check: Check, hit: (c: Column, i: number) => boolean, message: string): void =>
        void states.push({ column: name, check, message, hit, count: 0, rows: [] });
      if (rule.nullable === false) add('not-null', (c, i) => cellAt(c, i) === null, `%n rows of '${name}' are missing`);
      if (rule.min !== undefined || rule.max !== undefined) {
        if (col.type !== 'numeric')
          throw new ParamError(`validate: schema.columns.${name} sets min/max, but the column is ${col.type}; ranges apply to numeric columns`);
        if (rule.min !== undefined) add('min', (c, i) => (c as NumericColumn).values[i] < rule.min!, `%n rows of '${name}' are below the minimum ${rule.min}`);
        if (rule.max !== undefined) add('max', (c, i) => (c as NumericColumn).values[i] > rule.max!, `%n rows of '${name}' are above the maximum ${rule.max}`);
      }
      if (rule.allowed) {
        const ok = new Set(rule.allowed.map(String));
        add(
          'allowed',
          (c, i) => {
            const v = cellAt(c, i);
            return v !== null && !ok.has(String(v));
          },
          `%n rows of '${name}' hold a value outside ${JSON.stringify(rule.allowed)}`,
        );
      }
      if (rule.unique) {
        const seen = new Set<string>();
        add(
          'unique',
          (c, i) => {
            const v = cellAt(c, i);
            if (v === null) return false;
            const k = String(v);
            if (seen.has(k)) return true;
            seen.add(k);
            return false;
          },
          `%n rows of '${name}' repeat an earlier value`,
        );
      }
      this.rules.push({ j, states });
    }
  }

  update(chunk: Dataset): void {
    const failing = new Uint8Array(chunk.rows);
    for (const { j, states } of this.rules) {
      const c = chunk.columns[j];
      for (const s of states) {
        for (let i = 0; i < chunk.rows; i++) {
          if (!s.hit(c, i)) continue;
          s.count++;
          failing[i] = 1;
          if (s.rows.length < EXAMPLES) s.rows.push(this.rows + i + 1);
        }
      }
    }
    for (let i = 0; i < chunk.rows; i++) {
      if (!failing[i]) continue;
      this.failingRows++;
      if (this.failingSample.length < EXAMPLES) this.failingSample.push({ row: this.rows + i + 1, values: rowObject(chunk, i) });
    }
    this.rows += chunk.rows;
  }

  finish(): ValidationReport {
    const violations: Violation[] = [];
    let datasetLevel = this.datasetLevel;
    const rowRule = this.schema.rows;
    const rows = this.rows;
    if (rowRule && ((rowRule.min !== undefined && rows < rowRule.min) || (rowRule.max !== undefined && rows > rowRule.max))) {
      datasetLevel = true;
      violations.push({ check: 'row-count', count: 1, rows: [], message: `dataset has ${rows} rows; expected ${rowRule.min ?? 0}..${rowRule.max ?? '∞'}` });
    }
    // Schema order, as the columns were declared: fixed violations and rule results interleave by column.
    const byColumn = new Map<string, Violation[]>();
    for (const v of this.fixed) byColumn.set(v.column!, [v]);
    for (const { states } of this.rules)
      byColumn.set(
        states[0]?.column ?? '',
        states
          .filter((s) => s.count > 0)
          .map((s) => ({ column: s.column, check: s.check, count: s.count, rows: s.rows, message: s.message.replace('%n', String(s.count)) })),
      );
    for (const name of Object.keys(this.schema.columns ?? {})) violations.push(...(byColumn.get(name) ?? []));
    const failureRate = rows ? this.failingRows / rows : 0;
    return {
      passed: !datasetLevel && failureRate <= this.maxFailureRate,
      rows,
      failingRows: this.failingRows,
      failureRate,
      maxFailureRate: this.maxFailureRate,
      violations,
    };
  }
}

export function summarize(r: ValidationReport): string {
  const head = `${r.passed ? 'passed' : 'FAILED'}: ${r.failingRows} of ${r.rows} rows violate the schema (${(r.failureRate * 100).toFixed(2)}%, allowed ${(r.maxFailureRate * 100).toFixed(2)}%)`;
  return [
    head,
    ...r.violations.map(
      (v) =>
        `  ${v.check}${v.column ? ` ${v.column}` : ''}: ${v.message}${v.rows.length ? ` (rows ${v.rows.slice(0, 5).join(', ')}${v.count > 5 ? ', …' : ''})` : ''}`,
    ),
  ].join('\n');
}

export interface StreamValidation {
  readonly rows: number;
  readonly seconds: number;
  readonly schema?: ValidationReport;
  readonly expectations?: SuiteResult;
  readonly profile: DataProfile;
  readonly failingSample: SchemaValidator['failingSample'];
  readonly passed: boolean;
}

/**
 * One streaming pass over dataset chunks: schema checks, the expectation suite and the profile
 * together, a chunk at a time.
 */
export async function validateChunks(
  chunks: AsyncIterable<Dataset> | Iterable<Dataset>,
  opts: { schema?: ValidationSchema; suite?: ExpectationSuite; maxFailureRate?: number } & EvaluateOptions,
): Promise<StreamValidation> {
  const t0 = performance.now();
  let schemaV: SchemaValidator | undefined;
  let suiteV: SuiteEvaluator | undefined;
  let profiler: Profiler | undefined;
  let rows = 0;
  for await (const chunk of chunks) {
    if (!profiler) {
      profiler = new Profiler(chunk);
      if (opts.schema) schemaV = new SchemaValidator(chunk, opts.schema, opts.maxFailureRate ?? 0);
      if (opts.suite) suiteV = new SuiteEvaluator(chunk, opts.suite, opts);
    }
    profiler.update(chunk);
    schemaV?.update(chunk);
    suiteV?.update(chunk);
    rows += chunk.rows;
  }
  if (!profiler) throw new Error('validate: the dataset has no schema (no record batch and no columns)');
  const schema = schemaV?.finish();
  const expectations = suiteV?.finish();
  return {
    rows,
    seconds: (performance.now() - t0) / 1000,
    schema,
    expectations,
    profile: profiler.finish(),
    failingSample: schemaV?.failingSample ?? [],
    passed: (schema?.passed ?? true) && (expectations?.success ?? true),
  };
}

/** The HTML data report of a validation (report.ts). */
export function dataReportHtml(v: StreamValidation, source: string, title = 'Data validation'): string {
  return renderDataReport({
    title,
    source,
    passed: v.passed,
    profile: v.profile,
    expectations: v.expectations,
    schema: v.schema,
    failingRows: v.failingSample,
  });
}

export const validate = defineComponent({
  name: 'validate',
  // 2: the expectation suite (param suite, output param expectationsFailed)
  // 3: streamed a record batch at a time; the profile and the HTML data report (output dataReport)
  version: '3',
  description: 'Checks a dataset against a declared schema and/or an expectation suite (Great Expectations names); writes a report and fails past a threshold',
  inputs: [{ name: 'dataset', kind: 'dataset' }],
  outputs: [
    { name: 'report', kind: 'metrics', description: 'ValidationReport JSON (with the profile)' },
    { name: 'dataReport', kind: 'file', description: 'Self-contained HTML data report: failed checks, sample failing rows, the profile' },
  ],
  outputParams: ['passed', 'violations', 'failureRate', 'expectationsFailed'],
  params: PARAMS.validate,
  async run(ctx) {
    const p = new Params('validate', ctx, PARAMS.validate);
    if (!p.has('schema') && !p.has('suite'))
      throw new ParamError(
        `validate: give param 'schema' ({"columns": {"amount": {"min": 0}}}) or 'suite' ({"expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}}]}), or both`,
      );
    const schema = checkSchema(p.json('schema', {}));
    let suite;
    try {
      suite = p.has('suite') ? checkSuite(p.json('suite'), 'validate: param suite') : undefined;
    } catch (err) {
      // A wrong suite fails the same way on every attempt: a terminal param error, not a retry.
      if (err instanceof ParamError) throw err;
      throw new ParamError((err as Error).message);
    }
    const maxFailureRate = p.number('maxFailureRate', 0, { min: 0, max: 1 });
    const input = p.input('dataset');
    const v = await validateChunks(readDatasetChunks(input), { schema, suite, maxFailureRate });
    const base = v.schema!;
    const expectations = v.expectations;
    const report: ValidationReport & { profile: DataProfile } = {
      ...(expectations ? { ...base, passed: base.passed && expectations.success, expectations } : base),
      profile: v.profile,
    };
    await writeFileAtomic(p.output('report'), JSON.stringify(report, null, 2) + '\n');
    await writeFileAtomic(p.output('dataReport'), dataReportHtml(v, 'input artifact: dataset', 'Data validation'));
    ctx.log(`validated ${v.rows} rows in ${v.seconds.toFixed(2)}s (${Math.round(v.rows / Math.max(v.seconds, 1e-9))} rows/s)`);
    ctx.setOutput('passed', report.passed);
    ctx.setOutput(
      'violations',
      report.violations.reduce((a, v) => a + v.count, 0),
    );
    ctx.setOutput('failureRate', report.failureRate);
    ctx.setOutput('expectationsFailed', expectations?.statistics.unsuccessful_expectations ?? 0);
    const text = [...(p.has('schema') ? [summarize(base)] : []), ...(expectations ? [summarizeSuite(expectations)] : [])].join('\n');
    for (const line of text.split('\n')) ctx.log(line);
    if (!report.passed && p.boolean('failOnViolation', true)) throw new TerminalFailure('InvalidInput', `validate: ${text}`);
  },
});

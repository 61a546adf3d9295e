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
import { writeFile } from 'node:fs/promises';
import { defineComponent } from '../component.ts';
import { cellAt, readDataset, type Column, type ColumnType, type Dataset } from '../dataset/index.ts';
import { Params, ParamError } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { TerminalFailure } from '../../api/failure.ts';
import { checkSuite, evaluateSuite, summarizeSuite, type SuiteResult } from './expectations.ts';

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
  const violations: Violation[] = [];
  const failing = new Uint8Array(ds.rows);
  let datasetLevel = false;
  const rowRule = schema.rows;
  if (rowRule && ((rowRule.min !== undefined && ds.rows < rowRule.min) || (rowRule.max !== undefined && ds.rows > rowRule.max))) {
    datasetLevel = true;
    violations.push({ check: 'row-count', count: 1, rows: [], message: `dataset has ${ds.rows} rows; expected ${rowRule.min ?? 0}..${rowRule.max ?? '∞'}` });
  }
  for (const [name, rule] of Object.entries(schema.columns ?? {})) {
    const col = ds.columns.find((c) => c.name === name);
    if (!col) {
      datasetLevel = true;
      violations.push({ column: name, check: 'missing-column', count: 1, rows: [], message: `column '${name}' is missing` });
      continue;
    }
    if (rule.type && col.type !== rule.type) {
      datasetLevel = true;
      violations.push({ column: name, check: 'type', count: 1, rows: [], message: `column '${name}' is ${col.type}; expected ${rule.type}` });
      continue;
    }
    const add = (check: Check, hit: (i: number) => boolean, message: string): void => {
      let count = 0;
      const rows: number[] = [];
      for (let i = 0; i < ds.rows; i++) {
        if (!hit(i)) continue;
        count++;
        failing[i] = 1;
        if (rows.length < EXAMPLES) rows.push(i + 1);
      }
      if (count > 0) violations.push({ column: name, check, count, rows, message: message.replace('%n', String(count)) });
    };
    const cell = (i: number) => cellAt(col, i);
    if (rule.nullable === false) add('not-null', (i) => cell(i) === null, `%n rows of '${name}' are missing`);
    if (rule.min !== undefined || rule.max !== undefined) {
      const num = numericView(col);
      if (!num) throw new ParamError(`validate: schema.columns.${name} sets min/max, but the column is ${col.type}; ranges apply to numeric columns`);
      if (rule.min !== undefined) add('min', (i) => num[i] < rule.min!, `%n rows of '${name}' are below the minimum ${rule.min}`);
      if (rule.max !== undefined) add('max', (i) => num[i] > rule.max!, `%n rows of '${name}' are above the maximum ${rule.max}`);
    }
    if (rule.allowed) {
      const ok = new Set(rule.allowed.map(String));
      add(
        'allowed',
        (i) => {
          const v = cell(i);
          return v !== null && !ok.has(String(v));
        },
        `%n rows of '${name}' hold a value outside ${JSON.stringify(rule.allowed)}`,
      );
    }
    if (rule.unique) {
      const seen = new Set<string>();
      add(
        'unique',
        (i) => {
          const v = cell(i);
          if (v === null) return false;
          const k = String(v);
          if (seen.has(k)) return true;
          seen.add(k);
          return false;
        },
        `%n rows of '${name}' repeat an earlier value`,
      );
    }
  }
  let failingRows = 0;
  for (let i = 0; i < ds.rows; i++) failingRows += failing[i];
  const failureRate = ds.rows ? failingRows / ds.rows : 0;
  return { passed: !datasetLevel && failureRate <= maxFailureRate, rows: ds.rows, failingRows, failureRate, maxFailureRate, violations };
}

function numericView(c: Column): Float64Array | undefined {
  if (c.type === 'numeric') return c.values;
  return undefined;
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

export const validate = defineComponent({
  name: 'validate',
  // 2: the expectation suite (param suite, output param expectationsFailed)
  version: '2',
  description: 'Checks a dataset against a declared schema and/or an expectation suite (Great Expectations names); writes a report and fails past a threshold',
  inputs: [{ name: 'dataset', kind: 'dataset' }],
  outputs: [{ name: 'report', kind: 'metrics', description: 'ValidationReport JSON' }],
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
    const ds = await readDataset(p.input('dataset'));
    const base = validateDataset(ds, schema, maxFailureRate);
    const expectations = suite ? evaluateSuite(ds, suite) : undefined;
    const report: ValidationReport = expectations ? { ...base, passed: base.passed && expectations.success, expectations } : base;
    await writeFile(p.output('report'), JSON.stringify(report, null, 2) + '\n');
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

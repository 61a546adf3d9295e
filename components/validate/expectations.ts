/**
 * Expectations: data-quality checks declared as typed data, named and shaped like Great Expectations'
 * (`{"type": "expect_column_values_to_match_regex", "kwargs": {"column": "email", "regex": "@", "mostly": 0.99}}`),
 * evaluated over a dataset, with results in Great Expectations' terms (`success`, `result.element_count`,
 * `unexpected_count`, `unexpected_percent`, `missing_count`, `observed_value`, `partial_unexpected_list`,
 * `partial_unexpected_index_list`, `partial_missing_list`). A suite GE serialised (`suite.to_json_dict()`, 1.x or 0.x) loads here, and
 * test/components/expectations-gx.test.ts runs the real Great Expectations (pandas engine) on the same
 * data and suite and requires the same pass/fail, counts and observed values.
 *
 * Semantics follow GE 1.x's pandas engine:
 * - Column map expectations skip missing cells; `mostly` (default 1) is the share of non-missing
 *   cells that must pass; with no non-missing cell the expectation passes (GE: "vacuously true").
 *   `expect_column_values_to_not_be_null` counts over all rows.
 * - Uniqueness (`expect_column_values_to_be_unique`, `expect_compound_columns_to_be_unique`) marks
 *   every row of a repeated value, the first one too (pandas `duplicated(keep=False)`).
 * - `expect_column_pair_values_a_to_be_greater_than_b` ignores rows where both are missing; a row
 *   with one side missing is unexpected. Compound uniqueness ignores rows where all are missing.
 * - Ranges are inclusive unless `strict_min`/`strict_max`; a missing bound is open.
 * - stdev is the sample standard deviation (n-1); quantiles use numpy's "nearest" interpolation
 *   (GE's pandas default); string lengths count code points, as Python does.
 * - Regexes are JavaScript regexes searched anywhere in the value (as `re.search`); the common
 *   syntax of both dialects behaves the same.
 *
 * ghosteam adds, beyond GE (types starting `expect_` but not in GE, marked below): freshness
 * (`expect_column_newest_value_to_be_within`), row-count change against the previous run's dataset
 * (`expect_table_row_count_change_to_be_between`) and TypeScript row predicates (`expect_row_predicate`,
 * code only; a JSON suite cannot carry a function).
 */
import { cellAt, type Cell, type Column, type Dataset } from '../dataset/index.ts';
import {
  parseDuration,
  type ColumnMapKwargs,
  type Expectation,
  type ExpectationSuite,
  type ExpectationType,
  type RangeKwargs,
  type SetValue,
} from './suite.ts';

// The suite's types and checks live in suite.ts (no dependencies, for the DSL); this module's users get them here too.
export * from './suite.ts';

/** GE's ExpectationValidationResult (SUMMARY format), plus `message`: the failure in words, naming column and rows (1-based). */
export interface ExpectationResult {
  readonly success: boolean;
  readonly expectation_config: { readonly type: ExpectationType; readonly kwargs: Record<string, unknown> };
  readonly result: {
    readonly element_count?: number;
    readonly unexpected_count?: number;
    /** Percent of the rows considered (non-missing for column maps). */
    readonly unexpected_percent?: number | null;
    readonly missing_count?: number;
    readonly missing_percent?: number | null;
    readonly unexpected_percent_total?: number | null;
    readonly unexpected_percent_nonmissing?: number | null;
    readonly partial_unexpected_list?: readonly unknown[];
    /** 0-based row indexes, as GE's pandas engine reports them. */
    readonly partial_unexpected_index_list?: readonly number[];
    /** Distinct-value set expectations: the set's values never seen (`missing_count` counts them). */
    readonly partial_missing_list?: readonly unknown[];
    readonly observed_value?: unknown;
    readonly details?: Record<string, unknown>;
  };
  readonly message: string;
}

/** GE's ExpectationSuiteValidationResult. */
export interface SuiteResult {
  readonly success: boolean;
  readonly suite_name: string;
  readonly statistics: {
    readonly evaluated_expectations: number;
    readonly successful_expectations: number;
    readonly unsuccessful_expectations: number;
    readonly success_percent: number | null;
  };
  readonly results: readonly ExpectationResult[];
}

export interface EvaluateOptions {
  /** Rows of the previous run's dataset, for `expect_table_row_count_change_to_be_between`. */
  readonly previousRows?: number;
  /** "Now" for freshness. @default Date.now() */
  readonly now?: number;
}

/** GE's default `partial_unexpected_count`. */
const PARTIAL = 20;

/** In range, GE style: inclusive unless strict; null/undefined bound is open. */
export function inRange(x: number, k: RangeKwargs): boolean {
  if (k.min_value != null && (k.strict_min ? !(x > k.min_value) : !(x >= k.min_value))) return false;
  if (k.max_value != null && (k.strict_max ? !(x < k.max_value) : !(x <= k.max_value))) return false;
  return true;
}

function rangeText(k: RangeKwargs): string {
  return `${k.min_value != null ? `${k.strict_min ? '>' : '≥'} ${k.min_value}` : ''}${k.min_value != null && k.max_value != null ? ' and ' : ''}${k.max_value != null ? `${k.strict_max ? '<' : '≤'} ${k.max_value}` : ''}`;
}

/** numpy's quantile with interpolation="nearest" (round half to even) over sorted values. */
export function quantileNearest(sorted: Float64Array | readonly number[], q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const frac = pos - lo;
  const idx = frac > 0.5 ? lo + 1 : frac < 0.5 ? lo : lo % 2 === 0 ? lo : lo + 1;
  return sorted[Math.min(idx, sorted.length - 1)];
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** The JavaScript type of a column's cells, to match a value set's members against. */
function cellKind(c: Column): 'number' | 'boolean' | 'string' {
  return c.type === 'numeric' ? 'number' : c.type === 'boolean' ? 'boolean' : 'string';
}

/** Distinct values in a stable order (numbers and booleans by value, strings by code unit), as GE sorts its observed sets. */
function sortCells(xs: Cell[]): Cell[] {
  return xs.sort((a, b) => (a === b ? 0 : (a as number | string | boolean) < (b as number | string | boolean) ? -1 : 1));
}

function pct(n: number, d: number): number | null {
  return d > 0 ? (n / d) * 100 : null;
}

/**
 * An expectation evaluated a chunk at a time: `update` with each chunk (in row order, `offset` its
 * first row), then `finish` with the total row count. Memory: counters and the first 20 unexpected
 * rows for column map expectations; the column's non-missing values for mean/stdev/quantiles (8
 * bytes a row); one entry per distinct value for uniqueness and distinct counts.
 */
export interface ExpectationEvaluator {
  update(chunk: Dataset, offset: number): void;
  finish(rows: number): ExpectationResult;
}

/** A suite over chunks: `evaluateSuite` is this with one chunk. */
export class SuiteEvaluator {
  private readonly evaluators: ExpectationEvaluator[];
  private rows = 0;
  constructor(
    schema: Dataset,
    private readonly suite: ExpectationSuite,
    opts: EvaluateOptions = {},
  ) {
    this.evaluators = suite.expectations.map((e) => expectationEvaluator(schema, e, opts));
  }
  update(chunk: Dataset): void {
    for (const ev of this.evaluators) ev.update(chunk, this.rows);
    this.rows += chunk.rows;
  }
  finish(): SuiteResult {
    const results = this.evaluators.map((ev) => ev.finish(this.rows));
    const ok = results.filter((r) => r.success).length;
    return {
      success: ok === results.length,
      suite_name: this.suite.name ?? 'suite',
      statistics: {
        evaluated_expectations: results.length,
        successful_expectations: ok,
        unsuccessful_expectations: results.length - ok,
        success_percent: pct(ok, results.length),
      },
      results,
    };
  }
}

/** Evaluates a suite over a dataset. Pure. */
export function evaluateSuite(ds: Dataset, suite: ExpectationSuite, opts: EvaluateOptions = {}): SuiteResult {
  const ev = new SuiteEvaluator(ds, suite, opts);
  ev.update(ds);
  return ev.finish();
}

function configOf(e: Expectation): ExpectationResult['expectation_config'] {
  const kwargs: Record<string, unknown> = { ...e.kwargs };
  if (typeof kwargs.predicate === 'function') kwargs.predicate = '<function>';
  return { type: e.type, kwargs };
}

export function evaluateExpectation(ds: Dataset, e: Expectation, opts: EvaluateOptions = {}): ExpectationResult {
  const ev = expectationEvaluator(ds, e, opts);
  ev.update(ds, 0);
  return ev.finish(ds.rows);
}

/** A growable Float64Array. */
class Floats {
  private buf = new Float64Array(1024);
  length = 0;
  push(x: number): void {
    if (this.length === this.buf.length) {
      const b = new Float64Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf[this.length++] = x;
  }
  values(): Float64Array {
    return this.buf.subarray(0, this.length);
  }
}

/** The 20 smallest row indexes (with values) among candidates, for uniqueness. */
function smallest<T>(items: { i: number; v: T }[]): { i: number; v: T }[] {
  return items.sort((a, b) => a.i - b.i).slice(0, PARTIAL);
}

/**
 * The evaluator for one expectation. `schema` is any chunk (its columns' names and types); columns
 * are found by name once, and each later chunk is read at the same positions.
 */
export function expectationEvaluator(schema: Dataset, e: Expectation, opts: EvaluateOptions = {}): ExpectationEvaluator {
  const config = configOf(e);
  const index = new Map(schema.columns.map((c, j) => [c.name, j]));
  const need = (name: string): number | string =>
    index.get(name) ?? `column '${name}' is missing; the dataset's columns are ${schema.columns.map((c) => c.name).join(', ')}`;
  const colOf = (j: number): Column => schema.columns[j];
  const fixed = (r: (rows: number) => ExpectationResult): ExpectationEvaluator => ({ update: () => {}, finish: r });
  const fail = (message: string): ExpectationEvaluator => fixed(() => ({ success: false, expectation_config: config, result: {}, message }));
  const aggregate = (success: boolean, observed: unknown, message: string, details?: Record<string, unknown>): ExpectationResult => ({
    success,
    expectation_config: config,
    result: details ? { observed_value: observed, details } : { observed_value: observed },
    message: success ? 'passed' : message,
  });
  const failResult = (message: string): ExpectationResult => ({ success: false, expectation_config: config, result: {}, message });

  /** Column map results from counts (shared by the per-row and the uniqueness evaluators). */
  const mapResult = (
    rows: number,
    label: string,
    missingCount: number,
    unexpectedCount: number,
    list: readonly unknown[],
    idx: readonly number[],
    mostly: number,
    countMissing: boolean,
  ): ExpectationResult => {
    const considered = rows - missingCount;
    const success = rows === 0 || considered === 0 || (considered - unexpectedCount) / considered >= mostly;
    const result: ExpectationResult['result'] = countMissing
      ? {
          element_count: rows,
          unexpected_count: unexpectedCount,
          unexpected_percent: pct(unexpectedCount, considered),
          partial_unexpected_list: list,
          missing_count: missingCount,
          missing_percent: pct(missingCount, rows),
          unexpected_percent_total: pct(unexpectedCount, rows),
          unexpected_percent_nonmissing: pct(unexpectedCount, considered),
          partial_unexpected_index_list: idx,
        }
      : {
          element_count: rows,
          unexpected_count: unexpectedCount,
          unexpected_percent: pct(unexpectedCount, rows),
          partial_unexpected_list: list,
          partial_unexpected_index_list: idx,
        };
    const share = considered ? ((considered - unexpectedCount) / considered) * 100 : 100;
    const message = success
      ? 'passed'
      : `${label}: ${unexpectedCount} of ${considered} rows fail (${share.toFixed(2)}% pass, mostly ${(mostly * 100).toFixed(2)}% needed); rows ${idx
          .slice(0, 5)
          .map((i) => i + 1)
          .join(', ')}${unexpectedCount > 5 ? ', …' : ''} (1-based)`;
    return { success, expectation_config: config, result, message };
  };

  interface RowTests {
    missing(i: number): boolean;
    unexpected(i: number): boolean;
    value(i: number): unknown;
  }
  /** A column map expectation: `unexpected(i)` is asked only for rows not `missing(i)`; `tests` binds a chunk's columns. */
  const map = (
    label: string,
    cols: readonly number[],
    tests: (cs: Column[], offset: number) => RowTests,
    mostly = 1,
    countMissing = true,
  ): ExpectationEvaluator => {
    let missingCount = 0;
    let unexpectedCount = 0;
    const list: unknown[] = [];
    const idx: number[] = [];
    return {
      update(chunk, offset) {
        const t = tests(
          cols.map((j) => chunk.columns[j]),
          offset,
        );
        for (let i = 0; i < chunk.rows; i++) {
          if (t.missing(i)) {
            missingCount++;
            continue;
          }
          if (!t.unexpected(i)) continue;
          unexpectedCount++;
          if (list.length < PARTIAL) {
            list.push(t.value(i));
            idx.push(offset + i);
          }
        }
      },
      finish: (rows) => mapResult(rows, label, missingCount, unexpectedCount, list, idx, mostly, countMissing),
    };
  };

  const colMap = (k: ColumnMapKwargs, what: string, unexpected: (c: Column) => ((x: Cell) => boolean) | string): ExpectationEvaluator => {
    const j = need(k.column);
    if (typeof j === 'string') return fail(j);
    const u = unexpected(colOf(j));
    if (typeof u === 'string') return fail(`column '${k.column}': ${u}`);
    return map(
      `column '${k.column}' ${what}`,
      [j],
      ([c]) => ({ missing: (i) => cellAt(c, i) === null, unexpected: (i) => u(cellAt(c, i)), value: (i) => cellAt(c, i) }),
      k.mostly ?? 1,
    );
  };

  /** A column pair map: rows where both are missing are skipped (GE's default ignore_row_if); `unexpected` sees the two cells. */
  const pair = (
    k: { readonly column_A: string; readonly column_B: string; readonly mostly?: number },
    label: string,
    unexpected: (a: Cell, b: Cell) => boolean,
  ): ExpectationEvaluator => {
    const a = need(k.column_A);
    const b = need(k.column_B);
    if (typeof a === 'string') return fail(a);
    if (typeof b === 'string') return fail(b);
    return map(
      label,
      [a, b],
      ([ca, cb]) => ({
        missing: (i) => cellAt(ca, i) === null && cellAt(cb, i) === null,
        unexpected: (i) => unexpected(cellAt(ca, i), cellAt(cb, i)),
        value: (i) => [cellAt(ca, i), cellAt(cb, i)],
      }),
      k.mostly ?? 1,
    );
  };

  /**
   * Uniqueness in one pass: every row of a repeated key is unexpected, its first occurrence too. A
   * key's first row and count are kept; the first 20 later repeats are kept as they come; at the
   * end the 20 smallest rows among repeats and first rows of repeated keys are the partial list.
   */
  const uniqueness = (
    label: string,
    cols: readonly number[],
    key: (cs: Column[], i: number) => Cell | undefined,
    valueOf: (k: Cell) => unknown,
    mostly: number,
  ): ExpectationEvaluator => {
    const first = new Map<Cell, number>();
    const counts = new Map<Cell, number>();
    const later: { i: number; v: Cell }[] = [];
    let missingCount = 0;
    return {
      update(chunk, offset) {
        const cs = cols.map((j) => chunk.columns[j]);
        for (let i = 0; i < chunk.rows; i++) {
          const k = key(cs, i);
          if (k === undefined) {
            missingCount++;
            continue;
          }
          const n = counts.get(k);
          if (n === undefined) {
            counts.set(k, 1);
            first.set(k, offset + i);
          } else {
            counts.set(k, n + 1);
            if (later.length < PARTIAL) later.push({ i: offset + i, v: k });
          }
        }
      },
      finish(rows) {
        let unexpectedCount = 0;
        const firsts: { i: number; v: Cell }[] = [];
        for (const [k, n] of counts) {
          if (n < 2) continue;
          unexpectedCount += n;
          firsts.push({ i: first.get(k)!, v: k });
        }
        const top = smallest([...smallest(firsts), ...later]);
        return mapResult(
          rows,
          label,
          missingCount,
          unexpectedCount,
          top.map((x) => valueOf(x.v)),
          top.map((x) => x.i),
          mostly,
          true,
        );
      },
    };
  };

  /** A numeric column's non-missing values, collected over the chunks. */
  /** A numeric column's non-missing values, each handed to `each` as the chunks come; `done` gives the result. */
  const scan = (k: { column: string }, each: (x: number) => void, done: () => ExpectationResult): ExpectationEvaluator => {
    const j = need(k.column);
    if (typeof j === 'string') return fail(j);
    const c0 = colOf(j);
    if (c0.type !== 'numeric') return fail(`column '${k.column}' is ${c0.type}; '${e.type}' needs a numeric column`);
    return {
      update(chunk) {
        const v = (chunk.columns[j] as typeof c0).values;
        for (let i = 0; i < v.length; i++) {
          const x = v[i];
          if (x === x) each(x);
        }
      },
      finish: done,
    };
  };

  /** A numeric column's non-missing values, collected over the chunks (for statistics that need them all). */
  const numbers = (k: { column: string }, done: (v: Float64Array) => ExpectationResult): ExpectationEvaluator => {
    const acc = new Floats();
    return scan(
      k,
      (x) => acc.push(x),
      () => done(acc.values()),
    );
  };

  switch (e.type) {
    case 'expect_column_to_exist': {
      const j = need(e.kwargs.column);
      return typeof j === 'string' ? fail(j) : fixed(() => aggregate(true, undefined, ''));
    }
    case 'expect_table_row_count_to_be_between': {
      const k = e.kwargs;
      return fixed((rows) => aggregate(inRange(rows, k), rows, `the dataset has ${rows} rows; expected ${rangeText(k)}`));
    }
    case 'expect_table_row_count_change_to_be_between': {
      const k = e.kwargs;
      return fixed((rows) => {
        if (opts.previousRows === undefined) return aggregate(true, null, '', { previous_rows: null, note: 'no previous dataset to compare with' });
        const ratio = opts.previousRows > 0 ? rows / opts.previousRows : rows > 0 ? Infinity : 1;
        return aggregate(
          inRange(ratio, k),
          ratio,
          `the dataset has ${rows} rows, ${ratio.toFixed(4)}× the previous run's ${opts.previousRows}; expected a ratio ${rangeText(k)}`,
          { previous_rows: opts.previousRows, rows },
        );
      });
    }
    case 'expect_column_values_to_not_be_null': {
      const j = need(e.kwargs.column);
      if (typeof j === 'string') return fail(j);
      return map(
        `column '${e.kwargs.column}' is missing values`,
        [j],
        ([c]) => ({ missing: () => false, unexpected: (i) => cellAt(c, i) === null, value: () => null }),
        e.kwargs.mostly ?? 1,
        false,
      );
    }
    case 'expect_column_values_to_be_between': {
      const k = e.kwargs;
      return colMap(k, `values outside ${rangeText(k)}`, (c) =>
        c.type !== 'numeric' ? `is ${c.type}; a value range needs a numeric column` : (x) => !inRange(x as number, k),
      );
    }
    case 'expect_column_values_to_be_in_set': {
      const k = e.kwargs;
      return colMap(k, `values outside ${JSON.stringify(k.value_set)}`, (c) => {
        const set = new Set(k.value_set.filter((v) => typeof v === cellKind(c)));
        return (x) => !set.has(x as SetValue);
      });
    }
    case 'expect_column_values_to_match_regex': {
      const k = e.kwargs;
      const re = new RegExp(k.regex);
      return colMap(k, `values not matching /${k.regex}/`, () => (x) => !re.test(String(x)));
    }
    case 'expect_column_value_lengths_to_be_between': {
      const k = e.kwargs;
      return colMap(k, `values with a length outside ${rangeText(k)}`, (c) =>
        c.type !== 'string' && c.type !== 'categorical'
          ? `is ${c.type}; lengths need a string or categorical column`
          : (x) => !inRange(codePoints(x as string), k),
      );
    }
    case 'expect_column_values_to_be_unique': {
      const k = e.kwargs;
      const j = need(k.column);
      if (typeof j === 'string') return fail(j);
      return uniqueness(
        `column '${k.column}' values that repeat`,
        [j],
        ([c], i) => {
          const v = cellAt(c, i);
          return v === null ? undefined : v;
        },
        (v) => v,
        k.mostly ?? 1,
      );
    }
    case 'expect_column_mean_to_be_between':
    case 'expect_column_stdev_to_be_between': {
      const k = e.kwargs;
      const stdev = e.type === 'expect_column_stdev_to_be_between';
      return numbers(k, (v) => {
        let mean = 0;
        for (const x of v) mean += x;
        mean /= v.length;
        let observed = mean;
        if (stdev) {
          let ss = 0;
          for (const x of v) ss += (x - mean) * (x - mean);
          observed = Math.sqrt(ss / (v.length - 1));
        }
        const what = stdev ? 'standard deviation' : 'mean';
        if (!Number.isFinite(observed)) return failResult(`column '${k.column}': the ${what} is undefined (${v.length} non-missing values)`);
        return aggregate(inRange(observed, k), observed, `column '${k.column}': the ${what} ${observed} is not ${rangeText(k)}`);
      });
    }
    case 'expect_column_quantile_values_to_be_between': {
      const k = e.kwargs;
      return numbers(k, (v) => {
        if (v.length === 0) return failResult(`column '${k.column}' has no non-missing values; quantiles are undefined`);
        v.sort();
        const { quantiles, value_ranges } = k.quantile_ranges;
        const values = quantiles.map((q) => quantileNearest(v, q));
        const each = values.map((x, j) => inRange(x, { min_value: value_ranges[j][0], max_value: value_ranges[j][1] }));
        const bad = each.flatMap((ok, j) =>
          ok ? [] : [`q${quantiles[j]} = ${values[j]} not in [${value_ranges[j][0] ?? '-∞'}, ${value_ranges[j][1] ?? '∞'}]`],
        );
        return aggregate(each.every(Boolean), { quantiles: [...quantiles], values }, `column '${k.column}': ${bad.join('; ')}`, { success_details: each });
      });
    }
    case 'expect_column_proportion_of_unique_values_to_be_between':
    case 'expect_column_unique_value_count_to_be_between': {
      const k = e.kwargs;
      const count = e.type === 'expect_column_unique_value_count_to_be_between';
      const j = need(k.column);
      if (typeof j === 'string') return fail(j);
      const distinct = new Set<Cell>();
      let nonNull = 0;
      return {
        update(chunk) {
          const c = chunk.columns[j];
          for (let i = 0; i < chunk.rows; i++) {
            const x = cellAt(c, i);
            if (x === null) continue;
            nonNull++;
            distinct.add(x);
          }
        },
        finish() {
          const observed = count ? distinct.size : nonNull ? distinct.size / nonNull : 0;
          const what = count ? 'distinct count' : 'share of distinct values';
          return aggregate(inRange(observed, k), observed, `column '${k.column}': the ${what} ${observed} is not ${rangeText(k)}`);
        },
      };
    }
    case 'expect_column_pair_values_a_to_be_greater_than_b': {
      const k = e.kwargs;
      return pair(k, `'${k.column_A}' ${k.or_equal ? '≥' : '>'} '${k.column_B}'`, (x, y) =>
        x === null || y === null ? true : k.or_equal ? !(x >= y) : !(x > y),
      );
    }
    case 'expect_compound_columns_to_be_unique': {
      const k = e.kwargs;
      const js: number[] = [];
      for (const n of k.column_list) {
        const j = need(n);
        if (typeof j === 'string') return fail(j);
        js.push(j);
      }
      const names = js.map((j) => colOf(j).name);
      return uniqueness(
        `(${k.column_list.join(', ')}) repeats`,
        js,
        (cs, i) => {
          const cells = cs.map((c) => cellAt(c, i));
          return cells.every((x) => x === null) ? undefined : JSON.stringify(cells);
        },
        (key) => {
          const cells = JSON.parse(key as string) as Cell[];
          return Object.fromEntries(names.map((n, m) => [n, cells[m]]));
        },
        k.mostly ?? 1,
      );
    }
    case 'expect_table_row_count_to_equal': {
      const k = e.kwargs;
      return fixed((rows) => aggregate(rows === k.value, rows, `the dataset has ${rows} rows; expected exactly ${k.value}`));
    }
    case 'expect_table_column_count_to_equal':
    case 'expect_table_column_count_to_be_between': {
      const n = schema.columns.length;
      const ok = e.type === 'expect_table_column_count_to_equal' ? n === e.kwargs.value : inRange(n, e.kwargs);
      const want = e.type === 'expect_table_column_count_to_equal' ? `exactly ${e.kwargs.value}` : rangeText(e.kwargs);
      return fixed(() => aggregate(ok, n, `the dataset has ${n} columns; expected ${want}`));
    }
    case 'expect_table_columns_to_match_ordered_list': {
      const want = e.kwargs.column_list;
      const have = schema.columns.map((c) => c.name);
      const mismatched = Array.from({ length: Math.max(want.length, have.length) }, (_, i) => i)
        .filter((i) => want[i] !== have[i])
        .map((i) => ({ 'Expected Column Position': i, Expected: want[i] ?? null, Found: have[i] ?? null }));
      return fixed(() =>
        aggregate(
          mismatched.length === 0,
          have,
          `the columns are ${have.join(', ')}; expected, in this order, ${want.join(', ')}`,
          mismatched.length ? { mismatched } : undefined,
        ),
      );
    }
    case 'expect_table_columns_to_match_set': {
      const k = e.kwargs;
      const have = schema.columns.map((c) => c.name);
      const want = new Set(k.column_set);
      const missing = [...want].filter((n) => !have.includes(n));
      const unexpected = have.filter((n) => !want.has(n));
      const ok = missing.length === 0 && (k.exact_match === false || unexpected.length === 0);
      const parts = [
        missing.length ? `missing ${missing.join(', ')}` : '',
        k.exact_match !== false && unexpected.length ? `not in the set: ${unexpected.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; ');
      // GE reports the columns sorted.
      return fixed(() => aggregate(ok, [...have].sort(), `the columns do not match the set: ${parts}`, { mismatched: { unexpected, missing } }));
    }
    case 'expect_column_values_to_be_null': {
      const j = need(e.kwargs.column);
      if (typeof j === 'string') return fail(j);
      return map(
        `column '${e.kwargs.column}' has values (null expected)`,
        [j],
        ([c]) => ({ missing: () => false, unexpected: (i) => cellAt(c, i) !== null, value: (i) => cellAt(c, i) }),
        e.kwargs.mostly ?? 1,
        false,
      );
    }
    case 'expect_column_values_to_not_be_in_set': {
      const k = e.kwargs;
      return colMap(k, `values in ${JSON.stringify(k.value_set)}`, (c) => {
        const set = new Set(k.value_set.filter((v) => typeof v === cellKind(c)));
        return (x) => set.has(x as SetValue);
      });
    }
    case 'expect_column_values_to_not_match_regex': {
      const k = e.kwargs;
      const re = new RegExp(k.regex);
      return colMap(k, `values matching /${k.regex}/`, () => (x) => re.test(String(x)));
    }
    case 'expect_column_values_to_match_regex_list':
    case 'expect_column_values_to_not_match_regex_list': {
      const k = e.kwargs;
      const res = k.regex_list.map((r) => new RegExp(r));
      if (e.type === 'expect_column_values_to_not_match_regex_list')
        return colMap(k, `values matching one of ${JSON.stringify(k.regex_list)}`, () => (x) => res.some((re) => re.test(String(x))));
      const all = e.kwargs.match_on === 'all';
      return colMap(k, `values matching ${all ? 'not all' : 'none'} of ${JSON.stringify(k.regex_list)}`, () =>
        all ? (x) => !res.every((re) => re.test(String(x))) : (x) => !res.some((re) => re.test(String(x))),
      );
    }
    case 'expect_column_values_to_be_json_parseable': {
      const k = e.kwargs;
      return colMap(k, 'values that are not JSON', (c) =>
        c.type !== 'string' && c.type !== 'categorical'
          ? `is ${c.type}; JSON is parsed from a string or categorical column`
          : (x) => {
              try {
                JSON.parse(x as string);
                return false;
              } catch {
                return true;
              }
            },
      );
    }
    case 'expect_column_values_to_be_increasing':
    case 'expect_column_values_to_be_decreasing': {
      // As GE's pandas engine: the missing values are left out, each value is compared with the
      // present value before it (the first has none and passes). The rows come in order, chunk after
      // chunk, so the previous value carries across chunks.
      const k = e.kwargs;
      const up = e.type === 'expect_column_values_to_be_increasing';
      const strictly = k.strictly === true;
      const word = `${strictly ? 'strictly ' : ''}${up ? 'increasing' : 'decreasing'}`;
      return colMap(k, `values not ${word}`, (c) => {
        if (c.type !== 'numeric') return `is ${c.type}; ${word} values are compared as numbers, in a numeric column`;
        let prev: number | undefined;
        return (x) => {
          const v = x as number;
          const before = prev;
          prev = v;
          if (before === undefined) return false;
          const d = v - before;
          return strictly ? !(up ? d > 0 : d < 0) : !(up ? d >= 0 : d <= 0);
        };
      });
    }
    case 'expect_column_pair_values_to_be_equal': {
      const k = e.kwargs;
      return pair(k, `'${k.column_A}' = '${k.column_B}'`, (x, y) => x !== y);
    }
    case 'expect_column_value_lengths_to_equal': {
      const k = e.kwargs;
      return colMap(k, `values with a length other than ${k.value}`, (c) =>
        c.type !== 'string' && c.type !== 'categorical'
          ? `is ${c.type}; lengths need a string or categorical column`
          : (x) => codePoints(x as string) !== k.value,
      );
    }
    case 'expect_column_min_to_be_between':
    case 'expect_column_max_to_be_between':
    case 'expect_column_median_to_be_between':
    case 'expect_column_sum_to_be_between': {
      const k = e.kwargs;
      const what = e.type.slice('expect_column_'.length, -'_to_be_between'.length);
      const judge = (observed: number | null): ExpectationResult =>
        observed === null
          ? aggregate(false, null, `column '${k.column}' has no non-missing values; its ${what} is undefined`)
          : aggregate(inRange(observed, k), observed, `column '${k.column}': the ${what} ${observed} is not ${rangeText(k)}`);
      if (e.type === 'expect_column_median_to_be_between')
        return numbers(k, (v) => {
          if (v.length === 0) return judge(null);
          v.sort();
          const m = v.length >> 1;
          return judge(v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2);
        });
      // min, max and sum in one streaming pass (the sum of no values is 0, as in pandas).
      const type = e.type;
      let acc: number | null = type === 'expect_column_sum_to_be_between' ? 0 : null;
      const step =
        type === 'expect_column_sum_to_be_between'
          ? (x: number) => (acc = acc! + x)
          : type === 'expect_column_min_to_be_between'
            ? (x: number) => (acc = acc === null || x < acc ? x : acc)
            : (x: number) => (acc = acc === null || x > acc ? x : acc);
      return scan(k, step, () => judge(acc));
    }
    case 'expect_column_distinct_values_to_be_in_set':
    case 'expect_column_distinct_values_to_contain_set':
    case 'expect_column_distinct_values_to_equal_set':
    case 'expect_column_most_common_value_to_be_in_set': {
      const k = e.kwargs;
      const j = need(k.column);
      if (typeof j === 'string') return fail(j);
      const kind = cellKind(colOf(j));
      const counts = new Map<Cell, number>();
      const type = e.type;
      return {
        update(chunk) {
          const c = chunk.columns[j];
          for (let i = 0; i < chunk.rows; i++) {
            const x = cellAt(c, i);
            if (x !== null) counts.set(x, (counts.get(x) ?? 0) + 1);
          }
        },
        finish() {
          const set = new Set(k.value_set.filter((v) => typeof v === kind));
          const distinct = sortCells([...counts.keys()]);
          if (type === 'expect_column_most_common_value_to_be_in_set') {
            let top = 0;
            for (const n of counts.values()) top = Math.max(top, n);
            const modes = distinct.filter((x) => counts.get(x) === top);
            const ties = (e.kwargs as { ties_okay?: boolean }).ties_okay === true;
            const ok = modes.length > 0 && (ties ? modes.some((x) => set.has(x as SetValue)) : modes.every((x) => set.has(x as SetValue)));
            return aggregate(ok, modes, `column '${k.column}': the most common value ${JSON.stringify(modes)} is not in ${JSON.stringify(k.value_set)}`);
          }
          // As GE 1.x reports them: the distinct values outside the set (unexpected) and the set's
          // values never seen (missing), sorted, the first 20 listed; no observed_value.
          const outside = type === 'expect_column_distinct_values_to_contain_set' ? [] : distinct.filter((x) => !set.has(x as SetValue));
          const absent =
            type === 'expect_column_distinct_values_to_be_in_set' ? [] : sortCells([...new Set(k.value_set)].filter((x) => !counts.has(x as Cell)));
          const result: Record<string, unknown> = { observed_value: null };
          if (type !== 'expect_column_distinct_values_to_contain_set')
            Object.assign(result, { unexpected_count: outside.length, partial_unexpected_list: outside.slice(0, PARTIAL) });
          if (type !== 'expect_column_distinct_values_to_be_in_set')
            Object.assign(result, { missing_count: absent.length, partial_missing_list: absent.slice(0, PARTIAL) });
          result.details = { value_counts: distinct.map((x) => ({ value: x, count: counts.get(x) })) };
          const ok = outside.length === 0 && absent.length === 0;
          const parts = [
            outside.length ? `values outside the set: ${JSON.stringify(outside.slice(0, PARTIAL))}` : '',
            absent.length ? `values of the set never seen: ${JSON.stringify(absent.slice(0, PARTIAL))}` : '',
          ].filter(Boolean);
          return { success: ok, expectation_config: config, result, message: ok ? 'passed' : `column '${k.column}': ${parts.join('; ')}` };
        },
      };
    }
    case 'expect_column_newest_value_to_be_within': {
      const k = e.kwargs;
      const j = need(k.column);
      if (typeof j === 'string') return fail(j);
      const c0 = colOf(j);
      if (c0.type !== 'string' && c0.type !== 'categorical')
        return fail(`column '${k.column}' is ${c0.type}; freshness reads ISO 8601 timestamps (strings, as ingest and Arrow timestamps give)`);
      let newest = -Infinity;
      let bad: string | undefined;
      return {
        update(chunk, offset) {
          if (bad) return;
          const c = chunk.columns[j];
          for (let i = 0; i < chunk.rows; i++) {
            const v = cellAt(c, i);
            if (v === null) continue;
            const t = Date.parse(v as string);
            if (Number.isNaN(t)) {
              bad = `column '${k.column}' row ${offset + i + 1}: '${String(v)}' is not an ISO 8601 timestamp`;
              return;
            }
            if (t > newest) newest = t;
          }
        },
        finish() {
          if (bad) return failResult(bad);
          const maxAge = parseDuration(k.max_age);
          const now = opts.now ?? Date.now();
          if (newest === -Infinity) return failResult(`column '${k.column}' has no timestamps`);
          const age = now - newest;
          return aggregate(
            age <= maxAge,
            new Date(newest).toISOString(),
            `column '${k.column}': the newest value ${new Date(newest).toISOString()} is ${(age / 3_600_000).toFixed(2)}h old; at most ${k.max_age} expected`,
            { age_seconds: age / 1000 },
          );
        },
      };
    }
    case 'expect_row_predicate': {
      const k = e.kwargs;
      const all = schema.columns.map((_, j) => j);
      return map(
        `row predicate '${k.name}'`,
        all,
        (cs, offset) => {
          const row = (i: number): Record<string, Cell> => Object.fromEntries(cs.map((c) => [c.name, cellAt(c, i)]));
          return {
            missing: () => false,
            unexpected: (i) => {
              try {
                return !k.predicate(row(i));
              } catch (err) {
                throw new Error(`row predicate '${k.name}' threw on row ${offset + i + 1}: ${(err as Error).message}`, { cause: err });
              }
            },
            value: row,
          };
        },
        k.mostly ?? 1,
      );
    }
  }
}

/** The terminal summary: one line per expectation. */
export function summarizeSuite(r: SuiteResult): string {
  const s = r.statistics;
  return [
    `${r.success ? 'passed' : 'FAILED'}: ${s.successful_expectations} of ${s.evaluated_expectations} expectations met (suite ${r.suite_name})`,
    ...r.results.map((x) => `  ${x.success ? 'ok  ' : 'FAIL'} ${x.expectation_config.type}${x.success ? '' : `: ${x.message}`}`),
  ].join('\n');
}

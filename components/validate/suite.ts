/**
 * Expectation suites as data: the expectation types ghosteam evaluates (Great Expectations' names
 * and kwargs), and `checkSuite`, which turns parsed JSON or code into a typed suite or an error that
 * names the place and the fix. No dependencies, so the DSL checks a suite at synth time
 * (pipelines/check.ts) without loading the evaluator (expectations.ts).
 */
import type { Cell } from '../dataset/types.ts';
export interface ColumnMapKwargs {
  readonly column: string;
  /** Share of non-missing rows that must pass, [0, 1]. @default 1 */
  readonly mostly?: number;
}
export interface RangeKwargs {
  readonly min_value?: number | null;
  readonly max_value?: number | null;
  readonly strict_min?: boolean;
  readonly strict_max?: boolean;
}
export type SetValue = string | number | boolean;

/** Every expectation ghosteam evaluates, as `{type, kwargs}` (GE's ExpectationConfiguration shape). */
export type Expectation =
  | { readonly type: 'expect_column_to_exist'; readonly kwargs: { readonly column: string } }
  | { readonly type: 'expect_table_row_count_to_be_between'; readonly kwargs: RangeKwargs }
  | { readonly type: 'expect_column_values_to_not_be_null'; readonly kwargs: ColumnMapKwargs }
  | { readonly type: 'expect_column_values_to_be_between'; readonly kwargs: ColumnMapKwargs & RangeKwargs }
  | { readonly type: 'expect_column_values_to_be_in_set'; readonly kwargs: ColumnMapKwargs & { readonly value_set: readonly SetValue[] } }
  | { readonly type: 'expect_column_values_to_match_regex'; readonly kwargs: ColumnMapKwargs & { readonly regex: string } }
  | { readonly type: 'expect_column_value_lengths_to_be_between'; readonly kwargs: ColumnMapKwargs & RangeKwargs }
  | { readonly type: 'expect_column_values_to_be_unique'; readonly kwargs: ColumnMapKwargs }
  | { readonly type: 'expect_column_mean_to_be_between'; readonly kwargs: { readonly column: string } & RangeKwargs }
  | { readonly type: 'expect_column_stdev_to_be_between'; readonly kwargs: { readonly column: string } & RangeKwargs }
  | {
      readonly type: 'expect_column_quantile_values_to_be_between';
      readonly kwargs: {
        readonly column: string;
        readonly quantile_ranges: { readonly quantiles: readonly number[]; readonly value_ranges: readonly (readonly [number | null, number | null])[] };
      };
    }
  | { readonly type: 'expect_column_proportion_of_unique_values_to_be_between'; readonly kwargs: { readonly column: string } & RangeKwargs }
  | { readonly type: 'expect_column_unique_value_count_to_be_between'; readonly kwargs: { readonly column: string } & RangeKwargs }
  | {
      readonly type: 'expect_column_pair_values_a_to_be_greater_than_b';
      readonly kwargs: { readonly column_A: string; readonly column_B: string; readonly or_equal?: boolean; readonly mostly?: number };
    }
  | { readonly type: 'expect_compound_columns_to_be_unique'; readonly kwargs: { readonly column_list: readonly string[]; readonly mostly?: number } }
  | { readonly type: 'expect_table_row_count_to_equal'; readonly kwargs: { readonly value: number } }
  | { readonly type: 'expect_table_column_count_to_equal'; readonly kwargs: { readonly value: number } }
  | { readonly type: 'expect_table_column_count_to_be_between'; readonly kwargs: RangeKwargs }
  | { readonly type: 'expect_table_columns_to_match_ordered_list'; readonly kwargs: { readonly column_list: readonly string[] } }
  | { readonly type: 'expect_table_columns_to_match_set'; readonly kwargs: { readonly column_set: readonly string[]; readonly exact_match?: boolean } }
  | { readonly type: 'expect_column_values_to_be_null'; readonly kwargs: ColumnMapKwargs }
  | { readonly type: 'expect_column_values_to_not_be_in_set'; readonly kwargs: ColumnMapKwargs & { readonly value_set: readonly SetValue[] } }
  | { readonly type: 'expect_column_values_to_not_match_regex'; readonly kwargs: ColumnMapKwargs & { readonly regex: string } }
  | { readonly type: 'expect_column_value_lengths_to_equal'; readonly kwargs: ColumnMapKwargs & { readonly value: number } }
  | {
      readonly type: 'expect_column_values_to_match_regex_list';
      readonly kwargs: ColumnMapKwargs & { readonly regex_list: readonly string[]; readonly match_on?: 'any' | 'all' };
    }
  | { readonly type: 'expect_column_values_to_not_match_regex_list'; readonly kwargs: ColumnMapKwargs & { readonly regex_list: readonly string[] } }
  | { readonly type: 'expect_column_values_to_be_json_parseable'; readonly kwargs: ColumnMapKwargs }
  /** Each present value at least (`strictly`: greater than) the present value before it, in row order; the first passes. */
  | { readonly type: 'expect_column_values_to_be_increasing'; readonly kwargs: ColumnMapKwargs & { readonly strictly?: boolean } }
  /** Each present value at most (`strictly`: less than) the present value before it, in row order; the first passes. */
  | { readonly type: 'expect_column_values_to_be_decreasing'; readonly kwargs: ColumnMapKwargs & { readonly strictly?: boolean } }
  | {
      readonly type: 'expect_column_pair_values_to_be_equal';
      readonly kwargs: { readonly column_A: string; readonly column_B: string; readonly mostly?: number };
    }
  | { readonly type: 'expect_column_min_to_be_between'; readonly kwargs: { readonly column: string } & RangeKwargs }
  | { readonly type: 'expect_column_max_to_be_between'; readonly kwargs: { readonly column: string } & RangeKwargs }
  | { readonly type: 'expect_column_median_to_be_between'; readonly kwargs: { readonly column: string } & RangeKwargs }
  | { readonly type: 'expect_column_sum_to_be_between'; readonly kwargs: { readonly column: string } & RangeKwargs }
  | { readonly type: 'expect_column_distinct_values_to_be_in_set'; readonly kwargs: { readonly column: string; readonly value_set: readonly SetValue[] } }
  | { readonly type: 'expect_column_distinct_values_to_contain_set'; readonly kwargs: { readonly column: string; readonly value_set: readonly SetValue[] } }
  | { readonly type: 'expect_column_distinct_values_to_equal_set'; readonly kwargs: { readonly column: string; readonly value_set: readonly SetValue[] } }
  | {
      readonly type: 'expect_column_most_common_value_to_be_in_set';
      readonly kwargs: { readonly column: string; readonly value_set: readonly SetValue[]; readonly ties_okay?: boolean };
    }
  /** ghosteam: the newest timestamp (ISO 8601 strings) is at most `max_age` ("90s", "15m", "24h", "7d") before now. */
  | { readonly type: 'expect_column_newest_value_to_be_within'; readonly kwargs: { readonly column: string; readonly max_age: string } }
  /** ghosteam: rows now / rows in the previous run's dataset is within [min_value, max_value]. Passes when there is no previous run. */
  | { readonly type: 'expect_table_row_count_change_to_be_between'; readonly kwargs: RangeKwargs }
  /** ghosteam, code only: a TypeScript predicate over each row (cells by column name). */
  | {
      readonly type: 'expect_row_predicate';
      readonly kwargs: { readonly name: string; readonly predicate: (row: Readonly<Record<string, Cell>>) => boolean; readonly mostly?: number };
    };

export type ExpectationType = Expectation['type'];

export interface ExpectationSuite {
  readonly name?: string;
  readonly expectations: readonly Expectation[];
}

type KwargSpec = Record<string, 'string' | 'number' | 'boolean' | 'range-bound' | 'strings' | 'set' | 'quantile-ranges' | 'function'>;
const RANGE: KwargSpec = { min_value: 'range-bound', max_value: 'range-bound', strict_min: 'boolean', strict_max: 'boolean' };
const MAP: KwargSpec = { column: 'string', mostly: 'number' };

/** Each type's kwargs and which are required. */
const SPECS: Record<ExpectationType, { kwargs: KwargSpec; required: readonly string[] }> = {
  expect_column_to_exist: { kwargs: { column: 'string' }, required: ['column'] },
  expect_table_row_count_to_be_between: { kwargs: RANGE, required: [] },
  expect_column_values_to_not_be_null: { kwargs: MAP, required: ['column'] },
  expect_column_values_to_be_between: { kwargs: { ...MAP, ...RANGE }, required: ['column'] },
  expect_column_values_to_be_in_set: { kwargs: { ...MAP, value_set: 'set' }, required: ['column', 'value_set'] },
  expect_column_values_to_match_regex: { kwargs: { ...MAP, regex: 'string' }, required: ['column', 'regex'] },
  expect_column_value_lengths_to_be_between: { kwargs: { ...MAP, ...RANGE }, required: ['column'] },
  expect_column_values_to_be_unique: { kwargs: MAP, required: ['column'] },
  expect_column_mean_to_be_between: { kwargs: { column: 'string', ...RANGE }, required: ['column'] },
  expect_column_stdev_to_be_between: { kwargs: { column: 'string', ...RANGE }, required: ['column'] },
  expect_column_quantile_values_to_be_between: { kwargs: { column: 'string', quantile_ranges: 'quantile-ranges' }, required: ['column', 'quantile_ranges'] },
  expect_column_proportion_of_unique_values_to_be_between: { kwargs: { column: 'string', ...RANGE }, required: ['column'] },
  expect_column_unique_value_count_to_be_between: { kwargs: { column: 'string', ...RANGE }, required: ['column'] },
  expect_column_pair_values_a_to_be_greater_than_b: {
    kwargs: { column_A: 'string', column_B: 'string', or_equal: 'boolean', mostly: 'number' },
    required: ['column_A', 'column_B'],
  },
  expect_compound_columns_to_be_unique: { kwargs: { column_list: 'strings', mostly: 'number' }, required: ['column_list'] },
  expect_table_row_count_to_equal: { kwargs: { value: 'number' }, required: ['value'] },
  expect_table_column_count_to_equal: { kwargs: { value: 'number' }, required: ['value'] },
  expect_table_column_count_to_be_between: { kwargs: RANGE, required: [] },
  expect_table_columns_to_match_ordered_list: { kwargs: { column_list: 'strings' }, required: ['column_list'] },
  expect_table_columns_to_match_set: { kwargs: { column_set: 'strings', exact_match: 'boolean' }, required: ['column_set'] },
  expect_column_values_to_be_null: { kwargs: MAP, required: ['column'] },
  expect_column_values_to_not_be_in_set: { kwargs: { ...MAP, value_set: 'set' }, required: ['column', 'value_set'] },
  expect_column_values_to_not_match_regex: { kwargs: { ...MAP, regex: 'string' }, required: ['column', 'regex'] },
  expect_column_value_lengths_to_equal: { kwargs: { ...MAP, value: 'number' }, required: ['column', 'value'] },
  expect_column_values_to_match_regex_list: { kwargs: { ...MAP, regex_list: 'strings', match_on: 'string' }, required: ['column', 'regex_list'] },
  expect_column_values_to_not_match_regex_list: { kwargs: { ...MAP, regex_list: 'strings' }, required: ['column', 'regex_list'] },
  expect_column_values_to_be_json_parseable: { kwargs: MAP, required: ['column'] },
  expect_column_values_to_be_increasing: { kwargs: { ...MAP, strictly: 'boolean' }, required: ['column'] },
  expect_column_values_to_be_decreasing: { kwargs: { ...MAP, strictly: 'boolean' }, required: ['column'] },
  expect_column_pair_values_to_be_equal: { kwargs: { column_A: 'string', column_B: 'string', mostly: 'number' }, required: ['column_A', 'column_B'] },
  expect_column_min_to_be_between: { kwargs: { column: 'string', ...RANGE }, required: ['column'] },
  expect_column_max_to_be_between: { kwargs: { column: 'string', ...RANGE }, required: ['column'] },
  expect_column_median_to_be_between: { kwargs: { column: 'string', ...RANGE }, required: ['column'] },
  expect_column_sum_to_be_between: { kwargs: { column: 'string', ...RANGE }, required: ['column'] },
  expect_column_distinct_values_to_be_in_set: { kwargs: { column: 'string', value_set: 'set' }, required: ['column', 'value_set'] },
  expect_column_distinct_values_to_contain_set: { kwargs: { column: 'string', value_set: 'set' }, required: ['column', 'value_set'] },
  expect_column_distinct_values_to_equal_set: { kwargs: { column: 'string', value_set: 'set' }, required: ['column', 'value_set'] },
  expect_column_most_common_value_to_be_in_set: { kwargs: { column: 'string', value_set: 'set', ties_okay: 'boolean' }, required: ['column', 'value_set'] },
  expect_column_newest_value_to_be_within: { kwargs: { column: 'string', max_age: 'string' }, required: ['column', 'max_age'] },
  expect_table_row_count_change_to_be_between: { kwargs: RANGE, required: [] },
  expect_row_predicate: { kwargs: { name: 'string', predicate: 'function', mostly: 'number' }, required: ['name', 'predicate'] },
};

export const EXPECTATION_TYPES = Object.keys(SPECS) as ExpectationType[];

/** Ranges that GE refuses without any bound (min_value and max_value both None). */
const BOUNDED = new Set<string>([
  'expect_column_values_to_be_between',
  'expect_column_min_to_be_between',
  'expect_column_max_to_be_between',
  'expect_column_median_to_be_between',
  'expect_column_sum_to_be_between',
]);

/** GE's expectation-level keys that carry no check (ignored when a GE-serialised suite is loaded). */
const IGNORED_KWARGS = new Set(['result_format', 'catch_exceptions', 'include_config', 'meta']);
const IGNORED_EXPECTATION_KEYS = new Set(['meta', 'id', 'ge_cloud_id', 'notes', 'rendered_content', 'description', 'severity']);

/**
 * Checks a suite (parsed JSON or code) and returns it typed. Every mistake names its place
 * (`suite.expectations[2].kwargs.mostly`) and the fix.
 */
export function checkSuite(s: unknown, where = 'suite'): ExpectationSuite {
  if (s === null || typeof s !== 'object' || Array.isArray(s))
    throw new Error(`${where}: must be an object like {"expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}}]}`);
  const o = s as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!['name', 'expectations', 'meta', 'id', 'notes', 'suite_name', 'expectation_suite_name', 'data_asset_type', 'ge_cloud_id'].includes(k))
      throw new Error(`${where}: unknown key '${k}'; a suite has 'name' and 'expectations'`);
  if (!Array.isArray(o.expectations)) throw new Error(`${where}.expectations: must be a list of {"type": ..., "kwargs": {...}}`);
  // GE 1.x writes `name`; GE 0.x wrote `expectation_suite_name`.
  const name = [o.name, o.suite_name, o.expectation_suite_name].find((v): v is string => typeof v === 'string');
  return { name, expectations: o.expectations.map((e, i) => checkExpectation(e, `${where}.expectations[${i}]`)) };
}

function checkExpectation(e: unknown, where: string): Expectation {
  if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new Error(`${where}: must be an object {"type": ..., "kwargs": {...}}`);
  const o = e as Record<string, unknown>;
  // GE 0.x wrote `expectation_type`; 1.x writes `type`.
  const type = o.type ?? o.expectation_type;
  for (const k of Object.keys(o))
    if (!['type', 'expectation_type', 'kwargs'].includes(k) && !IGNORED_EXPECTATION_KEYS.has(k))
      throw new Error(`${where}: unknown key '${k}'; use 'type' and 'kwargs'`);
  if (typeof type !== 'string' || !(type in SPECS))
    throw new Error(`${where}.type: '${String(type)}' is not an expectation ghosteam evaluates; use one of ${EXPECTATION_TYPES.join(', ')}`);
  const spec = SPECS[type as ExpectationType];
  const kw = (o.kwargs ?? {}) as Record<string, unknown>;
  if (typeof kw !== 'object' || Array.isArray(kw)) throw new Error(`${where}.kwargs: must be an object`);
  const clean: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kw)) {
    if (IGNORED_KWARGS.has(k)) continue;
    const want = spec.kwargs[k];
    if (!want) throw new Error(`${where}.kwargs: '${type}' has no kwarg '${k}'; its kwargs are ${Object.keys(spec.kwargs).join(', ')}`);
    const at = `${where}.kwargs.${k}`;
    if (v === null && want === 'range-bound') {
      clean[k] = null;
      continue;
    }
    switch (want) {
      case 'string':
        if (typeof v !== 'string' || v === '') throw new Error(`${at}: must be a non-empty string`);
        break;
      case 'boolean':
        if (typeof v !== 'boolean') throw new Error(`${at}: must be true or false`);
        break;
      case 'number':
      case 'range-bound':
        if (typeof v !== 'number' || !Number.isFinite(v))
          throw new Error(`${at}: must be a finite number${want === 'range-bound' ? ' (or null for no bound)' : ''}`);
        if (k === 'mostly' && (v < 0 || v > 1)) throw new Error(`${at}: ${v} is outside [0, 1]; mostly is the share of rows that must pass`);
        break;
      case 'strings':
        if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) throw new Error(`${at}: must be a non-empty list of column names`);
        break;
      case 'set':
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean'))
          throw new Error(`${at}: must be a list of strings, numbers or booleans`);
        break;
      case 'function':
        if (typeof v !== 'function') throw new Error(`${at}: must be a function (row) => boolean; row predicates are declared in TypeScript, not JSON`);
        break;
      case 'quantile-ranges': {
        const q = v as { quantiles?: unknown; value_ranges?: unknown };
        const ok =
          q !== null &&
          typeof q === 'object' &&
          Array.isArray(q.quantiles) &&
          Array.isArray(q.value_ranges) &&
          q.quantiles.length === q.value_ranges.length &&
          q.quantiles.every((x) => typeof x === 'number' && x >= 0 && x <= 1) &&
          q.value_ranges.every((r) => Array.isArray(r) && r.length === 2 && r.every((b) => b === null || typeof b === 'number'));
        if (!ok)
          throw new Error(`${at}: must be {"quantiles": [0.5, ...] (each in [0, 1]), "value_ranges": [[min|null, max|null], ...]} with one range per quantile`);
        break;
      }
    }
    clean[k] = v;
  }
  for (const r of spec.required) if (clean[r] === undefined) throw new Error(`${where}.kwargs: '${type}' needs '${r}'`);
  if (type === 'expect_column_values_to_match_regex' || type === 'expect_column_values_to_not_match_regex') {
    try {
      new RegExp(clean.regex as string);
    } catch (err) {
      throw new Error(`${where}.kwargs.regex: ${(err as Error).message}`, { cause: err });
    }
  }
  if (type === 'expect_column_values_to_match_regex_list' || type === 'expect_column_values_to_not_match_regex_list')
    (clean.regex_list as string[]).forEach((r, i) => {
      try {
        new RegExp(r);
      } catch (err) {
        throw new Error(`${where}.kwargs.regex_list[${i}]: ${(err as Error).message}`, { cause: err });
      }
    });
  if (type === 'expect_column_values_to_match_regex_list' && clean.match_on !== undefined && clean.match_on !== 'any' && clean.match_on !== 'all')
    throw new Error(`${where}.kwargs.match_on: '${String(clean.match_on)}' is not 'any' or 'all'`);
  if (type === 'expect_column_newest_value_to_be_within') parseDuration(clean.max_age as string, `${where}.kwargs.max_age`);
  if (BOUNDED.has(type) && clean.min_value == null && clean.max_value == null) throw new Error(`${where}.kwargs: '${type}' needs min_value or max_value`);
  if (
    (type === 'expect_table_column_count_to_equal' || type === 'expect_table_row_count_to_equal' || type === 'expect_column_value_lengths_to_equal') &&
    !(Number.isInteger(clean.value) && (clean.value as number) >= 0)
  )
    throw new Error(`${where}.kwargs.value: must be a whole number ≥ 0`);
  return { type, kwargs: clean } as Expectation;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "90s", "15m", "24h", "7d", "1w" → milliseconds. */
export function parseDuration(s: string, where = 'duration'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(s.trim());
  if (!m) throw new Error(`${where}: '${s}' is not a duration; write a number and a unit: 90s, 15m, 24h, 7d, 1w`);
  return Number(m[1]) * UNITS[m[2]];
}

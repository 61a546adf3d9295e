/**
 * A hyperparameter search space: plain data (the sweep IR carries it) plus the `Space` factories a
 * user writes. A dimension is uniform, log-uniform, integer (optionally log-scaled or stepped) or
 * categorical, and is conditional when it names a parent dimension and the values that activate it:
 *
 *   space: {
 *     model: Space.categorical(['logistic', 'mlp']),
 *     learningRate: Space.logUniform(1e-4, 1e-1, { grid: 4 }),
 *     hidden: Space.categorical(['16', '32,16']).when('model', ['mlp']),
 *   }
 *
 * Grid search needs every active dimension finite: categorical, integer, or numeric with `grid` points.
 * Nothing here does I/O.
 */
import type { ParamValue } from '../component.ts';
import type { Issue } from '../../api/errors.ts';

export type DimensionSpec =
  | { readonly kind: 'uniform'; readonly low: number; readonly high: number; readonly grid?: number; readonly when?: WhenSpec }
  | { readonly kind: 'loguniform'; readonly low: number; readonly high: number; readonly grid?: number; readonly when?: WhenSpec }
  | { readonly kind: 'int'; readonly low: number; readonly high: number; readonly step?: number; readonly log?: boolean; readonly when?: WhenSpec }
  | { readonly kind: 'categorical'; readonly choices: readonly ParamValue[]; readonly when?: WhenSpec };

/** The dimension is active only when `param` (another dimension of the space) takes one of `in`. */
export interface WhenSpec {
  readonly param: string;
  readonly in: readonly ParamValue[];
}

export type SpaceSpec = Readonly<Record<string, DimensionSpec>>;

/** One dimension, as the user writes it; `.when(...)` makes it conditional. */
export class Dimension {
  private constructor(readonly spec: DimensionSpec) {}

  /** A float drawn uniformly from [low, high]. `grid`: points for grid search (evenly spaced, ends included). */
  static uniform(low: number, high: number, opts: { readonly grid?: number } = {}): Dimension {
    return new Dimension({ kind: 'uniform', low, high, ...(opts.grid !== undefined ? { grid: opts.grid } : {}) });
  }
  /** A positive float whose logarithm is uniform on [log low, log high] (learning rates, penalties). */
  static logUniform(low: number, high: number, opts: { readonly grid?: number } = {}): Dimension {
    return new Dimension({ kind: 'loguniform', low, high, ...(opts.grid !== undefined ? { grid: opts.grid } : {}) });
  }
  /** An integer in [low, high] (both included), every `step`th from low; `log` samples it on a log scale. */
  static int(low: number, high: number, opts: { readonly step?: number; readonly log?: boolean } = {}): Dimension {
    return new Dimension({ kind: 'int', low, high, ...(opts.step !== undefined ? { step: opts.step } : {}), ...(opts.log ? { log: true } : {}) });
  }
  /** One of the given values (strings, numbers, booleans, lists, objects: any param value). */
  static categorical(choices: readonly ParamValue[]): Dimension {
    return new Dimension({ kind: 'categorical', choices: [...choices] });
  }
  /** Active only when dimension `param` takes one of `values`; otherwise the task keeps its own value. */
  when(param: string, values: readonly ParamValue[]): Dimension {
    return new Dimension({ ...this.spec, when: { param, in: [...values] } });
  }
}

/** The factories, under the name users write: `Space.logUniform(1e-4, 1e-1)`. */
export const Space = Dimension;

const same = (a: ParamValue, b: ParamValue): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Every problem with a space, each naming the dimension and the fix. `grid`: also require a finite grid. */
export function spaceIssues(space: SpaceSpec, path: string, opts: { readonly grid?: boolean } = {}): Issue[] {
  const issues: Issue[] = [];
  const add = (name: string, message: string): void => void issues.push({ path, field: name ? `space.${name}` : 'space', message });
  const names = Object.keys(space);
  if (names.length === 0) add('', 'is empty; give at least one dimension, e.g. { learningRate: Space.logUniform(1e-4, 1e-1) }');
  for (const [name, d] of Object.entries(space)) {
    if (d.kind === 'categorical') {
      if (d.choices.length === 0) add(name, 'has no choices; give at least one value to Space.categorical([...])');
      else if (new Set(d.choices.map((c) => JSON.stringify(c))).size !== d.choices.length) add(name, 'lists a choice twice; give each value once');
    } else {
      const { low, high } = d;
      if (!Number.isFinite(low) || !Number.isFinite(high)) add(name, `has bounds ${low}..${high}; give finite numbers`);
      else if (!(low < high)) add(name, `has low ${low} not below high ${high}; give low < high (for one fixed value, leave it out of the space)`);
      if (d.kind === 'loguniform' && !(low > 0)) add(name, `is log-uniform from ${low}; a log scale needs low > 0 (e.g. 1e-5), or use Space.uniform`);
      if (d.kind === 'int') {
        if (!Number.isInteger(low) || !Number.isInteger(high)) add(name, `is an integer dimension with bounds ${low}..${high}; give whole numbers`);
        if (d.step !== undefined && (!Number.isInteger(d.step) || d.step < 1)) add(name, `has step ${d.step}; give a whole number, at least 1`);
        if (d.log && !(low > 0)) add(name, `samples on a log scale from ${low}; a log scale needs low >= 1`);
        if (d.log && d.step !== undefined && d.step !== 1) add(name, 'combines log with a step; use one of them');
      }
      if ((d.kind === 'uniform' || d.kind === 'loguniform') && d.grid !== undefined && (!Number.isInteger(d.grid) || d.grid < 2))
        add(name, `has grid ${d.grid}; give a whole number of grid points, at least 2`);
      if (opts.grid && (d.kind === 'uniform' || d.kind === 'loguniform') && d.grid === undefined)
        add(
          name,
          `is continuous, and grid search needs a finite grid; give its points, e.g. Space.${d.kind === 'uniform' ? 'uniform' : 'logUniform'}(${low}, ${high}, { grid: 4 }), or use Space.categorical([...])`,
        );
    }
    if (d.when) {
      const parent = space[d.when.param];
      if (!parent)
        add(
          name,
          `is conditional on '${d.when.param}', which is not a dimension of the space; use one of ${names.filter((n) => n !== name).join(', ') || '(none)'}`,
        );
      else if (d.when.param === name) add(name, 'is conditional on itself; name another dimension');
      else if (parent.kind !== 'categorical') add(name, `is conditional on '${d.when.param}', which is not categorical; condition on a categorical dimension`);
      else {
        const missing = d.when.in.filter((v) => !parent.choices.some((c) => same(c, v)));
        if (missing.length)
          add(
            name,
            `is conditional on '${d.when.param}' being ${JSON.stringify(missing)}, which it never is; use its choices ${JSON.stringify(parent.choices)}`,
          );
      }
    }
  }
  // A cycle of conditions would make no dimension active.
  for (const name of names) {
    const seen = new Set<string>();
    let cur: string | undefined = name;
    while (cur && space[cur]?.when) {
      if (seen.has(cur)) {
        add(name, `is part of a cycle of conditions (${[...seen].join(' → ')}); a dimension cannot depend on itself`);
        break;
      }
      seen.add(cur);
      cur = space[cur].when?.param;
    }
  }
  return issues;
}

/** The dimensions in an order where every parent comes before the dimensions conditional on it. */
export function dimensionOrder(space: SpaceSpec): string[] {
  const out: string[] = [];
  const visit = (n: string, depth: number): void => {
    if (out.includes(n) || depth > 64) return;
    const w = space[n].when;
    if (w && space[w.param]) visit(w.param, depth + 1);
    if (!out.includes(n)) out.push(n);
  };
  for (const n of Object.keys(space)) visit(n, 0);
  return out;
}

/** Whether a dimension is active given the values chosen so far for its parents. */
export function isActive(d: DimensionSpec, chosen: Readonly<Record<string, ParamValue>>): boolean {
  if (!d.when) return true;
  if (!(d.when.param in chosen)) return false;
  const v = chosen[d.when.param];
  return d.when.in.some((x) => same(x, v));
}

/** The finite points of a dimension for grid search (undefined for a continuous one without `grid`). */
export function gridValues(d: DimensionSpec): ParamValue[] | undefined {
  switch (d.kind) {
    case 'categorical':
      return [...d.choices];
    case 'int': {
      if (d.log) {
        const out: number[] = [];
        for (let v = d.low; v <= d.high; v++) out.push(v);
        return out;
      }
      const step = d.step ?? 1;
      const out: number[] = [];
      for (let v = d.low; v <= d.high; v += step) out.push(v);
      return out;
    }
    case 'uniform':
    case 'loguniform': {
      if (d.grid === undefined) return undefined;
      const n = d.grid;
      return Array.from({ length: n }, (_, i) => {
        const t = i / (n - 1);
        const v = d.kind === 'uniform' ? d.low + t * (d.high - d.low) : Math.exp(Math.log(d.low) + t * (Math.log(d.high) - Math.log(d.low)));
        return Number(v.toPrecision(12));
      });
    }
  }
}

/** Every grid point (only active dimensions set), in declaration order, the last dimension varying fastest. */
export function gridPoints(space: SpaceSpec): Record<string, ParamValue>[] {
  const order = dimensionOrder(space);
  let points: Record<string, ParamValue>[] = [{}];
  for (const name of order) {
    const d = space[name];
    const values = gridValues(d);
    if (!values) throw new Error(`space.${name}: grid search needs a finite grid`);
    const next: Record<string, ParamValue>[] = [];
    for (const p of points) {
      if (!isActive(d, p)) next.push(p);
      else for (const v of values) next.push({ ...p, [name]: v });
    }
    points = next;
  }
  // Declaration order of the user's keys, for a stable, readable sequence.
  const keys = Object.keys(space);
  const key = (p: Record<string, ParamValue>): string => JSON.stringify(keys.map((k) => (k in p ? p[k] : null)));
  const seen = new Set<string>();
  return points.filter((p) => (seen.has(key(p)) ? false : (seen.add(key(p)), true)));
}

/** The in-memory dataset: typed columns, the shape every component works on. */
export type ColumnType = 'numeric' | 'categorical' | 'boolean' | 'string';

export interface NumericColumn {
  readonly name: string;
  readonly type: 'numeric';
  /** NaN marks a missing value. */
  readonly values: Float64Array;
}
export interface BooleanColumn {
  readonly name: string;
  readonly type: 'boolean';
  /** 0 false, 1 true, 2 missing. */
  readonly values: Uint8Array;
}
export interface CategoricalColumn {
  readonly name: string;
  readonly type: 'categorical';
  readonly categories: readonly string[];
  /** Index into `categories`; -1 marks a missing value. */
  readonly codes: Int32Array;
}
export interface StringColumn {
  readonly name: string;
  readonly type: 'string';
  readonly values: readonly (string | null)[];
}
export type Column = NumericColumn | BooleanColumn | CategoricalColumn | StringColumn;

export interface Dataset {
  readonly rows: number;
  readonly columns: readonly Column[];
}

/** A cell as a plain JS value: number, boolean, string, or null when missing. */
export type Cell = number | boolean | string | null;

export const BOOLEAN_NULL = 2;

export class DatasetError extends Error {
  constructor(
    message: string,
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DatasetError';
  }
}

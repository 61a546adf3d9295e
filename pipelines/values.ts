/**
 * The typed values a pipeline passes around: parameters (`Param<T>`), task output parameters
 * (`OutputParam`), artifacts (`ArtifactRef<K>`), the current `parallelFor` item, secret references and
 * `when` conditions. Each knows how to turn itself into the IR (`ValueRef`, `ConditionSpec`, ...).
 */
import type { ArtifactKind, ParamValue } from '../components/component.ts';
import type { ComparisonOp, ConditionSpec, ParamType, ValueRef } from './spec.ts';

export interface ParamTypeMap {
  string: string;
  number: number;
  boolean: boolean;
  list: ParamValue[];
  json: ParamValue;
}

/** Something that owns values: a pipeline (for params) or a task (for outputs). */
export interface ValueOwner {
  readonly node: { readonly path: string };
}

type Comparable = ParamValue | Param<ParamValue> | OutputParam;

function toRef(v: Comparable): ValueRef {
  if (v instanceof Param || v instanceof OutputParam) return v.ref;
  return { kind: 'literal', value: v };
}

abstract class Operand {
  abstract readonly ref: ValueRef;
  /** Every task/pipeline the operand refers to (for dependency inference and checks). */
  abstract readonly owners: readonly ValueOwner[];
  private cmp(op: ComparisonOp, right: Comparable): Condition {
    const owners = [...this.owners];
    if (right instanceof Param || right instanceof OutputParam) owners.push(...right.owners);
    return new Condition({ left: this.ref, op, right: toRef(right) }, owners);
  }
  eq(v: Comparable): Condition {
    return this.cmp('==', v);
  }
  ne(v: Comparable): Condition {
    return this.cmp('!=', v);
  }
  gt(v: Comparable): Condition {
    return this.cmp('>', v);
  }
  ge(v: Comparable): Condition {
    return this.cmp('>=', v);
  }
  lt(v: Comparable): Condition {
    return this.cmp('<', v);
  }
  le(v: Comparable): Condition {
    return this.cmp('<=', v);
  }
}

/** A pipeline parameter of type T. Create with `pipeline.param(name, { type })`. */
export class Param<T extends ParamValue = ParamValue> extends Operand {
  /** Phantom field carrying T for the type checker. */
  declare readonly __type?: T;
  constructor(
    readonly pipeline: ValueOwner,
    readonly name: string,
    readonly type: ParamType,
  ) {
    super();
  }
  get ref(): ValueRef {
    return { kind: 'param', name: this.name };
  }
  get owners(): readonly ValueOwner[] {
    return [this.pipeline];
  }
  override toString(): string {
    return `param '${this.name}'`;
  }
}

/** An output parameter of a task (a small JSON value such as a gate's verdict). */
export class OutputParam<T extends ParamValue = ParamValue> extends Operand {
  declare readonly __type?: T;
  constructor(
    readonly task: ValueOwner & { readonly name: string },
    readonly name: string,
  ) {
    super();
  }
  get ref(): ValueRef {
    return { kind: 'taskOutput', task: this.task.name, output: this.name };
  }
  get owners(): readonly ValueOwner[] {
    return [this.task];
  }
  override toString(): string {
    return `${this.task.name}.outputParams.${this.name}`;
  }
}

/** The current item of the task's own `parallelFor` (or one field of an object item). */
export class Item {
  private constructor(readonly field?: string) {}
  static value(): Item {
    return new Item();
  }
  static field(name: string): Item {
    return new Item(name);
  }
  get ref(): ValueRef {
    return this.field === undefined ? { kind: 'item' } : { kind: 'item', field: this.field };
  }
}

/** A `when` condition. Build with `task.outputParam('passed').eq(true)`. */
export class Condition {
  constructor(
    readonly spec: ConditionSpec,
    readonly owners: readonly ValueOwner[],
  ) {}
}

/** The declaration of an output artifact of a task. */
export class ArtifactDecl<K extends ArtifactKind = ArtifactKind> {
  private constructor(
    readonly kind: K,
    readonly description?: string,
  ) {}
  static dataset(description?: string): ArtifactDecl<'dataset'> {
    return new ArtifactDecl('dataset', description);
  }
  static model(description?: string): ArtifactDecl<'model'> {
    return new ArtifactDecl('model', description);
  }
  static metrics(description?: string): ArtifactDecl<'metrics'> {
    return new ArtifactDecl('metrics', description);
  }
  static file(description?: string): ArtifactDecl<'file'> {
    return new ArtifactDecl('file', description);
  }
}
export const Artifact = ArtifactDecl;

/** A produced artifact: the output `name` (of kind K) of a task. Pass it as another task's input. */
export class ArtifactRef<K extends ArtifactKind = ArtifactKind> {
  constructor(
    readonly task: ValueOwner & { readonly name: string },
    readonly name: string,
    readonly kind: K,
  ) {}
  toString(): string {
    return `${this.task.name}.outputs.${this.name} (${this.kind})`;
  }
}

/** A secret, passed by reference only: the value never appears in the synthesized YAML. */
export class SecretRef {
  private constructor(
    readonly name: string,
    readonly key: string,
  ) {}
  /** The key `key` of the Kubernetes Secret `name` (in the pipeline's namespace). */
  static fromSecret(name: string, key: string): SecretRef {
    return new SecretRef(name, key);
  }
}
export const Secret = SecretRef;

/** A task parameter value: a literal, a pipeline param, an upstream output param or the loop item. */
export type ValueInput = ParamValue | Param<ParamValue> | OutputParam | Item;

/** Fan-out: one task instance per item of a list (Argo `withParam`). */
export class ParallelFor {
  private constructor(
    readonly items: ParamValue[] | Param<ParamValue[]> | Param<ParamValue> | OutputParam,
    readonly parallelism?: number,
  ) {}
  /** Over a literal list, a list param, or an upstream output param holding a JSON list. */
  static over(items: ParamValue[] | Param<ParamValue[]> | Param<ParamValue> | OutputParam, opts: { parallelism?: number } = {}): ParallelFor {
    if (opts.parallelism !== undefined && (!Number.isInteger(opts.parallelism) || opts.parallelism < 1)) {
      throw new Error(`parallelFor parallelism ${opts.parallelism} must be a whole number >= 1`);
    }
    if (Array.isArray(items) && items.length === 0) throw new Error('parallelFor over an empty list runs nothing; give at least one item');
    return new ParallelFor(items, opts.parallelism);
  }
  get ref(): ValueRef {
    return Array.isArray(this.items) ? { kind: 'literal', value: this.items } : this.items.ref;
  }
  get owners(): readonly ValueOwner[] {
    return Array.isArray(this.items) ? [] : this.items.owners;
  }
}

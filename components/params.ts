/**
 * Typed readers for a component's params, inputs and outputs. Errors name the component and the
 * param and say what to write instead. Params may arrive as JSON values (local engine) or as
 * strings (container command line, `--param k=v`), so numbers, booleans and JSON are parsed from
 * strings too.
 */
import type { ComponentContext, ParamDecl, ParamValue } from './component.ts';
import { TerminalFailure, type FailureReason } from '../api/failure.ts';

/** A param value (or a required input) that is wrong as given: terminal, retrying cannot change it (api/failure.ts). */
export class ParamError extends TerminalFailure {
  constructor(message: string, reason: FailureReason = 'InvalidParam') {
    super(reason, message);
    this.name = 'ParamError';
  }
}

export class Params {
  /** With `declared` (the component's `params`), reading a param that is not declared is a bug in the component, and throws. */
  constructor(
    private readonly component: string,
    private readonly ctx: Pick<ComponentContext, 'params' | 'inputs' | 'outputs'>,
    private readonly declared?: Readonly<Record<string, ParamDecl>>,
  ) {}

  private raw(name: string): ParamValue | undefined {
    if (this.declared && !Object.hasOwn(this.declared, name) && !name.startsWith('ghosteam.'))
      throw new Error(
        `${this.component} reads param '${name}', which its params declaration lacks; add it to the component's params (built-ins: components/param-decls.ts)`,
      );
    const v = this.ctx.params[name];
    return v === undefined || v === null || v === '' ? undefined : v;
  }

  private fail(name: string, want: string, got: unknown): never {
    throw new ParamError(`${this.component}: param '${name}' must be ${want}, got ${JSON.stringify(got)}`);
  }

  has(name: string): boolean {
    return this.raw(name) !== undefined;
  }

  string(name: string): string;
  string(name: string, def: string): string;
  string(name: string, def: undefined): string | undefined;
  string(name: string, ...def: [string?]): string | undefined {
    const v = this.raw(name);
    if (v === undefined) {
      if (def.length) return def[0];
      throw new ParamError(`${this.component}: param '${name}' is required`);
    }
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return this.fail(name, 'a string', v);
  }

  oneOf<T extends string>(name: string, choices: readonly T[], def: T): T {
    const v = this.string(name, def);
    if (!(choices as readonly string[]).includes(v))
      throw new ParamError(`${this.component}: param '${name}' must be one of ${choices.join(', ')}, got '${v}'`);
    return v as T;
  }

  number(name: string, def?: number, range: { min?: number; max?: number; integer?: boolean } = {}): number {
    const v = this.raw(name);
    let n: number;
    if (v === undefined) {
      if (def === undefined) throw new ParamError(`${this.component}: param '${name}' is required`);
      n = def;
    } else if (typeof v === 'number') n = v;
    else if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) n = Number(v);
    else return this.fail(name, 'a number', v);
    const want = [range.integer ? 'an integer' : 'a number', range.min !== undefined ? `>= ${range.min}` : '', range.max !== undefined ? `<= ${range.max}` : '']
      .filter(Boolean)
      .join(' ');
    if ((range.integer && !Number.isInteger(n)) || (range.min !== undefined && n < range.min) || (range.max !== undefined && n > range.max))
      this.fail(name, want, n);
    return n;
  }

  boolean(name: string, def: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined) return def;
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    return this.fail(name, 'true or false', v);
  }

  /** A JSON value: given as JSON directly, or as a string holding JSON. */
  json<T = ParamValue>(name: string, def?: T): T {
    const v = this.raw(name);
    if (v === undefined) {
      if (def === undefined) throw new ParamError(`${this.component}: param '${name}' is required`);
      return def;
    }
    if (typeof v === 'string') {
      try {
        return JSON.parse(v) as T;
      } catch {
        return this.fail(name, 'JSON', v);
      }
    }
    return v as T;
  }

  /** A list of strings: a JSON array, or a comma-separated string. */
  list(name: string, def?: string[]): string[] {
    const v = this.raw(name);
    if (v === undefined) {
      if (def === undefined) throw new ParamError(`${this.component}: param '${name}' is required`);
      return def;
    }
    if (Array.isArray(v)) return v.map(String);
    if (typeof v === 'string') {
      const s = v.trim();
      if (s.startsWith('[')) {
        const a = this.json<unknown>(name);
        if (Array.isArray(a)) return a.map(String);
      }
      return s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
    }
    return this.fail(name, 'a list', v);
  }

  input(name: string): string {
    const p = this.ctx.inputs[name];
    if (!p) throw new ParamError(`${this.component}: input artifact '${name}' is missing; connect it to an upstream task's output`, 'MissingInput');
    return p;
  }

  optionalInput(name: string): string | undefined {
    return this.ctx.inputs[name] || undefined;
  }

  output(name: string): string {
    const p = this.ctx.outputs[name];
    if (!p) throw new ParamError(`${this.component}: no path given for output artifact '${name}'`);
    return p;
  }
}

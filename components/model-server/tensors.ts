/**
 * Pure tensor plumbing between Open Inference Protocol JSON and onnxruntime: datatype mapping,
 * validation of request inputs against a model's signature (with messages that say what was
 * wrong), conversion to typed arrays, and JSON encoding of outputs. No I/O here.
 */

/**
 * Open Inference Protocol datatypes the server carries, over JSON and the binary extension. FP16
 * travels as JSON numbers (rounded to the nearest half, as numpy does) and as IEEE half bits in a
 * Uint16Array, which is what onnxruntime-node 1.30's float16 Tensor holds on Node 20 (no
 * Float16Array). BF16 travels as JSON numbers rounded to the nearest bfloat16 and is held as a
 * Float32Array of those exact values: onnxruntime-node 1.30 has no bfloat16 Tensor (nor can it
 * load a model with bfloat16 inputs or outputs), so models.ts loads such a model with float32
 * Casts at its edges; the binary form is the top 16 bits of each float32.
 */
export type OipDatatype =
  'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'FP16' | 'BF16' | 'FP32' | 'FP64' | 'BYTES';

/** onnxruntime tensor type names. */
export type OrtType = 'bool' | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'int8' | 'int16' | 'int32' | 'int64' | 'float16' | 'float32' | 'float64' | 'string';

const ORT_TO_OIP: Record<string, OipDatatype> = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  string: 'BYTES',
};
const OIP_TO_ORT: Record<OipDatatype, OrtType> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  BF16: 'float32',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

// ---------- 16-bit floats (pure) ----------
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** Largest finite bfloat16 (0x7f7f). */
export const BF16_MAX = 3.3895313892515355e38;

/** Largest finite half. Values at or past 65520 round to infinity, so they are refused on input. */
export const FP16_MAX = 65504;

/** A number → IEEE 754 half bits, rounding to nearest even (as numpy's astype(float16)). */
export function toHalfBits(v: number): number {
  // Rounds the double directly (no float32 step, which could round twice), as numpy does for float64.
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -25) return sign; // rounds to ±0 (2^-25 is half the smallest subnormal; ties go to even = 0)
  if (a < 2 ** -14) {
    // subnormal: value = m * 2^-24, m in [0, 1023]
    return sign | roundHalfEven(a * 2 ** 24);
  }
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a)
    e--; // log2 rounding at powers of two
  else if (2 ** (e + 1) <= a) e++;
  const m = roundHalfEven((a / 2 ** e - 1) * 1024); // 0..1024
  if (m === 1024) e++;
  const bits = ((e + 15) << 10) | (m === 1024 ? 0 : m);
  return sign | bits;
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** IEEE 754 half bits → number. */
export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** bfloat16 bits (the top half of a float32, rounded to nearest even) ↔ number. For the binary form and tests. */
export function toBf16Bits(v: number): number {
  F32[0] = v;
  const u = U32[0];
  if (Number.isNaN(v)) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
export function fromBf16Bits(b: number): number {
  U32[0] = (b & 0xffff) << 16;
  return F32[0];
}

const INT_RANGE: Partial<Record<OipDatatype, [number, number]>> = {
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
};

export function oipDatatypeOf(ortType: string): OipDatatype | undefined {
  return ORT_TO_OIP[ortType];
}
export function ortTypeOf(dt: OipDatatype): OrtType {
  return OIP_TO_ORT[dt];
}
export const OIP_DATATYPES: readonly string[] = Object.keys(OIP_TO_ORT);

/** One input or output of a model: name, datatype and shape (-1 for a symbolic/variable dim). */
export interface TensorSpec {
  readonly name: string;
  readonly datatype: OipDatatype;
  readonly shape: readonly number[];
  /**
   * For an output the model declares as a ZipMap's seq(map): the class label of each column of
   * the [N, classes] tensor the server answers with (graph.ts).
   */
  readonly parameters?: { readonly labels: readonly (string | number)[] };
}

export type TypedData =
  Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array | BigInt64Array | BigUint64Array | string[];

/** Data decoded from a binary tensor (binary.ts): a typed array (a DataView never comes from there). */
function isTypedArray(x: unknown): x is Exclude<TypedData, string[]> {
  return ArrayBuffer.isView(x) && !(x instanceof DataView);
}

/** A validated input ready for onnxruntime. `json` keeps the flat JSON values (or, from binary, the typed data) for payload logging. */
export interface DecodedTensor {
  readonly name: string;
  readonly datatype: OipDatatype;
  readonly shape: number[];
  readonly typed: TypedData;
  readonly json: readonly unknown[] | TypedData;
}

/** A client mistake: becomes a 4xx `{"error": message}`. */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Fields answered next to `error` (counts of what was and wasn't taken). */
    readonly detail?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}
function bad(m: string): RequestError {
  return new RequestError(400, m);
}
const INT_CTORS = { UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, INT8: Int8Array, INT16: Int16Array, INT32: Int32Array };

function flatten(data: unknown[], out: unknown[], depth: number): void {
  if (depth > 32) throw bad('data nests arrays more than 32 levels deep');
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (Array.isArray(v)) flatten(v, out, depth + 1);
    else out.push(v);
  }
}

function isNested(data: unknown[]): boolean {
  for (let i = 0; i < data.length; i++) if (Array.isArray(data[i])) return true;
  return false;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v);
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object';
  return String(v);
}

/** onnxruntime-node passes strings to the session as C strings: everything after a NUL would be silently lost. */
export const NUL_FREE = 'a string without NUL characters (onnxruntime string tensors end at NUL)';

// Hot path: no closures here. tsx (esbuild keepNames) wraps every named closure in a __name() call
// per creation, which showed up as ~4% of server CPU in a profile.
function elemError(where: string, dt: OipDatatype, flat: unknown[], i: number, want: string): RequestError {
  const nullNote = flat[i] === null ? ' (null means a missing value only for FP16, BF16, FP32 and FP64 inputs)' : '';
  return bad(`${where}: data[${i}] is ${describe(flat[i])}; expected ${want} for datatype ${dt}${nullNote}`);
}

function checkInt(where: string, dt: OipDatatype, flat: unknown[], i: number, lo: number, hi: number): number {
  const v = flat[i];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw elemError(where, dt, flat, i, `an integer in [${lo}, ${hi}]`);
  return v;
}

function typedFrom(dt: OipDatatype, flat: unknown[], where: string): TypedData {
  const n = flat.length;
  switch (dt) {
    case 'FP32':
    case 'FP64': {
      const out = dt === 'FP32' ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const v = flat[i];
        if (typeof v === 'number') out[i] = v;
        else if (v === null)
          out[i] = NaN; // a missing value, as XGBoost/LightGBM/sklearn imputers read NaN
        else throw elemError(where, dt, flat, i, 'a number (or null for a missing value)');
      }
      return out;
    }
    case 'FP16': {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) {
        const v = flat[i];
        if (v === null) {
          out[i] = 0x7e00;
          continue;
        }
        if (typeof v !== 'number') throw elemError(where, dt, flat, i, 'a number (or null for a missing value)');
        if (v >= 65520 || v <= -65520)
          throw bad(`${where}: data[${i}] is ${v}, beyond FP16's largest finite value ±${FP16_MAX}; scale it or use a model with an FP32 input`);
        out[i] = toHalfBits(v);
      }
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const v = flat[i];
        if (v === null) {
          out[i] = NaN;
          continue;
        }
        if (typeof v !== 'number') throw elemError(where, dt, flat, i, 'a number (or null for a missing value)');
        const b = toBf16Bits(v);
        if ((b & 0x7f80) === 0x7f80) throw bad(`${where}: data[${i}] is ${v}, beyond BF16's largest finite value ±${BF16_MAX}; scale it`);
        out[i] = fromBf16Bits(b);
      }
      return out;
    }
    case 'BOOL': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = flat[i];
        if (typeof v !== 'boolean') throw elemError(where, dt, flat, i, 'true or false');
        out[i] = v ? 1 : 0;
      }
      return out;
    }
    case 'BYTES': {
      const out: string[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const v = flat[i];
        if (typeof v !== 'string') throw elemError(where, dt, flat, i, 'a string');
        if (v.includes('\0')) throw elemError(where, dt, flat, i, NUL_FREE);
        out[i] = v;
      }
      return out;
    }
    case 'INT64':
    case 'UINT64': {
      const [lo, hi] = INT_RANGE[dt]!;
      const out = dt === 'INT64' ? new BigInt64Array(n) : new BigUint64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt(checkInt(where, dt, flat, i, lo, hi));
      return out;
    }
    default: {
      const [lo, hi] = INT_RANGE[dt]!;
      const out = new INT_CTORS[dt](n);
      for (let i = 0; i < n; i++) out[i] = checkInt(where, dt, flat, i, lo, hi);
      return out;
    }
  }
}

/**
 * Validates one OIP request input against the model's input spec and converts it.
 * `where` names it in errors, e.g. `input 'input'`.
 */
export function decodeInput(raw: unknown, spec: TensorSpec, index: number): DecodedTensor {
  const where = `inputs[${index}] ('${spec.name}')`;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw bad(`inputs[${index}] must be an object with name, shape, datatype and data`);
  const r = raw as { name?: unknown; shape?: unknown; datatype?: unknown; data?: unknown };
  if (r.datatype !== spec.datatype) {
    if (typeof r.datatype !== 'string') throw bad(`${where}: datatype is missing; expected "${spec.datatype}"`);
    throw bad(`${where}: datatype is "${r.datatype}"; the model expects "${spec.datatype}"`);
  }
  const shape = r.shape;
  if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
    throw bad(`${where}: shape must be an array of non-negative integers, e.g. [1, ${spec.shape.slice(1).join(', ') || 1}]`);
  }
  if (shape.length !== spec.shape.length || shape.some((d, i) => spec.shape[i] !== -1 && spec.shape[i] !== d)) {
    throw bad(`${where}: shape is [${shape.join(', ')}]; the model expects [${spec.shape.join(', ')}] (-1 = any size)`);
  }
  let size = 1;
  for (const d of shape as number[]) size *= d;
  if (size > 1 << 26) throw bad(`${where}: shape [${shape.join(', ')}] holds ${size} elements; the limit is ${1 << 26}`);
  if (isTypedArray(r.data)) {
    // Already typed (binary tensor extension, see binary.ts).
    const typed = r.data;
    if (typed.length !== size) throw bad(`${where}: binary data has ${typed.length} elements; shape [${shape.join(', ')}] needs ${size}`);
    // As onnxruntime gets it (FP16: half bits); toPlain makes numbers only when a payload is logged.
    return { name: spec.name, datatype: spec.datatype, shape: shape as number[], typed, json: typed };
  }
  if (!Array.isArray(r.data)) throw bad(`${where}: data must be an array (row-major, flat or nested)`);
  let flat = r.data as unknown[];
  if (isNested(flat)) {
    const out: unknown[] = [];
    flatten(flat, out, 0);
    flat = out;
  }
  if (flat.length !== size) throw bad(`${where}: data has ${flat.length} elements; shape [${shape.join(', ')}] needs ${size}`);
  return { name: spec.name, datatype: spec.datatype, shape: shape as number[], typed: typedFrom(spec.datatype, flat, where), json: flat };
}

/**
 * Validates the `inputs` of an OIP request against the model's inputs: every model input present
 * once, no unknown names; returns them in the model's order.
 */
export function decodeInputs(inputs: unknown, specs: readonly TensorSpec[]): DecodedTensor[] {
  if (!Array.isArray(inputs)) throw bad(`'inputs' must be an array of tensors; the model expects ${specs.map((s) => `'${s.name}'`).join(', ')}`);
  const out: DecodedTensor[] = new Array(specs.length);
  const seen = new Set<string>();
  for (let i = 0; i < inputs.length; i++) {
    const name = (inputs[i] as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') throw bad(`inputs[${i}].name must be a string`);
    const j = specs.findIndex((s) => s.name === name);
    if (j < 0) throw bad(`inputs[${i}]: the model has no input named '${name}'; its inputs are ${specs.map((s) => `'${s.name}'`).join(', ')}`);
    if (seen.has(name)) throw bad(`inputs[${i}]: input '${name}' is given twice`);
    seen.add(name);
    out[j] = decodeInput(inputs[i], specs[j], i);
  }
  const missing = specs.filter((s) => !seen.has(s.name));
  if (missing.length)
    throw bad(
      `missing input ${missing.map((s) => `'${s.name}'`).join(', ')}; the model expects ${specs.map((s) => `'${s.name}' ${s.datatype} [${s.shape.join(', ')}]`).join(', ')}`,
    );
  return out;
}

/**
 * Resolves the OIP `outputs` field (requested outputs) to output names. Absent = all outputs. A name
 * asked for twice is refused: each would be encoded again, so a small request could ask for an
 * answer thousands of times the model's output.
 */
export function selectOutputs(requested: unknown, specs: readonly TensorSpec[]): string[] {
  if (requested === undefined || requested === null) return specs.map((s) => s.name);
  if (!Array.isArray(requested))
    throw bad(`'outputs' must be an array of {"name": ...}; the model's outputs are ${specs.map((s) => `'${s.name}'`).join(', ')}`);
  const names: string[] = [];
  for (let i = 0; i < requested.length; i++) {
    const name = (requested[i] as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') throw bad(`outputs[${i}].name must be a string`);
    if (!specs.some((s) => s.name === name))
      throw bad(`outputs[${i}]: the model has no output named '${name}'; its outputs are ${specs.map((s) => `'${s.name}'`).join(', ')}`);
    if (names.includes(name)) throw bad(`outputs[${i}]: output '${name}' is requested twice; name each output once`);
    names.push(name);
  }
  return names;
}

/**
 * A typed array's values as JSON array text (no intermediate arrays), or undefined as soon as the
 * text would pass `maxChars` (so an oversized answer is never built).
 */
export function jsonArrayText(data: ArrayLike<unknown> | TypedData, datatype: OipDatatype): string;
export function jsonArrayText(data: ArrayLike<unknown> | TypedData, datatype: OipDatatype, maxChars: number): string | undefined;
export function jsonArrayText(data: ArrayLike<unknown> | TypedData, datatype: OipDatatype, maxChars = Infinity): string | undefined {
  const n = data.length;
  if (n === 0) return '[]';
  let s = '[';
  if (datatype === 'BYTES') {
    for (let i = 0; i < n; i++) {
      s += (i ? ',' : '') + JSON.stringify((data as ArrayLike<unknown>)[i]);
      if (s.length > maxChars) return undefined;
    }
  } else if (datatype === 'BOOL') {
    for (let i = 0; i < n; i++) {
      s += (i ? ',' : '') + ((data as ArrayLike<unknown>)[i] ? 'true' : 'false');
      if (s.length > maxChars) return undefined;
    }
  } else {
    const half = datatype === 'FP16';
    for (let i = 0; i < n; i++) {
      const raw = (data as ArrayLike<number | bigint>)[i];
      const v = half ? fromHalfBits(raw as number) : Number(raw);
      // JSON has no NaN/Infinity; a model can still produce them. Encode as null rather than break the body.
      s += (i ? ',' : '') + (Number.isFinite(v) ? String(v) : 'null');
      if (s.length > maxChars) return undefined;
    }
  }
  return s.length + 1 > maxChars ? undefined : s + ']';
}

/** Converts onnxruntime output data to plain JSON-able values (for payload logs and V1 predictions). */
export function toPlain(data: ArrayLike<unknown>, datatype: OipDatatype): unknown[] {
  const out = new Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    out[i] = datatype === 'BOOL' ? Boolean(v) : datatype === 'FP16' ? fromHalfBits(v as number) : typeof v === 'bigint' ? Number(v) : v;
  }
  return out;
}

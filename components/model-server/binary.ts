/**
 * The binary tensor data extension of the KServe V2 / Triton HTTP protocol (what tritonclient uses
 * by default): the body is a JSON header of `Inference-Header-Content-Length` bytes followed by raw
 * little-endian tensor bytes, one block per input with `parameters.binary_data_size`. BYTES tensors
 * are a sequence of 4-byte little-endian lengths each followed by that many bytes; FP16 blocks are
 * IEEE half bits, kept as a Uint16Array (onnxruntime-node's float16 form). Pure; no I/O.
 */
import { RequestError, NUL_FREE, fromBf16Bits, toBf16Bits, type OipDatatype, type TensorSpec, type TypedData } from './tensors.ts';

/** Bytes per element of each fixed-size datatype in the binary tensor extension. */
export const ELEM_BYTES: Record<Exclude<OipDatatype, 'BYTES'>, number> = {
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  FP16: 2,
  BF16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
};
const CTORS = {
  BF16: Float32Array, // never used to view bytes (see decodeBinary); Float32Array holds the values
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  INT8: Int8Array,
  UINT16: Uint16Array,
  INT16: Int16Array,
  FP16: Uint16Array,
  UINT32: Uint32Array,
  INT32: Int32Array,
  FP32: Float32Array,
  UINT64: BigUint64Array,
  INT64: BigInt64Array,
  FP64: Float64Array,
} as const;

const bad = (m: string): RequestError => new RequestError(400, m);

/** Splits a binary-extension body into its JSON header and the raw bytes after it. */
export function splitBinaryBody(buf: Buffer, headerLength: string): { json: Buffer; binary: Buffer } {
  const n = Number(headerLength);
  if (!Number.isInteger(n) || n <= 0 || n > buf.length) {
    throw bad(
      `Inference-Header-Content-Length is ${JSON.stringify(headerLength)}; it must be the byte length of the JSON header, between 1 and the body size (${buf.length})`,
    );
  }
  return { json: buf.subarray(0, n), binary: buf.subarray(n) };
}

/**
 * Replaces `binary_data_size` inputs' data with typed arrays cut from `binary`, in request order.
 * Returns the rewritten inputs (JSON inputs untouched) for decodeInputs to validate.
 */
export function attachBinaryInputs(inputs: unknown, binary: Buffer, specs: readonly TensorSpec[]): unknown {
  if (!Array.isArray(inputs)) return inputs;
  let off = 0;
  const out = inputs.map((raw, i) => {
    const r = raw as { name?: unknown; shape?: unknown; datatype?: unknown; parameters?: { binary_data_size?: unknown } } | null;
    const size = r?.parameters?.binary_data_size;
    if (size === undefined) return raw;
    if (!Number.isInteger(size) || (size as number) < 0) throw bad(`inputs[${i}].parameters.binary_data_size must be a non-negative integer`);
    const n = size as number;
    if (off + n > binary.length) throw bad(`inputs[${i}]: binary_data_size ${n} runs past the end of the body (${binary.length - off} bytes left)`);
    const bytes = binary.subarray(off, off + n);
    off += n;
    const spec = specs.find((s) => s.name === r!.name);
    const dt = (spec?.datatype ?? r!.datatype) as OipDatatype;
    if (r!.datatype !== dt) return { ...r, data: [] }; // decodeInputs reports the datatype mismatch
    return { ...r, data: decodeBinary(bytes, dt, `inputs[${i}] ('${String(r!.name)}')`) };
  });
  if (off !== binary.length) throw bad(`the body has ${binary.length - off} bytes of binary data that no input's binary_data_size accounts for`);
  return out;
}

/** Raw little-endian bytes → a typed array (copied, so it is aligned), or strings for BYTES. */
export function decodeBinary(bytes: Buffer, dt: OipDatatype, where: string): TypedData {
  if (dt === 'BYTES') {
    const out: string[] = [];
    let o = 0;
    while (o < bytes.length) {
      if (o + 4 > bytes.length) throw bad(`${where}: BYTES data ends inside a 4-byte length prefix`);
      const len = bytes.readUInt32LE(o);
      o += 4;
      if (o + len > bytes.length) throw bad(`${where}: a BYTES element of ${len} bytes runs past its binary_data_size`);
      if (bytes.subarray(o, o + len).includes(0)) throw bad(`${where}: BYTES element ${out.length} contains a NUL byte; expected ${NUL_FREE}`);
      out.push(bytes.toString('utf8', o, o + len));
      o += len;
    }
    return out;
  }
  const size = ELEM_BYTES[dt];
  if (bytes.length % size !== 0) throw bad(`${where}: binary_data_size ${bytes.length} is not a multiple of ${size} bytes (${dt})`);
  if (dt === 'BF16') {
    // bfloat16 → float32 is exact: the bits are the float32's top half.
    const out = new Float32Array(bytes.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = fromBf16Bits(bytes.readUInt16LE(i * 2));
    return out;
  }
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  // CTORS maps each datatype to its typed-array class; TypeScript has no common constructor type for them.
  const Ctor = CTORS[dt] as unknown as new (b: ArrayBuffer, o: number, n: number) => Exclude<TypedData, string[]>;
  const typed = new Ctor(copy.buffer, 0, bytes.length / size);
  if (dt === 'BOOL')
    for (let i = 0; i < typed.length; i++)
      if ((typed as Uint8Array)[i] > 1) throw bad(`${where}: BOOL byte ${i} is ${(typed as Uint8Array)[i]}; expected 0 or 1`);
  return typed;
}

/** A tensor's bytes for a binary response block. */
export function encodeBinary(data: ArrayLike<unknown>, dt: OipDatatype): Buffer {
  if (dt === 'BYTES') {
    const parts: Buffer[] = [];
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      const b = Buffer.from(typeof v === 'string' ? v : v instanceof Uint8Array ? v : String(v));
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      parts.push(len, b);
    }
    return Buffer.concat(parts);
  }
  if (dt === 'BF16') {
    const out = Buffer.alloc(data.length * 2);
    for (let i = 0; i < data.length; i++) out.writeUInt16LE(toBf16Bits(Number(data[i])), i * 2);
    return out;
  }
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  // As above: every typed-array class has a static from(); their types share no signature.
  const Ctor = CTORS[dt] as unknown as { from(a: ArrayLike<unknown>): ArrayBufferView };
  const t = Ctor.from(dt === 'BOOL' ? Array.from(data, (x) => (x ? 1 : 0)) : data);
  return Buffer.from(t.buffer, t.byteOffset, t.byteLength);
}

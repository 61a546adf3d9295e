/**
 * FP16 conversion keeping FP32 inputs and outputs (onnxconverter-common's
 * `convert_float_to_float16(model, keep_io_types=True)`, in TypeScript): float32 weights become
 * float16, the ops between them compute in float16, and `Cast` nodes sit where a float32 tensor
 * meets a float16 op (the graph inputs) or a float16 tensor meets an op that stays float32 (the
 * graph outputs, and ops on the block list).
 *
 * Which ops stay float32: every op outside the ai.onnx domain (ai.onnx.ml's trees, ZipMap, scalers
 * … take float or double only), onnxconverter-common's default block list (ops whose float16
 * results are poor or that take float attributes as data: Resize, Range, TopK, CumSum, NMS …), ops
 * with subgraphs, and any node named in `blockNodes` (the optimizer adds those onnxruntime's CPU
 * provider has no float16 kernel for, so the model still loads on CPU).
 *
 * Weights are rounded to the nearest float16 (ties to even); finite values past float16's range
 * (±65504) are clamped to it rather than becoming infinities, and counted in `clamped`.
 *
 * Pure: a ModelProto and the tensor types (from onnxruntime, see types.ts) in, rewritten in place.
 */
import { FP16_MAX, toHalfBits } from '../model-server/tensors.ts';
import { OptimizeError } from './int8.ts';
import { DT, dimsOf, floatsOf, freshNamer, halfTensor, intAttr, isOnnxDomain, makeIntAttr, makeNode, subgraphNode, type IModel, type INode } from './proto.ts';

/** onnxconverter-common's DEFAULT_OP_BLOCK_LIST, the ai.onnx part (every ai.onnx.ml op is kept float32 anyway). */
export const FP16_BLOCKED_OPS: ReadonlySet<string> = new Set([
  'RandomUniformLike',
  'NonMaxSuppression',
  'TopK',
  'RoiAlign',
  'Resize',
  'Range',
  'CumSum',
  'Min',
  'Max',
  'Upsample',
  // Ops whose output type comes from an attribute, not from their inputs.
  'RandomNormal',
  'RandomUniform',
  'RandomNormalLike',
  'EyeLike',
  'ConstantOfShape',
  'Multinomial',
  'Bernoulli',
  // Quantization ops compute with float32 scales.
  'DynamicQuantizeLinear',
  'QuantizeLinear',
  'DequantizeLinear',
]);

/** Ops that take any element type: a float16 input needs no Cast back. */
const ANY_INPUT: ReadonlySet<string> = new Set(['Cast', 'Shape', 'Size']);

export interface Fp16Result {
  /** Nodes now computing in float16. */
  readonly converted: number;
  /** Nodes kept in float32 that touch float tensors, and why. */
  readonly kept: { node: string; op: string; reason: string }[];
  /** Cast nodes added. */
  readonly casts: number;
  /** Weights clamped to ±65504. */
  readonly clamped: number;
}

export function toFloat16(m: IModel, types: ReadonlyMap<string, string>, opts: { blockNodes?: ReadonlyMap<string, string> } = {}): Fp16Result {
  const g = m.graph!;
  const sub = subgraphNode(g);
  if (sub)
    throw new OptimizeError(
      `FP16: node '${sub.name}' (${sub.opType}) has a subgraph; FP16 conversion handles graphs without control flow only (optimize without --fp16)`,
    );
  const fresh = freshNamer(g);
  const isF32 = (s: string) => !!s && types.get(s) === 'float32';
  const kept: Fp16Result['kept'] = [];
  const keepReason = (n: INode): string | undefined => {
    if (!isOnnxDomain(n)) return `${n.domain} op`;
    const blocked = opts.blockNodes?.get(n.name ?? '');
    if (blocked) return blocked;
    if (n.opType === 'Cast') return intAttr(n, 'to', 0) === DT.FLOAT ? undefined : 'casts to another type';
    if (FP16_BLOCKED_OPS.has(n.opType!)) return 'on the FP16 block list';
    return undefined;
  };
  const nodes = g.node ?? [];
  const converted = new Set<INode>();
  for (const n of nodes) {
    const touches = [...(n.input ?? []), ...(n.output ?? [])].some(isF32);
    if (!touches) continue;
    const why = keepReason(n);
    if (why) kept.push({ node: n.name ?? '', op: n.opType ?? '', reason: why });
    else converted.add(n);
  }

  // Where each float32 tensor lives after conversion: 16 = stored/produced as float16.
  const home = new Map<string, 16 | 32>();
  for (const v of g.input ?? []) home.set(String(v.name), 32);
  const consumers = new Map<string, INode[]>();
  for (const n of nodes) for (const s of n.input ?? []) if (s) consumers.set(s, [...(consumers.get(s) ?? []), n]);
  const graphOutputs = new Set((g.output ?? []).map((v) => String(v.name)));
  let clamped = 0;
  for (const t of g.initializer ?? []) {
    const name = String(t.name);
    if (t.dataType !== DT.FLOAT || home.has(name)) continue;
    const users = consumers.get(name) ?? [];
    const allHalf = users.length > 0 && users.every((n) => converted.has(n)) && !graphOutputs.has(name);
    home.set(name, allHalf ? 16 : 32);
    if (!allHalf) continue;
    const f = floatsOf(t);
    const bits = new Uint16Array(f.length);
    for (let i = 0; i < f.length; i++) {
      let v = f[i];
      if (Number.isFinite(v) && Math.abs(v) > FP16_MAX) {
        v = Math.sign(v) * FP16_MAX;
        clamped++;
      }
      bits[i] = toHalfBits(v);
    }
    const h = halfTensor(name, dimsOf(t), bits);
    t.dataType = h.dataType;
    t.rawData = h.rawData;
    t.floatData = [];
  }
  for (const n of nodes) for (const s of n.output ?? []) if (isF32(s)) home.set(s, converted.has(n) ? 16 : 32);

  // A float16 tensor that is a graph output is produced under another name and cast back to its own.
  const rename = new Map<string, string>();
  for (const o of graphOutputs) if (home.get(o) === 16) rename.set(o, fresh(`${o}_fp16`));
  const nameOf = (s: string) => rename.get(s) ?? s;

  const casts = new Map<string, string>();
  let castCount = 0;
  const out: INode[] = [];
  const castTo = (s: string, to: 16 | 32): string => {
    const key = `${s}>${to}`;
    let c = casts.get(key);
    if (!c) {
      c = fresh(`${s}_to_fp${to}`);
      casts.set(key, c);
      out.push(makeNode('Cast', [nameOf(s)], [c], fresh(`${s}_cast_fp${to}`), [makeIntAttr('to', to === 16 ? DT.FLOAT16 : DT.FLOAT)]));
      castCount++;
    }
    return c;
  };
  for (const n of nodes) {
    const half = converted.has(n);
    n.input = (n.input ?? []).map((s) => {
      if (!isF32(s)) return nameOf(s);
      const h = home.get(s) ?? 32;
      if (half && h === 32 && !(n.opType === 'Cast')) return castTo(s, 16);
      if (!half && h === 16 && !ANY_INPUT.has(n.opType!)) return castTo(s, 32);
      return nameOf(s);
    });
    n.output = (n.output ?? []).map(nameOf);
    if (half && n.opType === 'Cast') n.attribute = (n.attribute ?? []).map((a) => (a.name === 'to' ? makeIntAttr('to', DT.FLOAT16) : a));
    if (half && n.opType === 'Constant')
      for (const a of n.attribute ?? [])
        if (a.t && a.t.dataType === DT.FLOAT) {
          const f = floatsOf(a.t);
          const bits = new Uint16Array(f.length);
          for (let i = 0; i < f.length; i++) bits[i] = toHalfBits(Number.isFinite(f[i]) ? Math.max(-FP16_MAX, Math.min(FP16_MAX, f[i])) : f[i]);
          a.t = halfTensor(String(a.t.name ?? ''), dimsOf(a.t), bits);
        }
    out.push(n);
  }
  for (const [o, internal] of rename) {
    out.push(makeNode('Cast', [internal], [o], fresh(`${o}_cast_fp32`), [makeIntAttr('to', DT.FLOAT)]));
    castCount++;
  }
  g.node = out;
  // Intermediate value_info: the element type follows the tensor's new home; renamed ones are dropped.
  for (const v of g.valueInfo ?? []) {
    const tt = v.type?.tensorType;
    if (tt && tt.elemType === DT.FLOAT && home.get(String(v.name)) === 16) tt.elemType = DT.FLOAT16;
  }
  g.valueInfo = (g.valueInfo ?? []).filter((v) => !rename.has(String(v.name)));
  return { converted: converted.size, kept, casts: castCount, clamped };
}

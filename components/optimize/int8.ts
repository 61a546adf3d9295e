/**
 * INT8 dynamic quantization of MatMul/Gemm weights, as onnxruntime's `quantize_dynamic` does it
 * (its defaults: signed 8-bit weights, symmetric and per tensor, activations quantized to uint8 at
 * run time by `DynamicQuantizeLinear`; only MatMuls whose B is a constant). Each quantized
 * `MatMul(A, W)` becomes, with onnxruntime's own tensor and node names:
 *
 *   DynamicQuantizeLinear(A) → A_quantized, A_scale, A_zero_point     (once per A)
 *   MatMulInteger(A_quantized, W_quantized, A_zero_point, W_zero_point) → int32
 *   Cast(to FLOAT) → Mul(·, A_scale · W_scale) → the MatMul's output
 *
 * W_scale = max|W| / 127 (float32; 1 when W is all zeros), W_quantized = clip(round_half_even(W /
 * W_scale), -128, 127), W_zero_point = 0: bit for bit what onnxruntime's quantizer writes, so the
 * two models compute the same thing (tested against it).
 *
 * onnxruntime's quantizer leaves `Gemm` alone (its dynamic registry has MatMul, Conv, Attention and
 * LSTM); dense layers exported as Gemm (ghosteam's, Keras/tf2onnx's) would then keep float weights.
 * So a `Gemm(A, B, C)` with a constant B and transA = 0 is first rewritten to `MatMul(A, alpha·B')
 * + beta·C` (B' = Bᵀ when transB) — the same function — and quantized as a MatMul.
 *
 * Pure: a ModelProto and the tensor types (from onnxruntime, see types.ts) in, the rewritten
 * ModelProto out.
 */
import {
  DT,
  dimsOf,
  floatAttr,
  floatTensor,
  floatsOf,
  freshNamer,
  int8Tensor,
  intAttr,
  isOnnxDomain,
  makeIntAttr,
  makeNode,
  onnxOpset,
  type IModel,
  type INode,
  type ITensor,
} from './proto.ts';

export class OptimizeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OptimizeError';
  }
}

export interface QuantizeResult {
  /** Nodes whose weights are now INT8 (MatMul names; a rewritten Gemm keeps its name). */
  readonly quantized: string[];
  /** MatMul/Gemm nodes left in float, and why. */
  readonly skipped: { node: string; op: string; reason: string }[];
}

const FLT_MIN = 1.1754943508222875e-38;

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Symmetric per-tensor int8 quantization of a weight, as onnxruntime's `quantize_data` (QInt8, symmetric, no reduce_range). */
export function quantizeWeight(w: Float32Array, where: string): { scale: number; q: Int8Array } {
  let rmin = 0;
  let rmax = 0;
  for (let i = 0; i < w.length; i++) {
    const v = w[i];
    if (!Number.isFinite(v)) throw new OptimizeError(`INT8: weight ${where}[${i}] is ${v}; only finite weights can be quantized`);
    if (v < rmin) rmin = v;
    if (v > rmax) rmax = v;
  }
  const absmax = Math.max(Math.abs(rmin), Math.abs(rmax));
  let scale = (2 * absmax) / 254; // (rmax - rmin) / (qmax - qmin) in float64, qmin = -127, qmax = 127
  scale = scale < FLT_MIN ? 1 : Math.fround(scale);
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(-128, Math.min(127, roundHalfEven(Math.fround(w[i] / scale))));
  return { scale, q };
}

/**
 * Rewrites quantizable Gemms as MatMul + Add, then quantizes every MatMul with a constant float B.
 * `types` maps tensor names to onnxruntime's element types ('float32', 'int64', …).
 */
export function quantizeDynamic(m: IModel, types: ReadonlyMap<string, string>, opts: { gemm?: boolean } = {}): QuantizeResult {
  const g = m.graph!;
  const opset = onnxOpset(m);
  if (opset < 11)
    throw new OptimizeError(
      `INT8: the model's ai.onnx opset is ${opset}; DynamicQuantizeLinear needs opset 11 or later (re-export the model with a newer opset)`,
    );
  const fresh = freshNamer(g);
  const inits = new Map((g.initializer ?? []).map((t) => [String(t.name), t]));
  const graphInputs = new Set((g.input ?? []).map((v) => String(v.name)));
  const isConstFloat = (name: string) => inits.has(name) && !graphInputs.has(name) && inits.get(name)!.dataType === DT.FLOAT;
  const skipped: QuantizeResult['skipped'] = [];
  const quantized: string[] = [];
  const added: ITensor[] = [];

  // 1. Gemm → MatMul (+ Add): the same function, in the form the quantizer handles.
  if (opts.gemm !== false) {
    const nodes: INode[] = [];
    for (const n of g.node ?? []) {
      if (n.opType !== 'Gemm' || !isOnnxDomain(n)) {
        nodes.push(n);
        continue;
      }
      const [a, b, c] = n.input ?? [];
      const why = !isConstFloat(b ?? '')
        ? 'its B is not a constant float initializer'
        : intAttr(n, 'transA', 0) !== 0
          ? 'transA = 1'
          : c && floatAttr(n, 'beta', 1) !== 1 && !isConstFloat(c)
            ? 'beta ≠ 1 with a computed C'
            : types.get(a) !== 'float32'
              ? `its A is ${types.get(a) ?? 'of unknown type'}, not float32`
              : undefined;
      if (why) {
        skipped.push({ node: n.name ?? '', op: 'Gemm', reason: why });
        nodes.push(n);
        continue;
      }
      const bt = inits.get(b)!;
      const [k0, k1] = dimsOf(bt);
      const src = floatsOf(bt);
      const transB = intAttr(n, 'transB', 0) !== 0;
      const alpha = floatAttr(n, 'alpha', 1);
      let w = src;
      let wDims = [k0, k1];
      if (transB || alpha !== 1) {
        w = new Float32Array(src.length);
        if (transB) {
          wDims = [k1, k0];
          for (let i = 0; i < k0; i++) for (let j = 0; j < k1; j++) w[j * k0 + i] = Math.fround(alpha * src[i * k1 + j]);
        } else for (let i = 0; i < src.length; i++) w[i] = Math.fround(alpha * src[i]);
      }
      let wName = b;
      if (w !== src) {
        wName = fresh(`${b}_matmul`);
        const t = floatTensor(wName, wDims, w);
        added.push(t);
        inits.set(wName, t);
      }
      const out = n.output![0];
      if (!c) {
        nodes.push(makeNode('MatMul', [a, wName], [out], n.name ?? fresh('MatMul')));
        continue;
      }
      let cName = c;
      const beta = floatAttr(n, 'beta', 1);
      if (beta !== 1) {
        const cv = floatsOf(inits.get(c)!).map((v) => Math.fround(beta * v));
        cName = fresh(`${c}_scaled`);
        const t = floatTensor(cName, dimsOf(inits.get(c)!), cv);
        added.push(t);
        inits.set(cName, t);
      }
      const mm = fresh(`${out}_matmul`);
      nodes.push(makeNode('MatMul', [a, wName], [mm], n.name ?? fresh('MatMul')));
      nodes.push(makeNode('Add', [mm, cName], [out], fresh(`${n.name ?? out}_bias`)));
    }
    g.node = nodes;
    g.initializer = [...(g.initializer ?? []), ...added];
    added.length = 0;
  }

  // 2. MatMul with a constant float B → DynamicQuantizeLinear + MatMulInteger + Cast + Mul + Mul.
  const activations = new Map<string, { q: string; scale: string; zp: string }>();
  const weights = new Map<string, { q: string; scale: string; zp: string }>();
  const nodes: INode[] = [];
  const isFloat = (name: string) => types.get(name) === 'float32' || (inits.get(name)?.dataType === DT.FLOAT && !types.has(name));
  for (const n of g.node ?? []) {
    if (n.opType !== 'MatMul' || !isOnnxDomain(n)) {
      nodes.push(n);
      continue;
    }
    const [a, b] = n.input ?? [];
    if (!isConstFloat(b)) {
      skipped.push({
        node: n.name ?? '',
        op: 'MatMul',
        reason: 'its B is not a constant float initializer (dynamic quantization quantizes constant weights only)',
      });
      nodes.push(n);
      continue;
    }
    if (!isFloat(a)) {
      skipped.push({ node: n.name ?? '', op: 'MatMul', reason: `its A is ${types.get(a) ?? 'of unknown type'}, not float32` });
      nodes.push(n);
      continue;
    }
    let act = activations.get(a);
    if (!act) {
      act = { q: fresh(`${a}_quantized`), scale: fresh(`${a}_scale`), zp: fresh(`${a}_zero_point`) };
      activations.set(a, act);
      nodes.push(makeNode('DynamicQuantizeLinear', [a], [act.q, act.scale, act.zp], fresh(`${a}_QuantizeLinear`)));
    }
    let wq = weights.get(b);
    if (!wq) {
      const bt = inits.get(b)!;
      const { scale, q } = quantizeWeight(floatsOf(bt), `'${b}'`);
      wq = { q: fresh(`${b}_quantized`), scale: fresh(`${b}_scale`), zp: fresh(`${b}_zero_point`) };
      weights.set(b, wq);
      added.push(int8Tensor(wq.q, dimsOf(bt), q), floatTensor(wq.scale, [], Float32Array.of(scale)), int8Tensor(wq.zp, [], Int8Array.of(0)));
    }
    const base = n.name || fresh('MatMul');
    const out = n.output![0];
    const qOut = fresh(`${out}_output_quantized`);
    const castOut = fresh(`${qOut}_cast_output`);
    const scalesOut = fresh(`${base}_quant_scales_mul:0`);
    nodes.push(makeNode('MatMulInteger', [act.q, wq.q, act.zp, wq.zp], [qOut], fresh(`${base}_quant`)));
    nodes.push(makeNode('Cast', [qOut], [castOut], fresh(`${qOut}_cast`), [makeIntAttr('to', DT.FLOAT)]));
    nodes.push(makeNode('Mul', [act.scale, wq.scale], [scalesOut], fresh(`${base}_quant_scales_mul`)));
    nodes.push(makeNode('Mul', [castOut, scalesOut], [out], fresh(`${base}_quant_output_scale_mul`)));
    quantized.push(n.name ?? out);
  }
  g.node = nodes;
  // The float weights the MatMuls no longer read go; anything else still reading them keeps them.
  const read = new Set<string>((g.output ?? []).map((v) => String(v.name)));
  for (const n of nodes) for (const s of n.input ?? []) read.add(s);
  g.initializer = [...(g.initializer ?? []), ...added].filter((t) => read.has(String(t.name)));
  g.valueInfo = (g.valueInfo ?? []).filter((v) => read.has(String(v.name)) || nodes.some((n) => (n.output ?? []).includes(String(v.name))));
  return { quantized, skipped };
}

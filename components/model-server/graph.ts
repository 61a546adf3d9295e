/**
 * What the server needs to know about an ONNX graph before onnxruntime sees it, read from the
 * protobuf (onnx-proto). Pure: bytes in, a plan out.
 *
 * - **Sequence-of-map outputs** (`seq(map(int64|string, float))`): skl2onnx classifiers and
 *   onnxmltools' LightGBM end with a `ZipMap` node that turns the `[N, classes]` probability tensor
 *   into one `{label: p}` map per row. The Open Inference Protocol has no map type, so the server
 *   serves that output as the tensor ZipMap reads: `ZipMap(X)` is replaced by `Identity(X)` under
 *   the same output name, typed FP32 `[N, classes]`, and the class labels (ZipMap's
 *   `classlabels_int64s` / `classlabels_strings`, in column order) go into the output's metadata.
 *   Column j of the tensor is exactly the value ZipMap would have put under label j, so the model
 *   computes what it did.
 * - **Which outputs scale with the batch** (`batchRows`): the row dimension of each graph input is
 *   followed through the nodes, op by op, for the operators tabular converters and MLPs emit; an
 *   output is batch-carrying when every step keeps the row axis first. A fixed `[1]` (LightGBM's
 *   label) or a symbolic leading dimension on such an output is then a fact of the graph, not a
 *   guess, and its declared shape is rewritten to a symbolic `N` so onnxruntime stops warning about
 *   a mismatch on every multi-row run. An operator outside the known set makes the answer
 *   `undefined` (unknown), and the caller falls back to the declared shapes.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type IModel = onnxProto.onnx.IModelProto;
type INode = onnxProto.onnx.INodeProto;
type IValueInfo = onnxProto.onnx.IValueInfoProto;
type IAttr = onnxProto.onnx.IAttributeProto;

const FLOAT = 1;
const ML = 'ai.onnx.ml';

/** Class labels of a served ZipMap output, in column order. */
export type ClassLabels = readonly (string | number)[];

export interface GraphPlan {
  /** The model to hand onnxruntime when it had to change; undefined = load the original. */
  readonly bytes?: Uint8Array;
  /** Output name → class labels, for outputs that were `seq(map)` and are now `[N, classes]`. */
  readonly labels: ReadonlyMap<string, ClassLabels>;
  /**
   * Whether every output's first dimension is the batch's rows: true (proved from the graph),
   * false (some output doesn't carry rows, or an input has no row axis), undefined (an operator
   * the analysis doesn't know; decide from declared shapes).
   */
  readonly batchRows: boolean | undefined;
  /** Why it isn't batchable, or which operator made it unknown (for the admin listing and logs). */
  readonly batchReason: string;
  /** Outputs the server can't serve, with why: the model as a whole is then refused. */
  readonly problems: readonly string[];
}

function attr(n: INode, name: string): IAttr | undefined {
  return (n.attribute ?? []).find((a) => a.name === name);
}
function attrInt(n: INode, name: string): number | undefined {
  const a = attr(n, name);
  return a && a.i !== undefined && a.i !== null ? Number(a.i) : undefined;
}
function attrInts(n: INode, name: string): number[] | undefined {
  const a = attr(n, name);
  return a?.ints && a.ints.length ? a.ints.map(Number) : undefined;
}

function typeText(t: onnxProto.onnx.ITypeProto | null | undefined): string {
  if (!t) return 'an unknown type';
  if (t.tensorType) return 'a tensor';
  if (t.sequenceType) return `seq(${typeText(t.sequenceType.elemType)})`;
  if (t.mapType) return `map(${t.mapType.keyType}, ${typeText(t.mapType.valueType)})`;
  if (t.optionalType) return `optional(${typeText(t.optionalType.elemType)})`;
  return 'a non-tensor type';
}

function zipMapLabels(n: INode): ClassLabels | undefined {
  const ints = attr(n, 'classlabels_int64s')?.ints;
  if (ints && ints.length) return ints.map(Number);
  const strs = attr(n, 'classlabels_strings')?.strings;
  if (strs && strs.length) return strs.map((s) => new TextDecoder().decode(s));
  return undefined;
}

// ---------- row tracking ----------
/** What is known of a value: it carries the batch rows first, its rank when known. */
interface Val {
  readonly rows: boolean;
  readonly rank?: number;
  /** Constant (initializer/Constant) with this shape; values for int64 vectors (axes, shapes). */
  readonly constShape?: readonly number[];
  readonly constInts?: readonly number[];
}

const ELEMENTWISE_UNARY = new Set([
  'Identity',
  'Cast',
  'Neg',
  'Abs',
  'Exp',
  'Log',
  'Sqrt',
  'Reciprocal',
  'Sigmoid',
  'Tanh',
  'Relu',
  'LeakyRelu',
  'Elu',
  'Selu',
  'Softplus',
  'Softsign',
  'HardSigmoid',
  'Erf',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Not',
  'IsNaN',
  'IsInf',
  'Clip',
  'Dropout',
  'Gelu',
  'Sin',
  'Cos',
  'CastLike',
  'BatchNormalization',
  'PRelu',
  'ThresholdedRelu',
  'HardSwish',
  'Mish',
  'Celu',
]);
const ELEMENTWISE_NARY = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Mod',
  'Less',
  'LessOrEqual',
  'Greater',
  'GreaterOrEqual',
  'Equal',
  'And',
  'Or',
  'Xor',
  'Where',
  'Max',
  'Min',
  'Sum',
  'Mean',
  'BitShift',
]);
/** ai.onnx.ml operators that map each row of their first input to one row of every output. */
const ML_ROWWISE: Record<string, number | undefined> = {
  // op: rank of the outputs (undefined = same as input)
  LinearClassifier: undefined,
  LinearRegressor: 2,
  TreeEnsembleClassifier: undefined,
  TreeEnsembleRegressor: 2,
  TreeEnsemble: 2,
  SVMClassifier: undefined,
  SVMRegressor: 2,
  Normalizer: 2,
  Scaler: 2,
  Imputer: undefined,
  Binarizer: undefined,
  LabelEncoder: undefined,
  CategoryMapper: undefined,
  ArrayFeatureExtractor: undefined,
  OneHotEncoder: undefined,
  FeatureVectorizer: 2,
  ZipMap: 1,
};
/** ML ops with a 1-D first output (labels) and a 2-D second one (scores). */
const ML_LABEL_SCORES = new Set(['LinearClassifier', 'TreeEnsembleClassifier', 'SVMClassifier']);

/** Rows tracked through one node; a string names the unknown op/reason (analysis stops). */
function step(n: INode, vals: Map<string, Val>, opset: number): Val[] | string {
  const op = String(n.opType);
  const domain = n.domain ?? '';
  const ins = (n.input ?? []).map((x) => (x ? vals.get(x) : undefined));
  const outs = n.output ?? [];
  const first = ins[0];
  const same = (v: Val | undefined): Val[] => outs.map(() => ({ rows: v?.rows ?? false, rank: v?.rank }));
  const noRows = (rank?: number): Val[] => outs.map(() => ({ rows: false, rank }));
  if (ins.some((v, i) => v === undefined && (n.input ?? [])[i])) return `${op}: an input has no producer`;
  const anyRows = ins.some((v) => v?.rows);
  if (!anyRows) {
    // Nothing row-dependent flows in: a constant sub-computation (or Shape-like of a constant).
    if (op === 'Constant') return outs.map(() => constantVal(n));
    return noRows();
  }
  if (domain === ML) {
    if (!(op in ML_ROWWISE)) return `${ML}.${op}`;
    if (!first?.rows) return `${ML}.${op}: its rows come from a non-batch input`;
    if (op === 'ArrayFeatureExtractor' && ins[1]?.rows) return `${ML}.${op}: indices depend on the batch`;
    if (ML_LABEL_SCORES.has(op)) return outs.map((_, i) => ({ rows: true, rank: i === 0 ? 1 : 2 }));
    if (op === 'OneHotEncoder') return outs.map(() => ({ rows: true, rank: first.rank === undefined ? undefined : first.rank + 1 }));
    if (op === 'FeatureVectorizer' && ins.some((v) => !v?.rows)) return `${ML}.FeatureVectorizer: an input lacks the batch rows`;
    const r = ML_ROWWISE[op];
    return outs.map(() => ({ rows: true, rank: r ?? first.rank }));
  }
  if (domain !== '' && domain !== 'ai.onnx') return `${domain}.${op}`;
  if (ELEMENTWISE_UNARY.has(op)) {
    if (!first?.rows) return `${op}: its rows come from a parameter`;
    return same(first);
  }
  if (ELEMENTWISE_NARY.has(op)) {
    // Broadcasting keeps the rows first when every batch operand has the output's rank and every
    // other operand has a lower rank, or a leading 1 at that rank.
    const ranks = ins.map((v) => v?.rank ?? v?.constShape?.length);
    if (ranks.some((r) => r === undefined)) return `${op}: an operand's rank is unknown`;
    const outRank = Math.max(...(ranks as number[]));
    for (let i = 0; i < ins.length; i++) {
      const v = ins[i]!;
      if (v.rows && ranks[i] !== outRank) return `${op}: a batch operand of rank ${ranks[i]} broadcasts to rank ${outRank}`;
      if (!v.rows && ranks[i] === outRank && !(v.constShape && v.constShape[0] === 1)) return `${op}: a non-batch operand spans the row axis`;
    }
    return outs.map(() => ({ rows: true, rank: outRank }));
  }
  if (!first?.rows) return `${op}: its rows come from a non-first input`;
  const axisOk = (axis: number | undefined, dflt: number) => {
    const a = axis ?? dflt;
    return first.rank !== undefined ? (a < 0 ? a + first.rank : a) !== 0 : a > 0;
  };
  switch (op) {
    case 'Gemm':
      if (attrInt(n, 'transA')) return 'Gemm with transA';
      if (ins.slice(1).some((v) => v?.rows)) return 'Gemm: B or C depends on the batch';
      return outs.map(() => ({ rows: true, rank: 2 }));
    case 'MatMul':
      if (ins[1]?.rows) return 'MatMul: both operands carry the batch';
      if (first.rank === undefined || first.rank < 2) return 'MatMul: a 1-D batch operand';
      return outs.map(() => ({ rows: true, rank: first.rank }));
    case 'Softmax':
    case 'LogSoftmax':
    case 'Hardmax':
      return axisOk(attrInt(n, 'axis'), opset >= 13 ? -1 : 1) ? same(first) : `${op} over the row axis`;
    case 'ArgMax':
    case 'ArgMin':
    case 'ReduceSum':
    case 'ReduceMean':
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceProd':
    case 'ReduceL1':
    case 'ReduceL2':
    case 'ReduceLogSumExp':
    case 'ReduceSumSquare': {
      let axes: readonly number[] | undefined = op.startsWith('Arg') ? [attrInt(n, 'axis') ?? 0] : (attrInts(n, 'axes') ?? ins[1]?.constInts);
      if (axes === undefined) return `${op} over all axes`;
      if (first.rank === undefined) return `${op}: unknown rank`;
      axes = axes.map((a) => (a < 0 ? a + first.rank! : a));
      if (axes.includes(0)) return `${op} over the row axis`;
      const keep = (attrInt(n, 'keepdims') ?? 1) === 1;
      return outs.map(() => ({ rows: true, rank: keep ? first.rank : first.rank! - axes.length }));
    }
    case 'Concat':
      if (!axisOk(attrInt(n, 'axis'), 1)) return 'Concat along the row axis';
      if (ins.some((v) => !v?.rows)) return 'Concat with a non-batch operand';
      return same(first);
    case 'Flatten':
      return (attrInt(n, 'axis') ?? 1) === 1 ? outs.map(() => ({ rows: true, rank: 2 })) : 'Flatten at an axis other than 1';
    case 'Transpose': {
      const perm = attrInts(n, 'perm');
      return perm && perm[0] === 0 ? same(first) : 'Transpose that moves the row axis';
    }
    case 'Squeeze':
    case 'Unsqueeze': {
      const axes = attrInts(n, 'axes') ?? ins[1]?.constInts;
      if (!axes || first.rank === undefined) return `${op} without constant axes`;
      const outRank = op === 'Squeeze' ? first.rank - axes.length : first.rank + axes.length;
      const norm = axes.map((a) => (a < 0 ? a + (op === 'Squeeze' ? first.rank! : outRank) : a));
      return norm.includes(0) ? `${op} at the row axis` : outs.map(() => ({ rows: true, rank: outRank }));
    }
    case 'Slice': {
      const axes = opset >= 10 ? ins[3]?.constInts : attrInts(n, 'axes');
      if (!axes || first.rank === undefined) return 'Slice without constant axes';
      return axes.map((a) => (a < 0 ? a + first.rank! : a)).includes(0) ? 'Slice of the row axis' : same(first);
    }
    case 'Gather': {
      if (ins[1]?.rows) return 'Gather with batch indices';
      if (!axisOk(attrInt(n, 'axis'), 0)) return 'Gather along the row axis';
      const idxRank = ins[1]?.constShape?.length ?? ins[1]?.rank;
      if (idxRank === undefined || first.rank === undefined) return 'Gather: unknown rank';
      return outs.map(() => ({ rows: true, rank: first.rank! - 1 + idxRank }));
    }
    case 'Reshape': {
      const shape = ins[1]?.constInts;
      // Only a reshape that keeps dim 0 as is (0 = copy) and sizes the rest from constants.
      if (!shape || shape[0] !== 0 || shape.slice(1).some((d) => d < 0)) return 'Reshape that may move rows';
      return outs.map(() => ({ rows: true, rank: shape.length }));
    }
    case 'TopK':
      return axisOk(attrInt(n, 'axis'), -1) ? same(first) : 'TopK over the row axis';
    case 'Split':
      return axisOk(attrInt(n, 'axis'), 0) ? same(first) : 'Split of the row axis';
    default:
      return op;
  }
}

function constantVal(n: INode): Val {
  const t = attr(n, 'value')?.t;
  if (!t) return { rows: false };
  const shape = (t.dims ?? []).map(Number);
  return { rows: false, rank: shape.length, constShape: shape, constInts: tensorInts(t) };
}

function tensorInts(t: onnxProto.onnx.ITensorProto): number[] | undefined {
  if (t.dataType !== 7 && t.dataType !== 6) return undefined; // INT64, INT32
  if (t.int64Data && t.int64Data.length) return t.int64Data.map(Number);
  if (t.int32Data && t.int32Data.length) return t.int32Data.map(Number);
  if (t.rawData && t.rawData.length) {
    const b = t.rawData;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const size = t.dataType === 7 ? 8 : 4;
    return Array.from({ length: b.byteLength / size }, (_, i) => (size === 8 ? Number(dv.getBigInt64(i * 8, true)) : dv.getInt32(i * 4, true)));
  }
  return [];
}

/** A dimension's fixed size, its symbol, or undefined (unknown). protobufjs fills unset fields with defaults, so ask the oneof. */
function dimOf(d: onnxProto.onnx.TensorShapeProto.IDimension): number | string | undefined {
  const which = (d as { value?: string }).value;
  if (which === 'dimValue') return Number(d.dimValue);
  if (which === 'dimParam') return String(d.dimParam);
  return undefined;
}

function declaredRank(v: IValueInfo): number | undefined {
  const s = v.type?.tensorType?.shape;
  return s ? (s.dim ?? []).length : undefined;
}

/** Follows the batch rows from the graph inputs to its outputs. */
function trackRows(m: IModel, outputNames: readonly string[]): { rows: boolean | undefined; reason: string } {
  const g = m.graph!;
  const opset = Number((m.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 1);
  const vals = new Map<string, Val>();
  const inits = new Set<string>();
  for (const t of g.initializer ?? []) {
    const shape = (t.dims ?? []).map(Number);
    vals.set(String(t.name), { rows: false, rank: shape.length, constShape: shape, constInts: tensorInts(t) });
    inits.add(String(t.name));
  }
  for (const v of g.input ?? []) {
    if (inits.has(String(v.name))) continue;
    const rank = declaredRank(v);
    if (rank === undefined || rank === 0) return { rows: false, reason: `input '${v.name}' has no row axis` };
    vals.set(String(v.name), { rows: true, rank });
  }
  for (const n of g.node ?? []) {
    if ((n.attribute ?? []).some((a) => a.g || (a.graphs && a.graphs.length))) return { rows: undefined, reason: `${n.opType} has a subgraph` };
    const r = step(n, vals, opset);
    if (typeof r === 'string') return { rows: undefined, reason: r };
    (n.output ?? []).forEach((o, i) => {
      if (o) vals.set(o, r[i] ?? { rows: false });
    });
  }
  for (const name of outputNames) {
    const v = vals.get(name);
    if (!v) return { rows: undefined, reason: `output '${name}' has no producer` };
    if (!v.rows) return { rows: false, reason: `output '${name}' does not depend on the batch rows` };
  }
  return { rows: true, reason: 'every output carries the batch rows' };
}

/** Reads the graph and returns what to change and what to tell clients. Throws only on bytes that aren't an ONNX model. */
export function planGraph(modelBytes: Uint8Array): GraphPlan {
  const m = onnx.ModelProto.decode(modelBytes);
  const g = m.graph;
  if (!g) return { labels: new Map(), batchRows: undefined, batchReason: 'the model has no graph', problems: ['the model has no graph'] };
  const producer = new Map<string, INode>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  const labels = new Map<string, ClassLabels>();
  const problems: string[] = [];
  let changed = false;
  const nodes = [...(g.node ?? [])];
  for (const out of g.output ?? []) {
    const t = out.type;
    if (t?.tensorType) continue;
    const name = String(out.name);
    const map = t?.sequenceType?.elemType?.mapType;
    const p = producer.get(name);
    if (map && p && p.opType === 'ZipMap' && p.domain === ML && (p.input ?? []).length === 1) {
      const cls = zipMapLabels(p);
      if (!cls) {
        problems.push(`output '${name}' is a ZipMap without class labels`);
        continue;
      }
      const i = nodes.indexOf(p);
      nodes[i] = onnx.NodeProto.create({ opType: 'Identity', input: [p.input![0]], output: [name], name: `ghosteam_zipmap_tensor_${name}` });
      out.type = onnx.TypeProto.create({
        tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: cls.length }] } },
      });
      labels.set(name, cls);
      changed = true;
      continue;
    }
    problems.push(
      `output '${name}' is ${typeText(t)}${p ? ` (made by ${p.opType})` : ''}; the Open Inference Protocol carries tensors only, and only a ZipMap's seq(map) is turned back into one; export it without that output or with zipmap=False`,
    );
  }
  for (const inp of g.input ?? []) {
    if (!inp.type?.tensorType)
      problems.push(`input '${inp.name}' is ${typeText(inp.type)}; the Open Inference Protocol carries tensors only; export the model with tensor inputs`);
  }
  if (changed) {
    g.node = nodes;
    g.valueInfo = (g.valueInfo ?? []).filter((v) => !labels.has(String(v.name)));
  }
  if (problems.length) return { labels, batchRows: undefined, batchReason: 'not loadable', problems };
  const tracked = trackRows(
    m,
    (g.output ?? []).map((o) => String(o.name)),
  );
  if (tracked.rows) {
    // The rows are a fact of the graph: say so in the declared shapes (a fixed [1] or another symbol
    // becomes N), and drop the intermediate shape hints, which may repeat the fixed 1.
    let dims = false;
    for (const v of [...(g.input ?? []), ...(g.output ?? [])]) {
      const dim = v.type?.tensorType?.shape?.dim;
      if (!dim || dim.length === 0) continue;
      const d = dimOf(dim[0]);
      if (d === 'N' || (typeof d === 'number' && d !== 1)) continue;
      dim[0] = onnx.TensorShapeProto.Dimension.create({ dimParam: 'N' });
      dims = true;
    }
    if (dims) {
      g.valueInfo = [];
      changed = true;
    }
  }
  return {
    bytes: changed ? onnx.ModelProto.encode(m).finish() : undefined,
    labels,
    batchRows: tracked.rows,
    batchReason: tracked.reason,
    problems,
  };
}

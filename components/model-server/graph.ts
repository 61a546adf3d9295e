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
 *   a mismatch on every multi-row run. Reshape keeps rows when its target's first dim is 0, the
 *   batch size itself (PyTorch's `x.view(x.size(0), -1)`: Shape → Gather → Unsqueeze → Concat, see
 *   `symInts`) or -1 with the rest multiplying to the known row size. An operator outside the known
 *   set, or any other use of the batch size, makes the answer `undefined` (not proved), and the
 *   caller runs each request alone.
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
  /** For a value carrying rows: the number of elements in one row, when every non-row dim is known. */
  readonly rowSize?: number;
  /** Constant (initializer/Constant) with this shape; values for int64 vectors (axes, shapes). */
  readonly constShape?: readonly number[];
  readonly constInts?: readonly number[];
  /**
   * An int64 scalar or vector computed from a batch value's shape (`Shape(x)`, then Gather, Slice,
   * Unsqueeze, Concat, Cast): each element is the batch size 'N', a known number, or undefined.
   * PyTorch writes `x.view(x.size(0), -1)` this way. Such a value depends on how many rows a run
   * has, so anything but another shape step or a Reshape's target shape makes the analysis stop.
   */
  readonly symInts?: readonly (number | 'N' | undefined)[];
}

type SymInt = number | 'N' | undefined;

/** The int64 elements of a value, symbolic or constant; undefined when unknown. */
function intsOf(v: Val | undefined): readonly SymInt[] | undefined {
  return v?.symInts ?? v?.constInts;
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
/** ML regressors: [N, n_targets]. */
const ML_TARGETS = new Set(['LinearRegressor', 'TreeEnsembleRegressor', 'SVMRegressor']);
/** ML ops whose output has their input's shape. */
const ML_SAME_SIZE = new Set(['Normalizer', 'Scaler', 'Imputer', 'Binarizer', 'LabelEncoder']);
/** ML ops with a 1-D first output (labels) and a 2-D second one (scores). */
const ML_LABEL_SCORES = new Set(['LinearClassifier', 'TreeEnsembleClassifier', 'SVMClassifier']);

/** Rows tracked through one node; a string names the unknown op/reason (analysis stops). */
function step(n: INode, vals: Map<string, Val>, opset: number): Val[] | string {
  const op = String(n.opType);
  const domain = n.domain ?? '';
  const ins = (n.input ?? []).map((x) => (x ? vals.get(x) : undefined));
  const outs = n.output ?? [];
  const first = ins[0];
  // Same rows and rank; the row size too when the op keeps every element (sized = true).
  const same = (v: Val | undefined, sized = true): Val[] =>
    outs.map(() => ({ rows: v?.rows ?? false, rank: v?.rank, ...(sized ? { rowSize: v?.rowSize } : {}) }));
  const noRows = (rank?: number): Val[] => outs.map(() => ({ rows: false, rank }));
  if (ins.some((v, i) => v === undefined && (n.input ?? [])[i])) return `${op}: an input has no producer`;
  const anyRows = ins.some((v) => v?.rows);
  if (!anyRows && ins.some((v) => v?.symInts)) return shapeStep(n, op, domain, ins);
  // The batch size may only size a Reshape's target: x * N, say, would change with the rows merged into a run.
  if (anyRows && ins.some((v, i) => v?.symInts && !(op === 'Reshape' && i === 1))) return `${op} uses the batch size`;
  if (!anyRows) {
    // Nothing row-dependent flows in: a constant sub-computation (or Shape-like of a constant).
    if (op === 'Constant') return outs.map(() => constantVal(n));
    return noRows();
  }
  if (domain === ML) {
    if (!(op in ML_ROWWISE)) return `${ML}.${op}`;
    if (!first?.rows) return `${ML}.${op}: its rows come from a non-batch input`;
    if (op === 'ArrayFeatureExtractor' && ins[1]?.rows) return `${ML}.${op}: indices depend on the batch`;
    if (ML_LABEL_SCORES.has(op)) return outs.map((_, i) => ({ rows: true, rank: i === 0 ? 1 : 2, ...(i === 0 ? { rowSize: 1 } : {}) }));
    if (op === 'OneHotEncoder') {
      const cats = (attr(n, 'cats_int64s')?.ints?.length ?? 0) + (attr(n, 'cats_strings')?.strings?.length ?? 0);
      const rowSize = first.rowSize !== undefined && cats > 0 ? first.rowSize * cats : undefined;
      return outs.map(() => ({ rows: true, rank: first.rank === undefined ? undefined : first.rank + 1, rowSize }));
    }
    if (op === 'FeatureVectorizer' && ins.some((v) => !v?.rows)) return `${ML}.FeatureVectorizer: an input lacks the batch rows`;
    const r = ML_ROWWISE[op];
    // Row sizes: regressors answer n_targets values per row; the elementwise ones keep their input's.
    const rowSize = ML_TARGETS.has(op) ? (attrInt(n, 'n_targets') ?? 1) : ML_SAME_SIZE.has(op) ? first.rowSize : undefined;
    return outs.map(() => ({ rows: true, rank: r ?? first.rank, rowSize }));
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
    // Row size: [N, d] operands with others of shape [d], [1, d], [1] or scalars stay [N, d].
    const sizes = new Set(ins.filter((v) => v!.rows).map((v) => (v!.rank === 2 ? v!.rowSize : undefined)));
    const d = sizes.size === 1 ? [...sizes][0] : undefined;
    const fits = (v: Val) => v.rows || (v.constShape !== undefined && v.constShape.every((x, i) => x === 1 || (i === v.constShape!.length - 1 && x === d)));
    const rowSize = outRank === 2 && d !== undefined && ins.every((v) => fits(v!)) ? d : undefined;
    return outs.map(() => ({ rows: true, rank: outRank, rowSize }));
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
      return outs.map(() => ({ rows: true, rank: 2, rowSize: ins[1]?.constShape?.length === 2 ? ins[1].constShape[attrInt(n, 'transB') ? 0 : 1] : undefined }));
    case 'MatMul':
      if (ins[1]?.rows) return 'MatMul: both operands carry the batch';
      if (first.rank === undefined || first.rank < 2) return 'MatMul: a 1-D batch operand';
      return outs.map(() => ({
        rows: true,
        rank: first.rank,
        rowSize: first.rank === 2 && ins[1]?.constShape?.length === 2 ? ins[1].constShape[1] : undefined,
      }));
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
      return outs.map(() => ({
        rows: true,
        rank: first.rank,
        rowSize: ins.every((v) => v!.rowSize !== undefined) ? ins.reduce((a, v) => a + v!.rowSize!, 0) : undefined,
      }));
    case 'Flatten':
      return (attrInt(n, 'axis') ?? 1) === 1 ? outs.map(() => ({ rows: true, rank: 2, rowSize: first.rowSize })) : 'Flatten at an axis other than 1';
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
      return norm.includes(0) ? `${op} at the row axis` : outs.map(() => ({ rows: true, rank: outRank, rowSize: first.rowSize }));
    }
    case 'Slice': {
      const axes = opset >= 10 ? ins[3]?.constInts : attrInts(n, 'axes');
      if (!axes || first.rank === undefined) return 'Slice without constant axes';
      return axes.map((a) => (a < 0 ? a + first.rank! : a)).includes(0) ? 'Slice of the row axis' : same(first, false);
    }
    case 'Gather': {
      if (ins[1]?.rows) return 'Gather with batch indices';
      if (!axisOk(attrInt(n, 'axis'), 0)) return 'Gather along the row axis';
      const idxRank = ins[1]?.constShape?.length ?? ins[1]?.rank;
      if (idxRank === undefined || first.rank === undefined) return 'Gather: unknown rank';
      // Columns picked from [N, F]: a row holds one value per index.
      const idxShape = ins[1]?.constShape;
      const rowSize = first.rank === 2 && idxShape ? idxShape.reduce((a, b) => a * b, 1) : undefined;
      return outs.map(() => ({ rows: true, rank: first.rank! - 1 + idxRank, rowSize }));
    }
    case 'Shape': {
      // The shape vector of a batch value: element 0 is the batch size N (see symInts).
      if (first.rank === undefined) return 'Shape: unknown rank';
      const all: SymInt[] = ['N', ...Array.from({ length: first.rank - 1 }, (): SymInt => undefined)];
      const norm = (a: number) => Math.min(first.rank!, Math.max(0, a < 0 ? a + first.rank! : a));
      const start = norm(attrInt(n, 'start') ?? 0);
      const end = norm(attrInt(n, 'end') ?? first.rank);
      const sym = all.slice(start, end);
      return outs.map(() => ({ rows: false, rank: 1, ...(sym.includes('N') ? { symInts: sym } : { constShape: [sym.length] }) }));
    }
    case 'Reshape':
      return reshapeRows(n, first, ins[1], outs.length);
    case 'TopK':
      return axisOk(attrInt(n, 'axis'), -1) ? same(first, false) : 'TopK over the row axis';
    case 'Split':
      return axisOk(attrInt(n, 'axis'), 0) ? same(first, false) : 'Split of the row axis';
    default:
      return op;
  }
}

/**
 * Reshape of a batch value to a target shape known from constants or from the value's own shape:
 * rows stay rows when the target's first dim is the batch size (N from Shape, or 0 = copy without
 * allowzero), or is -1 with the other dims known and multiplying to the input's row size (the
 * inferred dim is then N). Anything else may move rows, and the analysis stops there.
 */
function reshapeRows(n: INode, first: Val, target: Val | undefined, nOut: number): Val[] | string {
  const shape = intsOf(target);
  if (!shape || shape.length === 0) return 'Reshape to a shape the graph computes at run time';
  const allowZero = attrInt(n, 'allowzero') === 1;
  const keep = (rowSize: number | undefined): Val[] => Array.from({ length: nOut }, () => ({ rows: true, rank: shape.length, rowSize }));
  const rest = shape.slice(1);
  const restKnown = rest.every((d): d is number => typeof d === 'number' && d > 0);
  const restSize = restKnown ? rest.reduce((a, b) => a * b, 1) : undefined;
  if (shape[0] === 'N' || (shape[0] === 0 && !allowZero)) return keep(restSize ?? (rest.includes(-1) ? first.rowSize : undefined));
  if (shape[0] === -1) {
    if (restSize === undefined) return 'Reshape with -1 first and other dims not all known';
    if (first.rowSize === undefined) return "Reshape with -1 first of a value whose row size isn't known";
    return first.rowSize === restSize ? keep(restSize) : `Reshape with -1 first to rows of ${restSize} elements from rows of ${first.rowSize}`;
  }
  return 'Reshape that may move rows';
}

/**
 * One step on int64 values computed from a batch value's shape (symInts): Gather, Slice, Unsqueeze,
 * Squeeze, Concat, Cast, Identity keep track of which element is N; any other use of the batch size
 * stops the analysis (its result would change with the rows merged into one run).
 */
function shapeStep(n: INode, op: string, domain: string, ins: readonly (Val | undefined)[]): Val[] | string {
  const outs = n.output ?? [];
  const one = (sym: readonly SymInt[], rank: number): Val[] => outs.map(() => ({ rows: false, rank, symInts: sym }));
  const first = ins[0];
  if (domain !== '' && domain !== 'ai.onnx') return `${domain}.${op} of the batch size`;
  const firstOnly = ins.every((v, i) => i === 0 || !v?.symInts);
  switch (op) {
    case 'Identity':
    case 'Cast':
      return firstOnly && first?.symInts ? one(first.symInts, first.rank ?? 1) : `${op} of the batch size`;
    case 'Gather': {
      const idx = ins[1]?.constInts;
      const src = first?.symInts;
      if (!src || !firstOnly || !idx || (attrInt(n, 'axis') ?? 0) !== 0) return 'Gather of the batch size with indices the graph computes';
      const picked = idx.map((i) => src[i < 0 ? i + src.length : i]);
      return one(picked, ins[1]?.constShape?.length ?? 1);
    }
    case 'Slice': {
      const src = first?.symInts;
      const starts = ins[1]?.constInts,
        ends = ins[2]?.constInts,
        axes = ins[3]?.constInts,
        steps = ins[4]?.constInts;
      if (!src || !firstOnly || !starts || !ends || starts.length !== 1 || (axes && axes[0] !== 0) || (steps && steps[0] !== 1))
        return 'Slice of the batch size with bounds the graph computes';
      const norm = (a: number) => Math.min(src.length, Math.max(0, a < 0 ? a + src.length : a));
      return one(src.slice(norm(starts[0]), norm(ends[0])), 1);
    }
    case 'Unsqueeze':
    case 'Squeeze': {
      const axes = attrInts(n, 'axes') ?? ins[1]?.constInts;
      if (!first?.symInts || !firstOnly || !axes || axes.length !== 1 || (axes[0] !== 0 && axes[0] !== -1)) return `${op} of the batch size`;
      if (op === 'Unsqueeze' && first.rank === 0) return one(first.symInts, 1);
      if (op === 'Squeeze' && first.rank === 1 && first.symInts.length === 1) return one(first.symInts, 0);
      return `${op} of the batch size`;
    }
    case 'Concat': {
      if ((attrInt(n, 'axis') ?? 0) !== 0 && attrInt(n, 'axis') !== -1) return 'Concat of the batch size along an axis other than 0';
      const parts = ins.map(intsOf);
      if (parts.some((p) => !p) || ins.some((v) => (v?.rank ?? v?.constShape?.length) !== 1)) return 'Concat of the batch size with values the graph computes';
      return one(
        parts.flatMap((p) => [...p!]),
        1,
      );
    }
    default:
      return `${op} of the batch size`;
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
    const rest = (v.type!.tensorType!.shape!.dim ?? []).slice(1).map(dimOf);
    const rowSize = rest.every((d): d is number => typeof d === 'number') ? rest.reduce((a, b) => a * b, 1) : undefined;
    vals.set(String(v.name), { rows: true, rank, rowSize });
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

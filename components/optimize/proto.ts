/**
 * Small helpers over onnx-proto's ModelProto for the optimizer's graph rewrites: tensor data in and
 * out, node naming, opset lookup. Pure.
 */
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;
export type IModel = onnxProto.onnx.IModelProto;
export type IGraph = onnxProto.onnx.IGraphProto;
export type INode = onnxProto.onnx.INodeProto;
export type ITensor = onnxProto.onnx.ITensorProto;
export type IAttr = onnxProto.onnx.IAttributeProto;

/** TensorProto.DataType values used here. */
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, FLOAT16: 10, DOUBLE: 11 } as const;

const AT = onnx.AttributeProto.AttributeType;

/** An int64 field as protobufjs decodes it (number or Long) → number. */
export function num(x: unknown): number {
  if (typeof x === 'number') return x;
  if (x && typeof (x as { toNumber?: unknown }).toNumber === 'function') return (x as { toNumber(): number }).toNumber();
  return Number(x);
}

export function dimsOf(t: ITensor): number[] {
  return (t.dims ?? []).map(num);
}

/** A FLOAT tensor's values (raw_data or float_data). */
export function floatsOf(t: ITensor): Float32Array {
  if (t.rawData && t.rawData.length) {
    const b = t.rawData;
    const copy = new Uint8Array(b.byteLength);
    copy.set(b);
    return new Float32Array(copy.buffer);
  }
  return Float32Array.from(t.floatData ?? []);
}

export function floatTensor(name: string, dims: readonly number[], data: Float32Array): ITensor {
  return { name, dims: [...dims], dataType: DT.FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export function halfTensor(name: string, dims: readonly number[], bits: Uint16Array): ITensor {
  return { name, dims: [...dims], dataType: DT.FLOAT16, rawData: new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength) };
}

export function int8Tensor(name: string, dims: readonly number[], data: Int8Array): ITensor {
  return { name, dims: [...dims], dataType: DT.INT8, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export function attr(n: INode, name: string): IAttr | undefined {
  return (n.attribute ?? []).find((a) => a.name === name);
}

export function intAttr(n: INode, name: string, dflt: number): number {
  const a = attr(n, name);
  return a ? num(a.i) : dflt;
}

export function floatAttr(n: INode, name: string, dflt: number): number {
  const a = attr(n, name);
  return a ? Number(a.f) : dflt;
}

export function makeIntAttr(name: string, i: number): IAttr {
  return { name, type: AT.INT, i };
}

export function makeNode(opType: string, input: string[], output: string[], name: string, attribute: IAttr[] = []): INode {
  return { opType, input, output, name, attribute, domain: '' };
}

/** True for the default ONNX domain ('' or 'ai.onnx'). */
export function isOnnxDomain(n: INode): boolean {
  return !n.domain || n.domain === 'ai.onnx';
}

/** The model's ai.onnx opset version. */
export function onnxOpset(m: IModel): number {
  return num((m.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 1);
}

/** Whether any node (at any depth) carries a subgraph (If, Loop, Scan). */
export function subgraphNode(g: IGraph): INode | undefined {
  return (g.node ?? []).find((n) => (n.attribute ?? []).some((a) => a.g || (a.graphs && a.graphs.length)));
}

/** Gives every unnamed node a unique name (`<op>_<index>`), so reports and errors can name each. */
export function nameNodes(g: IGraph): void {
  const used = new Set((g.node ?? []).map((n) => n.name).filter((s): s is string => !!s));
  (g.node ?? []).forEach((n, i) => {
    if (n.name) return;
    let name = `${n.opType}_${i}`;
    while (used.has(name)) name += '_';
    used.add(name);
    n.name = name;
  });
}

/** A name not yet used by a tensor or node of the graph. */
export function freshNamer(g: IGraph): (want: string) => string {
  const used = new Set<string>();
  for (const n of g.node ?? []) {
    if (n.name) used.add(n.name);
    for (const s of [...(n.input ?? []), ...(n.output ?? [])]) used.add(s);
  }
  for (const t of g.initializer ?? []) used.add(String(t.name));
  for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) used.add(String(v.name));
  return (want) => {
    let s = want;
    for (let i = 1; used.has(s); i++) s = `${want}_${i}`;
    used.add(s);
    return s;
  };
}

/** Keeps only the opset imports the graph's nodes use (onnxruntime's saved models import every domain it knows). */
export function pruneOpsets(m: IModel, keep: readonly string[]): void {
  const used = new Set<string>(['', ...keep]);
  const visit = (g: IGraph) => {
    for (const n of g.node ?? []) {
      used.add(n.domain === 'ai.onnx' ? '' : (n.domain ?? ''));
      for (const a of n.attribute ?? []) {
        if (a.g) visit(a.g);
        for (const sg of a.graphs ?? []) visit(sg);
      }
    }
  };
  visit(m.graph!);
  m.opsetImport = (m.opsetImport ?? []).filter((o) => used.has(o.domain === 'ai.onnx' ? '' : (o.domain ?? '')));
}

export function decodeModel(bytes: Uint8Array): IModel {
  return onnx.ModelProto.decode(bytes);
}

export function encodeModel(m: IModel): Uint8Array {
  return onnx.ModelProto.encode(m).finish();
}

/** Sets (or replaces) a metadata_props entry. */
export function setMetadata(m: IModel, key: string, value: string): void {
  const props = (m.metadataProps ?? []).filter((p) => p.key !== key);
  props.push({ key, value });
  m.metadataProps = props;
}

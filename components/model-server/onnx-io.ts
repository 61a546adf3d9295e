/**
 * Reading a model's graph inputs and outputs straight from the ONNX protobuf, for the one case
 * where onnxruntime-node can't tell us: it refuses to create a session whose inputs or outputs
 * have a type its JavaScript side has no name for (bfloat16, float8, complex) and says only
 * `Unsupported data type: 16`. This names the tensors and the type, and says what to do.
 */
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
/** onnx TensorProto.DataType: element type name → code. */
const DT: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(onnx.TensorProto.DataType).filter((e): e is [string, number] => typeof e[1] === 'number'),
);

/** Element types newer than onnx-proto's enum (which ends at BFLOAT16 = 16). */
const NEWER_TYPES: Record<number, string> = {
  17: 'FLOAT8E4M3FN',
  18: 'FLOAT8E4M3FNUZ',
  19: 'FLOAT8E5M2',
  20: 'FLOAT8E5M2FNUZ',
  21: 'UINT4',
  22: 'INT4',
  23: 'FLOAT4E2M1',
};

/** ONNX TensorProto element type number → its name (16 → 'BFLOAT16'). */
export function onnxTypeName(code: number): string {
  for (const k of Object.keys(DT)) if (DT[k] === code) return k;
  return NEWER_TYPES[code] ?? `type ${code}`;
}

/** Graph inputs (initializers excluded) and outputs whose element type is `code`. */
export function ioOfType(modelBytes: Uint8Array, code: number): { inputs: string[]; outputs: string[] } {
  const m = onnx.ModelProto.decode(modelBytes);
  const g = m.graph;
  const inits = new Set((g?.initializer ?? []).map((t) => t.name));
  const pick = (vs: readonly onnxProto.onnx.IValueInfoProto[] | null | undefined, skip?: Set<string | null | undefined>) =>
    (vs ?? []).filter((v) => !skip?.has(v.name) && v.type?.tensorType?.elemType === code).map((v) => String(v.name));
  return { inputs: pick(g?.input, inits), outputs: pick(g?.output) };
}

/**
 * The message for a model onnxruntime-node 1.30 refused with `Unsupported data type: CODE`:
 * which inputs/outputs have that type and how to fix the model. `undefined` when the error is
 * something else.
 */
export async function unsupportedIoMessage(path: string, ortMessage: string): Promise<string | undefined> {
  const m = /Unsupported data type: (\d+)/.exec(ortMessage);
  if (!m) return undefined;
  const code = Number(m[1]);
  const type = onnxTypeName(code).toLowerCase();
  let where = 'an input or output';
  try {
    const { inputs, outputs } = ioOfType(await readFile(path), code);
    const names = [...inputs.map((n) => `input '${n}'`), ...outputs.map((n) => `output '${n}'`)];
    if (names.length) where = names.join(', ');
  } catch {
    // keep the generic wording; the model may use external data or be unreadable by onnx-proto
  }
  return `can't load ONNX model ${path}: ${where} ${where.includes(',') ? 'have' : 'has'} element type ${type} (ONNX TensorProto ${code}), which onnxruntime-node 1.30 can't pass into or out of a session (its Tensor has no ${type} type); add a Cast to float32 or float16 at the graph's inputs and outputs`;
}

const BF16_SUFFIX = '__ghosteam_bf16';

/**
 * Makes a model with bfloat16 graph inputs/outputs loadable by onnxruntime-node: each such input
 * becomes float32 followed by `Cast(to=BFLOAT16)`, each such output is produced through
 * `Cast(to=FLOAT)`. The model computes exactly as before (the server rounds inputs to bfloat16
 * first, so the input Cast is exact, and bfloat16 → float32 is exact); only its edges change type.
 * Returns undefined when there is nothing to do or the model's opset predates bfloat16 Cast (13).
 * Names used inside control-flow subgraphs (If/Loop bodies) are not rewritten.
 */
export function rewriteBf16Io(modelBytes: Uint8Array): { bytes: Uint8Array; inputs: string[]; outputs: string[] } | undefined {
  const BF16 = DT.BFLOAT16;
  const FLOAT = DT.FLOAT;
  const m = onnx.ModelProto.decode(modelBytes);
  const g = m.graph;
  if (!g) return undefined;
  const opset = (m.opsetImport ?? []).find((o) => !o.domain)?.version;
  if (opset === undefined || opset === null || Number(opset) < 13) return undefined;
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const inputs = (g.input ?? []).filter((v) => !inits.has(v.name) && v.type?.tensorType?.elemType === BF16);
  const outputs = (g.output ?? []).filter((v) => v.type?.tensorType?.elemType === BF16);
  if (inputs.length === 0 && outputs.length === 0) return undefined;
  const inNames = new Set(inputs.map((v) => String(v.name)));
  const outNames = new Set(outputs.map((v) => String(v.name)));
  if ([...inNames].some((n) => outNames.has(n))) return undefined; // an input passed straight through as an output
  const renamed = (n: string) => `${n}${BF16_SUFFIX}`;
  const cast = (from: string, to: string, type: number) =>
    onnx.NodeProto.create({
      opType: 'Cast',
      input: [from],
      output: [to],
      name: `ghosteam_cast_${to}`,
      attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: type }],
    });
  const nodes = g.node ?? [];
  for (const node of nodes) {
    node.input = (node.input ?? []).map((n) => (inNames.has(n) || outNames.has(n) ? renamed(n) : n));
    node.output = (node.output ?? []).map((n) => (outNames.has(n) ? renamed(n) : n));
  }
  for (const v of g.valueInfo ?? []) if (v.name && (inNames.has(v.name) || outNames.has(v.name))) v.name = renamed(v.name);
  g.node = [...[...inNames].map((n) => cast(n, renamed(n), BF16)), ...nodes, ...[...outNames].map((n) => cast(renamed(n), n, FLOAT))];
  for (const v of [...inputs, ...outputs]) v.type!.tensorType!.elemType = FLOAT;
  return { bytes: onnx.ModelProto.encode(m).finish(), inputs: [...inNames], outputs: [...outNames] };
}

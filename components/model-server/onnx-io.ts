/**
 * Reading a model's graph inputs and outputs straight from the ONNX protobuf, for the one case
 * where onnxruntime-node can't tell us: it refuses to create a session whose inputs or outputs
 * have a type its JavaScript side has no name for (bfloat16, float8, complex) and says only
 * `Unsupported data type: 16`. This names the tensors and the type, and says what to do.
 */
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const DT = onnx.TensorProto.DataType as unknown as Record<string, number>;

/** ONNX TensorProto element type number → its name (16 → 'BFLOAT16'). */
export function onnxTypeName(code: number): string {
  for (const k of Object.keys(DT)) if (DT[k] === code) return k;
  return `type ${code}`;
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

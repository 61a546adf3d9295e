/**
 * Small ONNX graphs for the datatype, V1 and repository tests, written with onnx-proto (the
 * project's dense-net writer in components/onnx is FP32-only): an FP16 model that computes
 * y = x * w + b in half precision, a model with bfloat16 inputs and outputs, a float8 identity
 * (onnxruntime-node can't load it), and a two-input model for V1 predict.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { toHalfBits } from '../../components/model-server/tensors.ts';

const { onnx } = onnxProto;
const DT = onnx.TensorProto.DataType;

type Dim = number | string;
function vi(name: string, elemType: number, dims: readonly Dim[]) {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

function write(path: string, graph: Record<string, unknown>): string {
  const bytes = onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 9,
      opsetImport: [{ domain: '', version: 19 }],
      producerName: 'ghosteam-test',
      graph,
    }),
  ).finish();
  writeFileSync(path, bytes);
  return path;
}

function halfTensor(name: string, values: readonly number[]) {
  const raw = new Uint8Array(values.length * 2);
  const dv = new DataView(raw.buffer);
  values.forEach((v, i) => dv.setUint16(i * 2, toHalfBits(v), true));
  return { name, dataType: DT.FLOAT16, dims: [values.length], rawData: raw };
}

/** Weights of the FP16 model: y[r, j] = x[r, j] * FP16_W[j] + FP16_B[j], each op rounding to half. */
export const FP16_W = [0.5, -3, 1.25];
export const FP16_B = [0.1, 2, -7];

/**
 * Inputs: x FP16 [N, 3]. Outputs: y FP16 [N, 3] = x * w + b (Mul then Add, in FP16), and
 * x32 = Cast(x, float32), y32 = Cast(y, float32): the exact values of the half tensors, as FP32.
 */
export function writeFp16Model(dir: string): string {
  return write(join(dir, 'affine-fp16.onnx'), {
    name: 'affine_fp16',
    initializer: [halfTensor('w', FP16_W), halfTensor('b', FP16_B)],
    node: [
      { opType: 'Mul', input: ['x', 'w'], output: ['xw'] },
      { opType: 'Add', input: ['xw', 'b'], output: ['y'] },
      { opType: 'Cast', input: ['x'], output: ['x32'], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DT.FLOAT }] },
      { opType: 'Cast', input: ['y'], output: ['y32'], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DT.FLOAT }] },
    ],
    input: [vi('x', DT.FLOAT16, ['N', 3])],
    output: [vi('y', DT.FLOAT16, ['N', 3]), vi('x32', DT.FLOAT, ['N', 3]), vi('y32', DT.FLOAT, ['N', 3])],
  });
}

/** Weights of the BF16 model: y[r, j] = bf16(float32(x[r, j]) * BF16_W[j]). */
export const BF16_W = [0.5, -3];

/**
 * A model with bfloat16 edges, as models exported for bf16 serving look: x BF16 [N, 2] → Cast to
 * float32 → Mul by BF16_W → Cast to bfloat16 → y BF16 [N, 2]; x32 = Cast(x, float32) shows the
 * exact values it received. onnxruntime's CPU provider has Cast kernels for bfloat16 (few others).
 */
export function writeBf16Model(dir: string): string {
  const to = (t: number) => [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: t }];
  return write(join(dir, 'scale-bf16.onnx'), {
    name: 'scale_bf16',
    initializer: [{ name: 'w', dataType: DT.FLOAT, dims: [2], floatData: BF16_W }],
    node: [
      { opType: 'Cast', input: ['x'], output: ['x32'], attribute: to(DT.FLOAT) },
      { opType: 'Mul', input: ['x32', 'w'], output: ['y32'] },
      { opType: 'Cast', input: ['y32'], output: ['y'], attribute: to(DT.BFLOAT16) },
    ],
    input: [vi('x', DT.BFLOAT16, ['N', 2])],
    output: [vi('y', DT.BFLOAT16, ['N', 2]), vi('x32', DT.FLOAT, ['N', 2])],
  });
}

/** An identity on float8 (FLOAT8E4M3FN = 17, newer than onnx-proto's enum) tensors: onnxruntime-node 1.30 can't load it. */
export function writeFloat8Model(dir: string): string {
  return write(join(dir, 'identity-f8.onnx'), {
    name: 'identity_f8',
    node: [{ opType: 'Identity', input: ['x'], output: ['y'] }],
    input: [vi('x', 17, ['N', 2])],
    output: [vi('y', 17, ['N', 2])],
  });
}

/**
 * Two inputs: 'features' FP32 [N, 2] and 'offset' INT64 [N, 1]. Outputs: 'shifted' FP32 [N, 2] =
 * features + offset, and 'doubled' INT64 [N, 1] = offset * 2.
 */
export function writeTwoInputModel(dir: string): string {
  return write(join(dir, 'two-input.onnx'), {
    name: 'two_input',
    node: [
      { opType: 'Cast', input: ['offset'], output: ['offset_f'], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DT.FLOAT }] },
      { opType: 'Add', input: ['features', 'offset_f'], output: ['shifted'] },
      { opType: 'Add', input: ['offset', 'offset'], output: ['doubled'] },
    ],
    input: [vi('features', DT.FLOAT, ['N', 2]), vi('offset', DT.INT64, ['N', 1])],
    output: [vi('shifted', DT.FLOAT, ['N', 2]), vi('doubled', DT.INT64, ['N', 1])],
  });
}

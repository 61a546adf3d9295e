/**
 * The demo's deliberately broken v3: the healthy v2 graph plus a per-amount lookup table that is
 * one bucket short. The bucket is the integer part of `amount_log`; the table covers 0..4, so every
 * request with an amount of e^5 (≈ 148) or more makes onnxruntime's Gather fail ("indices element
 * out of data bounds") and the server answers 500. Smaller amounts are answered exactly as v2
 * answers them (the table holds zeros). Nothing is faked: the canary's error rate is what real
 * requests to this real ONNX model produce.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export function brokenLookupModel(healthy: Uint8Array, featureIndex: number, buckets = 5): Uint8Array {
  const m = onnx.ModelProto.decode(healthy);
  const g = m.graph;
  if (!g?.input || !g.output || !g.node || !g.initializer || g.input.length !== 1 || g.output.length !== 1)
    throw new Error('brokenLookupModel: expects a graph with one input and one output (as export-onnx writes)');
  const input = g.input[0].name!;
  const output = g.output[0].name!;
  const nodes = g.node;
  for (const n of nodes) n.output = (n.output ?? []).map((o) => (o === output ? 'healthy_output' : o));
  const i64 = (name: string, values: number[]) => ({
    name,
    dims: [values.length],
    dataType: onnx.TensorProto.DataType.INT64,
    rawData: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer),
  });
  g.initializer.push(
    onnx.TensorProto.create(i64('lookup_starts', [featureIndex])),
    onnx.TensorProto.create(i64('lookup_ends', [featureIndex + 1])),
    onnx.TensorProto.create(i64('lookup_axes', [1])),
    onnx.TensorProto.create({ name: 'lookup_table', dims: [buckets], dataType: onnx.TensorProto.DataType.FLOAT, floatData: new Array(buckets).fill(0) }),
  );
  const node = (opType: string, inputs: string[], out: string, attribute: onnxProto.onnx.IAttributeProto[] = []) =>
    nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: [out], name: `lookup_${opType.toLowerCase()}`, attribute }));
  node('Slice', [input, 'lookup_starts', 'lookup_ends', 'lookup_axes'], 'lookup_amount');
  node('Cast', ['lookup_amount'], 'lookup_bucket', [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: onnx.TensorProto.DataType.INT64 }]);
  node('Gather', ['lookup_table', 'lookup_bucket'], 'lookup_adjust', [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }]);
  node('Add', ['healthy_output', 'lookup_adjust'], output);
  m.docString = `${m.docString ?? ''} (demo v3: broken amount lookup)`.trim();
  return onnx.ModelProto.encode(m).finish();
}

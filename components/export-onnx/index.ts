/**
 * export-onnx: the trained model artifact → a real ONNX model (opset 17) written by the ONNX
 * writer in components/onnx. Input name 'input' [N, k] float32, output 'probability' [N, 1] unless
 * the params say otherwise.
 *
 * Params: inputName, outputName (optional).
 * Output: `onnx` (the .onnx file). Output params: digest ('sha256:…'), features (the input's column order).
 */
import { createHash } from 'node:crypto';
import writeFileAtomic from 'write-file-atomic';
import { defineComponent } from '../component.ts';
import { denseNetToOnnx } from '../onnx/index.ts';
import { Params } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { readModel } from '../train-tabular/model.ts';

export const exportOnnx = defineComponent({
  name: 'export-onnx',
  version: '1',
  description: 'Writes the trained model as an ONNX model (opset 17) for onnxruntime and KServe',
  inputs: [{ name: 'model', kind: 'model' }],
  outputs: [{ name: 'onnx', kind: 'model', description: 'model.onnx' }],
  outputParams: ['digest', 'features'],
  params: PARAMS['export-onnx'],
  async run(ctx) {
    const p = new Params('export-onnx', ctx, PARAMS['export-onnx']);
    const m = await readModel(p.input('model'));
    const net = {
      ...m.net,
      ...(p.has('inputName') ? { inputName: p.string('inputName') } : {}),
      ...(p.has('outputName') ? { outputName: p.string('outputName') } : {}),
    };
    const bytes = denseNetToOnnx(net, { modelName: `ghosteam-${m.net.kind}` });
    await writeFileAtomic(p.output('onnx'), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const digest = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
    ctx.log(`wrote ONNX model (${bytes.length} bytes, ${m.net.featureNames.length} inputs) ${digest}`);
    ctx.setOutput('digest', digest);
    ctx.setOutput('features', [...m.net.featureNames]);
  },
});

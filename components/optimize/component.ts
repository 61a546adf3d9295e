/**
 * optimize-onnx: `ghosteam optimize` as a pipeline step. A model in (an upstream ONNX artifact, or a
 * registry reference such as `fraud@champion`), the optimized model and its report out; the gate
 * (`maxMetricDrop`, with a validation dataset and its label) fails the step, terminally, when the
 * metric drops more than the tolerance, so nothing downstream runs and nothing is registered.
 * With `name`, the optimized model is registered as a new version whose lineage names the
 * original (`lineage.derivedFrom` 'name@version', `lineage.derivedFromDigest`), beside the run's
 * own lineage (run id, pipeline, git commit) as `register` records it.
 *
 * Inputs:
 *   model       optional: the ONNX model (export-onnx's `onnx`); else param `model`
 *   validation  optional: a dataset (split's `test`) scored through both models
 * Params:
 *   model          a registry reference or path when there is no model input (fraud@champion, models:/fraud/3)
 *   modelName      the name the input artifact is reported under (default 'model')
 *   mode           graph (graph optimizations only, the default), int8 or fp16
 *   level          onnxruntime graph optimization level: disabled, basic (default), extended, all
 *   label, features, metric   the validation dataset's label, the model's feature columns, the metric
 *   maxMetricDrop  refuse (fail the step) when the metric gets worse by more than this
 *   dims           sizes of symbolic input dimensions other than the batch, for the latency report
 *   latency        measure latency at batch 1 and 64 (default true)
 *   threads        onnxruntime intra-op threads for the latency measurement (default 1)
 *   name, alias, tags, registry   register the optimized model (as `register` does)
 * Outputs: optimized (the .onnx), report (the optimize report, with a flat `metrics` object
 *   that `gate` and `register` read).
 * Output params: accepted, sizeRatio, metricDelta, version, modelRef.
 */
import { copyFile, mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { TerminalFailure } from '../../api/failure.ts';
import { defineComponent } from '../component.ts';
import { ParamError, Params } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { lineageFrom } from '../register/index.ts';
import { openRegistry } from '../registry/index.ts';
import type { ModelRegistry } from '../registry/types.ts';
import { OPTIMIZE_METRICS, type OptimizeMetric } from './evaluate.ts';
import { MetricDropError, optimizeModel, reportPathFor, type OptimizeReport } from './index.ts';
import { OptimizeError } from './int8.ts';
import { registerOptimized, registrationLine, reportMetrics } from './register.ts';

export { reportMetrics };

function registryFrom(r: string | undefined): ModelRegistry {
  if (!r) return openRegistry();
  return /^https?:\/\//.test(r) ? openRegistry({ trackingUri: r }) : openRegistry({ dir: r });
}

export const optimizeOnnxComponent = defineComponent({
  name: 'optimize-onnx',
  version: '1',
  description:
    'Optimize an ONNX model (graph optimizations, INT8 or FP16) with a report and a metric-drop gate; optionally register it with lineage to the original',
  inputs: [
    { name: 'model', kind: 'model', optional: true, description: 'The ONNX model (else param model: a registry reference)' },
    { name: 'validation', kind: 'dataset', optional: true, description: 'Scored through both models for the metric delta' },
  ],
  outputs: [
    { name: 'optimized', kind: 'model', description: 'The optimized .onnx' },
    { name: 'report', kind: 'metrics', description: 'Sizes, latency at batch 1 and 64, metric delta' },
  ],
  outputParams: ['accepted', 'sizeRatio', 'metricDelta', 'version', 'modelRef'],
  params: PARAMS['optimize-onnx'],
  async run(ctx) {
    const p = new Params('optimize-onnx', ctx, PARAMS['optimize-onnx']);
    const input = p.optionalInput('model');
    const ref = p.string('model', undefined);
    if (input && ref)
      throw new ParamError("optimize-onnx: both input 'model' and param 'model' are given; pass the upstream artifact or a registry reference, not both");
    if (!input && !ref)
      throw new ParamError("optimize-onnx: no model; connect an upstream model artifact (inputs.model) or set param 'model' (e.g. fraud@champion)");
    const mode = p.oneOf('mode', ['graph', 'int8', 'fp16'] as const, 'graph');
    const level = p.oneOf('level', ['disabled', 'basic', 'extended', 'all'] as const, 'basic');
    const metric = p.string('metric', undefined) as OptimizeMetric | undefined;
    if (metric !== undefined && !OPTIMIZE_METRICS.includes(metric))
      throw new ParamError(`optimize-onnx: param 'metric' must be one of ${OPTIMIZE_METRICS.join(', ')}, got '${metric}'`);
    const validationPath = p.optionalInput('validation');
    const label = p.string('label', undefined);
    const maxMetricDrop = p.has('maxMetricDrop') ? p.number('maxMetricDrop', undefined, { min: 0 }) : undefined;
    if (maxMetricDrop !== undefined && !(validationPath && label))
      throw new ParamError(
        "optimize-onnx: param 'maxMetricDrop' needs a validation dataset with a label: connect inputs.validation (e.g. split's test) and set param 'label'",
      );
    if (label !== undefined && !validationPath)
      throw new ParamError("optimize-onnx: param 'label' names a column of the validation dataset; connect inputs.validation");
    const dims = p.json<Record<string, number>>('dims', {});
    if (typeof dims !== 'object' || dims === null || Array.isArray(dims) || Object.values(dims).some((d) => !Number.isInteger(d) || d < 1))
      throw new ParamError(`optimize-onnx: param 'dims' must be an object of positive integer sizes, e.g. {"seq": 128}; got ${JSON.stringify(dims)}`);
    const name = p.string('name', undefined);
    const registryParam = p.string('registry', undefined);
    const registry = ref || name ? registryFrom(registryParam) : undefined;

    // An upstream artifact is a file without an extension: give the optimizer a NAME=path spec.
    let model = ref!;
    if (input) {
      const modelName = p.string('modelName', 'model');
      const link = join(ctx.workDir, 'original.onnx');
      await mkdir(ctx.workDir, { recursive: true });
      await symlink(input, link).catch(() => copyFile(input, link));
      model = `${modelName}=${link}`;
    }
    // The validation dataset between steps is Arrow IPC (Feather v2).
    const out = join(ctx.workDir, 'optimized.onnx');
    let report: OptimizeReport;
    try {
      report = await optimizeModel({
        model,
        registry,
        out,
        int8: mode === 'int8',
        fp16: mode === 'fp16',
        level,
        ...(validationPath
          ? { validation: { file: validationPath, format: 'arrow' as const, label, features: p.has('features') ? p.list('features') : undefined, metric } }
          : {}),
        ...(maxMetricDrop !== undefined ? { maxMetricDrop } : {}),
        dims,
        noLatency: !p.boolean('latency', true),
        threads: p.number('threads', 1, { integer: true, min: 1 }),
        overwrite: true,
        log: (l) => ctx.log(l),
      });
    } catch (e) {
      if (e instanceof MetricDropError) {
        ctx.setOutput('accepted', false);
        throw new TerminalFailure('GateRejected', `optimize-onnx: ${e.message}`);
      }
      if (e instanceof OptimizeError) throw new ParamError(`optimize-onnx: ${e.message}`, 'InvalidInput');
      throw e;
    }
    await copyFile(out, p.output('optimized'));
    const metrics = reportMetrics(report);
    const doc = { ...(JSON.parse(await readFile(reportPathFor(out), 'utf8')) as object), metrics };
    await writeFileAtomic(p.output('report'), JSON.stringify(doc, null, 2) + '\n');
    ctx.setOutput('accepted', true);
    ctx.setOutput('sizeRatio', report.sizeBytes.ratio);
    ctx.setOutput('metricDelta', report.validation?.delta ?? null);
    ctx.log(
      `${report.steps.join(' + ') || 'no change'}: ${report.sizeBytes.original} → ${report.sizeBytes.optimized} bytes` +
        (report.validation?.metric ? `, ${report.validation.metric} ${report.validation.original} → ${report.validation.optimized}` : ''),
    );

    if (name && registry) {
      const tags = p.json<Record<string, unknown>>('tags', {});
      const alias = p.string('alias', undefined);
      const mv = await registerOptimized(registry, name, p.output('optimized'), report, {
        lineage: lineageFrom(ctx.params, process.env),
        tags: Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, String(v)])),
        ...(alias ? { alias } : {}),
      });
      ctx.log(registrationLine(name, mv));
      ctx.setOutput('version', mv.version);
      ctx.setOutput('modelRef', `${name}@${mv.version}`);
    }
  },
});

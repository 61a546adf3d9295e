/**
 * `ghosteam optimize`: onnxruntime's graph optimizations, INT8 dynamic quantization or FP16
 * conversion of an ONNX model, written as a standard ONNX file with a report (size, latency at
 * batch 1 and 64, metric delta on a validation table) beside it; refused when the metric drops
 * more than --max-metric-drop.
 *
 *   ghosteam optimize --model ./model.onnx --out model.int8.onnx --int8 --validation valid.csv --label is_fraud --max-metric-drop 0.01
 *   ghosteam optimize --model fraud@champion --out fraud.int8.onnx --int8 --register fraud --alias challenger
 */
import type { Command } from 'commander';
import { intArg } from '../args.ts';
import { describeNodes } from '../../components/optimize/describe.ts';

interface OptimizeFlags {
  model: string;
  out: string;
  fp16?: boolean;
  int8?: boolean;
  level: string;
  validation?: string;
  label?: string;
  features?: string;
  metric?: string;
  maxMetricDrop?: string;
  dim: string[];
  latency: boolean;
  threads?: string;
  overwrite?: boolean;
  json?: boolean;
  registryDir?: string;
  mlflowUri?: string;
  register?: string;
  alias?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function register(program: Command): void {
  program
    .command('optimize')
    .description('Optimize an ONNX model (onnxruntime graph optimizations, --int8 dynamic quantization or --fp16) into a standard ONNX file, with a report')
    .requiredOption('-m, --model <spec>', 'the model: ./model.onnx, an MLflow model dir, fraud@champion, fraud@3, models:/fraud/3 (registry)')
    .requiredOption('-o, --out <file>', 'the optimized .onnx file (its report goes to <file>.optimize.json); refused if it exists, unless --overwrite')
    .option('--int8', 'INT8 dynamic quantization of MatMul/Gemm weights (as onnxruntime.quantization.quantize_dynamic)')
    .option('--fp16', 'float16 weights and compute, float32 inputs and outputs kept')
    .option(
      '--level <level>',
      "onnxruntime graph optimization level: disabled, basic (standard ONNX ops only), extended or all (onnxruntime's own ops)",
      'basic',
    )
    .option('--validation <table>', 'score a validation table (.csv, .jsonl, .parquet, .arrow) through both models and report the metric delta')
    .option('--label <column>', 'the validation table’s label column')
    .option('--features <cols>', "comma-separated columns feeding the model's one [N, k] input (default: the model's recorded feature names)")
    .option(
      '--metric <name>',
      'roc_auc, accuracy, rmse or mae (default: from the output: roc_auc for a probability, accuracy for several classes, rmse for regression)',
    )
    .option('--max-metric-drop <x>', 'refuse (write nothing, exit 1) when the metric gets worse by more than this')
    .option('--dim <name=size>', 'size of a symbolic input dimension other than the batch, for the latency report (repeatable)', collect, [])
    .option('--no-latency', 'skip the latency measurement')
    .option('--threads <n>', 'onnxruntime intra-op threads for the latency measurement', '1')
    .option('--overwrite', 'replace an existing --out (only once the new model is complete)')
    .option('--json', 'print the report as JSON')
    .option(
      '--register <name>',
      'register the optimized model as a new version of this model, with lineage to the original (derivedFrom: its name@version or file, and sha256); the same bytes again return the version already there',
    )
    .option('--alias <alias>', 'with --register: point this alias (e.g. challenger) at the registered version')
    .option('--registry-dir <dir>', 'local registry directory for registry references (default: $GHOSTEAM_REGISTRY_DIR or .ghosteam/registry)')
    .option('--mlflow-uri <url>', 'use the MLflow registry at this tracking URI (default: $MLFLOW_TRACKING_URI)')
    .action(async (flags: OptimizeFlags) => {
      const { optimizeModel, MetricDropError, GRAPH_LEVELS, OPTIMIZE_METRICS } = await import('../../components/optimize/index.ts');
      const { parseModelSpec } = await import('../../components/model-server/models.ts');
      const level = flags.level as (typeof GRAPH_LEVELS)[number];
      if (!GRAPH_LEVELS.includes(level)) throw new Error(`--level expects one of ${GRAPH_LEVELS.join(', ')}; got '${flags.level}'`);
      const metric = flags.metric as (typeof OPTIMIZE_METRICS)[number] | undefined;
      if (metric !== undefined && !OPTIMIZE_METRICS.includes(metric))
        throw new Error(`--metric expects one of ${OPTIMIZE_METRICS.join(', ')}; got '${flags.metric}'`);
      if (flags.label !== undefined && flags.validation === undefined)
        throw new Error('--label names a column of the validation table; pass --validation FILE too');
      let maxMetricDrop: number | undefined;
      if (flags.maxMetricDrop !== undefined) {
        maxMetricDrop = Number(flags.maxMetricDrop);
        if (flags.maxMetricDrop.trim() === '' || !(maxMetricDrop >= 0)) throw new Error(`--max-metric-drop expects a number ≥ 0, got '${flags.maxMetricDrop}'`);
      }
      const dims: Record<string, number> = {};
      for (const d of flags.dim) {
        const m = /^([^=]+)=(\d+)$/.exec(d);
        if (!m || Number(m[2]) < 1) throw new Error(`--dim expects NAME=SIZE with a positive size (e.g. --dim seq=128), got '${d}'`);
        dims[m[1]] = Number(m[2]);
      }
      if (flags.alias !== undefined && flags.register === undefined)
        throw new Error('--alias points an alias at the registered version; pass --register NAME too');
      const { checkAlias, checkModelName } = await import('../../components/registry/errors.ts');
      const flagged = (flag: string, check: () => void): void => {
        try {
          check();
        } catch (e) {
          throw new Error(`${flag}: ${(e as Error).message}`);
        }
      };
      if (flags.register !== undefined) flagged('--register', () => checkModelName(flags.register!));
      if (flags.alias !== undefined) flagged('--alias', () => checkAlias(flags.alias!));
      const spec = parseModelSpec(flags.model);
      const registry =
        'ref' in spec || flags.register !== undefined
          ? (await import('../../components/registry/index.ts')).openRegistry({ dir: flags.registryDir, trackingUri: flags.mlflowUri })
          : undefined;
      const features = flags.features
        ?.split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      try {
        const r = await optimizeModel({
          model: flags.model,
          registry,
          out: flags.out,
          fp16: flags.fp16 === true,
          int8: flags.int8 === true,
          level,
          validation: flags.validation ? { file: flags.validation, label: flags.label, features, metric } : undefined,
          maxMetricDrop,
          dims,
          noLatency: !flags.latency,
          threads: intArg('--threads', flags.threads ?? '1', 1),
          overwrite: flags.overwrite === true,
          log: flags.json ? undefined : (l) => process.stderr.write(`optimize: ${l}\n`),
        });
        let registered: Awaited<ReturnType<typeof import('../../components/optimize/register.ts').registerOptimized>> | undefined;
        if (flags.register !== undefined && registry) {
          const { registerOptimized } = await import('../../components/optimize/register.ts');
          const { lineageFrom } = await import('../../components/register/index.ts');
          registered = await registerOptimized(registry, flags.register, flags.out, r, {
            lineage: lineageFrom({ reason: 'manual' }, process.env),
            ...(flags.alias ? { alias: flags.alias } : {}),
          });
        }
        if (flags.json) process.stdout.write(JSON.stringify(registered ? { ...r, registered: { name: flags.register, ...registered } } : r) + '\n');
        else {
          process.stdout.write(summary(r) + `wrote ${flags.out} (report in ${flags.out}.optimize.json)\n`);
          if (registered) process.stdout.write(`${(await import('../../components/optimize/register.ts')).registrationLine(flags.register!, registered)}\n`);
        }
      } catch (e) {
        if (e instanceof MetricDropError && flags.json) process.stdout.write(JSON.stringify(e.report) + '\n');
        else if (e instanceof MetricDropError) process.stdout.write(summary(e.report));
        throw e;
      }
    });
}

type Report = Awaited<ReturnType<typeof import('../../components/optimize/index.ts').optimizeModel>>;

function summary(r: Report): string {
  const n = (x: number, d = 3) => Number(x.toPrecision(d)).toString();
  const lines = [`model ${r.model.name} version ${r.model.version}: ${r.steps.join(' + ') || 'no change'}`];
  lines.push(`  size      ${r.sizeBytes.original.toLocaleString('en-US')} → ${r.sizeBytes.optimized.toLocaleString('en-US')} bytes (${n(r.sizeBytes.ratio)}×)`);
  if (r.latencyMs) {
    const { original: a, optimized: b } = r.latencyMs;
    const speed = (before: number, after: number): string => (after <= before ? `${n(before / after)}× faster` : `${n(after / before)}× slower`);
    lines.push(`  batch 1   ${n(a.batch1)} → ${n(b.batch1)} ms (${speed(a.batch1, b.batch1)})`);
    lines.push(`  batch 64  ${n(a.batch64)} → ${n(b.batch64)} ms (${speed(a.batch64, b.batch64)})`);
  }
  const v = r.validation;
  if (v) {
    if (v.metric) lines.push(`  ${v.metric.padEnd(9)} ${n(v.original!, 6)} → ${n(v.optimized!, 6)} (delta ${n(v.delta!, 3)}) on ${v.rows} rows of ${v.file}`);
    for (const [o, d] of Object.entries(v.maxAbsDiff)) lines.push(`  output '${o}' moved at most ${n(d)}`);
    if (v.agreement !== undefined) lines.push(`  same predicted class on ${n(v.agreement * 100, 4)}% of rows`);
  }
  if (r.int8?.skipped.length) lines.push(`  left in float: ${describeNodes(r.int8.skipped)}`);
  if (r.fp16?.kept.length) lines.push(`  kept in float32: ${describeNodes(r.fp16.kept)} (every node in ${r.fp16.kept.length > 1 ? 'the report' : 'it'})`);
  return lines.join('\n') + '\n';
}

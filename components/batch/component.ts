/**
 * batch-predict: `ghosteam predict` as a pipeline step (what a `BatchPrediction` construct's
 * Workflow/CronWorkflow runs). A table in (a file, an `s3://` object, an `https://` resource, a
 * `postgres://` query, or an upstream dataset), the model's predictions with the id columns out,
 * written atomically, with lineage.
 *
 * Inputs:
 *   input   optional: an upstream dataset (Arrow IPC); else param `input`
 * Params:
 *   model          fraud@champion, fraud@3, models:/fraud/3 (registry) or a path
 *   input          a table file (.csv, .jsonl, .parquet, .arrow), s3://bucket/key, https://… or
 *                  postgres://host/db (with query); see ./remote.ts
 *   format         the input's format when its name does not tell (csv, jsonl, parquet, arrow)
 *   query          SQL for a postgres:// input (credentials from PGUSER/PGPASSWORD, by reference);
 *                  {date}, {datetime}, … render from runTime as in the paths
 *   headers        HTTP headers for an https:// input, each {"Name": "env:VAR"} (never a literal)
 *   output         the predictions: a file path or s3://bucket/key (format from the extension);
 *                  an existing one is refused unless `overwrite`
 *   idColumns      input columns copied to the output (default: every column that is not a feature)
 *   features       the columns of the model's one [N, k] input (default: the model's recorded names)
 *   payloadLog, payloadSample   also record each batch in this payload log (the drift monitor reads it)
 *   runTime        the time {date}, {datetime}, {year}, {month}, {day}, {hour} in input and output
 *                  render from (RFC 3339; default: when the step starts), see ./placeholders.ts
 *   batchRows, threads, overwrite, registry
 * Output: lineage (the `<output>.lineage.json` sidecar: model version and digest, input digest, rows).
 * Output params: rows, modelVersion, inputDigest, outputDigest, output.
 *
 * A remote input is copied into the task's scratch folder first (a query's rows as an Arrow dataset);
 * an s3:// output is written there, then uploaded in one PUT (an object appears whole or not at
 * all), its sidecar after it. The lineage names the input and output as given, not the copies.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, resolve as resolvePath } from 'node:path';
import { defineComponent } from '../component.ts';
import { ParamError, Params } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { openRegistry } from '../registry/index.ts';
import { parseModelSpec } from '../model-server/models.ts';
import { isS3Url, parseS3Url } from '../ingest/s3.ts';
import { localFiles } from './remote.ts';
import { BatchPredictError, formatOfPath, type TableFormat } from './plan.ts';
import { predictFile } from './predict.ts';
import { parseRunTime, renderPath, renderText } from './placeholders.ts';

/** A JSON param that must map names to strings (headers). */
function stringRecord(v: unknown, name: string): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string'))
    throw new ParamError(`batch-predict: param '${name}' must map header names to references, e.g. {"Authorization": "env:API_TOKEN"}`);
  return v as Record<string, string>;
}

/** predictFile's messages name the CLI's flags; a step is fixed through its params. */
function asParamFix(message: string): string {
  return message.replace('pass --overwrite', 'set param overwrite: true');
}

export const batchPredictComponent = defineComponent({
  name: 'batch-predict',
  version: '1',
  description:
    'Batch inference: a table (file, s3:// object, https:// resource, postgres:// query or upstream dataset) through a model into predictions with its id columns, atomically, with lineage',
  inputs: [{ name: 'input', kind: 'dataset', optional: true, description: 'An upstream dataset (else param input)' }],
  outputs: [{ name: 'lineage', kind: 'file', description: 'Model version and digest, input digest, rows, output columns' }],
  outputParams: ['rows', 'modelVersion', 'inputDigest', 'outputDigest', 'output'],
  fileParams: ['input'],
  params: PARAMS['batch-predict'],
  async run(ctx) {
    const p = new Params('batch-predict', ctx, PARAMS['batch-predict']);
    const model = p.string('model');
    let spec;
    try {
      spec = parseModelSpec(model);
    } catch (e) {
      throw new ParamError(`batch-predict: param 'model': ${(e as Error).message}`);
    }
    const artifact = p.optionalInput('input');
    // Time placeholders ({date}, …) rendered once, from runTime or now, so every run has its own path.
    const runTimeParam = p.string('runTime', undefined);
    let inputParam: string | undefined;
    let output: string;
    let query: string | undefined;
    try {
      const at = runTimeParam ? parseRunTime(runTimeParam) : new Date();
      const raw = p.string('input', undefined);
      inputParam = raw === undefined ? undefined : renderPath(raw, at);
      output = renderPath(p.string('output'), at);
      const q = p.string('query', undefined);
      query = q === undefined ? undefined : renderText(q, at);
    } catch (e) {
      throw new ParamError(`batch-predict: ${(e as Error).message}`);
    }
    if (artifact && inputParam) throw new ParamError("batch-predict: both input 'input' (an upstream dataset) and param 'input' are given; pass one");
    if (!artifact && !inputParam)
      throw new ParamError("batch-predict: no input; set param 'input' (a file, s3://bucket/key, https://… or postgres://…) or connect an upstream dataset");
    const read = {
      format: p.string('format', undefined) as TableFormat | undefined,
      query,
      headers: p.has('headers') ? stringRecord(p.json('headers'), 'headers') : undefined,
    };
    if (artifact && (read.format || read.query || read.headers))
      throw new ParamError(
        'batch-predict: params format, query and headers say how to read param input; the upstream dataset is read as it is, so leave them out',
      );
    const overwrite = p.boolean('overwrite', false);
    // The output's format from its extension, checked before anything is read (localFiles checks the input's).
    try {
      formatOfPath(output);
      if (isS3Url(output)) parseS3Url(output);
      if (inputParam && isS3Url(inputParam)) parseS3Url(inputParam);
    } catch (e) {
      throw new ParamError(`batch-predict: ${(e as Error).message}`);
    }
    const registry =
      'ref' in spec
        ? (() => {
            const r = p.string('registry', undefined);
            if (!r) return openRegistry();
            return /^https?:\/\//.test(r) ? openRegistry({ trackingUri: r }) : openRegistry({ dir: r });
          })()
        : undefined;
    let files;
    try {
      files = await localFiles(artifact ?? inputParam!, output, { overwrite, read: artifact ? { format: 'arrow' } : read, log: (l) => ctx.log(l) });
    } catch (e) {
      if (e instanceof BatchPredictError) throw new ParamError(`batch-predict: ${asParamFix(e.message)}`, 'InvalidInput');
      throw e;
    }
    if (!isS3Url(output)) await mkdir(dirname(resolvePath(output)), { recursive: true });
    try {
      const r = await predictFile({
        model,
        registry,
        input: files.input,
        output: files.output,
        inputFormat: artifact ? 'arrow' : files.inputFormat,
        ...(files.remote ? { inputLabel: files.inputLabel } : {}),
        ...(files.output !== output ? { outputLabel: output } : {}),
        ...(p.has('idColumns') ? { keep: p.list('idColumns') } : {}),
        ...(p.has('features') ? { features: p.list('features') } : {}),
        ...(p.has('payloadLog') ? { payloadLog: p.string('payloadLog'), payloadSample: p.number('payloadSample', 1, { min: 0, max: 1 }) } : {}),
        ...(p.has('batchRows') ? { batchRows: p.number('batchRows', undefined, { integer: true, min: 1 }) } : {}),
        ...(p.has('threads') ? { threads: p.number('threads', undefined, { integer: true, min: 1 }) } : {}),
        overwrite,
        signal: ctx.signal,
        onProgress: (pr) => ctx.progress({ fraction: pr.fraction, message: `${pr.rows} rows` }),
      });
      await files.publish();
      await copyFile(r.lineagePath, p.output('lineage'));
      ctx.log(
        `${r.rows} rows in ${r.seconds.toFixed(2)} s (${Math.round(r.rowsPerSec)} rows/s) with ${r.lineage.model.name} version ${r.lineage.model.version} → ${output}`,
      );
      ctx.setOutput('rows', r.rows);
      ctx.setOutput('modelVersion', r.lineage.model.version);
      ctx.setOutput('inputDigest', r.lineage.input.digest);
      ctx.setOutput('outputDigest', r.lineage.output.digest);
      ctx.setOutput('output', output);
    } catch (e) {
      // A wrong model, input or output is the user's to fix: terminal, never retried.
      if (e instanceof BatchPredictError) throw new ParamError(`batch-predict: ${asParamFix(e.message)}`, 'InvalidInput');
      throw e;
    } finally {
      await files.cleanup();
    }
  },
});

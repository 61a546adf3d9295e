/**
 * `ghosteam predict`: batch inference. Streams a CSV, JSON Lines, Parquet or Arrow table through an
 * ONNX model in large batches and writes the kept input columns plus the model's outputs,
 * atomically, with a lineage sidecar (`<output>.lineage.json`). The table is a file, an s3:// object,
 * an https:// resource (--header NAME=env:VAR) or a postgres:// query (--query), as ingest reads them.
 *
 *   ghosteam predict --model fraud@champion --input today.parquet --output scores.parquet
 *   ghosteam predict --model ./model.onnx --features a,b,c --input in.csv --output out.csv --payload-log payloads.jsonl
 *   ghosteam predict --model fraud@champion --input postgres://db/shop --query 'SELECT * FROM tx WHERE day = current_date' --output scores.parquet
 *
 * --resume keeps finished chunks in `.<output>.predict/` so a killed run continues where it stopped.
 * Progress and rows/s go to stderr; SIGINT/SIGTERM stop after the batch in flight and remove the
 * temporary file (nothing is written).
 */
import type { Command } from 'commander';
import type { TableFormat } from '../../components/batch/plan.ts';
import { delimiterArg, headersArg, intArg, repeatable } from '../args.ts';

interface PredictFlags {
  model: string;
  input: string;
  output: string;
  features?: string;
  keep?: string;
  batchSize: string;
  threads?: string;
  overwrite?: boolean;
  delimiter?: string;
  format?: string;
  query?: string;
  header?: string[];
  payloadLog?: string;
  payloadSample: string;
  progress: boolean;
  resume?: boolean;
  chunkRows: string;
  registryDir?: string;
  mlflowUri?: string;
}

const list = (v: string | undefined): string[] | undefined =>
  v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');

export function register(program: Command): void {
  program
    .command('predict')
    .description('Batch inference: stream a CSV, JSON Lines, Parquet or Arrow file through an ONNX model into a new file, atomically, with lineage')
    .requiredOption('-m, --model <spec>', 'the model: ./model.onnx, an MLflow model dir, fraud@champion, fraud@3, models:/fraud/3 (registry)')
    .requiredOption(
      '-i, --input <source>',
      'input table: .csv/.tsv, .jsonl/.ndjson, .parquet, .arrow/.feather (Arrow IPC); a path, s3://bucket/key, https://… or postgres://host/db (with --query)',
    )
    .requiredOption('-o, --output <file>', 'output table (format from its extension), a path or s3://bucket/key; refused if it exists, unless --overwrite')
    .option('--features <cols>', "comma-separated columns feeding the model's one [N, k] input, in order (default: the model's recorded feature names)")
    .option('--keep <cols>', 'comma-separated input columns copied to the output (default: every column that is not a feature)')
    .option('--batch-size <rows>', 'rows per model run', '65536')
    .option('--threads <n>', 'onnxruntime intra-op threads (default: the number of cores)')
    .option('--overwrite', 'replace an existing output (only once the new file is complete)')
    .option('--delimiter <c>', 'CSV delimiter (default: "," or tab for .tsv)')
    .option('--format <format>', "the input's format when its name does not tell: csv, jsonl, parquet or arrow (default: by the extension)")
    .option(
      '--query <sql>',
      'postgres:// input: the SQL whose rows are scored (run in a READ ONLY transaction; PGUSER/PGPASSWORD or PGPASSFILE for credentials)',
    )
    .option('--header <name=env:VAR>', 'https:// input: a request header whose value comes from an environment variable (repeatable)', repeatable)
    .option('--payload-log <file>', "also record each batch in this payload log (the model server's JSON Lines format) for the drift monitor")
    .option('--payload-sample <rate>', 'share of batches recorded in the payload log, 0-1', '1')
    .option(
      '--resume',
      'keep finished chunks beside the output; after a stop or kill -9, the same command with --resume continues at the first unfinished chunk',
    )
    .option('--chunk-rows <rows>', 'rows per resumable chunk (with --resume; rounded up to whole batches)', String(1 << 20))
    .option('--no-progress', 'no progress lines on stderr')
    .option('--registry-dir <dir>', 'local registry directory for registry references (default: $GHOSTEAM_REGISTRY_DIR or .ghosteam/registry)')
    .option('--mlflow-uri <url>', 'use the MLflow registry at this tracking URI (default: $MLFLOW_TRACKING_URI)')
    .action(async (flags: PredictFlags) => {
      const { predictFile } = await import('../../components/batch/index.ts');
      const { localFiles } = await import('../../components/batch/remote.ts');
      const { parseModelSpec } = await import('../../components/model-server/models.ts');
      const spec = parseModelSpec(flags.model);
      const registry =
        'ref' in spec ? (await import('../../components/registry/index.ts')).openRegistry({ dir: flags.registryDir, trackingUri: flags.mlflowUri }) : undefined;
      const sample = Number(flags.payloadSample);
      if (!(sample >= 0 && sample <= 1)) throw new Error(`--payload-sample expects a number from 0 to 1, got '${flags.payloadSample}'`);
      const delimiter = delimiterArg(flags.delimiter);
      if (flags.format !== undefined && !['csv', 'jsonl', 'parquet', 'arrow'].includes(flags.format))
        throw new Error(`--format '${flags.format}': give csv, jsonl, parquet or arrow (without it, the input's extension decides)`);
      const read = {
        format: flags.format as TableFormat | undefined,
        query: flags.query,
        headers: headersArg(flags.header),
      };
      if (flags.resume && flags.output.startsWith('s3://'))
        throw new Error('--resume keeps finished chunks beside the output, which an s3:// output has not; write to a file, or drop --resume');
      const { redact, sourceKind } = await import('../../components/ingest/sources.ts');
      if (flags.resume && sourceKind(flags.input) !== 'file') {
        throw new Error(
          `--resume knows the input by its file's size and time, and ${redact(flags.input)} is copied afresh on every run; save it to a file and score that, or drop --resume`,
        );
      }
      const files = await localFiles(flags.input, flags.output, {
        overwrite: flags.overwrite === true,
        read,
        log: (l) => process.stderr.write(`predict: ${l}\n`),
      });
      const ac = new AbortController();
      const stop = (sig: string) => {
        if (ac.signal.aborted) process.exit(130);
        process.stderr.write(`predict: ${sig}: stopping after the batch in flight; nothing will be written\n`);
        ac.abort();
      };
      const onInt = () => stop('SIGINT');
      const onTerm = () => stop('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      let last = 0;
      try {
        const r = await predictFile({
          model: flags.model,
          registry,
          input: files.input,
          inputFormat: files.inputFormat,
          inputLabel: files.remote ? files.inputLabel : undefined,
          output: files.output,
          outputLabel: files.output === flags.output ? undefined : flags.output,
          features: list(flags.features),
          keep: list(flags.keep),
          batchRows: intArg('--batch-size', flags.batchSize, 1),
          threads: flags.threads === undefined ? undefined : intArg('--threads', flags.threads, 1),
          overwrite: flags.overwrite === true,
          delimiter,
          payloadLog: flags.payloadLog,
          payloadSample: sample,
          signal: ac.signal,
          resume: flags.resume === true,
          chunkRows: intArg('--chunk-rows', flags.chunkRows, 1),
          onResume: (m) => process.stderr.write(`predict: ${m}\n`),
          onProgress: (p) => {
            if (!flags.progress || p.seconds - last < 1) return;
            last = p.seconds;
            const pct = p.fraction > 0 ? ` (${(p.fraction * 100).toFixed(0)}%)` : '';
            process.stderr.write(`predict: ${p.rows.toLocaleString('en-US')} rows${pct}, ${Math.round(p.rows / p.seconds).toLocaleString('en-US')} rows/s\n`);
          },
        });
        await files.publish();
        process.stderr.write(
          `predict: ${r.rows.toLocaleString('en-US')} rows in ${r.seconds.toFixed(2)} s (${Math.round(r.rowsPerSec).toLocaleString('en-US')} rows/s) with ${r.lineage.model.name} version ${r.lineage.model.version}\n`,
        );
        process.stdout.write(
          `wrote ${flags.output} (${r.rows} rows; lineage in ${files.output === flags.output ? r.lineagePath : `${flags.output}.lineage.json`})\n`,
        );
      } finally {
        await files.cleanup();
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
      }
    });
}

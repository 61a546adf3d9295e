/**
 * `BatchPrediction`: scheduled batch inference as a pipeline of one `batch-predict` step. It
 * synthesizes an Argo WorkflowTemplate (+ a CronWorkflow with `schedule`), and `ghosteam run <name>`
 * runs the same pipeline on the local engine. The model is a registry reference resolved when the
 * step runs (`fraud@champion` follows the alias), the input is a file, an `s3://` object, an
 * `https://` resource (`headers` from Secrets) or a `postgres://` database with a `query`, the output a
 * file or an `s3://` object (pipeline params `input` and `output`, so one run can be pointed
 * elsewhere), the output keeps the id columns and carries lineage, and batches can go to the payload
 * log for the drift monitor.
 *
 *   new BatchPrediction(chart, 'score-daily', {
 *     model: 'fraud@champion',
 *     input: 's3://data/fraud/today.parquet',
 *     output: 's3://data/fraud/scores.parquet',
 *     idColumns: ['transaction_id'],
 *     schedule: Schedule.cron('0 4 * * *'),
 *     env: { AWS_ACCESS_KEY_ID: Secret.fromSecret('s3', 'id'), AWS_SECRET_ACCESS_KEY: Secret.fromSecret('s3', 'secret') },
 *   });
 */
import { Construct } from 'constructs';
import { ValidationError, type Issue } from '../api/errors.ts';
import { parseModelRef } from '../components/registry/types.ts';
import { dnsLabelProblem, parseDuration } from '../api/names.ts';
import { messages } from './check.ts';
import { Pipeline, type Task } from './pipeline.ts';
import { Cache, Resources, type Retry, type Schedule } from './resources.ts';
import type { SecretRef } from './values.ts';
import { hasPlaceholders, PLACEHOLDERS } from '../components/batch/placeholders.ts';

const COLUMN = /^[^\s,]+$/;
const TABLE_EXT = /\.(csv|tsv|jsonl|ndjson|parquet|pq|arrow|feather|ipc)$/i;
const S3_URL = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[^?#]+$/;

export interface BatchPredictionProps {
  /** The model: a registry reference (`fraud@champion`, `fraud@3`, `models:/fraud/3`) resolved when the step runs, or an `.onnx` path. */
  readonly model: string;
  /**
   * The table to score: a file path, `s3://bucket/key` or `https://…` (format from the extension
   * (.csv, .jsonl, .parquet, .arrow), else `format`), or `postgres://host/db` with a `query`
   * (credentials by reference in `env`: PGUSER, PGPASSWORD).
   */
  readonly input: string;
  /** The input's format when its name does not tell. @default - from the extension */
  readonly format?: 'csv' | 'jsonl' | 'parquet' | 'arrow';
  /** The SQL whose rows a `postgres://` input scores (a READ ONLY transaction); time placeholders ({date}, …) render as in the paths. */
  readonly query?: string;
  /** Request headers of an `https://` input, each `env:NAME` with NAME set in `env` from a Secret: `{ Authorization: 'env:API_TOKEN' }`. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Where the predictions go: a file path or `s3://bucket/key`, format from the extension. Time
   * placeholders give each run its own path: `s3://data/scores/{date}.parquet` (also `{datetime}`,
   * `{year}`, `{month}`, `{day}`, `{hour}`; UTC, from the run's `runTime` param, else when the step
   * starts; the input takes them too). A scheduled job needs one here, or `overwrite`.
   * @see components/batch/placeholders.ts
   */
  readonly output: string;
  /** Input columns copied to the output beside the predictions. @default - every column that is not a feature */
  readonly idColumns?: readonly string[];
  /** The columns of the model's one [N, k] input, in order. @default - the feature names recorded in the model */
  readonly features?: readonly string[];
  /** Run on a cron schedule (an Argo CronWorkflow). @default - on demand (`ghosteam run`, `argo submit --from workflowtemplate/…`) */
  readonly schedule?: Schedule;
  /** Also record batches in this payload log (JSON Lines, the model server's format) for the drift monitor; `sample` is the share of batches. @default - none */
  readonly payloadLog?: { readonly path: string; readonly sample?: number };
  /** Replace an existing output (a scheduled job writing one path, with no time placeholder in it, needs it). @default false */
  readonly overwrite?: boolean;
  /** Rows per model run. @default 65536 */
  readonly batchRows?: number;
  /** The registry: an MLflow tracking URI (no credentials in it) or a registry directory. @default - MLFLOW_TRACKING_URI, else GHOSTEAM_REGISTRY_DIR */
  readonly registry?: string;
  /** Environment of the step: object-store and registry credentials by reference (`Secret.fromSecret`). */
  readonly env?: Readonly<Record<string, string | SecretRef>>;
  /** @default 2 CPUs, 2Gi */
  readonly resources?: Resources;
  readonly retry?: Retry;
  /** Wall-clock limit of one attempt, e.g. '2h'. */
  readonly timeout?: string | number;
  /** WorkflowTemplate name. @default - the construct id */
  readonly name?: string;
  readonly namespace?: string;
  readonly serviceAccountName?: string;
  readonly componentImage?: string;
}

function locationProblem(v: unknown, what: string, formatGiven = false): string | undefined {
  if (typeof v !== 'string' || v.trim() === '') return `is empty; give the ${what} as a file path or s3://bucket/key`;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v) && !v.startsWith('s3://'))
    return what === 'input'
      ? `'${v}' is not a source batch prediction reads; give a file path, s3://bucket/key, https://… or postgres://host/db with a query`
      : `'${v}' is not a file path or an s3:// URI; batch prediction writes local (mounted) files and S3 objects`;
  if (v.startsWith('s3://') && !S3_URL.test(v)) return `'${v}' is not an S3 object URL; write s3://BUCKET/KEY (bucket: 3-63 of a-z, 0-9, '.', '-')`;
  if (!formatGiven && !TABLE_EXT.test(v)) return `'${v}' has no table extension; end it in .csv, .jsonl, .parquet or .arrow (the format comes from it)`;
  try {
    hasPlaceholders(v);
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

/** The input's problems, each with its field: a file or s3:// as the output, or https:// and postgres:// as ingest reads them. */
function inputIssues(props: BatchPredictionProps, add: (field: string, message: string) => void): boolean {
  const v = props.input;
  const scheme = typeof v === 'string' ? /^([a-z][a-z0-9+.-]*):\/\//i.exec(v)?.[1].toLowerCase() : undefined;
  const sql = scheme === 'postgres' || scheme === 'postgresql';
  const web = scheme === 'https' || scheme === 'http';
  let bad = false;
  const problem = (field: string, message: string) => {
    bad = true;
    add(field, message);
  };
  if (props.format !== undefined && !['csv', 'jsonl', 'parquet', 'arrow'].includes(props.format))
    problem('format', `is '${String(props.format)}'; give csv, jsonl, parquet or arrow, or leave it out for the extension to decide`);
  if (props.query !== undefined && !sql) problem('query', 'is SQL for a postgres:// input; the input is not one');
  if (props.headers !== undefined && !web) problem('headers', 'are sent to an https:// input; the input is not one');
  if (scheme === 'kafka')
    problem('input', `'${v}' is a Kafka topic, a stream; ingest it in a pipeline (offsets committed when the run succeeds) and score the dataset it writes`);
  else if (sql) {
    if (/^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(v))
      problem('input', 'holds a password; give postgres://host/db and pass PGUSER and PGPASSWORD by reference in env (Secret.fromSecret)');
    if (typeof props.query !== 'string' || props.query.trim() === '') problem('query', 'is missing; a postgres:// input needs the SQL whose rows are scored');
    if (props.format !== undefined && props.format !== 'arrow') problem('format', "is for a file; a query's rows are read as a table");
  } else if (web) {
    let path = '';
    try {
      path = new URL(v).pathname;
    } catch {
      problem('input', `'${v}' is not a URL`);
    }
    if (/^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(v)) problem('input', 'holds credentials; send them as a header from a Secret (headers, env)');
    else if (path && props.format === undefined && !TABLE_EXT.test(path))
      problem('input', `'${v}' has no table extension; end its path in .csv, .jsonl, .parquet or .arrow, or set format`);
    for (const [name, ref] of Object.entries(props.headers ?? {})) {
      const m = typeof ref === 'string' ? /^env:([A-Za-z_][A-Za-z0-9_]*)$/.exec(ref) : null;
      if (!m) problem(`headers.${name}`, "is not a reference; write 'env:NAME' and set NAME in env from a Secret (Secret.fromSecret), never the value itself");
      else if (!props.env || !(m[1] in props.env))
        problem(`headers.${name}`, `reads env ${m[1]}, which env does not set; add ${m[1]}: Secret.fromSecret('…', '…') to env`);
    }
  } else {
    const p = locationProblem(v, 'input', props.format !== undefined);
    if (p) problem('input', p);
  }
  return bad;
}

/** The problems of `props`, each with its field (pure; the construct throws them as one ValidationError). */
export function batchPredictionIssues(path: string, props: BatchPredictionProps): Issue[] {
  const issues: Issue[] = [];
  const add = (field: string, message: string) => issues.push({ path, field, message });
  if (typeof props.model !== 'string' || props.model.trim() === '') add('model', "is empty; name a registered model, e.g. 'fraud@champion'");
  else if (!/\.onnx$/i.test(props.model)) {
    try {
      const ref = parseModelRef(props.model);
      if (!props.model.startsWith('models:') && !/[@:]/.test(props.model))
        add('model', `'${props.model}' names no version or alias; write '${ref.name}@champion' (follows the alias) or '${ref.name}@3' (pins a version)`);
    } catch (e) {
      add('model', `${(e as Error).message}, or an .onnx path`);
    }
  }
  const inP = inputIssues(props, add);
  const outP = locationProblem(props.output, 'output');
  if (outP) add('output', outP);
  if (!inP && !outP && props.input === props.output) add('output', 'is the input; write the predictions somewhere else');
  if (!outP && props.schedule && !props.overwrite && !hasPlaceholders(props.output))
    add(
      'output',
      `'${props.output}' is written by every scheduled run, and the second would find it there and be refused; put a time placeholder in the path (${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}), e.g. '${props.output.replace(/(\.[A-Za-z]+)$/, '-{date}$1')}', or set overwrite: true`,
    );
  for (const [field, cols] of [
    ['idColumns', props.idColumns],
    ['features', props.features],
  ] as const) {
    if (cols === undefined) continue;
    if (cols.length === 0) add(field, `is empty; list columns or leave ${field} out`);
    const seen = new Set<string>();
    for (const c of cols) {
      if (typeof c !== 'string' || !COLUMN.test(c)) add(field, `${JSON.stringify(c)} is not a column name (no spaces or commas)`);
      else if (seen.has(c)) add(field, `lists '${c}' twice`);
      seen.add(c);
    }
  }
  const both = (props.idColumns ?? []).filter((c) => props.features?.includes(c));
  if (both.length)
    add('idColumns', `${both.map((c) => `'${c}'`).join(', ')} ${both.length === 1 ? 'is' : 'are'} also a feature; an id column is copied, not scored`);
  if (props.payloadLog) {
    if (typeof props.payloadLog.path !== 'string' || props.payloadLog.path.trim() === '')
      add('payloadLog.path', 'is empty; give the payload log file (JSON Lines) the drift monitor reads');
    else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(props.payloadLog.path))
      add('payloadLog.path', `'${props.payloadLog.path}' is a URI; the payload log is a (mounted) file`);
    const s = props.payloadLog.sample;
    if (s !== undefined && !(typeof s === 'number' && s >= 0 && s <= 1))
      add('payloadLog.sample', `is ${JSON.stringify(s)}; give the share of batches logged, from 0 to 1`);
  }
  if (props.batchRows !== undefined && !(Number.isInteger(props.batchRows) && props.batchRows >= 1))
    add('batchRows', `is ${JSON.stringify(props.batchRows)}; give a positive whole number of rows per model run (default 65536)`);
  if (props.registry !== undefined) {
    if (/^https?:\/\/[^/@]*:[^/@]*@/.test(props.registry))
      add('registry', 'holds a password; give the tracking URI without credentials and pass them by reference in env (Secret.fromSecret)');
    else if (props.registry.trim() === '') add('registry', 'is empty; leave it out to use MLFLOW_TRACKING_URI');
  }
  if (props.timeout !== undefined) {
    try {
      parseDuration(props.timeout);
    } catch (e) {
      add('timeout', (e as Error).message);
    }
  }
  const name = props.name ?? path.split('/').pop() ?? '';
  if (dnsLabelProblem(name)) add('name', messages.notDns(name));
  return issues;
}

export class BatchPrediction extends Construct {
  /** The pipeline the job is (WorkflowTemplate, CronWorkflow with a schedule); `ghosteam run <name>` runs it locally. */
  readonly pipeline: Pipeline;
  /** Its one `batch-predict` step. */
  readonly task: Task;

  constructor(scope: Construct, id: string, props: BatchPredictionProps) {
    super(scope, id);
    const issues = batchPredictionIssues(this.node.path, { ...props, name: props.name ?? id });
    if (issues.length) throw new ValidationError(issues);
    this.pipeline = new Pipeline(this, 'pipeline', {
      name: props.name ?? id,
      description: `Batch prediction: ${props.model} over ${props.input} into ${props.output}`,
      ...(props.schedule ? { schedule: props.schedule } : {}),
      ...(props.namespace ? { namespace: props.namespace } : {}),
      ...(props.serviceAccountName ? { serviceAccountName: props.serviceAccountName } : {}),
      ...(props.componentImage ? { componentImage: props.componentImage } : {}),
    });
    const input = this.pipeline.param('input', {
      type: 'string',
      default: props.input,
      description: 'The table to score (a file, s3://, https:// or postgres:// with the query)',
    });
    const output = this.pipeline.param('output', {
      type: 'string',
      default: props.output,
      description: 'Where the predictions go (file or s3://); {date}, {datetime}, … render from runTime',
    });
    const runTime = this.pipeline.param('runTime', {
      type: 'string',
      default: '',
      description:
        'RFC 3339 time the {date}/{datetime}/… placeholders of input and output render from (a past day, to score it again); empty: when the step starts',
    });
    this.task = this.pipeline.component('predict', 'batch-predict', {
      params: {
        model: props.model,
        input,
        output,
        runTime,
        ...(props.idColumns ? { idColumns: [...props.idColumns] } : {}),
        ...(props.features ? { features: [...props.features] } : {}),
        ...(props.payloadLog ? { payloadLog: props.payloadLog.path, payloadSample: props.payloadLog.sample ?? 1 } : {}),
        ...(props.overwrite ? { overwrite: true } : {}),
        ...(props.batchRows ? { batchRows: props.batchRows } : {}),
        ...(props.registry ? { registry: props.registry } : {}),
        ...(props.format ? { format: props.format } : {}),
        ...(props.query !== undefined ? { query: props.query } : {}),
        ...(props.headers ? { headers: { ...props.headers } } : {}),
      },
      // The alias moves and the input changes under the same name: every run scores afresh.
      cache: Cache.disabled(),
      resources: props.resources ?? Resources.of({ cpu: '2', memory: '2Gi' }),
      ...(props.env ? { env: props.env } : {}),
      ...(props.retry ? { retry: props.retry } : {}),
      ...(props.timeout !== undefined ? { timeout: props.timeout } : {}),
    });
  }
}

/**
 * Where batch prediction's table comes from and its predictions go (`ghosteam predict` and the
 * batch-predict step), made local:
 *  - a file path passes through untouched;
 *  - `s3://bucket/key` and `https://…` (headers from environment variables, never literal) are
 *    downloaded into a scratch folder, keeping the name so that the extension tells the format
 *    (`format` when it does not);
 *  - `postgres://host/db` with a `query` is read by ingest (the same client, TLS modes and
 *    credentials from PGUSER/PGPASSWORD) into an Arrow dataset in the scratch folder;
 *  - `kafka://` is refused: a stream is ingested in a pipeline, which commits its offsets when the
 *    run succeeds, and the dataset is scored from there.
 * The output is written locally; an s3:// one is written to the scratch folder, then uploaded in
 * one PUT (an object appears whole or not at all) with its lineage sidecar after it. An existing
 * output object is refused unless `overwrite`. `inputLabel` is the source as the user named it
 * (any password masked): the lineage records it, and messages name it instead of the scratch copy.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { downloadS3Object, isS3Url, parseS3Url, s3ObjectExists, uploadS3Object } from '../ingest/s3.ts';
import { downloadHttp, redact, resolveHeaders, sourceKind, type Env, type SourceKind } from '../ingest/sources.ts';
import { IngestError } from '../ingest/parse.ts';
import { BatchPredictError, formatOfPath, type TableFormat } from './plan.ts';
import { lineagePathFor } from './predict.ts';

/** How to read an input that is not a plain file (ingest's params of the same names). */
export interface SourceRead {
  /** The input's format when its name does not tell (a file, an s3:// object or an https:// resource). */
  readonly format?: TableFormat;
  /** SQL for a postgres:// input. */
  readonly query?: string;
  /** HTTP header → `env:NAME` for an https:// input. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface LocalFiles {
  /** A local path of the input (the downloaded or ingested copy of a remote one). */
  readonly input: string;
  /** The format to read the local input in. */
  readonly inputFormat: TableFormat;
  /** The input as named (a path, or the URI with any password masked). */
  readonly inputLabel: string;
  /** Whether the input was copied from elsewhere (its scratch copy changes on every run). */
  readonly remote: boolean;
  /** Where to write the output locally (a scratch file for an s3:// one). */
  readonly output: string;
  /** Uploads the output and its sidecar when the output is s3:// (call after a successful run). */
  publish(): Promise<void>;
  /** Removes the scratch folders. */
  cleanup(): Promise<void>;
}

/**
 * What kind of source `input` is, how to name it, and the format to read its local copy in (a
 * query's rows: an Arrow dataset) — or an error naming the param and its flag when `read` does not
 * fit it. Decided before anything is fetched: a wrong flag or extension costs no download.
 */
function checkSource(input: string, read: SourceRead): { kind: SourceKind; label: string; format: TableFormat } {
  let kind: SourceKind;
  try {
    kind = sourceKind(input);
  } catch {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(input)?.[1];
    throw new BatchPredictError(
      `${input}: '${scheme}://' is not a source batch prediction reads; use a file path, s3://, https:// or postgres:// (with a query)`,
    );
  }
  const label = kind === 'file' ? input : redact(input);
  const fail = (message: string) => {
    throw new BatchPredictError(message);
  };
  if (kind === 'kafka')
    fail(`${label}: a Kafka topic is a stream; ingest it in a pipeline (its offsets are committed when the run succeeds) and score the dataset it writes`);
  if (read.query !== undefined && kind !== 'postgres') fail(`param query (--query) is SQL for a postgres:// input, and ${label} is not one`);
  if (read.headers !== undefined && Object.keys(read.headers).length > 0 && kind !== 'https')
    fail(`param headers (--header) are sent to an https:// input, and ${label} is not one`);
  if (kind === 'postgres') {
    if (read.query === undefined || read.query.trim() === '')
      fail(`${label}: no SQL; set param query (--query on the command line), e.g. SELECT * FROM transactions WHERE day = current_date`);
    if (read.format !== undefined && read.format !== 'arrow')
      fail(`param format (--format) is '${read.format}', but a postgres:// query's rows are read as a table, not a file; leave it out`);
    return { kind, label, format: 'arrow' };
  }
  try {
    return { kind, label, format: formatOfPath(kind === 'https' ? new URL(input).pathname : input, read.format) };
  } catch (e) {
    throw new BatchPredictError(
      `${(e as Error).message.replace(/^[^:]*: /, `${label}: `)}, or give its format (--format; param format of a batch-predict step)`,
    );
  }
}

export async function localFiles(
  input: string,
  output: string,
  opts: { overwrite?: boolean; read?: SourceRead; log?: (line: string) => void; env?: Env } = {},
): Promise<LocalFiles> {
  const env = opts.env ?? process.env;
  const read = opts.read ?? {};
  const { kind, label, format: inputFormat } = checkSource(input, read);
  for (const u of [input, output]) if (isS3Url(u)) parseS3Url(u);
  if (isS3Url(output) && !opts.overwrite && (await s3ObjectExists(output, env)))
    throw new BatchPredictError(`${output} already exists; pass --overwrite to replace it (it is replaced only once the new file is complete)`);
  const scratch = isS3Url(output) ? await mkdtemp(join(tmpdir(), 'ghosteam-predict-')) : undefined;
  let local = { input, cleanup: async () => {} };
  try {
    if (kind === 's3') {
      opts.log?.(`downloading ${input}`);
      local = await downloadS3Object(input, env).then((got) => ({ input: got.file, cleanup: got.cleanup }));
    } else if (kind === 'https') {
      opts.log?.(`downloading ${label}`);
      local = await downloadHttp(input, resolveHeaders(input, read.headers, env)).then((got) => ({ input: got.file, cleanup: got.cleanup }));
    } else if (kind === 'postgres') {
      opts.log?.(`reading ${label}`);
      const dir = await mkdtemp(join(tmpdir(), 'ghosteam-predict-sql-'));
      const cleanup = () => rm(dir, { recursive: true, force: true });
      try {
        const { ingestToFile } = await import('../ingest/index.ts');
        const file = join(dir, 'query.arrow');
        await ingestToFile(input, file, { query: read.query, env });
        local = { input: file, cleanup };
      } catch (e) {
        await cleanup();
        throw e;
      }
    }
  } catch (e) {
    if (scratch) await rm(scratch, { recursive: true, force: true });
    // A source's own error (unreachable, refused credentials, bad SQL) is the user's to fix, like a missing file.
    if (e instanceof IngestError) throw new BatchPredictError(e.message, { cause: e });
    throw e;
  }
  const localOutput = scratch ? join(scratch, basename(parseS3Url(output).key)) : output;
  return {
    input: local.input,
    inputFormat,
    inputLabel: label,
    remote: kind !== 'file',
    output: localOutput,
    async publish() {
      if (!isS3Url(output)) return;
      opts.log?.(`uploading ${output}`);
      await uploadS3Object(output, localOutput, env);
      await uploadS3Object(lineagePathFor(output), lineagePathFor(localOutput), env);
    },
    async cleanup() {
      await local.cleanup();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    },
  };
}

/**
 * s3:// input and output for batch prediction (`ghosteam predict` and the batch-predict step): the
 * input object is downloaded into a scratch folder first; the output is written there, then
 * uploaded in one PUT (an object appears whole or not at all) with its lineage sidecar after it.
 * An existing output object is refused unless `overwrite`. Local paths pass through untouched.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { downloadS3Object, isS3Url, parseS3Url, s3ObjectExists, uploadS3Object } from '../ingest/s3.ts';
import { BatchPredictError } from './plan.ts';
import { lineagePathFor } from './predict.ts';

export interface LocalFiles {
  /** A local path of the input (the downloaded copy of an s3:// one). */
  readonly input: string;
  /** Where to write the output locally (a scratch file for an s3:// one). */
  readonly output: string;
  /** Uploads the output and its sidecar when the output is s3:// (call after a successful run). */
  publish(): Promise<void>;
  /** Removes the scratch folder. */
  cleanup(): Promise<void>;
}

export async function localFiles(
  input: string,
  output: string,
  opts: { overwrite?: boolean; log?: (line: string) => void; env?: Readonly<Record<string, string | undefined>> } = {},
): Promise<LocalFiles> {
  const env = opts.env ?? process.env;
  for (const u of [input, output]) if (isS3Url(u)) parseS3Url(u);
  if (isS3Url(output) && !opts.overwrite && (await s3ObjectExists(output, env)))
    throw new BatchPredictError(`${output} already exists; pass --overwrite to replace it (it is replaced only once the new file is complete)`);
  const scratch = isS3Url(output) ? await mkdtemp(join(tmpdir(), 'ghosteam-predict-')) : undefined;
  let local = { input, cleanup: async () => {} };
  if (isS3Url(input)) {
    opts.log?.(`downloading ${input}`);
    try {
      const got = await downloadS3Object(input, env);
      local = { input: got.file, cleanup: got.cleanup };
    } catch (e) {
      if (scratch) await rm(scratch, { recursive: true, force: true });
      throw e;
    }
  }
  const localOutput = scratch ? join(scratch, basename(parseS3Url(output).key)) : output;
  return {
    input: local.input,
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

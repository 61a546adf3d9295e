/**
 * `s3://bucket/key` sources for ingest, read with the AWS SDK v3 (@aws-sdk/client-s3) from AWS S3
 * or any S3-compatible store.
 *
 * Where: the endpoint comes from S3_ENDPOINT, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL
 * (unset: AWS S3 itself); with an endpoint set, requests are path-style (bucket in the path), as
 * S3-compatible stores expect. The region is AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1.
 * Credentials: the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, web
 * identity, the instance or pod role); in a pod pass them from a Secret, never as literals.
 * With an endpoint set, checksums are sent and checked only where the S3 API requires them.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { IngestError } from './parse.ts';

export interface S3Location {
  readonly bucket: string;
  readonly key: string;
}

export function isS3Url(path: string): boolean {
  return /^s3:\/\//i.test(path);
}

/** Parse `s3://bucket/key`; anything else is an error that shows the expected form. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/?#]+)\/([^?#]+)$/i.exec(url);
  if (!m) throw new IngestError(`${url}: not an S3 object URL; write it as s3://BUCKET/KEY (for example s3://data/fraud/reference.csv)`);
  const [, bucket, key] = m;
  // The bucket naming rules S3 enforces (3-63 of a-z 0-9 . -, starting and ending alphanumeric).
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    throw new IngestError(`${url}: '${bucket}' is not a valid bucket name (3-63 characters of a-z, 0-9, '.', '-', starting and ending with a letter or digit)`);
  return { bucket, key: decodeURIComponent(key) };
}

/** The S3 client settings the environment asks for (pure: table-tested). */
export function s3ClientConfig(env: Readonly<Record<string, string | undefined>>): S3ClientConfig & { endpoint?: string; region: string } {
  const endpoint = env.S3_ENDPOINT || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint))
    throw new IngestError(`S3_ENDPOINT '${endpoint}' is not an http(s) URL; set it like http://10.0.0.5:9000 (or unset it for AWS S3)`);
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
  // With an endpoint of its own (an S3-compatible store), checksums only where the API requires
  // them: the SDK's default flexible checksums (x-amz-checksum-*) are refused by stores that do
  // not implement them (s3proxy answers NotImplemented).
  // Keys in the given environment (process.env, or a task's own): the SDK's chain reads only process.env.
  const keys =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? {
          credentials: {
            accessKeyId: env.AWS_ACCESS_KEY_ID,
            secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          },
        }
      : {};
  return {
    region,
    ...keys,
    ...(endpoint ? { endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
  };
}

/** An SDK error's name and HTTP status, and the fix a user needs for it. */
export function explainS3Error(
  url: string,
  loc: S3Location,
  endpoint: string,
  err: { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } },
): string {
  const where = `${url} (bucket '${loc.bucket}', key '${loc.key}', at ${endpoint})`;
  const name = err.name ?? err.code ?? 'Error';
  const status = err.$metadata?.httpStatusCode;
  switch (name) {
    case 'NoSuchKey':
    case 'NotFound':
      return `${where}: no such object; check the key, or upload the file there first`;
    case 'NoSuchBucket':
      return `${where}: the bucket '${loc.bucket}' does not exist at this endpoint; create it or fix the bucket name`;
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'AccessDenied':
    case 'Forbidden':
      return `${where}: the object store refused the credentials (${name}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to a key that may read this bucket`;
    case 'CredentialsProviderError':
      return `${where}: no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (in a pod, from a Secret) or give the pod a role`;
  }
  const code = (err as { code?: string }).code;
  if (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EHOSTUNREACH' ||
    code === 'ETIMEDOUT' ||
    /ECONNREFUSED|ENOTFOUND|getaddrinfo/.test(err.message ?? '')
  )
    return `${where}: cannot reach the object store (${code ?? err.message}); check S3_ENDPOINT`;
  return `${where}: ${name}${status ? ` (HTTP ${status})` : ''}: ${err.message ?? ''}`.trim();
}

/**
 * Download `s3://bucket/key` into a fresh temp directory, under the key's base name (so the format
 * is told by its extension as for a local file). The caller removes the directory with `cleanup`.
 */
export async function downloadS3Object(
  url: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<{ file: string; cleanup: () => Promise<void> }> {
  const loc = parseS3Url(url);
  const config = s3ClientConfig(env);
  const endpoint = config.endpoint ?? `AWS S3 (${config.region})`;
  const client = new S3Client({ ...config, maxAttempts: 3 });
  const dir = await mkdtemp(join(tmpdir(), 'ghosteam-s3-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  const file = join(dir, basename(loc.key) || 'object');
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
    if (!res.Body) throw new IngestError(`${url}: the object store answered with no body`);
    await pipeline(res.Body as Readable, createWriteStream(file));
    return { file, cleanup };
  } catch (err) {
    await cleanup();
    if (err instanceof IngestError) throw err;
    throw new IngestError(explainS3Error(url, loc, endpoint, err instanceof Error ? err : { message: String(err) }));
  } finally {
    client.destroy();
  }
}

/** Whether `s3://bucket/key` exists (HEAD); any answer but found / not found is an error that says why. */
export async function s3ObjectExists(url: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<boolean> {
  const loc = parseS3Url(url);
  const config = s3ClientConfig(env);
  const client = new S3Client({ ...config, maxAttempts: 3 });
  try {
    await client.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
    return true;
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return false;
    throw new IngestError(explainS3Error(url, loc, config.endpoint ?? `AWS S3 (${config.region})`, err instanceof Error ? err : { message: String(err) }));
  } finally {
    client.destroy();
  }
}

/**
 * Upload a local file to `s3://bucket/key` in one PUT: the object appears whole or not at all (S3
 * has no partial objects), so a failed upload leaves whatever was there before.
 */
export async function uploadS3Object(url: string, file: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<void> {
  const loc = parseS3Url(url);
  const config = s3ClientConfig(env);
  const client = new S3Client({ ...config, maxAttempts: 3 });
  try {
    const { size } = await stat(file);
    await client.send(new PutObjectCommand({ Bucket: loc.bucket, Key: loc.key, Body: createReadStream(file), ContentLength: size }));
  } catch (err) {
    throw new IngestError(explainS3Error(url, loc, config.endpoint ?? `AWS S3 (${config.region})`, err instanceof Error ? err : { message: String(err) }));
  } finally {
    client.destroy();
  }
}

/**
 * Remote sources for ingest (and everything that reads data through it: validate-data, the engine's
 * step cache). Each is read with its protocol's maintained library and never with a credential
 * written into the pipeline:
 *
 *   s3://BUCKET/KEY, s3://BUCKET/PREFIX/*.parquet   AWS SDK v3 (components/ingest/s3.ts); a glob
 *       (`*`, `?` within a path segment, `**` across segments) reads every matching object, in key
 *       order, as one table (same columns in each).
 *   https://HOST/PATH                                 fetch; `headers` maps a header to `env:NAME`
 *       (in a pod: a task env var from a Secret), never to the value itself.
 *   postgres://HOST[:PORT]/DB                         `pg`; the SQL is the `query` param (or
 *       ?query=… in the URI); the user and password come from PGUSER/PGPASSWORD (in a pod: from a
 *       Secret), never from the URI; the query runs in a READ ONLY transaction. TLS as libpq takes
 *       it: `sslmode` (disable, require, verify-ca, verify-full) and `sslrootcert` (a CA file's
 *       path) in the URI's query, or PGSSLMODE/PGSSLROOTCERT.
 *   kafka://BROKER[,BROKER]/TOPIC (kafka:///TOPIC: KAFKA_BROKERS)   @platformatic/kafka; a bounded
 *       batch: from the consumer group's committed offsets (`from: committed`, the default; earliest
 *       where none), from `earliest`, or from a time (ISO 8601), up to the end offsets when the read
 *       starts. Values are JSON objects (one row each). The offsets are committed only when the
 *       pipeline run succeeds (commitKafkaOffsets, called by the engine), so a failed run re-reads.
 *       Security from the environment, with Kafka's own names (kafkaSecurity):
 *       KAFKA_SECURITY_PROTOCOL (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), KAFKA_SASL_MECHANISM
 *       (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD (in a pod:
 *       from a Secret) and KAFKA_SSL_CA_FILE (a CA file's path).
 *
 * `sourceIdentity` says what identifies a source's content for the step cache: ETag/VersionId of
 * objects, ETag/Last-Modified of an HTTP resource, the query text plus a time bucket of the declared
 * `freshness` for SQL (no freshness: never cached), the offset range for Kafka.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { parseDuration } from '../../api/names.ts';
import { IngestError, tableFromObjects, type RawCell, type RawTable } from './parse.ts';
import { explainS3Error, s3ClientConfig, type S3Location } from './s3.ts';

export type Env = Readonly<Record<string, string | undefined>>;
export type SourceKind = 'file' | 's3' | 'https' | 'postgres' | 'kafka';

export function sourceKind(uri: string): SourceKind {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri);
  if (!m) return 'file';
  const scheme = m[1].toLowerCase();
  if (scheme === 's3') return 's3';
  if (scheme === 'https' || scheme === 'http') return 'https';
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  if (scheme === 'kafka') return 'kafka';
  throw new IngestError(`${uri}: '${scheme}://' is not a source ingest reads; use a file path, s3://, https://, postgres:// or kafka://`);
}

/** Ingest's params that apply to one kind of source only, and that kind. */
const SOURCE_ONLY_PARAMS: ReadonlyArray<readonly [string, SourceKind, string]> = [
  ['query', 'postgres', 'postgres://'],
  ['headers', 'https', 'https://'],
  ['group', 'kafka', 'kafka://'],
  ['from', 'kafka', 'kafka://'],
  ['offsets', 'kafka', 'kafka://'],
];

/**
 * The params given (`given(name)`) that a source of kind `kind` does not use, each with a sentence saying so: a
 * pipeline may point ingest at a local file for a test run while keeping its SQL or headers, so
 * they are reported, not refused.
 */
export function unusedSourceParams(kind: SourceKind, given: (param: string) => boolean): string[] {
  const what = kind === 'file' ? 'a file' : `an ${kind === 'https' ? 'https://' : `${kind}://`} source`;
  return SOURCE_ONLY_PARAMS.filter(([name, k]) => k !== kind && given(name)).map(
    ([name, , scheme]) => `param '${name}' applies to ${scheme} sources only; ignored: this is ${what}`,
  );
}

/** Options of the remote sources (ingest's params of the same names). */
export interface SourceOptions {
  /** SQL for postgres:// */
  readonly query?: string;
  /** HTTP header → `env:NAME` for https:// */
  readonly headers?: Readonly<Record<string, string>>;
  /** Kafka consumer group (default ghosteam-ingest-TOPIC). */
  readonly group?: string;
  /** Kafka start: 'committed' (default), 'earliest', or an ISO 8601 time. */
  readonly from?: string;
  /** SQL results may be reused this long ('1h', '1d'): the step cache keys on the query and a time bucket of this size. */
  readonly freshness?: string;
  readonly env?: Env;
}

/** A URI for messages, with any password masked. */
export function redact(uri: string): string {
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, '$1:***@');
}

// ---------------------------------------------------------------------------------------------
// S3 globs

export function isGlob(key: string): boolean {
  return /[*?[]/.test(key);
}

/** `*` and `?` stay within a path segment, `**` crosses them; everything else is literal. */
export function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export interface S3ObjectId {
  readonly key: string;
  readonly etag: string;
  readonly versionId?: string;
  readonly size: number;
}

function s3Client(env: Env): { client: S3Client; endpoint: string } {
  const config = s3ClientConfig(env);
  return { client: new S3Client({ ...config, maxAttempts: 3 }), endpoint: config.endpoint ?? `AWS S3 (${config.region})` };
}

/** The objects a glob names, in key order; none is an error naming the pattern. */
export async function listS3Glob(url: string, loc: S3Location, env: Env = process.env): Promise<S3ObjectId[]> {
  const { client, endpoint } = s3Client(env);
  const prefix = loc.key.slice(0, loc.key.search(/[*?[]/));
  const re = globRegExp(loc.key);
  const out: S3ObjectId[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        if (o.Key && re.test(o.Key)) out.push({ key: o.Key, etag: o.ETag ?? '', size: o.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } catch (err) {
    throw new IngestError(explainS3Error(url, loc, endpoint, err instanceof Error ? err : { message: String(err) }));
  } finally {
    client.destroy();
  }
  if (out.length === 0)
    throw new IngestError(
      `${url}: no object in bucket '${loc.bucket}' matches '${loc.key}' (listed prefix '${prefix}' at ${endpoint}); check the pattern or upload the files`,
    );
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export async function headS3(url: string, loc: S3Location, env: Env = process.env): Promise<S3ObjectId> {
  const { client, endpoint } = s3Client(env);
  try {
    const h = await client.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
    return { key: loc.key, etag: h.ETag ?? '', versionId: h.VersionId, size: h.ContentLength ?? 0 };
  } catch (err) {
    throw new IngestError(explainS3Error(url, loc, endpoint, err instanceof Error ? err : { message: String(err) }));
  } finally {
    client.destroy();
  }
}

/** Rows of several tables with the same columns, as one; `where` names the part a row came from. */
export function concatTables(parts: readonly RawTable[], label: string): RawTable {
  if (parts.length === 1) return parts[0];
  const names = parts[0].names;
  for (const p of parts.slice(1)) {
    const same = p.names.length === names.length && p.names.every((n) => names.includes(n));
    if (!same)
      throw new IngestError(
        `${label}: ${p.file} has columns ${p.names.join(', ')} but ${parts[0].file} has ${names.join(', ')}; every object a glob matches must have the same columns`,
      );
  }
  const columns: RawCell[][] = names.map(() => []);
  const starts: number[] = [];
  let rows = 0;
  for (const p of parts) {
    starts.push(rows);
    const n = p.columns[0]?.length ?? 0;
    names.forEach((name, c) => {
      const src = p.columns[p.names.indexOf(name)];
      for (let r = 0; r < n; r++) columns[c].push(src[r]);
    });
    rows += n;
  }
  return {
    file: label,
    names,
    columns,
    where: (row, col) => {
      let i = starts.length - 1;
      while (i > 0 && starts[i] > row) i--;
      const p = parts[i];
      return p.where(row - starts[i], p.names.indexOf(names[col]));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP(S)

/** Resolve `headers` (each value `env:NAME`) from the environment; a literal value is refused. */
export function resolveHeaders(url: string, headers: Readonly<Record<string, string>> | undefined, env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, ref] of Object.entries(headers ?? {})) {
    const m = /^env:([A-Za-z_][A-Za-z0-9_]*)$/.exec(ref);
    if (!m)
      throw new IngestError(
        `${redact(url)}: header '${name}' must be a reference 'env:NAME' (set NAME on the task, from a Secret in a pod), never the value itself`,
      );
    const v = env[m[1]];
    if (v === undefined || v === '')
      throw new IngestError(`${redact(url)}: header '${name}' reads env ${m[1]}, which is not set; set it (from a Secret in a pod)`);
    out[name] = v;
  }
  return out;
}

function httpWhere(url: string, err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return `${redact(url)}: cannot reach the server (${cause?.code ?? cause?.message ?? (err as Error).message}); check the host and port`;
}

/** Download an http(s) resource into a fresh temp dir, named by its path's base name (so the format is told by extension). */
export async function downloadHttp(url: string, headers: Record<string, string>): Promise<{ file: string; cleanup: () => Promise<void> }> {
  if (/^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(url))
    throw new IngestError(
      `${redact(url)}: credentials in the URL; pass them as a header from a Secret (param headers: {"Authorization": "env:NAME"}; --header Authorization=env:NAME on the command line)`,
    );
  let res: Response;
  try {
    res = await fetch(url, { headers, redirect: 'follow' });
  } catch (err) {
    throw new IngestError(httpWhere(url, err));
  }
  if (!res.ok || !res.body) {
    const hint = res.status === 401 || res.status === 403 ? '; the server refused the credentials: check the headers param and the env vars it names' : '';
    throw new IngestError(`${redact(url)}: HTTP ${res.status} ${res.statusText}${hint}`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'ghosteam-http-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  const file = join(dir, basename(new URL(url).pathname) || 'download');
  try {
    await pipeline(Readable.fromWeb(res.body), createWriteStream(file));
  } catch (err) {
    await cleanup();
    throw new IngestError(`${redact(url)}: the download broke off (${(err as Error).message})`);
  }
  return { file, cleanup };
}

/** What identifies an HTTP resource's content: its ETag, else Last-Modified + length; neither: the fetch time (never cached). */
export async function httpIdentity(url: string, headers: Record<string, string>): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'HEAD', headers, redirect: 'follow' });
  } catch (err) {
    throw new IngestError(httpWhere(url, err));
  }
  if (!res.ok) throw new IngestError(`${redact(url)}: HTTP ${res.status} ${res.statusText}`);
  const etag = res.headers.get('etag');
  if (etag) return `etag ${etag}`;
  const lm = res.headers.get('last-modified');
  if (lm) return `last-modified ${lm}, ${res.headers.get('content-length') ?? '?'} bytes`;
  return `unversioned (fetched ${new Date().toISOString()}; not cached)`;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

export interface PgSource {
  readonly connectionString: string;
  readonly query: string;
}

/** The connection (no credentials in it) and the query of a postgres:// source. */
export function parsePostgres(uri: string, query: string | undefined): PgSource {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new IngestError(`${redact(uri)}: not a PostgreSQL URI; write it as postgres://HOST[:PORT]/DATABASE`);
  }
  if (u.password)
    throw new IngestError(
      `${redact(uri)}: a password in the URI; set PGUSER and PGPASSWORD in the environment instead (in a pod, from a Secret: env PGPASSWORD: Secret.fromSecret(name, key))`,
    );
  const q = query ?? u.searchParams.get('query') ?? undefined;
  if (!q?.trim())
    throw new IngestError(`${redact(uri)}: no SQL; set param query (--query on the command line), e.g. "SELECT * FROM transactions WHERE day = current_date"`);
  u.searchParams.delete('query');
  if (!u.pathname.replace(/^\//, '')) throw new IngestError(`${redact(uri)}: no database; write it as postgres://HOST[:PORT]/DATABASE`);
  return { connectionString: u.toString(), query: q };
}

export const PG_SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

/**
 * The TLS a postgres:// source asks for, as libpq reads it: `sslmode` and `sslrootcert` from the
 * URI's query, else PGSSLMODE and PGSSLROOTCERT; the default is libpq's 'prefer', which `pg` (no
 * fallback to plain text) reads as no TLS. 'require' encrypts without checking the server (with a
 * CA file it checks the chain, as libpq does); 'verify-ca' checks the chain against the CA file;
 * 'verify-full' also the host name. Returns `pg`'s `ssl` option and the URI without the two params.
 */
export function postgresTls(connectionString: string, env: Env): { connectionString: string; ssl: false | TlsOptions; mode: string } {
  const u = new URL(connectionString);
  const where = redact(connectionString);
  const mode = u.searchParams.get('sslmode') ?? env.PGSSLMODE ?? 'prefer';
  const caFile = u.searchParams.get('sslrootcert') ?? env.PGSSLROOTCERT ?? undefined;
  for (const k of ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslpassword']) u.searchParams.delete(k);
  if (!(PG_SSL_MODES as readonly string[]).includes(mode))
    throw new IngestError(`${where}: sslmode '${mode}' is not one of ${PG_SSL_MODES.join(', ')} (URI ?sslmode= or PGSSLMODE)`);
  const ca = caFile ? readCaFile(caFile, `${where}: sslrootcert (or PGSSLROOTCERT)`) : undefined;
  if ((mode === 'verify-ca' || mode === 'verify-full') && !ca)
    throw new IngestError(`${where}: sslmode ${mode} checks the server against a CA; name its file with ?sslrootcert=PATH or PGSSLROOTCERT`);
  let ssl: false | TlsOptions = false;
  if (mode === 'require') ssl = ca ? { ca, checkServerIdentity: () => undefined } : { rejectUnauthorized: false };
  else if (mode === 'verify-ca') ssl = { ca, checkServerIdentity: () => undefined };
  else if (mode === 'verify-full') ssl = { ca };
  return { connectionString: u.toString(), ssl, mode };
}

/** A CA bundle (PEM) by path; an unreadable one is an error naming where the path came from. */
function readCaFile(path: string, from: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new IngestError(
      `${from}: cannot read the CA file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); mount it (e.g. from a Secret) and give its path`,
    );
  }
}

/** A TLS failure's hint: what to set so the certificate checks. */
function tlsHint(code: string | undefined, caSetting: string): string | undefined {
  if (!code) return undefined;
  if (/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE/.test(code))
    return `the server's TLS certificate is not signed by a trusted CA (${code}); set ${caSetting} to the CA that signed it`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `the server's TLS certificate is not for this host name (${code}); connect by a name it lists, or check the CA only`;
  if (code === 'CERT_HAS_EXPIRED') return `the server's TLS certificate has expired (${code})`;
  return undefined;
}

const PG_HINTS: Record<string, string> = {
  '28P01': 'the server refused the password; check PGUSER/PGPASSWORD',
  '28000': 'the server refused the login; check PGUSER/PGPASSWORD and pg_hba.conf',
  '3D000': 'no such database; fix the database name in the URI',
  '42P01': 'no such table; check the query',
  '42703': 'no such column; check the query',
  '42601': 'a syntax error in the query',
  '25006': 'the query tried to write; ingest runs queries read-only',
};

function pgError(uri: string, query: string, err: unknown): IngestError {
  const e = err as { code?: string; message?: string; position?: string };
  const where = `${redact(uri)} (query ${JSON.stringify(query.length > 120 ? `${query.slice(0, 117)}...` : query)})`;
  if (e.code && /^[0-9A-Z]{5}$/.test(e.code)) {
    const hint = PG_HINTS[e.code] ?? `SQLSTATE ${e.code}`;
    return new IngestError(`${where}: ${hint}: ${e.message}${e.position ? ` (at character ${e.position})` : ''}`);
  }
  if (e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND' || e.code === 'ETIMEDOUT' || e.code === 'EHOSTUNREACH')
    return new IngestError(`${where}: cannot reach the database server (${e.code}); check the host and port`);
  const tls = tlsHint(e.code, '?sslrootcert=PATH (or PGSSLROOTCERT)');
  if (tls) return new IngestError(`${where}: ${tls}`);
  if (/does not support SSL/i.test(e.message ?? ''))
    return new IngestError(`${where}: the server does not offer TLS; use sslmode=disable or turn ssl on at the server`);
  return new IngestError(`${where}: ${e.message ?? String(err)}`);
}

/** Run a read-only query and return its rows as a raw table (column order as the query gives them). */
export async function readPostgres(uri: string, query: string | undefined, env: Env = process.env): Promise<RawTable> {
  const src = parsePostgres(uri, query);
  const { default: pg } = await import('pg');
  // The credentials join the connection string here only (pg lets a connection string's empty user
  // override PGUSER); they never reach a message.
  const tls = postgresTls(src.connectionString, env);
  const conn = new URL(tls.connectionString);
  if (env.PGUSER && !conn.username) conn.username = encodeURIComponent(env.PGUSER);
  if (env.PGPASSWORD) conn.password = encodeURIComponent(env.PGPASSWORD);
  const client = new pg.Client({ connectionString: conn.toString(), ssl: tls.ssl, connectionTimeoutMillis: 15_000 });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw pgError(uri, src.query, err);
  }
  try {
    await client.query('BEGIN TRANSACTION READ ONLY');
    const res = await client.query<Record<string, unknown>>(src.query);
    await client.query('ROLLBACK');
    if (!res.fields?.length) throw new IngestError(`${redact(uri)}: the query returned no columns; ingest needs a SELECT`);
    return tableFromObjects(
      res.rows,
      res.fields.map((f) => f.name),
      redact(uri),
    );
  } catch (err) {
    if (err instanceof IngestError) throw err;
    throw pgError(uri, src.query, err);
  } finally {
    await client.end().catch(() => {});
  }
}

/** SQL: the query text plus the time bucket its declared freshness allows; none declared: a fresh identity each run. */
export function sqlIdentity(query: string, freshness: string | undefined, now = Date.now()): string {
  const q = createHash('sha256').update(query).digest('hex').slice(0, 16);
  if (!freshness) return `query sha256:${q}, no freshness declared (not cached; ran ${new Date(now).toISOString()})`;
  let secs: number;
  try {
    secs = parseDuration(freshness);
  } catch (err) {
    throw new IngestError(`param freshness: ${(err as Error).message}`);
  }
  if (secs <= 0) throw new IngestError(`param freshness: '${freshness}' must be longer than 0s`);
  const bucket = Math.floor(now / 1000 / secs) * secs;
  return `query sha256:${q}, freshness ${freshness} (window from ${new Date(bucket * 1000).toISOString()})`;
}

// ---------------------------------------------------------------------------------------------
// Kafka

export interface KafkaSource {
  readonly brokers: string[];
  readonly topic: string;
  readonly group: string;
}

export function parseKafka(uri: string, group: string | undefined, env: Env): KafkaSource {
  if (/^kafka:\/\/[^/]*@/i.test(uri))
    throw new IngestError(
      `${redact(uri)}: credentials in the URI; set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD in the environment instead (in a pod, from a Secret: env KAFKA_SASL_PASSWORD: Secret.fromSecret(name, key))`,
    );
  const m = /^kafka:\/\/([^/]*)\/([A-Za-z0-9._-]+)$/i.exec(uri);
  if (!m) throw new IngestError(`${uri}: not a Kafka source; write it as kafka://HOST:PORT/TOPIC (or kafka:///TOPIC with KAFKA_BROKERS set)`);
  const brokers = (m[1] || env.KAFKA_BROKERS || '').split(',').filter(Boolean);
  if (brokers.length === 0) throw new IngestError(`${uri}: no broker; name one (kafka://HOST:PORT/TOPIC) or set KAFKA_BROKERS`);
  for (const b of brokers) if (!/^[^:\s]+:\d+$/.test(b)) throw new IngestError(`${uri}: broker '${b}' is not HOST:PORT`);
  return { brokers, topic: m[2], group: group || `ghosteam-ingest-${m[2]}` };
}

/** The offsets a bounded read covers, per partition: [start, end). */
export interface KafkaRange {
  readonly brokers: string[];
  readonly topic: string;
  readonly group: string;
  readonly partitions: { readonly partition: number; readonly start: string; readonly end: string }[];
}

export function kafkaRangeText(r: KafkaRange): string {
  return `topic ${r.topic}, group ${r.group}, offsets ${r.partitions.map((p) => `p${p.partition} ${p.start}..${p.end}`).join(', ')}`;
}

export const KAFKA_SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export const KAFKA_SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

/** A Kafka connection's security, from the environment (see the module comment); no secret in `text`. */
export interface KafkaSecurity {
  readonly protocol: (typeof KAFKA_SECURITY_PROTOCOLS)[number];
  readonly tls?: TlsOptions;
  readonly sasl?: { mechanism: (typeof KAFKA_SASL_MECHANISMS)[number]; username: string; password: string };
  /** In words, for messages: 'SASL_SSL, SCRAM-SHA-512 as alice'. */
  readonly text: string;
}

/**
 * Reads KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and
 * KAFKA_SSL_CA_FILE. Unset protocol: SASL_SSL when a mechanism is set (a password never crosses the
 * network in the clear unless SASL_PLAINTEXT is asked for by name), SSL when a CA file is, else
 * PLAINTEXT.
 */
export function kafkaSecurity(uri: string, env: Env): KafkaSecurity {
  const where = redact(uri);
  const mechanism = env.KAFKA_SASL_MECHANISM?.toUpperCase();
  const caFile = env.KAFKA_SSL_CA_FILE || undefined;
  const protocol = (env.KAFKA_SECURITY_PROTOCOL?.toUpperCase() ?? (mechanism ? 'SASL_SSL' : caFile ? 'SSL' : 'PLAINTEXT')) as KafkaSecurity['protocol'];
  if (!KAFKA_SECURITY_PROTOCOLS.includes(protocol))
    throw new IngestError(`${where}: KAFKA_SECURITY_PROTOCOL '${env.KAFKA_SECURITY_PROTOCOL}' is not one of ${KAFKA_SECURITY_PROTOCOLS.join(', ')}`);
  const useTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const useSasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
  if (caFile && !useTls) throw new IngestError(`${where}: KAFKA_SSL_CA_FILE is set but KAFKA_SECURITY_PROTOCOL is ${protocol}; use SSL or SASL_SSL`);
  const tls: TlsOptions | undefined = useTls ? (caFile ? { ca: readCaFile(caFile, `${where}: KAFKA_SSL_CA_FILE`) } : {}) : undefined;
  if (!useSasl) {
    if (mechanism) throw new IngestError(`${where}: KAFKA_SASL_MECHANISM is set but KAFKA_SECURITY_PROTOCOL is ${protocol}; use SASL_SSL (or SASL_PLAINTEXT)`);
    return { protocol, tls, text: protocol };
  }
  if (!mechanism) throw new IngestError(`${where}: KAFKA_SECURITY_PROTOCOL ${protocol} needs KAFKA_SASL_MECHANISM (${KAFKA_SASL_MECHANISMS.join(', ')})`);
  if (!(KAFKA_SASL_MECHANISMS as readonly string[]).includes(mechanism))
    throw new IngestError(`${where}: KAFKA_SASL_MECHANISM '${env.KAFKA_SASL_MECHANISM}' is not one of ${KAFKA_SASL_MECHANISMS.join(', ')}`);
  const username = env.KAFKA_SASL_USERNAME;
  const password = env.KAFKA_SASL_PASSWORD;
  if (!username || password === undefined)
    throw new IngestError(
      `${where}: SASL (${mechanism}) needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD in the environment (in a pod, from a Secret: env KAFKA_SASL_PASSWORD: Secret.fromSecret(name, key))`,
    );
  return {
    protocol,
    tls,
    sasl: { mechanism: mechanism as (typeof KAFKA_SASL_MECHANISMS)[number], username, password },
    text: `${protocol}, ${mechanism} as ${username}`,
  };
}

function kafkaError(uri: string, err: unknown, security?: KafkaSecurity): IngestError {
  const e = err as Error & { errors?: Error[]; code?: string; cause?: Error & { code?: string } };
  const all = [e, ...(e.errors ?? []), ...(e.errors ?? []).flatMap((x) => (x as { errors?: Error[] }).errors ?? [])];
  for (const x of [...all]) for (let c = (x as { cause?: unknown }).cause; c instanceof Error; c = (c as { cause?: unknown }).cause) all.push(c);
  const inner = [...new Set(all.map((x) => x.message))].join('; ');
  const codes = all.map((x) => (x as { code?: string }).code).filter((c): c is string => typeof c === 'string');
  const tls = codes.map((c) => tlsHint(c, 'KAFKA_SSL_CA_FILE')).find(Boolean);
  if (tls) return new IngestError(`${uri}: ${tls} (${security?.text ?? 'SSL'})`);
  if (/SASL_AUTHENTICATION_FAILED|Authentication failed|invalid credentials|SaslAuthenticat/i.test(inner))
    return new IngestError(
      `${uri}: the broker refused the SASL login (${security?.text ?? 'SASL'}): ${[...new Set(all.map((x) => x.message).filter((m) => /SASL|authenticat/i.test(m)))].join('; ')}; check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM`,
    );
  if (/UNSUPPORTED_SASL_MECHANISM|mechanism/i.test(inner) && security?.sasl)
    return new IngestError(
      `${uri}: the broker does not take SASL ${security.sasl.mechanism} on this listener (${inner}); set KAFKA_SASL_MECHANISM to one it enables`,
    );
  if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|connect/i.test(inner))
    return new IngestError(
      `${uri}: cannot reach the Kafka broker (${inner}); check the broker address (or KAFKA_BROKERS)${security && security.protocol !== 'PLAINTEXT' ? ` and that the listener speaks ${security.protocol}` : ''}`,
    );
  if (/UNKNOWN_TOPIC|unknown topic/i.test(inner)) return new IngestError(`${uri}: no such topic; create it or fix the name`);
  return new IngestError(`${uri}: ${inner}`);
}

async function kafkaConsumer(src: KafkaSource, security: KafkaSecurity) {
  const { Consumer, stringDeserializers } = await import('@platformatic/kafka');
  return new Consumer({
    clientId: 'ghosteam-ingest',
    groupId: src.group,
    bootstrapBrokers: src.brokers,
    deserializers: stringDeserializers,
    retries: 2,
    timeout: 10_000,
    ...(security.tls ? { tls: security.tls } : {}),
    ...(security.sasl ? { sasl: security.sasl } : {}),
  });
}

/** Close a consumer, leaving its group at once; errors on the way out are moot. */
function closeConsumer(consumer: Awaited<ReturnType<typeof kafkaConsumer>>): Promise<void> {
  return new Promise((resolve) => consumer.close(true, () => resolve()));
}

/** The range a read starting now covers: from the committed offsets (or earliest, or a time) to the end offsets. */
export async function kafkaRange(uri: string, opts: SourceOptions = {}): Promise<KafkaRange> {
  const src = parseKafka(uri, opts.group, opts.env ?? process.env);
  const security = kafkaSecurity(uri, opts.env ?? process.env);
  const from = opts.from ?? 'committed';
  let fromTime: bigint | undefined;
  if (from !== 'committed' && from !== 'earliest') {
    const t = Date.parse(from);
    if (Number.isNaN(t)) throw new IngestError(`${uri}: param from (--from) '${from}' is not 'committed', 'earliest' or an ISO 8601 time`);
    fromTime = BigInt(t);
  }
  const consumer = await kafkaConsumer(src, security);
  try {
    const meta = await consumer.metadata({ topics: [src.topic] });
    const topic = meta.topics.get(src.topic);
    if (!topic) throw new IngestError(`${uri}: no such topic; create it or fix the name`);
    const ends = (await consumer.listOffsets({ topics: [src.topic] })).get(src.topic) ?? [];
    const earliest = (await consumer.listOffsets({ topics: [src.topic], timestamp: -2n })).get(src.topic) ?? [];
    let starts: bigint[];
    if (fromTime !== undefined) {
      const byTime = (await consumer.listOffsets({ topics: [src.topic], timestamp: fromTime })).get(src.topic) ?? [];
      // No record at or after the time: the partition's end (nothing to read).
      starts = ends.map((end, p) => (byTime[p] === undefined || byTime[p] < 0n ? end : byTime[p]));
    } else if (from === 'earliest') {
      starts = earliest;
    } else {
      const committed = (await consumer.listCommittedOffsets({ topics: [{ topic: src.topic, partitions: ends.map((_, p) => p) }] })).get(src.topic) ?? [];
      starts = ends.map((_, p) => (committed[p] === undefined || committed[p] < 0n ? (earliest[p] ?? 0n) : committed[p]));
    }
    return {
      brokers: src.brokers,
      topic: src.topic,
      group: src.group,
      partitions: ends.map((end, p) => ({ partition: p, start: String(starts[p] ?? end), end: String(end) })),
    };
  } catch (err) {
    if (err instanceof IngestError) throw err;
    throw kafkaError(uri, err, security);
  } finally {
    await closeConsumer(consumer);
  }
}

/** Read exactly the records of `range` (values are JSON objects) as a raw table. */
export async function readKafka(uri: string, range: KafkaRange, env: Env = process.env): Promise<RawTable> {
  const src = { brokers: range.brokers, topic: range.topic, group: range.group };
  const security = kafkaSecurity(uri, env);
  const todo = range.partitions.filter((p) => BigInt(p.start) < BigInt(p.end));
  const rows: Record<string, unknown>[] = [];
  const where: string[] = [];
  if (todo.length > 0) {
    const consumer = await kafkaConsumer(src, security);
    const { MessagesStreamModes } = await import('@platformatic/kafka');
    try {
      const stream = await consumer.consume({
        topics: [src.topic],
        mode: MessagesStreamModes.MANUAL,
        offsets: todo.map((p) => ({ topic: src.topic, partition: p.partition, offset: BigInt(p.start) })),
        autocommit: false,
        maxWaitTime: 500,
      });
      const left = new Map(todo.map((p) => [p.partition, BigInt(p.end)]));
      // Keyed by offset: a fetch the client re-issues (a retry, a rebalance of its fetch loop) can
      // deliver a record twice, and a record must become one row, never two.
      const byPartition = new Map<number, Map<bigint, Record<string, unknown>>>();
      try {
        for await (const msg of stream) {
          const end = left.get(msg.partition);
          if (end === undefined || msg.offset >= end) continue;
          let row: unknown;
          try {
            row = JSON.parse(msg.value);
          } catch (err) {
            throw new IngestError(`${uri} partition ${msg.partition} offset ${msg.offset}: the value is not JSON (${(err as Error).message})`);
          }
          if (row === null || typeof row !== 'object' || Array.isArray(row))
            throw new IngestError(`${uri} partition ${msg.partition} offset ${msg.offset}: the value is not a JSON object; each record must be one row`);
          const got = byPartition.get(msg.partition) ?? new Map<bigint, Record<string, unknown>>();
          got.set(msg.offset, row as Record<string, unknown>);
          byPartition.set(msg.partition, got);
          if (msg.offset + 1n >= end) left.delete(msg.partition);
          if (left.size === 0) break;
        }
      } finally {
        await stream.close().catch(() => {});
      }
      for (const p of todo) {
        for (const [offset, row] of [...(byPartition.get(p.partition) ?? new Map<bigint, Record<string, unknown>>())].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
          rows.push(row);
          where.push(`${uri} partition ${p.partition} offset ${offset}`);
        }
      }
    } catch (err) {
      if (err instanceof IngestError) throw err;
      throw kafkaError(uri, err, security);
    } finally {
      await closeConsumer(consumer);
    }
  }
  const names: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) if (!seen.has(k)) (seen.add(k), names.push(k));
  const t = tableFromObjects(rows, names, uri);
  return { ...t, where: (row, col) => `${where[row]} (field '${names[col]}')` };
}

/** Commit a read range's end offsets for its group: the next run starts after them. */
export async function commitKafkaOffsets(range: KafkaRange, env: Env = process.env): Promise<void> {
  const uri = `kafka://${range.brokers.join(',')}/${range.topic}`;
  const security = kafkaSecurity(uri, env);
  const consumer = await kafkaConsumer({ brokers: range.brokers, topic: range.topic, group: range.group }, security);
  // A commit from outside the group's membership (Kafka's "simple consumer" commit): generation -1
  // and an empty member id, which the broker accepts while the group has no live members.
  consumer.generationId = -1;
  consumer.memberId = '';
  try {
    await consumer.commit({
      offsets: range.partitions.map((p) => ({ topic: range.topic, partition: p.partition, offset: BigInt(p.end), leaderEpoch: -1 })),
    });
  } catch (err) {
    throw kafkaError(uri, err, security);
  } finally {
    await closeConsumer(consumer);
  }
}

// ---------------------------------------------------------------------------------------------
// Content identity, for the step cache

export interface SourceIdentity {
  /** What identifies the content, in words (`ghosteam runs show` prints it; the cache key hashes it). */
  readonly identity: string;
  /** For kafka://: the range the identity names; the read covers exactly it, the engine commits it when the run succeeds. */
  readonly kafka?: KafkaRange;
}

/** What identifies a remote source's content now (a local file: undefined; the engine hashes it). */
export async function sourceIdentity(uri: string, opts: SourceOptions = {}): Promise<SourceIdentity | undefined> {
  const env = opts.env ?? process.env;
  switch (sourceKind(uri)) {
    case 'file':
      return undefined;
    case 's3': {
      const { parseS3Url } = await import('./s3.ts');
      const loc = parseS3Url(uri);
      if (isGlob(loc.key)) {
        const objs = await listS3Glob(uri, loc, env);
        const h = createHash('sha256');
        for (const o of objs) h.update(`${o.key}\0${o.etag}\0${o.size}\n`);
        return { identity: `${objs.length} objects, ETags sha256:${h.digest('hex').slice(0, 16)}` };
      }
      const o = await headS3(uri, loc, env);
      return { identity: `ETag ${o.etag}${o.versionId ? `, VersionId ${o.versionId}` : ''}` };
    }
    case 'https':
      return { identity: await httpIdentity(uri, resolveHeaders(uri, opts.headers, env)) };
    case 'postgres': {
      const src = parsePostgres(uri, opts.query);
      return { identity: sqlIdentity(src.query, opts.freshness) };
    }
    case 'kafka': {
      const range = await kafkaRange(uri, opts);
      return { identity: kafkaRangeText(range), kafka: range };
    }
  }
}

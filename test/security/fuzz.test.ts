// Fuzzing every HTTPS surface that takes a bearer token (#23): the model server (static token and
// OIDC/JWT), the payload sink (mutual TLS and OIDC/JWT) and the operator's health/metrics server
// (OIDC/JWT). Two kinds of input, sent as raw bytes so nothing in a client library cleans them up:
//   - Authorization headers: a real RS256 token cut at every length, with characters changed in each
//     part, parts swapped, dropped or added; headers naming other algorithms (none, HS256 keyed with
//     the public key, RS512, ES256), unknown, huge or non-string `kid`s, `jku`/`x5u`/`jwk` pointing
//     at a server the test watches, `crit`, `b64: false`, `zip`; payloads that are not JSON objects
//     or carry claims of the wrong type (signed properly, so they reach the claim checks); random
//     printable and binary strings, duplicated headers, other schemes, odd whitespace.
//   - TLS handshakes: TLS 1.0 and 1.1 (the server must alert protocol_version), an SSLv2-format and
//     an SSLv3-versioned hello, a real ClientHello cut at many lengths and with bytes flipped, random
//     bytes, a zero-length record, plain HTTP, a wrong SNI, and for the sink no or a foreign client
//     certificate.
// The bar: no crash, no 5xx, every malformed token a 401 (a 403 only for a token whose signature
// verified), the issuer's JWKS fetched no more often than the cooldown allows, nothing fetched from
// a URL a token names, and a good token still answered 200 at the end. The issuer is a JWKS server
// in this process (jose signs); the real issuer's acceptance tests are in oidc.test.ts.
import { mulberry32 } from '../../components/random.ts';
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as httpServer, type Server } from 'node:http';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { connect as netConnect, createServer as netServer, type AddressInfo } from 'node:net';
import { createHmac, createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK } from 'jose';
import { startModelServer, type ModelServer } from '../../components/model-server/index.ts';
import { startPayloadSink, type PayloadSink } from '../../components/payload-sink/index.ts';
import { startHealthServer } from '../../controllers/runtime/health.ts';
import { OperatorMetrics } from '../../controllers/runtime/metrics.ts';
import { tempDir, writeFraudModel, rows, inferBody } from '../model-server/fixtures.ts';
import { makeCa, makeLeaf } from './certs.ts';

const ISSUER = 'https://issuer.fuzz.invalid';
const AUDIENCE = 'ghosteam-fuzz';
const COOLDOWN_MS = 1000;
const STATIC = 'fuzz-static-token-0123456789';

const b64u = (x: string | Buffer): string => Buffer.from(x).toString('base64url');

interface Keys {
  readonly rsa: KeyObject;
  readonly rsaPub: KeyObject;
  readonly ec: KeyObject;
}

/** A JWS over any header and payload text, signed for real (RS256/RS512 with the RSA key, ES256 with the EC key, HS256 with `hmacKey`). */
function sign(keys: Keys, header: Record<string, unknown>, payload: string, how: 'RS256' | 'RS512' | 'ES256' | 'HS256' | 'none', hmacKey?: Buffer): string {
  const input = `${b64u(JSON.stringify(header))}.${b64u(payload)}`;
  if (how === 'none') return `${input}.`;
  if (how === 'HS256') return `${input}.${createHmac('sha256', hmacKey!).update(input).digest('base64url')}`;
  const s = createSign(how === 'RS512' ? 'sha512' : 'sha256').update(input);
  const sig = how === 'ES256' ? s.sign({ key: keys.ec, dsaEncoding: 'ieee-p1363' }) : s.sign(keys.rsa);
  return `${input}.${sig.toString('base64url')}`;
}

interface Case {
  readonly name: string;
  /** Raw header lines after the request line and Host (CRLF-free unless the case is about them). */
  readonly lines: readonly Buffer[];
  /** Statuses allowed (default: 400, 401, 431). */
  readonly allow?: readonly number[];
}

/** Every Authorization case, for a token carrying `scope` (the permission the route needs). */
function authCases(keys: Keys, scope: string, jkuUrl: string): Case[] {
  const rand = mulberry32(23);
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'fuzzer', scope, iat: now, exp: now + 600 };
  const hdr = { alg: 'RS256', kid: 'k1', typ: 'JWT' };
  const good = sign(keys, hdr, JSON.stringify(claims), 'RS256');
  const [h, p, s] = good.split('.');
  const auth = (v: string | Buffer, name: string, allow?: readonly number[]): Case => ({
    name,
    lines: [Buffer.concat([Buffer.from('authorization: '), Buffer.from(v as string, typeof v === 'string' ? 'latin1' : undefined)])],
    ...(allow ? { allow } : {}),
  });
  const B = (t: string) => `Bearer ${t}`;
  const B64U = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const out: Case[] = [];
  // cut at every length (a step keeps the count sane)
  for (let n = 0; n < good.length; n += Math.max(1, Math.floor(good.length / 40))) out.push(auth(B(good.slice(0, n)), `cut at ${n}`));
  // one character changed in each part
  for (const [part, idx] of [
    ['header', 0],
    ['payload', 1],
    ['signature', 2],
  ] as const) {
    for (let k = 0; k < 8; k++) {
      const parts = [h, p, s];
      const seg = parts[idx];
      const i = Math.floor(rand() * seg.length);
      let c = B64U[Math.floor(rand() * 64)];
      if (c === seg[i]) c = seg[i] === 'A' ? 'B' : 'A';
      parts[idx] = seg.slice(0, i) + c + seg.slice(i + 1);
      out.push(auth(B(parts.join('.')), `${part} char ${i} changed`));
    }
  }
  for (const [name, t] of [
    ['parts swapped', `${p}.${h}.${s}`],
    ['no signature', `${h}.${p}.`],
    ['two parts', `${h}.${p}`],
    ['four parts', `${h}.${p}.${s}.${s}`],
    ['five parts (JWE shape)', `${h}..${p}.${s}.${s}`],
    ['empty parts', '..'],
    ['dots only', '....'],
    ['padding added', `${h}==.${p}.${s}`],
    ['standard base64', good.replace(/-/g, '+').replace(/_/g, '/')],
    ['spaces inside', `${h}. ${p} .${s}`],
    ['10,000 characters', `${h}.${'A'.repeat(10_000)}.${s}`],
  ] as const)
    out.push(auth(B(t), name));
  // headers of every wrong shape, signed for real where a key exists
  const pub = keys.rsaPub.export({ type: 'spki', format: 'pem' }) as Buffer;
  const body = JSON.stringify(claims);
  for (const [name, t] of [
    ['alg none', sign(keys, { alg: 'none', typ: 'JWT' }, body, 'none')],
    ['alg None', sign(keys, { alg: 'None', kid: 'k1' }, body, 'none')],
    ['HS256 keyed with the public key (key confusion)', sign(keys, { alg: 'HS256', kid: 'k1' }, body, 'HS256', pub)],
    ['RS512 (not allowed)', sign(keys, { alg: 'RS512', kid: 'k1' }, body, 'RS512')],
    ['ES256 header, EC key not in the JWKS', sign(keys, { alg: 'ES256', kid: 'k1' }, body, 'ES256')],
    ['kid a number', sign(keys, { alg: 'RS256', kid: 7 }, body, 'RS256')],
    ['kid an object', sign(keys, { alg: 'RS256', kid: { $ne: '' } }, body, 'RS256')],
    ['kid a path', sign(keys, { alg: 'RS256', kid: '../../etc/passwd' }, body, 'RS256')],
    ['kid 5,000 characters', sign(keys, { alg: 'RS256', kid: 'k'.repeat(5000) }, body, 'RS256')],
    ['jku to a watched server', sign(keys, { alg: 'RS256', kid: 'evil', jku: jkuUrl }, body, 'RS256')],
    ['x5u to a watched server', sign(keys, { alg: 'RS256', kid: 'evil', x5u: `${jkuUrl}/x5u` }, body, 'RS256')],
    ['embedded jwk', sign(keys, { alg: 'RS256', kid: 'evil', jwk: { kty: 'RSA', n: 'AQAB', e: 'AQAB' } }, body, 'RS256')],
    ['crit unknown', sign(keys, { ...hdr, crit: ['ghosteam-unknown'], 'ghosteam-unknown': 1 }, body, 'RS256')],
    ['crit not an array', sign(keys, { ...hdr, crit: 'exp' }, body, 'RS256')],
    ['b64 false', sign(keys, { ...hdr, b64: false, crit: ['b64'] }, body, 'RS256')],
    ['header an array', `${b64u('[1,2]')}.${p}.${s}`],
    ['header not JSON', `${b64u('{alg:RS256')}.${p}.${s}`],
    ['header JSON null', `${b64u('null')}.${p}.${s}`],
    ['header not UTF-8', `${b64u(Buffer.from([0xff, 0xfe, 0x7b]))}.${p}.${s}`],
    ['payload not JSON (signed)', sign(keys, hdr, 'not json', 'RS256')],
    ['payload an array (signed)', sign(keys, hdr, '[1]', 'RS256')],
    ['payload a string (signed)', sign(keys, hdr, '"x"', 'RS256')],
    ['payload null (signed)', sign(keys, hdr, 'null', 'RS256')],
    ['exp a string (signed)', sign(keys, hdr, JSON.stringify({ ...claims, exp: 'tomorrow' }), 'RS256')],
    ['exp in the past (signed)', sign(keys, hdr, JSON.stringify({ ...claims, exp: now - 3600 }), 'RS256')],
    ['nbf in the future (signed)', sign(keys, hdr, JSON.stringify({ ...claims, nbf: now + 3600 }), 'RS256')],
    ['iat an object (signed)', sign(keys, hdr, JSON.stringify({ ...claims, iat: {} }), 'RS256')],
    ['iss wrong (signed)', sign(keys, hdr, JSON.stringify({ ...claims, iss: 'https://evil.invalid' }), 'RS256')],
    ['iss missing (signed)', sign(keys, hdr, JSON.stringify({ ...claims, iss: undefined }), 'RS256')],
    ['aud a number (signed)', sign(keys, hdr, JSON.stringify({ ...claims, aud: 5 }), 'RS256')],
    ['aud an object (signed)', sign(keys, hdr, JSON.stringify({ ...claims, aud: { x: AUDIENCE } }), 'RS256')],
    ['aud another service (signed)', sign(keys, hdr, JSON.stringify({ ...claims, aud: ['other'] }), 'RS256')],
  ] as const)
    out.push(auth(B(t), name));
  // Verified tokens that are fine as JWS (RFC 7515: unknown header parameters are ignored unless
  // `crit`; one key in the JWKS serves a token without `kid`; the scheme is case-insensitive, RFC
  // 9110 11.1; of two Authorization headers node keeps the first): accepted, so 200 is right.
  const VERIFIED = [200, 401, 403, 431] as const;
  for (const [name, t] of [
    ['no kid (the one key)', sign(keys, { alg: 'RS256' }, body, 'RS256')],
    ['zip DEF (a JWE parameter, ignored)', sign(keys, { ...hdr, zip: 'DEF' }, body, 'RS256')],
  ] as const)
    out.push(auth(B(t), name, VERIFIED));
  for (const [name, v] of [
    ['lower-case scheme', `bearer ${good}`],
    ['upper-case scheme', `BEARER ${good}`],
    ['tab after the scheme', `Bearer\t${good}`],
    ['two spaces', `Bearer  ${good}`],
  ] as const)
    out.push(auth(v, name, VERIFIED));
  out.push({
    name: 'two Authorization headers, the good one first',
    lines: [Buffer.from(`authorization: Bearer ${good}`), Buffer.from('authorization: Bearer x')],
    allow: VERIFIED,
  });
  out.push({
    name: 'two Authorization headers, a bad one first',
    lines: [Buffer.from('authorization: Bearer x'), Buffer.from(`authorization: Bearer ${good}`)],
  });
  // verified tokens whose claims are of odd types: they pass the signature, so 200 or 403 are answers too
  for (const [name, extra] of [
    ['scope a number', { scope: 42 }],
    ['scope an array', { scope: [scope] }],
    ['scope an object', { scope: { toString: scope } }],
    ['scope null', { scope: null }],
    ['scope 100,000 words', { scope: Array.from({ length: 2000 }, (_, i) => `s${i}`).join(' ') }],
    ['sub an object', { sub: { id: 1 } }],
    ['sub missing', { sub: undefined }],
    ['__proto__ claim', JSON.parse('{"__proto__": {"scope": "ghosteam:admin"}}') as Record<string, unknown>],
    ['constructor claim', { constructor: { prototype: { admin: true } } }],
  ] as const)
    out.push(auth(B(sign(keys, hdr, JSON.stringify({ ...claims, ...extra }), 'RS256')), `${name} (signed)`, VERIFIED));
  // unknown kids in a burst: each would need a JWKS fetch
  for (let i = 0; i < 20; i++) out.push(auth(B(sign(keys, { alg: 'RS256', kid: `unknown-${i}` }, body, 'RS256')), `unknown kid ${i}`));
  // not JWTs at all
  for (const [name, v] of [
    ['empty', ''],
    ['Bearer alone', 'Bearer'],
    ['Bearer and a space', 'Bearer '],
    ['Basic', 'Basic dXNlcjpwYXNz'],
    ['Negotiate', 'Negotiate abc'],
    ['trailing junk', `Bearer ${good} x`],
    ['the static token with a suffix', `Bearer ${STATIC}x`],
    ['the static token cut', `Bearer ${STATIC.slice(0, -1)}`],
    ['8 KiB', `Bearer ${'a'.repeat(8192)}`],
    ['64 KiB (past the header limit)', `Bearer ${'a'.repeat(65536)}`],
  ] as const)
    out.push(auth(v, name));
  for (let i = 0; i < 25; i++) {
    const len = 1 + Math.floor(rand() * 300);
    let t = '';
    for (let k = 0; k < len; k++) t += String.fromCharCode(0x21 + Math.floor(rand() * 94));
    out.push(auth(B(t), `random printable ${i}`));
  }
  for (let i = 0; i < 25; i++) {
    const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)).map((b) => (b === 10 || b === 13 ? 32 : b)));
    out.push(auth(Buffer.concat([Buffer.from('Bearer '), bytes]), `random bytes ${i}`));
  }
  out.push({ name: 'obs-fold continuation', lines: [Buffer.from('authorization: Bearer'), Buffer.from(` ${good}`)] });
  out.push({ name: 'NUL in the value', lines: [Buffer.from(`authorization: Bearer ${h}\0.${p}.${s}`)] });
  out.push({ name: 'bare CR in the value', lines: [Buffer.from(`authorization: Bearer ${h}\r.${p}.${s}`)] });
  return out;
}

/** One request as raw bytes over TLS; the status, or 0 when the connection closed without one. */
function rawHttps(port: number, tlsOpts: ConnectionOptions, head: string, lines: readonly Buffer[], body: string): Promise<number> {
  return new Promise((resolve) => {
    let got = '';
    const s = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ...tlsOpts }, () => {
      s.write(
        Buffer.concat([
          Buffer.from(`${head}\r\nhost: localhost\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`),
          ...lines.flatMap((l) => [l, Buffer.from('\r\n')]),
          Buffer.from('\r\n'),
          Buffer.from(body),
        ]),
      );
    });
    const done = (status: number) => {
      clearTimeout(t);
      s.destroy();
      resolve(status);
    };
    const t = setTimeout(() => done(0), 15_000);
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      if (m) done(Number(m[1]));
    });
    s.on('error', () => done(0));
    s.on('close', () => done(0));
  });
}

/** Sends raw bytes over TCP and waits for the server to close or answer. */
function rawBytes(port: number, bytes: Buffer, ms = 1000): Promise<void> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1', () => s.write(bytes));
    const done = (): void => {
      clearTimeout(t);
      s.destroy();
      resolve();
    };
    const t = setTimeout(done, ms);
    s.on('data', () => undefined);
    s.on('error', done);
    s.on('close', done);
  });
}

/** A real ClientHello (what node's TLS client sends first), captured from a listener that only records it. */
function captureClientHello(): Promise<Buffer> {
  return new Promise((resolve) => {
    const srv = netServer((sock) => {
      sock.once('data', (c: Buffer) => {
        sock.destroy();
        srv.close();
        resolve(c);
      });
    });
    srv.listen(0, '127.0.0.1', () => {
      const c = tlsConnect({ port: (srv.address() as AddressInfo).port, host: '127.0.0.1', servername: 'localhost' });
      c.on('error', () => undefined);
    });
  });
}

/** Resolves with the TLS error code a handshake ends with, or 'connected'. */
function handshake(port: number, opts: ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const c = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ...opts }, () => {
      c.end();
      resolve('connected');
    });
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** Runs `fn` over `items`, `n` at a time. */
async function pool<T, R>(items: readonly T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

describe('fuzzing the HTTPS surfaces: malformed Authorization headers and TLS handshakes', () => {
  const dir = tempDir('ghosteam-fuzz-');
  const ca = makeCa(dir);
  const leaf = makeLeaf(dir, ca, 'server');
  const clientCa = makeCa(dir, 'client-ca');
  const predictor = makeLeaf(dir, clientCa, 'predictor');
  const stranger = makeLeaf(dir, ca, 'stranger');
  const caPem = readFileSync(ca.cert);
  const { privateKey: rsa, publicKey: rsaPub } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { privateKey: ec } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keys: Keys = { rsa, rsaPub, ec };
  const model = writeFraudModel(dir, 1);
  const hits = { jwks: 0, watched: 0 };
  let jwksServer: Server;
  let watched: Server;
  let jwksUrl = '';
  let watchedUrl = '';
  let ms: ModelServer;
  let sink: PayloadSink;
  let health: { port: number; close(): Promise<void> };
  const errors: unknown[] = [];
  const onUncaught = (e: unknown) => errors.push(e);

  before(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    const jwk = { ...(await exportJWK(rsaPub)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwksServer = httpServer((_req, res) => {
      hits.jwks++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    watched = httpServer((_req, res) => {
      hits.watched++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    await Promise.all([jwksServer, watched].map((x) => new Promise<void>((r) => x.listen(0, '127.0.0.1', r))));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
    watchedUrl = `http://127.0.0.1:${(watched.address() as AddressInfo).port}/jku`;
    const jwt = { issuer: ISSUER, audience: AUDIENCE, jwksUrl, cooldownMs: COOLDOWN_MS, verifiedCacheMs: 0 };
    const tls = { cert: leaf.cert, key: leaf.key };
    ms = await startModelServer({
      port: 0,
      token: STATIC,
      processMetrics: false,
      models: [{ name: 'fraud', version: '1', path: model.path }],
      tls,
      auth: { jwt, grants: [] },
      log: () => undefined,
    });
    sink = await startPayloadSink({
      file: join(dir, 'payloads.jsonl'),
      port: 0,
      tls: { ...tls, clientCa: clientCa.cert },
      auth: { jwt },
      log: () => undefined,
    });
    health = await startHealthServer({ port: 0, metrics: new OperatorMetrics(), ready: () => undefined, auth: { jwt }, tls });
  });
  after(async () => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    await ms?.close();
    await sink?.close();
    await health?.close();
    jwksServer?.close();
    watched?.close();
  });

  const event = JSON.stringify({
    specversion: '1.0',
    id: 'f1',
    source: 'fuzz',
    type: 'org.kubeflow.serving.inference.request',
    datacontenttype: 'application/json',
    data: { inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] },
  });
  const surfaces = () =>
    [
      {
        name: 'model server',
        port: ms.port,
        tls: { ca: caPem } as ConnectionOptions,
        head: 'POST /v2/models/fraud/infer HTTP/1.1',
        extra: [Buffer.from('content-type: application/json')],
        body: inferBody(rows(1, 1)),
        scope: 'ghosteam:infer',
      },
      {
        name: 'payload sink',
        port: Number(new URL(sink.url).port),
        tls: { ca: caPem, cert: readFileSync(predictor.cert), key: readFileSync(predictor.key) } as ConnectionOptions,
        head: 'POST / HTTP/1.1',
        extra: [Buffer.from('content-type: application/cloudevents+json')],
        body: event,
        scope: 'ghosteam:ingest',
      },
      {
        name: 'operator metrics',
        port: health.port,
        tls: { ca: caPem } as ConnectionOptions,
        head: 'GET /metrics HTTP/1.1',
        extra: [] as Buffer[],
        body: '',
        scope: 'ghosteam:metrics',
      },
    ] as const;

  test('malformed Authorization headers: 401 (403 only for a verified token), never a 5xx; JWKS fetches within the cooldown; no URL a token names is fetched', async () => {
    for (const srv of surfaces()) {
      const cases = authCases(keys, srv.scope, watchedUrl);
      const jwksBefore = hits.jwks;
      const t0 = Date.now();
      const statuses = await pool(cases, 6, (c) => rawHttps(srv.port, srv.tls, srv.head, [...srv.extra, ...c.lines], srv.body));
      const elapsed = Date.now() - t0;
      const bad = cases
        .map((c, i) => ({ c, status: statuses[i] }))
        .filter(({ c, status }) => !(c.allow ?? [400, 401, 431]).includes(status))
        .map(({ c, status }) => `${c.name}: ${status}`);
      assert.deepEqual(bad, [], `${srv.name}: ${cases.length} cases`);
      // Printable, well-framed garbage is a 401 (a 400 only where the HTTP parser refuses the bytes).
      const printable = cases.filter((c) => /^(cut at|random printable|unknown kid|alg |HS256|RS512)/.test(c.name));
      for (const c of printable) assert.equal(statuses[cases.indexOf(c)], 401, `${srv.name}: ${c.name}`);
      // The unknown kids asked for the JWKS again, but no more than once per cooldown (plus the first fetch).
      const fetched = hits.jwks - jwksBefore;
      assert.ok(fetched <= 2 + Math.ceil(elapsed / COOLDOWN_MS), `${srv.name}: ${fetched} JWKS fetches in ${elapsed} ms`);
      // A good token still works afterwards.
      const now = Math.floor(Date.now() / 1000);
      const good = sign(
        keys,
        { alg: 'RS256', kid: 'k1' },
        JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: 'ok', scope: srv.scope, iat: now, exp: now + 60 }),
        'RS256',
      );
      const ok = await rawHttps(srv.port, srv.tls, srv.head, [...srv.extra, Buffer.from(`authorization: Bearer ${good}`)], srv.body);
      assert.equal(ok, 200, srv.name);
    }
    assert.equal(hits.watched, 0, 'a URL named in a token (jku/x5u) was fetched');
    // Claims named __proto__/constructor grant nothing: an infer-only token with them is refused admin.
    const now = Math.floor(Date.now() / 1000);
    const sneaky = sign(
      keys,
      { alg: 'RS256', kid: 'k1' },
      `{"iss":"${ISSUER}","aud":"${AUDIENCE}","sub":"x","scope":"ghosteam:infer","exp":${now + 60},"__proto__":{"scope":"ghosteam:admin"},"constructor":{"prototype":{"scope":"ghosteam:admin"}}}`,
      'RS256',
    );
    assert.equal(await rawHttps(ms.port, { ca: caPem }, 'GET /admin/models HTTP/1.1', [Buffer.from(`authorization: Bearer ${sneaky}`)], ''), 403);
    assert.deepEqual(errors, []);
  });

  test('TLS handshakes: 1.0/1.1 alerted, SSLv2/SSLv3 hellos, cut and flipped ClientHellos, random bytes, wrong SNI — no crash, still serving', async () => {
    const hello = await captureClientHello();
    const rand = mulberry32(2323);
    for (const srv of surfaces()) {
      // Old protocols: the server itself answers with the protocol_version alert (70).
      for (const v of ['TLSv1', 'TLSv1.1'] as const)
        assert.equal(
          await handshake(srv.port, { ...srv.tls, minVersion: v, maxVersion: v, ciphers: 'DEFAULT@SECLEVEL=0' }),
          'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
          `${srv.name} ${v}`,
        );
      // An SSLv2-format ClientHello (SSL_CK_RC4_128_WITH_MD5) and the captured hello re-versioned to SSLv3.
      await rawBytes(srv.port, Buffer.from('802e0100020015000000100100800700c0030080060040020080040080000039000038003500', 'hex').subarray(0, 48));
      const v3 = Buffer.from(hello);
      v3.writeUInt16BE(0x0300, 1);
      v3.writeUInt16BE(0x0300, 9);
      await rawBytes(srv.port, v3);
      const cuts = Array.from({ length: 30 }, (_, i) => Math.max(1, Math.floor((hello.length * (i + 1)) / 31)));
      await pool(cuts, 6, (n) => rawBytes(srv.port, hello.subarray(0, n), 400));
      const flips = Array.from({ length: 40 }, () => {
        const b = Buffer.from(hello);
        for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
        return b;
      });
      await pool(flips, 6, (b) => rawBytes(srv.port, b, 400));
      const junk = Array.from({ length: 20 }, () => Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 600) }, () => Math.floor(rand() * 256))));
      await pool(junk, 6, (b) => rawBytes(srv.port, b, 400));
      await rawBytes(srv.port, Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]));
      await rawBytes(srv.port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      // A wrong SNI still gets the one certificate, which a name-checking client refuses.
      assert.equal(await handshake(srv.port, { ...srv.tls, servername: 'not-this-host.example' }), 'ERR_TLS_CERT_ALTNAME_INVALID', srv.name);
      assert.equal(await handshake(srv.port, srv.tls), 'connected', srv.name);
    }
    // The sink wants a client certificate from its CA: none, or one from another CA, gets no session.
    const sinkPort = Number(new URL(sink.url).port);
    const noCert = await rawHttps(sinkPort, { ca: caPem }, 'GET /healthz HTTP/1.1', [], '');
    assert.equal(noCert, 0);
    const foreign = await rawHttps(
      sinkPort,
      { ca: caPem, cert: readFileSync(stranger.cert), key: readFileSync(stranger.key) },
      'GET /healthz HTTP/1.1',
      [],
      '',
    );
    assert.equal(foreign, 0);
    for (const srv of surfaces()) {
      const path = srv.name === 'model server' ? '/v2/health/ready' : srv.name === 'payload sink' ? '/healthz' : '/healthz';
      assert.equal(await rawHttps(srv.port, srv.tls, `GET ${path} HTTP/1.1`, [], ''), 200, `${srv.name} after the handshake fuzz`);
    }
    assert.deepEqual(errors, []);
  });
});

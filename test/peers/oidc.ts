// A real OpenID Provider for the auth tests: ghosteam-oidc (test/peers/oidc), zitadel/oidc's `op`
// package with its example storage, built from the Go module proxy into the peers' cache once and
// started per test file over TLS. Tokens come from its token endpoint by the JWT-profile grant
// (RFC 7523) of the example's service user, whose key ships with the module (service-key1.pem).
//
// Why not Dex: the Dex module on the proxy (the only pseudo-version published) needs an api/v2
// newer than any version the proxy serves, so it does not build here.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { createSign } from 'node:crypto';
import { request } from 'node:https';
import { join } from 'node:path';
import { cacheDir, peersDir, shortHash } from './config.ts';
import { freePort, spawnDaemon, stopPid, waitReady } from './daemons.ts';
import { run, which, withLock, type Log } from './install.ts';

const moduleDir = join(peersDir, 'oidc');
const SOURCES = ['go.mod', 'go.sum', 'cmd/ghosteam-oidc/main.go'];

function binaryPath(): string {
  return join(cacheDir, 'bin', `ghosteam-oidc-${shortHash(...SOURCES.map((f) => readFileSync(join(moduleDir, f), 'utf8')))}`);
}

/** Builds ghosteam-oidc once (CGO off) and keeps the example service user's key beside it. */
export async function ensureOidc(log: Log = () => {}): Promise<{ bin: string; serviceKey: string }> {
  const bin = binaryPath();
  const serviceKey = `${bin}.service-key1.pem`;
  if (existsSync(bin) && existsSync(serviceKey)) return { bin, serviceKey };
  return withLock('oidc', async () => {
    if (existsSync(bin) && existsSync(serviceKey)) return { bin, serviceKey };
    if (!which('go')) throw new Error('the Go toolchain is not on PATH; install Go >= 1.26 (only the test peers need it)');
    mkdirSync(join(cacheDir, 'bin'), { recursive: true });
    const tmp = `${bin}.tmp-${process.pid}`;
    log('oidc: building ghosteam-oidc (zitadel/oidc) from the Go module proxy (first time only)');
    await run('go', ['build', '-trimpath', '-o', tmp, './cmd/ghosteam-oidc'], { cwd: moduleDir, env: { ...process.env, CGO_ENABLED: '0' }, log });
    const dir = execFileSync('go', ['list', '-m', '-f', '{{.Dir}}', 'github.com/zitadel/oidc/v3'], { cwd: moduleDir, encoding: 'utf8' }).trim();
    copyFileSync(join(dir, 'example/server/service-key1.pem'), serviceKey);
    renameSync(tmp, bin);
    return { bin, serviceKey };
  });
}

export interface OidcPeer {
  /** https://127.0.0.1:PORT/ (the `iss` of its tokens and their `aud`). */
  readonly issuer: string;
  readonly log: string;
  /** An access token (a JWT) from the token endpoint, with these scopes (ghosteam:* are kept). */
  token(scopes?: readonly string[]): Promise<string>;
  /** Rotates the signing key: new tokens get a new kid; the previous key stays in the JWKS. */
  rotate(): Promise<string>;
  stop(): Promise<void>;
}

/** POST over HTTPS trusting `ca` (the test process can't add a CA to fetch). */
function post(url: string, ca: string, body: string, type: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca, headers: { 'content-type': type, 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function startOidc(opts: { dir: string; cert: string; key: string; ca: string; alg?: 'RS256' | 'ES256' }): Promise<OidcPeer> {
  const { bin, serviceKey } = await ensureOidc();
  const port = await freePort();
  const issuer = `https://127.0.0.1:${port}/`;
  const log = join(opts.dir, `oidc-${port}.log`);
  const child = spawnDaemon(bin, ['-addr', `127.0.0.1:${port}`, '-issuer', issuer, '-cert', opts.cert, '-key', opts.key, '-alg', opts.alg ?? 'RS256'], log, {
    attached: true,
  });
  const pid = child.pid!;
  const ca = readFileSync(opts.ca, 'utf8');
  await waitReady(
    'ghosteam-oidc',
    pid,
    log,
    30_000,
    () =>
      new Promise((resolve) => {
        const req = request(`${issuer}.well-known/openid-configuration`, { ca }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        req.on('error', () => resolve(false));
        req.end();
      }),
  ).catch(async (e: unknown) => {
    await stopPid(pid, 2000);
    throw e;
  });
  const key = readFileSync(serviceKey, 'utf8');
  return {
    issuer,
    log,
    async token(scopes = []) {
      // The client's assertion (RFC 7523): signed with the service user's key (1024-bit RSA in the
      // example, which jose rightly refuses to sign with, so node:crypto signs it).
      const now = Math.floor(Date.now() / 1000);
      const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
      const input = `${b64({ alg: 'RS256', kid: 'key1', typ: 'JWT' })}.${b64({ iss: 'service', sub: 'service', aud: issuer, iat: now, exp: now + 60 })}`;
      const assertion = `${input}.${createSign('RSA-SHA256').update(input).sign(key).toString('base64url')}`;
      const body = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion, scope: ['openid', ...scopes].join(' ') });
      const r = await post(`${issuer}oauth/token`, ca, body.toString(), 'application/x-www-form-urlencoded');
      if (r.status !== 200) throw new Error(`token endpoint: ${r.status} ${r.text}`);
      return (JSON.parse(r.text) as { access_token: string }).access_token;
    },
    async rotate() {
      const r = await post(`${issuer}ghosteam/rotate`, ca, '', 'application/json');
      if (r.status !== 200) throw new Error(`rotate: ${r.status} ${r.text}`);
      return (JSON.parse(r.text) as { kid: string }).kid;
    },
    stop: () => stopPid(pid, 3000),
  };
}

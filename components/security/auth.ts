/**
 * Authentication and authorization for every ghosteam HTTP surface (model server, payload sink,
 * operator metrics): a static bearer token (the simple option), OIDC/JWT access tokens verified
 * against an issuer's JWKS with `jose` (not by hand), or both.
 *
 * A JWT is accepted only when its signature verifies with a key from the issuer's JWKS (found by
 * discovery, `${issuer}/.well-known/openid-configuration`, or given as `jwksUrl`; keys cached, and
 * fetched again for a `kid` the cache lacks, at most once per cooldown, so rotated keys are picked
 * up), its `alg` is one of `algorithms` (RS256 and ES256 by default: `alg: none` and HMAC are never
 * accepted, so a token "signed" with the public key as an HMAC secret is refused), and `iss`,
 * `aud`, `exp` (required) and `nbf` hold. A verified token is remembered until it expires (at most
 * a minute), so the hot path does not verify a signature per request.
 *
 * Authorization: each route needs a permission (`infer` on a model, `admin`, `metrics`, `ingest`,
 * `view`: the web UI's pages and API when reads are authenticated);
 * a JWT has it when one of the grants for it matches a claim (`scope` is a space-separated list,
 * arrays match any element, `a.b` reaches into objects). Without grants for a permission the
 * default applies: the scope `ghosteam:<permission>` (and `ghosteam:infer:<model>` for one model).
 * The static token holds every permission. 401: no or bad credentials; 403: a good token without
 * the right; 503: the issuer's keys can't be fetched (not the client's fault).
 */
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

/** What a route needs. */
export type Permission = 'infer' | 'admin' | 'metrics' | 'ingest' | 'view';
export const PERMISSIONS: readonly Permission[] = ['infer', 'admin', 'metrics', 'ingest', 'view'];

export interface Need {
  readonly permission: Permission;
  /** For `infer`: the model asked for. */
  readonly model?: string;
}

/** `permission[:model]=claim:value`: a token whose `claim` holds `value` has the permission. */
export interface Grant {
  readonly permission: Permission;
  /** Only for `infer`: the one model it grants; absent = every model. */
  readonly model?: string;
  /** Claim name; `a.b` reaches into an object claim (e.g. Keycloak's `realm_access.roles`). */
  readonly claim: string;
  readonly value: string;
}

export interface JwtOptions {
  /** The `iss` tokens must carry; also where discovery looks when `jwksUrl` is absent. */
  readonly issuer: string;
  /** The `aud` tokens must carry (one of). */
  readonly audience: string | readonly string[];
  /** @default - `jwks_uri` from `${issuer}/.well-known/openid-configuration` */
  readonly jwksUrl?: string;
  /** @default ['RS256', 'ES256'] */
  readonly algorithms?: readonly string[];
  /** Seconds of clock skew allowed on `exp`/`nbf`. @default 30 */
  readonly clockToleranceSec?: number;
  /** PEM bundle trusted for the issuer's HTTPS (beside the system's and NODE_EXTRA_CA_CERTS). */
  readonly caFile?: string;
  /** Least time between two JWKS fetches for unknown `kid`s. @default 5000 */
  readonly cooldownMs?: number;
  /** Longest a fetched JWKS is used before it is fetched again. @default 600000 */
  readonly cacheMaxAgeMs?: number;
  /** How long a verified token is remembered (never past its `exp`). @default 60000 */
  readonly verifiedCacheMs?: number;
}

export interface AuthOptions {
  /** A static bearer token (at least 8 characters); holds every permission. */
  readonly token?: string;
  readonly jwt?: JwtOptions;
  /** Grants for JWTs; a permission without any uses DEFAULT_GRANTS. */
  readonly grants?: readonly Grant[];
  /** Injected clock (tests). @default Date.now */
  readonly now?: () => number;
}

/** Who made a request. */
export interface Principal {
  /** The token's `sub`, `static-token`, or `anonymous` where auth is off. */
  readonly subject: string;
  readonly kind: 'anonymous' | 'token' | 'jwt';
  readonly claims?: JWTPayload;
}

export class AuthError extends Error {
  constructor(
    readonly status: 401 | 403 | 503,
    message: string,
    /** Who was refused (a 403: the token was good). */
    readonly subject?: string,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

export const DEFAULT_ALGORITHMS = ['RS256', 'ES256'] as const;
export const AUTH_DEFAULTS = { clockToleranceSec: 30, cooldownMs: 5000, cacheMaxAgeMs: 600_000, verifiedCacheMs: 60_000, verifiedCacheEntries: 4096 } as const;

/** The scope that grants a permission when no grant names it. */
export function defaultScope(permission: Permission, model?: string): string {
  return model === undefined ? `ghosteam:${permission}` : `ghosteam:${permission}:${model}`;
}

const GRANT = /^(infer|admin|metrics|ingest|view)(?::([^=]+))?=([^:=]+):(.+)$/;

/** Parses `infer:fraud=groups:fraud-callers` (pure); the error says the form. */
export function parseGrant(text: string): Grant {
  const m = GRANT.exec(text.trim());
  if (!m)
    throw new Error(
      `grant '${text}' is not PERMISSION[:MODEL]=CLAIM:VALUE; write e.g. 'infer:fraud=groups:fraud-callers', 'admin=email:ops@example.com' or 'metrics=scope:monitoring' (permissions: ${PERMISSIONS.join(', ')})`,
    );
  const permission = m[1] as Permission;
  if (m[2] !== undefined && permission !== 'infer')
    throw new Error(`grant '${text}': only 'infer' takes a model ('infer:${m[2]}=...'); write '${permission}=${m[3]}:${m[4]}'`);
  return { permission, ...(m[2] !== undefined ? { model: m[2] } : {}), claim: m[3], value: m[4] };
}

export function formatGrant(g: Grant): string {
  return `${g.permission}${g.model !== undefined ? `:${g.model}` : ''}=${g.claim}:${g.value}`;
}

/** The values a claim holds: `scope` strings split on spaces, arrays as they are, `a.b` paths followed (pure). */
export function claimValues(claims: JWTPayload, name: string): string[] {
  let v: unknown = claims;
  for (const part of name.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return [];
    v = (v as Record<string, unknown>)[part];
  }
  if (typeof v === 'string') return name === 'scope' || name === 'scp' ? v.split(' ').filter((s) => s !== '') : [v];
  if (typeof v === 'number' || typeof v === 'boolean') return [String(v)];
  if (Array.isArray(v)) return v.filter((x): x is string | number => typeof x === 'string' || typeof x === 'number').map(String);
  return [];
}

/** Whether JWT claims hold a permission under these grants (pure). */
export function permits(claims: JWTPayload, need: Need, grants: readonly Grant[]): boolean {
  const relevant = grants.filter((g) => g.permission === need.permission);
  if (relevant.length === 0) {
    const scopes = [...claimValues(claims, 'scope'), ...claimValues(claims, 'scp')];
    return scopes.includes(defaultScope(need.permission)) || (need.model !== undefined && scopes.includes(defaultScope(need.permission, need.model)));
  }
  return relevant.some((g) => (g.model === undefined || g.model === need.model) && claimValues(claims, g.claim).includes(g.value));
}

function needText(need: Need): string {
  return need.model !== undefined ? `'${need.permission}' on model '${need.model}'` : `'${need.permission}'`;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
const BEARER = /^bearer[ \t]+(.*?)[ \t]*$/i;

/** Human words for jose's refusals (the client learns why, nothing secret). */
function refusal(e: unknown): AuthError {
  if (e instanceof errors.JWTExpired) return new AuthError(401, 'invalid bearer token: it has expired; get a new one from the issuer');
  if (e instanceof errors.JWTClaimValidationFailed)
    return new AuthError(401, `invalid bearer token: claim '${e.claim}' ${e.reason === 'check_failed' ? 'does not match' : e.reason.replace(/_/g, ' ')}`);
  if (e instanceof errors.JOSEAlgNotAllowed) return new AuthError(401, 'invalid bearer token: its signing algorithm is not accepted');
  if (e instanceof errors.JWKSNoMatchingKey) return new AuthError(401, "invalid bearer token: no key of the issuer's JWKS matches it");
  if (e instanceof errors.JWSSignatureVerificationFailed) return new AuthError(401, 'invalid bearer token: the signature does not verify');
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid || e instanceof errors.JOSENotSupported)
    return new AuthError(401, 'invalid bearer token: not a well-formed signed JWT');
  if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid || e instanceof IssuerError)
    return new AuthError(503, `cannot verify bearer tokens now: ${e.message}; retry later`);
  if (e instanceof errors.JOSEError) return new AuthError(401, `invalid bearer token (${e.code})`);
  // fetch errors (issuer down, TLS) are the server's problem, not the client's
  return new AuthError(503, `cannot verify bearer tokens now: the issuer's keys could not be fetched (${(e as Error).message}); retry later`);
}

class IssuerError extends Error {}

/** A fetch over node:http(s) trusting extra CAs (jose's customFetch, and discovery). */
function fetchWithCa(ca: string | undefined): (url: string, init?: { headers?: Headers; signal?: AbortSignal }) => Promise<Response> {
  if (ca === undefined) return (url, init) => fetch(url, { headers: init?.headers, signal: init?.signal, redirect: 'manual' });
  return (url, init) =>
    new Promise((resolve, reject) => {
      const u = new URL(url);
      const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
        u,
        { method: 'GET', ca: u.protocol === 'https:' ? ca : undefined, headers: Object.fromEntries(init?.headers ?? []), signal: init?.signal },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const headers = new Headers();
            for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
            resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500, headers }));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
}

export interface Authenticator {
  /** 'none' when every request passes (say so loudly where it matters). */
  readonly mode: 'none' | 'token' | 'jwt' | 'token+jwt';
  /**
   * Who sent `authorization` (the header's value), and whether they hold `need` (absent: any
   * authenticated caller). Throws AuthError (401/403/503).
   */
  check(authorization: string | undefined, need?: Need): Principal | Promise<Principal>;
}

const ANONYMOUS: Principal = { subject: 'anonymous', kind: 'anonymous' };
const STATIC: Principal = { subject: 'static-token', kind: 'token' };

export function createAuthenticator(o: AuthOptions): Authenticator {
  if (o.token !== undefined && o.token.length < 8) throw new Error('token must be at least 8 characters');
  const mode = o.token !== undefined && o.jwt ? 'token+jwt' : o.jwt ? 'jwt' : o.token !== undefined ? 'token' : 'none';
  if (mode === 'none') return { mode, check: () => ANONYMOUS };
  const want = o.token !== undefined ? digest(o.token) : undefined;
  const grants = o.grants ?? [];
  const verify = o.jwt ? jwtVerifier(o.jwt, o.now ?? Date.now) : undefined;

  const authorize = (p: Principal, need: Need | undefined): Principal => {
    if (need && p.kind === 'jwt' && !permits(p.claims!, need, grants))
      throw new AuthError(403, `the token of '${p.subject}' does not grant ${needText(need)}; ask for a token with the right scope or claim`, p.subject);
    return p;
  };
  return {
    mode,
    check(authorization, need) {
      if (typeof authorization !== 'string') throw new AuthError(401, 'missing bearer token; send Authorization: Bearer <token>');
      const m = BEARER.exec(authorization);
      if (!m || m[1] === '') throw new AuthError(401, 'invalid Authorization header; send Authorization: Bearer <token>');
      const tok = m[1];
      if (want !== undefined && timingSafeEqual(digest(tok), want)) return STATIC;
      if (!verify) throw new AuthError(401, 'invalid bearer token');
      const p = verify(tok);
      return p instanceof Promise ? p.then((x) => authorize(x, need)) : authorize(p, need);
    },
  };
}

/** Verifies JWTs against the issuer's JWKS; a verified token is remembered until it expires (max verifiedCacheMs). */
function jwtVerifier(j: JwtOptions, now: () => number): (token: string) => Principal | Promise<Principal> {
  if (!j.issuer) throw new Error('an issuer is required to verify JWTs (--auth-issuer)');
  const audience = typeof j.audience === 'string' ? [j.audience] : [...j.audience];
  if (audience.length === 0 || audience.some((a) => a === '')) throw new Error('an audience is required to verify JWTs (--auth-audience)');
  const algorithms = [...(j.algorithms ?? DEFAULT_ALGORITHMS)];
  const bad = algorithms.filter((a) => a === 'none' || /^HS/.test(a));
  if (bad.length > 0) throw new Error(`algorithm ${bad.join(', ')} can't be used with an issuer's public keys; use RS256, ES256, PS256 or EdDSA`);
  const ca = j.caFile !== undefined ? readFileSync(j.caFile, 'utf8') : undefined;
  const get = fetchWithCa(ca);
  let keys: Promise<JWTVerifyGetKey> | undefined;
  const jwks = (): Promise<JWTVerifyGetKey> => {
    keys ??= (async () => {
      let url = j.jwksUrl;
      if (url === undefined) {
        const where = `${j.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
        let doc: { issuer?: unknown; jwks_uri?: unknown };
        try {
          const r = await get(where, { signal: AbortSignal.timeout(5000) });
          if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
          doc = (await r.json()) as typeof doc;
        } catch (e) {
          throw new IssuerError(`OIDC discovery at ${where} failed (${(e as Error).message})`);
        }
        if (doc.issuer !== j.issuer) throw new IssuerError(`the discovery document at ${where} names issuer '${String(doc.issuer)}', not '${j.issuer}'`);
        if (typeof doc.jwks_uri !== 'string') throw new IssuerError(`the discovery document at ${where} has no jwks_uri`);
        url = doc.jwks_uri;
      }
      return createRemoteJWKSet(new URL(url), {
        cooldownDuration: j.cooldownMs ?? AUTH_DEFAULTS.cooldownMs,
        cacheMaxAge: j.cacheMaxAgeMs ?? AUTH_DEFAULTS.cacheMaxAgeMs,
        timeoutDuration: 5000,
        [customFetch]: get,
      });
    })();
    // A failed discovery is tried again by the next request.
    keys.catch(() => (keys = undefined));
    return keys;
  };
  const cacheMs = j.verifiedCacheMs ?? AUTH_DEFAULTS.verifiedCacheMs;
  const verified = new Map<string, { p: Principal; until: number }>();
  return (token) => {
    const hit = verified.get(token);
    if (hit !== undefined) {
      if (hit.until > now()) return hit.p;
      verified.delete(token);
    }
    return (async () => {
      try {
        // Keys are looked up only for a well-formed token (a malformed one is a 401 even while the issuer is down).
        const { payload } = await jwtVerify(token, async (header, t) => (await jwks())(header, t), {
          issuer: j.issuer,
          audience,
          algorithms,
          clockTolerance: j.clockToleranceSec ?? AUTH_DEFAULTS.clockToleranceSec,
          requiredClaims: ['exp'],
          currentDate: new Date(now()),
        });
        const p: Principal = { subject: typeof payload.sub === 'string' ? payload.sub : 'unknown', kind: 'jwt', claims: payload };
        if (cacheMs > 0) {
          if (verified.size >= AUTH_DEFAULTS.verifiedCacheEntries) verified.delete(verified.keys().next().value!);
          verified.set(token, { p, until: Math.min(now() + cacheMs, payload.exp! * 1000) });
        }
        return p;
      } catch (e) {
        throw refusal(e);
      }
    })();
  };
}

/**
 * The loud line for a listener's auth, or undefined where it is safe to say nothing: auth off on a
 * non-loopback address. `what` names the listener.
 */
export function authSummary(what: string, a: Authenticator): string {
  return a.mode === 'none' ? `${what}: NO authentication (anyone who can reach it can use it)` : `${what}: authentication ${a.mode}`;
}

/**
 * The security flags every serving command shares (this file is not a command): OIDC/JWT
 * (`--auth-jwks-url`, `--auth-issuer`, `--auth-audience`, `--auth-grant`), TLS (`--tls-cert`,
 * `--tls-key`, and `--tls-client-ca` where mutual TLS makes sense) and the audit log. Each auth flag
 * also reads an environment variable (GHOSTEAM_AUTH_ISSUER…), which is how the Model construct
 * configures a predictor.
 */
import { Option, type Command } from 'commander';
import { parseGrant, type AuthOptions, type Grant } from '../components/security/auth.ts';
import { TLS_ENV, type TlsFiles } from '../components/security/tls.ts';

export interface SecurityFlags {
  authJwksUrl?: string;
  authIssuer?: string;
  authAudience?: string;
  authGrant: string[];
  authCaFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
}

/** Environment variables the auth flags fall back to (set on a predictor by the Model construct). */
export const AUTH_ENV = {
  issuer: 'GHOSTEAM_AUTH_ISSUER',
  audience: 'GHOSTEAM_AUTH_AUDIENCE',
  jwksUrl: 'GHOSTEAM_AUTH_JWKS_URL',
  grants: 'GHOSTEAM_AUTH_GRANTS',
} as const;

export function addSecurityOptions(cmd: Command, o: { clientCa?: boolean; routes: string }): Command {
  cmd
    .addOption(new Option('--auth-issuer <iss>', `accept OIDC/JWT bearer tokens from this issuer (its 'iss'; keys found by discovery)`).env(AUTH_ENV.issuer))
    .addOption(new Option('--auth-audience <aud>', "the 'aud' tokens must carry (comma-separated for several)").env(AUTH_ENV.audience))
    .addOption(new Option('--auth-jwks-url <url>', "the issuer's JWKS (default: jwks_uri from the issuer's discovery document)").env(AUTH_ENV.jwksUrl))
    .addOption(
      new Option(
        '--auth-grant <grant>',
        `PERMISSION[:MODEL]=CLAIM:VALUE: who holds a permission (${o.routes}); default: the scope ghosteam:<permission> (repeatable)`,
      )
        .env(AUTH_ENV.grants)
        .argParser((v: string, acc: string[] | undefined) => [...(acc ?? []), ...v.split(/[\s,]+/).filter((x) => x !== '')])
        .default([]),
    )
    .option('--auth-ca-file <file>', "PEM CA bundle trusted for the issuer's HTTPS (beside the system's)")
    .addOption(new Option('--tls-cert <file>', 'serve HTTPS with this PEM certificate chain (re-read when it changes)').env(TLS_ENV.cert))
    .addOption(new Option('--tls-key <file>', 'the PEM private key of --tls-cert').env(TLS_ENV.key));
  if (o.clientCa) cmd.option('--tls-client-ca <file>', 'require client certificates signed by this PEM CA (mutual TLS)');
  return cmd;
}

/** The JWT settings from the flags, or undefined without --auth-issuer; errors name the flag and the fix. */
export function authFromFlags(f: SecurityFlags): Omit<AuthOptions, 'token'> | undefined {
  const jwtFlags = f.authJwksUrl !== undefined || f.authAudience !== undefined || f.authGrant.length > 0 || f.authCaFile !== undefined;
  if (f.authIssuer === undefined) {
    if (jwtFlags)
      throw new Error('--auth-audience, --auth-jwks-url, --auth-grant and --auth-ca-file need --auth-issuer <iss> (the issuer whose tokens to accept)');
    return undefined;
  }
  if (!f.authAudience)
    throw new Error(`--auth-issuer ${f.authIssuer} needs --auth-audience <aud>: without it a token issued for any other service would be accepted`);
  for (const [flag, v] of [
    ['--auth-issuer', f.authIssuer],
    ['--auth-jwks-url', f.authJwksUrl],
  ] as const) {
    if (v === undefined) continue;
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw new Error(`${flag} '${v}' is not a URL; write e.g. https://issuer.example.com`);
    }
    if (u.protocol !== 'https:' && !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname))
      throw new Error(`${flag} ${v}: keys must come over https (anyone on the path could swap them); use https://`);
  }
  let grants: Grant[];
  try {
    grants = f.authGrant.map(parseGrant);
  } catch (e) {
    throw new Error(`--auth-grant: ${(e as Error).message}`);
  }
  return {
    jwt: {
      issuer: f.authIssuer,
      audience: f.authAudience.split(',').map((a) => a.trim()),
      ...(f.authJwksUrl !== undefined ? { jwksUrl: f.authJwksUrl } : {}),
      ...(f.authCaFile !== undefined ? { caFile: f.authCaFile } : {}),
    },
    grants,
  };
}

/** The TLS files from the flags, or undefined for plain HTTP. */
export function tlsFromFlags(f: SecurityFlags): TlsFiles | undefined {
  if ((f.tlsCert === undefined) !== (f.tlsKey === undefined))
    throw new Error(f.tlsCert === undefined ? '--tls-key needs --tls-cert <file> (its certificate)' : '--tls-cert needs --tls-key <file> (its private key)');
  if (f.tlsClientCa !== undefined && f.tlsCert === undefined) throw new Error('--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is on top of TLS)');
  if (f.tlsCert === undefined) return undefined;
  return { cert: f.tlsCert, key: f.tlsKey!, ...(f.tlsClientCa !== undefined ? { clientCa: f.tlsClientCa } : {}) };
}

/**
 * Git plumbing shared by plan, watch and write-back: credentials (from the environment or a
 * Kubernetes Secret), redaction, and a simple-git client that carries the credentials in its
 * environment (GIT_CONFIG_* → http.extraHeader), never on a command line or in a URL.
 */
import { simpleGit, type SimpleGit } from 'simple-git';

export interface GitCredentials {
  readonly username: string;
  /** A password or an access token. */
  readonly password: string;
}

/**
 * Credentials from the environment: GHOSTEAM_GIT_TOKEN (with GHOSTEAM_GIT_USERNAME, default
 * 'x-access-token', the convention GitHub and Gitea accept), or GHOSTEAM_GIT_USERNAME +
 * GHOSTEAM_GIT_PASSWORD. Undefined when none are set (public repos, file paths, SSH agents).
 */
export function credentialsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): GitCredentials | undefined {
  const secret = env.GHOSTEAM_GIT_TOKEN || env.GHOSTEAM_GIT_PASSWORD;
  if (!secret) return undefined;
  return { username: env.GHOSTEAM_GIT_USERNAME || 'x-access-token', password: secret };
}

/**
 * Credentials from a Kubernetes Secret's data (base64 values, as the API returns them) or
 * stringData: keys `username` plus `password` or `token`. The error names the Secret and the key.
 */
export function credentialsFromSecret(secret: {
  metadata?: { name?: string; namespace?: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}): GitCredentials {
  const where = `Secret ${secret.metadata?.namespace ? `${secret.metadata.namespace}/` : ''}${secret.metadata?.name ?? '(unnamed)'}`;
  const read = (k: string): string | undefined => {
    if (secret.stringData?.[k] !== undefined) return secret.stringData[k];
    const b = secret.data?.[k];
    return b === undefined ? undefined : Buffer.from(b, 'base64').toString('utf8');
  };
  const password = read('password') ?? read('token');
  if (!password) throw new Error(`${where} has neither a 'password' nor a 'token' key; add one (kubectl create secret generic … --from-literal=token=…)`);
  return { username: read('username') || 'x-access-token', password };
}

/** Removes user-info from URLs (https://user:token@host → https://***@host). */
export function redactUrl(url: string): string {
  return url.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
}

/** Redacts URLs' user-info, Authorization headers and the given secret values from any text. */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = redactUrl(text).replace(/(authorization:\s*(?:basic|bearer)\s+)[A-Za-z0-9+/=._-]+/gi, '$1***');
  for (const s of secrets) {
    if (!s || s.length < 4) continue;
    out = out.split(s).join('***');
    const b64 = Buffer.from(s).toString('base64');
    out = out.split(b64).join('***');
  }
  return out;
}

/** The secrets a redaction must hide for these credentials (the password and the Basic token). */
export function secretsOf(creds: GitCredentials | undefined): string[] {
  if (!creds) return [];
  return [creds.password, Buffer.from(`${creds.username}:${creds.password}`).toString('base64')];
}

/**
 * A simple-git client for `dir`. Credentials travel as `http.extraHeader` through GIT_CONFIG_*
 * environment variables, so they appear in no argv, URL, remote config or log line. Prompts are
 * disabled: a missing credential fails fast instead of hanging.
 */
export function gitClient(dir: string, creds?: GitCredentials): SimpleGit {
  // Inherited GIT_* variables (askpass helpers, config injections, exec paths) are dropped, except
  // the TLS trust settings an installation legitimately needs; prompts are off, credentials are ours.
  const keepGit = ['GIT_SSL_CAINFO', 'GIT_SSL_CAPATH'];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(EDITOR|VISUAL|PAGER|PREFIX|SSH_ASKPASS)$/.test(k)) continue;
    if (k.startsWith('GIT_') && !keepGit.includes(k)) continue;
    env[k] = v;
  }
  env.GIT_TERMINAL_PROMPT = '0';
  const allowEnvironment = [...keepGit, 'GIT_TERMINAL_PROMPT'];
  if (creds) {
    env.GIT_CONFIG_COUNT = '1';
    env.GIT_CONFIG_KEY_0 = 'http.extraHeader';
    env.GIT_CONFIG_VALUE_0 = `Authorization: Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    allowEnvironment.push('GIT_CONFIG_COUNT', 'GIT_CONFIG_KEY_0', 'GIT_CONFIG_VALUE_0');
  }
  // GIT_CONFIG_COUNT is refused by default because it can inject any config; ours injects exactly
  // one key we wrote.
  return simpleGit({ baseDir: dir, maxConcurrentProcesses: 2, allowEnvironment, unsafe: { allowUnsafeConfigEnvCount: creds !== undefined } }).env(env);
}

/** Wraps a git failure in an Error whose message has every secret redacted. */
export function gitError(what: string, err: unknown, creds?: GitCredentials): Error {
  const msg = redact(String((err as Error)?.message ?? err), secretsOf(creds)).trim();
  return new Error(`${redact(what, secretsOf(creds))}: ${msg}`);
}

/** True when a push failed because the remote moved (another writer pushed first). */
export function isNonFastForward(err: unknown): boolean {
  const m = String((err as Error)?.message ?? err);
  return /non-fast-forward|\[rejected\]|fetch first|failed to update ref|cannot lock ref|stale info|incorrect old value/i.test(m);
}

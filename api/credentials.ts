/**
 * The one rule for credentials written inline (pure): a URL that carries a password, an AWS access
 * key id, a name that says its value is a secret. `charts/validate.ts` applies it to every
 * rendered object; `pipelines/check.ts` to task params, where the message can name the task, the
 * param and the environment variables the source reads instead (docs/data-sources.md).
 */

/**
 * Names of environment variables (and params) that hold secrets (a password, token, API or private
 * key, credentials); `_FILE`, `_PATH`, `_ID`… variants name where a secret is, not the secret.
 */
export const SECRET_ENV_NAME = /(^|_)(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|ACCESS_?KEY|SECRET_?KEY|PRIVATE_?KEY|CREDENTIALS?)(_|$)/i;
export const NOT_A_SECRET_VALUE = /_(FILE|PATH|DIR|ENV|NAME|ID|URL|URI|HEADER|TYPE)$/i;

/** `scheme://user:password@host`: a URL that carries its password. */
const URL_WITH_PASSWORD = /([a-z][a-z0-9+.-]*):\/\/([^/\s:@]+):([^/\s@]+)@/i;
/** An AWS access key id (long-term AKIA…, temporary ASIA…). */
const AWS_KEY_ID = /\b(AKIA|ASIA)[0-9A-Z]{16}\b/;

/** Whether a name (env var, param, annotation key) says its value is a secret. */
export const isSecretName = (name: string): boolean => {
  const n = name.replace(/[-.]/g, '_');
  return SECRET_ENV_NAME.test(n) && !NOT_A_SECRET_VALUE.test(n);
};

/** A password in a URL inside `s` (templated values like `$(VAR)`, `{{…}}`, `${…}` are references, not passwords): its scheme. */
export function urlPassword(s: string): { scheme: string } | undefined {
  const m = URL_WITH_PASSWORD.exec(s);
  if (!m || m[3] === '' || /^\$\(|^\{\{|^\$\{/.test(m[3])) return undefined;
  return { scheme: m[1].toLowerCase() };
}

export const hasAwsKeyId = (s: string): boolean => AWS_KEY_ID.test(s);

/** `postgres://user:pw@host/db` → `postgres://user:***@host/db` (for messages). */
export const maskUrlPassword = (s: string): string => s.replace(URL_WITH_PASSWORD, (_, scheme: string, user: string) => `${scheme}://${user}:***@`);

/** Where a source of this scheme reads its credentials instead (components/ingest/sources.ts). */
export function credentialFix(scheme: string): string {
  switch (scheme) {
    case 'postgres':
    case 'postgresql':
      return "set PGUSER and PGPASSWORD in the task's env from a Secret (env: { PGPASSWORD: Secret.fromSecret('<secret>', '<key>') })";
    case 's3':
      return "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the task's env from a Secret (env: { AWS_SECRET_ACCESS_KEY: Secret.fromSecret('<secret>', '<key>') })";
    case 'kafka':
      return "set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (and KAFKA_SASL_MECHANISM) in the task's env, the password from a Secret (env: { KAFKA_SASL_PASSWORD: Secret.fromSecret('<secret>', '<key>') })";
    case 'http':
    case 'https':
      return 'pass the credential as a header from the environment (headers: {"Authorization": "env:NAME"}, NAME set from a Secret)';
    default:
      return 'put the password in a Secret and pass it by reference (an env var with valueFrom.secretKeyRef, or a credentials file mounted from the Secret)';
  }
}

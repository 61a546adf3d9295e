/**
 * TLS for ghosteam's servers: an HTTPS listener from a certificate and key file (`--tls-cert`,
 * `--tls-key`; PEM, as cert-manager writes `tls.crt`/`tls.key` into a Secret), optionally requiring
 * client certificates signed by `clientCa` (mutual TLS). The files are read again when they change
 * (polled, so a Secret volume's symlink swap is seen too) and the new certificate is used for new
 * connections without a restart; a pair that does not load (a half-written update, a key that does
 * not match) is reported and the last good one stays. TLS 1.2 is the oldest protocol accepted.
 */
import { readFileSync } from 'node:fs';
import { createHash, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { Server as HttpsServer } from 'node:https';

export interface TlsFiles {
  /** PEM certificate chain (leaf first). */
  readonly cert: string;
  /** PEM private key. */
  readonly key: string;
  /** PEM CA bundle; when set, clients must present a certificate it signed (mutual TLS). */
  readonly clientCa?: string;
  /** How often the files are checked for changes. @default 2000 */
  readonly reloadIntervalMs?: number;
}

/** Environment variables --tls-cert/--tls-key fall back to (set on a predictor by the Model construct's `tls`). */
export const TLS_ENV = { cert: 'GHOSTEAM_TLS_CERT', key: 'GHOSTEAM_TLS_KEY' } as const;

export const TLS_DEFAULTS = { reloadIntervalMs: 2000, minVersion: 'TLSv1.2' } as const;

/** What the listener is built with: the files' contents, checked to load together. */
export function readTls(f: TlsFiles): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
  const read = (file: string, flag: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`${flag} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  };
  const cert = read(f.cert, '--tls-cert');
  const key = read(f.key, '--tls-key');
  const ca = f.clientCa !== undefined ? read(f.clientCa, '--tls-client-ca') : undefined;
  const opts = { cert, key, ...(ca !== undefined ? { ca } : {}), minVersion: TLS_DEFAULTS.minVersion };
  try {
    createSecureContext(opts);
  } catch (e) {
    throw new Error(
      `--tls-cert ${f.cert} / --tls-key ${f.key} do not load together (${(e as Error).message}); give the certificate and its own private key, PEM-encoded`,
    );
  }
  return { ...opts, requestCert: ca !== undefined, rejectUnauthorized: ca !== undefined };
}

/** Subject and expiry of the leaf certificate, for the log line. */
export function describeCert(pem: string): string {
  try {
    const c = new X509Certificate(pem);
    return `${c.subject.replace(/\n/g, ', ')}, valid until ${new Date(c.validTo).toISOString()}`;
  } catch {
    return 'unreadable certificate';
  }
}

/**
 * Polls the files and swaps the server's certificate when they change. Returns the stop function.
 * The timer does not keep the process alive.
 */
export function watchTls(server: HttpsServer, f: TlsFiles, log: (line: string) => void): () => void {
  const fingerprint = (): string => {
    const h = createHash('sha256');
    for (const file of [f.cert, f.key, f.clientCa]) if (file !== undefined) h.update(readFileSync(file));
    return h.digest('hex');
  };
  let last = '';
  try {
    last = fingerprint();
  } catch {
    // read again on the next tick
  }
  let lastError = '';
  const timer = setInterval(() => {
    let now: string;
    try {
      now = fingerprint();
    } catch {
      return; // a file is missing for a moment (being replaced)
    }
    if (now === last) return;
    try {
      const o = readTls(f);
      server.setSecureContext(o);
      last = now;
      lastError = '';
      log(`TLS certificate reloaded from ${f.cert}: ${describeCert(o.cert as string)}`);
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== lastError) log(`TLS certificate NOT reloaded, still serving the previous one: ${msg}`);
      lastError = msg;
    }
  }, f.reloadIntervalMs ?? TLS_DEFAULTS.reloadIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

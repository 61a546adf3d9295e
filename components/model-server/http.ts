/**
 * HTTP pieces shared by the model server and the payload sink: reading a body under a size limit
 * (a 413 from Content-Length before reading, or while reading; never a crash), JSON replies, and
 * the bearer-token check (a constant-time compare of digests; the scheme is case-insensitive).
 *
 * An oversized body is answered only after the client has finished sending it, up to a drain bound:
 * clients that send the whole body before reading (Python's urllib and `requests`, tritonclient)
 * otherwise see a broken pipe or a reset instead of the 413. Past the bound the 413 goes out at once
 * and the connection is closed. Either way the 413 carries `Connection: close` (see `closeAfter`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestError } from './tensors.ts';

/** How many bytes of an oversized body are read and dropped before its 413 is sent. @default 16 MiB */
export const DEFAULT_DRAIN_BYTES = 16 * 1024 * 1024;

export interface ReadBodyOptions {
  /** Bytes of an oversized body read (and dropped) so that the client reads the 413. @default DEFAULT_DRAIN_BYTES */
  readonly drainBytes?: number;
}

/** Statuses after which the connection is closed: the rest of the request can't be trusted to be read. */
export function closeAfter(status: number): boolean {
  return status === 413 || status === 408;
}

export function readBody(req: IncomingMessage, limit: number, opts: ReadBodyOptions = {}): Promise<Buffer> {
  const drainBytes = opts.drainBytes ?? DEFAULT_DRAIN_BYTES;
  return new Promise((resolve, reject) => {
    const len = req.headers['content-length'];
    const chunks: Buffer[] = [];
    let size = 0;
    let over: RequestError | undefined;
    if (len !== undefined && Number(len) > limit) {
      over = new RequestError(413, `request body is ${len} bytes; the limit is ${limit}`);
      // Too large to drain: answer now; the caller closes the connection after the 413.
      if (Number(len) > drainBytes) {
        req.pause();
        reject(over);
        return;
      }
    }
    const onData = (c: Buffer): void => {
      size += c.length;
      if (over === undefined && size > limit) {
        over = new RequestError(413, `request body exceeds the limit of ${limit} bytes`);
        chunks.length = 0;
      }
      if (over === undefined) chunks.push(c);
      else if (size > drainBytes) {
        // Past the drain bound: answer now; the caller closes the connection after the 413.
        req.off('data', onData);
        req.pause();
        reject(over);
      }
    };
    req.on('data', onData);
    req.on('end', () => (over ? reject(over) : resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))));
    req.on('error', reject);
    // Aborted mid-body (the client went away, or the request deadline closed the socket).
    req.on('close', () => {
      if (!req.complete) reject(new RequestError(408, 'the request body did not arrive completely'));
    });
  });
}

/** A JSON reply (nothing once headers went out or the socket closed). */
export function send(res: ServerResponse, status: number, body: string, extra?: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  // The flat [name, value, ...] form is node's cheapest way to write headers.
  const h: string[] = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body))];
  if (extra) for (const k in extra) h.push(k, extra[k]);
  // node then writes `Connection: close` and closes the socket once the answer is out.
  if (closeAfter(status)) res.shouldKeepAlive = false;
  res.writeHead(status, h);
  res.end(body);
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * The check for `Authorization: Bearer <token>`; with no token every request passes. Tokens under 8
 * characters are refused. The scheme is matched case-insensitively (RFC 7235 §2.1: `bearer x` is the
 * same as `Bearer x`); the token itself is compared exactly, in constant time.
 */
export function bearerCheck(token: string | undefined): (req: IncomingMessage) => boolean {
  if (token === undefined) return () => true;
  if (token.length < 8) throw new Error('token must be at least 8 characters');
  const want = digest(token);
  return (req) => {
    const h = req.headers.authorization;
    if (typeof h !== 'string') return false;
    const m = /^bearer[ \t]+(.*?)[ \t]*$/i.exec(h);
    return m !== null && timingSafeEqual(digest(m[1]), want);
  };
}

/** Whether an address is reachable only from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * The loud warning for a listener reachable beyond this machine without a token, or undefined when
 * there is none to give. `what` names the listener ("the model server", "the payload sink").
 */
export function exposureWarning(what: string, host: string, token: string | undefined, admin = false): string | undefined {
  if (token !== undefined || isLoopback(host)) return undefined;
  const extra = admin ? '; its /admin API loads any file this process can read and changes traffic for anyone who asks' : '';
  return `WARNING: ${what} listens on ${host} with NO token: anyone who can reach this address can use it${extra}. Set a token (--token-env NAME) or bind 127.0.0.1.`;
}

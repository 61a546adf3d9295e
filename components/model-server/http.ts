/**
 * HTTP pieces shared by the model server and the payload sink: reading a body under a size limit
 * (a 413 from Content-Length before reading, or while reading; never a crash), JSON replies, and
 * the bearer-token check (a constant-time compare of digests).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestError } from './tensors.ts';

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const len = req.headers['content-length'];
    if (len !== undefined && Number(len) > limit) {
      req.resume();
      reject(new RequestError(413, `request body is ${len} bytes; the limit is ${limit}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new RequestError(413, `request body exceeds the limit of ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A JSON reply (nothing once headers went out or the socket closed). */
export function send(res: ServerResponse, status: number, body: string, extra?: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  // The flat [name, value, ...] form is node's cheapest way to write headers.
  const h: string[] = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body))];
  if (extra) for (const k in extra) h.push(k, extra[k]);
  res.writeHead(status, h);
  res.end(body);
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** The check for `Authorization: Bearer <token>`; with no token every request passes. Tokens under 8 characters are refused. */
export function bearerCheck(token: string | undefined): (req: IncomingMessage) => boolean {
  if (token === undefined) return () => true;
  if (token.length < 8) throw new Error('token must be at least 8 characters');
  const want = digest(`Bearer ${token}`);
  return (req) => {
    const h = req.headers.authorization;
    return typeof h === 'string' && timingSafeEqual(digest(h), want);
  };
}

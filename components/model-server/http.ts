/**
 * Reading a request body under a size limit, for the model server and the payload sink: a body
 * over the limit is a 413 (from Content-Length before reading, or while reading), never a crash.
 */
import type { IncomingMessage } from 'node:http';
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

/**
 * /healthz, /readyz and /metrics on one small HTTP(S) server. Probes are open (the kubelet sends no
 * token); /metrics needs the `metrics` permission when auth is configured (a static token or JWTs,
 * see components/security/auth.ts). With `tls` it serves HTTPS and re-reads the files on change.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { OperatorMetrics } from './metrics.ts';
import { AuthError, createAuthenticator, type AuthOptions } from '../../components/security/auth.ts';
import { readTls, watchTls, type TlsFiles } from '../../components/security/tls.ts';

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHealthServer(opts: {
  port: number;
  host?: string;
  metrics: OperatorMetrics;
  ready: () => string | undefined;
  healthy?: () => string | undefined;
  auth?: AuthOptions;
  tls?: TlsFiles;
  log?: (line: string) => void;
}): Promise<HealthServer> {
  const auth = createAuthenticator(opts.auth ?? {});
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = (req.url ?? '/').split('?')[0];
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8', extra: Record<string, string> = {}) => {
      res.writeHead(code, { 'Content-Type': type, ...extra });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n');
    if (url === '/healthz' || url === '/livez') {
      const why = opts.healthy?.();
      return why ? reply(503, `unhealthy: ${why}\n`) : reply(200, 'ok\n');
    }
    if (url === '/readyz') {
      const why = opts.ready();
      return why ? reply(503, `not ready: ${why}\n`) : reply(200, 'ok\n');
    }
    if (url === '/metrics') {
      const serve = (): void => {
        opts.metrics.registry.metrics().then(
          (m) => reply(200, m, opts.metrics.registry.contentType),
          (e) => reply(500, String(e)),
        );
      };
      const refuse = (e: unknown): void => {
        if (!(e instanceof AuthError)) return reply(500, String(e));
        const h: Record<string, string> =
          e.status === 401
            ? { 'www-authenticate': 'Bearer' }
            : e.status === 403
              ? { 'www-authenticate': 'Bearer error="insufficient_scope"' }
              : { 'retry-after': '5' };
        reply(e.status, `${e.message}\n`, undefined, h);
      };
      try {
        const p = auth.check(req.headers.authorization, { permission: 'metrics' });
        if (p instanceof Promise) p.then(serve, refuse);
        else serve();
      } catch (e) {
        refuse(e);
      }
      return;
    }
    reply(404, 'not found; try /healthz, /readyz or /metrics\n');
  };
  const server: Server | HttpsServer = opts.tls ? createHttpsServer(readTls(opts.tls), onRequest) : createServer(onRequest);
  const stopTlsWatch = opts.tls ? watchTls(server as HttpsServer, opts.tls, opts.log ?? ((l) => process.stderr.write(`${l}\n`))) : undefined;
  server.on('tlsClientError', (_err: Error, socket: Socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((r) => {
        stopTlsWatch?.();
        server.close(() => r());
      }),
  };
}

/** Auth and TLS of the health/metrics server (`ghosteam operator --auth-* --tls-*`). */
export interface HealthSecurity {
  readonly auth?: AuthOptions;
  readonly tls?: TlsFiles;
}

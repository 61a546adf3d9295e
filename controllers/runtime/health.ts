/** /healthz, /readyz and /metrics on one small HTTP server. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OperatorMetrics } from './metrics.ts';

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
}): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'Content-Type': type });
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
      opts.metrics.registry.metrics().then(
        (m) => reply(200, m, opts.metrics.registry.contentType),
        (e) => reply(500, String(e)),
      );
      return;
    }
    reply(404, 'not found; try /healthz, /readyz or /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

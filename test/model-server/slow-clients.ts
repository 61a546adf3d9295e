/**
 * Slow clients for tests and benchmarks: connections that send a POST's headers at once and then
 * dribble its body, one byte every `bytePeriodMs` (a slowloris on the body). Used by
 * test/model-server/limits.test.ts and `npm run bench:faults` (bench/faults.ts).
 */
import { connect, type Socket } from 'node:net';

export interface SlowClientsOptions {
  /** The endpoint, e.g. http://127.0.0.1:8080/v2/models/fraud/infer */
  readonly url: string;
  readonly connections: number;
  /** Content-Length each slow request announces. @default 4000 */
  readonly bodyBytes?: number;
  /** One body byte per connection every this many ms. @default 50 */
  readonly bytePeriodMs?: number;
  /** Open a new slow connection when the server closes one (its deadline passed), to keep the pressure. @default false */
  readonly reconnect?: boolean;
  readonly headers?: Record<string, string>;
}

export interface SlowClients {
  /** Connections open now. */
  open(): number;
  /** Connections the server closed so far (deadline, error). */
  closedByServer(): number;
  /** What the server answered on closed connections (status lines), for assertions. */
  answers(): string[];
  stop(): void;
}

export async function startSlowClients(o: SlowClientsOptions): Promise<SlowClients> {
  const u = new URL(o.url);
  const bodyBytes = o.bodyBytes ?? 4000;
  const extra = Object.entries(o.headers ?? {})
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const head = `POST ${u.pathname}${u.search} HTTP/1.1\r\nhost: ${u.host}\r\ncontent-type: application/json\r\ncontent-length: ${bodyBytes}\r\n${extra}\r\n`;
  const sockets = new Map<Socket, { sent: number; reply: string }>();
  let stopped = false;
  let closed = 0;
  const answers: string[] = [];

  function open(): Promise<void> {
    return new Promise((resolve) => {
      const s = connect(Number(u.port || 80), u.hostname, () => {
        s.write(head);
        resolve();
      });
      const st = { sent: 0, reply: '' };
      sockets.set(s, st);
      s.on('data', (c) => (st.reply += c.toString('latin1')));
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        if (stopped) return;
        closed++;
        answers.push(st.reply.split('\r\n')[0] ?? '');
        if (o.reconnect) void open();
        resolve();
      });
    });
  }
  await Promise.all(Array.from({ length: o.connections }, open));
  const timer = setInterval(() => {
    for (const [s, st] of sockets) {
      // Never complete the body: stop one byte short.
      if (st.sent < bodyBytes - 1 && s.writable) {
        s.write(st.sent === 0 ? '{' : ' ');
        st.sent++;
      }
    }
  }, o.bytePeriodMs ?? 50);
  return {
    open: () => sockets.size,
    closedByServer: () => closed,
    answers: () => [...answers],
    stop() {
      stopped = true;
      clearInterval(timer);
      for (const s of sockets.keys()) s.destroy();
      sockets.clear();
    },
  };
}

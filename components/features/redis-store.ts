/**
 * The Redis online store: one hash per view and entity, `<prefix>fv:<view>:<key>`, holding the event
 * time (`__ts`, epoch ms) and each feature as JSON text. A write is a server-side script (one call
 * per 100 keys, pipelined) that replaces each hash only when it holds no newer event time, so
 * materialization runs may overlap or repeat and the newest value still wins. Reads are one HMGET
 * per entity, pipelined.
 * The client is node-redis (`@redis/client`); the URL comes from a Secret, never from the manifests.
 */
import { createHash } from 'node:crypto';
import { createClient } from '@redis/client';
import type { Cell } from '../dataset/index.ts';
import type { OnlineRow, OnlineStore } from './materialize.ts';

// One call writes many keys: ARGV holds, per key, its event time, its field count n, then n
// field/value pairs. A key is replaced only when it holds no newer event time. (All keys of one call
// are on this one server; a Redis Cluster would need them in one hash slot.)
const WRITE_IF_NEWER = `local a = 1
local written = 0
for k = 1, #KEYS do
  local ts = ARGV[a]
  local n = tonumber(ARGV[a + 1])
  local cur = redis.call('HGET', KEYS[k], '__ts')
  if not cur or tonumber(cur) <= tonumber(ts) then
    redis.call('DEL', KEYS[k])
    redis.call('HSET', KEYS[k], '__ts', ts, unpack(ARGV, a + 2, a + 1 + 2 * n))
    written = written + 1
  end
  a = a + 2 + 2 * n
end
return written`;
/** Keys per script call: large enough to amortize the call, small enough not to hold the server long. */
const KEYS_PER_CALL = 100;
const WRITE_SHA = createHash('sha1').update(WRITE_IF_NEWER).digest('hex');

export interface RedisStoreOptions {
  /** redis://[user:password@]host:port[/db] */
  readonly url: string;
  /** Prefix of every key this store writes. @default 'ghosteam:' */
  readonly prefix?: string;
  /** Rows per pipelined batch when writing. @default 1000 */
  readonly batch?: number;
}

function makeClient(url: string) {
  return createClient({ url, socket: { reconnectStrategy: (retries) => (retries > 5 ? new Error('redis: gave up reconnecting') : 100 * 2 ** retries) } });
}
type Client = ReturnType<typeof makeClient>;

export class RedisOnlineStore implements OnlineStore {
  private constructor(
    private readonly client: Client,
    private readonly prefix: string,
    private readonly batch: number,
  ) {}

  static async connect(opts: RedisStoreOptions): Promise<RedisOnlineStore> {
    const client = makeClient(opts.url);
    client.on('error', () => {}); // surfaced by the failing command
    try {
      await client.connect();
    } catch (err) {
      throw new Error(`cannot connect to the Redis online store at ${redactUrl(opts.url)}: ${(err as Error).message}`, { cause: err });
    }
    await client.sendCommand(['SCRIPT', 'LOAD', WRITE_IF_NEWER]);
    return new RedisOnlineStore(client, opts.prefix ?? 'ghosteam:', opts.batch ?? 1000);
  }

  private key(view: string, key: string): string {
    return `${this.prefix}fv:${view}:${key}`;
  }

  async write(view: string, rows: readonly OnlineRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += this.batch) {
      const part = rows.slice(i, i + this.batch);
      const calls: Promise<void>[] = [];
      for (let j = 0; j < part.length; j += KEYS_PER_CALL) {
        const group = part.slice(j, j + KEYS_PER_CALL);
        const keys = group.map((r) => this.key(view, r.key));
        const args: string[] = [];
        for (const r of group) {
          const fields = Object.entries(r.values);
          args.push(String(r.eventTime), String(fields.length));
          for (const [f, v] of fields) args.push(f, encodeCell(v));
        }
        calls.push(this.evalWrite(keys, args));
      }
      await Promise.all(calls);
    }
  }

  private async evalWrite(keys: string[], args: string[]): Promise<void> {
    const command = ['EVALSHA', WRITE_SHA, String(keys.length), ...keys, ...args];
    try {
      await this.client.sendCommand(command);
    } catch (err) {
      // The script cache is empty after a server restart or SCRIPT FLUSH: load it again once.
      if (!String((err as Error).message).includes('NOSCRIPT')) throw err;
      await this.client.sendCommand(['SCRIPT', 'LOAD', WRITE_IF_NEWER]);
      await this.client.sendCommand(command);
    }
  }

  async read(view: string, keys: readonly string[], features: readonly string[]): Promise<(OnlineRow | undefined)[]> {
    const replies = await Promise.all(keys.map((k) => this.client.sendCommand<(string | null)[]>(['HMGET', this.key(view, k), '__ts', ...features])));
    return replies.map((r, i) => {
      if (r[0] === null) return undefined;
      const values: Record<string, Cell> = {};
      features.forEach((f, j) => (values[f] = r[j + 1] === null ? null : (JSON.parse(r[j + 1]!) as Cell)));
      return { key: keys[i], eventTime: Number(r[0]), values };
    });
  }

  async getWatermark(view: string): Promise<number | undefined> {
    const v = await this.client.sendCommand<string | null>(['GET', `${this.prefix}watermark:${view}`]);
    return v === null ? undefined : Number(v);
  }

  async setWatermark(view: string, until: number): Promise<void> {
    await this.client.sendCommand(['SET', `${this.prefix}watermark:${view}`, String(until)]);
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }
}

function encodeCell(v: Cell): string {
  return typeof v === 'number' && !Number.isFinite(v) ? 'null' : JSON.stringify(v);
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparseable URL)';
  }
}

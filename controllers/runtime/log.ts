/** Structured JSON logs: one object per line with time, level, msg and the object's coordinates. */
export interface LogFields {
  controller?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  resourceVersion?: string;
  [key: string]: unknown;
}

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, f?: LogFields): void;
  info(msg: string, f?: LogFields): void;
  warn(msg: string, f?: LogFields): void;
  error(msg: string, f?: LogFields): void;
  with(f: LogFields): Logger;
}

export function createLogger(opts: { level?: Level; write?: (line: string) => void; base?: LogFields } = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? ((l: string) => process.stderr.write(`${l}\n`));
  const base = opts.base ?? {};
  const log = (level: Level) => (msg: string, f?: LogFields) => {
    if (ORDER[level] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...f }));
  };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    with: (f) => createLogger({ ...opts, base: { ...base, ...f } }),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, with: () => silentLogger };

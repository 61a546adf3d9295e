/**
 * The SQLite online store, the embedded default (Feast's local mode): one file, one row per view and
 * entity in `feature_values` (the event time, epoch ms, and the feature values as a JSON object),
 * and each view's materialization watermark in `watermarks`. A write is an upsert that keeps the row
 * with the newer event time, so materialization runs may overlap or repeat and the newest value
 * still wins (as the Redis store's script). WAL journal: the feature server reads while
 * `ghosteam features materialize` writes.
 *
 * The binding is better-sqlite3 (synchronous, native; Node 20 has no node:sqlite). It is an
 * optional dependency built from source where no prebuilt binary downloads (.npmrc's nodedir), so
 * a machine without a compiler still installs ghosteam; opening a SQLite store there says so.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { Cell } from '../dataset/index.ts';
import { FeaturesError } from './columns.ts';
import type { OnlineRow, OnlineStore } from './materialize.ts';

type Database = BetterSqlite3.Database;
type Statement = BetterSqlite3.Statement;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS feature_values (
  view TEXT NOT NULL,
  entity_key TEXT NOT NULL,
  event_ts INTEGER NOT NULL,
  vals TEXT NOT NULL,
  PRIMARY KEY (view, entity_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS watermarks (view TEXT PRIMARY KEY, until INTEGER NOT NULL) WITHOUT ROWID;
`;

function loadBinding(): typeof BetterSqlite3 {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
  } catch (err) {
    throw new FeaturesError(
      `the SQLite online store needs the better-sqlite3 package, which did not install here (${(err as Error).message.split('\n')[0]}); ` +
        'reinstall with a C++ compiler, make and python3 present (npm ci builds it from source), or declare OnlineStore.redis(...)',
    );
  }
}

export interface SqliteStoreOptions {
  /** The database file (created with its directory when missing). */
  readonly path: string;
  /** Open for reading only (the feature server): no schema changes, writes refused. @default false */
  readonly readOnly?: boolean;
}

export class SqliteOnlineStore implements OnlineStore {
  private readonly upsert?: Statement;
  private readonly select: Statement;
  private readonly getMark: Statement;
  private readonly putMark?: Statement;
  private readonly writeMany?: (view: string, rows: readonly OnlineRow[]) => void;

  private constructor(
    private readonly db: Database,
    readonly path: string,
    readOnly: boolean,
  ) {
    this.select = db.prepare('SELECT event_ts, vals FROM feature_values WHERE view = ? AND entity_key = ?').raw(true);
    this.getMark = db.prepare('SELECT until FROM watermarks WHERE view = ?').pluck(true);
    if (!readOnly) {
      const upsert = db.prepare(
        `INSERT INTO feature_values (view, entity_key, event_ts, vals) VALUES (?, ?, ?, ?)
         ON CONFLICT (view, entity_key) DO UPDATE SET event_ts = excluded.event_ts, vals = excluded.vals
         WHERE excluded.event_ts >= feature_values.event_ts`,
      );
      this.upsert = upsert;
      this.putMark = db.prepare('INSERT INTO watermarks (view, until) VALUES (?, ?) ON CONFLICT (view) DO UPDATE SET until = excluded.until');
      this.writeMany = db.transaction((view: string, rows: readonly OnlineRow[]) => {
        for (const r of rows) upsert.run(view, r.key, r.eventTime, encodeValues(r.values));
      });
    }
  }

  /** Opens (and for writing, creates) the store at `path`. */
  static open(opts: SqliteStoreOptions): SqliteOnlineStore {
    const Sqlite = loadBinding();
    const readOnly = opts.readOnly ?? false;
    let db: Database;
    try {
      if (!readOnly) mkdirSync(dirname(opts.path), { recursive: true });
      db = new Sqlite(opts.path, { readonly: readOnly, fileMustExist: readOnly });
    } catch (err) {
      throw new FeaturesError(
        `cannot open the SQLite online store ${opts.path}: ${(err as Error).message}${readOnly ? "; run 'ghosteam features materialize' first to create it" : ''}`,
      );
    }
    try {
      db.pragma('busy_timeout = 5000');
      if (!readOnly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.exec(SCHEMA);
      } else if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'feature_values'").get()) {
        throw new FeaturesError(`${opts.path} is not a ghosteam online store (it has no feature_values table); run 'ghosteam features materialize' to fill it`);
      }
      return new SqliteOnlineStore(db, opts.path, readOnly);
    } catch (err) {
      db.close();
      if (err instanceof FeaturesError) throw err;
      throw new FeaturesError(`the SQLite online store ${opts.path}: ${(err as Error).message}`);
    }
  }

  write(view: string, rows: readonly OnlineRow[]): Promise<void> {
    if (!this.writeMany) return Promise.reject(new FeaturesError(`the SQLite online store ${this.path} is open for reading only`));
    this.writeMany(view, rows);
    return Promise.resolve();
  }

  /** The synchronous read behind `read` (the model server's in-process lookup calls it directly). */
  readSync(view: string, keys: readonly string[], features: readonly string[]): (OnlineRow | undefined)[] {
    const out: (OnlineRow | undefined)[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const r = this.select.get(view, keys[i]) as [number, string] | undefined;
      if (r === undefined) {
        out[i] = undefined;
        continue;
      }
      const all = JSON.parse(r[1]) as Record<string, Cell>;
      const values: Record<string, Cell> = {};
      for (const f of features) values[f] = all[f] ?? null;
      out[i] = { key: keys[i], eventTime: r[0], values };
    }
    return out;
  }

  read(view: string, keys: readonly string[], features: readonly string[]): Promise<(OnlineRow | undefined)[]> {
    return Promise.resolve(this.readSync(view, keys, features));
  }

  getWatermark(view: string): Promise<number | undefined> {
    const v = this.getMark.get(view) as number | undefined;
    return Promise.resolve(v ?? undefined);
  }

  setWatermark(view: string, until: number): Promise<void> {
    if (!this.putMark) return Promise.reject(new FeaturesError(`the SQLite online store ${this.path} is open for reading only`));
    this.putMark.run(view, until);
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }
}

/** Feature values as JSON; a non-finite number (NaN: a missing value) is stored as null. */
function encodeValues(values: Readonly<Record<string, Cell>>): string {
  return JSON.stringify(values, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
}

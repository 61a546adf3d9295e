/**
 * The audit log: one JSON line per admin action (load, unload, traffic change, promote, rollback,
 * pause) and per write-back, saying who (the token's subject), what, when and the outcome:
 *
 *   {"when":"2026-12-02T04:10:00.000Z","who":"alice","via":"jwt","what":"traffic","target":"fraud",
 *    "detail":{"stable":"2","canary":"3","canaryPercent":10},"outcome":"success"}
 *
 * Append-only and durable: lines are appended (never rewritten; the file is not rotated away by
 * ghosteam) through the shared JSON Lines writer with fsync before `record` resolves, so an action
 * answered is an action recorded, and a torn last line from a crash is quarantined on open. Each line
 * carries `prev`, the SHA-256 of the line before it, so a line edited or removed later shows:
 * `verifyAuditChain` names the first line whose `prev` does not match.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { JsonlFile } from '../model-server/jsonl-file.ts';

/** success: done; failure: tried and failed; denied: refused for lack of the permission. */
export type AuditOutcome = 'success' | 'failure' | 'denied';

export interface AuditEntry {
  /** The token's subject (`sub`), `static-token`, `anonymous`, or the operator's identity. */
  readonly who: string;
  /** How `who` was established: 'jwt', 'token', 'anonymous', 'operator'. */
  readonly via: string;
  /** The action: load, unload, traffic, promote, rollback, pause, resume, write-back. */
  readonly what: string;
  /** What it acted on (`fraud`, `fraud/3`, `ml/fraud`). */
  readonly target: string;
  readonly outcome: AuditOutcome;
  /** The request's or decision's parameters (no secrets). */
  readonly detail?: unknown;
  /** Why it failed. */
  readonly error?: string;
}

export interface AuditRecord extends AuditEntry {
  readonly when: string;
  /** SHA-256 (hex) of the previous line, '' for the first. */
  readonly prev: string;
}

export interface AuditLog {
  readonly file: string;
  /** Appends and fsyncs the entry; resolves once it is on disk. */
  record(e: AuditEntry): Promise<void>;
  close(): Promise<void>;
}

const lineHash = (line: string): string => createHash('sha256').update(line).digest('hex');

/** Opens (creating) an audit log; a torn last line is quarantined by the writer and the chain continues from the last whole line. */
export async function openAuditLog(file: string, opts: { now?: () => Date; log?: (line: string) => void } = {}): Promise<AuditLog> {
  const out = await JsonlFile.open({ file, fsync: 'always', maxBytes: Number.MAX_SAFE_INTEGER, maxFiles: 1, log: opts.log });
  let prev = '';
  try {
    const text = await readFile(file, 'utf8');
    const lines = text.split('\n').filter((l) => l !== '');
    if (lines.length > 0) prev = lineHash(lines[lines.length - 1]);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const now = opts.now ?? (() => new Date());
  // Lines are chained in call order; JsonlFile keeps that order.
  return {
    file,
    record(e) {
      const rec: AuditRecord = { when: now().toISOString(), ...e, prev };
      const line = JSON.stringify(rec);
      const before = prev;
      const mine = (prev = lineHash(line));
      return out.append(`${line}\n`).catch((err: unknown) => {
        // Nothing of a failed append is in the file (JsonlFile truncates back): the chain goes on from the line before.
        if (prev === mine) prev = before;
        throw err;
      });
    },
    close: () => out.close(),
  };
}

/** Checks an audit log's chain (pure over its text): undefined when whole, else the 1-based line that breaks it and why. */
export function verifyAuditChain(text: string): { line: number; reason: string } | undefined {
  let prev = '';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l === '') continue;
    let rec: Partial<AuditRecord>;
    try {
      rec = JSON.parse(l) as Partial<AuditRecord>;
    } catch {
      return { line: i + 1, reason: 'is not JSON' };
    }
    if (rec.prev !== prev) return { line: i + 1, reason: 'its prev does not match the line before it (a line was changed, removed or inserted)' };
    prev = lineHash(l);
  }
  return undefined;
}

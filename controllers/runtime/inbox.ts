/**
 * The local operator's inbox: how other processes (`ghosteam watch`, `ghosteam retrain`) hand it
 * objects to apply, as `kubectl apply` does with a cluster. One process owns a state directory (the
 * LocalStore lock); everyone else writes an entry file under `<stateDir>/inbox/` (atomically), and
 * the operator applies the entries in name order and moves each to `<stateDir>/inbox/done/` with the
 * outcome. Entries survive restarts of either side: an entry is removed from the inbox only after
 * every object in it was applied.
 *
 * The same directory is read, without the lock, by `ghosteam status` and by `watch` waiting for its
 * TrainingRuns: `readStateObjects` reads the LocalStore's one-file-per-object layout.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import writeFileAtomic from 'write-file-atomic';
import type { K8sObject } from '../../api/objects.ts';
import { TYPES, typeKey } from './store.ts';

export const INBOX_DIR = 'inbox';

export interface InboxApp {
  /** The app file (absolute), in a checkout of `commit`. */
  readonly file: string;
  /** The checkout's root (absolute): pipelines run there, so relative data paths resolve in it. */
  readonly tree: string;
  readonly commit?: string;
}

export interface InboxEntry {
  readonly version: 1;
  readonly id: string;
  readonly createdAt: string;
  /** Who wrote it ('watch', 'retrain'). */
  readonly source: string;
  /** The commit the objects were synthesized from, if any. */
  readonly commit?: string;
  /** The app whose pipelines TrainingRuns run from now on (the synthesized commit's). */
  readonly app?: InboxApp;
  /** ghosteam objects (Model, DriftMonitor, TrainingRun) to create or update. */
  readonly objects: readonly K8sObject[];
  /** Annotations to set (null: remove) on existing objects, as `kubectl annotate` does; applied after `objects`. */
  readonly annotate?: readonly InboxAnnotation[];
}

export interface InboxAnnotation {
  readonly kind: 'Model' | 'DriftMonitor' | 'TrainingRun';
  readonly namespace: string;
  readonly name: string;
  readonly annotations: Readonly<Record<string, string | null>>;
}

export interface InboxOutcome {
  readonly id: string;
  readonly appliedAt: string;
  /** One line per object: "Model fraud/fraud created". */
  readonly applied: readonly string[];
  /** Objects refused (invalid): they are reported, not retried. */
  readonly refused: readonly string[];
}

/** Writes an entry to the operator's inbox; returns its id. The name sorts by time, so entries apply in order. */
export async function writeInboxEntry(stateDir: string, e: Omit<InboxEntry, 'version' | 'id' | 'createdAt'>, now: Date = new Date()): Promise<string> {
  const dir = join(stateDir, INBOX_DIR);
  await mkdir(dir, { recursive: true });
  const id = `${now.toISOString().replace(/[-:.]/g, '')}-${randomUUID().slice(0, 8)}`;
  const entry: InboxEntry = { version: 1, id, createdAt: now.toISOString(), ...e };
  await writeFileAtomic(join(dir, `${id}.json`), `${JSON.stringify(entry)}\n`);
  return id;
}

/** The entries waiting in the inbox, oldest first. A file that does not parse is returned as an error line. */
export async function readInbox(stateDir: string): Promise<Array<{ file: string; entry?: InboxEntry; error?: string }>> {
  const dir = join(stateDir, INBOX_DIR);
  if (!existsSync(dir)) return [];
  const out: Array<{ file: string; entry?: InboxEntry; error?: string }> = [];
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .sort()) {
    const file = join(dir, f);
    try {
      const entry = JSON.parse(await readFile(file, 'utf8')) as InboxEntry;
      if (entry.version !== 1 || !Array.isArray(entry.objects) || (entry.annotate !== undefined && !Array.isArray(entry.annotate)))
        throw new Error('not a version 1 inbox entry');
      out.push({ file, entry });
    } catch (err) {
      out.push({ file, error: (err as Error).message });
    }
  }
  return out;
}

/** Moves a handled entry to inbox/done with its outcome. */
export async function finishInboxEntry(file: string, outcome: InboxOutcome): Promise<void> {
  const doneDir = join(file, '..', 'done');
  await mkdir(doneDir, { recursive: true });
  await writeFileAtomic(join(doneDir, `${outcome.id}.json`), `${JSON.stringify(outcome)}\n`);
  await rm(file, { force: true });
}

/** Moves an unreadable entry aside (inbox/bad) so it is reported once, not on every poll. */
export async function rejectInboxFile(file: string): Promise<void> {
  const badDir = join(file, '..', 'bad');
  await mkdir(badDir, { recursive: true });
  await rename(file, join(badDir, file.slice(file.lastIndexOf('/') + 1)));
}

/** The outcome of an entry once the operator handled it; undefined while it waits. */
export function inboxOutcome(stateDir: string, id: string): InboxOutcome | undefined {
  const f = join(stateDir, INBOX_DIR, 'done', `${id}.json`);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as InboxOutcome;
  } catch {
    return undefined;
  }
}

const KINDS = { Model: TYPES.Model, DriftMonitor: TYPES.DriftMonitor, TrainingRun: TYPES.TrainingRun } as const;

/**
 * The objects of one kind in a local state directory, read from the files (no lock: a reader sees
 * each object as last written; files are replaced atomically).
 */
export function readStateObjects(stateDir: string, kind: keyof typeof KINDS, namespace?: string): K8sObject[] {
  const base = join(stateDir, typeKey(KINDS[kind]));
  if (!existsSync(base)) return [];
  const out: K8sObject[] = [];
  for (const ns of readdirSync(base, { withFileTypes: true })) {
    if (!ns.isDirectory() || (namespace !== undefined && ns.name !== namespace)) continue;
    for (const f of readdirSync(join(base, ns.name))
      .filter((n) => n.endsWith('.json'))
      .sort()) {
      try {
        out.push(JSON.parse(readFileSync(join(base, ns.name, f), 'utf8')) as K8sObject);
      } catch {
        // being replaced right now: the next read sees it
      }
    }
  }
  return out;
}

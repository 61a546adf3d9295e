/**
 * Which commits to act on and which pipelines to retrain: the pure part of `ghosteam watch` (and of
 * the operator's git-change trigger). A pipeline retrains once per spec hash; write-back commits
 * never trigger anything.
 */
import { LOCK_FILE, WRITEBACK_TRAILER } from './lockfile.ts';
import { isPipeline } from './objects.ts';
import { annotation, SPEC_HASH_ANNOTATION, type K8sObject } from '../api/objects.ts';

export interface CommitInfo {
  readonly sha: string;
  readonly message: string;
  /** Paths changed relative to the commit's first parent (all paths for a root commit). */
  readonly files: readonly string[];
}

/** Git trailers of a commit message (the last paragraph's `Key: value` lines). */
export function parseTrailers(message: string): Record<string, string> {
  const paragraphs = message.trim().split(/\n\s*\n/);
  const last = paragraphs[paragraphs.length - 1] ?? '';
  if (paragraphs.length < 2) return {};
  const out: Record<string, string> = {};
  for (const line of last.split('\n')) {
    const m = /^([A-Za-z0-9][-A-Za-z0-9]*):\s*(.*)$/.exec(line.trim());
    if (!m) return {}; // not a trailer block
    out[m[1].toLowerCase()] = m[2].trim();
  }
  return out;
}

/**
 * Why a commit is ghosteam's own write-back, or undefined when it is not. A commit is a write-back
 * when it carries `Ghosteam-Writeback: true`, or when every file it changes is a lock file (a pin
 * edited by hand is still only a pin: the Model picks it up on sync, no pipeline retrains).
 */
export function writebackReason(c: CommitInfo, lockFiles: readonly string[] = [LOCK_FILE]): string | undefined {
  const trailer = parseTrailers(c.message)[WRITEBACK_TRAILER.toLowerCase()];
  if (trailer !== undefined && /^(true|yes|1)$/i.test(trailer)) return `it carries the ${WRITEBACK_TRAILER} trailer`;
  const isLock = (f: string) => lockFiles.some((l) => f === l || f.endsWith(`/${l}`));
  if (c.files.length > 0 && c.files.every(isLock)) return `it only changes ${[...new Set(c.files)].join(', ')}`;
  return undefined;
}

export interface WatchState {
  /** The last commit fully processed on the followed branch. */
  readonly lastCommit?: string;
  /** Pipeline key ('namespace/name') → spec hashes already trained (oldest first). */
  readonly trained: Readonly<Record<string, readonly string[]>>;
  /** 'key@hash' (or 'synth@sha') → transient failures so far, for a spec hash (or a commit) that is to be tried again. */
  readonly failures?: Readonly<Record<string, number>>;
  /** The commit waiting to be tried again after a transient failure, and not before when. */
  readonly retryCommit?: string;
  readonly retryAt?: string;
}

export const EMPTY_STATE: WatchState = { trained: {} };
/** Hashes remembered per pipeline; older ones may train again if the spec ever returns to them. */
export const MAX_HASHES_PER_PIPELINE = 100;

export interface RetrainStart {
  readonly pipeline: string;
  readonly namespace?: string;
  readonly key: string;
  readonly hash: string;
  readonly reason: 'git-change';
  readonly commit: string;
}

export interface RetrainSkip {
  readonly key: string;
  readonly hash: string;
  readonly why: string;
}

export function pipelineKey(o: K8sObject): string {
  return `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
}

/**
 * Decides what to retrain for one synthesized commit: each pipeline whose spec hash has never been
 * trained starts once. Returns the new state with the started hashes recorded, so that calling it
 * again with the same objects starts nothing.
 */
export function decideRetrains(
  objects: readonly K8sObject[],
  state: WatchState,
  commit: string,
): { start: RetrainStart[]; skip: RetrainSkip[]; state: WatchState } {
  const start: RetrainStart[] = [];
  const skip: RetrainSkip[] = [];
  const trained: Record<string, readonly string[]> = { ...state.trained };
  for (const o of objects) {
    if (!isPipeline(o)) continue;
    const key = pipelineKey(o);
    const hash = annotation(o, SPEC_HASH_ANNOTATION) as string;
    const seen = trained[key] ?? [];
    if (seen.includes(hash)) {
      skip.push({ key, hash, why: `spec hash ${hash} was already trained` });
      continue;
    }
    start.push({ pipeline: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}), key, hash, reason: 'git-change', commit });
    trained[key] = [...seen, hash].slice(-MAX_HASHES_PER_PIPELINE);
  }
  return { start, skip, state: { ...state, trained, lastCommit: commit } };
}

export type CommitAction =
  { readonly kind: 'synthesize'; readonly commit: CommitInfo } | { readonly kind: 'skip'; readonly commit: CommitInfo; readonly why: string };

/**
 * What to do with each new commit (oldest first): write-backs are skipped (but still advance the
 * watermark). Only the newest non-write-back commit needs a synthesis when `latestOnly` is set,
 * which is what a slow consumer wants after a burst of pushes. With `baseline` (a watcher's first
 * poll) the newest commit is synthesized even when it is a write-back, so that every pipeline gets
 * its first training run.
 */
export function planCommits(
  commits: readonly CommitInfo[],
  opts: { latestOnly?: boolean; lockFiles?: readonly string[]; baseline?: boolean } = {},
): CommitAction[] {
  const actions: CommitAction[] = commits.map((c, i) => {
    // The first commit a watcher ever sees is its baseline: synthesized whatever it touches.
    if (opts.baseline && i === commits.length - 1) return { kind: 'synthesize', commit: c };
    const why = writebackReason(c, opts.lockFiles);
    return why ? { kind: 'skip', commit: c, why: `write-back commit: ${why}` } : { kind: 'synthesize', commit: c };
  });
  if (!opts.latestOnly) return actions;
  let lastSynth = -1;
  actions.forEach((a, i) => {
    if (a.kind === 'synthesize') lastSynth = i;
  });
  return actions.map((a, i) =>
    a.kind === 'synthesize' && i !== lastSynth ? { kind: 'skip', commit: a.commit, why: 'superseded by a newer commit in the same fetch' } : a,
  );
}

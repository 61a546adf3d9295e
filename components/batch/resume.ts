/**
 * Resuming a batch prediction by chunk. A resumable run (`--resume`) writes every `chunkRows` rows
 * of output as a finished part file (written to a temporary name, fsynced, renamed) in a state
 * folder beside the output, `.<output name>.predict/`, with `state.json` naming what the parts were
 * computed from: the model's digest, the input's path, size and modification time, and the options
 * that shape the output. A later run with `--resume` reuses the parts whose state matches, computes
 * the rest, and then writes the output from the parts in order (atomically, as any run) and removes
 * the folder. A mismatch is an error naming what changed; the fix is to remove the folder (or run
 * with what the parts were computed from). The output is therefore the same whether a run was
 * interrupted or not. `diffResumeState` is pure; the rest is I/O on the folder.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { BatchPredictError, type TableFormat } from './plan.ts';
import type { ColumnSpec } from './writers.ts';

/** What the finished parts were computed from. Any difference makes them unusable. */
export interface ResumeIdentity {
  readonly modelDigest: string;
  readonly input: { readonly path: string; readonly size: number; readonly mtimeMs: number };
  readonly format: TableFormat;
  readonly batchRows: number;
  readonly chunkRows: number;
  readonly features: readonly string[] | null;
  readonly keep: readonly string[] | null;
  readonly delimiter: string | null;
}

/** `state.json` in the state folder. `columns` is set when the first part is written. */
export interface ResumeState extends ResumeIdentity {
  readonly kind: 'ghosteam.predict-state';
  readonly columns?: readonly ColumnSpec[];
}

export const STATE_FILE = 'state.json';

/** The state folder of a resumable run writing `output`. */
export function resumeStateDir(output: string): string {
  return join(dirname(output), `.${basename(output)}.predict`);
}

/** The file name of finished chunk `index`. */
export function chunkPartName(index: number, format: TableFormat): string {
  return `part-${String(index).padStart(6, '0')}.${format === 'arrow' ? 'arrow' : format}`;
}

const show = (v: unknown): string => JSON.stringify(v);

/** The first field in which `saved` differs from `now`, as "what (then → now)", or undefined when the parts can be reused. */
export function diffResumeState(saved: ResumeIdentity, now: ResumeIdentity): string | undefined {
  if (saved.modelDigest !== now.modelDigest) return `the model (${saved.modelDigest} then, ${now.modelDigest} now)`;
  if (saved.input.path !== now.input.path) return `the input file (${saved.input.path} then, ${now.input.path} now)`;
  if (saved.input.size !== now.input.size || saved.input.mtimeMs !== now.input.mtimeMs)
    return `the input file's contents (${saved.input.size} bytes modified ${new Date(saved.input.mtimeMs).toISOString()} then, ${now.input.size} bytes modified ${new Date(now.input.mtimeMs).toISOString()} now)`;
  for (const k of ['format', 'batchRows', 'chunkRows', 'features', 'keep', 'delimiter'] as const)
    if (show(saved[k]) !== show(now[k])) return `${k} (${show(saved[k])} then, ${show(now[k])} now)`;
  return undefined;
}

/**
 * Reads the state folder: the finished chunks when its state matches `identity`; an error naming
 * the difference otherwise. A missing folder is a fresh start (no chunks done, no state).
 */
export async function checkResumeState(dir: string, identity: ResumeIdentity): Promise<{ state?: ResumeState; done: Set<number> }> {
  let raw: string;
  try {
    raw = await readFile(join(dir, STATE_FILE), 'utf8');
  } catch {
    return { done: new Set() };
  }
  let state: ResumeState;
  try {
    state = JSON.parse(raw) as ResumeState;
    if (state.kind !== 'ghosteam.predict-state') throw new Error(`kind is ${show(state.kind)}`);
  } catch (e) {
    throw new BatchPredictError(`${join(dir, STATE_FILE)} is not a ghosteam predict state (${(e as Error).message}); remove ${dir} to start over`);
  }
  const diff = diffResumeState(state, identity);
  if (diff)
    throw new BatchPredictError(
      `can't resume from ${dir}: what its finished chunks were computed from differs: ${diff}; remove ${dir} to start over, or resume with what they were computed from`,
    );
  const done = new Set<number>();
  for (const f of await readdir(dir)) {
    const m = /^part-(\d{6})\./.exec(f);
    if (m && f === chunkPartName(Number(m[1]), identity.format)) done.add(Number(m[1]));
  }
  if (done.size && !state.columns) throw new BatchPredictError(`${join(dir, STATE_FILE)} has finished chunks but no columns; remove ${dir} to start over`);
  return { state, done };
}

export function writeResumeState(dir: string, state: ResumeState): Promise<void> {
  return writeFileAtomic(join(dir, STATE_FILE), JSON.stringify(state, null, 2) + '\n');
}

/**
 * What a change does to models.lock.json, the pins the Model construct reads: which model's pin
 * moves from which version to which, and who moved it. Only the operator writes pins, after a
 * promotion, in commits that carry the `Ghosteam-Writeback: true` trailer; any other commit that
 * moves a pin is a hand edit, and the plan says so. Pure: the lock texts and the commits that
 * touched the file are read by plan-run.ts.
 */
import { LOCK_FILE } from '../api/lock.ts';
import { WRITEBACK_TRAILER } from './lockfile.ts';
import type { PinWriter, RefShape } from './plan-values.ts';

/** One commit between the merge-base and the head that touched the lock file, oldest first. */
export interface LockCommit {
  readonly commit: string;
  readonly subject: string;
  /** The full message (the write-back trailer is looked for in it). */
  readonly message: string;
  /** The lock file's text at the commit's first parent, and at the commit (undefined: no file). */
  readonly before?: string;
  readonly after?: string;
}

export interface PinPlan {
  /** The registered model name (the lock file's key). */
  readonly model: string;
  readonly before?: number;
  readonly after?: number;
  /** Who moved it: 'operator' when every commit that moved it is a write-back, else 'hand'. */
  readonly writer?: PinWriter;
  /** The commits that moved this pin, short SHAs, oldest first. */
  readonly commits: readonly string[];
  /** 'fraud: v3 → v4, written by the operator after promoting v4 (1a2b3c4)'. */
  readonly headline: string;
}

/** True for a write-back commit (gitops/lockfile.ts writebackMessage). */
export function isWriteback(message: string): boolean {
  return new RegExp(`^${WRITEBACK_TRAILER}:\\s*true\\s*$`, 'mi').test(message);
}

/**
 * The pinned version of each model in a lock file's text. Lenient: a file that is not the lock
 * format pins nothing here (the head's synthesis reports it, since the Model construct reads it).
 */
export function pinnedVersions(textOrUndefined: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  if (!textOrUndefined?.trim()) return out;
  let raw: unknown;
  try {
    raw = JSON.parse(textOrUndefined);
  } catch {
    return out;
  }
  const models = (raw as { models?: unknown } | null)?.models;
  if (!models || typeof models !== 'object' || Array.isArray(models)) return out;
  for (const [name, pin] of Object.entries(models as Record<string, unknown>)) {
    const v = (pin as { version?: unknown } | null)?.version;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 1) out.set(name, v);
  }
  return out;
}

const vtext = (v: number | undefined) => (v === undefined ? 'none' : `v${v}`);

/**
 * The pins that differ between `baseText` and `headText`, each with who moved it.
 * @param refs the head's Models by registered name (several Models may serve one registered model)
 */
export function planPins(
  baseText: string | undefined,
  headText: string | undefined,
  commits: readonly LockCommit[],
  refs: ReadonlyMap<string, readonly RefShape[]>,
  lockFile = LOCK_FILE,
): PinPlan[] {
  const base = pinnedVersions(baseText);
  const head = pinnedVersions(headText);
  const names = [...new Set([...base.keys(), ...head.keys()])].sort();
  const steps = commits.map((c) => ({ c, b: pinnedVersions(c.before), a: pinnedVersions(c.after), writeback: isWriteback(c.message) }));
  const out: PinPlan[] = [];
  for (const model of names) {
    const before = base.get(model);
    const after = head.get(model);
    if (before === after) continue;
    const movers = steps.filter((s) => s.b.get(model) !== s.a.get(model));
    const writer: PinWriter | undefined = movers.length === 0 ? undefined : movers.every((s) => s.writeback) ? 'operator' : 'hand';
    const shas = movers.map((s) => s.c.commit.slice(0, 7));
    const hand = movers.filter((s) => !s.writeback).map((s) => `${s.c.commit.slice(0, 7)} "${s.c.subject}"`);
    let who: string;
    if (writer === 'operator')
      who = after !== undefined ? `written by the operator after promoting v${after} (${shas.join(', ')})` : `removed by the operator (${shas.join(', ')})`;
    else if (writer === 'hand') who = `edited by hand in ${hand.join(', ')}: only the operator writes pins, after a promotion`;
    else who = `changed outside the commits between base and head`;
    const shapes = refs.get(model) ?? [];
    let effect = '';
    if (after !== undefined && shapes.length === 0) effect = `; no Model in the app serves '${model}', so the pin has no effect`;
    else if (after !== undefined && shapes.every((s) => s.kind === 'fixed')) {
      const fixed = shapes.map((s) => `v${(s as { version: number }).version}`).join(', ');
      effect = `; ignored: the Model fixes its version (${fixed}) in the app, which wins over ${lockFile}`;
    }
    out.push({
      model,
      ...(before !== undefined ? { before } : {}),
      ...(after !== undefined ? { after } : {}),
      ...(writer ? { writer } : {}),
      commits: shas,
      headline: `${model}: ${vtext(before)} → ${vtext(after)}, ${who}${effect}`,
    });
  }
  return out;
}

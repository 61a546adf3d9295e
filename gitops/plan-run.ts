/**
 * `ghosteam plan`'s I/O: synthesize base and head (in parallel, each in its own worktree) and
 * compare them. A head that fails to synthesize or validate yields a report with `headError` (the
 * PR gate fails); a base that fails is reported as a warning and compared as empty.
 */
import { ObjectSetError } from './objects.ts';
import { computePlan } from './plan.ts';
import type { PlanReport } from './plan-render.ts';
import { repoRoot, resolveCommit, synthAt, SynthFailedError, type SynthAtResult } from './synth-at.ts';

export interface RunPlanOptions {
  /** A directory inside the repository. @default process.cwd() */
  readonly repoDir?: string;
  readonly base: string;
  /** @default 'HEAD' */
  readonly head?: string;
  /** The app file, relative to the repository root. */
  readonly app: string;
}

type Outcome = { ok: true; r: SynthAtResult } | { ok: false; error: string; commit?: string };

async function attempt(repoDir: string, ref: string, app: string): Promise<Outcome> {
  try {
    return { ok: true, r: await synthAt(repoDir, ref, { app }) };
  } catch (e) {
    if (e instanceof SynthFailedError) return { ok: false, error: e.message, commit: e.commit };
    throw e; // a bad ref or a missing repository is a usage error, not a plan result
  }
}

export async function runPlan(opts: RunPlanOptions): Promise<PlanReport> {
  const started = Date.now();
  const repoDir = opts.repoDir ?? process.cwd();
  const headRef = opts.head ?? 'HEAD';
  // Both refs are resolved before either worktree is added: a git command racing a concurrent
  // `worktree add` in the same repository can read its half-written admin directory and fail.
  const root = await repoRoot(repoDir);
  await resolveCommit(root, opts.base);
  await resolveCommit(root, headRef);
  const [b, h] = await Promise.all([attempt(repoDir, opts.base, opts.app), attempt(repoDir, headRef, opts.app)]);
  const base = { ref: opts.base, ...((b.ok ? b.r.commit : b.commit) ? { commit: b.ok ? b.r.commit : b.commit } : {}) };
  const head = { ref: headRef, ...((h.ok ? h.r.commit : h.commit) ? { commit: h.ok ? h.r.commit : h.commit } : {}) };
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  if (!h.ok) return { base, head, headError: h.error, seconds };
  const baseWarning = b.ok ? undefined : `the base failed to synthesize, so everything reads as added: ${b.error}`;
  try {
    const plan = computePlan(b.ok ? b.r.objects : [], h.r.objects, { base: `base ${opts.base}`, head: `head ${headRef}` });
    return { base, head, plan, ...(baseWarning ? { baseWarning } : {}), seconds };
  } catch (e) {
    if (!(e instanceof ObjectSetError)) throw e;
    if (e.where.startsWith('head')) return { base, head, headError: e.message, seconds };
    const plan = computePlan([], h.r.objects, { base: 'base', head: `head ${headRef}` });
    return { base, head, plan, baseWarning: `the base is not a valid object set, so everything reads as added: ${e.message}`, seconds };
  }
}

/**
 * `ghosteam plan`'s I/O: find what the change is (the head against its merge-base with the base,
 * as a pull request diff is), synthesize both sides (in parallel, each in its own worktree, the
 * head type-checked first), read models.lock.json on both sides and the commits between that moved
 * pins, and compare. A head that fails to type-check, synthesize or validate yields a report with
 * `headError` (the PR gate fails); a base that fails is reported as a warning and compared as empty.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, posix, relative } from 'node:path';
import { LOCK_FILE } from '../api/lock.ts';
import { gitClient } from './git.ts';
import { ObjectSetError } from './objects.ts';
import { computePlan, type LockChange } from './plan.ts';
import type { LockCommit } from './plan-pins.ts';
import type { PlanReport, Revision } from './plan-render.ts';
import { repoRoot, resolveCommit, synthAt, SynthFailedError, type SynthAtResult } from './synth-at.ts';

export interface RunPlanOptions {
  /** A directory inside the repository. @default process.cwd() */
  readonly repoDir?: string;
  /** The branch the change goes into ('origin/main'). */
  readonly base: string;
  /** @default 'HEAD' */
  readonly head?: string;
  /** The app file, relative to the repository root. */
  readonly app: string;
  /** Compare with the merge-base of base and head (a pull request's diff); false: with base's tip. @default true */
  readonly mergeBase?: boolean;
  /** Type-check the head's app with its own tsconfig before synthesizing. @default true */
  readonly typecheck?: boolean;
}

type Outcome = { ok: true; r: SynthAtResult } | { ok: false; error: string; commit?: string };

async function attempt(root: string, commit: string, app: string, typecheck: boolean): Promise<Outcome> {
  try {
    return { ok: true, r: await synthAt(root, commit, { app, typecheck }) };
  } catch (e) {
    if (e instanceof SynthFailedError) return { ok: false, error: e.message, commit: e.commit };
    throw e; // a bad ref or a missing repository is a usage error, not a plan result
  }
}

/**
 * The commit to compare the head with: the merge-base of `baseRef` and the head. Errors name both
 * refs and the fix (a shallow clone lacks the history a merge-base needs).
 */
export async function mergeBaseOf(root: string, baseRef: string, baseTip: string, headRef: string, head: string): Promise<string> {
  const git = gitClient(root);
  const out = await git.raw(['merge-base', baseTip, head]).catch(() => '');
  const sha = out.trim();
  if (/^[0-9a-f]{40,64}$/.test(sha)) return sha;
  const shallow = (await git.raw(['rev-parse', '--is-shallow-repository']).catch(() => '')).trim() === 'true';
  if (shallow) {
    throw new Error(
      `'${baseRef}' and '${headRef}' have no merge-base in this shallow clone of ${root}; fetch their history (git fetch --unshallow, or actions/checkout with fetch-depth: 0), or pass --no-merge-base to compare with the tip of ${baseRef}`,
    );
  }
  throw new Error(`'${baseRef}' and '${headRef}' share no history in ${root} (no merge-base); pass --no-merge-base to compare with the tip of ${baseRef}`);
}

async function show(root: string, commit: string, path: string): Promise<string | undefined> {
  return gitClient(root)
    .raw(['show', `${commit}:${path}`])
    .catch(() => undefined);
}

/** models.lock.json next to the app at both sides, and each commit in between that touched it (oldest first). */
export async function readLockChange(root: string, base: string, head: string, lockFile: string): Promise<LockChange> {
  const git = gitClient(root);
  const log = await git.raw(['log', '--reverse', '--format=%H%x1f%s%x1f%B%x1e', `${base}..${head}`, '--', lockFile]).catch(() => '');
  const commits: LockCommit[] = [];
  for (const entry of log.split('\x1e')) {
    const [sha, subject, message] = entry.replace(/^\n+/, '').split('\x1f');
    if (!sha || !/^[0-9a-f]{40,64}$/.test(sha)) continue;
    const [before, after] = await Promise.all([show(root, `${sha}^`, lockFile), show(root, sha, lockFile)]);
    commits.push({
      commit: sha,
      subject: subject ?? '',
      message: message ?? '',
      ...(before !== undefined ? { before } : {}),
      ...(after !== undefined ? { after } : {}),
    });
  }
  const [b, h] = await Promise.all([show(root, base, lockFile), show(root, head, lockFile)]);
  return { ...(b !== undefined ? { base: b } : {}), ...(h !== undefined ? { head: h } : {}), commits, file: lockFile };
}

export async function runPlan(opts: RunPlanOptions): Promise<PlanReport> {
  const started = Date.now();
  const repoDir = opts.repoDir ?? process.cwd();
  const headRef = opts.head ?? 'HEAD';
  if (!existsSync(repoDir)) throw new Error(`${repoDir} does not exist; pass --repo with a directory inside a git checkout`);
  // Every ref is resolved before any worktree is added: a git command racing a concurrent
  // `worktree add` in the same repository can read its half-written admin directory and fail.
  const root = await repoRoot(repoDir);
  const baseTip = await resolveCommit(root, opts.base);
  const headCommit = await resolveCommit(root, headRef);
  const baseCommit = opts.mergeBase === false ? baseTip : await mergeBaseOf(root, opts.base, baseTip, headRef, headCommit);
  let ahead: number | undefined;
  if (baseCommit !== baseTip) {
    const n = Number(
      (
        await gitClient(root)
          .raw(['rev-list', '--count', `${baseCommit}..${baseTip}`])
          .catch(() => '')
      ).trim(),
    );
    if (Number.isInteger(n)) ahead = n;
  }
  const appRel = (isAbsolute(opts.app) ? relative(root, opts.app) : opts.app).split('\\').join('/').replace(/^\.\//, '');
  const lockFile = posix.join(posix.dirname(appRel), LOCK_FILE);
  const typecheck = opts.typecheck !== false;
  const [b, h, lock] = await Promise.all([
    attempt(root, baseCommit, appRel, false),
    attempt(root, headCommit, appRel, typecheck),
    readLockChange(root, baseCommit, headCommit, lockFile),
  ]);
  const base: Revision = { ref: opts.base, commit: baseCommit, ...(baseCommit !== baseTip ? { tip: baseTip, ...(ahead !== undefined ? { ahead } : {}) } : {}) };
  const head: Revision = { ref: headRef, commit: headCommit };
  const common = { base, head, lockFile, typechecked: typecheck };
  const seconds = () => Math.round((Date.now() - started) / 100) / 10;
  if (!h.ok) return { ...common, headError: h.error, seconds: seconds() };
  const baseWarning = b.ok ? undefined : `the base failed to synthesize, so everything reads as added: ${b.error}`;
  try {
    const plan = computePlan(b.ok ? b.r.objects : [], h.r.objects, { base: `base ${opts.base}`, head: `head ${headRef}` }, lock);
    return { ...common, plan, ...(baseWarning ? { baseWarning } : {}), seconds: seconds() };
  } catch (e) {
    if (!(e instanceof ObjectSetError)) throw e;
    if (e.where.startsWith('head')) return { ...common, headError: e.message, seconds: seconds() };
    const plan = computePlan([], h.r.objects, { base: 'base', head: `head ${headRef}` }, lock);
    return { ...common, plan, baseWarning: `the base is not a valid object set, so everything reads as added: ${e.message}`, seconds: seconds() };
  }
}

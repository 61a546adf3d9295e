/**
 * Synthesize an app as it was at a git commit: check the commit out into its own temporary git
 * worktree (the user's checkout is never touched), link the repository's node_modules into it, and
 * run the synth of that tree in a child process (gitops/synth-child.ts). The synth itself is
 * charts/synth.ts `synthApp`; nothing here re-implements it.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join, relative } from 'node:path';
import { PACKAGE_ROOT as ownRoot, sourcePath } from '../api/own-files.ts';
import { gitClient } from './git.ts';
import { typecheckApp, typecheckMessage } from './typecheck.ts';
import type { K8sObject } from '../api/objects.ts';

export class SynthFailedError extends Error {
  constructor(
    message: string,
    readonly commit: string,
  ) {
    super(message);
    this.name = 'SynthFailedError';
  }
}

export interface SynthAtResult {
  readonly commit: string;
  readonly objects: readonly K8sObject[];
}

/** Resolves a ref to a full commit SHA; the error names the ref and the repository. */
export async function resolveCommit(repoDir: string, ref: string): Promise<string> {
  const git = gitClient(repoDir);
  const out = await git.raw(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]).catch(() => '');
  const sha = out.trim();
  if (!/^[0-9a-f]{40,64}$/.test(sha)) throw new Error(`'${ref}' is not a commit in ${repoDir}; pass a branch, tag or SHA (git log --oneline shows them)`);
  return sha;
}

/** The top of the working tree that holds `dir`. */
export async function repoRoot(dir: string): Promise<string> {
  if (!existsSync(dir)) throw new Error(`${dir} does not exist; pass --repo with a directory inside a git checkout`);
  const out = await gitClient(dir)
    .raw(['rev-parse', '--show-toplevel'])
    .catch(() => '');
  if (!out.trim()) throw new Error(`${dir} is not inside a git repository; run ghosteam plan from a checkout (or pass --repo)`);
  return out.trim();
}

/**
 * The synth module to use for a tree: its own charts/synth.ts when the tree is ghosteam itself,
 * else the ghosteam the app depends on (node_modules), else the one running this code.
 */
export function synthModuleFor(treeDir: string, appAbs: string): string {
  const own = join(treeDir, 'charts', 'synth.ts');
  try {
    if (existsSync(own) && (JSON.parse(readFileSync(join(treeDir, 'package.json'), 'utf8')) as { name?: string }).name === 'ghosteam') return own;
  } catch {
    // no package.json: not ghosteam itself
  }
  try {
    return createRequire(appAbs).resolve('ghosteam/charts');
  } catch {
    return join(ownRoot, 'charts', 'synth.ts');
  }
}

function runChild(args: string[], cwd: string, timeoutMs: number): Promise<{ code: number; stderr: string }> {
  const tsx = createRequire(join(ownRoot, 'package.json')).resolve('tsx');
  return new Promise((res) => {
    execFile(
      process.execPath,
      ['--import', tsx, sourcePath('gitops/synth-child.ts'), ...args],
      { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: '' } },
      (err, _stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        const killed = err && (err as { killed?: boolean }).killed;
        res({ code, stderr: killed ? `synthesis timed out after ${Math.round(timeoutMs / 1000)} s` : stderr });
      },
    );
  });
}

export interface SynthAtOptions {
  /** The app file, relative to the repository root (or absolute inside it). */
  readonly app: string;
  /** @default 120000 */
  readonly timeoutMs?: number;
  /** Type-check the app (its own tsconfig) too; type errors fail like a synthesis error. @default false */
  readonly typecheck?: boolean;
}

/** Worktree adds and removes of one repository, one at a time: git's worktree admin files race otherwise. */
const worktreeLocks = new Map<string, Promise<unknown>>();
function serialized<T>(root: string, op: () => Promise<T>): Promise<T> {
  const prev = worktreeLocks.get(root) ?? Promise.resolve();
  const next = prev.then(op, op);
  const tail = next.catch(() => undefined);
  worktreeLocks.set(root, tail);
  void tail.then(() => worktreeLocks.get(root) === tail && worktreeLocks.delete(root));
  return next;
}

/**
 * Runs `fn` with a temporary worktree of `commit` (dependencies linked in: the repository's
 * node_modules, else ours), removed afterwards whatever happens. Each worktree gets a unique name,
 * and adds/removes in one process take turns (plan adds base and head at once): a shared name or a
 * prune during another add leaves git with a half-written admin directory.
 */
export async function withWorktree<T>(root: string, commit: string, fn: (tree: string, tmp: string) => Promise<T>): Promise<T> {
  const tmp = await mkdtemp(join(tmpdir(), 'ghosteam-tree-'));
  const tree = join(tmp, basename(tmp));
  const git = gitClient(root);
  try {
    await serialized(root, () => git.raw(['worktree', 'add', '--quiet', '--detach', tree, commit]));
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  try {
    // The repository's own dependencies, else ours (the clone that `watch` keeps has none).
    const modules = [join(root, 'node_modules'), join(ownRoot, 'node_modules')].find((m) => existsSync(m));
    if (modules && !existsSync(join(tree, 'node_modules'))) symlinkSync(modules, join(tree, 'node_modules'), 'dir');
    return await fn(tree, tmp);
  } finally {
    const removed = await serialized(root, () => git.raw(['worktree', 'remove', '--force', tree])).then(
      () => true,
      () => false,
    );
    await rm(tmp, { recursive: true, force: true });
    // Only when remove failed: a prune beside another process's add could take its admin files.
    if (!removed) await serialized(root, () => git.raw(['worktree', 'prune'])).catch(() => undefined);
  }
}

/** Synthesizes `opts.app` at `ref` of the repository at `repoDir`. Throws SynthFailedError with the synth's message. */
export async function synthAt(repoDir: string, ref: string, opts: SynthAtOptions): Promise<SynthAtResult> {
  const root = await repoRoot(repoDir);
  const commit = await resolveCommit(root, ref);
  const appRel = isAbsolute(opts.app) ? relative(root, opts.app) : opts.app;
  if (appRel.startsWith('..')) throw new Error(`app ${opts.app} is outside the repository ${root}`);
  return withWorktree(root, commit, async (tree) => {
    if (!opts.typecheck || !existsSync(join(tree, appRel))) return synthTree(tree, commit, { ...opts, app: appRel });
    // Both at once (the synthesis runs in a child process); type errors win, since they usually
    // explain a failed synthesis too, and a type error that synthesizes must still fail.
    const [checked, synth] = await Promise.all([
      typecheckApp(tree, appRel),
      synthTree(tree, commit, { ...opts, app: appRel }).then(
        (r) => ({ ok: true as const, r }),
        (e: unknown) => ({ ok: false as const, e }),
      ),
    ]);
    if (checked.errors.length > 0) throw new SynthFailedError(typecheckMessage(checked, appRel), commit);
    if (!synth.ok) throw synth.e;
    return synth.r;
  });
}

/**
 * Synthesizes `opts.app` (relative to `tree`) in a checkout that already exists (with its
 * dependencies), in a child process. `commit` is stamped on the objects. Throws SynthFailedError.
 */
export async function synthTree(tree: string, commit: string, opts: SynthAtOptions): Promise<SynthAtResult> {
  const appRel = opts.app;
  const appAbs = join(tree, appRel);
  if (!existsSync(appAbs))
    throw new SynthFailedError(`${appRel} does not exist at ${commit.slice(0, 7)}; pass --app with the app file's path at that commit`, commit);
  const tmp = await mkdtemp(join(tmpdir(), 'ghosteam-synth-'));
  try {
    const out = join(tmp, 'objects.json');
    const r = await runChild([synthModuleFor(tree, appAbs), appAbs, commit, out], tree, opts.timeoutMs ?? 120_000);
    if (r.code !== 0) {
      // Paths inside the checkout read better as repository paths.
      const msg = r.stderr.trim().split(`${tree}/`).join('') || `synthesis exited with code ${r.code}`;
      throw new SynthFailedError(msg, commit);
    }
    return { commit, objects: JSON.parse(await readFile(out, 'utf8')) as K8sObject[] };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

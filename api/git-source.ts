/**
 * Where an app or a run came from in Git: HEAD, and whether the working tree had uncommitted changes
 * (tracked edits, staged changes or untracked files). A dirty tree is recorded as such, with a digest
 * of the uncommitted changes, so lineage never claims a clean commit for code that was not committed.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';

export interface GitSource {
  /** `git rev-parse HEAD`. */
  readonly commit: string;
  /** 'sha256:<hex>' of the uncommitted changes (`git status --porcelain` and `git diff HEAD --binary`); absent when the tree is clean. */
  readonly dirty?: string;
}

/** The digest of a tree's uncommitted changes; undefined when `status` is empty (clean). Pure. */
export function dirtyDigest(status: string, diff: string): string | undefined {
  if (status.trim() === '') return undefined;
  return `sha256:${createHash('sha256').update(status).update('\0').update(diff).digest('hex')}`;
}

const STATUS = ['status', '--porcelain=v1', '--untracked-files=normal', '.'];
const DIFF = ['diff', 'HEAD', '--binary', '--', '.'];
const COMMIT = /^[0-9a-f]{40,64}$/;

/** HEAD of the checkout holding `dir` and whether the tree under `dir` is dirty; undefined outside Git. */
export function gitSourceSync(dir: string): GitSource | undefined {
  const git = (args: string[]) => execFileSync('git', args, { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  try {
    const commit = git(['rev-parse', 'HEAD']).trim();
    if (!COMMIT.test(commit)) return undefined;
    const dirty = dirtyDigest(git(STATUS), git(DIFF));
    return dirty ? { commit, dirty } : { commit };
  } catch {
    return undefined;
  }
}

/** gitSourceSync without blocking the event loop. */
export async function gitSource(dir: string): Promise<GitSource | undefined> {
  const run = promisify(execFile);
  const git = async (args: string[]) => (await run('git', args, { cwd: dir, timeout: 10_000, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })).stdout;
  try {
    const commit = (await git(['rev-parse', 'HEAD'])).trim();
    if (!COMMIT.test(commit)) return undefined;
    const dirty = dirtyDigest(await git(STATUS), await git(DIFF));
    return dirty ? { commit, dirty } : { commit };
  } catch {
    return undefined;
  }
}

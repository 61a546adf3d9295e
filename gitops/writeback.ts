/**
 * Write-back: after a promotion, commit the new version pin to `models.lock.json` and push it, so
 * that Git stays the source of truth and Argo CD never reverts the promotion.
 *
 * The work happens in a private clone (a temporary directory, or `workDir` reused between calls),
 * never in the user's checkout. A push that loses a race (non-fast-forward) fetches again, re-applies
 * the pin to the *new* lock file (so another writer's pin is never lost) and retries with
 * exponential backoff and jitter. Re-applying beats rebasing: the pin is a function of the current
 * file, so there are no merge conflicts to resolve.
 *
 * The commit carries the `Ghosteam-Writeback: true` trailer and touches only the lock file, so
 * neither `ghosteam watch` nor the operator retrains because of it.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { gitClient, gitError, isNonFastForward, redact, secretsOf, type GitCredentials } from './git.ts';
import { applyPin, LOCK_FILE, parseLock, serializeLock, writebackMessage, type PinRequest } from './lockfile.ts';

export interface WritebackOptions {
  /** Remote URL (https://, ssh, file://) or a path to a repository. */
  readonly repo: string;
  /** The branch the lock file lives on. @default 'main' */
  readonly branch?: string;
  /**
   * Push to this branch instead of `branch` (e.g. 'ghosteam/pins', for review through a pull
   * request). It starts from `branch` when it doesn't exist yet. @default - `branch`
   */
  readonly pushBranch?: string;
  /** The lock file's path inside the repository. @default 'models.lock.json' */
  readonly lockFile?: string;
  readonly pin: PinRequest;
  /** @default - from the environment (credentialsFromEnv), or none */
  readonly credentials?: GitCredentials;
  /** @default { name: 'ghosteam', email: 'ghosteam@users.noreply.local' } */
  readonly author?: { readonly name: string; readonly email: string };
  /** A directory for the private clone, kept between calls. @default - a temporary directory, removed afterwards */
  readonly workDir?: string;
  /** @default 8 */
  readonly maxAttempts?: number;
  /** First retry delay; it doubles on every retry, with ±50% jitter. @default 200 */
  readonly backoffMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly log?: (line: string) => void;
  /** Called after the commit and before each push; tests use it to lose a race on purpose. */
  readonly beforePush?: (attempt: number) => Promise<void>;
}

export interface WritebackResult {
  /** pushed: a commit landed; unchanged: that version was already pinned; superseded: a newer one is. */
  readonly outcome: 'pushed' | 'unchanged' | 'superseded';
  readonly branch: string;
  readonly attempts: number;
  readonly commit?: string;
  readonly previous?: number;
  /** The version pinned on the branch when we stopped. */
  readonly pinned: number;
}

const sleepReal = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function writeBack(opts: WritebackOptions): Promise<WritebackResult> {
  const branch = opts.branch ?? 'main';
  const target = opts.pushBranch ?? branch;
  const lockFile = opts.lockFile ?? LOCK_FILE;
  const maxAttempts = opts.maxAttempts ?? 8;
  const backoff = opts.backoffMs ?? 200;
  const sleep = opts.sleep ?? sleepReal;
  const creds = opts.credentials;
  const log = (line: string) => opts.log?.(redact(line, secretsOf(creds)));
  const author = opts.author ?? {
    name: process.env.GHOSTEAM_GIT_AUTHOR_NAME || 'ghosteam',
    email: process.env.GHOSTEAM_GIT_AUTHOR_EMAIL || 'ghosteam@users.noreply.local',
  };
  const dir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'ghosteam-writeback-')));
  const git = gitClient(dir, creds);
  const fail = (what: string, e: unknown) => gitError(what, e, creds);
  try {
    await mkdir(dir, { recursive: true });
    if (!existsSync(join(dir, '.git'))) {
      await git.init().catch((e) => Promise.reject(fail('git init', e)));
      await git.addConfig('user.name', author.name).addConfig('user.email', author.email).addConfig('commit.gpgsign', 'false');
      await git.addRemote('origin', opts.repo).catch((e) => Promise.reject(fail('git remote add', e)));
    } else {
      await git.remote(['set-url', 'origin', opts.repo]).catch((e) => Promise.reject(fail('git remote set-url', e)));
    }
    for (let attempt = 1; ; attempt++) {
      const refspecs = [`+refs/heads/${branch}:refs/remotes/origin/${branch}`];
      if (target !== branch) refspecs.push(`+refs/heads/${target}:refs/remotes/origin/${target}`);
      try {
        await git.raw(['fetch', '--quiet', '--no-tags', 'origin', ...refspecs]);
      } catch (e) {
        // The push branch may not exist yet: fetch the base alone.
        if (target === branch) throw fail(`fetching ${branch} from ${opts.repo}`, e);
        await git.raw(['fetch', '--quiet', '--no-tags', 'origin', refspecs[0]]).catch((e2) => Promise.reject(fail(`fetching ${branch} from ${opts.repo}`, e2)));
      }
      const hasTarget =
        target !== branch &&
        (await git.raw(['rev-parse', '--verify', '--quiet', `refs/remotes/origin/${target}`]).then(
          (out) => out.trim() !== '',
          () => false,
        ));
      const start = `refs/remotes/origin/${hasTarget ? target : branch}`;
      await git.raw(['checkout', '--quiet', '--force', '-B', 'ghosteam-writeback', start]).catch((e) => Promise.reject(fail(`checking out ${start}`, e)));
      const path = join(dir, lockFile);
      const text = existsSync(path) ? await readFile(path, 'utf8') : undefined;
      const outcome = applyPin(parseLock(text, lockFile), opts.pin);
      if (outcome.kind === 'unchanged') {
        log(`${opts.pin.model} v${opts.pin.version} is already pinned on ${target}; nothing to write`);
        return { outcome: 'unchanged', branch: target, attempts: attempt, pinned: opts.pin.version };
      }
      if (outcome.kind === 'superseded') {
        log(`${opts.pin.model} v${outcome.pinned} is already pinned on ${target}, newer than v${opts.pin.version}; not downgrading`);
        return { outcome: 'superseded', branch: target, attempts: attempt, pinned: outcome.pinned };
      }
      await mkdir(dirname(path), { recursive: true });
      await writeFileAtomic(path, serializeLock(outcome.lock));
      await git.add([lockFile]);
      await git.commit(writebackMessage(opts.pin, outcome.previous, lockFile), [lockFile]).catch((e) => Promise.reject(fail('git commit', e)));
      const commit = (await git.revparse(['HEAD'])).trim();
      await opts.beforePush?.(attempt);
      try {
        await git.raw(['push', '--quiet', '--porcelain', 'origin', `HEAD:refs/heads/${target}`]);
        log(`pinned ${opts.pin.model} v${opts.pin.version} on ${target} (${commit.slice(0, 7)}) after ${attempt} attempt(s)`);
        return {
          outcome: 'pushed',
          branch: target,
          attempts: attempt,
          commit,
          pinned: opts.pin.version,
          ...(outcome.previous !== undefined ? { previous: outcome.previous } : {}),
        };
      } catch (e) {
        if (!isNonFastForward(e)) throw fail(`pushing to ${opts.repo} ${target}`, e);
        if (attempt >= maxAttempts)
          throw new Error(
            `write-back of ${opts.pin.model} v${opts.pin.version} gave up after ${attempt} attempts: ${redact(opts.repo)} ${target} kept moving (non-fast-forward); retry later or raise maxAttempts`,
          );
        const delay = Math.round(backoff * 2 ** (attempt - 1) * (0.5 + Math.random()));
        log(`push of ${opts.pin.model} v${opts.pin.version} was rejected (non-fast-forward, attempt ${attempt}); fetching and retrying in ${delay} ms`);
        await sleep(delay);
      }
    }
  } finally {
    if (!opts.workDir) await rm(dir, { recursive: true, force: true });
  }
}

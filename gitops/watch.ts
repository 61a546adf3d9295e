/**
 * `ghosteam watch`: follow a branch of a repository, synthesize each new commit, apply the result
 * to the operator (the local operator's state, or a cluster with `--apply`), and start one
 * TrainingRun (reason git-change) for each pipeline whose spec hash is new. The operator trains,
 * canaries, promotes or rolls back, and writes the promoted pin back to Git: watch itself never pins.
 *
 * The decisions are pure (gitops/retrain.ts: which commits, which hashes); this file does the I/O:
 * a private clone under the state directory (the user's checkout is never touched), one checkout per
 * commit with the repository's dependencies installed (gitops/checkout.ts), a state file written
 * atomically after every commit, and a `WatchRuntime` that applies objects and starts TrainingRuns.
 *
 * A commit is done (the watermark moves past it) when its synthesis failed (reported once), or when
 * every TrainingRun it started ended in a way retrying cannot change: a registered version, a model
 * the gate rejected, or a failure after MAX_ATTEMPTS attempts. A failed TrainingRun is retried on the
 * next poll under a new name.
 *
 * No loop: the write-back commit carries `Ghosteam-Writeback: true` and touches only the lock
 * file, so the next poll skips it; and even a pin committed by hand leaves every spec hash as it
 * was, so nothing retrains (decideRetrains dedups by hash).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { gitClient, gitError, redact, redactUrl, secretsOf, type GitCredentials } from './git.ts';
import { LOCK_FILE } from './lockfile.ts';
import { decideRetrains, EMPTY_STATE, MAX_HASHES_PER_PIPELINE, planCommits, type CommitInfo, type RetrainStart, type WatchState } from './retrain.ts';
import { synthAt, synthTree } from './synth-at.ts';
import { prepareTree, pruneTrees } from './checkout.ts';
import type { K8sObject } from '../api/objects.ts';
import { backoffMs, classifyFailure } from '../api/failure.ts';

export interface RetrainContext {
  /** The watcher's private clone. */
  readonly repoDir: string;
  readonly commit: string;
  /** The app file, relative to the repository root. */
  readonly app: string;
  /** The checkout of `commit` (dependencies installed); '' when the runtime does not need one. */
  readonly tree?: string;
  /** The synthesized objects of the commit. */
  readonly objects: readonly K8sObject[];
  /** 1 for the first TrainingRun of this spec hash, 2 after one failed, … */
  readonly attempt?: number;
}

/** How a TrainingRun that watch started ended. */
export type RetrainOutcome =
  | { readonly kind: 'registered'; readonly run: string; readonly model?: string; readonly version?: number }
  | { readonly kind: 'rejected'; readonly run: string; readonly reasons: readonly string[] }
  /** `terminal`: the run failed in a way retrying cannot change (an invalid param, bad data; api/failure.ts). */
  | { readonly kind: 'failed'; readonly run: string; readonly message: string; readonly terminal?: boolean; readonly reason?: string }
  /** Handed to an operator that is not followed (a cluster): counted as done. */
  | { readonly kind: 'submitted'; readonly run: string };

/** Where synthesized objects go and how a TrainingRun starts: the local operator, or a cluster. */
export interface WatchRuntime {
  readonly name: string;
  apply(objects: readonly K8sObject[], commit: string, ctx?: { readonly tree?: string; readonly app?: string }): Promise<void>;
  /** Starts a TrainingRun (reason git-change) and resolves with how it ended (or 'submitted'). */
  retrain(start: RetrainStart, ctx: RetrainContext): Promise<RetrainOutcome>;
}

/** TrainingRuns of one spec hash watch starts before it gives up on it (transient failures only: a terminal one is never retried). */
export const MAX_ATTEMPTS = 3;
/** Delay scale before a transient failure is tried again; doubles per attempt, with full jitter. */
export const RETRY_BASE_MS = 30_000;
/** No wait before a retry is longer. */
export const RETRY_CAP_MS = 600_000;

export interface WatchOptions {
  /** Git URL or local path of the repository to follow. */
  readonly source: string;
  /** @default 'main' */
  readonly branch?: string;
  /** The app file, relative to the repository root. @default 'app.ts' */
  readonly app?: string;
  /** Private clone and state.json live here. */
  readonly stateDir: string;
  readonly runtime: WatchRuntime;
  /** Make a checkout per commit with the repository's dependencies installed (the local operator trains from it). @default true */
  readonly checkouts?: boolean;
  /** Lock file path inside the repository (its commits are write-backs). @default - models.lock.json next to the app */
  readonly lockFile?: string;
  readonly credentials?: GitCredentials;
  /** Synthesize only the newest commit of each fetch. @default false */
  readonly latestOnly?: boolean;
  /** Delay scale before a transient failure (a TrainingRun, a dependency install) is tried again. @default RETRY_BASE_MS */
  readonly retryBaseMs?: number;
  /** @default RETRY_CAP_MS */
  readonly retryCapMs?: number;
  /** [0, 1) for the backoff's jitter. @default Math.random */
  readonly random?: () => number;
  readonly clock?: () => Date;
  readonly log?: (line: string) => void;
}

export interface CommitReport {
  readonly sha: string;
  readonly subject: string;
  /** 'waiting': a transient failure's retry is not due yet (nothing was done). */
  readonly action: 'synthesized' | 'skipped' | 'failed' | 'waiting';
  readonly why?: string;
  readonly retrains: readonly RetrainStart[];
  readonly outcomes: readonly RetrainOutcome[];
  /** False when a TrainingRun failed and the commit is tried again on the next poll. */
  readonly done: boolean;
}

export class RepoWatcher {
  private readonly branch: string;
  private readonly app: string;
  private readonly repoDir: string;
  private readonly treesDir: string;
  private readonly statePath: string;
  private readonly log: (line: string) => void;

  constructor(private readonly o: WatchOptions) {
    this.branch = o.branch ?? 'main';
    this.app = o.app ?? 'app.ts';
    this.repoDir = join(o.stateDir, 'repo');
    this.treesDir = join(o.stateDir, 'trees');
    this.statePath = join(o.stateDir, 'state.json');
    this.log = (line) => o.log?.(redact(line, secretsOf(o.credentials)));
  }

  private lockFile(): string {
    if (this.o.lockFile) return this.o.lockFile;
    const dir = this.app.includes('/') ? this.app.slice(0, this.app.lastIndexOf('/')) : '';
    return dir ? `${dir}/${LOCK_FILE}` : LOCK_FILE;
  }

  async readState(): Promise<WatchState> {
    if (!existsSync(this.statePath)) return EMPTY_STATE;
    try {
      const s = JSON.parse(await readFile(this.statePath, 'utf8')) as WatchState;
      return {
        trained: s.trained ?? {},
        ...(s.failures ? { failures: s.failures } : {}),
        ...(s.lastCommit ? { lastCommit: s.lastCommit } : {}),
        ...(s.retryCommit && s.retryAt ? { retryCommit: s.retryCommit, retryAt: s.retryAt } : {}),
      };
    } catch (e) {
      throw new Error(`${this.statePath} is not valid watch state (${(e as Error).message}); delete it to start over (every pipeline then trains once more)`);
    }
  }

  private async writeState(s: WatchState): Promise<void> {
    await writeFileAtomic(this.statePath, `${JSON.stringify(s, null, 2)}\n`);
  }

  /** Clones (once) and fetches the branch; returns the tip. */
  private async fetch(): Promise<string> {
    await mkdir(this.repoDir, { recursive: true });
    const git = gitClient(this.repoDir, this.o.credentials);
    if (!existsSync(join(this.repoDir, '.git'))) {
      await git.init();
      await git.addRemote('origin', this.o.source);
    }
    const ref = `refs/remotes/origin/${this.branch}`;
    try {
      await git.raw(['fetch', '--quiet', '--no-tags', 'origin', `+refs/heads/${this.branch}:${ref}`]);
    } catch (e) {
      throw gitError(`fetching ${this.branch} from ${redactUrl(this.o.source)}`, e, this.o.credentials);
    }
    return (await git.revparse([ref])).trim();
  }

  /** New first-parent commits after `last` (oldest first); only the tip on the first run or after a force-push. */
  private async newCommits(last: string | undefined, tip: string): Promise<CommitInfo[]> {
    const git = gitClient(this.repoDir);
    let shas: string[] = [tip];
    if (last === tip) return [];
    if (last) {
      const isAncestor = await git.raw(['merge-base', '--is-ancestor', last, tip]).then(
        () => true,
        () => false,
      );
      if (isAncestor) shas = (await git.raw(['rev-list', '--reverse', '--first-parent', `${last}..${tip}`])).split('\n').filter(Boolean);
      else this.log(`${this.branch} was rewritten (${last.slice(0, 7)} is no longer on it); continuing from ${tip.slice(0, 7)}`);
    }
    const out: CommitInfo[] = [];
    for (const sha of shas) {
      const message = await git.raw(['show', '-s', '--format=%B', sha]);
      const files = (await git.raw(['diff-tree', '--root', '--no-commit-id', '--name-only', '-r', '-m', '--first-parent', sha])).split('\n').filter(Boolean);
      out.push({ sha, message, files });
    }
    return out;
  }

  private now(): number {
    return (this.o.clock?.() ?? new Date()).getTime();
  }

  /** When the retry after `attempt` transient failures is due: exponential backoff with full jitter, capped. */
  private retryAt(attempt: number): { at: string; inS: number } {
    const ms = backoffMs(attempt, { baseMs: this.o.retryBaseMs ?? RETRY_BASE_MS, capMs: this.o.retryCapMs ?? RETRY_CAP_MS, random: this.o.random });
    return { at: new Date(this.now() + ms).toISOString(), inS: Math.round(ms / 100) / 10 };
  }

  /** One poll: fetch, then handle each new commit in order (stopping at one whose training must be retried). */
  async pollOnce(): Promise<CommitReport[]> {
    const tip = await this.fetch();
    let state = await this.readState();
    const commits = await this.newCommits(state.lastCommit, tip);
    const reports: CommitReport[] = [];
    for (const action of planCommits(commits, { latestOnly: this.o.latestOnly, lockFiles: [this.lockFile()], baseline: state.lastCommit === undefined })) {
      const c = action.commit;
      const subject = c.message.split('\n')[0] ?? '';
      if (action.kind === 'skip') {
        this.log(`${c.sha.slice(0, 7)} ${subject}: skipped (${action.why})`);
        state = { ...state, lastCommit: c.sha };
        await this.writeState(state);
        reports.push({ sha: c.sha, subject, action: 'skipped', why: action.why, retrains: [], outcomes: [], done: true });
        continue;
      }
      if (state.retryCommit === c.sha && state.retryAt && this.now() < Date.parse(state.retryAt)) {
        // A transient failure's backoff is not over: nothing to do until it is (said when it was scheduled).
        reports.push({ sha: c.sha, subject, action: 'waiting', why: `tried again at ${state.retryAt}`, retrains: [], outcomes: [], done: false });
        break;
      }
      let objects: readonly K8sObject[];
      let tree: string | undefined;
      try {
        if (this.o.checkouts !== false) {
          tree = await prepareTree(this.repoDir, this.treesDir, c.sha, (l) => this.log(l));
          objects = (await synthTree(tree, c.sha, { app: this.app })).objects;
        } else {
          objects = (await synthAt(this.repoDir, c.sha, { app: this.app })).objects;
        }
      } catch (e) {
        const why = (e as Error).message;
        // A commit never changes, so its synthesis fails the same way every time, unless the cause
        // is the environment (the network during npm ci, a full disk): only that is tried again.
        const f = classifyFailure(e);
        const id = `synth@${c.sha}`;
        const attempt = (state.failures?.[id] ?? 0) + 1;
        if (!f.terminal && f.reason !== 'Unknown' && attempt < MAX_ATTEMPTS) {
          const r = this.retryAt(attempt);
          this.log(
            `${c.sha.slice(0, 7)} ${subject}: could not prepare the commit (${f.reason}: ${why}); trying again in ${r.inS} s (attempt ${attempt + 1} of ${MAX_ATTEMPTS})`,
          );
          state = { ...state, failures: { ...(state.failures ?? {}), [id]: attempt }, retryCommit: c.sha, retryAt: r.at };
          await this.writeState(state);
          reports.push({ sha: c.sha, subject, action: 'failed', why, retrains: [], outcomes: [], done: false });
          break;
        }
        // A broken commit is reported once and passed over; the next good commit is synthesized.
        this.log(`${c.sha.slice(0, 7)} ${subject}: synthesis failed, nothing applied: ${why}`);
        const failures = { ...(state.failures ?? {}) };
        delete failures[id];
        state = { trained: state.trained, ...(Object.keys(failures).length ? { failures } : {}), lastCommit: c.sha };
        await this.writeState(state);
        reports.push({ sha: c.sha, subject, action: 'failed', why, retrains: [], outcomes: [], done: true });
        continue;
      }
      await this.o.runtime.apply(objects, c.sha, { ...(tree ? { tree } : {}), app: this.app });
      const decision = decideRetrains(objects, state, c.sha);
      this.log(
        `${c.sha.slice(0, 7)} ${subject}: applied ${objects.length} objects to ${this.o.runtime.name}; ${decision.start.length === 0 ? 'no pipeline changed' : `retraining ${decision.start.map((s) => s.pipeline).join(', ')} (git-change)`}`,
      );
      const trained: Record<string, readonly string[]> = { ...state.trained };
      const failures: Record<string, number> = { ...(state.failures ?? {}) };
      delete failures[`synth@${c.sha}`];
      const outcomes: RetrainOutcome[] = [];
      let done = true;
      let retry: { at: string; inS: number } | undefined;
      for (const start of decision.start) {
        const id = `${start.key}@${start.hash}`;
        const attempt = (failures[id] ?? 0) + 1;
        const outcome = await this.o.runtime.retrain(start, {
          repoDir: this.repoDir,
          commit: c.sha,
          app: this.app,
          objects,
          attempt,
          ...(tree ? { tree } : {}),
        });
        outcomes.push(outcome);
        if (outcome.kind === 'failed' && !outcome.terminal && attempt < MAX_ATTEMPTS) {
          failures[id] = attempt;
          done = false;
          const r = this.retryAt(attempt);
          if (!retry || r.at < retry.at) retry = r;
          this.log(
            `${start.pipeline}: TrainingRun ${outcome.run} failed (${outcome.message}); trying again in ${r.inS} s (attempt ${attempt + 1} of ${MAX_ATTEMPTS})`,
          );
          continue;
        }
        delete failures[id];
        trained[start.key] = [...(trained[start.key] ?? []), start.hash].slice(-MAX_HASHES_PER_PIPELINE);
        if (outcome.kind === 'registered')
          this.log(
            `${start.pipeline}: TrainingRun ${outcome.run} registered ${outcome.model ?? 'the model'}${outcome.version !== undefined ? ` version ${outcome.version}` : ''}; the operator canaries it`,
          );
        else if (outcome.kind === 'rejected')
          this.log(`${start.pipeline}: TrainingRun ${outcome.run}: the gate rejected the model (${outcome.reasons.join('; ')}); nothing registered`);
        else if (outcome.kind === 'failed' && outcome.terminal)
          this.log(
            `${start.pipeline}: TrainingRun ${outcome.run} failed (${outcome.message}); ${outcome.reason ?? 'the failure'} cannot change on retry, so it is not retried: fix it in a new commit`,
          );
        else if (outcome.kind === 'failed')
          this.log(`${start.pipeline}: TrainingRun ${outcome.run} failed ${MAX_ATTEMPTS} times (${outcome.message}); giving up on this spec until it changes`);
      }
      state = {
        trained,
        ...(Object.keys(failures).length ? { failures } : {}),
        lastCommit: done ? c.sha : state.lastCommit,
        ...(!done && retry ? { retryCommit: c.sha, retryAt: retry.at } : {}),
      };
      if (!state.lastCommit) delete (state as { lastCommit?: string }).lastCommit;
      await this.writeState(state);
      reports.push({ sha: c.sha, subject, action: 'synthesized', retrains: decision.start, outcomes, done });
      if (tree) await pruneTrees(this.repoDir, this.treesDir, tree).catch(() => undefined);
      if (!done) break;
    }
    return reports;
  }

  /** Polls until the signal aborts; errors of one poll are logged and the next poll retries. */
  async run(signal: AbortSignal, intervalMs: number): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.pollOnce();
      } catch (e) {
        this.log(`poll failed (retrying in ${Math.round(intervalMs / 1000)} s): ${(e as Error).message}`);
      }
      await new Promise<void>((res) => {
        // One listener per wait, removed when the wait ends (not one more per poll).
        const onAbort = () => {
          clearTimeout(t);
          res();
        };
        const t = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          res();
        }, intervalMs);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  }
}

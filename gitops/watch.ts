/**
 * `ghosteam watch`: follow a branch of a repository, synthesize each new commit, apply the result,
 * start retraining for pipelines whose spec hash is new (once per hash), and write promotions back
 * to `models.lock.json`.
 *
 * The decisions are pure (gitops/retrain.ts: which commits, which hashes); this file does the I/O:
 * a private clone under the state directory (the user's checkout is never touched), a state file
 * written atomically after every commit, and a `WatchRuntime` that applies objects and trains —
 * the local engine by default, a cluster with `--apply`.
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
import { LOCK_FILE, type PromotionReason } from './lockfile.ts';
import { decideRetrains, EMPTY_STATE, planCommits, type CommitInfo, type RetrainStart, type WatchState } from './retrain.ts';
import { synthAt } from './synth-at.ts';
import { writeBack, type WritebackResult } from './writeback.ts';
import type { K8sObject } from '../api/objects.ts';

export interface Promotion {
  readonly model: string;
  readonly version: number;
  readonly previous?: number;
  readonly metrics: Readonly<Record<string, number>>;
  readonly reason: PromotionReason;
}

export interface RetrainContext {
  /** The watcher's private clone (a worktree of `commit` can be made from it). */
  readonly repoDir: string;
  readonly commit: string;
  /** The app file, relative to the repository root. */
  readonly app: string;
  /** The synthesized objects of the commit. */
  readonly objects: readonly K8sObject[];
}

/** Where synthesized objects go and how a pipeline trains: the local engine, or a cluster. */
export interface WatchRuntime {
  readonly name: string;
  apply(objects: readonly K8sObject[], commit: string): Promise<void>;
  /** Trains; resolves with the promotion it led to, if any (undefined: gate failed or not promoted yet). */
  retrain(start: RetrainStart, ctx: RetrainContext): Promise<Promotion | undefined>;
}

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
  /** Commit promotions to the lock file. @default true */
  readonly writeBack?: boolean;
  /** Push pins to this branch instead (for review). @default - the followed branch */
  readonly writeBackBranch?: string;
  /** Lock file path inside the repository. @default - models.lock.json next to the app */
  readonly lockFile?: string;
  readonly credentials?: GitCredentials;
  /** Synthesize only the newest commit of each fetch. @default false */
  readonly latestOnly?: boolean;
  readonly clock?: () => Date;
  readonly log?: (line: string) => void;
}

export interface CommitReport {
  readonly sha: string;
  readonly subject: string;
  readonly action: 'synthesized' | 'skipped' | 'failed';
  readonly why?: string;
  readonly retrains: readonly RetrainStart[];
  readonly promotions: readonly Promotion[];
  readonly writebacks: readonly WritebackResult[];
}

export class RepoWatcher {
  private readonly branch: string;
  private readonly app: string;
  private readonly repoDir: string;
  private readonly statePath: string;
  private readonly log: (line: string) => void;

  constructor(private readonly o: WatchOptions) {
    this.branch = o.branch ?? 'main';
    this.app = o.app ?? 'app.ts';
    this.repoDir = join(o.stateDir, 'repo');
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
      return { trained: s.trained ?? {}, ...(s.lastCommit ? { lastCommit: s.lastCommit } : {}) };
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
      const isAncestor = await git.raw(['merge-base', '--is-ancestor', last, tip]).then(() => true, () => false);
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

  /** One poll: fetch, then handle each new commit in order. */
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
        reports.push({ sha: c.sha, subject, action: 'skipped', why: action.why, retrains: [], promotions: [], writebacks: [] });
        continue;
      }
      let objects: readonly K8sObject[];
      try {
        objects = (await synthAt(this.repoDir, c.sha, { app: this.app })).objects;
      } catch (e) {
        // A broken commit is reported once and passed over; the next good commit is synthesized.
        const why = (e as Error).message;
        this.log(`${c.sha.slice(0, 7)} ${subject}: synthesis failed, nothing applied: ${why}`);
        state = { ...state, lastCommit: c.sha };
        await this.writeState(state);
        reports.push({ sha: c.sha, subject, action: 'failed', why, retrains: [], promotions: [], writebacks: [] });
        continue;
      }
      await this.o.runtime.apply(objects, c.sha);
      const decision = decideRetrains(objects, state, c.sha);
      // Recorded before training: a hash trains at most once, even if this process dies mid-run.
      state = decision.state;
      await this.writeState(state);
      this.log(`${c.sha.slice(0, 7)} ${subject}: applied ${objects.length} objects to ${this.o.runtime.name}; ${decision.start.length === 0 ? 'no pipeline changed' : `retraining ${decision.start.map((s) => s.pipeline).join(', ')} (git-change)`}`);
      const promotions: Promotion[] = [];
      const writebacks: WritebackResult[] = [];
      for (const start of decision.start) {
        const promotion = await this.o.runtime.retrain(start, { repoDir: this.repoDir, commit: c.sha, app: this.app, objects });
        if (!promotion) {
          this.log(`${start.pipeline}: trained at ${c.sha.slice(0, 7)}; nothing promoted`);
          continue;
        }
        promotions.push(promotion);
        this.log(`${start.pipeline}: promoted ${promotion.model} v${promotion.version}`);
        if (this.o.writeBack === false) continue;
        const wb = await writeBack({
          repo: this.o.source,
          branch: this.branch,
          ...(this.o.writeBackBranch ? { pushBranch: this.o.writeBackBranch } : {}),
          lockFile: this.lockFile(),
          credentials: this.o.credentials,
          pin: { model: promotion.model, version: promotion.version, previous: promotion.previous, reason: promotion.reason, metrics: promotion.metrics, promotedAt: (this.o.clock?.() ?? new Date()).toISOString() },
          log: (l) => this.log(l),
        });
        writebacks.push(wb);
      }
      reports.push({ sha: c.sha, subject, action: 'synthesized', retrains: decision.start, promotions, writebacks });
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
        const t = setTimeout(res, intervalMs);
        signal.addEventListener('abort', () => (clearTimeout(t), res()), { once: true });
      });
    }
  }
}

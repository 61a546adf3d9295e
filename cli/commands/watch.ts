/**
 * `ghosteam watch <git-url|path>`: follow a branch, synthesize each new commit (in a checkout with
 * the repository's dependencies installed), apply it to the local operator (or a cluster with
 * --apply), and start a TrainingRun for each pipeline whose spec hash changed (once per hash). The
 * operator trains, canaries, promotes and writes the pin back. Logic: gitops/watch.ts,
 * controllers/watch-runtime.ts and gitops/runtimes.ts.
 */
import type { Command } from 'commander';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { credentialsFromEnv, redactUrl } from '../../gitops/git.ts';
import { clusterRuntime } from '../../gitops/runtimes.ts';
import { RepoWatcher } from '../../gitops/watch.ts';

interface WatchFlags {
  branch: string;
  app: string;
  apply?: boolean;
  interval: string;
  once?: boolean;
  stateDir: string;
  operatorStateDir: string;
  latestOnly?: boolean;
  retryBackoff: string;
}

/** '30s', '5m', '1h' or plain seconds → milliseconds. */
export function parseInterval(text: string, flag = '--interval'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`${flag} '${text}' is not a duration; write e.g. 30s, 5m or 1h`);
  const n = Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  if (n < 1000) throw new Error(`${flag} '${text}' is shorter than 1s; ${flag === '--interval' ? 'poll less often' : 'give 1s or more'}`);
  return n;
}

export function register(program: Command): void {
  program
    .command('watch')
    .description('Follow a Git repository: synthesize each new commit, apply it to the operator, retrain on pipeline changes')
    .argument('<repo>', 'git URL or local path of the repository to follow')
    .option('-b, --branch <name>', 'branch to follow', 'main')
    .option('--app <file>', 'the app file, relative to the repository root', 'app.ts')
    .option('--apply', 'apply to the cluster of the current kubeconfig instead of the local operator')
    .option('--interval <duration>', 'time between polls', '30s')
    .option('--once', 'poll once and exit')
    .option('--latest-only', 'synthesize only the newest commit of each fetch')
    .option('--state-dir <dir>', 'where the private clone, the checkouts and watch state live', '.ghosteam/watch')
    .option('--operator-state-dir <dir>', "the local operator's --state-dir: each commit is applied there", '.ghosteam/state')
    .option('--retry-backoff <duration>', 'first wait before a transient failure is tried again; doubles per attempt, with jitter, up to 10m', '30s')
    .addHelpText(
      'after',
      `
The local operator (\`ghosteam operator --local\`, same --state-dir) applies each commit, trains, canaries,
promotes, and writes the promoted version to models.lock.json when started with --git-repo; watch itself
never pins. A commit is done when its synthesis failed (reported once) or every TrainingRun it started
ended: registered, rejected by the gate, failed for a reason retrying cannot change (an invalid param,
data that fails validation: reported once, not retried), or failed 3 times for a transient reason
(network, a killed step: tried again after --retry-backoff, doubling with jitter up to 10m).
--once exits 1 when a commit failed.

Credentials: GHOSTEAM_GIT_TOKEN (and GHOSTEAM_GIT_USERNAME) or GHOSTEAM_GIT_PASSWORD; never put them in the URL.

Example:
  ghosteam operator --local --model-server http://127.0.0.1:8080 --git-repo . &
  ghosteam watch . --app app.ts`,
    )
    .action(async (repo: string, flags: WatchFlags) => {
      const intervalMs = parseInterval(flags.interval);
      const retryBaseMs = parseInterval(flags.retryBackoff, '--retry-backoff');
      const source = /^[a-z][a-z0-9+.-]*:\/\/|^[^/]+@[^:]+:/i.test(repo) ? repo : resolve(repo);
      // One state directory per followed repository and branch.
      const id = createHash('sha256')
        .update(`${redactUrl(source)}#${flags.branch}`)
        .digest('hex')
        .slice(0, 12);
      const stateDir = join(flags.stateDir, id);
      const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      let runtime;
      if (flags.apply) runtime = await clusterRuntime({ log });
      else {
        const { localRuntime } = await import('../../controllers/watch-runtime.ts');
        runtime = localRuntime({ stateDir: resolve(flags.operatorStateDir), log, signal: ac.signal });
      }
      const watcher = new RepoWatcher({
        source,
        branch: flags.branch,
        app: flags.app,
        stateDir: resolve(stateDir),
        runtime,
        // A cluster's operator builds its own images; only the local operator trains from watch's checkouts.
        checkouts: !flags.apply,
        credentials: credentialsFromEnv(),
        latestOnly: flags.latestOnly ?? false,
        retryBaseMs,
        log,
      });
      log(`watching ${redactUrl(source)} ${flags.branch} (${flags.app}) → ${runtime.name}`);
      if (flags.once) {
        const reports = await watcher.pollOnce();
        const failed = reports.filter((r) => r.action === 'failed' || !r.done || r.outcomes.some((o) => o.kind === 'failed'));
        if (failed.length) {
          log(
            `${failed.length} commit(s) failed: ${failed
              .map(
                (r) =>
                  `${r.sha.slice(0, 7)} ${
                    r.why ??
                    r.outcomes
                      .filter((o) => o.kind === 'failed')
                      .map((o) => (o as { message: string }).message)
                      .join('; ')
                  }`,
              )
              .join('; ')}`,
          );
          process.exitCode = 1;
        }
        return;
      }
      await watcher.run(ac.signal, intervalMs);
    });
}

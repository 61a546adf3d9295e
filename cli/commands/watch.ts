/**
 * `ghosteam watch <git-url|path>`: follow a branch, synthesize each new commit, apply it (local
 * engine, or a cluster with --apply), retrain pipelines whose spec hash changed (once per hash) and
 * write promotions back to models.lock.json. Logic: gitops/watch.ts and gitops/runtimes.ts.
 */
import type { Command } from 'commander';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { credentialsFromEnv, redactUrl } from '../../gitops/git.ts';
import { clusterRuntime, localRuntime } from '../../gitops/runtimes.ts';
import { RepoWatcher } from '../../gitops/watch.ts';

interface WatchFlags {
  branch: string;
  app: string;
  apply?: boolean;
  interval: string;
  once?: boolean;
  writeBack: boolean;
  writeBackBranch?: string;
  stateDir: string;
  latestOnly?: boolean;
  workdir?: string;
}

/** '30s', '5m', '1h' or plain seconds → milliseconds. */
export function parseInterval(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`--interval '${text}' is not a duration; write e.g. 30s, 5m or 1h`);
  const n = Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  if (n < 1000) throw new Error(`--interval '${text}' is shorter than 1s; poll less often`);
  return n;
}

export function register(program: Command): void {
  program
    .command('watch')
    .description('Follow a Git repository: synthesize each new commit, apply it, retrain on pipeline changes, write promotions back')
    .argument('<repo>', 'git URL or local path of the repository to follow')
    .option('-b, --branch <name>', 'branch to follow', 'main')
    .option('--app <file>', 'the app file, relative to the repository root', 'app.ts')
    .option('--apply', 'apply to the cluster of the current kubeconfig (the operator trains and promotes) instead of the local engine')
    .option('--interval <duration>', 'time between polls', '30s')
    .option('--once', 'poll once and exit')
    .option('--latest-only', 'synthesize only the newest commit of each fetch')
    .option('--no-write-back', 'do not commit promotions to models.lock.json')
    .option('--write-back-branch <name>', 'push pins to this branch (for review) instead of the followed one')
    .option('--workdir <dir>', 'directory local training runs in, for relative data paths (default: a worktree of the commit)')
    .option('--state-dir <dir>', 'where the private clone and watch state live', '.ghosteam/watch')
    .addHelpText('after', '\nCredentials: GHOSTEAM_GIT_TOKEN (and GHOSTEAM_GIT_USERNAME) or GHOSTEAM_GIT_PASSWORD; never put them in the URL.\n\nExample:\n  ghosteam watch https://github.com/acme/ml.git --app examples/fraud-detection/app.ts')
    .action(async (repo: string, flags: WatchFlags) => {
      const intervalMs = parseInterval(flags.interval);
      const source = /^[a-z][a-z0-9+.-]*:\/\/|^[^/]+@[^:]+:/i.test(repo) ? repo : resolve(repo);
      // One state directory per followed repository and branch.
      const id = createHash('sha256').update(`${redactUrl(source)}#${flags.branch}`).digest('hex').slice(0, 12);
      const stateDir = join(flags.stateDir, id);
      const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
      const runtime = flags.apply ? await clusterRuntime({ log }) : localRuntime({ stateDir, log, ...(flags.workdir ? { workdir: flags.workdir } : {}) });
      const watcher = new RepoWatcher({
        source,
        branch: flags.branch,
        app: flags.app,
        stateDir,
        runtime,
        writeBack: flags.apply ? false : flags.writeBack,
        ...(flags.writeBackBranch ? { writeBackBranch: flags.writeBackBranch } : {}),
        credentials: credentialsFromEnv(),
        latestOnly: flags.latestOnly ?? false,
        log,
      });
      log(`watching ${redactUrl(source)} ${flags.branch} (${flags.app}) → ${runtime.name}`);
      if (flags.once) {
        await watcher.pollOnce();
        return;
      }
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await watcher.run(ac.signal, intervalMs);
    });
}

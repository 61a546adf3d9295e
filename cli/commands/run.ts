/**
 * `ghosteam run <app.ts>`: runs one of the app's pipelines on this machine with the local engine
 * (pipelines/local). Live progress on a TTY, a summary otherwise, JSON events with --json.
 * Ctrl-C cancels cleanly (a second Ctrl-C exits at once). Exit code: 0 succeeded, 1 failed,
 * 130 cancelled.
 */
import type { Command } from 'commander';
import { dirname, resolve } from 'node:path';

interface RunFlags {
  pipeline?: string;
  param?: string[];
  cache: boolean;
  resume?: string;
  json?: boolean;
  concurrency?: string;
  storeDir: string;
}

/** Quotes a word for a POSIX shell when it needs it. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command that resumes a run: the same app, pipeline, store and engine options (params come from the run record). */
export function resumeCommand(app: string, pipeline: string, flags: Pick<RunFlags, 'cache' | 'storeDir'>, concurrency?: number): string {
  return [
    'ghosteam run',
    shellWord(app),
    `-p ${shellWord(pipeline)}`,
    ...(flags.storeDir !== '.ghosteam' ? [`--store-dir ${shellWord(flags.storeDir)}`] : []),
    ...(flags.cache ? [] : ['--no-cache']),
    ...(concurrency ? [`-j ${concurrency}`] : []),
  ].join(' ');
}

export function register(program: Command): void {
  program
    .command('run')
    .description('Run a pipeline of an app on this machine (the embedded engine)')
    .argument('<app>', 'The app file, e.g. examples/fraud-detection/app.ts')
    .option('-p, --pipeline <name>', 'Which pipeline to run (needed when the app defines several)')
    .option('--param <name=value>', 'A pipeline parameter (repeatable)', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
    .option('--no-cache', 'Run every task, ignoring the step cache')
    .option('--resume <run>', 'Continue a failed or interrupted run without redoing its finished tasks')
    .option('--json', 'Print a machine-readable event stream (one JSON object per line)')
    .option('-j, --concurrency <n>', 'Most tasks running at once (default: the number of CPUs, at least 2)')
    .option('--store-dir <dir>', 'Directory for artifacts, cache and run records', '.ghosteam')
    .action(async (app: string, flags: RunFlags) => {
      // Loaded here, not at the top: main.ts loads every command to build the help, and the engine
      // pulls in the app loader (charts) — other commands should not pay for that.
      const { choosePipeline, createReporter, failureReport, gitCommitOf, killRunningTasks, loadPipelines, parseParamArgs, runPipeline } =
        await import('../../pipelines/local/index.ts');
      const params = parseParamArgs(flags.param ?? []);
      let concurrency: number | undefined;
      if (flags.concurrency !== undefined) {
        concurrency = Number(flags.concurrency);
        if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`--concurrency expects a positive integer, got '${flags.concurrency}'`);
      }
      const spec = choosePipeline(await loadPipelines(app), flags.pipeline, app);
      // A value the components would refuse fails here, before anything runs (and is never retried).
      const { checkParamValues } = await import('../../pipelines/check.ts');
      const badValues = checkParamValues(spec, params);
      if (badValues.length) throw new Error(badValues.join('\n'));
      const reporter = createReporter(flags.json ? 'json' : process.stdout.isTTY ? 'tty' : 'quiet');
      const ctl = new AbortController();
      let interrupts = 0;
      const onSigint = (): void => {
        interrupts++;
        if (interrupts === 1) {
          if (!flags.json) process.stderr.write('\ncancelling: stopping running tasks (Ctrl-C again to exit at once)\n');
          ctl.abort(new Error('cancelled by user'));
        } else {
          killRunningTasks();
          process.exit(130);
        }
      };
      process.on('SIGINT', onSigint);
      process.on('SIGTERM', onSigint);
      try {
        const rec = await runPipeline(spec, {
          params,
          cache: flags.cache,
          storeDir: flags.storeDir,
          signal: ctl.signal,
          // The commit of the app's repository (lineage), even when run from elsewhere.
          gitCommit: await gitCommitOf(dirname(resolve(app))),
          onEvent: (e) => reporter.onEvent(e),
          // Every run is an experiment run: with MLflow configured it is also an MLflow run.
          ...(process.env.MLFLOW_TRACKING_URI ? { trackingUri: process.env.MLFLOW_TRACKING_URI } : {}),
          ...(flags.resume ? { resume: flags.resume } : {}),
          ...(concurrency ? { concurrency } : {}),
        });
        reporter.stop();
        if (rec.status !== 'Succeeded') {
          const report = await failureReport(rec, resolve(flags.storeDir), 20, resumeCommand(app, spec.name, flags, concurrency));
          if (report) process.stderr.write(report + '\n');
          process.exitCode = rec.status === 'Cancelled' ? 130 : 1;
        }
      } finally {
        reporter.stop();
        process.off('SIGINT', onSigint);
        process.off('SIGTERM', onSigint);
      }
    });
}

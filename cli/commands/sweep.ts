/**
 * `ghosteam sweep run|resume|list|show`: hyperparameter search on this machine (pipelines/local/sweep.ts).
 * `run APP` runs one of the app's Sweeps — trials as child runs through the engine and its step cache,
 * then the whole pipeline with the best params (so the best model is registered like any other) —
 * printing a line per trial (JSON events with --json). Ctrl-C stops it; `resume APP ID` continues it
 * with the same sequence of trials. Exit code: 0 succeeded, 1 failed, 130 cancelled.
 */
import type { Command } from 'commander';
import { dirname, resolve } from 'node:path';

interface RunFlags {
  sweep?: string;
  json?: boolean;
  storeDir: string;
  parallel?: string;
  final: boolean;
  resume?: string;
}

async function runAction(app: string, flags: RunFlags): Promise<void> {
  const { chooseSweep, choosePipeline, formatSweepEvent, gitCommitOf, killRunningTasks, loadSweeps, runSweep, SweepStore } =
    await import('../../pipelines/local/index.ts');
  let trialConcurrency: number | undefined;
  if (flags.parallel !== undefined) {
    trialConcurrency = Number(flags.parallel);
    if (!Number.isInteger(trialConcurrency) || trialConcurrency < 1) throw new Error(`--parallel expects a positive integer, got '${flags.parallel}'`);
  }
  const { pipelines, sweeps } = await loadSweeps(app);
  let name = flags.sweep;
  if (flags.resume) {
    const prev = await new SweepStore(resolve(flags.storeDir)).load(flags.resume);
    if (name !== undefined && name !== prev.sweep) throw new Error(`--resume ${flags.resume}: that is a run of sweep '${prev.sweep}', not '${name}'`);
    name = prev.sweep;
    if (prev.status === 'Succeeded') throw new Error(`sweep ${prev.id} already succeeded; see it with 'ghosteam sweep show ${prev.id}'`);
  }
  const sweep = chooseSweep(sweeps, name, app);
  const pipeline = choosePipeline(
    pipelines.filter((p) => p.name === sweep.pipeline),
    sweep.pipeline,
    app,
  );
  const ctl = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      if (!flags.json) process.stderr.write('\ncancelling: stopping running trials (Ctrl-C again to exit at once)\n');
      ctl.abort(new Error('cancelled by user'));
    } else {
      killRunningTasks();
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const rec = await runSweep(pipeline, sweep, {
      storeDir: flags.storeDir,
      signal: ctl.signal,
      gitCommit: await gitCommitOf(dirname(resolve(app))),
      final: flags.final,
      ...(trialConcurrency ? { trialConcurrency } : {}),
      ...(flags.resume ? { resume: flags.resume } : {}),
      ...(process.env.MLFLOW_TRACKING_URI ? { trackingUri: process.env.MLFLOW_TRACKING_URI } : {}),
      onSweepEvent: (e) => {
        if (flags.json) process.stdout.write(JSON.stringify(e) + '\n');
        else if (e.type !== 'trial-start') process.stdout.write(formatSweepEvent(e, sweep.budget.trials) + '\n');
      },
    });
    if (rec.status !== 'Succeeded') {
      if (rec.status === 'Cancelled' || rec.trials.some((t) => t.state === 'Running'))
        process.stderr.write(
          `continue with: ghosteam sweep resume ${app} ${rec.id}${flags.storeDir !== '.ghosteam' ? ` --store-dir ${flags.storeDir}` : ''}\n`,
        );
      process.exitCode = rec.status === 'Cancelled' ? 130 : 1;
    }
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

export function register(program: Command): void {
  const sw = program.command('sweep').description("Hyperparameter search: run an app's Sweep on this machine, resume it, list and show sweeps");
  const runOpts = (c: Command): Command =>
    c
      .option('--json', 'Print the sweep events as JSON, one per line')
      .option('--parallel <n>', "Trials running at once here (default: the sweep's parallelism, at most the CPUs); the proposals do not change")
      .option('--no-final', 'Do not run the whole pipeline with the best params afterwards')
      .option('--store-dir <dir>', 'Directory for artifacts, cache, run and sweep records', '.ghosteam');
  runOpts(
    sw
      .command('run')
      .description("Run one of the app's sweeps: trials as child runs, then the whole pipeline with the best params")
      .argument('<app>', 'The app file, e.g. examples/fraud-detection/app.ts')
      .option('-s, --sweep <name>', 'Which sweep to run (needed when the app defines several)'),
  ).action((app: string, flags: RunFlags) => runAction(app, flags));
  runOpts(
    sw
      .command('resume')
      .description('Continue an interrupted sweep: finished trials are kept, the rest are proposed as the first run would have')
      .argument('<app>', 'The app file the sweep came from')
      .argument('<id>', "The sweep id (from 'ghosteam sweep list')"),
  ).action((app: string, id: string, flags: RunFlags) => runAction(app, { ...flags, resume: id }));
  sw.command('list')
    .description('List the sweeps in the store, newest first')
    .option('--json', 'Print JSON')
    .option('--store-dir <dir>', 'Directory of the local state', '.ghosteam')
    .action(async (flags: { json?: boolean; storeDir: string }) => {
      const { SweepStore, formatSweepList } = await import('../../pipelines/local/index.ts');
      const recs = await new SweepStore(resolve(flags.storeDir)).list();
      process.stdout.write(
        (flags.json
          ? JSON.stringify(
              recs.map(({ trials: _t, spec: _s, ...r }) => ({ ...r, trials: _t.length })),
              null,
              2,
            )
          : formatSweepList(recs)) + '\n',
      );
    });
  sw.command('show')
    .description('One sweep: its setup, best trial and every trial best first, with why a trial stopped')
    .argument('<id>', "The sweep id (from 'ghosteam sweep list')")
    .option('--json', 'Print the sweep record as JSON')
    .option('--store-dir <dir>', 'Directory of the local state', '.ghosteam')
    .action(async (id: string, flags: { json?: boolean; storeDir: string }) => {
      const { SweepStore, formatSweep } = await import('../../pipelines/local/index.ts');
      const store = new SweepStore(resolve(flags.storeDir));
      const all = await store.list();
      const hit = all.find((r) => r.id === id) ?? all.filter((r) => r.id.startsWith(id)).at(0);
      const rec = hit ?? (await store.load(id));
      process.stdout.write((flags.json ? JSON.stringify(rec, null, 2) : formatSweep(rec)) + '\n');
    });
}

/**
 * `ghosteam experiments list|show|compare`: every pipeline run as an experiment run — params, final
 * metrics, per-step metric history — from the local run records, or from MLflow when a tracking URI
 * is set (MLFLOW_TRACKING_URI or --tracking-uri). `compare` renders the metric curves to a
 * self-contained HTML page or a PNG.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { writeFile } from 'node:fs/promises';

interface Flags {
  storeDir: string;
  trackingUri?: string;
  experiment?: string[];
  metric?: string;
  direction?: 'minimize' | 'maximize';
  json?: boolean;
  limit?: string;
  html?: string;
  png?: string;
}

async function rowsOf(flags: Flags, withHistory: boolean) {
  const { RunStore, runToRow, mlflowRows } = await loadLib();
  const uri = flags.trackingUri ?? process.env.MLFLOW_TRACKING_URI;
  const local = await new RunStore(resolve(flags.storeDir)).list();
  const wanted = flags.experiment?.length ? flags.experiment : undefined;
  if (uri) {
    const experiments = wanted ?? [...new Set(local.map((r) => r.pipeline))];
    if (!experiments.length)
      throw new Error(`no experiment to read from MLflow at ${uri}; name one with --experiment PIPELINE (an experiment per pipeline), or run a pipeline first`);
    return mlflowRows(uri, experiments, withHistory);
  }
  return local.filter((r) => !wanted || wanted.includes(r.pipeline)).map(runToRow);
}

function loadLib() {
  return import('../../pipelines/local/experiments.ts').then(async (m) => ({ ...m, RunStore: (await import('../../pipelines/local/store.ts')).RunStore }));
}

function common(c: Command): Command {
  return c
    .option('--store-dir <dir>', 'Directory of the local state', '.ghosteam')
    .option('--tracking-uri <url>', 'Read the runs from MLflow (default: $MLFLOW_TRACKING_URI, else the local run records)')
    .option('-e, --experiment <pipeline>', 'Only runs of this pipeline (an experiment per pipeline; repeatable)', (v: string, acc: string[] | undefined) => [
      ...(acc ?? []),
      v,
    ])
    .option('-m, --metric <key>', 'Order best first by this metric, e.g. evaluate.auc')
    .option('--direction <dir>', 'Whether lower or higher --metric is better (default: higher for auc, accuracy, f1, precision, recall, r2, score)')
    .option('--json', 'Print JSON');
}

function pick<T extends { runId: string }>(rows: readonly T[], ids: readonly string[]): T[] {
  return ids.map((id) => {
    const hit = rows.find((r) => r.runId === id) ?? rows.filter((r) => r.runId.startsWith(id)).at(0);
    if (!hit) throw new Error(`no run '${id}' among ${rows.length} runs; list them with 'ghosteam experiments list'`);
    return hit;
  });
}

export function register(program: Command): void {
  const ex = program.command('experiments').description('Compare pipeline runs as experiments: params, metrics and metric curves (local, or MLflow)');
  common(ex.command('list').description('List runs with their params and final metrics, best first by --metric'))
    .option('--limit <n>', 'Show at most n runs', '50')
    .action(async (flags: Flags) => {
      const { sortRows, formatTable } = await loadLib();
      const n = Number(flags.limit ?? 50);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--limit expects a positive integer, got '${flags.limit}'`);
      const rows = sortRows(await rowsOf(flags, false), flags.metric, flags.direction).slice(0, n);
      if (flags.metric && rows.length && !rows.some((r) => flags.metric! in r.metrics)) {
        const known = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))].sort();
        throw new Error(`no run has metric '${flags.metric}'; the runs have ${known.join(', ') || 'no metrics'}`);
      }
      if (flags.json)
        return void process.stdout.write(
          JSON.stringify(
            rows.map(({ history: _h, ...r }) => r),
            null,
            2,
          ) + '\n',
        );
      if (!rows.length) return void process.stdout.write("no runs yet; start one with 'ghosteam run <app>'\n");
      process.stdout.write(formatTable(rows) + '\n');
    });
  common(
    ex.command('show').description('Show one run: params, tags, final metrics and metric history').argument('<run>', 'The run id (a unique prefix will do)'),
  ).action(async (run: string, flags: Flags) => {
    const [row] = pick(await rowsOf(flags, true), [run]);
    if (flags.json) return void process.stdout.write(JSON.stringify(row, null, 2) + '\n');
    const lines = [`run ${row.runId}  (${row.experiment}, ${row.status}, started ${row.startedAt})`, 'params:'];
    for (const [k, v] of Object.entries(row.params).sort()) lines.push(`  ${k} = ${v}`);
    lines.push('tags:');
    for (const [k, v] of Object.entries(row.tags).sort()) lines.push(`  ${k} = ${v}`);
    lines.push('metrics:');
    for (const [k, v] of Object.entries(row.metrics).sort()) lines.push(`  ${k} = ${v}${row.history[k] ? `  (${row.history[k].length} steps)` : ''}`);
    process.stdout.write(lines.join('\n') + '\n');
  });
  common(
    ex
      .command('compare')
      .description('Params and final metrics of runs side by side, best first by --metric; metric curves to --html or --png')
      .argument('<runs...>', 'Run ids (unique prefixes will do)'),
  )
    .option('--html <file>', 'Write a self-contained HTML page with the table and one chart per metric with a history')
    .option('--png <file>', 'Write the metric curves as one PNG')
    .action(async (runs: string[], flags: Flags) => {
      const { sortRows, formatTable, compareHtml, comparePng } = await loadLib();
      const rows = sortRows(pick(await rowsOf(flags, true), runs), flags.metric, flags.direction);
      if (flags.html) await writeFile(flags.html, compareHtml(rows));
      if (flags.png) await writeFile(flags.png, await comparePng(rows));
      if (flags.json) return void process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      process.stdout.write(formatTable(rows) + '\n');
      if (flags.html) process.stdout.write(`wrote ${flags.html}\n`);
      if (flags.png) process.stdout.write(`wrote ${flags.png}\n`);
    });
}

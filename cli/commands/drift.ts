/**
 * `ghosteam drift --reference ref.csv --current cur.parquet [--tests ks] [--json] [--report drift.html] [--png DIR]`
 * Compares two datasets column by column. Exit code 0: no dataset drift; 1: drift; 2: error.
 * The current data can also be a model server payload log (`--current-log payloads.jsonl --features a,b,c`),
 * compared through the streaming summary of the reference. Either side can be anything ingest reads:
 * s3://, https:// (`--header NAME=env:VAR`), postgres:// (`--reference-query`, `--current-query`).
 */
import { CommanderError, Option, type Command } from 'commander';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pc from 'picocolors';
import writeFileAtomic from 'write-file-atomic';
import {
  buildReferenceSummary,
  datasetColumns,
  detectDriftFromPayloadLog,
  detectDriftParallel,
  featureChartSvg,
  matrixFromColumns,
  mmdTest,
  pcaReconstructionDrift,
  readPair,
  sideOptions,
  renderHtmlReport,
  svgToPng,
  TEST_NAMES,
  type ColumnData,
  type DriftOptions,
  type DriftResult,
  type ReadPairOptions,
  type TestName,
} from '../../components/drift/index.ts';
import { ingestFile } from '../../components/ingest/index.ts';
import { sourceKind } from '../../components/ingest/sources.ts';
import { fmt } from '../../components/drift/report.ts';
import { dataFormatArg, delimiterArg, headersArg, repeatable } from '../args.ts';

export interface DriftFlags {
  reference: string;
  current?: string;
  currentLog?: string;
  features?: string;
  tests: string;
  json?: boolean;
  report?: string;
  png?: string;
  share: string;
  correction: 'none' | 'bonferroni' | 'fdr';
  bins: string;
  columns?: string;
  multivariate?: boolean;
  saveSummary?: string;
  threads?: string;
  format?: string;
  delimiter?: string;
  referenceQuery?: string;
  currentQuery?: string;
  header?: string[];
}

/** The JSON the command prints: the DriftResult without the chart data. */
export function driftJson(result: DriftResult): unknown {
  return { ...result, columns: result.columns.map(({ histogram: _h, ...c }) => c) };
}

/** The terminal table. */
export function formatDriftTable(result: DriftResult, color = false): string {
  const c = color ? pc : { red: (s: string) => s, green: (s: string) => s, bold: (s: string) => s, dim: (s: string) => s };
  const head = ['column', 'type', 'test', 'statistic', 'p-value', 'threshold', 'verdict', 'missing ref/cur'];
  const body = result.columns.map((col) => [
    col.name,
    col.type,
    col.test ?? '-',
    fmt(col.statistic),
    col.pValue === null ? '-' : fmt(col.adjustedPValue ?? col.pValue),
    `${col.pValue === null ? '>=' : '<'} ${fmt(col.threshold)}`,
    col.verdict,
    `${col.missing.reference}/${col.missing.current}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((x, i) => x.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  const out = [c.bold(line(head))];
  for (const r of body) {
    const s = line(r);
    out.push(r[6] === 'drift' ? c.red(s) : r[6] === 'empty' ? c.dim(s) : s);
  }
  const verdict =
    result.status === 'empty'
      ? 'No current rows: nothing to compare.'
      : `${result.datasetDrift ? c.red('Dataset drift detected') : c.green('No dataset drift')}: ${result.driftedColumns} of ${result.testedColumns} columns drifted (share ${fmt(result.driftShare)}, threshold ${fmt(result.driftShareThreshold)})${result.correction !== 'none' ? `, ${result.correction} correction` : ''}.`;
  out.push('', verdict);
  const mv = result.multivariate;
  if (mv?.mmd)
    out.push(`MMD ${fmt(mv.mmd.statistic)} (p ${fmt(mv.mmd.pValue)}, ${mv.mmd.permutations} permutations): ${mv.mmd.drifted ? 'drift' : 'no drift'}`);
  if (mv?.pca) out.push(`PCA reconstruction error ratio ${fmt(mv.pca.ratio)} (KS p ${fmt(mv.pca.ks.pValue)}): ${mv.pca.drifted ? 'drift' : 'no drift'}`);
  return out.join('\n');
}

function userError(message: string): Error & { exitCode: number } {
  return Object.assign(new Error(message), { exitCode: 2 });
}

function parseNumber(name: string, v: string, lo: number, hi: number, integer = false): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < lo || n > hi || (integer && !Number.isInteger(n)))
    throw userError(`--${name} ${v}: must be ${integer ? 'an integer' : 'a number'} from ${lo} to ${hi}`);
  return n;
}

/** Runs the command; returns the exit code (0 no drift, 1 drift). Throws (exit 2) on user errors. */
export async function runDrift(flags: DriftFlags, log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<number> {
  if (!flags.current && !flags.currentLog) throw userError('give the current data: --current FILE or --current-log PAYLOADS.jsonl --features a,b,…');
  if (flags.current && flags.currentLog) throw userError('give either --current or --current-log, not both');
  let read: ReadPairOptions;
  try {
    read = {
      format: dataFormatArg(flags.format),
      delimiter: delimiterArg(flags.delimiter),
      headers: headersArg(flags.header),
      referenceQuery: flags.referenceQuery,
      currentQuery: flags.currentQuery,
    };
  } catch (err) {
    throw userError((err as Error).message);
  }
  // A flag that would be ignored is a mistake worth saying (a query for a file, a header for no https:// source).
  // (An unknown scheme is left to ingest, whose error names it.)
  const kind = (s: string | undefined) => {
    try {
      return s === undefined ? undefined : sourceKind(s);
    } catch {
      return undefined;
    }
  };
  if (flags.referenceQuery !== undefined && kind(flags.reference) !== 'postgres')
    throw userError(`--reference-query is SQL for a postgres:// reference, and ${flags.reference} is not one`);
  if (flags.currentQuery !== undefined && kind(flags.current) !== 'postgres')
    throw userError(`--current-query is SQL for a postgres:// --current, and ${flags.current ?? 'the current data'} is not one`);
  if (flags.header?.length && kind(flags.reference) !== 'https' && kind(flags.current) !== 'https')
    throw userError('--header is sent to an https:// source, and neither --reference nor --current is one');
  const tests = flags.tests as TestName | 'auto';
  if (tests !== 'auto' && !TEST_NAMES.includes(tests)) throw userError(`--tests ${flags.tests}: use auto or one of ${TEST_NAMES.join(', ')}`);
  const opts: DriftOptions = {
    tests,
    driftShare: parseNumber('share', flags.share, 0, 1),
    correction: flags.correction,
    bins: parseNumber('bins', flags.bins, 2, 10000, true),
    ...(flags.columns
      ? {
          columns: flags.columns
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        }
      : {}),
  };
  let result: DriftResult;
  try {
    if (flags.currentLog) {
      const features = (flags.features ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (features.length === 0) throw userError('--current-log needs --features: the input tensor column names, in order');
      const ref = await ingestFile(flags.reference, { ...sideOptions(read, 'reference'), columns: features });
      const summary = buildReferenceSummary(datasetColumns(ref), { bins: opts.bins });
      if (flags.saveSummary) await writeFileAtomic(flags.saveSummary, JSON.stringify(summary));
      // A torn or foreign line (a crash, a full disk) is skipped and counted, not fatal; a log of
      // nothing but bad lines is still an error, with the first line's reason.
      const r = await detectDriftFromPayloadLog(flags.currentLog, summary, { features, drift: opts, skipInvalid: true });
      if (r.skipped > 0 && r.records === 0)
        throw userError(`${flags.currentLog}: none of its ${r.skipped} record(s) could be read; the first: ${r.firstSkipped}`);
      if (r.skipped > 0)
        process.stderr.write(
          `warning: skipped ${r.skipped} unreadable line(s) of ${flags.currentLog} (the first: ${r.firstSkipped}); drift is computed over the other ${r.records} record(s)\n`,
        );
      result = r.latest;
    } else {
      const { reference, current } = await readPair(flags.reference, flags.current!, opts.columns, read);
      const refCols = datasetColumns(reference);
      const curCols = datasetColumns(current);
      if (flags.saveSummary) await writeFileAtomic(flags.saveSummary, JSON.stringify(buildReferenceSummary(refCols, { bins: opts.bins })));
      result = await detectDriftParallel(
        refCols,
        curCols,
        opts,
        flags.threads !== undefined ? { threads: parseNumber('threads', flags.threads, 0, 64, true) } : {},
      );
      if (flags.multivariate) result = { ...result, multivariate: multivariate(refCols, curCols) };
    }
  } catch (err) {
    if ((err as { exitCode?: number }).exitCode !== undefined) throw err;
    throw userError((err as Error).message);
  }
  if (flags.report) {
    const html = renderHtmlReport(result, { reference: flags.reference, current: flags.current ?? flags.currentLog });
    await writeFileAtomic(flags.report, html);
  }
  if (flags.png) {
    await mkdir(flags.png, { recursive: true });
    for (const col of result.columns) {
      const file = join(flags.png, `${col.name.replace(/[^A-Za-z0-9._-]+/g, '_')}.png`);
      await writeFileAtomic(file, await svgToPng(featureChartSvg(col)));
    }
  }
  if (flags.json) log(JSON.stringify(driftJson(result), null, 2));
  else {
    log(formatDriftTable(result, process.stdout.isTTY === true));
    if (flags.report) log(`Report written to ${flags.report}`);
    if (flags.png) log(`Charts written to ${flags.png}/`);
  }
  return result.datasetDrift ? 1 : 0;
}

function multivariate(ref: readonly ColumnData[], cur: readonly ColumnData[]): DriftResult['multivariate'] {
  const names = ref.filter((c) => c.type === 'numeric').map((c) => c.name);
  if (names.length === 0) return undefined;
  const pick = (cols: readonly ColumnData[]) => matrixFromColumns(names.map((n) => cols.find((c) => c.name === n)!.values as ArrayLike<number>));
  const R = pick(ref);
  const C = pick(cur);
  const { missingRows: _m, ...mmd } = mmdTest(R, C);
  return { mmd, pca: pcaReconstructionDrift(R, C) };
}

export function register(program: Command): void {
  program
    .command('drift')
    .description('Detect data drift between a reference and a current dataset (exit 0: none, 1: drift, 2: error)')
    .requiredOption('-r, --reference <source>', 'Reference data: .csv, .jsonl or .parquet, a path or s3://, https://, postgres:// (with --reference-query)')
    .option('-c, --current <source>', 'Current data: .csv, .jsonl or .parquet, a path or s3://, https://, postgres:// (with --current-query)')
    .option('--current-log <file>', 'A model server payload log (JSON Lines) as the current data')
    .option('--features <names>', 'With --current-log: input tensor column names, comma-separated, in order')
    .addOption(new Option('-t, --tests <test>', 'Test for every column where it applies').choices(['auto', ...TEST_NAMES]).default('auto'))
    .option('--json', 'Print the result as JSON')
    .option('--report <file>', 'Write a self-contained HTML report')
    .option('--png <dir>', 'Write one PNG chart per feature into this directory')
    .option('--share <x>', 'Dataset drift when the share of drifted columns is at least this', '0.5')
    .addOption(new Option('--correction <kind>', 'Multiple-testing correction of p-values').choices(['none', 'bonferroni', 'fdr']).default('none'))
    .option('--bins <n>', 'Quantile bins for PSI and Jensen-Shannon on numeric columns', '10')
    .option('--columns <names>', 'Only these columns, comma-separated')
    .option('--multivariate', 'Also run MMD and PCA reconstruction-error drift on the numeric columns')
    .option('--save-summary <file>', "Write the reference's streaming summary (JSON) for monitors")
    .option('--threads <n>', 'Worker threads for wide data (default: CPU cores; 0 = none)')
    .option('--format <format>', "How to read --reference and --current: csv, jsonl or parquet (default: by each file's extension)")
    .option('--delimiter <char>', "CSV field delimiter of both files, e.g. ';' or '\\t' (default ',', tab for .tsv)")
    .option('--reference-query <sql>', 'When --reference is a postgres:// database: the SQL whose rows are the reference (a READ ONLY transaction)')
    .option('--current-query <sql>', 'When --current is a postgres:// database: the SQL whose rows are the current data')
    .option('--header <name=env:VAR>', 'https:// sources: a request header whose value comes from an environment variable (repeatable)', repeatable)
    .exitOverride((err) => {
      // Usage errors exit 2 (1 means drift).
      throw err.exitCode === 0 ? err : new CommanderError(2, err.code, err.message);
    })
    .action(async (flags: DriftFlags) => {
      process.exitCode = await runDrift(flags);
    });
}

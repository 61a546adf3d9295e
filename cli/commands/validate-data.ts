/**
 * `ghosteam validate-data <file|uri> --suite suite.json [--previous <file|uri>] [--json] [--out result.json]`
 * Runs an expectation suite (components/validate/expectations.ts: Great Expectations' names and
 * result terms; a suite GE saved loads as is) over a dataset outside a pipeline. The data is an Arrow
 * dataset (.arrow/.feather, what steps write) or anything ingest reads (.csv/.tsv, .jsonl, .parquet,
 * s3://…). Exit code 0: every expectation met; 1: some failed; 2: error (bad suite, unreadable data).
 */
import { CommanderError, type Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import pc from 'picocolors';
import writeFileAtomic from 'write-file-atomic';
import { readDataset, type Dataset } from '../../components/dataset/index.ts';
import { ingestFile } from '../../components/ingest/index.ts';
import { checkSuite, evaluateSuite, summarizeSuite, type SuiteResult } from '../../components/validate/expectations.ts';

export interface ValidateDataFlags {
  suite: string;
  previous?: string;
  json?: boolean;
  out?: string;
}

function userError(message: string): Error & { exitCode: number } {
  return Object.assign(new Error(message), { exitCode: 2 });
}

/** An Arrow dataset by extension, else whatever ingest reads (CSV, JSON Lines, Parquet, s3://). */
export async function loadData(source: string): Promise<Dataset> {
  const ext = extname(source).toLowerCase();
  return ext === '.arrow' || ext === '.feather' || ext === '.ipc' ? readDataset(source) : ingestFile(source);
}

export async function readSuiteFile(path: string): Promise<ReturnType<typeof checkSuite>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw userError(`--suite ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw userError(`--suite ${path}: not JSON (${(err as Error).message})`);
  }
  try {
    return checkSuite(json, path);
  } catch (err) {
    throw userError((err as Error).message);
  }
}

/** Runs the command; returns the exit code (0 all met, 1 some failed). Throws (exit 2) on user errors. */
export async function runValidateData(
  source: string,
  flags: ValidateDataFlags,
  log: (s: string) => void = (s) => process.stdout.write(`${s}\n`),
): Promise<{ code: number; result: SuiteResult }> {
  const suite = await readSuiteFile(flags.suite);
  let ds: Dataset;
  let previousRows: number | undefined;
  try {
    ds = await loadData(source);
    if (flags.previous) previousRows = (await loadData(flags.previous)).rows;
  } catch (err) {
    throw userError((err as Error).message);
  }
  let result: SuiteResult;
  try {
    result = evaluateSuite(ds, suite, { previousRows });
  } catch (err) {
    // A row predicate cannot come from a JSON suite, so this is the data or the suite: a user error.
    throw userError((err as Error).message);
  }
  if (flags.out) await writeFileAtomic(flags.out, JSON.stringify(result, null, 2) + '\n');
  if (flags.json) log(JSON.stringify(result, null, 2));
  else {
    const color = process.stdout.isTTY === true;
    const text = summarizeSuite(result);
    log(color ? text.replace(/^(FAILED|passed)/, (m) => (m === 'passed' ? pc.green(m) : pc.red(m))) : text);
    if (flags.out) log(`Results written to ${flags.out}`);
  }
  return { code: result.success ? 0 : 1, result };
}

export function register(program: Command): void {
  program
    .command('validate-data')
    .description('Run an expectation suite (Great Expectations names and results) over a dataset (exit 0: all met, 1: some failed, 2: error)')
    .argument('<source>', 'Data: .arrow/.feather dataset, .csv/.tsv, .jsonl, .parquet, or s3://bucket/key')
    .requiredOption('-s, --suite <file>', 'Suite JSON: {"expectations": [{"type": "expect_…", "kwargs": {…}}]}')
    .option('--previous <source>', "The previous run's data, for expect_table_row_count_change_to_be_between")
    .option('--json', 'Print the result (GE ExpectationSuiteValidationResult terms) as JSON')
    .option('--out <file>', 'Also write the JSON result to this file')
    .exitOverride((err) => {
      // Usage errors exit 2 (1 means expectations failed).
      throw err.exitCode === 0 ? err : new CommanderError(2, err.code, err.message);
    })
    .action(async (source: string, flags: ValidateDataFlags) => {
      process.exitCode = (await runValidateData(source, flags)).code;
    });
}

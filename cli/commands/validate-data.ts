/**
 * `ghosteam validate-data <file|uri> --suite suite.json [--previous <file|uri>] [--json] [--out result.json] [--report report.html]`
 * Runs an expectation suite (components/validate/expectations.ts: Great Expectations' names and
 * result terms; a suite GE 1.x or 0.x saved loads as is) over a dataset outside a pipeline. The data
 * is an Arrow dataset (.arrow/.feather, what steps write) or anything ingest reads (.csv/.tsv,
 * .jsonl, .parquet, s3://, https://, postgres://, kafka://), with ingest's params as flags
 * (`--format`, `--delimiter`, `--query`, `--header NAME=env:VAR`, `--from`). Exit code 0: every
 * expectation met; 1: some failed; 2: error (bad suite, unreadable data).
 * The data streams a record batch at a time (a source file is ingested into a temporary Arrow file
 * first), and `--report` writes the self-contained HTML data report with the profile.
 */
import { CommanderError, type Command } from 'commander';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import pc from 'picocolors';
import writeFileAtomic from 'write-file-atomic';
import { readDataset, readDatasetChunks, type Dataset } from '../../components/dataset/index.ts';
import { ingestFile, ingestToFile, type IngestOptions } from '../../components/ingest/index.ts';
import { checkSuite, summarizeSuite, type SuiteResult } from '../../components/validate/expectations.ts';
import { dataReportHtml, validateChunks } from '../../components/validate/index.ts';
import { dataFormatArg, delimiterArg, headersArg, repeatable } from '../args.ts';

export interface ValidateDataFlags {
  suite: string;
  previous?: string;
  json?: boolean;
  out?: string;
  report?: string;
  format?: string;
  delimiter?: string;
  query?: string;
  header?: string[];
  from?: string;
}

function userError(message: string): Error & { exitCode: number } {
  return Object.assign(new Error(message), { exitCode: 2 });
}

/** An Arrow dataset by extension, else whatever ingest reads (CSV, JSON Lines, Parquet, s3://). */
const isArrow = (source: string): boolean => ['.arrow', '.feather', '.ipc'].includes(extname(source).toLowerCase());

/** How ingest reads a source that is not an Arrow dataset (`--format`, `--delimiter`, `--query`, `--header`, `--from`). */
export type ReadOptions = Pick<IngestOptions, 'format' | 'delimiter' | 'query' | 'headers' | 'from'>;

export async function loadData(source: string, read: ReadOptions = {}): Promise<Dataset> {
  return isArrow(source) && !read.format ? readDataset(source) : ingestFile(source, read);
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
  let read: ReadOptions;
  try {
    read = {
      format: dataFormatArg(flags.format),
      delimiter: delimiterArg(flags.delimiter),
      query: flags.query,
      headers: headersArg(flags.header),
      from: flags.from,
    };
  } catch (err) {
    throw userError((err as Error).message);
  }
  let previousRows: number | undefined;
  let result: SuiteResult;
  let html: string;
  const tmp = await mkdtemp(join(tmpdir(), 'ghosteam-validate-data-'));
  try {
    if (flags.previous) previousRows = (await loadData(flags.previous, read)).rows;
    let arrow = source;
    if (!isArrow(source) || read.format) {
      arrow = join(tmp, 'data.arrow');
      await ingestToFile(source, arrow, read);
    }
    // A row predicate cannot come from a JSON suite, so any error is the data or the suite: a user error.
    const v = await validateChunks(readDatasetChunks(arrow), { suite, previousRows });
    result = v.expectations!;
    html = dataReportHtml(v, source, `Data validation: ${suite.name ?? 'suite'}`);
  } catch (err) {
    throw userError((err as Error).message);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  if (flags.out) await writeFileAtomic(flags.out, JSON.stringify(result, null, 2) + '\n');
  if (flags.report) await writeFileAtomic(flags.report, html);
  if (flags.json) log(JSON.stringify(result, null, 2));
  else {
    const color = process.stdout.isTTY === true;
    const text = summarizeSuite(result);
    log(color ? text.replace(/^(FAILED|passed)/, (m) => (m === 'passed' ? pc.green(m) : pc.red(m))) : text);
    if (flags.out) log(`Results written to ${flags.out}`);
    if (flags.report) log(`Data report written to ${flags.report}`);
  }
  return { code: result.success ? 0 : 1, result };
}

export function register(program: Command): void {
  program
    .command('validate-data')
    .description('Run an expectation suite (Great Expectations names and results) over a dataset (exit 0: all met, 1: some failed, 2: error)')
    .argument(
      '<source>',
      'Data: .arrow/.feather dataset, .csv/.tsv, .jsonl, .parquet, or a URI ingest reads: s3://, https://, postgres:// (with --query), kafka://',
    )
    .requiredOption('-s, --suite <file>', 'Suite JSON: {"expectations": [{"type": "expect_…", "kwargs": {…}}]}')
    .option('--previous <source>', "The previous run's data, for expect_table_row_count_change_to_be_between")
    .option('--json', 'Print the result (GE ExpectationSuiteValidationResult terms) as JSON')
    .option('--out <file>', 'Also write the JSON result to this file')
    .option('--report <file>', 'Also write the self-contained HTML data report (failed expectations, sample values, the profile)')
    .option('--format <format>', "How to read the data (and --previous): csv, jsonl or parquet (default: by the source's extension)")
    .option('--delimiter <char>', "CSV field delimiter, e.g. ';' or '\\t' (default ',', tab for .tsv)")
    .option('--query <sql>', 'postgres:// sources: the SQL to read (run in a READ ONLY transaction)')
    .option('--header <name=env:VAR>', 'https:// sources: a request header whose value comes from an environment variable (repeatable)', repeatable)
    .option('--from <start>', "kafka:// sources: 'committed' (default), 'earliest' or an ISO 8601 time (validate-data commits no offsets)")
    .exitOverride((err) => {
      // Usage errors exit 2 (1 means expectations failed).
      throw err.exitCode === 0 ? err : new CommanderError(2, err.code, err.message);
    })
    .action(async (source: string, flags: ValidateDataFlags) => {
      process.exitCode = (await runValidateData(source, flags)).code;
    });
}

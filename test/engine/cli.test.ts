// `ghosteam run` and `ghosteam runs` through the real CLI, on an app built with the Pipeline construct.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { delay, tempDir } from './helpers.ts';

const bin = fileURLToPath(new URL('../../bin/ghosteam.mjs', import.meta.url));
const app = fileURLToPath(new URL('./fixtures/app.ts', import.meta.url));
let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(() => cleanup());

/** Runs a command in this process (fast: no CLI start-up), capturing stdout. */
async function inProcess(args: string[]): Promise<{ out: string; err?: Error }> {
  const { Command } = await import('commander');
  const { register: registerRun } = await import('../../cli/commands/run.ts');
  const { register: registerRuns } = await import('../../cli/commands/runs.ts');
  const program = new Command('ghosteam').exitOverride();
  let out = '';
  program.configureOutput({ writeOut: (s) => void (out += s), writeErr: (s) => void (out += s) });
  registerRun(program);
  registerRuns(program);
  for (const c of program.commands) c.exitOverride().configureOutput({ writeOut: (s) => void (out += s) });
  const write = process.stdout.write.bind(process.stdout);
  // The commands write strings; the test runner's own (binary) reports pass through untouched.
  process.stdout.write = (chunk: string | Uint8Array, ...rest: unknown[]) =>
    typeof chunk === 'string' ? ((out += chunk), true) : (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    await program.parseAsync(['node', 'ghosteam', ...args]);
    return { out };
  } catch (e) {
    return { out, err: e as Error };
  } finally {
    process.stdout.write = write;
    process.chdir(cwd);
  }
}

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env, FORCE_COLOR: '0', NO_COLOR: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('ghosteam run', () => {
  test('--help starts with Usage:', async () => {
    const r = await inProcess(['run', '--help']);
    assert.equal((r.err as { exitCode?: number })?.exitCode, 0);
    assert.match(r.out, /^Usage: ghosteam run \[options\] <app>/);
    assert.match(r.out, /--no-cache/);
  });

  test('runs the app pipeline, then an unchanged re-run is all cache hits (--json events)', () => {
    const first = cli(['run', app, '--param', 'rows=4']);
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, /^run demo-pipeline-\S+ Succeeded in \d/m);
    const second = cli(['run', app, '--param', 'rows=4', '--json']);
    assert.equal(second.code, 0, second.err);
    const events = second.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; node?: string; state?: string; cached?: boolean; status?: string });
    assert.equal(events[0].type, 'run-start');
    assert.equal(events.at(-1)!.status, 'Succeeded');
    const nodes = events.filter((e) => e.type === 'node');
    assert.deepEqual(
      nodes.map((e) => [e.node, e.state, e.cached]),
      [
        ['prepare', 'Succeeded', true],
        ['count', 'Succeeded', true],
      ],
    );
  });

  test('a failed task prints its path, error and last log lines, and exits 1', () => {
    const r = cli(['run', app, '--param', 'rows=2', '--no-cache'], { FAIL_AT: 'count' });
    assert.equal(r.code, 1);
    const lines = r.err.trim().split('\n');
    assert.equal(lines[0], "✗ task 'count' (demo/demo-pipeline/count) failed: 'sh' exited with code 4; its last error line: count failed: bad data");
    assert.match(lines[1], /^ {2}last 6 log lines \(.*\/\.ghosteam\/runs\/demo-pipeline-[^/]+\/logs\/count\.log\):$/);
    assert.deepEqual(lines.slice(2, 8), ['  | line 1', '  | line 2', '  | line 3', '  | line 4', '  | line 5', '  | count failed: bad data']);
    assert.match(lines[8], /^run (demo-pipeline-\S+) failed; after fixing it, continue with: ghosteam run \S*app\.ts -p demo-pipeline --no-cache --resume \1$/);
    // The printed command really resumes that run (same id; the task still fails, so it stays Failed).
    const runId = /run (\S+) failed/.exec(lines[8])![1];
    const resumed = cli(['run', ...lines[8].replace(/^.*continue with: ghosteam run /, '').split(' ')], { FAIL_AT: 'count' });
    assert.equal(resumed.code, 1, resumed.err);
    assert.match(resumed.err, new RegExp(`^run ${runId} failed; after fixing it`, 'm'));
  });

  test('ghosteam component run: an invalid param exits 64 and bad data 65 (terminal, not retried by Argo or the engine); a missing file exits 1', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(`${dir}/ok.csv`, 'a\n1\n');
    await writeFile(`${dir}/bad.csv`, 'a,b\n1\n');
    const out = ['--output', `dataset=${dir}/out.arrow`];
    const param = cli(['component', 'run', 'ingest', '--param', `path=${dir}/ok.csv`, '--param', 'format=xlsx', ...out]);
    assert.equal(param.code, 64, param.err);
    assert.equal(param.err, "error: ingest: param 'format' must be one of auto, csv, jsonl, parquet, got 'xlsx'\n");
    const data = cli(['component', 'run', 'ingest', '--param', `path=${dir}/bad.csv`, ...out]);
    assert.equal(data.code, 65, data.err);
    assert.match(data.err, /bad\.csv:2: expected 2 fields \(as in the header\) but found 1/);
    const missing = cli(['component', 'run', 'ingest', '--param', `path=${dir}/none.csv`, ...out]);
    assert.equal(missing.code, 1, missing.err);
  });

  test('bad params are a one-line error and exit 1', () => {
    const bad = cli(['run', app, '--param', 'rows=many']);
    assert.equal(bad.code, 1);
    assert.equal(bad.err, "error: param 'rows': expects a number, got 'many'\n");
  });

  test('unknown pipelines and missing app files are clear errors', async () => {
    assert.equal((await inProcess(['run', app, '--pipeline', 'nope'])).err?.message, `${app}: has no pipeline 'nope'; it defines: demo-pipeline`);
    assert.equal(
      (await inProcess(['run', 'missing.ts'])).err?.message,
      'missing.ts: no such file; give the path of your app (e.g. examples/fraud-detection/app.ts)',
    );
    assert.equal((await inProcess(['run', app, '--concurrency', '0'])).err?.message, "--concurrency expects a positive integer, got '0'");
  });

  test('Ctrl-C (SIGINT) cancels: the record says Cancelled and the exit code is 130', async () => {
    const child = spawn(process.execPath, [bin, 'run', app, '--param', 'rows=3', '--no-cache', '--json'], {
      cwd: dir,
      env: { ...process.env, FAIL_AT: 'none', SLOW: '1' },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    // `prepare` is quick; wait until a task is running, then interrupt.
    // Start-up can take seconds on a loaded machine: SIGINT before the handler is installed would just kill it.
    for (let i = 0; i < 2400 && !/"state":"Running"/.test(out); i++) await delay(25);
    assert.match(out, /"state":"Running"/, 'no task reached Running within 60 s');
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    assert.equal(code, 130);
    const end = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; status?: string; runId: string })
      .find((e) => e.type === 'run-end');
    assert.equal(end?.status, 'Cancelled');
    const show = await inProcess(['runs', 'show', end.runId, '--json']);
    assert.equal((JSON.parse(show.out) as { status: string }).status, 'Cancelled');
  });
});

describe('ghosteam runs', () => {
  test('list shows runs newest first with status and task counts; show prints tasks and artifacts', async () => {
    const list = await inProcess(['runs', 'list']);
    assert.equal(list.err, undefined);
    const rows = list.out.trim().split('\n');
    assert.match(rows[0], /^RUN\s+PIPELINE\s+STATUS\s+STARTED\s+DURATION\s+COMMIT\s+TASKS$/);
    assert.ok(rows.slice(1).some((r) => /Succeeded .* 2\/2 succeeded, 2 cached$/.test(r)));
    assert.ok(rows.slice(1).some((r) => /Failed .* 1\/2 succeeded, 1 failed$/.test(r)));
    const json = JSON.parse((await inProcess(['runs', 'list', '--json'])).out) as { id: string; status: string }[];
    const failed = json.find((r) => r.status === 'Failed')!;
    const show = await inProcess(['runs', 'show', failed.id, '--logs']);
    assert.equal(show.err, undefined);
    assert.match(show.out, new RegExp(`^${failed.id}  pipeline demo-pipeline \\(demo/demo-pipeline\\)$`, 'm'));
    assert.match(show.out, /^status {4}Failed — 'demo\/demo-pipeline\/count' failed$/m);
    assert.match(show.out, /^count\s+Failed\s+\S+\s+1\s+'sh' exited with code 4; its last error line: count failed: bad data$/m);
    assert.match(show.out, /^ {2}prepare\.data {2}dataset {2}sha256:[0-9a-f]{64} {2}4 B$/m);
    assert.match(show.out, /^count failed: bad data$/m);
    const none = await inProcess(['runs', 'show', 'nope']);
    assert.equal(none.err?.message, `run 'nope' not found in ${dir}/.ghosteam/runs; list runs with 'ghosteam runs list'`);
  });
});

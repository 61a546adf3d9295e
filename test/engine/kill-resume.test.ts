// kill -9 of a real `ghosteam run` process, then `ghosteam run --resume` (#25): nothing that was
// acknowledged is lost, the model is registered exactly once per run, and no half-written artifact
// is used. Two moments: right after the registry committed the version (the engine is frozen with
// SIGSTOP the moment version.json appears, so the run record may not know yet, then killed), and in
// the middle of a step writing a 64 MiB artifact.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RunStore, effectiveStatus } from '../../pipelines/local/store.ts';
import { LocalRegistry } from '../../components/registry/local.ts';
import { delay, tempDir } from './helpers.ts';

const bin = fileURLToPath(new URL('../../bin/ghosteam.mjs', import.meta.url));
const app = fileURLToPath(new URL('./fixtures/register-app.ts', import.meta.url));
let dir: string;
let cleanup: () => Promise<void>;
const children: ChildProcess[] = [];
before(async () => ({ dir, cleanup } = await tempDir()));
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await cleanup();
});

/**
 * The environment of the CLI under test: this registry directory, and never the peers' MLflow (CI
 * exports MLFLOW_TRACKING_URI, which the register step would otherwise use).
 */
function cliEnv(cwd: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra, GHOSTEAM_REGISTRY_DIR: join(cwd, 'registry'), FORCE_COLOR: '0' };
  delete env.MLFLOW_TRACKING_URI;
  return env;
}

const sha = (f: string) => `sha256:${createHash('sha256').update(readFileSync(f)).digest('hex')}`;

function start(cwd: string, env: Record<string, string>): ChildProcess {
  const c = spawn(process.execPath, [bin, 'run', app, '--json'], {
    cwd,
    stdio: 'ignore',
    env: cliEnv(cwd, env),
  });
  children.push(c);
  return c;
}

const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

/** The only run in the store (its id), once its record exists. */
async function runId(cwd: string): Promise<string> {
  // Generous: on a loaded machine (CI runs test files side by side) the CLI can take a minute to start.
  for (let i = 0; i < 12_000; i++) {
    const runs = await new RunStore(join(cwd, '.ghosteam')).list().catch(() => []);
    if (runs.length === 1) return runs[0].id;
    await delay(25);
  }
  throw new Error('no run record appeared');
}

function resume(cwd: string, id: string) {
  const r = spawnSync(process.execPath, [bin, 'run', app, '--resume', id], {
    cwd,
    encoding: 'utf8',
    env: cliEnv(cwd, { HOLD_S: '0', MODEL_MB: '0', NO_COLOR: '1' }),
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

/** Every stored artifact's bytes match the digest that names it. */
function storeIsWhole(cwd: string): void {
  const root = join(cwd, '.ghosteam/store/sha256');
  if (!existsSync(root)) return;
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  for (const f of walk(root)) {
    const name = basename(f);
    if (!/^[0-9a-f]{64}$/.test(name)) continue; // a temporary file of an unfinished write, never a stored artifact
    assert.equal(sha(f), `sha256:${name}`, `${f} holds what its name says`);
  }
}

describe('kill -9 of ghosteam run, then --resume', () => {
  test('right after the registry commit: resume registers nothing new, the run succeeds under its id', async () => {
    const cwd = join(dir, 'commit');
    spawnSync('mkdir', ['-p', cwd]);
    const child = start(cwd, { HOLD_S: '30', MODEL_MB: '0' });
    const id = await runId(cwd);
    const committed = join(cwd, 'registry/models/killed/versions/1/version.json');
    // Freeze the engine the moment the version is committed, before it can record the step.
    const t0 = Date.now();
    while (!existsSync(committed)) {
      assert.ok(Date.now() - t0 < 300_000, 'the register step committed a version');
      await delay(1);
    }
    child.kill('SIGSTOP');
    const recorded = (await new RunStore(join(cwd, '.ghosteam')).load(id)).nodes.register?.state;
    child.kill('SIGKILL');
    await exited(child);
    const left = await new RunStore(join(cwd, '.ghosteam')).load(id);
    assert.equal(effectiveStatus(left), 'Interrupted');
    const r = resume(cwd, id);
    assert.equal(r.code, 0, r.out);
    const rec = await new RunStore(join(cwd, '.ghosteam')).load(id);
    assert.equal(rec.status, 'Succeeded');
    const reg = new LocalRegistry({ dir: join(cwd, 'registry') });
    const versions = await reg.listVersions('killed');
    assert.deepEqual(
      versions.map((v) => [v.version, v.lineage.runId, v.lineage.task]),
      [[1, id, 'register']],
    );
    assert.equal(sha(versions[0].source), versions[0].digest, 'the registered file is whole');
    assert.deepEqual(versions[0].aliases, ['challenger']);
    // Whether the frozen engine had recorded the step decides how resume got there; both register once.
    if (recorded !== 'Succeeded') {
      const logs = spawnSync('grep', ['-rh', 'already registered', join(cwd, '.ghosteam/runs')], { encoding: 'utf8' }).stdout;
      assert.match(logs, new RegExp(`killed version 1 was already registered by this run \\(${id}, task register\\); not registering it again`));
    } else assert.ok(rec.nodes.register.resumed);
    storeIsWhole(cwd);
  });

  test('in the middle of writing a 64 MiB artifact: resume runs the step again and uses only whole artifacts', async () => {
    const cwd = join(dir, 'write');
    spawnSync('mkdir', ['-p', cwd]);
    const child = start(cwd, { HOLD_S: '0', MODEL_MB: '64' });
    const id = await runId(cwd);
    // The step's output file grows in its work directory; kill once a few MiB are there.
    const work = join(cwd, '.ghosteam/work', id, 'model');
    const t0 = Date.now();
    for (;;) {
      assert.ok(Date.now() - t0 < 300_000, 'the model step started writing');
      const files = existsSync(work) ? spawnSync('find', [work, '-type', 'f', '-size', '+2M'], { encoding: 'utf8' }).stdout.trim() : '';
      if (files) break;
      await delay(5);
    }
    // Frozen first, to know whether the write was still going (a loaded machine may finish it meanwhile).
    child.kill('SIGSTOP');
    const midWrite = (await new RunStore(join(cwd, '.ghosteam')).load(id)).nodes.model?.state === 'Running';
    child.kill('SIGKILL');
    await exited(child);
    storeIsWhole(cwd);
    const r = resume(cwd, id);
    assert.equal(r.code, 0, r.out);
    const rec = await new RunStore(join(cwd, '.ghosteam')).load(id);
    assert.equal(rec.status, 'Succeeded');
    if (midWrite) assert.ok(!rec.nodes.model.resumed, 'the interrupted step ran again');
    const versions = await new LocalRegistry({ dir: join(cwd, 'registry') }).listVersions('killed');
    assert.equal(versions.length, 1);
    assert.equal(versions[0].digest, rec.nodes.model.outputs.model.digest, 'the registered bytes are the artifact the resumed step stored');
    assert.equal(sha(versions[0].source), versions[0].digest);
    storeIsWhole(cwd);
  });
});

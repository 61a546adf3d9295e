// Container components and the one I/O contract (pipelines/contract.ts): a step defined once runs
// locally with exactly the environment its synthesized Argo template gives it, only the directories
// differ; relative paths resolve against the app's folder; a venv/interpreter can be named; a
// distributed step starts N workers with torchrun's rendezvous environment. The Python cases use the
// real interpreter of the test peers' venv (missing: skipped locally, a failure in CI).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { App, Chart } from 'cdk8s';
import { withSynthContext } from '../../api/context.ts';
import { ValidationError } from '../../api/errors.ts';
import { Artifact, ContainerComponent, Pipeline, compileArgo, type PipelineSpec } from '../../pipelines/index.ts';
import { runPipeline } from '../../pipelines/local/index.ts';
import { rendezvousEnv } from '../../pipelines/local/executor.ts';
import { ArtifactStore } from '../../pipelines/local/store.ts';
import { upstreamErrors } from '../constructs/upstream.ts';
import { usePeers } from '../peers/index.ts';
import { tempDir } from './helpers.ts';

type Env = { name: string; value?: string }[];
type Template = {
  name: string;
  container: { env: Env };
  inputs?: { artifacts?: { name: string; path: string }[] };
  outputs?: { artifacts?: { name: string; path: string }[]; parameters?: { name: string; valueFrom: { path: string } }[] };
};

/** A step that records the contract variables it sees and writes its outputs through them. */
const DUMP = `
import { writeFileSync, readFileSync } from 'node:fs';
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('GHOSTEAM_') && !['GHOSTEAM_GIT_COMMIT','GHOSTEAM_NODE','GHOSTEAM_STORE_DIR'].includes(k)));
const text = readFileSync(process.env.GHOSTEAM_INPUT_RAW_TEXT, 'utf8');
writeFileSync(process.env.GHOSTEAM_OUTPUT_REPORT, JSON.stringify({ env, cwd: process.cwd(), upper: text.toUpperCase() }));
writeFileSync(process.env.GHOSTEAM_OUTPUT_PARAMS_DIR + '/chars', String(text.length));
writeFileSync(process.env.GHOSTEAM_OUTPUT_PARAMS_DIR + '/mode', process.env.GHOSTEAM_PARAM_MODE);
`;

function build(appDir: string, extra: (p: Pipeline) => void = () => {}): { spec: PipelineSpec; templates: Template[] } {
  return withSynthContext({ appDir }, () => {
    const chart = new Chart(new App(), 'c');
    const p = new Pipeline(chart, 'contract');
    const make = p.task('make', {
      image: 'busybox:1',
      command: ['sh', '-c', 'printf "hello contract" > /tmp/outputs/text'],
      outputs: { text: Artifact.file() },
    });
    const step = ContainerComponent.define({
      name: 'shout',
      image: 'ghcr.io/acme/shout:1',
      command: ['node', 'steps/dump.mjs'],
      inputs: { rawText: 'file' },
      outputs: { report: 'metrics' },
      params: { mode: { type: 'string', enum: ['loud', 'quiet'] }, times: { type: 'number', default: 3, min: 1 } },
      outputParams: ['chars', 'mode'],
    });
    p.component('shout', step, { inputs: { rawText: make.output('text') }, params: { mode: 'loud' } });
    extra(p);
    const spec = p.toSpec();
    return { spec, templates: compileArgo(spec).workflowTemplate.spec.templates as unknown as Template[] };
  });
}

describe('container components: one I/O contract, locally and in the Argo template', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    await mkdir(join(dir, 'app', 'steps'), { recursive: true });
    await writeFile(join(dir, 'app', 'steps', 'dump.mjs'), DUMP);
  });
  after(() => cleanup());

  test('the step sees locally exactly the variables the template sets, with the paths mapped', async () => {
    const { spec, templates } = build(join(dir, 'app'));
    const tpl = templates.find((t) => t.name === 'shout')!;
    // Run from another directory: `steps/dump.mjs` resolves against the app's folder.
    const rec = await runPipeline(spec, { storeDir: join(dir, 'store'), cwd: dir, runId: 'r1', cache: false });
    assert.equal(rec.status, 'Succeeded', JSON.stringify(rec.nodes.shout));
    const store = new ArtifactStore(join(dir, 'store'));
    const report = JSON.parse(await readFile(store.pathOf(rec.nodes.shout.outputs.report.digest), 'utf8')) as {
      env: Record<string, string>;
      cwd: string;
      upper: string;
    };
    assert.equal(report.upper, 'HELLO CONTRACT');
    assert.equal(report.cwd, join(dir, 'app'));
    assert.deepEqual(rec.nodes.shout.outputParams, { chars: 14, mode: 'loud' });

    // Same names, in a container and here (less what this test process passes down itself).
    for (const k of Object.keys(process.env)) if (k.startsWith('GHOSTEAM_')) delete report.env[k];
    const tplEnv = Object.fromEntries(tpl.container.env.map((e) => [e.name, e.value ?? '']));
    assert.deepEqual(Object.keys(report.env).sort(), Object.keys(tplEnv).sort());
    assert.deepEqual(Object.keys(tplEnv).sort(), [
      'GHOSTEAM_INPUT_RAW_TEXT',
      'GHOSTEAM_OUTPUT_PARAMS_DIR',
      'GHOSTEAM_OUTPUT_REPORT',
      'GHOSTEAM_PARAM_MODE',
      'GHOSTEAM_PARAM_TIMES',
      'GHOSTEAM_PIPELINE',
      'GHOSTEAM_RUN_ID',
      'GHOSTEAM_TASK',
      'GHOSTEAM_WORK_DIR',
    ]);
    // Same values once the template's placeholders and container paths are mapped to this run.
    const work = join(dir, 'store', 'work', 'r1', 'shout', '1');
    const map = (v: string): string =>
      v
        .replace('{{inputs.parameters.mode}}', 'loud')
        .replace('{{inputs.parameters.times}}', '3')
        .replace('{{workflow.name}}', 'r1')
        .replace('/tmp/inputs/rawText', store.pathOf(rec.nodes.make.outputs.text.digest))
        .replace('/tmp/outputs/params', join(work, 'out', 'params'))
        .replace('/tmp/outputs/', join(work, 'out') + '/')
        .replace('/tmp/work', join(work, 'tmp'));
    for (const [k, v] of Object.entries(tplEnv)) assert.equal(report.env[k], map(v), k);
    // Argo collects exactly the files the contract names.
    assert.deepEqual(tpl.inputs?.artifacts, [{ name: 'rawText', path: '/tmp/inputs/rawText' }]);
    assert.deepEqual(tpl.outputs?.artifacts, [{ name: 'report', path: tplEnv.GHOSTEAM_OUTPUT_REPORT }]);
    assert.deepEqual(
      tpl.outputs?.parameters?.map((p) => p.valueFrom.path),
      ['chars', 'mode'].map((p) => `${tplEnv.GHOSTEAM_OUTPUT_PARAMS_DIR}/${p}`),
    );
  });

  test('an optional output the step does not write: the consumer runs without it, locally and in Argo (both ends optional)', async () => {
    await writeFile(
      join(dir, 'app', 'steps', 'maybe.mjs'),
      `import { writeFileSync } from 'node:fs';\nwriteFileSync(process.env.GHOSTEAM_OUTPUT_MAIN, 'main');\n`,
    );
    await writeFile(
      join(dir, 'app', 'steps', 'use.mjs'),
      `import { existsSync, writeFileSync } from 'node:fs';\nconst p = process.env.GHOSTEAM_INPUT_EXTRA ?? '';\nwriteFileSync(process.env.GHOSTEAM_OUTPUT_SEEN, JSON.stringify({ extra: p !== '' && existsSync(p) }));\n`,
    );
    const maybe = ContainerComponent.define({
      name: 'maybe',
      image: 'ghcr.io/acme/maybe:1',
      command: ['node', 'steps/maybe.mjs'],
      outputs: { main: 'file', extra: { kind: 'file', optional: true } },
    });
    const use = ContainerComponent.define({
      name: 'use',
      image: 'ghcr.io/acme/use:1',
      command: ['node', 'steps/use.mjs'],
      inputs: { main: 'file', extra: { kind: 'file', optional: true } },
      outputs: { seen: 'metrics' },
    });
    const { spec } = build(join(dir, 'app'), (p) => {
      const m = p.component('maybe', maybe, {});
      p.component('use', use, { inputs: { main: m.output('main'), extra: m.output('extra') } });
    });
    assert.equal(spec.tasks.find((t) => t.name === 'maybe')!.outputs.extra.optional, true);

    const rec = await runPipeline(spec, { storeDir: join(dir, 'store-opt'), cwd: dir, cache: false });
    assert.equal(rec.status, 'Succeeded', JSON.stringify(rec.nodes.use));
    assert.deepEqual(Object.keys(rec.nodes.maybe.outputs), ['main']);
    const store = new ArtifactStore(join(dir, 'store-opt'));
    assert.deepEqual(JSON.parse(await readFile(store.pathOf(rec.nodes.use.outputs.seen.digest), 'utf8')), { extra: false });

    const wt = compileArgo(spec).workflowTemplate;
    const tpls = wt.spec.templates as unknown as Template[];
    type Art = { name: string; optional?: boolean };
    const arts = (xs: Art[] | undefined) => Object.fromEntries((xs ?? []).map((a) => [a.name, a.optional ?? false]));
    assert.deepEqual(arts(tpls.find((t) => t.name === 'maybe')!.outputs?.artifacts), { main: false, extra: true });
    assert.deepEqual(arts(tpls.find((t) => t.name === 'use')!.inputs?.artifacts), { main: false, extra: true });
    const dag = (wt.spec.templates as unknown as { dag?: { tasks: { name: string; arguments?: { artifacts?: Art[] } }[] } }[]).find((t) => t.dag)!.dag!;
    assert.deepEqual(arts(dag.tasks.find((t) => t.name === 'use')!.arguments?.artifacts), { main: false, extra: true });
    // Everything else keeps Argo's default (a missing output fails the step).
    assert.deepEqual(arts(tpls.find((t) => t.name === 'shout')!.outputs?.artifacts), { report: false });
    assert.deepEqual(upstreamErrors(wt as unknown as { apiVersion: string; kind: string }), []);
  });

  test('a defined component is reused: image, command, declared defaults; local settings stay out of the template and the spec hash', () => {
    const a = build('/one/place');
    const b = build('/another/place');
    const t = a.spec.tasks.find((x) => x.name === 'shout')!;
    assert.equal(t.image, 'ghcr.io/acme/shout:1');
    assert.deepEqual(t.command, ['node', 'steps/dump.mjs']);
    assert.deepEqual(t.params.times, { kind: 'literal', value: 3 });
    assert.deepEqual(t.container, { name: 'shout', version: '1' });
    assert.deepEqual(t.local, { dir: '/one/place' });
    assert.deepEqual(a.templates, b.templates);
    assert.equal(compileArgo(a.spec).specHash, compileArgo(b.spec).specHash);
    assert.doesNotMatch(JSON.stringify(a.templates), /one\/place/);
  });

  test('bad params are synth errors naming the task, the field and the fix', () => {
    const step = ContainerComponent.define({
      name: 'fit',
      image: 'x:1',
      command: ['python', 'fit.py'],
      params: { rounds: { type: 'number', min: 1 }, booster: { type: 'string', enum: ['gbtree', 'dart'], default: 'gbtree' } },
    });
    const attempt = (params: Record<string, unknown>): string => {
      const p = new Pipeline(new Chart(new App(), 'c'), 'p');
      try {
        p.component('fit', step, { params: params as never });
        return 'no error';
      } catch (e) {
        assert.ok(e instanceof ValidationError);
        return e.message;
      }
    };
    assert.match(attempt({ rounds: 10, eta: 0.1 }), /c\/p\/fit: 'params\.eta' is not a param of component 'fit'; use one of rounds, booster, or declare it/);
    assert.match(attempt({}), /c\/p\/fit: 'params\.rounds' is required by component 'fit' \(a number\); pass it in params/);
    assert.match(attempt({ rounds: 'ten' }), /'params\.rounds' is "ten", not a number \(component 'fit' declares it number, min 1\)/);
    assert.match(attempt({ rounds: 0 }), /'params\.rounds' is 0, below the smallest value taken \(1\)/);
    assert.match(attempt({ rounds: 5, booster: 'linear' }), /'params\.booster' is 'linear', not one of gbtree, dart/);
    assert.equal(attempt({ rounds: 5 }), 'no error');
    assert.throws(() => ContainerComponent.define({ name: 'Fit', image: 'x', command: ['a'] }), /must be kebab-case/);
    assert.throws(() => ContainerComponent.define({ name: 'fit', image: 'x', command: [] }), /container component 'fit': command must be a non-empty list/);
    assert.throws(
      () => ContainerComponent.define({ name: 'fit', image: 'x', command: ['a'], params: { n: { type: 'number', default: -5, min: 0 } } }),
      /params\.n\.default is -5, below the smallest value taken \(0\); fix the default/,
    );
    assert.throws(
      () => ContainerComponent.define({ name: 'fit', image: 'x', command: ['a'], distributed: { workers: 0 } }),
      /distributed\.workers is 0; give a whole number/,
    );
  });

  test('a missing interpreter names the setting to fix', async () => {
    const { spec } = build(join(dir, 'app'), (p) => {
      p.task('py', { image: 'python:3', command: ['python', 'x.py'], local: { interpreter: '.venv/bin/python' } });
    });
    const rec = await runPipeline(spec, { storeDir: join(dir, 'store2'), cwd: dir, cache: false });
    assert.equal(rec.status, 'Failed');
    assert.match(
      rec.nodes.py.message ?? '',
      new RegExp(
        `command '${join(dir, 'app', '.venv/bin/python').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}' is not runnable on this machine \\(not found\\); it comes from the step's local interpreter '.venv/bin/python'`,
      ),
    );
  });

  test("a failed command's message carries its last stderr line (a traceback's exception), not stdout's", async () => {
    const long = 'E'.repeat(400);
    const cases: [string, string][] = [
      [
        'echo "Traceback (most recent call last):" >&2; echo "ValueError: no column label" >&2; echo "" >&2; echo "stdout after"; exit 1',
        "'sh' exited with code 1; its last error line: ValueError: no column label",
      ],
      [`echo ${long} >&2; exit 2`, `'sh' exited with code 2; its last error line: ${'E'.repeat(300)}…`],
      ['echo only stdout; exit 5', "'sh' exited with code 5"],
    ];
    for (const [i, [script, want]] of cases.entries()) {
      const { spec } = build(join(dir, 'app'), (p) => {
        p.task('py', { image: 'x:1', command: ['sh', '-c', script] });
      });
      const rec = await runPipeline(spec, { storeDir: join(dir, `store-err-${i}`), cwd: dir, cache: false });
      assert.equal(rec.status, 'Failed');
      assert.equal(rec.nodes.py.message, want);
    }
  });

  test('distributed: a failing worker fails the step at once and names its rank', async () => {
    const { spec } = build(join(dir, 'app'), (p) => {
      p.task('ddp', { image: 'x:1', command: ['sh', '-c', 'if [ "$RANK" = 1 ]; then exit 3; fi; sleep 30'], distributed: { workers: 3 } });
    });
    const t0 = Date.now();
    const rec = await runPipeline(spec, { storeDir: join(dir, 'store3'), cwd: dir, cache: false, killGraceMs: 500 });
    assert.equal(rec.status, 'Failed');
    assert.equal(rec.nodes.ddp.message, "[rank 1] 'sh' exited with code 3");
    assert.ok(Date.now() - t0 < 10_000, 'the other workers were stopped');
  });

  test('rendezvousEnv is what torchrun sets for a single node', () => {
    assert.deepEqual(rendezvousEnv(4, 2, 29500), {
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: '29500',
      WORLD_SIZE: '4',
      RANK: '2',
      LOCAL_RANK: '2',
      LOCAL_WORLD_SIZE: '4',
      GROUP_RANK: '0',
    });
  });
});

const peers = await usePeers(['python']);

/** A real rendezvous over the env torchrun sets: rank 0 listens on MASTER_ADDR:MASTER_PORT, the others connect and all-reduce a sum. */
const DDP = `
import json, os, socket, sys, time
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
assert os.environ["LOCAL_RANK"] == str(rank)
mine = (rank + 1) ** 2
if rank == 0:
    srv = socket.create_server((addr, port))
    parts = {0: mine}
    conns = []
    while len(parts) < world:
        c, _ = srv.accept()
        r, v = json.loads(c.makefile().readline())
        parts[r] = v
        conns.append(c)
    total = sum(parts.values())
    for c in conns:
        c.sendall((json.dumps(total) + "\\n").encode())
    with open(os.environ["GHOSTEAM_OUTPUT_MODEL"], "w") as f:
        json.dump({"world": world, "total": total, "ranks": sorted(parts), "prefix": sys.prefix}, f)
    with open(os.path.join(os.environ["GHOSTEAM_OUTPUT_PARAMS_DIR"], "total"), "w") as f:
        f.write(str(total))
else:
    for _ in range(200):
        try:
            s = socket.create_connection((addr, port))
            break
        except OSError:
            time.sleep(0.05)
    s.sendall((json.dumps([rank, mine]) + "\\n").encode())
    assert json.loads(s.makefile().readline()) == sum((r + 1) ** 2 for r in range(world))
print(f"rank {rank}/{world} done")
`;

describe('a real multi-process Python step (the peers venv)', { skip: peers.skip }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    await writeFile(join(dir, 'ddp.py'), DDP);
  });
  after(() => cleanup());

  test('distributed: 3 workers rendezvous on loopback through MASTER_ADDR/MASTER_PORT/WORLD_SIZE/RANK/LOCAL_RANK; python comes from the named venv', async () => {
    const venv = dirname(dirname(peers.python));
    const spec = withSynthContext({ appDir: dir }, () => {
      const p = new Pipeline(new Chart(new App(), 'c'), 'ddp');
      const fit = ContainerComponent.define({
        name: 'fit',
        image: 'x:1',
        command: ['python', 'ddp.py'],
        outputs: { model: 'model' },
        outputParams: ['total'],
        distributed: { workers: 3 },
        local: { venv },
      });
      p.component('fit', fit);
      return p.toSpec();
    });
    const rec = await runPipeline(spec, { storeDir: join(dir, 'store'), cwd: '/', cache: false });
    assert.equal(rec.status, 'Succeeded', rec.nodes.fit.message);
    const model = JSON.parse(await readFile(new ArtifactStore(join(dir, 'store')).pathOf(rec.nodes.fit.outputs.model.digest), 'utf8'));
    assert.deepEqual(model, { world: 3, total: 1 + 4 + 9, ranks: [0, 1, 2], prefix: venv });
    assert.deepEqual(rec.nodes.fit.outputParams, { total: 14 });
    const log = await readFile(join(dir, 'store', 'runs', rec.id, 'logs', 'fit.log'), 'utf8');
    for (const r of [0, 1, 2]) assert.match(log, new RegExp(`^\\[rank ${r}\\] rank ${r}/3 done$`, 'm'));
  });
});

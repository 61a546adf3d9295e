// DAG semantics of the local engine, matching the Argo Workflow the same spec compiles to.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { runPipeline } from '../../pipelines/local/engine.ts';
import { ArtifactStore } from '../../pipelines/local/store.ts';
import { mapContainerPaths } from '../../pipelines/local/executor.ts';
import { ParamError } from '../../components/params.ts';
import { join } from 'node:path';
import { catalog, collect, comp, delay, item, lit, out, param, pipeline, task, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(() => cleanup());

const C = (name: string) => ({ component: { name, version: '1' } });

/** Records when each task started and ended, to check ordering and overlap. */
function timeline() {
  const spans: Record<string, [number, number]> = {};
  const sleeper = (ms: number) =>
    comp('sleeper', async (ctx) => {
      const t0 = performance.now();
      await delay(Number(ctx.params.ms ?? ms), ctx.signal);
      spans[ctx.params['ghosteam.task'] as string] = [t0, performance.now()];
    });
  return { spans, sleeper };
}

describe('ordering and parallelism', () => {
  test('a task starts only after all its dependencies; independent tasks overlap', async () => {
    const { spans, sleeper } = timeline();
    const spec = pipeline('p', [
      task('a', { ...C('sleeper'), params: { ms: lit(150) } }),
      task('b', { ...C('sleeper'), params: { ms: lit(150) }, after: ['a'] }),
      task('c', { ...C('sleeper'), params: { ms: lit(150) }, after: ['a'] }),
      task('d', { ...C('sleeper'), params: { ms: lit(10) }, after: ['b', 'c'] }),
    ]);
    const rec = await runPipeline(spec, { storeDir: dir, components: catalog(sleeper(0)), cache: false, concurrency: 4 });
    assert.equal(rec.status, 'Succeeded');
    assert.ok(spans.b[0] >= spans.a[1] && spans.c[0] >= spans.a[1], 'b and c wait for a');
    assert.ok(spans.d[0] >= Math.max(spans.b[1], spans.c[1]), 'd waits for b and c');
    assert.ok(spans.b[0] < spans.c[1] && spans.c[0] < spans.b[1], 'b and c run at the same time');
  });

  test('concurrency bounds the tasks running at once', async () => {
    const { spans, sleeper } = timeline();
    const spec = pipeline('p', [task('a', { ...C('sleeper'), params: { ms: lit(120) } }), task('b', { ...C('sleeper'), params: { ms: lit(120) } })]);
    await runPipeline(spec, { storeDir: dir, components: catalog(sleeper(0)), cache: false, concurrency: 1 });
    const [first, second] = [spans.a, spans.b].sort((x, y) => x[0] - y[0]);
    assert.ok(second[0] >= first[1], 'with concurrency 1 the second starts after the first ends');
  });

  test('command tasks run as parallel child processes', async () => {
    const spec = pipeline('p', [task('a', { command: ['sleep', '0.4'] }), task('b', { command: ['sleep', '0.4'] }), task('c', { command: ['sleep', '0.4'] })]);
    const t0 = Date.now();
    const rec = await runPipeline(spec, { storeDir: dir, cache: false, concurrency: 3 });
    const took = Date.now() - t0;
    assert.equal(rec.status, 'Succeeded');
    assert.ok(took < 1000, `three 0.4 s tasks took ${took} ms; sequential would be ≥ 1200`);
  });
});

describe('artifacts and params through commands', () => {
  test('params are substituted, artifacts pass by digest, output params are read back', async () => {
    const spec = pipeline(
      'p',
      [
        task('make', {
          command: ['sh', '-c', 'printf "%s\\n" {{inputs.parameters.word}} {{inputs.parameters.word}} > {{outputs.artifacts.text.path}}'],
          params: { word: param('word') },
          outputs: { text: { kind: 'file' } },
        }),
        task('count', {
          command: ['sh', '-c', 'wc -l < "$GHOSTEAM_INPUT_TEXT" | tr -d " " > {{outputs.parameters.lines.path}}; echo "run=$GHOSTEAM_RUN_ID"'],
          inputs: { text: { task: 'make', output: 'text', kind: 'file' } },
          outputParams: ['lines'],
        }),
      ],
      { params: [{ name: 'word', type: 'string' }] },
    );
    const rec = await runPipeline(spec, { storeDir: dir, params: { word: 'hello' }, cache: false, runId: 'cmd-run' });
    assert.equal(rec.status, 'Succeeded');
    assert.deepEqual(rec.nodes.count.outputParams, { lines: 2 });
    const digest = rec.nodes.make.outputs.text.digest;
    const stored = await readFile(new ArtifactStore(dir).pathOf(digest), 'utf8');
    assert.equal(stored, 'hello\nhello\n');
    const { createHash } = await import('node:crypto');
    assert.equal(digest, `sha256:${createHash('sha256').update(stored).digest('hex')}`);
    assert.match(await readFile(`${dir}/runs/cmd-run/logs/count.log`, 'utf8'), /^run=cmd-run$/m);
  });

  test('the container conventions of the Argo compiler work locally: /tmp/inputs, /tmp/outputs, GHOSTEAM_PARAM_*', async () => {
    const spec = pipeline('p', [
      task('make', { command: ['sh', '-c', 'seq 1 5 > /tmp/outputs/data'], outputs: { data: { kind: 'dataset' } } }),
      task('use', {
        command: ['sh', '-c', 'wc -l < /tmp/inputs/data | tr -d " " > /tmp/outputs/params/lines; echo "$GHOSTEAM_PARAM_TEST_FRACTION" > /tmp/outputs/copy'],
        params: { testFraction: lit(0.2) },
        inputs: { data: { task: 'make', output: 'data', kind: 'dataset' } },
        outputs: { copy: { kind: 'file' } },
        outputParams: ['lines'],
      }),
    ]);
    const rec = await runPipeline(spec, { storeDir: dir, cache: false });
    assert.equal(rec.status, 'Succeeded', JSON.stringify(rec.nodes.use.message));
    assert.equal(rec.nodes.use.outputParams.lines, 5);
    assert.equal(await readFile(new ArtifactStore(dir).pathOf(rec.nodes.use.outputs.copy.digest), 'utf8'), '0.2\n');
  });

  test('container paths map onto the attempt directories, and nothing else does', () => {
    assert.equal(mapContainerPaths('cat /tmp/inputs/d > /tmp/outputs/params/p', '/w/in', '/w/out'), 'cat /w/in/d > /w/out/params/p');
    assert.equal(mapContainerPaths('--out=/tmp/outputs', '/w/in', '/w/out'), '--out=/w/out');
    assert.equal(mapContainerPaths('/tmp/outputsx /var/tmp/inputs', '/w/in', '/w/out'), '/tmp/outputsx /var/tmp/inputs');
  });

  test('a command that is not installed is an Error that says so', async () => {
    const spec = pipeline('p', [task('train', { image: 'ghcr.io/acme/trainer:1', command: ['no-such-binary-ghosteam', '--x'] })]);
    const rec = await runPipeline(spec, { storeDir: dir, cache: false });
    assert.equal(rec.status, 'Failed');
    assert.equal(rec.nodes.train.state, 'Error');
    assert.equal(
      rec.nodes.train.message,
      "command 'no-such-binary-ghosteam' is not runnable on this machine (not found on PATH); on a cluster it runs in image 'ghcr.io/acme/trainer:1'. Install it locally, or run the pipeline on a cluster",
    );
  });

  test('a task with neither command nor component is an Error', async () => {
    const rec = await runPipeline(pipeline('p', [task('x', { image: 'busybox' })]), { storeDir: dir, cache: false });
    assert.equal(
      rec.nodes.x.message,
      "has no command and no component; it runs image 'busybox''s entrypoint, which the local engine cannot run — give the task a command or use a built-in component",
    );
  });

  test('an unknown placeholder is an Error naming it', async () => {
    const rec = await runPipeline(pipeline('p', [task('x', { command: ['echo', '{{inputs.parameters.nope}}'] })]), { storeDir: dir, cache: false });
    assert.equal(rec.nodes.x.state, 'Error');
    assert.equal(rec.nodes.x.message, "command[1]: unknown placeholder '{{inputs.parameters.nope}}'; known: {{workflow.name}}");
  });
});

describe('when and skipping', () => {
  const gate = comp('gate', (ctx) => ctx.setOutput('verdict', (ctx.params.auc as number) >= 0.9 ? 'pass' : 'fail'), { outputParams: ['verdict'] });
  const reg = comp('reg', async (ctx) => {
    await writeFile(ctx.outputs.version, 'v1');
  });
  const noop = comp('noop', () => {});
  const spec = pipeline(
    'p',
    [
      task('gate', { ...C('gate'), params: { auc: param('auc') }, outputParams: ['verdict'] }),
      task('register', { ...C('reg'), when: { left: out('gate', 'verdict'), op: '==', right: lit('pass') }, outputs: { version: { kind: 'file' } } }),
      task('deploy', { ...C('noop'), inputs: { v: { task: 'register', output: 'version', kind: 'file' } } }),
      task('notify', { ...C('noop'), after: ['register'] }),
    ],
    { params: [{ name: 'auc', type: 'number' }] },
  );
  test('when false: Skipped, tasks needing its outputs Skipped, tasks only after it still run', async () => {
    const rec = await runPipeline(spec, { storeDir: dir, params: { auc: 0.5 }, components: catalog(gate, reg, noop), cache: false });
    assert.equal(rec.status, 'Succeeded');
    assert.equal(rec.nodes.register.state, 'Skipped');
    assert.equal(rec.nodes.register.message, 'when condition is false: "fail" == "pass"');
    assert.equal(rec.nodes.deploy.state, 'Skipped');
    assert.equal(rec.nodes.deploy.message, "needs outputs of task 'register', which was skipped");
    assert.equal(rec.nodes.notify.state, 'Succeeded');
  });
  test('when true: all run', async () => {
    const rec = await runPipeline(spec, { storeDir: dir, params: { auc: '0.95' }, components: catalog(gate, reg, noop), cache: false });
    assert.deepEqual(
      rec.order.map((n) => rec.nodes[n].state),
      ['Succeeded', 'Succeeded', 'Succeeded', 'Succeeded'],
    );
  });
});

describe('parallelFor', () => {
  test('one instance per item, bounded by its parallelism; outputs aggregate as a list in item order', async () => {
    let running = 0;
    let peak = 0;
    const sq = comp(
      'sq',
      async (ctx) => {
        running++;
        peak = Math.max(peak, running);
        await delay(30);
        running--;
        ctx.setOutput('sq', (ctx.params.n as number) ** 2);
      },
      { outputParams: ['sq'] },
    );
    const sum = comp(
      'sum',
      (ctx) =>
        ctx.setOutput(
          'total',
          (ctx.params.xs as number[]).reduce((a, b) => a + b, 0),
        ),
      { outputParams: ['total'] },
    );
    const spec = pipeline(
      'p',
      [
        task('sq', { ...C('sq'), params: { n: item('n') }, outputParams: ['sq'], parallelFor: { items: param('xs'), parallelism: 2 } }),
        task('sum', { ...C('sum'), params: { xs: out('sq', 'sq') }, outputParams: ['total'] }),
      ],
      { params: [{ name: 'xs', type: 'list' }] },
    );
    const rec = await runPipeline(spec, {
      storeDir: dir,
      params: { xs: [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }] },
      components: catalog(sq, sum),
      cache: false,
      concurrency: 8,
    });
    assert.equal(rec.status, 'Succeeded');
    assert.equal(peak, 2);
    assert.deepEqual(rec.nodes.sq.children, ['sq(0)', 'sq(1)', 'sq(2)', 'sq(3)', 'sq(4)']);
    assert.deepEqual(rec.nodes.sq.outputParams, { sq: [1, 4, 9, 16, 25] });
    assert.equal(rec.nodes.sum.outputParams.total, 55);
    assert.deepEqual(rec.nodes['sq(3)'].item, { n: 4 });
  });

  test('a when that reads the item is decided per instance', async () => {
    const seen: number[] = [];
    const rec0 = comp('rec0', (ctx) => void seen.push(ctx.params.n as number));
    const spec = pipeline('p', [
      task('big', { ...C('rec0'), params: { n: item() }, parallelFor: { items: lit([1, 5, 2, 8]) }, when: { left: item(), op: '>', right: lit(3) } }),
    ]);
    const rec = await runPipeline(spec, { storeDir: dir, components: catalog(rec0), cache: false });
    assert.equal(rec.nodes.big.state, 'Succeeded');
    assert.deepEqual(
      rec.nodes.big.children!.map((id) => rec.nodes[id].state),
      ['Skipped', 'Succeeded', 'Skipped', 'Succeeded'],
    );
    assert.equal(rec.nodes['big(0)'].message, 'when condition is false: 1 > 3');
    assert.deepEqual(seen.sort(), [5, 8]);
  });

  test('fan-out over an upstream output given as a JSON string; an empty list is Skipped', async () => {
    const list = comp('list', (ctx) => ctx.setOutput('items', ctx.params.empty ? '[]' : '["a","b"]'), { outputParams: ['items'] });
    const echo = comp('echo', (ctx) => ctx.log(`item=${ctx.params.x as string}`));
    const mk = (empty: boolean) =>
      pipeline('p', [
        task('list', { ...C('list'), params: { empty: lit(empty) }, outputParams: ['items'] }),
        task('each', { ...C('echo'), params: { x: item() }, parallelFor: { items: out('list', 'items') } }),
      ]);
    const full = await runPipeline(mk(false), { storeDir: dir, components: catalog(list, echo), cache: false });
    assert.deepEqual(full.nodes.each.children, ['each(0)', 'each(1)']);
    assert.equal(full.nodes['each(1)'].state, 'Succeeded');
    const empty = await runPipeline(mk(true), { storeDir: dir, components: catalog(list, echo), cache: false });
    assert.equal(empty.nodes.each.state, 'Skipped');
    assert.equal(empty.nodes.each.message, 'parallelFor list is empty');
  });
});

describe('retries, timeouts, fail-fast', () => {
  test('retries with exponential back-off until success', async () => {
    let calls = 0;
    const flaky = comp('flaky', () => {
      calls++;
      if (calls < 3) throw new Error(`flake ${calls}`);
    });
    const delays: number[] = [];
    const spec = pipeline('p', [task('f', { ...C('flaky'), retry: { limit: 3, policy: 'OnFailure', backoff: { durationSeconds: 0.5, factor: 3 } } })]);
    const ev = collect();
    const rec = await runPipeline(spec, {
      storeDir: dir,
      components: catalog(flaky),
      cache: false,
      onEvent: ev.onEvent,
      sleep: async (ms) => void delays.push(ms),
    });
    assert.equal(rec.nodes.f.state, 'Succeeded');
    assert.equal(rec.nodes.f.message, 'succeeded on attempt 3');
    assert.deepEqual(delays, [500, 1500]);
    assert.deepEqual(
      rec.nodes.f.attempts.map((a) => [a.attempt, a.outcome, a.message]),
      [
        [1, 'Failed', 'flake 1'],
        [2, 'Failed', 'flake 2'],
        [3, 'Succeeded', undefined],
      ],
    );
    assert.equal(ev.events.filter((e) => e.type === 'retry').length, 2);
  });

  test('real back-off waits between attempts; the limit ends it', async () => {
    const times: number[] = [];
    const bad = comp('bad', () => {
      times.push(Date.now());
      throw new Error('always');
    });
    const spec = pipeline('p', [task('b', { ...C('bad'), retry: { limit: 2, policy: 'Always', backoff: { durationSeconds: 0.1, factor: 2 } } })]);
    const rec = await runPipeline(spec, { storeDir: dir, components: catalog(bad), cache: false });
    assert.equal(rec.nodes.b.state, 'Failed');
    assert.equal(rec.nodes.b.message, 'always (after 3 attempts)');
    assert.equal(times.length, 3);
    assert.ok(times[1] - times[0] >= 95 && times[2] - times[1] >= 195, `gaps ${times[1] - times[0]}, ${times[2] - times[1]}`);
  });

  test('a terminal failure is not retried, whatever the policy; the attempt records terminal and its reason', async () => {
    let calls = 0;
    const bad = comp('bad', (ctx) => {
      calls++;
      throw new ParamError(`bad: param 'epochs' must be at least 1, got ${JSON.stringify(ctx.params.epochs)}`);
    });
    const sleeps: number[] = [];
    const ev = collect();
    const rec = await runPipeline(
      pipeline('p', [
        task('b', { ...C('bad'), params: { epochs: lit(-5) }, retry: { limit: 5, policy: 'Always', backoff: { durationSeconds: 1, factor: 2 } } }),
      ]),
      { storeDir: dir, components: catalog(bad), cache: false, onEvent: ev.onEvent, sleep: async (ms) => void sleeps.push(ms) },
    );
    assert.equal(calls, 1);
    assert.deepEqual(sleeps, []);
    assert.equal(ev.events.filter((e) => e.type === 'retry').length, 0);
    assert.deepEqual(
      rec.nodes.b.attempts.map((a) => [a.outcome, a.reason, a.terminal]),
      [['Failed', 'InvalidParam', true]],
    );
    assert.equal(rec.nodes.b.message, "bad: param 'epochs' must be at least 1, got -5; not retried: InvalidParam cannot change on retry");
    const end = ev.events.find((e) => e.type === 'run-end');
    assert.deepEqual(
      [rec.terminal, rec.reason, end?.type === 'run-end' && end.terminal, end?.type === 'run-end' && end.reason],
      [true, 'InvalidParam', true, 'InvalidParam'],
    );
  });

  test('command steps: a terminal exit code (64/65/78) is not retried; a crash (1) or a kill (137) is, and the run is not terminal', async () => {
    const counter = (name: string, code: number) =>
      task(name, {
        command: ['sh', '-c', `exit ${code}`],
        retry: { limit: 2, policy: 'Always' },
      });
    const runOne = async (name: string, code: number) => {
      const rec = await runPipeline(pipeline(`p-${name}`, [counter(name, code)]), { storeDir: join(dir, `exit-${name}`), cache: false });
      const n = rec.nodes[name];
      return { attempts: n.attempts.map((a) => [a.reason, a.terminal ?? false]), terminal: rec.terminal ?? false, reason: rec.reason };
    };
    assert.deepEqual(await runOne('usage', 64), { attempts: [['InvalidParam', true]], terminal: true, reason: 'InvalidParam' });
    assert.deepEqual(await runOne('data', 65), { attempts: [['InvalidInput', true]], terminal: true, reason: 'InvalidInput' });
    assert.deepEqual(await runOne('config', 78), { attempts: [['Terminal', true]], terminal: true, reason: 'Terminal' });
    assert.deepEqual(await runOne('crash', 1), {
      attempts: [
        ['Unknown', false],
        ['Unknown', false],
        ['Unknown', false],
      ],
      terminal: false,
      reason: 'Unknown',
    });
    assert.deepEqual(await runOne('killed', 137), {
      attempts: [
        ['Killed', false],
        ['Killed', false],
        ['Killed', false],
      ],
      terminal: false,
      reason: 'Killed',
    });
  });

  test('OnError does not retry a failure', async () => {
    let calls = 0;
    const bad = comp('bad', () => {
      calls++;
      throw new Error('fails');
    });
    await runPipeline(pipeline('p', [task('b', { ...C('bad'), retry: { limit: 5, policy: 'OnError' } })]), {
      storeDir: dir,
      components: catalog(bad),
      cache: false,
    });
    assert.equal(calls, 1);
  });

  test('a timeout stops the attempt: a component through its signal, a command by kill', async () => {
    let sawAbort = false;
    const slow = comp('slow', async (ctx) => {
      await delay(10_000, ctx.signal).catch((e) => {
        sawAbort = ctx.signal.aborted;
        throw e;
      });
    });
    const spec = pipeline('p', [task('s', { ...C('slow'), timeoutSeconds: 0.2 }), task('c', { command: ['sleep', '30'], timeoutSeconds: 0.3 })]);
    const t0 = Date.now();
    const rec = await runPipeline(spec, { storeDir: dir, components: catalog(slow), cache: false, killGraceMs: 200 });
    assert.ok(Date.now() - t0 < 3000);
    assert.equal(rec.nodes.s.state, 'Failed');
    assert.equal(rec.nodes.s.message, 'timed out after 0.2s (timeoutSeconds)');
    assert.equal(rec.nodes.c.message, 'timed out after 0.3s (timeoutSeconds)');
    assert.ok(sawAbort);
  });

  test('fail-fast: after a failure running tasks finish, nothing new starts, the rest are Omitted', async () => {
    const boom = comp('boom', () => {
      throw new Error('boom');
    });
    const slow = comp('slow', () => delay(150));
    const noop = comp('noop', () => {});
    const spec = pipeline('p', [
      task('a', C('boom')),
      task('b', C('slow')),
      task('c', { ...C('noop'), after: ['b'] }),
      task('d', { ...C('noop'), after: ['a'] }),
    ]);
    const rec = await runPipeline(spec, { storeDir: dir, components: catalog(boom, slow, noop), cache: false, concurrency: 4 });
    assert.equal(rec.status, 'Failed');
    assert.deepEqual(
      rec.order.map((n) => rec.nodes[n].state),
      ['Failed', 'Succeeded', 'Omitted', 'Omitted'],
    );
    assert.equal(rec.message, "'test/a' failed");
  });
});

describe('exit handler', () => {
  const noop = comp('noop', () => {});
  const boom = comp('boom', () => {
    throw new Error('boom');
  });
  const seen: string[] = [];
  const notify = comp('notify', (ctx) => void seen.push(ctx.params['ghosteam.status'] as string));
  test('runs after success and after failure, seeing the outcome', async () => {
    const mk = (first: string) => pipeline('p', [task('a', C(first)), task('b', { ...C('noop'), after: ['a'] })], { exitHandler: task('notify', C('notify')) });
    const ok = await runPipeline(mk('noop'), { storeDir: dir, components: catalog(noop, boom, notify), cache: false });
    assert.equal(ok.status, 'Succeeded');
    assert.equal(ok.nodes.notify.state, 'Succeeded');
    assert.equal(ok.order.at(-1), 'notify');
    const bad = await runPipeline(mk('boom'), { storeDir: dir, components: catalog(noop, boom, notify), cache: false });
    assert.equal(bad.status, 'Failed');
    assert.equal(bad.nodes.b.state, 'Omitted');
    assert.equal(bad.nodes.notify.state, 'Succeeded');
    assert.deepEqual(seen, ['Succeeded', 'Failed']);
  });
  test('a command exit handler gets the status in {{workflow.status}} and GHOSTEAM_WORKFLOW_STATUS', async () => {
    const spec = pipeline('p', [task('a', C('boom'))], {
      exitHandler: task('report', { command: ['sh', '-c', 'echo "status={{workflow.status}} env=$GHOSTEAM_WORKFLOW_STATUS"'] }),
    });
    const rec = await runPipeline(spec, { storeDir: dir, components: catalog(boom), cache: false, runId: 'exit-cmd' });
    assert.equal(rec.nodes.report.state, 'Succeeded');
    assert.equal(await readFile(`${dir}/runs/exit-cmd/logs/report.log`, 'utf8'), 'status=Failed env=Failed\n');
  });
  test('a failing exit handler fails the run', async () => {
    const rec = await runPipeline(pipeline('p', [task('a', C('noop'))], { exitHandler: task('x', C('boom')) }), {
      storeDir: dir,
      components: catalog(noop, boom),
      cache: false,
    });
    assert.equal(rec.nodes.a.state, 'Succeeded');
    assert.equal(rec.status, 'Failed');
  });
});

describe('context for components', () => {
  test('run id, pipeline, git commit, task and input digests are passed as reserved params', async () => {
    let got: Record<string, unknown> = {};
    const mk = comp('mk', async (ctx) => writeFile(ctx.outputs.d, 'data'));
    const look = comp('look', (ctx) => void (got = { ...ctx.params }));
    const spec = pipeline('ctxp', [
      task('mk', { ...C('mk'), outputs: { d: { kind: 'dataset' } } }),
      task('look', { ...C('look'), inputs: { d: { task: 'mk', output: 'd', kind: 'dataset' } } }),
    ]);
    const rec = await runPipeline(spec, { storeDir: dir, components: catalog(mk, look), gitCommit: 'abc123', runId: 'ctx-run' });
    assert.equal(got['ghosteam.runId'], 'ctx-run');
    assert.equal(got['ghosteam.pipeline'], 'ctxp');
    assert.equal(got['ghosteam.gitCommit'], 'abc123');
    assert.equal(got['ghosteam.task'], 'look');
    assert.deepEqual(got['ghosteam.inputDigests'], { d: rec.nodes.mk.outputs.d.digest });
    assert.equal(rec.gitCommit, 'abc123');
    assert.equal('ghosteam.reason' in got, false, 'no reason given, none passed');
  });
  test("the run's reason reaches components as 'ghosteam.reason' and stays out of the cache key", async () => {
    let got: unknown;
    const look = comp('look', (ctx) => void (got = ctx.params['ghosteam.reason']));
    const spec = pipeline('reasonp', [task('look', C('look'))]);
    await runPipeline(spec, { storeDir: dir, components: catalog(look), reason: 'drift' });
    assert.equal(got, 'drift');
    const again = await runPipeline(spec, { storeDir: dir, components: catalog(look), reason: 'git-change' });
    assert.equal(again.nodes.look.cached, true, 'a different reason is the same computation');
  });
  test('an unknown component is an Error naming it and the catalog', async () => {
    const rec = await runPipeline(pipeline('p', [task('t', C('nope'))]), { storeDir: dir, components: catalog() });
    assert.equal(rec.nodes.t.state, 'Error');
    assert.equal(rec.nodes.t.message, "test/t: component 'nope' is not in the component catalog (components/index.ts)");
  });
  test('a spec built for another component version is an Error, not a silently wrong cache key', async () => {
    const v2 = comp('v', () => {}, { version: '2' });
    const rec = await runPipeline(pipeline('p', [task('t', { component: { name: 'v', version: '1' } })]), { storeDir: dir, components: catalog(v2) });
    assert.equal(
      rec.nodes.t.message,
      "test/t: the pipeline was built for component 'v' version 1, but the catalog has version 2; update pipelines/catalog.ts (the descriptor) to match",
    );
  });

  test('a component that does not write a declared output is an Error', async () => {
    const lazy = comp('lazy', () => {});
    const rec = await runPipeline(pipeline('p', [task('t', { ...C('lazy'), outputs: { model: { kind: 'model' } } })]), {
      storeDir: dir,
      components: catalog(lazy),
      cache: false,
    });
    assert.equal(rec.nodes.t.state, 'Error');
    assert.match(rec.nodes.t.message!, /^did not write output artifact 'model' \(expected a file at .*\/out\/model\)$/);
  });
});

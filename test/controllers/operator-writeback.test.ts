/**
 * Operator write-back against real parts: the REAL kube-apiserver from the peers harness (the test
 * plays KServe by writing InferenceService status, as operator-kube.test.ts does) and a real git
 * remote, a bare repository on disk that the operator pushes to. A promotion becomes exactly one
 * commit of deploy/models.lock.json, also across a SIGKILL between promotion and write-back and
 * with two replicas; a rejected or unreachable remote shows in the WrittenBack condition and an
 * Event, and a later success clears it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, uniqueName, usePeers } from '../peers/index.ts';
import { KubeStore, loadKubeConfig } from '../../controllers/runtime/kube-store.ts';
import { TYPES } from '../../controllers/runtime/store.ts';
import { startOperator, type RunningOperator } from '../../controllers/operator.ts';
import { LocalRegistry } from '../../components/registry/local.ts';
import { createLogger } from '../../controllers/runtime/log.ts';
import type { ModelStatus } from '../../api/crds/index.ts';
import { conditionOf, createNamespace, playKServe, TestMetrics } from './kube-helpers.ts';
import { modelObject } from './fakes.ts';

const peers = await usePeers(['kube']);
const quiet = createLogger({ level: 'error' });
const LOCK = 'deploy/models.lock.json';
const BACKOFF = { baseMs: 200, maxMs: 1000 };

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
  });

describe('operator write-back to a real git remote', { skip: peers.skip }, () => {
  let store: KubeStore;
  let dir: string;
  let registry: LocalRegistry;
  const stops: Array<() => unknown> = [];

  before(async () => {
    store = new KubeStore(loadKubeConfig(peers.kubeconfig));
    dir = mkdtempSync(join(tmpdir(), 'gt-opwb-'));
    registry = new LocalRegistry({ dir: join(dir, 'registry') });
  });
  after(async () => {
    for (const s of stops.reverse()) await s();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A bare remote whose main has one commit (an app file, no lock file yet). */
  const remote = (name: string): string => {
    const bare = join(dir, `${name}.git`);
    git(dir, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
    const work = join(dir, `${name}-seed`);
    git(dir, 'init', '--quiet', '--initial-branch=main', work);
    writeFileSync(join(work, 'app.ts'), 'export {};\n');
    git(work, 'add', '.');
    git(work, 'commit', '--quiet', '-m', 'initial');
    git(work, 'push', '--quiet', bare, 'main');
    return bare;
  };
  /** Write-back commits on the remote's main, newest first (subjects). */
  const pins = (bare: string) =>
    git(bare, 'log', '--format=%s', 'main')
      .split('\n')
      .filter((s) => s.startsWith('Pin '));
  const remoteLock = (bare: string) =>
    JSON.parse(git(bare, 'show', `main:${LOCK}`)) as {
      models: Record<string, { version: number; previous?: number; reason: string; metrics: Record<string, number> }>;
    };

  const newNs = async (p: string) => {
    const ns = uniqueName(p);
    await createNamespace(store, ns);
    stops.push(playKServe(store, ns));
    return ns;
  };
  const operator = async (ns: string, bare: string, extra: Partial<Parameters<typeof startOperator>[0]> = {}): Promise<RunningOperator> => {
    const op = await startOperator({
      kubeconfig: peers.kubeconfig,
      registry,
      namespace: ns,
      log: quiet,
      gpuScheduling: false,
      workers: 2,
      gitWriteBack: { repo: bare, lockFile: LOCK, backoff: BACKOFF },
      ...extra,
    });
    stops.push(() => op.stop());
    return op;
  };
  const register = async (name: string, reason: string, metrics: Record<string, number> = {}) => {
    const f = join(dir, `${name}-${Math.random().toString(36).slice(2)}.onnx`);
    writeFileSync(f, `model ${name}`);
    return registry.registerVersion(name, { artifactPath: f, metrics, lineage: { reason } });
  };
  const getModel = (ns: string, name: string) => store.get(TYPES.Model, ns, name);

  /** v1 deployed, then v2 registered and canaried to promotion (metrics from `metrics` or a file). */
  const promote = async (ns: string, name: string, setMetrics: (m: { requests: number; errors: number; p99LatencyMs: number }) => void): Promise<void> => {
    await register(name, 'manual');
    await store.create(TYPES.Model, modelObject(name, { namespace: ns, steps: [50, 100], intervalSeconds: 1 }));
    await eventually('v1 Ready', async () => conditionOf(await getModel(ns, name), 'Ready')?.status === 'True', { timeoutMs: 20_000 });
    setMetrics({ requests: 400, errors: 0, p99LatencyMs: 20 });
    await register(name, 'drift', { auc: 0.91 });
    // The registry is not watched: a label touch makes the operator look now.
    const cur = (await getModel(ns, name))!;
    await store.replace(TYPES.Model, { ...cur, metadata: { ...cur.metadata, labels: { touched: '1' } } });
    await eventually(
      'v2 promoted',
      async () => {
        const o = await getModel(ns, name);
        const st = o?.status as ModelStatus | undefined;
        return st?.stableVersion === 2 && st.canaryVersion === undefined && conditionOf(o, 'Progressing')?.reason === 'Promoted';
      },
      { timeoutMs: 30_000 },
    );
  };
  const writtenBack = (ns: string, name: string, reason: string) =>
    eventually(
      `WrittenBack True (${reason})`,
      async () => {
        const o = await getModel(ns, name);
        const c = conditionOf(o, 'WrittenBack');
        return c?.status === 'True' && c.reason === reason ? o : undefined;
      },
      { timeoutMs: 20_000 },
    );

  test('a promotion becomes exactly one commit of the lock file; the first deploy none', async () => {
    const ns = await newNs('wb');
    const bare = remote('promote');
    const metrics = new TestMetrics();
    await operator(ns, bare, { metrics });
    await promote(ns, 'fraud', (m) => metrics.set('fraud', 2, m));
    const o = await writtenBack(ns, 'fraud', 'Pushed');
    const st = o.status as ModelStatus;
    const head = git(bare, 'rev-parse', 'main').trim();
    assert.deepEqual(st.writeBack, { version: 2, commit: head, lastAttemptTime: st.writeBack!.lastAttemptTime });
    assert.equal(conditionOf(o, 'WrittenBack')!.message, `version 2 pinned in ${LOCK} on ${bare} main (commit ${head.slice(0, 7)})`);
    assert.deepEqual(pins(bare), ['Pin fraud to v2 (drift)']);
    const lock = remoteLock(bare);
    assert.deepEqual(Object.keys(lock.models), ['fraud']);
    assert.equal(lock.models.fraud.version, 2);
    assert.equal(lock.models.fraud.previous, 1, 'the version the promotion replaced (status.promotedFrom)');
    assert.equal(st.promotedFrom, 1);
    assert.equal(lock.models.fraud.reason, 'drift');
    assert.deepEqual(lock.models.fraud.metrics, { auc: 0.91 });
    assert.match(git(bare, 'log', '-1', '--format=%B', 'main'), /^Ghosteam-Writeback: true$/m);
    assert.deepEqual(git(bare, 'show', '--name-only', '--format=', 'main').trim(), LOCK);
    // Steady state: more reconciles (a resync, a spec touch) make no further commit.
    const cur = (await getModel(ns, 'fraud'))!;
    await store.replace(TYPES.Model, { ...cur, metadata: { ...cur.metadata, labels: { touched: '2' } } });
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(pins(bare), ['Pin fraud to v2 (drift)']);
    await eventually('a WrittenBack Event', async () =>
      (await store.list(TYPES.Event, ns)).items.some((e) => e.reason === 'WrittenBack' && (e.involvedObject as { name: string }).name === 'fraud'),
    );
  });

  test('SIGKILL between promotion and write-back: the next operator still writes exactly one commit', async () => {
    const ns = await newNs('wbkill');
    const bare = remote('kill');
    const away = `${bare}.away`;
    const metricsFile = join(dir, `${ns}-metrics.json`);
    const spawnOp = (): ChildProcess =>
      spawn(process.execPath, ['--import', 'tsx', 'test/controllers/operator-proc.ts'], {
        env: {
          ...process.env,
          KUBECONFIG: peers.kubeconfig,
          GT_REGISTRY_DIR: join(dir, 'registry'),
          GT_METRICS_FILE: metricsFile,
          GT_NAMESPACE: ns,
          GT_GIT_REPO: bare,
          GT_GIT_LOCK_FILE: LOCK,
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    // The remote is out of reach while the first operator promotes, so it cannot write back yet.
    renameSync(bare, away);
    let child = spawnOp();
    stops.push(() => child.kill('SIGKILL'));
    await promote(ns, 'churn', (m) => writeFileSync(metricsFile, JSON.stringify({ 'churn@2': m })));
    await eventually('a failed attempt recorded', async () => conditionOf(await getModel(ns, 'churn'), 'WrittenBack')?.status === 'False', {
      timeoutMs: 20_000,
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    renameSync(away, bare);
    assert.deepEqual(pins(bare), []);
    child = spawnOp();
    await writtenBack(ns, 'churn', 'Pushed');
    assert.deepEqual(pins(bare), ['Pin churn to v2 (drift)']);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    // SIGKILL after the push, before the status write: status forgets the write-back, the remote
    // has it. The next operator finds the pin and records it; still one commit.
    const cur = (await getModel(ns, 'churn'))!;
    const { writeBack: _w, ...rest } = cur.status as ModelStatus;
    await store.replaceStatus(TYPES.Model, { ...cur, status: { ...rest, conditions: rest.conditions?.filter((c) => c.type !== 'WrittenBack') } });
    child = spawnOp();
    const again = await writtenBack(ns, 'churn', 'AlreadyPinned');
    assert.equal((again.status as ModelStatus).writeBack?.version, 2);
    assert.equal((again.status as ModelStatus).writeBack?.commit, undefined);
    assert.deepEqual(pins(bare), ['Pin churn to v2 (drift)']);
    assert.equal(remoteLock(bare).models.churn.version, 2);
  });

  test('two replicas with leader election: one commit, and none more on failover', async () => {
    const ns = await newNs('wbha');
    const bare = remote('ha');
    const metrics = new TestMetrics();
    const lease = { namespace: ns, name: 'ghosteam-operator', leaseDurationMs: 3000, renewMs: 1000 };
    const start = (identity: string) =>
      startOperator({
        kubeconfig: peers.kubeconfig,
        registry,
        namespace: ns,
        log: quiet,
        gpuScheduling: false,
        workers: 2,
        metrics,
        gitWriteBack: { repo: bare, lockFile: LOCK, backoff: BACKOFF },
        leaderElection: { ...lease, identity },
      });
    const ops = [start('a'), start('b')];
    // One replica leads (its start resolves); the other waits for the Lease.
    const first = await Promise.race(ops.map((p, i) => p.then((op) => ({ op, i }))));
    stops.push(() => first.op.stop());
    await promote(ns, 'ha', (m) => metrics.set('ha', 2, m));
    await writtenBack(ns, 'ha', 'Pushed');
    assert.deepEqual(pins(bare), ['Pin ha to v2 (drift)']);
    // The leader goes; the other takes over, re-reads every Model and commits nothing more.
    await first.op.stop();
    const second = await ops[1 - first.i];
    stops.push(() => second.stop());
    await eventually('the new leader reconciled', async () => second.manager.informer(TYPES.Model)?.hasSynced === true);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(pins(bare), ['Pin ha to v2 (drift)']);
    assert.equal(conditionOf(await getModel(ns, 'ha'), 'WrittenBack')?.reason, 'Pushed');
  });

  test('a rejected or unreachable push shows in WrittenBack and an Event; a later success clears it', async () => {
    const ns = await newNs('wbfail');
    const bare = remote('fail');
    const hook = join(bare, 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\necho "lock file is frozen for the release" >&2\nexit 1\n');
    chmodSync(hook, 0o755);
    const metrics = new TestMetrics();
    await operator(ns, bare, { metrics });
    await promote(ns, 'risk', (m) => metrics.set('risk', 2, m));
    const rejected = await eventually(
      'WrittenBack False (rejected)',
      async () => {
        const o = await getModel(ns, 'risk');
        const c = conditionOf(o, 'WrittenBack');
        return c?.status === 'False' && (o?.status as ModelStatus).writeBack?.failures! >= 2 ? c : undefined;
      },
      { timeoutMs: 20_000 },
    );
    assert.equal(rejected.reason, 'PushFailed');
    assert.match(
      rejected.message,
      new RegExp(`^writing version 2 to ${LOCK} on ${bare} main failed \\(attempt \\d+, next in \\d+ s\\): pushing to ${bare} main: `),
    );
    assert.match(rejected.message, /lock file is frozen for the release/);
    assert.match(rejected.message, /pre-receive hook declined/);
    // The Model itself is not held up: it is Ready and promoted.
    const model = (await getModel(ns, 'risk'))!;
    assert.equal(conditionOf(model, 'Ready')?.status, 'True');
    const warnings = await eventually('one WriteBackFailed Event', async () => {
      const evs = (await store.list(TYPES.Event, ns)).items.filter((e) => e.reason === 'WriteBackFailed');
      return evs.length ? evs : undefined;
    });
    assert.equal(warnings.length, 1, 'one Warning per outage, not one per retry');
    assert.equal(warnings[0].type, 'Warning');

    // Unreachable: the remote is gone.
    rmSync(hook);
    renameSync(bare, `${bare}.away`);
    await eventually(
      'WrittenBack False (unreachable)',
      async () => {
        const c = conditionOf(await getModel(ns, 'risk'), 'WrittenBack');
        return c?.status === 'False' && /does not appear to be a git repository|fetching main from/.test(c.message);
      },
      { timeoutMs: 20_000 },
    );
    assert.deepEqual(pins(`${bare}.away`), []);

    // Back: the next attempt (within the 1 s backoff cap) pushes and clears the condition.
    renameSync(`${bare}.away`, bare);
    const ok = await writtenBack(ns, 'risk', 'Pushed');
    assert.equal((ok.status as ModelStatus).writeBack?.failures, undefined);
    assert.deepEqual(pins(bare), ['Pin risk to v2 (drift)']);
  });
});

/**
 * The GitOps loop keeps turning once a version is pinned: the REAL kube-apiserver from the peers
 * harness (the test plays KServe and Argo CD: it writes InferenceService status, and applies the
 * Model the construct synthesizes from the lock file at the remote), a real bare git remote the
 * operator writes back to, and the local registry. A Model pinned at v2 and following 'latest'
 * canaries and promotes a newly registered v3, the write-back pins v3, and applying the
 * re-synthesized Model (pin v3) changes nothing. A v4 that fails its canary is not tried again, a
 * pin reverted in Git to v1 rolls nothing back, and a fixed reference ('fraud@2') does.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Chart } from 'cdk8s';
import { eventually, uniqueName, usePeers } from '../peers/index.ts';
import { KubeStore, loadKubeConfig } from '../../controllers/runtime/kube-store.ts';
import { TYPES } from '../../controllers/runtime/store.ts';
import { startOperator } from '../../controllers/operator.ts';
import { LocalRegistry } from '../../components/registry/local.ts';
import { createLogger } from '../../controllers/runtime/log.ts';
import { Model, Rollout } from '../../charts/index.ts';
import { synthesize } from '../../charts/synth.ts';
import type { ModelSpec, ModelStatus } from '../../api/crds/index.ts';
import { conditionOf, createNamespace, playKServe, TestMetrics } from './kube-helpers.ts';
import type { K8sObject } from '../../api/objects.ts';

const peers = await usePeers(['kube']);
const quiet = createLogger({ level: 'error' });
const LOCK = 'deploy/models.lock.json';

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
  });

describe('a pinned Model following latest keeps rolling out new versions', { skip: peers.skip }, () => {
  let store: KubeStore;
  let dir: string;
  let registry: LocalRegistry;
  const stops: Array<() => unknown> = [];

  before(() => {
    store = new KubeStore(loadKubeConfig(peers.kubeconfig));
    dir = mkdtempSync(join(tmpdir(), 'gt-pinned-'));
    registry = new LocalRegistry({ dir: join(dir, 'registry') });
  });
  after(async () => {
    for (const s of stops.reverse()) await s();
    rmSync(dir, { recursive: true, force: true });
  });

  const register = async (name: string, reason: string, metrics: Record<string, number> = {}) => {
    const f = join(dir, `${name}-${Math.random().toString(36).slice(2)}.onnx`);
    writeFileSync(f, `model ${name} ${Math.random()}`);
    return registry.registerVersion(name, { artifactPath: f, metrics, lineage: { reason } });
  };
  const pins = (bare: string) =>
    git(bare, 'log', '--format=%s', 'main')
      .split('\n')
      .filter((s) => s.startsWith('Pin '));
  const remoteLock = (bare: string) =>
    JSON.parse(git(bare, 'show', `main:${LOCK}`)) as { models: Record<string, { version: number; previous?: number; reason: string }> };

  /** What `ghosteam synth` makes of the app with the lock file at the remote's main next to it. */
  const synthModel = (bare: string, ns: string, o: { lock?: string; registry?: string } = {}): K8sObject & { spec: ModelSpec } => {
    const appDir = mkdtempSync(join(dir, 'app-'));
    writeFileSync(join(appDir, 'models.lock.json'), o.lock ?? git(bare, 'show', `main:${LOCK}`));
    const app = new App();
    const chart = new Chart(app, 'serving', { namespace: ns });
    new Model(chart, 'fraud', {
      registry: o.registry ?? 'fraud',
      rollout: Rollout.canary({ steps: [50], interval: '1s', maxErrorRate: 0.05, minRequests: 10 }),
    });
    const m = synthesize(app, { sourceCommit: false, crds: false, appDir }).objects.find((o) => o.kind === 'Model') as K8sObject & {
      spec: ModelSpec;
    };
    return m;
  };
  const getModel = (ns: string) => store.get(TYPES.Model, ns, 'fraud') as Promise<(K8sObject & { spec: ModelSpec; status?: ModelStatus }) | undefined>;
  const touch = async (ns: string, v: string) => {
    // The registry is not watched: a label touch makes the operator look now (a resync would, later).
    // The operator writes the Model's status meanwhile: on a 409, read it again and retry, as any client does.
    for (let attempt = 1; ; attempt++) {
      const cur = (await getModel(ns))!;
      try {
        await store.replace(TYPES.Model, { ...cur, metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, touched: v } } });
        return;
      } catch (e) {
        if ((e as { code?: number }).code !== 409 || attempt >= 5) throw e;
      }
    }
  };

  test('pin v2 + latest: v3 is canaried, promoted and pinned; the re-synthesized Model changes nothing; a failed v4 is not retried; a reverted pin rolls nothing back, a fixed reference does', async () => {
    const ns = uniqueName('pinned');
    await createNamespace(store, ns);
    stops.push(playKServe(store, ns));

    // The remote's main pins fraud at v2 (an earlier promotion); the registry has v1 and v2.
    const bare = join(dir, 'remote.git');
    git(dir, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
    const seed = join(dir, 'seed');
    git(dir, 'init', '--quiet', '--initial-branch=main', seed);
    mkdirSync(join(seed, 'deploy'));
    writeFileSync(
      join(seed, LOCK),
      `${JSON.stringify({ models: { fraud: { version: 2, previous: 1, promotedAt: '2026-11-23T04:00:00.000Z', reason: 'drift', metrics: {} } } }, null, 2)}\n`,
    );
    git(seed, 'add', '.');
    git(seed, 'commit', '--quiet', '-m', 'Pin fraud to v2 (drift)');
    git(seed, 'push', '--quiet', bare, 'main');
    await register('fraud', 'manual');
    await register('fraud', 'drift');

    const metrics = new TestMetrics();
    const op = await startOperator({
      kubeconfig: peers.kubeconfig,
      registry,
      namespace: ns,
      log: quiet,
      gpuScheduling: false,
      workers: 2,
      metrics,
      gitWriteBack: { repo: bare, lockFile: LOCK, backoff: { baseMs: 200, maxMs: 1000 } },
    });
    stops.push(() => op.stop());

    const first = synthModel(bare, ns);
    assert.deepEqual(first.spec.modelRef, { name: 'fraud', version: 2, alias: 'latest' });
    await store.create(TYPES.Model, first);
    const v2 = await eventually(
      'v2 serving',
      async () => {
        const o = await getModel(ns);
        return conditionOf(o, 'Ready')?.status === 'True' && o!.status?.stableVersion === 2 ? o : undefined;
      },
      { timeoutMs: 20_000 },
    );
    assert.equal(v2.status?.canaryVersion, undefined);
    // Following latest (not champion): the operator keeps champion on the promoted version.
    await eventually('champion at v2', async () => (await registry.resolve('fraud', 'champion').catch(() => undefined))?.version === 2, { timeoutMs: 10_000 });

    // A drift-triggered retrain registers v3: canaried against the pin, then promoted.
    metrics.set('fraud', 3, { requests: 400, errors: 0, p99LatencyMs: 20 });
    await register('fraud', 'drift', { auc: 0.93 });
    await touch(ns, '1');
    const promoted = await eventually(
      'v3 promoted',
      async () => {
        const o = await getModel(ns);
        return o?.status?.stableVersion === 3 && o.status.canaryVersion === undefined && conditionOf(o, 'Progressing')?.reason === 'Promoted' ? o : undefined;
      },
      { timeoutMs: 30_000 },
    );
    assert.deepEqual(
      promoted.status!.analysis?.map((a) => [a.version, a.trafficPercent, a.passed]),
      [[3, 50, true]],
    );
    // The alias moves right after the status commit.
    await eventually('champion at v3', async () => (await registry.resolve('fraud', 'champion')).version === 3, { timeoutMs: 10_000 });
    const events = (await store.list(TYPES.Event, ns)).items.filter((e) => (e.involvedObject as { name: string }).name === 'fraud').map((e) => e.reason);
    assert.ok(events.includes('RolloutStarted') && events.includes('Promoted'), `events: ${events.join(', ')}`);

    // Write-back pins v3 at the remote: one commit on top of the seed.
    await eventually('WrittenBack Pushed', async () => conditionOf(await getModel(ns), 'WrittenBack')?.reason === 'Pushed', { timeoutMs: 20_000 });
    assert.deepEqual(pins(bare), ['Pin fraud to v3 (drift)', 'Pin fraud to v2 (drift)']);
    assert.deepEqual([remoteLock(bare).models.fraud.version, remoteLock(bare).models.fraud.previous], [3, 2]);

    // Argo CD syncs the re-synthesized Model (pin v3): nothing moves.
    const again = synthModel(bare, ns);
    assert.deepEqual(again.spec.modelRef, { name: 'fraud', version: 3, alias: 'latest' });
    const cur = (await getModel(ns))!;
    const isvcBefore = (await store.get(TYPES.InferenceService, ns, 'fraud'))!;
    const applied = await store.replace(TYPES.Model, { ...cur, spec: again.spec });
    const gen = applied.metadata.generation!;
    assert.ok(gen > (cur.metadata.generation ?? 1), 'the pin bump is a spec change');
    await eventually('the new generation observed', async () => (await getModel(ns))?.status?.observedGeneration === gen, { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 1500));
    const settled = (await getModel(ns))!;
    assert.equal(settled.status?.stableVersion, 3);
    assert.equal(settled.status?.canaryVersion, undefined);
    assert.equal(conditionOf(settled, 'Progressing')?.reason, 'Promoted');
    assert.equal(conditionOf(settled, 'Ready')?.status, 'True');
    assert.equal((await store.get(TYPES.InferenceService, ns, 'fraud'))!.metadata.generation, isvcBefore.metadata.generation);
    assert.deepEqual(pins(bare), ['Pin fraud to v3 (drift)', 'Pin fraud to v2 (drift)']);

    // v4 fails its canary: rolled back, and not tried again while latest stays at v4.
    metrics.set('fraud', 4, { requests: 400, errors: 200, p99LatencyMs: 20 });
    await register('fraud', 'drift');
    await touch(ns, '2');
    const rolledBack = await eventually(
      'v4 rolled back',
      async () => {
        const o = await getModel(ns);
        return o?.status?.lastFailedVersion === 4 && o.status.phase === 'RolledBack' ? o : undefined;
      },
      { timeoutMs: 30_000 },
    );
    assert.equal(rolledBack.status!.stableVersion, 3);
    await touch(ns, '3');
    await new Promise((r) => setTimeout(r, 2000));
    const after4 = (await getModel(ns))!;
    assert.equal(after4.status?.canaryVersion, undefined);
    assert.equal(after4.status?.stableVersion, 3);
    assert.equal((after4.status?.analysis ?? []).filter((a) => a.version === 4).length, 1, 'one analysis of v4: it ran once');
    assert.equal((await store.list(TYPES.Event, ns)).items.filter((e) => e.reason === 'RolloutStarted').length, 2, 'rollouts of v3 and v4 only');
    assert.deepEqual(pins(bare), ['Pin fraud to v3 (drift)', 'Pin fraud to v2 (drift)']);

    // A human reverts the pin in Git to v1 while latest points higher: no rollback (v4 failed, so
    // the baseline is what serves, v3).
    const reverted = synthModel(bare, ns, {
      lock: JSON.stringify({ models: { fraud: { version: 1, promotedAt: '2026-11-23T04:00:00.000Z', reason: 'manual', metrics: {} } } }),
    });
    assert.deepEqual(reverted.spec.modelRef, { name: 'fraud', version: 1, alias: 'latest' });
    const beforeRevert = (await getModel(ns))!;
    const revertedGen = (await store.replace(TYPES.Model, { ...beforeRevert, spec: reverted.spec })).metadata.generation!;
    await eventually('the reverted pin observed', async () => (await getModel(ns))?.status?.observedGeneration === revertedGen, { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 1500));
    const stayed = (await getModel(ns))!;
    assert.deepEqual([stayed.status?.stableVersion, stayed.status?.canaryVersion, stayed.status?.phase], [3, undefined, 'RolledBack']);

    // The way back is a fixed reference, which wins over the lock file: 'fraud@2' is canaried and
    // promoted; the lock file keeps v3 (write-back never downgrades) and champion stays on v3.
    metrics.set('fraud', 2, { requests: 400, errors: 0, p99LatencyMs: 20 });
    const forced = synthModel(bare, ns, { registry: 'fraud@2' });
    assert.deepEqual(forced.spec.modelRef, { name: 'fraud', version: 2 });
    await store.replace(TYPES.Model, { ...(await getModel(ns))!, spec: forced.spec });
    await eventually(
      'v2 promoted by the fixed reference',
      async () => {
        const o = await getModel(ns);
        return o?.status?.stableVersion === 2 && o.status.canaryVersion === undefined && conditionOf(o, 'Progressing')?.reason === 'Promoted';
      },
      { timeoutMs: 30_000 },
    );
    await eventually('WrittenBack Superseded', async () => conditionOf(await getModel(ns), 'WrittenBack')?.reason === 'Superseded', { timeoutMs: 20_000 });
    assert.equal(remoteLock(bare).models.fraud.version, 3);
    assert.equal((await registry.resolve('fraud', 'champion')).version, 3);
  });
});

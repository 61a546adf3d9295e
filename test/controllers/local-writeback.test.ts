/**
 * Write-back in local mode (the embedded default): the real reconcilers over the file-backed
 * LocalStore, the real local registry and a real bare git remote on disk; the model server is the
 * in-memory double of local-operator.test.ts (so the test sets the canary's metrics).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRegistry } from '../../components/registry/local.ts';
import { startLocalOperator, type LocalOperator } from '../../controllers/local.ts';
import { TYPES } from '../../controllers/runtime/store.ts';
import { openAuditLog, verifyAuditChain, type AuditLog, type AuditRecord } from '../../components/security/audit.ts';
import type { ModelStatus } from '../../api/crds/index.ts';
import { FakeModelServer, modelObject } from './fakes.ts';
import type { K8sObject } from '../../api/objects.ts';

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
  });
const cond = (o: K8sObject, type: string) => ((o.status as ModelStatus | undefined)?.conditions ?? []).find((c) => c.type === type);

describe('local operator: write-back', () => {
  let dir: string;
  let bare: string;
  let registry: LocalRegistry;
  let server: FakeModelServer;
  let op: LocalOperator | undefined;
  let audit: AuditLog | undefined;
  const start = async () => {
    // The same audit file across the restart: the chain goes on.
    audit = await openAuditLog(join(dir, 'audit.jsonl'));
    return startLocalOperator({
      stateDir: join(dir, 'state'),
      registry,
      modelServer: server,
      gitWriteBack: { repo: bare, backoff: { baseMs: 200, maxMs: 1000 } },
      audit: { log: audit, who: 'ghosteam-operator@test' },
    });
  };
  const audited = () =>
    readFileSync(join(dir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as AuditRecord);
  const pins = () =>
    git(bare, 'log', '--format=%s', 'main')
      .split('\n')
      .filter((s) => s.startsWith('Pin '));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gt-localwb-'));
    registry = new LocalRegistry({ dir: join(dir, 'registry') });
    server = new FakeModelServer();
    bare = join(dir, 'remote.git');
    git(dir, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
    const seed = join(dir, 'seed');
    git(dir, 'init', '--quiet', '--initial-branch=main', seed);
    writeFileSync(join(seed, 'app.ts'), 'export {};\n');
    git(seed, 'add', '.');
    git(seed, 'commit', '--quiet', '-m', 'initial');
    git(seed, 'push', '--quiet', bare, 'main');
  });
  after(async () => {
    await op?.stop();
    await audit?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a promotion is pinned in models.lock.json once, also after a restart that lost the status', async () => {
    op = await start();
    const register = (tag: string, reason: string) => {
      const f = join(dir, `fraud-${tag}.onnx`);
      writeFileSync(f, `model ${tag}`);
      return registry.registerVersion('fraud', { artifactPath: f, lineage: { reason } });
    };
    await register('a', 'manual');
    await op.apply(modelObject('fraud'));
    await op.waitFor('Model', 'default', 'fraud', (m) => cond(m, 'Ready')?.status === 'True');
    server.setStats('fraud', 2, { requests: 200, errors: 0, p99: 40 });
    await register('b', 'git-change');
    await op.apply({ ...modelObject('fraud'), metadata: { name: 'fraud', namespace: 'default', annotations: { touch: '1' } } });
    const done = await op.waitFor('Model', 'default', 'fraud', (m) => cond(m, 'WrittenBack')?.reason === 'Pushed', 20_000);
    assert.equal((done.status as ModelStatus).writeBack?.commit, git(bare, 'rev-parse', 'main').trim());
    assert.deepEqual(pins(), ['Pin fraud to v2 (git-change)']);
    assert.equal((JSON.parse(git(bare, 'show', 'main:models.lock.json')) as { models: Record<string, { version: number }> }).models.fraud.version, 2);

    // The operator's decisions are in the audit log, in order: who, what, when, the outcome.
    const lines = audited();
    assert.deepEqual(
      lines.map((l) => `${l.what} ${l.target} ${l.outcome} (${(l.detail as { reason: string }).reason})`),
      [
        'traffic default/fraud success (Deployed)',
        'traffic default/fraud success (RolloutStarted)',
        ...lines.filter((l) => (l.detail as { reason: string }).reason === 'StepPassed').map(() => 'traffic default/fraud success (StepPassed)'),
        'promote default/fraud success (Promoted)',
        'write-back default/fraud success (WrittenBack)',
      ],
    );
    for (const l of lines) {
      assert.equal(l.who, 'ghosteam-operator@test');
      assert.equal(l.via, 'operator');
      assert.ok(Math.abs(Date.parse(l.when) - Date.now()) < 120_000, l.when);
    }
    assert.match((lines.at(-1)!.detail as { message: string }).message, /version 2/);
    assert.equal(verifyAuditChain(readFileSync(join(dir, 'audit.jsonl'), 'utf8')), undefined);

    // The status write is lost (a crash right after the push): the next operator finds the pin.
    await op.stop();
    await audit!.close();
    op = undefined;
    const { LocalStore } = await import('../../controllers/runtime/local-store.ts');
    const store = await LocalStore.open({ stateDir: join(dir, 'state') });
    const cur = (await store.get(TYPES.Model, 'default', 'fraud'))!;
    const { writeBack: _w, ...rest } = cur.status as ModelStatus;
    await store.replaceStatus(TYPES.Model, { ...cur, status: { ...rest, conditions: rest.conditions?.filter((c) => c.type !== 'WrittenBack') } });
    store.close();
    op = await start();
    const again = await op.waitFor('Model', 'default', 'fraud', (m) => cond(m, 'WrittenBack')?.reason === 'AlreadyPinned', 20_000);
    assert.equal((again.status as ModelStatus).writeBack?.version, 2);
    assert.deepEqual(pins(), ['Pin fraud to v2 (git-change)']);
    // Finding the pin already there commits nothing: no new write-back line; the chain is still whole.
    assert.equal(audited().filter((l) => l.what === 'write-back').length, 1);
    assert.equal(verifyAuditChain(readFileSync(join(dir, 'audit.jsonl'), 'utf8')), undefined);
  });
});

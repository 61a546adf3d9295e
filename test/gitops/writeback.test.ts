// Write-back against a real git remote (git http-backend on 127.0.0.1, Basic auth): pins land,
// races lose no update, credentials never show up in URLs or messages.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBack } from '../../gitops/writeback.ts';
import { parseLock } from '../../gitops/lockfile.ts';
import { parseTrailers, writebackReason } from '../../gitops/retrain.ts';
import { git, startGitServer, type GitServer } from './git-server.ts';

const AUTH = { username: 'bot', password: 's3cret-token-XYZ' };
const authEnv = async (dir: string, ...args: string[]) => {
  const header = `Authorization: Basic ${Buffer.from(`${AUTH.username}:${AUTH.password}`).toString('base64')}`;
  return git(dir, '-c', `http.extraHeader=${header}`, ...args);
};

let server: GitServer;
const scratch: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'ghosteam-wb-test-'));
  scratch.push(d);
  return d;
};

/** A remote with one commit: an app file and a lock pinning fraud at v3. */
async function seedRepo(name: string): Promise<string> {
  const url = server.createRepo(name);
  const dir = tmp();
  await git(dir, 'init', '--quiet', '--initial-branch=main');
  writeFileSync(join(dir, 'app.ts'), 'export const x = 1;\n');
  writeFileSync(
    join(dir, 'models.lock.json'),
    JSON.stringify({ models: { fraud: { version: 3, promotedAt: '2026-01-01T00:00:00.000Z', reason: 'manual', metrics: {} } } }),
  );
  await git(dir, 'add', '.');
  await git(dir, 'commit', '--quiet', '-m', 'initial');
  await authEnv(dir, 'push', '--quiet', url, 'main');
  return url;
}

async function remoteLock(url: string, branch = 'main'): Promise<ReturnType<typeof parseLock> & { text: string }> {
  const dir = tmp();
  await authEnv(dir, 'clone', '--quiet', '--branch', branch, url, 'c');
  const text = readFileSync(join(dir, 'c', 'models.lock.json'), 'utf8');
  return { ...parseLock(text), text };
}

async function remoteLog(url: string): Promise<string[]> {
  const dir = tmp();
  await authEnv(dir, 'clone', '--quiet', url, 'c');
  return (await git(join(dir, 'c'), 'log', '--format=%B%x00'))
    .split('\0')
    .map((s) => s.trim())
    .filter(Boolean);
}

const pin = (model: string, version: number, metrics: Record<string, number> = { auc: 0.91 }) => ({
  model,
  version,
  reason: 'drift' as const,
  metrics,
  promotedAt: '2026-11-23T04:00:00.000Z',
});

before(async () => {
  server = await startGitServer({ auth: AUTH });
});
after(async () => {
  await server.close();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

describe('writeBack', () => {
  test('pins a promoted version with a descriptive, trailer-marked commit that touches only the lock', async () => {
    const url = await seedRepo('single');
    const r = await writeBack({ repo: url, pin: pin('fraud', 4, { auc: 0.9134, f1: 0.8 }), credentials: AUTH });
    assert.equal(r.outcome, 'pushed');
    assert.equal(r.previous, 3);
    assert.equal(r.attempts, 1);
    const lock = await remoteLock(url);
    assert.deepEqual(lock.models.fraud, {
      version: 4,
      previous: 3,
      promotedAt: '2026-11-23T04:00:00.000Z',
      reason: 'drift',
      metrics: { auc: 0.9134, f1: 0.8 },
    });
    assert.ok(lock.text.endsWith('}\n'));
    const [msg] = await remoteLog(url);
    assert.match(msg, /^Pin fraud to v4 \(drift\)/);
    assert.match(msg, /promoted v3 → v4/);
    assert.match(msg, /Metrics: auc=0\.9134, f1=0\.8\./);
    assert.equal(parseTrailers(msg)['ghosteam-writeback'], 'true');
    // The commit is recognised as a write-back, by trailer and by the files it touches.
    const dir = tmp();
    await authEnv(dir, 'clone', '--quiet', url, 'c');
    const files = (await git(join(dir, 'c'), 'show', '--name-only', '--format=', 'HEAD')).split('\n').filter(Boolean);
    assert.deepEqual(files, ['models.lock.json']);
    assert.match(writebackReason({ sha: r.commit as string, message: msg, files }) ?? '', /Ghosteam-Writeback trailer/);
    // Credentials went in a header, never in a URL.
    assert.ok(server.authHeaders.length > 0);
    assert.ok(server.requests.every((l) => !l.includes(AUTH.password)));
  });

  test('writing the same pin again is a no-op, and an older version never downgrades', async () => {
    const url = await seedRepo('idempotent');
    assert.equal((await writeBack({ repo: url, pin: pin('fraud', 5), credentials: AUTH })).outcome, 'pushed');
    const head1 = (await remoteLog(url)).length;
    assert.equal((await writeBack({ repo: url, pin: pin('fraud', 5), credentials: AUTH })).outcome, 'unchanged');
    const r = await writeBack({ repo: url, pin: pin('fraud', 4), credentials: AUTH });
    assert.equal(r.outcome, 'superseded');
    assert.equal(r.pinned, 5);
    assert.equal((await remoteLog(url)).length, head1);
    assert.equal((await remoteLock(url)).models.fraud.version, 5);
  });

  test('a push that loses the race re-fetches, re-applies and keeps the other writer’s pin', async () => {
    const url = await seedRepo('race-forced');
    const lines: string[] = [];
    let raced = false;
    const r = await writeBack({
      repo: url,
      pin: pin('fraud', 4),
      credentials: AUTH,
      backoffMs: 10,
      log: (l) => lines.push(l),
      // Another writer pins churn after our fetch and before our push.
      beforePush: async (attempt) => {
        if (attempt !== 1 || raced) return;
        raced = true;
        const other = await writeBack({ repo: url, pin: pin('churn', 2), credentials: AUTH });
        assert.equal(other.outcome, 'pushed');
      },
    });
    assert.equal(r.outcome, 'pushed');
    assert.equal(r.attempts, 2);
    assert.ok(
      lines.some((l) => /rejected \(non-fast-forward, attempt 1\)/.test(l)),
      lines.join('\n'),
    );
    const lock = await remoteLock(url);
    assert.equal(lock.models.fraud.version, 4);
    assert.equal(lock.models.churn.version, 2);
    assert.equal((await remoteLog(url)).length, 3);
  });

  test('concurrent writers for several models: every pin ends up on main, none lost', async () => {
    const url = await seedRepo('race-concurrent');
    const models = ['fraud', 'churn', 'ltv', 'spam'];
    const results = await Promise.all(models.map((m, i) => writeBack({ repo: url, pin: pin(m, 10 + i), credentials: AUTH, backoffMs: 20, maxAttempts: 12 })));
    assert.deepEqual(
      results.map((r) => r.outcome),
      ['pushed', 'pushed', 'pushed', 'pushed'],
    );
    const lock = await remoteLock(url);
    assert.deepEqual(Object.fromEntries(models.map((m) => [m, lock.models[m].version])), { fraud: 10, churn: 11, ltv: 12, spam: 13 });
    assert.equal((await remoteLog(url)).length, 1 + models.length);
  });

  test('two versions of one model racing: the newest wins, the older never overwrites it', async () => {
    const url = await seedRepo('race-same-model');
    const [a, b] = await Promise.all([
      writeBack({ repo: url, pin: pin('fraud', 4), credentials: AUTH, backoffMs: 20 }),
      writeBack({ repo: url, pin: pin('fraud', 5), credentials: AUTH, backoffMs: 20 }),
    ]);
    assert.equal(b.outcome, 'pushed');
    assert.ok(a.outcome === 'pushed' || a.outcome === 'superseded', a.outcome);
    const lock = await remoteLock(url);
    assert.equal(lock.models.fraud.version, 5);
    assert.equal(lock.models.fraud.previous, a.outcome === 'pushed' ? 4 : 3);
  });

  test('pushes to a review branch, leaving main untouched', async () => {
    const url = await seedRepo('branch');
    const r = await writeBack({ repo: url, pushBranch: 'ghosteam/pins', pin: pin('fraud', 4), credentials: AUTH });
    assert.equal(r.branch, 'ghosteam/pins');
    assert.equal((await remoteLock(url)).models.fraud.version, 3);
    assert.equal((await remoteLock(url, 'ghosteam/pins')).models.fraud.version, 4);
    // A second pin accumulates on the same branch.
    await writeBack({ repo: url, pushBranch: 'ghosteam/pins', pin: pin('churn', 1), credentials: AUTH });
    const branchLock = await remoteLock(url, 'ghosteam/pins');
    assert.deepEqual([branchLock.models.fraud.version, branchLock.models.churn.version], [4, 1]);
  });

  test('a failure names the remote with credentials redacted', async () => {
    const url = await seedRepo('denied');
    const withCreds = url.replace('http://', `http://${AUTH.username}:wrong-${AUTH.password}@`);
    await assert.rejects(writeBack({ repo: withCreds, pin: pin('fraud', 4), credentials: { username: 'bot', password: 'not-the-password' } }), (e: Error) => {
      assert.match(e.message, /^fetching main from http:\/\/\*\*\*@127\.0\.0\.1:\d+\/denied\.git: /);
      assert.ok(!e.message.includes(AUTH.password), e.message);
      assert.ok(!e.message.includes('not-the-password'), e.message);
      return true;
    });
  });
});

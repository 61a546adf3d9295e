import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStore } from '../../controllers/runtime/local-store.ts';
import { TYPES, ApiError } from '../../controllers/runtime/store.ts';
import { runStoreSuite } from './store-suite.ts';

describe('LocalStore: the shared store suite', () => {
  runStoreSuite(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gt-store-'));
    const store = await LocalStore.open({ stateDir: dir });
    return {
      store,
      ns: 'ml',
      done: async () => {
        store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
});

describe('LocalStore specifics', () => {
  test('state survives a restart (files under the state dir) and resourceVersions keep increasing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gt-store-'));
    try {
      const a = await LocalStore.open({ stateDir: dir });
      const c = await a.create(TYPES.TrainingRun, {
        apiVersion: 'ghosteam.io/v1alpha1',
        kind: 'TrainingRun',
        metadata: { name: 'r1', namespace: 'ml' },
        spec: { pipeline: 'p' },
      });
      await assert.rejects(LocalStore.open({ stateDir: dir }), /is in use by another ghosteam operator/);
      a.close();
      const b = await LocalStore.open({ stateDir: dir });
      const g = await b.get(TYPES.TrainingRun, 'ml', 'r1');
      assert.equal(g?.metadata.uid, c.metadata.uid);
      const d = await b.create(TYPES.TrainingRun, {
        apiVersion: 'ghosteam.io/v1alpha1',
        kind: 'TrainingRun',
        metadata: { name: 'r2', namespace: 'ml' },
        spec: {},
      });
      assert.ok(Number(d.metadata.resourceVersion) > Number(c.metadata.resourceVersion));
      assert.equal(JSON.parse(readFileSync(join(dir, 'TrainingRun.ghosteam.io', 'ml', 'r1.json'), 'utf8')).metadata.name, 'r1');
      b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('watch from a version older than the history is 410 Gone', async () => {
    const s = await LocalStore.open({ historySize: 2 });
    for (let i = 0; i < 5; i++)
      await s.create(TYPES.TrainingRun, { apiVersion: 'ghosteam.io/v1alpha1', kind: 'TrainingRun', metadata: { name: `r${i}`, namespace: 'ml' }, spec: {} });
    const err = await new Promise<unknown>((resolve) => void s.watch(TYPES.TrainingRun, undefined, '1', () => {}, resolve));
    assert.ok(err instanceof ApiError && err.code === 410, String(err));
    s.close();
  });

  test('invalid names are rejected with the field', async () => {
    const s = await LocalStore.open();
    await assert.rejects(s.create(TYPES.Model, { apiVersion: 'x', kind: 'Model', metadata: { name: 'Bad_Name', namespace: 'ml' } }), {
      message: 'Model "Bad_Name": metadata.name must be a lower-case DNS-1123 subdomain',
    });
    await assert.rejects(s.create(TYPES.Model, { apiVersion: 'x', kind: 'Model', metadata: { name: 'ok' } }), {
      message: 'Model ok: metadata.namespace is required',
    });
    s.close();
  });
});

describe('LocalStore lock after kill -9', () => {
  test('a dead owner (kill -9) does not block a restart; a live owner in another process still does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gt-store-lock-'));
    const store = join(import.meta.dirname, '../../controllers/runtime/local-store.ts');
    const holder = () =>
      spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          `const { LocalStore } = await import(${JSON.stringify(store)}); await LocalStore.open({ stateDir: ${JSON.stringify(dir)} }); console.log('locked'); setInterval(() => {}, 1000);`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
    const locked = (c: ReturnType<typeof spawn>) =>
      new Promise<void>((resolve, reject) => {
        c.stdout!.on('data', (b: Buffer) => {
          if (b.toString().includes('locked')) resolve();
        });
        c.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
      });
    try {
      const live = holder();
      await locked(live);
      await assert.rejects(LocalStore.open({ stateDir: dir }), /is in use by another ghosteam operator/);
      const gone = new Promise((r) => live.once('exit', r));
      live.kill('SIGKILL');
      await gone;
      const t0 = Date.now();
      const s = await LocalStore.open({ stateDir: dir });
      assert.ok(Date.now() - t0 < 5_000, 'taken over at once, not after the 30 s stale window');
      s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

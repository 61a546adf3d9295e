/**
 * Lineage of a dirty tree: synth and a local run from a checkout with uncommitted changes record the
 * commit AND a digest of the changes (ghosteam.io/source-dirty, RunRecord.gitDirty, the register
 * step's lineage.gitDirty); a clean checkout records the commit alone. Real git, temp repositories.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { App, Chart } from 'cdk8s';
import { dirtyDigest, gitSource, gitSourceSync } from '../../api/git-source.ts';
import { lineageFrom } from '../../components/register/index.ts';
import { synthesize } from '../../charts/synth.ts';
import { Model } from '../../charts/model.ts';
import { runPipeline } from '../../pipelines/local/engine.ts';
import { VOLATILE_ANNOTATIONS } from '../../gitops/objects.ts';
import { catalog, comp, pipeline, task, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(() => cleanup());

function repo(name: string): { path: string; head: string } {
  const path = `${dir}/${name}`;
  const git = (...a: string[]) => execFileSync('git', a, { cwd: path, encoding: 'utf8' }).trim();
  execFileSync('git', ['init', '-q', '--initial-branch=main', path]);
  git('config', 'user.email', 't@example.com');
  git('config', 'user.name', 't');
  writeFileSync(`${path}/app.ts`, 'export const a = 1;\n');
  git('add', '.');
  git('commit', '-qm', 'first');
  return { path, head: git('rev-parse', 'HEAD') };
}

describe('dirty-tree lineage', () => {
  test('dirtyDigest: clean is undefined, a change is a stable sha256 that differs per change', () => {
    assert.equal(dirtyDigest('', ''), undefined);
    const a = dirtyDigest(' M app.ts\n', 'diff a');
    assert.match(a ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal(dirtyDigest(' M app.ts\n', 'diff a'), a);
    assert.notEqual(dirtyDigest(' M app.ts\n', 'diff b'), a);
  });

  test('gitSource: clean, an edit, an untracked file; outside git undefined', async () => {
    const r = repo('src');
    assert.deepEqual(gitSourceSync(r.path), { commit: r.head });
    writeFileSync(`${r.path}/app.ts`, 'export const a = 2;\n');
    const edited = gitSourceSync(r.path);
    assert.equal(edited?.commit, r.head);
    assert.match(edited?.dirty ?? '', /^sha256:/);
    assert.deepEqual(await gitSource(r.path), edited);
    writeFileSync(`${r.path}/new.ts`, 'x');
    assert.notEqual(gitSourceSync(r.path)?.dirty, edited?.dirty);
    assert.equal(gitSourceSync('/'), undefined);
  });

  test('synth annotates a dirty tree with ghosteam.io/source-dirty next to the commit; plan treats it as volatile', () => {
    const r = repo('synth');
    const build = () => {
      const app = new App();
      new Model(new Chart(app, 'c', { namespace: 'ml' }), 'fraud', { registry: 'fraud@champion', useLockFile: false });
      return synthesize(app, { appDir: r.path, crds: false }).objects.find((o) => o.kind === 'Model')!.metadata.annotations ?? {};
    };
    let ann = build();
    assert.equal(ann['ghosteam.io/source-commit'], r.head);
    assert.equal(ann['ghosteam.io/source-dirty'], undefined);
    writeFileSync(`${r.path}/app.ts`, 'export const a = 3;\n');
    ann = build();
    assert.equal(ann['ghosteam.io/source-commit'], r.head);
    assert.equal(ann['ghosteam.io/source-dirty'], gitSourceSync(r.path)?.dirty);
    assert.ok(VOLATILE_ANNOTATIONS.includes('ghosteam.io/source-dirty'));
  });

  test('a local run from a dirty tree records gitDirty in its record and passes it to the register lineage', async () => {
    const r = repo('run');
    let seen: Record<string, unknown> = {};
    const c = comp('look', (ctx) => {
      seen = { ...ctx.params };
    });
    const spec = pipeline('p', [task('look', { component: { name: 'look', version: '1' } })]);
    const clean = await runPipeline(spec, { storeDir: `${dir}/store-clean`, cwd: r.path, components: catalog(c), cache: false });
    assert.equal(clean.gitCommit, r.head);
    assert.equal(clean.gitDirty, undefined);
    assert.equal(seen['ghosteam.gitDirty'], undefined);
    writeFileSync(`${r.path}/app.ts`, 'export const a = 4;\n');
    const dirty = await runPipeline(spec, { storeDir: `${dir}/store-dirty`, cwd: r.path, components: catalog(c), cache: false });
    assert.equal(dirty.status, 'Succeeded', dirty.message);
    assert.equal(dirty.gitCommit, r.head);
    assert.match(dirty.gitDirty ?? '', /^sha256:/);
    assert.equal(seen['ghosteam.gitDirty'], dirty.gitDirty);
    assert.deepEqual(lineageFrom(seen as never, {}), {
      runId: dirty.id,
      pipeline: 'p',
      gitCommit: r.head,
      gitDirty: dirty.gitDirty,
      task: 'look',
    });
  });
});

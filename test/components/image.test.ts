/**
 * The components and trainer images can't be built here (no container engine), so this checks
 * what can go wrong without building them: every file the catalog loads is copied in, every bare
 * import is a dependency of images/components/package.json at the root's exact version, tfjs-node
 * is never a package dependency, and both images run as a non-root uid.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const imagePkg = JSON.parse(readFileSync(join(root, 'images/components/package.json'), 'utf8'));

function copied(dockerfile: string): Set<string> {
  const out = new Set<string>();
  for (const line of readFileSync(join(root, dockerfile), 'utf8').split('\n')) {
    const m = /^COPY (?!--from)(.+) \S+$/.exec(line.trim());
    if (!m) continue;
    for (const src of m[1].split(/\s+/)) {
      const p = join(root, src);
      const walk = (f: string): void => {
        if (statSync(f).isDirectory()) for (const n of readdirSync(f)) walk(join(f, n));
        else out.add(relative(root, f));
      };
      if (existsSync(p)) walk(p);
    }
  }
  return out;
}

/** Every file reachable from the entries through relative imports (static and dynamic), and the bare imports. */
function closure(entries: string[], notCarried: readonly string[] = []): { files: Set<string>; bare: Set<string> } {
  const files = new Set<string>(notCarried);
  const bare = new Set<string>();
  const visit = (f: string): void => {
    if (files.has(f)) return;
    files.add(f);
    const src = readFileSync(join(root, f), 'utf8');
    for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\('([^']+)'\)/g)) {
      const spec = m[1] ?? m[2];
      if (/^import type /.test(m[0].trim())) continue;
      // bin/ghosteam.mjs runs build/ only when it exists; images run the sources.
      if (spec.startsWith('.') && spec.includes('/build/')) continue;
      if (spec.startsWith('.')) visit(relative(root, resolve(dirname(join(root, f)), spec)));
      else if (!spec.startsWith('node:') && !builtinModules.includes(spec))
        bare.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
    }
  };
  for (const e of entries) visit(e);
  return { files, bare };
}

/**
 * Dynamic imports an image deliberately leaves out, each behind a flag that then fails with a clear
 * error: the model server's `--feature-service --features-app` loads the user's app, which no image
 * has (cli/commands/serve.ts says so when the module is missing), and a SQLite online store is the
 * local one (components/features/open-store.ts says so; a Model with features must use Redis). The
 * image does carry `--feature-spec`: the feature spec a Model synthesizes, read over Redis.
 */
const NOT_CARRIED: Record<string, readonly string[]> = {
  'images/model-server/Dockerfile': ['cli/commands/features.ts', 'components/features/sqlite-store.ts'],
};

test('each image copies everything its commands load, from bin/ghosteam.mjs on', () => {
  const images: Record<string, string[]> = {
    'images/components/Dockerfile': ['cli/commands/component.ts', 'cli/commands/models.ts', 'cli/commands/kafka-commit.ts'],
    'images/trainer/Dockerfile': ['cli/commands/component.ts', 'cli/commands/models.ts'],
    'images/model-server/Dockerfile': ['cli/commands/serve.ts'],
    'images/operator/Dockerfile': ['cli/commands/operator.ts', 'cli/commands/install.ts'],
  };
  for (const [dockerfile, commands] of Object.entries(images)) {
    const c = copied(dockerfile);
    const skipped = NOT_CARRIED[dockerfile] ?? [];
    const missing = [...closure(['bin/ghosteam.mjs', 'cli/main.ts', ...commands], skipped).files].filter((f) => !c.has(f) && !skipped.includes(f));
    assert.deepEqual(missing, [], `${dockerfile} does not copy ${missing.join(', ')}`);
  }
  const { bare } = closure(['bin/ghosteam.mjs', 'cli/main.ts', 'cli/commands/component.ts', 'cli/commands/models.ts']);
  // The optional GPU packages are imported by name at run time and are not dependencies.
  bare.delete('@tensorflow/tfjs-node-gpu');
  bare.delete('@tensorflow/tfjs-node');
  for (const b of bare) assert.ok(b in imagePkg.dependencies, `images/components/package.json lacks '${b}'`);
  // The model server image installs only its own package.json (npm run images:build found
  // onnx-proto missing there: the server failed at start with "Cannot find package").
  const serverPkg = JSON.parse(readFileSync(join(root, 'images/model-server/package.json'), 'utf8'));
  const server = closure(['bin/ghosteam.mjs', 'cli/main.ts', 'cli/commands/serve.ts'], NOT_CARRIED['images/model-server/Dockerfile']).bare;
  for (const b of server) assert.ok(b in serverPkg.dependencies, `images/model-server/package.json lacks '${b}'`);
});

test('image dependency versions equal the root package.json; tfjs-node is never a dependency', () => {
  for (const [name, v] of Object.entries(imagePkg.dependencies as Record<string, string>)) {
    assert.equal(v, rootPkg.dependencies[name], `${name}: image ${v}, root ${rootPkg.dependencies[name]}`);
  }
  for (const deps of [rootPkg.dependencies, rootPkg.devDependencies ?? {}, imagePkg.dependencies]) {
    assert.ok(!('@tensorflow/tfjs-node' in deps) && !('@tensorflow/tfjs-node-gpu' in deps));
  }
  const trainer = readFileSync(join(root, 'images/trainer/Dockerfile'), 'utf8');
  assert.match(trainer, /@tensorflow\/tfjs-node-gpu@4\.22\.0/);
  assert.equal(rootPkg.dependencies['@tensorflow/tfjs'], '4.22.0');
});

test('both images run as a non-root uid', () => {
  for (const f of ['images/components/Dockerfile', 'images/trainer/Dockerfile']) {
    const users = readFileSync(join(root, f), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('USER '));
    assert.deepEqual(users, ['USER 65532:65532'], f);
  }
});

test('each image takes its Node.js base as the NODE_IMAGE build argument, defaulting to the public node image', () => {
  // npm run images:build passes a local Debian base (Docker Hub is not reachable there); users get node:20.
  for (const f of ['images/components/Dockerfile', 'images/model-server/Dockerfile', 'images/operator/Dockerfile', 'images/trainer/Dockerfile']) {
    const text = readFileSync(join(root, f), 'utf8');
    assert.match(text, /^ARG NODE_IMAGE=node:20\.\d+-bookworm-slim$/m, f);
    const froms = text.split('\n').filter((l) => l.startsWith('FROM '));
    assert.ok(
      froms.every((l) => !/^FROM node:/.test(l)),
      `${f}: a FROM names the node image directly: ${froms.join(' | ')}`,
    );
    assert.ok(
      froms.some((l) => l.startsWith('FROM ${NODE_IMAGE}')),
      f,
    );
  }
});

test('the component images put `ghosteam` on PATH, the command synthesized templates run', async () => {
  // The first run on real pods failed here: the template's command is `ghosteam component run <name>`
  // and the image had only /app/bin/ghosteam.mjs, so the container could not start.
  const { Pipeline } = await import('../../pipelines/index.ts');
  const { Chart, Testing } = await import('cdk8s');
  const p = new Pipeline(new Chart(Testing.app(), 'c'), 'p');
  p.component('ingest', 'ingest', { params: { path: 'x.csv' } });
  assert.deepEqual(p.toSpec().tasks[0].command?.slice(0, 1), ['ghosteam']);
  for (const f of ['images/components/Dockerfile', 'images/trainer/Dockerfile']) {
    const text = readFileSync(join(root, f), 'utf8');
    assert.match(text, /^RUN ln -s \/app\/bin\/ghosteam\.mjs \/usr\/local\/bin\/ghosteam$/m, f);
    assert.ok(text.indexOf('/usr/local/bin/ghosteam') < text.indexOf('USER 65532'), `${f}: the link is made as root, before USER`);
  }
  assert.match(readFileSync(join(root, 'bin/ghosteam.mjs'), 'utf8'), /^#!\/usr\/bin\/env node\n/);
});

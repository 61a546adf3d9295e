/**
 * The folders form layers: each imports only its own folder and the folders below it, so the
 * import graph between folders is a DAG through the kernel (api/). A shared type, constant or
 * helper needed by two folders lives in the lower one (usually api/), never in both. Read from the
 * sources: every relative import (static, `export … from`, dynamic `import('…')`) of every
 * non-test .ts file in the product folders.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

/** Lowest first. A folder may import itself and anything before it in this list. */
export const LAYERS = ['api', 'components', 'pipelines', 'charts', 'gitops', 'controllers', 'ui', 'cli'] as const;

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.(ts|mts)$/.test(e.name) && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm;

/** Every relative import between product folders, as `from -> to` file pairs. */
function crossFolderImports(): { from: string; to: string; fromLayer: string; toLayer: string }[] {
  const out: { from: string; to: string; fromLayer: string; toLayer: string }[] = [];
  for (const layer of LAYERS) {
    for (const file of sources(layer)) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const m of text.matchAll(SPECIFIER)) {
        const to = normalize(relative(root, join(root, dirname(file), m[2])));
        const toLayer = to.split('/')[0];
        if (toLayer !== layer) out.push({ from: file, to, fromLayer: layer, toLayer });
      }
    }
  }
  return out;
}

test('every folder imports only folders below it (api < components < pipelines < charts < gitops < controllers < ui < cli)', () => {
  const rank = new Map<string, number>(LAYERS.map((l, i) => [l, i]));
  const edges = crossFolderImports();
  assert.ok(edges.length > 50, `expected to find the cross-folder imports, found ${edges.length}; is the import pattern still right?`);
  const upward = edges
    .filter((e) => !rank.has(e.toLayer) || rank.get(e.toLayer)! > rank.get(e.fromLayer)!)
    .map(
      (e) =>
        `${e.from} imports ${e.to} (${e.fromLayer} may only import ${LAYERS.slice(0, rank.get(e.fromLayer)! + 1).join(', ')}); move the shared part down, usually into api/`,
    );
  assert.deepEqual(upward, []);
});

test('the kernel (api/) imports no other folder of ghosteam', () => {
  assert.deepEqual(
    crossFolderImports()
      .filter((e) => e.fromLayer === 'api')
      .map((e) => `${e.from} imports ${e.to}`),
    [],
  );
});

test('the checker sees an upward import when there is one', () => {
  // Guards the test above against a pattern that silently matches nothing.
  const text = "import { x } from '../charts/model.ts';\nexport { y } from '../gitops/plan.ts';\nconst z = await import('../cli/main.ts');\n";
  assert.deepEqual(
    [...text.matchAll(SPECIFIER)].map((m) => m[2]),
    ['../charts/model.ts', '../gitops/plan.ts', '../cli/main.ts'],
  );
});

/** Shared vocabulary that must be defined exactly once, in the kernel. */
const DEFINED_ONCE: readonly { name: string; pattern: RegExp; home: string }[] = [
  { name: 'K8sObject', pattern: /^export (?:interface|type) K8sObject\b/m, home: 'api/objects.ts' },
  { name: 'ObjectMeta', pattern: /^export (?:interface|type) ObjectMeta\b/m, home: 'api/objects.ts' },
  { name: 'SPEC_HASH_ANNOTATION', pattern: /\bSPEC_HASH_ANNOTATION\s*=/, home: 'api/objects.ts' },
  { name: "'ghosteam.io/spec-hash'", pattern: /'ghosteam\.io\/spec-hash'/, home: 'api/objects.ts' },
  { name: 'CONSTRUCT_PATH_ANNOTATION', pattern: /\bCONSTRUCT_PATH_ANNOTATION\s*=/, home: 'api/objects.ts' },
  { name: 'canonicalJson', pattern: /function canonicalJson\b/, home: 'api/json.ts' },
  { name: 'jsonEqual', pattern: /function jsonEqual\b/, home: 'api/json.ts' },
  { name: 'clean (drop undefined fields)', pattern: /filter\(\(\[, ?v\]\) => v !== undefined\)\)/, home: 'api/json.ts' },
  { name: 'sortKeysDeep', pattern: /function sortKeysDeep\b/, home: 'api/json.ts' },
  { name: 'Condition', pattern: /^export (?:interface|type) Condition\b/m, home: 'api/crds/types.ts' },
  { name: 'LOCK_FILE', pattern: /\bLOCK_FILE\s*=/, home: 'api/lock.ts' },
  { name: 'ValidationError', pattern: /class ValidationError\b/, home: 'api/errors.ts' },
];

test('each piece of shared vocabulary is defined once, in the kernel', () => {
  const files = LAYERS.flatMap(sources).map((f) => ({ f, text: readFileSync(join(root, f), 'utf8') }));
  for (const d of DEFINED_ONCE) {
    const where = files.filter(({ text }) => d.pattern.test(text)).map(({ f }) => f);
    assert.deepEqual(where, [d.home], `${d.name} must be defined only in ${d.home}; import it from there`);
  }
});

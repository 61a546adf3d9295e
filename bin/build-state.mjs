// Whether the compiled build (build/, made by `npm run build` and on `npm install`) matches the
// TypeScript sources. bin/ghosteam.mjs runs the build only when it does, so an edited source is
// never shadowed by stale JavaScript: it falls back to loading the sources through tsx.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The folders compiled into build/ (tsconfig.build.json includes the same). */
export const SOURCE_DIRS = ['api', 'pipelines', 'components', 'charts', 'controllers', 'gitops', 'ui', 'cli'];
/** Root files the build also depends on: compiler settings, and the lockfile (the vendored bundles come from node_modules). */
export const ROOT_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
export const BUILD_DIR = 'build';
export const MANIFEST = '.sources.json';

/** Every file the build depends on (the .ts sources, the .mjs worker entries it copies, ROOT_FILES), with its mtime and size. */
export function sourceSnapshot(root) {
  const files = {};
  for (const f of ROOT_FILES) {
    try {
      const st = statSync(join(root, f));
      files[f] = `${st.mtimeMs}:${st.size}`;
    } catch {
      // absent (an install without a lockfile): nothing to record
    }
  }
  for (const dir of SOURCE_DIRS) {
    let entries;
    try {
      entries = readdirSync(join(root, dir), { recursive: true, withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (!e.isFile() || !/\.(ts|mjs)$/.test(e.name) || e.name.endsWith('.test.ts') || e.name.endsWith('.d.ts')) continue;
      const abs = join(e.parentPath ?? e.path, e.name);
      const st = statSync(abs);
      files[
        abs
          .slice(root.length + 1)
          .split('\\')
          .join('/')
      ] = `${st.mtimeMs}:${st.size}`;
    }
  }
  return files;
}

/** True when build/ exists and was made from exactly the sources now on disk. */
export function buildIsFresh(root) {
  let recorded;
  try {
    recorded = JSON.parse(readFileSync(join(root, BUILD_DIR, MANIFEST), 'utf8')).files;
  } catch {
    return false;
  }
  if (!recorded || typeof recorded !== 'object') return false;
  const now = sourceSnapshot(root);
  const keys = Object.keys(now);
  if (keys.length !== Object.keys(recorded).length) return false;
  return keys.every((k) => recorded[k] === now[k]);
}

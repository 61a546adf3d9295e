// Module resolve hook, registered by api/own-files.ts `enableTypeScript` when the CLI runs
// compiled and is about to load a user's TypeScript app: an import that resolves to one of our own
// source files (…/charts/index.ts) is sent to its compiled copy (build/charts/index.js), which the CLI
// has loaded already. Without it the app would get a second copy of each module: its Model would not
// be the CLI's Model, and the synthesis context set by the CLI would not be the one the app reads.
import { BUILD_DIR, SOURCE_DIRS } from './build-state.mjs';

let root = '';
let prefixes = [];

export function initialize(data) {
  root = data.root;
  prefixes = SOURCE_DIRS.map((d) => `${root}${d}/`);
}

export async function resolve(specifier, context, nextResolve) {
  const r = await nextResolve(specifier, context);
  const url = r.url;
  if (url.endsWith('.ts') && !url.endsWith('.d.ts') && prefixes.some((p) => url.startsWith(p))) {
    return { url: `${root}${BUILD_DIR}/${url.slice(root.length, -3)}.js`, format: 'module', shortCircuit: true };
  }
  return r;
}

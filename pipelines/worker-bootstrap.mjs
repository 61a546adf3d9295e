// How a worker thread loads its TypeScript module (workers do not inherit the main thread's loader
// hooks). Compiled (build/, where scripts/build.mjs copies the .mjs entries), worker.js sits beside
// the entry and loads as it is; from the sources, TypeScript loads through tsx first.
import { existsSync } from 'node:fs';

/** Loads worker.js, else worker.ts through tsx, from the folder of `entryUrl` (the entry's import.meta.url). */
export async function loadWorker(entryUrl) {
  const compiled = new URL('./worker.js', entryUrl);
  if (existsSync(compiled)) return import(compiled.href);
  const { register } = await import('tsx/esm/api');
  register();
  return import(new URL('./worker.ts', entryUrl).href);
}

/**
 * Where ghosteam is installed and how it is running: from its TypeScript sources (loaded through
 * tsx: tests, `npm run demo`, a checkout being edited) or from the compiled build (build/, which
 * bin/ghosteam.mjs runs while it matches the sources; see scripts/build.mjs).
 *
 * Imports need nothing from here (the compiler rewrites them). Paths to our own files that code
 * computes at run time do: a worker's entry, the component catalog, a child process's script, the
 * CLI's command folder. One place knows both layouts.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const self = fileURLToPath(import.meta.url);

/** True when this process runs the compiled build. */
export const RUNNING_COMPILED = self.endsWith('.js');

/** The extension of our own modules as they load in this process: '.js' compiled, '.ts' from sources. */
export const MODULE_EXT = RUNNING_COMPILED ? '.js' : '.ts';

/** The directory that holds ghosteam's package.json (and bin/, node_modules/, the sources). */
export const PACKAGE_ROOT = resolve(dirname(self), RUNNING_COMPILED ? '../..' : '..');

/** The file URL of one of our modules, named by its source path ('components/index.ts'), as it loads in this process. */
export function ownModuleUrl(sourcePath: string): string {
  const rel = RUNNING_COMPILED ? join('build', sourcePath.replace(/\.ts$/, '.js')) : sourcePath;
  return pathToFileURL(join(PACKAGE_ROOT, rel)).href;
}

/** The path of one of our source files ('gitops/synth-child.ts'): for child processes that load sources through tsx. */
export function sourcePath(rel: string): string {
  return join(PACKAGE_ROOT, rel);
}

let typescriptReady: Promise<void> | undefined;

/**
 * Makes a user's TypeScript (an app.ts) importable in this process. From the sources tsx already
 * loads everything. Compiled, this registers tsx, plus a resolve hook that sends the app's imports
 * of our source files to their compiled copies, so the app and the CLI share one copy of every
 * module (one construct class, one synthesis context) instead of two.
 */
export function enableTypeScript(): Promise<void> {
  typescriptReady ??= (async () => {
    if (!RUNNING_COMPILED) return;
    const { register: registerTsx } = await import('tsx/esm/api');
    registerTsx();
    const hook = join(PACKAGE_ROOT, 'bin', 'build-redirect.mjs');
    if (!existsSync(hook)) return;
    const { register } = await import('node:module');
    // Registered after tsx, so it runs first and resolves through tsx.
    register(pathToFileURL(hook).href, { parentURL: import.meta.url, data: { root: pathToFileURL(PACKAGE_ROOT + '/').href } });
  })();
  return typescriptReady;
}

/**
 * Loading a user's app file, shared by synth (charts/synth.ts) and the local engine
 * (pipelines/local/load.ts). The app file contract — an ES module (TypeScript is fine) whose default
 * export is either
 *   - a cdk8s `App` with charts in it, or
 *   - a function `(app: App) => void | App | Promise<void | App>` that adds charts to the fresh
 *     `App` it receives (or returns its own).
 * The function form is preferred: the app is built inside the synthesis context, so it can be
 * synthesized more than once per process.
 */
import { App } from 'cdk8s';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ValidationError } from './errors.ts';
import { enableTypeScript, PACKAGE_ROOT } from './own-files.ts';

/** Whether the nearest package.json above `dir` says "type": "module". */
function inModulePackage(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg)) {
      try {
        return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: string }).type === 'module';
      } catch {
        return false;
      }
    }
    if (dirname(d) === d) return false;
  }
}

/** Versions an app should pin for the packages it shares with ghosteam (the ones ghosteam is tested with). */
function pinnedVersion(pkg: string): string | undefined {
  try {
    const own = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    return own.dependencies?.[pkg];
  } catch {
    return undefined;
  }
}

/**
 * Node's raw "Cannot find package 'cdk8s'" / ERR_PACKAGE_PATH_NOT_EXPORTED as an instruction: the
 * install command to run, and where. Undefined for any other error. Pure but for reading our package.json.
 */
export function missingPackageHint(message: string, code: string | undefined, appDir: string): string | undefined {
  const missing = /Cannot find package '([^']+)'/.exec(message);
  if (missing && (code === 'ERR_MODULE_NOT_FOUND' || code === undefined)) {
    const pkg = missing[1];
    const pins = pkg === 'cdk8s' || pkg === 'constructs' ? ['cdk8s', 'constructs'] : [pkg];
    const words = pins.map((p) => (p === 'ghosteam' ? p : pinnedVersion(p) ? `${p}@${pinnedVersion(p)}` : p));
    return `imports package '${pkg}', which is not installed for the app; run \`npm install ${words.join(' ')}\` in ${appDir} (an app needs ghosteam, cdk8s and constructs in its package.json; \`npx ghosteam init my-app\` scaffolds one)`;
  }
  const notExported = /Package subpath '([^']+)' is not defined by "exports" in (\S+?)node_modules[\\/]([^\s]+?)[\\/]package\.json/.exec(message);
  if (notExported && code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
    return `imports '${notExported[3]}/${notExported[1].replace(/^\.\//, '')}', which that package does not export; check the import path against its documentation (ghosteam exports ${GHOSTEAM_EXPORTS.join(', ')})`;
  }
  return undefined;
}

/** The import paths ghosteam's package.json `exports` offers (kept equal by a test). */
export const GHOSTEAM_EXPORTS = [
  'ghosteam/pipelines',
  'ghosteam/pipelines/local',
  'ghosteam/pipelines/argo-server',
  'ghosteam/components',
  'ghosteam/components/dataset',
  'ghosteam/components/drift',
  'ghosteam/components/registry',
  'ghosteam/components/model-server',
  'ghosteam/charts',
  'ghosteam/controllers',
  'ghosteam/gitops',
] as const;

/** Loads an app module and returns the App it defines (see the contract above). */
export async function loadApp(appPath: string): Promise<App> {
  const abs = resolve(appPath);
  if (!existsSync(abs)) throw new Error(`app file ${appPath} does not exist; pass the path of your app.ts`);
  if (/\.ts$/.test(abs) && !inModulePackage(dirname(abs))) {
    throw new Error(
      `${appPath}: a TypeScript app must load as an ES module; add "type": "module" to the package.json next to it (or create one), or rename it to .mts`,
    );
  }
  let mod: { default?: unknown };
  await enableTypeScript();
  try {
    // The query makes an edited app load afresh in a long-lived process (plan, watch, tests).
    mod = (await import(`${pathToFileURL(abs).href}?v=${statSync(abs).mtimeMs}`)) as { default?: unknown };
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    const hint = missingPackageHint(msg, (err as NodeJS.ErrnoException).code, dirname(abs));
    if (hint) throw new Error(`${appPath}: ${hint}`, { cause: err });
    if (/require\(\) ES Module|ERR_REQUIRE_ESM|Cannot use import statement outside a module/.test(msg)) {
      throw new Error(`${appPath}: could not be loaded as an ES module; add "type": "module" to the package.json next to it, or rename it to .mts`, {
        cause: err,
      });
    }
    throw withAppPlace(err, abs);
  }
  let def = mod.default;
  // A .ts file outside a "type": "module" package loads as CommonJS: its exports arrive as `default`.
  if (def && typeof def === 'object' && !(def instanceof App)) def = (def as { default?: unknown }).default;
  if (def instanceof App) return def;
  if (typeof def === 'function') {
    const app = new App({ outdir: join(dirname(abs), 'dist') });
    let ret: unknown;
    try {
      ret = await (def as (app: App) => unknown)(app);
    } catch (err) {
      throw withAppPlace(err, abs);
    }
    if (ret instanceof App) return ret;
    return app;
  }
  throw new Error(
    `${appPath}: the default export must be a cdk8s App or a function (app: App) => void; got ${def === undefined ? 'no default export' : typeof def}`,
  );
}

/**
 * The place in the user's app where an error was thrown (`app.ts:12:5`): the first stack frame in the
 * app's directory outside node_modules; undefined when none is there. Pure.
 */
export function appPlace(stack: string | undefined, appFile: string): string | undefined {
  const dir = dirname(appFile);
  for (const line of (stack ?? '').split('\n').slice(1)) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/.exec(line);
    if (!m) continue;
    const file = m[1].startsWith('file://') ? fileURLToPath(m[1]) : m[1];
    if (!file.startsWith(dir + sep) || file.includes(`${sep}node_modules${sep}`)) continue;
    const rel = relative(process.cwd(), file);
    return `${rel && !rel.startsWith('..') ? rel : file}:${m[2]}:${m[3]}`;
  }
  return undefined;
}

/** An error thrown by the app's own code (a construct or value class refusing a value), prefixed with where in the app it was thrown; a ValidationError already names its construct path. */
function withAppPlace(err: unknown, appFile: string): unknown {
  if (!(err instanceof Error) || err instanceof ValidationError) return err;
  const place = appPlace(err.stack, appFile);
  if (!place || err.message.startsWith(place)) return err;
  const out = new Error(`${place}: ${err.message}`, { cause: err });
  out.stack = `${out.name}: ${out.message}\n${(err.stack ?? '').split('\n').slice(1).join('\n')}`;
  return out;
}

/**
 * Type-checks an app before `ghosteam plan` synthesizes it: a type error such as `replicaz: 3` or
 * `const epochs: number = 'x'` still synthesizes (tsx strips types), so without this the plan
 * would read `No changes.` and pass the gate. The app's own tsconfig.json (the nearest one from the
 * app's directory up to the repository root) gives the compiler options; the app file and the
 * declaration files that tsconfig includes are the roots, so the check covers what the app imports
 * and nothing else of the project. The TypeScript the app itself resolves is used, else ghosteam's.
 *
 * Reported: errors in files of the checkout outside node_modules (a dependency's own sources are
 * its business, as skipLibCheck has it), as 'file:line:col - error TSnnnn: message'.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT as ownRoot } from '../api/own-files.ts';

type TS = typeof import('typescript');

export interface TypecheckResult {
  /** 'app.ts:3:7 - error TS2322: Type 'string' is not assignable to type 'number'.' */
  readonly errors: readonly string[];
  /** The tsconfig.json used, relative to the tree; undefined when none was found (defaults used). */
  readonly tsconfig?: string;
  /** The TypeScript version that checked. */
  readonly version: string;
}

/** At most this many errors are listed; the count says how many more there were. */
export const MAX_ERRORS = 20;

async function loadTypescript(appAbs: string): Promise<TS> {
  for (const from of [appAbs, join(ownRoot, 'package.json')]) {
    try {
      const path = createRequire(from).resolve('typescript');
      const mod = (await import(pathToFileURL(path).href)) as { default?: TS } & TS;
      return mod.default ?? mod;
    } catch {
      // try the next place
    }
  }
  throw new Error('TypeScript is not installed, so the app cannot be type-checked; run npm install (or pass --no-typecheck)');
}

/** The nearest tsconfig.json from the app's directory up to `root` (inclusive). */
export function findTsconfig(appAbs: string, root: string): string | undefined {
  const top = resolve(root);
  for (let dir = dirname(resolve(appAbs)); ; dir = dirname(dir)) {
    const r = relative(top, dir);
    if (r.startsWith('..') || isAbsolute(r)) return undefined;
    const f = join(dir, 'tsconfig.json');
    if (existsSync(f)) return f;
    if (dir === top || dirname(dir) === dir) return undefined;
  }
}

/**
 * Where Node's types come from: the app's own @types/node, else ghosteam's (an app checked out with
 * no node_modules of its own, or one that never installed them, still uses `node:fs` and `process`,
 * which run fine under tsx; without Node's types every such use would be reported as an error).
 */
function nodeTypesRoot(appAbs: string): string | undefined {
  for (const from of [appAbs, join(ownRoot, 'package.json')]) {
    try {
      return dirname(dirname(createRequire(from).resolve('@types/node/package.json')));
    } catch {
      // try the next place
    }
  }
  return undefined;
}

/** Options when the app has no tsconfig.json: what `ghosteam init` writes, with Node's types. */
function defaultOptions(ts: TS, appAbs: string): import('typescript').CompilerOptions {
  const typesRoot = nodeTypesRoot(appAbs);
  return {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    allowImportingTsExtensions: true,
    resolveJsonModule: true,
    skipLibCheck: true,
    ...(typesRoot ? { typeRoots: [typesRoot], types: ['node'] } : { types: [] }),
  };
}

/**
 * Type-checks `appRel` inside `tree` (a checkout). Throws only when TypeScript cannot run at all; a
 * bad tsconfig.json is reported as an error of that file.
 */
export async function typecheckApp(tree: string, appRel: string): Promise<TypecheckResult> {
  const root = resolve(tree);
  const appAbs = isAbsolute(appRel) ? appRel : join(root, appRel);
  const ts = await loadTypescript(appAbs);
  const configFile = findTsconfig(appAbs, root);
  const rel = (f: string) => {
    const r = relative(root, f);
    return r.startsWith('..') || isAbsolute(r) ? f : r;
  };
  const errors: string[] = [];
  let options: import('typescript').CompilerOptions;
  let roots = [appAbs];
  if (configFile) {
    const parsed = ts.getParsedCommandLineOfConfigFile(
      configFile,
      { noEmit: true },
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) =>
          errors.push(`${rel(configFile)} - error TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`),
      },
    );
    if (!parsed) return { errors, tsconfig: rel(configFile), version: ts.version };
    // Unknown or invalid options are the user's to fix; "No inputs were found" is not (we give the app).
    for (const d of parsed.errors.filter((e) => e.code !== 18003)) errors.push(format(ts, d, rel));
    options = parsed.options;
    roots = [appAbs, ...parsed.fileNames.filter((f) => /\.d\.[cm]?ts$/.test(f))];
  } else {
    options = defaultOptions(ts, appAbs);
  }
  options = { ...options, noEmit: true, incremental: false, composite: false, declaration: false, emitDeclarationOnly: false };
  const program = ts.createProgram({ rootNames: roots, options });
  const inTree = (f: string) => {
    const r = relative(root, f);
    return !r.startsWith('..') && !isAbsolute(r) && !r.split(/[\\/]/).includes('node_modules');
  };
  // Only the checkout's own files are checked (the checker resolves what they use from the others
  // lazily): checking every imported source, dependencies' included, takes a minute, this seconds.
  const own = program.getSourceFiles().filter((f) => !f.isDeclarationFile && inTree(f.fileName));
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...own.flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)]),
  ];
  for (const d of diagnostics) {
    if (d.category !== ts.DiagnosticCategory.Error) continue;
    if (d.file && !inTree(d.file.fileName)) continue;
    errors.push(format(ts, d, rel));
  }
  return { errors: [...new Set(errors)], ...(configFile ? { tsconfig: rel(configFile) } : {}), version: ts.version };
}

function format(ts: TS, d: import('typescript').Diagnostic, rel: (f: string) => string): string {
  const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
  if (!d.file || d.start === undefined) return `error TS${d.code}: ${msg}`;
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  return `${rel(d.file.fileName)}:${line + 1}:${character + 1} - error TS${d.code}: ${msg}`;
}

/** The message `plan` gives when the app does not type-check: the errors, the tsconfig, the fix. */
export function typecheckMessage(r: TypecheckResult, app: string): string {
  const shown = r.errors.slice(0, MAX_ERRORS);
  const more = r.errors.length > shown.length ? [`… and ${r.errors.length - shown.length} more`] : [];
  const config = r.tsconfig ? `with ${r.tsconfig}` : 'with default options (no tsconfig.json next to it or above)';
  return [
    `${app} does not type-check (${r.errors.length} error${r.errors.length === 1 ? '' : 's'}, TypeScript ${r.version} ${config}):`,
    ...shown,
    ...more,
    'Fix the errors (npx tsc --noEmit shows the same), or pass --no-typecheck to plan without type-checking.',
  ].join('\n');
}

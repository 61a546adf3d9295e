/**
 * Synthesis of a ghosteam app: load the app file (api/app.ts), render every chart, annotate,
 * validate everything, and only then write one YAML file per chart plus `ghosteam-crds.yaml`
 * (atomically: files are written to a temp dir next to the output and renamed into place). Reused by
 * `ghosteam synth` and `ghosteam plan` (GitOps).
 */
import { type App, type Chart } from 'cdk8s';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { loadApp } from '../api/app.ts';
import { withSynthContext } from '../api/context.ts';
import { ghosteamCrds } from '../api/crds/index.ts';
import { ValidationError } from '../api/errors.ts';
import { validateObjects } from './validate.ts';
import { toYamlDocument } from './yaml-emit.ts';
import { applySyncWaves } from '../api/sync-waves.ts';
import type { K8sObject } from '../api/objects.ts';
import { SOURCE_COMMIT_ANNOTATION, SOURCE_DIRTY_ANNOTATION } from '../api/objects.ts';
import { gitSourceSync } from '../api/git-source.ts';

export const CRDS_FILE = 'ghosteam-crds.yaml';
const MANIFEST = '.ghosteam-synth.json';

export interface SynthFile {
  /** File name inside the output directory, e.g. 'fraud.yaml'. */
  readonly name: string;
  /** The chart id ('ghosteam-crds' for the CRD file). */
  readonly chart: string;
  readonly objects: readonly K8sObject[];
  readonly yaml: string;
}

export interface SynthResult {
  readonly files: readonly SynthFile[];
  /** Every object of every file, in file order. */
  readonly objects: readonly K8sObject[];
  /** Absolute output directory, when written. */
  readonly outDir?: string;
}

export interface SynthOptions {
  /** Write the files here (created if needed). @default - nothing is written */
  readonly outDir?: string;
  /** Commit to annotate (`ghosteam.io/source-commit`); false for none. @default - `git rev-parse HEAD` in the app's directory, if it is a checkout */
  readonly sourceCommit?: string | false;
  /** Include the ghosteam CRDs. @default true */
  readonly crds?: boolean;
  /** Directory of the app (models.lock.json). @default - none (no lock file) */
  readonly appDir?: string;
}

/** Serialises objects as a multi-document YAML stream; deterministic (see yaml-emit.ts). */
export function toYaml(objects: readonly unknown[]): string {
  return objects.map((o) => toYamlDocument(o)).join('---\n');
}

export function gitCommit(dir: string): string | undefined {
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' }).trim();
    return /^[0-9a-f]{40,64}$/.test(out) ? out : undefined;
  } catch {
    return undefined;
  }
}

function fileNameFor(chart: Chart): string {
  const id = chart.node.id.replace(/[^A-Za-z0-9._-]+/g, '-');
  return `${id}.yaml`;
}

/** Renders, annotates and validates an App already built. Throws ValidationError; writes nothing. */
export function synthesize(app: App, opts: SynthOptions = {}): SynthResult {
  return withSynthContext({ appDir: opts.appDir }, () => {
    // An explicit commit (watch's clean checkouts, --source-commit) is taken as given; HEAD of the app's
    // checkout comes with its dirty flag, so uncommitted edits are never passed off as that commit.
    const source =
      opts.sourceCommit === false
        ? undefined
        : opts.sourceCommit !== undefined
          ? { commit: opts.sourceCommit }
          : opts.appDir
            ? gitSourceSync(opts.appDir)
            : undefined;
    const commit = source?.commit;
    const dirty = source && 'dirty' in source ? source.dirty : undefined;
    const files: SynthFile[] = [];
    const names = new Map<string, string>();
    const sourced: { object: K8sObject; source: string }[] = [];
    for (const chart of app.charts) {
      const name = fileNameFor(chart);
      if (name === CRDS_FILE || names.has(name)) {
        throw new ValidationError([
          {
            path: chart.node.path,
            field: 'id',
            message: `writes ${name}, which ${name === CRDS_FILE ? 'holds the CRDs' : `chart '${names.get(name)}' also writes`}; rename the chart`,
          },
        ]);
      }
      names.set(name, chart.node.path);
      const objects = (chart.toJson() as K8sObject[]).map((o) => annotate(o, commit, dirty));
      for (const object of objects) sourced.push({ object, source: name });
      files.push({ name, chart: chart.node.id, objects, yaml: '' });
    }
    if (opts.crds !== false) {
      const crds = ghosteamCrds();
      files.push({ name: CRDS_FILE, chart: 'ghosteam-crds', objects: crds, yaml: '' });
    }
    const issues = validateObjects(sourced);
    if (issues.length > 0) throw new ValidationError(issues);
    // Argo CD sync waves over the whole output, so CRDs and what objects reference apply first.
    const waved = applySyncWaves(files.flatMap((f) => f.objects));
    let i = 0;
    const rendered = files.map((f) => {
      const objects = waved.slice(i, (i += f.objects.length));
      return { ...f, objects, yaml: toYaml(objects) };
    });
    return { files: rendered, objects: rendered.flatMap((f) => f.objects) };
  });
}

function annotate(o: K8sObject, commit: string | undefined, dirty?: string): K8sObject {
  if (!commit) return o;
  const annotations = Object.fromEntries(
    Object.entries({ ...(o.metadata.annotations ?? {}), [SOURCE_COMMIT_ANNOTATION]: commit, ...(dirty ? { [SOURCE_DIRTY_ANNOTATION]: dirty } : {}) }).sort(
      ([a], [b]) => (a < b ? -1 : 1),
    ),
  );
  return { ...o, metadata: { ...o.metadata, annotations } };
}

/**
 * Loads, synthesizes and validates `appPath`; writes to `opts.outDir` when given. Nothing is written
 * when validation fails.
 */
export async function synthApp(appPath: string, opts: Omit<SynthOptions, 'appDir'> = {}): Promise<SynthResult> {
  const appDir = dirname(resolve(appPath));
  const app = await loadApp(appPath);
  const result = synthesize(app, { ...opts, appDir });
  if (!opts.outDir) return result;
  const outDir = resolve(opts.outDir);
  writeFilesAtomically(outDir, result.files);
  return { ...result, outDir };
}

/**
 * Writes the files into `outDir` via a temp dir + rename per file, then removes YAML files a
 * previous synth wrote that are no longer produced (tracked in .ghosteam-synth.json). Files synth
 * didn't write are left alone.
 */
export function writeFilesAtomically(outDir: string, files: readonly { name: string; yaml: string }[]): void {
  mkdirSync(outDir, { recursive: true });
  if (!statSync(outDir).isDirectory()) throw new Error(`${outDir} is not a directory; choose another --out`);
  const tmp = join(dirname(outDir), `.${basename(outDir)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp);
  try {
    for (const f of files) writeFileSync(join(tmp, f.name), f.yaml);
    writeFileSync(join(tmp, MANIFEST), `${JSON.stringify({ files: files.map((f) => f.name) }, null, 2)}\n`);
    let previous: string[] = [];
    try {
      previous = (JSON.parse(readFileSync(join(outDir, MANIFEST), 'utf8')) as { files: string[] }).files ?? [];
    } catch {
      previous = [];
    }
    for (const f of files) renameSync(join(tmp, f.name), join(outDir, f.name));
    renameSync(join(tmp, MANIFEST), join(outDir, MANIFEST));
    const now = new Set(files.map((f) => f.name));
    for (const old of previous) {
      if (!now.has(old) && /^[A-Za-z0-9._-]+\.yaml$/.test(old) && existsSync(join(outDir, old))) unlinkSync(join(outDir, old));
    }
  } finally {
    if (existsSync(tmp)) {
      for (const f of readdirSync(tmp)) rmSync(join(tmp, f), { force: true });
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}

/**
 * Finds the pipelines of a user's app file (`ghosteam run app.ts`): loads the app the way
 * `ghosteam synth` does (api/app.ts `loadApp`) and collects every `Pipeline` construct's IR.
 * `collectPipelines` also accepts plain PipelineSpecs (for callers that build specs themselves).
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { withSynthContext } from '../../api/context.ts';
import type { PipelineSpec } from '../spec.ts';
import { loadApp } from '../../api/app.ts';
import { isPipelineConstruct, isSweepConstruct } from '../brand.ts';
import type { SweepSpec } from '../tuning/sweep.ts';

interface ConstructLike {
  readonly node: { readonly path: string; findAll(): readonly unknown[] };
}

function isConstruct(x: unknown): x is ConstructLike {
  return !!x && typeof x === 'object' && 'node' in x && typeof (x as ConstructLike).node?.findAll === 'function';
}

/** A plain-data PipelineSpec (not a class instance: a Pipeline construct has `name`, `tasks` and `params` too). */
function isSpec(x: unknown): x is PipelineSpec {
  if (!x || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x) as unknown;
  return (
    (proto === Object.prototype || proto === null) &&
    typeof (x as PipelineSpec).name === 'string' &&
    Array.isArray((x as PipelineSpec).tasks) &&
    Array.isArray((x as PipelineSpec).params)
  );
}

/** A Pipeline construct (from any copy of ghosteam): its toSpec() gives the PipelineSpec. */
function specOf(x: unknown): PipelineSpec | undefined {
  if (!isPipelineConstruct(x)) return undefined;
  const s = x.toSpec();
  return isSpec(s) ? s : undefined;
}

export function collectPipelines(roots: readonly unknown[]): PipelineSpec[] {
  const seen = new Set<unknown>();
  const out: PipelineSpec[] = [];
  const add = (x: unknown): void => {
    if (seen.has(x)) return;
    seen.add(x);
    const s = isSpec(x) ? x : specOf(x);
    if (s && !out.some((o) => o.name === s.name && o.path === s.path)) out.push(s);
  };
  for (const r of roots) {
    if (isConstruct(r)) for (const c of r.node.findAll()) add(c);
    else add(r);
  }
  return out;
}

/**
 * Loads an app file exactly as `ghosteam synth` does (api/app.ts `loadApp`: the default export
 * is a cdk8s App or a function that fills one) and returns its pipelines, in construct order.
 * Specs are rendered inside the synthesis context (the app's directory), as synth renders them.
 */
export async function loadPipelines(appFile: string): Promise<PipelineSpec[]> {
  const file = resolve(appFile);
  if (!existsSync(file)) throw new Error(`${appFile}: no such file; give the path of your app (e.g. examples/fraud-detection/app.ts)`);
  const appDir = dirname(file);
  const app = await withSynthContext({ appDir }, () => loadApp(file));
  return withSynthContext({ appDir }, () => collectPipelines([app]));
}

/** Picks the pipeline to run: the one named, or the only one. */
export function choosePipeline(pipelines: readonly PipelineSpec[], name: string | undefined, appFile: string): PipelineSpec {
  const names = pipelines.map((p) => p.name).join(', ');
  if (pipelines.length === 0) throw new Error(`${appFile}: defines no Pipeline; add one (new Pipeline(chart, 'train', ...)) or export it`);
  if (name === undefined) {
    if (pipelines.length > 1) throw new Error(`${appFile}: defines ${pipelines.length} pipelines (${names}); choose one with --pipeline NAME`);
    return pipelines[0];
  }
  const p = pipelines.find((x) => x.name === name);
  if (!p) throw new Error(`${appFile}: has no pipeline '${name}'; it defines: ${names}`);
  return p;
}

/** Every Sweep construct's IR under the roots, in construct order. */
export function collectSweeps(roots: readonly unknown[]): SweepSpec[] {
  const out: SweepSpec[] = [];
  for (const r of roots) {
    if (!isConstruct(r)) continue;
    for (const c of r.node.findAll()) if (isSweepConstruct(c)) out.push(c.toSpec() as SweepSpec);
  }
  return out;
}

/** Loads an app file as `loadPipelines` does and returns its pipelines and its sweeps. */
export async function loadSweeps(appFile: string): Promise<{ pipelines: PipelineSpec[]; sweeps: SweepSpec[] }> {
  const file = resolve(appFile);
  if (!existsSync(file)) throw new Error(`${appFile}: no such file; give the path of your app (e.g. examples/fraud-detection/app.ts)`);
  const appDir = dirname(file);
  const app = await withSynthContext({ appDir }, () => loadApp(file));
  return withSynthContext({ appDir }, () => ({ pipelines: collectPipelines([app]), sweeps: collectSweeps([app]) }));
}

/** Picks the sweep to run: the one named, or the only one. */
export function chooseSweep(sweeps: readonly SweepSpec[], name: string | undefined, appFile: string): SweepSpec {
  const names = sweeps.map((s) => s.name).join(', ');
  if (sweeps.length === 0)
    throw new Error(
      `${appFile}: defines no Sweep; add one (new Sweep(chart, 'tune', { pipeline, trial, space, objective })) to search a training task's params`,
    );
  if (name === undefined) {
    if (sweeps.length > 1) throw new Error(`${appFile}: defines ${sweeps.length} sweeps (${names}); choose one with --sweep NAME`);
    return sweeps[0];
  }
  const s = sweeps.find((x) => x.name === name);
  if (!s) throw new Error(`${appFile}: has no sweep '${name}'; it defines: ${names}`);
  return s;
}

/**
 * Runs one component outside the local engine: what `ghosteam component run` does in a container
 * (see the convention in components/index.ts). Pure argument checks are in `planComponentRun`.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { Component, ComponentContext, ParamValue, ProgressEvent } from './component.ts';

export interface ComponentRunRequest {
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly inputs: Readonly<Record<string, string>>;
  readonly outputs: Readonly<Record<string, string>>;
  readonly outputParamsDir?: string;
}

/** Parses repeated NAME=VALUE flags; `what` names the flag in errors. */
export function parseAssignments(items: readonly string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const i = item.indexOf('=');
    if (i <= 0) throw new Error(`${what} '${item}' must be NAME=VALUE`);
    const k = item.slice(0, i);
    if (k in out) throw new Error(`${what} '${k}' is given twice`);
    out[k] = item.slice(i + 1);
  }
  return out;
}

/** Checks the request against the component's declared inputs and outputs. */
export function planComponentRun(c: Component, req: ComponentRunRequest): void {
  const declaredIn = new Set(c.inputs.map((i) => i.name));
  const declaredOut = new Set(c.outputs.map((o) => o.name));
  for (const k of Object.keys(req.inputs))
    if (!declaredIn.has(k)) throw new Error(`component '${c.name}' has no input '${k}'; its inputs: ${[...declaredIn].join(', ') || 'none'}`);
  for (const k of Object.keys(req.outputs))
    if (!declaredOut.has(k)) throw new Error(`component '${c.name}' has no output '${k}'; its outputs: ${[...declaredOut].join(', ') || 'none'}`);
  for (const i of c.inputs)
    if (!i.optional && !req.inputs[i.name]) throw new Error(`component '${c.name}' needs input '${i.name}': add --input ${i.name}=PATH`);
  for (const o of c.outputs) if (!req.outputs[o.name]) throw new Error(`component '${c.name}' writes output '${o.name}': add --output ${o.name}=PATH`);
}

export interface RunHooks {
  readonly log?: (line: string) => void;
  readonly progress?: (e: ProgressEvent) => void;
  readonly signal?: AbortSignal;
  readonly env?: Readonly<Record<string, ParamValue>>;
}

/** Runs the component and returns its output params; writes them as files when asked. */
export async function runComponent(c: Component, req: ComponentRunRequest, hooks: RunHooks = {}): Promise<Record<string, ParamValue>> {
  planComponentRun(c, req);
  const outputs = Object.fromEntries(Object.entries(req.outputs).map(([k, v]) => [k, resolve(v)]));
  for (const p of Object.values(outputs)) await mkdir(dirname(p), { recursive: true });
  const workDir = await mkdtemp(join(tmpdir(), `ghosteam-${c.name}-`));
  const set: Record<string, ParamValue> = {};
  const ctx: ComponentContext = {
    params: { ...(hooks.env ?? {}), ...req.params },
    // An optional input whose file is absent (in Argo: an optional upstream output that was not
    // written, pipelines/argo.ts) is no input, as in the local engine.
    inputs: Object.fromEntries(
      Object.entries(req.inputs)
        .map(([k, v]) => [k, resolve(v)])
        .filter(([k, p]) => !c.inputs.find((i) => i.name === k)?.optional || existsSync(p)),
    ),
    outputs,
    workDir,
    signal: hooks.signal ?? new AbortController().signal,
    log: hooks.log ?? ((l) => process.stderr.write(l + '\n')),
    progress: hooks.progress ?? (() => undefined),
    setOutput: (name, value) => {
      if (c.outputParams && !c.outputParams.includes(name)) throw new Error(`component '${c.name}' set output param '${name}', which it does not declare`);
      set[name] = value;
    },
  };
  try {
    await c.run(ctx);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  if (req.outputParamsDir) {
    await mkdir(req.outputParamsDir, { recursive: true });
    for (const name of new Set([...(c.outputParams ?? []), ...Object.keys(set)])) {
      const v = set[name];
      await writeFileAtomic(join(req.outputParamsDir, name), typeof v === 'string' ? v : JSON.stringify(v ?? null));
    }
  }
  return set;
}

/**
 * Test helpers for the local engine: a terse PipelineSpec builder (the IR the Pipeline construct
 * emits) and components defined in tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineComponent, type Component, type ComponentContext, type ParamValue } from '../../components/component.ts';
import type { ParamSpec, PipelineSpec, TaskSpec, ValueRef } from '../../pipelines/spec.ts';
import { outputDependencies } from '../../pipelines/local/plan.ts';
import type { EngineEvent, RunOptions } from '../../pipelines/local/types.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function task(name: string, t: Partial<Mutable<TaskSpec>> & { after?: string[] } = {}): TaskSpec {
  const { after, ...rest } = t;
  const base: TaskSpec = {
    name,
    path: `test/${name}`,
    image: 'ghcr.io/ghosteam/components:test',
    params: {},
    inputs: {},
    outputs: {},
    outputParams: [],
    env: {},
    resources: { cpu: '100m', memory: '64Mi' },
    cache: { enabled: true },
    dependsOn: [],
    ...rest,
  };
  const deps = new Set([...(after ?? []), ...(t.dependsOn ?? []), ...outputDependencies(base)]);
  return { ...base, dependsOn: [...deps].sort() };
}

export function pipeline(name: string, tasks: TaskSpec[], extra: Partial<Mutable<PipelineSpec>> = {}): PipelineSpec {
  return { name, path: `test/${name}`, params: [] as ParamSpec[], tasks, ...extra };
}

export const lit = (value: ParamValue): ValueRef => ({ kind: 'literal', value });
export const param = (name: string): ValueRef => ({ kind: 'param', name });
export const out = (task: string, output: string): ValueRef => ({ kind: 'taskOutput', task, output });
export const item = (field?: string): ValueRef => (field === undefined ? { kind: 'item' } : { kind: 'item', field });

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ghosteam-engine-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A component whose behaviour the test supplies. */
export function comp(name: string, run: (ctx: ComponentContext) => Promise<void> | void, extra: Partial<Component> = {}): Component {
  return defineComponent({
    name,
    version: '1',
    description: `test component ${name}`,
    inputs: [],
    outputs: [],
    async run(ctx) {
      await run(ctx);
    },
    ...extra,
  });
}

export function catalog(...cs: Component[]): NonNullable<RunOptions['components']> {
  const m = new Map(cs.map((c) => [c.name, c]));
  return (name) => m.get(name);
}

export function collect(): { events: EngineEvent[]; onEvent: (e: EngineEvent) => void } {
  const events: EngineEvent[] = [];
  return { events, onEvent: (e) => events.push(e) };
}

export const delay = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((res, rej) => {
    const t = setTimeout(res, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      rej(new Error('aborted'));
    });
  });

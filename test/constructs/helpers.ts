/** Shared helpers for the construct tests. */
import { App, Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { synthesize, type SynthResult } from '../../charts/synth.ts';
import { ValidationError } from '../../api/errors.ts';

export function chart(namespace = 'ml'): { app: App; chart: Chart } {
  const app = new App();
  return { app, chart: new Chart(app, 'test', { namespace }) };
}

/** Synthesizes without git annotations or CRDs. */
export function synth(app: App, opts: { appDir?: string } = {}): SynthResult {
  return synthesize(app, { sourceCommit: false, crds: false, ...opts });
}

export type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations: Record<string, string>; labels: Record<string, string> };
  spec: any;
};

export function objectsOf(scope: Construct): Obj[] {
  return (scope as Chart).toJson() as Obj[];
}

export function find(objs: readonly unknown[], kind: string, name?: string): Obj {
  const o = (objs as Obj[]).find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!o) throw new Error(`no ${kind}${name ? ` ${name}` : ''} in ${(objs as Obj[]).map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
}

/** The messages of the ValidationError `fn` throws (fails when it throws something else or nothing). */
export function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError)
      return err.message.includes('\n')
        ? err.message
            .split('\n')
            .slice(1)
            .map((l) => l.trim())
        : [err.message];
    throw err;
  }
  throw new Error('expected a ValidationError, nothing was thrown');
}

/**
 * materialize-features: one feature view's latest values written into its online store, a chunk of
 * event time at a time behind the store's watermark (materialize.ts); what the CronWorkflow a
 * `FeatureView` with `materialize` synthesizes runs, and what `ghosteam features materialize` does.
 *
 * Params:
 *   view   the view's name
 *   spec   its FeatureViewSpec (JSON)
 *   start  earliest event time, RFC 3339 (default: after the watermark)
 *   end    latest event time, RFC 3339 (default: now)
 * The store is the view's: a SQLite file (relative paths from the working directory), or Redis with
 * its URL from GHOSTEAM_ONLINE_STORE_URL (the Secret the view names, by secretKeyRef).
 * Output params: rowsWritten, chunks, until.
 */
import { defineComponent } from '../component.ts';
import { ParamError, Params } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { parseViewsParam } from './component.ts';
import { materializeView, prepareView, type MaterializeResult } from './materialize.ts';
import { openOnlineStore } from './open-store.ts';
import { readViewSource } from './sources.ts';
import type { FeatureViewSpec } from '../../api/crds/types.ts';

function timeParam(p: Params, name: string): number | undefined {
  const v = p.string(name, undefined);
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new ParamError(`materialize-features: param '${name}' is '${v}', not a time; write RFC 3339, e.g. 2026-11-23T04:00:00Z`);
  return t;
}

/** Reads the view's source and materializes it (the library entry behind the component and the CLI). */
export async function materializeFeatureView(
  name: string,
  spec: FeatureViewSpec,
  window: { start?: number; end: number; baseDir?: string },
  signal?: AbortSignal,
): Promise<MaterializeResult> {
  if (!spec.online) throw new ParamError(`feature view '${name}' is not online (online: false); nothing to materialize`);
  const store = await openOnlineStore(name, spec, { baseDir: window.baseDir });
  try {
    const data = await readViewSource(name, spec, { baseDir: window.baseDir });
    return await materializeView(
      store,
      name,
      prepareView(name, spec, data),
      { ...(window.start !== undefined ? { start: window.start } : {}), end: window.end, chunkMs: (spec.materialization?.chunkSeconds ?? 86_400) * 1000 },
      signal,
    );
  } finally {
    await store.close();
  }
}

export const materializeFeaturesComponent = defineComponent({
  name: 'materialize-features',
  version: '1',
  description: "Write a feature view's latest values into its online store, chunk by chunk, resuming after the watermark",
  inputs: [],
  outputs: [],
  outputParams: ['rowsWritten', 'chunks', 'until'],
  params: PARAMS['materialize-features'],
  async run(ctx) {
    const p = new Params('materialize-features', ctx, PARAMS['materialize-features']);
    const name = p.string('view');
    const spec = parseViewsParam({ [name]: p.json('spec') }).get(name)!;
    const start = timeParam(p, 'start');
    const r = await materializeFeatureView(name, spec, { ...(start !== undefined ? { start } : {}), end: timeParam(p, 'end') ?? Date.now() }, ctx.signal);
    ctx.log(`${name}: ${r.rowsWritten} entities written in ${r.chunks} chunks, up to ${new Date(r.until).toISOString()}${r.resumed ? ' (resumed)' : ''}`);
    ctx.setOutput('rowsWritten', r.rowsWritten);
    ctx.setOutput('chunks', r.chunks);
    ctx.setOutput('until', new Date(r.until).toISOString());
  },
});

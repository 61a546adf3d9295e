/**
 * detectDrift over worker threads, one column per task, for wide data (many columns × many rows).
 * Results are identical to detectDrift's (same pure code runs in each worker).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { combineColumns, compareProfiles, profileColumn, resolveOptions } from './detect.ts';
import { DriftError, type ColumnData, type ColumnDrift, type DriftOptions, type DriftResult } from './types.ts';

export interface ParallelOptions {
  /** Worker threads. @default min(available cores, columns); 0 runs inline */
  readonly threads?: number;
  /** Below this many values (rows × columns, both sides) run inline. @default 2_000_000 */
  readonly minValues?: number;
}

export async function detectDriftParallel(
  reference: readonly ColumnData[],
  current: readonly ColumnData[],
  opts: DriftOptions = {},
  par: ParallelOptions = {},
): Promise<DriftResult> {
  const resolved = resolveOptions(opts);
  const refByName = new Map(reference.map((c) => [c.name, c]));
  const curByName = new Map(current.map((c) => [c.name, c]));
  const names = opts.columns ?? reference.map((c) => c.name);
  const pairs = names.map((name) => {
    const r = refByName.get(name);
    if (!r) throw new DriftError(`column '${name}' is not in the reference; reference columns: ${reference.map((c) => c.name).join(', ')}`);
    const c = curByName.get(name);
    if (!c) throw new DriftError(`column '${name}' is in the reference but not in the current data; add it or pass columns to choose`);
    return { r, c };
  });
  const rows = { reference: reference[0]?.values.length ?? 0, current: current[0]?.values.length ?? 0 };
  const total = (rows.reference + rows.current) * pairs.length;
  const threads = Math.min(par.threads ?? availableParallelism(), pairs.length);
  if (threads <= 0 || total < (par.minValues ?? 2_000_000) || pairs.length < 2) {
    const cols = pairs.map(({ r, c }) => compareProfiles(r.name, profileColumn(r), profileColumn(c), opts, resolved));
    return combineColumns(cols, rows, opts);
  }
  const results = new Array<ColumnDrift>(pairs.length);
  const workers = Array.from({ length: threads }, () => new Worker(new URL('./worker-entry.mjs', import.meta.url)));
  let next = 0;
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const send = (): void => {
              if (next >= pairs.length) return resolve();
              const id = next++;
              const { r, c } = pairs[id];
              w.postMessage({ id, ref: r, cur: c, opts });
            };
            w.on('message', (m: { id: number; result?: ColumnDrift; error?: string }) => {
              if (m.error !== undefined) return reject(new DriftError(`column '${pairs[m.id].r.name}': ${m.error}`));
              results[m.id] = m.result!;
              send();
            });
            w.on('error', reject);
            send();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return combineColumns(results, rows, opts);
}

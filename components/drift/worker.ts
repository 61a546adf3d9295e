/** Worker side of parallel.ts: compares the columns it is sent, one message per column. */
import { parentPort } from 'node:worker_threads';
import { compareProfiles, profileColumn } from './detect.ts';
import type { ColumnData, DriftOptions } from './types.ts';

interface Task {
  readonly id: number;
  readonly ref: ColumnData;
  readonly cur: ColumnData;
  readonly opts: DriftOptions;
}

parentPort!.on('message', (t: Task) => {
  try {
    const result = compareProfiles(t.ref.name, profileColumn(t.ref), profileColumn(t.cur), t.opts);
    parentPort!.postMessage({ id: t.id, result });
  } catch (err) {
    parentPort!.postMessage({ id: t.id, error: (err as Error).message });
  }
});

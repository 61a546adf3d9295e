/**
 * The wine and diabetes examples ship their data beside the app (small CSVs exported from
 * scikit-learn, see DATA.md in each folder). `ghosteam run` resolves a relative `data` param against
 * the directory it starts in, as the fraud example does, so the app copies its CSV there on first use:
 * `npx ghosteam run examples/wine/app.ts` works from any directory of a fresh clone.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Copies `src` to `root/rel` when that file is missing (whole, under a temporary name, then renamed). Returns whether it wrote. */
export function ensureShippedData(src: string, root: string, rel: string): boolean {
  const dest = join(root, rel);
  if (existsSync(dest)) return false;
  mkdirSync(dirname(dest), { recursive: true });
  const tmp = `${dest}.${process.pid}.tmp`;
  copyFileSync(src, tmp);
  renameSync(tmp, dest);
  return true;
}

/**
 * Where an app threw, for `plan` and `watch` to name the place of a plain exception. Pure.
 */
import { isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The place in the checkout `tree` where `err` was thrown, as 'app.ts:12:9': the first stack frame
 * in a file under `prefer` (the app's directory, relative to the tree), else the first in a file of
 * the checkout outside node_modules. Undefined when there is none, and for ghosteam's
 * ValidationError, which names its construct path and field already.
 */
export function thrownAt(err: unknown, tree: string, prefer = ''): string | undefined {
  const e = err as Error | undefined;
  if (!e || typeof e.stack !== 'string' || e.name === 'ValidationError') return undefined;
  const frames: string[] = [];
  for (const m of e.stack.matchAll(/\(?((?:file:\/\/)?\/[^\s():]+):(\d+):(\d+)\)?$/gm)) {
    const file = m[1].startsWith('file://') ? fileURLToPath(m[1]) : m[1];
    const rel = relative(tree, file);
    if (rel.startsWith('..') || isAbsolute(rel) || rel.split(/[\\/]/).includes('node_modules')) continue;
    frames.push(`${rel}:${m[2]}:${m[3]}`);
  }
  const under = prefer && prefer !== '.' ? frames.find((f) => f.startsWith(`${prefer}/`)) : undefined;
  return under ?? frames[0];
}

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
/** Parsing of option values shared by the commands in cli/commands/ (this file is not a command). */

/** An integer option value of at least `min`; the error names the flag and the value. */
export function intArg(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} expects an integer ≥ ${min}, got '${v}'`);
  return n;
}

/** The local operator's state directory from --state-dir, absolute; an error naming the fix when there is none. */
export function localStateDir(flag: string): string {
  const dir = resolve(flag);
  if (!existsSync(dir))
    throw new Error(`--state-dir ${flag}: no local operator state here; start one with \`ghosteam operator --local\` or pass --kubeconfig for a cluster`);
  return dir;
}

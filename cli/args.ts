/** Parsing of option values shared by the commands in cli/commands/ (this file is not a command). */

/** An integer option value of at least `min`; the error names the flag and the value. */
export function intArg(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} expects an integer ≥ ${min}, got '${v}'`);
  return n;
}
